//! The retry policy, counted on loopback servers: which outcomes are retried (595, 596,
//! 503, 429) and which never are, `Retry-After`, the bounds (attempts, total pause,
//! deadline), replayable bodies, idempotent methods, and what callbacks and observers see.
//!
//! Time is paused where the client pauses between attempts: pauses are exact and cost no
//! real time.

mod support;
use support::*;

use courier::{Client, ConnectionEvent, EventKind, Retry};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn reply(status: &str, extra: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra}\r\n{body}", body.len())
}

/// A keep-alive server whose first `failures` requests get `failure`, the rest `200 ok`.
async fn fails_first(failures: usize, failure: &'static str) -> KeepAlive {
    let seen = AtomicUsize::new(0);
    KeepAlive::start(move |_request: &Received| {
        if seen.fetch_add(1, Ordering::SeqCst) < failures {
            failure.to_owned()
        } else {
            reply("200 OK", "", "ok")
        }
    })
    .await
}

const UNAVAILABLE: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy";

/// A client with `policy` whose connection events are recorded.
fn client(policy: Retry) -> (Client, Arc<Mutex<Vec<ConnectionEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let client = Client::builder()
        .retry(policy)
        .on_connection_event(move |event| seen.lock().unwrap().push(event.clone()))
        .build()
        .unwrap();
    (client, events)
}

fn kinds(events: &Mutex<Vec<ConnectionEvent>>) -> Vec<EventKind> {
    events.lock().unwrap().iter().map(|event| event.kind).collect()
}

fn quick() -> Retry {
    Retry::new().max_retries(3).backoff(100 * MS, 1000 * MS)
}

#[tokio::test(start_paused = true)]
async fn a_503_then_200_is_retried_on_the_same_connection() {
    within(async {
        let server = fails_first(1, UNAVAILABLE).await;
        let (client, events) = client(quick());
        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "ok"), "{}", res.reason());
        assert_eq!(started.elapsed(), 100 * MS);
        assert_eq!((server.conns.requests(), server.connects()), (2, 1));
        assert!(res.redirects().is_empty());
        use EventKind::*;
        assert_eq!(
            kinds(&events),
            [Connect, Idle, Backoff { status: 503, retry: 1, pause: 100 * MS }, Reuse, Idle]
        );
        let backoff = events.lock().unwrap()[2].clone();
        assert_eq!(
            backoff.to_string(),
            format!("backoff #0 http://{} (503, retry 1 in 100ms)", server.server.addr)
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn pauses_double_and_the_attempts_are_bounded() {
    within(async {
        let server = fails_first(usize::MAX, UNAVAILABLE).await;
        let (client, events) = client(quick());
        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).send().await;
        // The last answer is the response: 1 attempt + 3 retries.
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (503, "busy"));
        assert_eq!(server.conns.requests(), 4);
        assert_eq!(started.elapsed(), (100 + 200 + 400) * MS);
        let pauses: Vec<Duration> = kinds(&events)
            .into_iter()
            .filter_map(|kind| match kind {
                EventKind::Backoff { pause, .. } => Some(pause),
                _ => None,
            })
            .collect();
        assert_eq!(pauses, [100 * MS, 200 * MS, 400 * MS]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_replaces_the_backoff_and_429_is_retried() {
    within(async {
        let server =
            fails_first(1, "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: 0\r\n\r\n")
                .await;
        let (client, _) = client(quick());
        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert_eq!(server.conns.requests(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_a_past_date_retries_at_once() {
    within(async {
        let failure = "HTTP/1.1 503 Service Unavailable\r\nretry-after: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 0\r\n\r\n";
        let server = fails_first(1, failure).await;
        let (client, events) = client(quick());
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        assert!(kinds(&events).contains(&EventKind::Backoff { status: 503, retry: 1, pause: Duration::ZERO }));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_pause_budget_is_not_waited_for() {
    within(async {
        let failure =
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 3600\r\ncontent-length: 4\r\n\r\nlater";
        let server = fails_first(1, failure).await;
        let (client, events) = client(quick().max_total_pause(Duration::from_secs(60)));
        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.header("retry-after").as_deref(), Some("3600"));
        assert_eq!((server.conns.requests(), started.elapsed()), (1, Duration::ZERO));
        assert!(!kinds(&events).iter().any(|kind| matches!(kind, EventKind::Backoff { .. })));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_total_pause_is_bounded() {
    within(async {
        let server = fails_first(usize::MAX, UNAVAILABLE).await;
        // 100 + 200 = 300 ms fit in 350 ms; the third pause (400 ms) would not.
        let (client, _) = client(quick().max_total_pause(350 * MS));
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.status(), 503);
        assert_eq!(server.conns.requests(), 3);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn retries_respect_the_deadline() {
    within(async {
        let server = fails_first(usize::MAX, UNAVAILABLE).await;
        let (client, _) = client(Retry::new().max_retries(10).backoff(400 * MS, 400 * MS));
        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).deadline(Duration::from_secs(1)).send().await;
        // Pauses end at 400 and 800 ms; one ending at 1200 ms would pass the deadline, so
        // the third 503 is the answer, well before the deadline.
        assert_eq!((res.status().as_u16(), server.conns.requests()), (503, 3));
        assert_eq!(started.elapsed(), 800 * MS);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_connect_failure_is_retried() {
    within(async {
        let server = fails_first(0, "").await;
        let address = server.server.addr;
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        let (client, _) = client(quick());
        let res = client
            .get(server.url("/"))
            .connector(move |_target: courier::Target| {
                let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
                    }
                    tokio::net::TcpStream::connect(address).await
                }
            })
            .send()
            .await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        assert_eq!((attempts.load(Ordering::SeqCst), server.connects()), (2, 1));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_closed_before_the_head_is_retried_for_idempotent_methods_only() {
    within(async {
        let seen = AtomicUsize::new(0);
        let server = KeepAlive::start(move |_request: &Received| {
            if seen.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                Reply::SendThenClose(String::new())
            } else {
                Reply::Send(reply("200 OK", "", "ok"))
            }
        })
        .await;
        let (client, _) = client(quick());
        let res = client.put(server.url("/doc")).body("v2").send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        assert_eq!((server.conns.requests(), server.connects()), (2, 2));
        assert_eq!(server.requests()[1].body, b"v2");

        // A POST's 596 is its answer: the server may have acted on it.
        let res = client.post(server.url("/form")).body("a=1").send().await;
        assert_eq!(res.status(), 596, "{}", res.reason());
        assert_eq!(server.conns.requests(), 3);
        // (One answered request, so that the next one is closed on again.)
        assert_eq!(client.get(server.url("/")).send().await.status(), 200);
        // ... unless the policy says any method may be repeated.
        let res = client.post(server.url("/form")).body("a=1").retry(quick().any_method(true)).send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        assert_eq!(server.conns.requests(), 6);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn never_retried_597_598_599_other_statuses_streamed_bodies_and_no_policy() {
    within(async {
        // 597: the body was cut short.
        let cut = KeepAlive::start(|_request: &Received| {
            Reply::SendThenClose("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".into())
        })
        .await;
        let (retrying, _) = client(quick());
        let res = retrying.get(cut.url("/")).send().await;
        assert_eq!((res.status().as_u16(), cut.conns.requests()), (597, 1), "{}", res.reason());

        // 598: the caller aborted.
        let fine = fails_first(0, "").await;
        let res = retrying.get(fine.url("/")).on_header(|_| false).send().await;
        assert_eq!((res.status().as_u16(), fine.conns.requests()), (598, 1));
        // 599: the request itself is wrong.
        assert_eq!(retrying.get("ftp://example.test/").send().await.status(), 599);

        // 500 is not a status the policy retries.
        let broken = fails_first(1, "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n").await;
        assert_eq!(retrying.get(broken.url("/")).send().await.status(), 500);
        assert_eq!(broken.conns.requests(), 1);

        // A streamed body cannot be sent twice.
        let once = fails_first(1, UNAVAILABLE).await;
        let chunks = futures_util::stream::iter([Ok(courier::Bytes::from("x"))]);
        let res = retrying.put(once.url("/")).body_stream(chunks, Some(1)).send().await;
        assert_eq!((res.status().as_u16(), once.conns.requests()), (503, 1));

        // No policy, or Retry::none() for one request: no retries.
        let plain = fails_first(2, UNAVAILABLE).await;
        assert_eq!(Client::new().get(plain.url("/")).send().await.status(), 503);
        assert_eq!(retrying.get(plain.url("/")).retry(Retry::none()).send().await.status(), 503);
        assert_eq!(plain.conns.requests(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn callbacks_see_only_the_final_response() {
    within(async {
        let server = fails_first(2, UNAVAILABLE).await;
        let (client, _) = client(quick());
        let heads = Mutex::new(Vec::new());
        let mut body = Vec::new();
        let res = client
            .get(server.url("/"))
            .on_header(|res| {
                heads.lock().unwrap().push(res.status().as_u16());
                true
            })
            .on_body(|chunk, _res| {
                body.extend_from_slice(chunk);
                true
            })
            .send()
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(*heads.lock().unwrap(), [200]);
        assert_eq!(body, b"ok");
    })
    .await;
}
