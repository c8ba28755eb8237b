//! The connection pool, seen from outside: reuse, safe retry, idle expiry, non-reusable
//! responses, dirty aborts, the per-host limit and its FIFO queue, churn and load.
//!
//! Every test builds its own `Client`, so no two tests share a pool.

mod support;
use support::*;

use courier::{Client, ClientBuilder, CloseReason, ConnectionEvent, ErrorKind, EventKind, Response};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Events a client's `on_connection_event` observer saw, in order.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<ConnectionEvent>>>);

impl Events {
    fn all(&self) -> Vec<ConnectionEvent> {
        self.0.lock().unwrap().clone()
    }

    /// `(kind, connection id)` in order.
    fn trace(&self) -> Vec<(EventKind, u64)> {
        self.all().into_iter().map(|event| (event.kind, event.id)).collect()
    }

    fn count(&self, wanted: fn(&EventKind) -> bool) -> usize {
        self.all().iter().filter(|event| wanted(&event.kind)).count()
    }

    fn retries(&self) -> usize {
        self.count(|kind| *kind == EventKind::Retry)
    }

    fn connects(&self) -> usize {
        self.count(|kind| *kind == EventKind::Connect)
    }

    fn closes(&self) -> usize {
        self.count(|kind| matches!(kind, EventKind::Close(_)))
    }
}

/// A dedicated client (never the global default) recording its connection events.
fn client_from(builder: ClientBuilder) -> (Client, Events) {
    let events = Events::default();
    let sink = events.0.clone();
    let client = builder
        .on_connection_event(move |event| sink.lock().unwrap().push(event.clone()))
        .build()
        .expect("a valid client");
    (client, events)
}

fn client() -> (Client, Events) {
    client_from(Client::builder())
}

/// A 200 with a Content-Length body.
fn ok(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// (active, idle, queued) of the client's pool.
fn counts(client: &Client) -> (usize, usize, usize) {
    let stats = client.pool_stats();
    (stats.active, stats.idle, stats.queued)
}

/// Nothing in use, nothing idle, nothing queued, no key holding a slot.
fn pool_is_empty(client: &Client) -> bool {
    let stats = client.pool_stats();
    counts(client) == (0, 0, 0) && stats.hosts.is_empty()
}

fn assert_status(res: &Response, status: u16) {
    assert_eq!(res.status().as_u16(), status, "reason: {}", res.reason());
}

/// A server whose first connection answers one request with "first", then reads a second
/// one and sends only `partial` (nothing when empty) before closing it, or resetting it
/// when `reset`. Each later connection answers one request with `later` and stays open;
/// with `None` it is closed at once, without a byte.
async fn fails_on_second_request(
    partial: &'static str,
    reset: bool,
    later: Option<&'static str>,
) -> Scripted {
    Scripted::start(move |mut peer| async move {
        if peer.index == 0 {
            if peer.read_request().await.is_some() {
                peer.write(ok("first")).await;
            }
            if peer.read_request().await.is_some() {
                if !partial.is_empty() {
                    peer.write(partial).await;
                }
                if reset {
                    peer.reset();
                }
            }
        } else if let Some(later) = later {
            if peer.read_request().await.is_some() {
                peer.write(ok(later)).await;
                peer.hold().await;
            }
        }
    })
    .await
}

fn assert_ok(res: &Response, body: &str) {
    assert_status(res, 200);
    assert_eq!(res.text(), body);
}

/// Polls `future` exactly once (it must not complete), then returns it.
async fn poll_once<F: Future + Unpin>(mut future: F) -> F {
    poll_fn(|cx| {
        assert!(std::pin::Pin::new(&mut future).poll(cx).is_pending(), "must still be pending");
        Poll::Ready(())
    })
    .await;
    future
}

/// SplitMix64: a tiny deterministic PRNG (no dependencies).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A server that holds every answer until `hold_until` connections are open at once
/// (counted in `conns`, which several servers may share), then answers each request with
/// its target as the body, keeping connections open.
async fn holding_server(address: &str, hold_until: usize, conns: Arc<ConnTracker>) -> Scripted {
    Scripted::start_on(address, move |mut peer| {
        let conns = conns.clone();
        async move {
            let _open = conns.enter();
            while let Some(request) = peer.read_request().await {
                conns.request_seen();
                conns.wait_for(|c| c.max_open() >= hold_until).await;
                peer.write(ok(&request.target)).await;
            }
        }
    })
    .await
}

/// A server that reads requests on each connection and answers each (with its target as
/// the body) only once `gate` is open.
async fn gated_server(gate: Gate, conns: Arc<ConnTracker>) -> Scripted {
    Scripted::start(move |mut peer| {
        let (gate, conns) = (gate.clone(), conns.clone());
        async move {
            let _open = conns.enter();
            while let Some(request) = peer.read_request().await {
                conns.request_seen();
                gate.wait().await;
                peer.write(ok(&request.target)).await;
            }
        }
    })
    .await
}

/// Client and server ends of TCP connections to or from `ports` (listeners included)
/// that this process holds as file descriptors. Reads /proc/self/fd and maps socket
/// inodes through /proc/net/tcp, so sockets of tests running in parallel do not count.
fn socket_fds_for(ports: &[u16]) -> usize {
    let tcp = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let port_of = |address: &str| u16::from_str_radix(address.rsplit(':').next().unwrap_or(""), 16).ok();
    let inodes: HashSet<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, inode) = (fields.get(1)?, fields.get(2)?, fields.get(9)?);
            let ours = [local, remote].iter().any(|a| port_of(a).is_some_and(|p| ports.contains(&p)));
            (ours && *inode != "0").then(|| format!("socket:[{inode}]"))
        })
        .collect();
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|link| inodes.contains(link.to_string_lossy().as_ref()))
        .count()
}

// ---------------------------------------------------------------------------------------
// 1. Stale idle connections and the single retry
// ---------------------------------------------------------------------------------------

/// The server closes the idle connection right after the client checked it in, and the
/// next GET goes out at once: whether the pool's probe notices the close first (new
/// connection, no retry) or the GET hits the dead socket (one retry), it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_idle_connection_get_succeeds() {
    within(async {
        let closing = Arc::new(Notify::new());
        let signal = closing.clone();
        let server = Scripted::start(move |mut peer| {
            let closing = signal.clone();
            async move {
                if peer.read_request().await.is_none() {
                    return;
                }
                if peer.index == 0 {
                    peer.write(ok("first")).await;
                    closing.notified().await;
                    drop(peer);
                } else {
                    peer.write(ok("second")).await;
                    peer.hold().await;
                }
            }
        })
        .await;
        let (client, events) = client();

        assert_ok(&client.get(server.url("/1")).send().await, "first");
        assert_eq!(counts(&client), (0, 1, 0));
        closing.notify_one();
        let res = client.get(server.url("/2")).send().await;
        assert_ok(&res, "second");

        assert_eq!(server.requests().len(), 2, "{:?}", events.trace());
        assert_eq!(server.connects(), 2);
        assert!(events.retries() <= 1, "{:?}", events.trace());
        let first_closes: Vec<_> = events
            .all()
            .into_iter()
            .filter_map(|event| match event.kind {
                EventKind::Close(reason) if event.id == 1 => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(first_closes.len(), 1, "{:?}", events.trace());
        assert!(
            [CloseReason::PeerClosedIdle, CloseReason::FailedBeforeResponse].contains(&first_closes[0]),
            "{first_closes:?}"
        );
        assert_eq!(counts(&client), (0, 1, 0));
    })
    .await;
}

/// The server keeps the idle connection open (so it is certainly reused) but answers the
/// second request on it by closing without a byte: one retry on a new connection.
#[tokio::test]
async fn reused_connection_closed_before_any_byte_is_retried_once() {
    within(async {
        let server = fails_on_second_request("", false, Some("second")).await;
        let (client, events) = client();

        assert_ok(&client.get(server.url("/1")).send().await, "first");
        assert_ok(&client.get(server.url("/2")).send().await, "second");

        use EventKind::*;
        assert_eq!(
            events.trace(),
            vec![
                (Connect, 1),
                (Idle, 1),
                (Reuse, 1),
                (Close(CloseReason::FailedBeforeResponse), 1),
                (Retry, 1),
                (Connect, 2),
                (Idle, 2),
            ]
        );
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets, ["/1", "/2", "/2"]);
        assert_eq!(server.connects(), 2);
        assert_eq!(counts(&client), (0, 1, 0));
    })
    .await;
}

/// A POST (not idempotent) on a reused connection the server closes: 596, never retried.
#[tokio::test]
async fn post_on_a_stale_reused_connection_fails_without_retry() {
    within(async {
        // A second connection is only made if the POST were wrongly retried.
        let server = fails_on_second_request("", false, Some("retried")).await;
        let (client, events) = client();

        assert_ok(&client.get(server.url("/1")).send().await, "first");
        let res = client.post(server.url("/form")).body("a=1").persistent(true).send().await;
        assert_status(&res, 596);
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseHead));

        let posts: Vec<Received> = server.requests().into_iter().filter(|r| r.method == "POST").collect();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].body, b"a=1");
        assert_eq!(posts[0].header("connection"), Some("TE, keep-alive"));
        assert_eq!(server.connects(), 1);
        assert_eq!(events.retries(), 0, "{:?}", events.trace());
        assert_eq!(events.count(|kind| *kind == EventKind::Reuse), 1);
        assert!(pool_is_empty(&client));
    })
    .await;
}

/// The reused connection fails before any byte and so does the fresh one (the server
/// closes every new connection at once): the error comes back after exactly one retry.
#[tokio::test]
async fn retry_that_fails_too_returns_the_error() {
    within(async {
        // Every later connection: accepted and closed without a byte.
        let server = fails_on_second_request("", false, None).await;
        let (client, events) = client();

        assert_ok(&client.get(server.url("/1")).send().await, "first");
        let res = client.get(server.url("/2")).send().await;
        assert_status(&res, 596);
        assert!(matches!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseHead | ErrorKind::Send)));

        assert_eq!(events.retries(), 1, "{:?}", events.trace());
        assert_eq!(events.connects(), 2, "{:?}", events.trace());
        assert_eq!(server.connects(), 2);
        assert!(pool_is_empty(&client));
    })
    .await;
}

/// The reaper notices a peer's close of an idle connection (by read readiness, writing
/// nothing): the connection leaves the pool long before it would expire.
async fn peer_close_is_noticed(idle_before: bool) {
    let closing = Arc::new(Notify::new());
    let signal = closing.clone();
    // Connection 0 (made only when `idle_before`) stays open; the last one answers, then
    // closes its end when told to.
    let closer = usize::from(idle_before);
    let server = Scripted::start(move |mut peer| {
        let closing = signal.clone();
        async move {
            while let Some(request) = peer.read_request().await {
                peer.write(ok(&request.target)).await;
                if peer.index == closer {
                    closing.notified().await;
                    return;
                }
            }
        }
    })
    .await;
    // Far longer than the test may take: expiry must not be what closes it.
    let (client, events) = client_from(Client::builder().persistent_timeout(Duration::from_secs(60)));

    if idle_before {
        // Another key's idle connection: the reaper is already running when the one that
        // will be closed is checked in.
        assert_ok(&client.get(server.url("/other")).session_id("other").send().await, "/other");
    }
    assert_ok(&client.get(server.url("/1")).send().await, "/1");
    assert_eq!(client.pool_stats().idle, 1 + usize::from(idle_before));
    closing.notify_one();

    let closed = eventually(|| client.pool_stats().idle == usize::from(idle_before)).await;
    assert!(closed, "the peer's close was not noticed: {:?} {:?}", client.pool_stats(), events.trace());
    let last = events.all().pop().expect("events");
    assert_eq!(last.kind, EventKind::Close(CloseReason::PeerClosedIdle));
    assert_eq!(last.session, None);

    assert_ok(&client.get(server.url("/2")).send().await, "/2");
    assert_eq!(events.retries(), 0);
    assert_eq!(server.connects(), 2 + usize::from(idle_before));
}

#[tokio::test]
async fn peer_close_of_an_idle_connection_is_noticed_without_writing() {
    within(peer_close_is_noticed(false)).await;
}

#[tokio::test]
async fn peer_close_is_noticed_for_a_connection_checked_in_while_the_reaper_runs() {
    within(peer_close_is_noticed(true)).await;
}

#[tokio::test]
async fn an_idle_connection_that_sends_unasked_bytes_is_closed_not_reused() {
    within(async {
        let stray = Arc::new(Notify::new());
        let signal = stray.clone();
        // The first connection answers, then sends a byte nobody asked for and stays open.
        let server = Scripted::start(move |mut peer| {
            let stray = signal.clone();
            async move {
                while let Some(request) = peer.read_request().await {
                    peer.write(ok(&request.target)).await;
                    if peer.index == 0 {
                        stray.notified().await;
                        peer.write("X").await;
                        peer.hold().await;
                        return;
                    }
                }
            }
        })
        .await;
        let (client, events) = client_from(Client::builder().persistent_timeout(Duration::from_secs(60)));
        assert_ok(&client.get(server.url("/1")).send().await, "/1");
        assert_eq!(client.pool_stats().idle, 1);
        stray.notify_one();

        // The reaper hears the socket become readable and closes it.
        let closed = eventually(|| client.pool_stats().idle == 0).await;
        assert!(closed, "the stray byte was not noticed: {:?} {:?}", client.pool_stats(), events.trace());
        let reasons: Vec<_> = events
            .all()
            .into_iter()
            .filter_map(|event| match event.kind {
                EventKind::Close(reason) => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, [CloseReason::UnaskedBytes], "{:?}", events.trace());
        assert_ok(&client.get(server.url("/2")).send().await, "/2");
        assert_eq!(server.connects(), 2);
        assert_eq!(events.retries(), 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 2. Failures after the response started are never retried
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn half_a_status_line_then_reset_on_a_reused_connection_is_596_without_retry() {
    within(async {
        let server = fails_on_second_request("HTTP/1.1 2", true, Some("retried")).await;
        let (client, events) = client();

        assert_ok(&client.get(server.url("/1")).send().await, "first");
        let res = client.get(server.url("/2")).send().await;
        assert_status(&res, 596);
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseHead));

        assert_eq!(server.requests().len(), 2);
        assert_eq!(server.connects(), 1, "no new connection");
        assert_eq!(events.retries(), 0, "{:?}", events.trace());
        assert!(pool_is_empty(&client));
    })
    .await;
}

#[tokio::test]
async fn headers_and_half_the_body_then_close_is_597_with_each_byte_delivered_once() {
    within(async {
        let server = fails_on_second_request(
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
            false,
            Some("0123456789"),
        )
        .await;
        let (client, events) = client();

        assert_ok(&client.get(server.url("/1")).send().await, "first");
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        let res = client
            .get(server.url("/2"))
            .on_body(|chunk, _| {
                chunks.push(chunk.to_vec());
                true
            })
            .send()
            .await;
        assert_status(&res, 597);
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseBody));
        assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
        assert_eq!(chunks.concat(), b"01234", "each body byte exactly once: {chunks:?}");
        assert!(res.body().is_empty());

        assert_eq!(server.requests().len(), 2);
        assert_eq!(server.connects(), 1);
        assert_eq!(events.retries(), 0, "{:?}", events.trace());
        assert!(pool_is_empty(&client));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 3. Idle expiry
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn idle_connection_expires_after_the_persistent_timeout() {
    within(async {
        let server = KeepAlive::start(|request| ok(&request.target)).await;
        let (client, events) = client_from(Client::builder().persistent_timeout(Duration::from_secs(1)));

        assert_ok(&client.get(server.url("/1")).send().await, "/1");
        assert_eq!(counts(&client), (0, 1, 0));
        assert_eq!(server.conns.closed(), 0);

        tokio::time::sleep(Duration::from_millis(1500)).await;
        // The reaper closed the socket on its own: the server's read returns EOF, with
        // nothing sent on the connection after the first request.
        server.conns.wait_closed(1).await;
        assert_eq!(server.conns.stray(), 0, "the client wrote nothing to the idle socket");
        assert_eq!(server.requests().len(), 1);
        assert_eq!(counts(&client), (0, 0, 0));
        assert!(events
            .all()
            .iter()
            .any(|e| e.id == 1 && e.kind == EventKind::Close(CloseReason::IdleTimeout)));

        assert_ok(&client.get(server.url("/2")).send().await, "/2");
        assert_eq!(server.connects(), 2);
        assert_eq!(events.count(|kind| *kind == EventKind::Reuse), 0);
        assert_eq!(counts(&client), (0, 1, 0));
    })
    .await;
}

#[tokio::test]
async fn a_zero_persistent_timeout_keeps_nothing_idle() {
    within(async {
        let server = KeepAlive::start(|request| ok(&request.target)).await;
        let (client, events) = client_from(Client::builder().persistent_timeout(Duration::ZERO));
        for path in ["/1", "/2", "/3"] {
            assert_ok(&client.get(server.url(path)).send().await, path);
            assert_eq!(counts(&client), (0, 0, 0), "nothing kept idle after {path}");
        }
        assert_eq!(server.connects(), 3);
        server.conns.wait_closed(3).await;
        let closes = events.count(|kind| *kind == EventKind::Close(CloseReason::IdleTimeout));
        assert_eq!(closes, 3, "{:?}", events.trace());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 4. Non-reusable responses
// ---------------------------------------------------------------------------------------

/// The first request (built by `first`) is answered with `reply` on a server that never
/// closes on its own (unless the reply says so); then a plain GET, which must open a new
/// connection, the first having been closed for `closed_because` (or reuse it, for `None`).
/// Returns the first request as the server saw it.
async fn next_request_after(
    reply: Reply,
    first: impl FnOnce(&Client, String) -> courier::RequestBuilder<'static>,
    first_body: &str,
    closed_because: Option<CloseReason>,
) -> Received {
    let reused = closed_because.is_none();
    let server = KeepAlive::start(move |request| match request.target.as_str() {
        "/first" => reply.clone(),
        _ => Reply::Send(ok("next")),
    })
    .await;
    let (client, events) = client();

    let res = first(&client, server.url("/first")).send().await;
    assert_ok(&res, first_body);
    if reused {
        assert_eq!(counts(&client), (0, 1, 0));
    } else {
        assert!(pool_is_empty(&client), "{:?}", client.pool_stats());
        use EventKind::*;
        assert_eq!(events.trace(), vec![(Connect, 1), (Close(closed_because.expect("a reason")), 1)]);
        // The client closed its end: the server's read sees it.
        server.conns.wait_closed(1).await;
    }

    assert_ok(&client.get(server.url("/next")).send().await, "next");
    let expected_connects = if reused { 1 } else { 2 };
    assert_eq!(server.connects(), expected_connects, "{:?}", events.trace());
    assert_eq!(events.count(|kind| *kind == EventKind::Reuse), usize::from(reused));
    if reused {
        assert_eq!(server.conns.closed(), 0);
    }
    server.requests().into_iter().next().expect("the first request")
}

#[tokio::test]
async fn connection_close_response_is_not_reused() {
    within(next_request_after(
        Reply::Send("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".into()),
        |client, url| client.get(url),
        "ok",
        Some(CloseReason::ServerSaidClose),
    ))
    .await;
}

#[tokio::test]
async fn http_10_response_without_keep_alive_is_not_reused() {
    within(next_request_after(
        Reply::Send("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".into()),
        |client, url| client.get(url),
        "ok",
        Some(CloseReason::Http10),
    ))
    .await;
}

#[tokio::test]
async fn http_10_response_with_keep_alive_is_reused() {
    let first = within(next_request_after(
        Reply::Send("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok".into()),
        |client, url| client.get(url),
        "ok",
        None,
    ))
    .await;
    assert_eq!(first.header("connection"), Some("TE, keep-alive"));
}

#[tokio::test]
async fn close_delimited_body_is_not_reused() {
    within(next_request_after(
        Reply::SendThenClose("HTTP/1.1 200 OK\r\n\r\nuntil close".into()),
        |client, url| client.get(url),
        "until close",
        Some(CloseReason::CloseDelimited),
    ))
    .await;
}

#[tokio::test]
async fn extra_bytes_after_the_response_are_not_reused() {
    within(next_request_after(
        Reply::Send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA".into()),
        |client, url| client.get(url),
        "ok",
        Some(CloseReason::BytesAfterResponse),
    ))
    .await;
}

#[tokio::test]
async fn post_is_not_persistent_by_default() {
    let first = within(next_request_after(
        Reply::Send(ok("posted")),
        |client, url| client.post(url).body("x=1"),
        "posted",
        Some(CloseReason::NotPersistent),
    ))
    .await;
    assert_eq!(first.method, "POST");
    assert_eq!(first.header("connection"), Some("TE, close"));
}

#[tokio::test]
async fn get_with_persistent_false_is_not_reused() {
    let first = within(next_request_after(
        Reply::Send(ok("once")),
        |client, url| client.get(url).persistent(false),
        "once",
        Some(CloseReason::NotPersistent),
    ))
    .await;
    assert_eq!(first.header("connection"), Some("TE, close"));
}

/// At the limit, a request that may not reuse does not wait behind an idle connection: it
/// takes that connection's slot (the idle connection closes) and opens its own.
#[tokio::test]
async fn non_persistent_request_at_the_limit_takes_the_slot_of_an_idle_connection() {
    within(async {
        let server = KeepAlive::start(|request| ok(&request.target)).await;
        let (client, events) = client_from(Client::builder().max_per_host(1));

        assert_ok(&client.get(server.url("/get")).send().await, "/get");
        assert_eq!(counts(&client), (0, 1, 0));
        assert_ok(&client.post(server.url("/post")).body("x").send().await, "/post");

        use EventKind::*;
        assert_eq!(
            events.trace(),
            vec![
                (Connect, 1),
                (Idle, 1),
                (Close(CloseReason::SlotNeeded), 1),
                (Connect, 2),
                (Close(CloseReason::NotPersistent), 2),
            ]
        );
        assert_eq!(server.connects(), 2);
        server.conns.wait_closed(2).await;
        assert!(pool_is_empty(&client), "{:?}", client.pool_stats());
    })
    .await;
}

/// A queued request that may not reuse gets the slot of the connection coming back, never
/// the connection itself: that one closes and the request opens its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_non_persistent_request_is_not_handed_the_returning_connection() {
    within(async {
        let gate = Gate::default();
        let conns = ConnTracker::new();
        let server = gated_server(gate.clone(), conns.clone()).await;
        let (client, events) = client_from(Client::builder().max_per_host(1));

        let held = tokio::spawn(client.get(server.url("/held")).send());
        conns.wait_requests(1).await;
        let post = tokio::spawn(client.post(server.url("/post")).body("x").send());
        assert!(eventually(|| counts(&client) == (1, 0, 1)).await, "{:?}", client.pool_stats());
        gate.open();
        assert_ok(&held.await.unwrap(), "/held");
        assert_ok(&post.await.unwrap(), "/post");

        use EventKind::*;
        let trace = events.trace();
        let kinds: Vec<EventKind> = trace.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(
            kinds,
            [Connect, Close(CloseReason::NextWantsNew), Connect, Close(CloseReason::NotPersistent),]
        );
        // Ids are unique per client (queue places draw from the same counter).
        let ids: Vec<u64> = trace.iter().map(|(_, id)| *id).collect();
        assert!(ids[0] == ids[1] && ids[2] == ids[3] && ids[0] != ids[2], "{trace:?}");
        assert_eq!(server.connects(), 2);
        let post = server.requests().into_iter().find(|r| r.method == "POST").expect("the POST");
        assert_eq!(post.header("connection"), Some("TE, close"));
        conns.wait_closed(2).await;
        assert!(pool_is_empty(&client), "{:?}", client.pool_stats());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 5. Dirty aborts
// ---------------------------------------------------------------------------------------

/// `/full` answers a whole body, `/hang` nothing, `/partial` a head and 10 of 100 body
/// bytes; anything else `follow-up`. Connections stay open until the client closes them.
async fn abort_server() -> KeepAlive {
    KeepAlive::start(|request| match request.target.as_str() {
        "/full" => Reply::Send(ok("0123456789")),
        "/hang" => Reply::Silent,
        "/partial" => Reply::Send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".into()),
        _ => Reply::Send(ok("follow-up")),
    })
    .await
}

/// One slot per host, so a slot that leaked would make the follow-up hang.
fn abort_client() -> (Client, Events) {
    client_from(Client::builder().max_per_host(1))
}

/// After an abort: the server sees the socket closed, the pool holds nothing, the close
/// was reported, and a follow-up request on the same client succeeds on a new connection.
async fn assert_aborted_cleanly(client: &Client, events: &Events, server: &KeepAlive) {
    server.conns.wait_closed(1).await;
    assert!(eventually(|| pool_is_empty(client)).await, "slot not released: {:?}", client.pool_stats());
    assert_eq!(client.active(), 0);
    use EventKind::*;
    assert_eq!(events.trace(), vec![(Connect, 1), (Close(CloseReason::NotReturned), 1)]);

    assert_ok(&client.get(server.url("/after")).send().await, "follow-up");
    assert_eq!(server.connects(), 2);
    assert_eq!(counts(client), (0, 1, 0));
}

#[tokio::test]
async fn on_header_false_closes_the_connection_and_frees_the_slot() {
    within(async {
        let server = abort_server().await;
        let (client, events) = abort_client();
        let res = client.get(server.url("/full")).on_header(|_| false).send().await;
        assert_status(&res, 598);
        assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
        assert_aborted_cleanly(&client, &events, &server).await;
    })
    .await;
}

#[tokio::test]
async fn on_body_false_closes_the_connection_and_frees_the_slot() {
    within(async {
        let server = abort_server().await;
        let (client, events) = abort_client();
        let res = client.get(server.url("/full")).on_body(|_, _| false).send().await;
        assert_status(&res, 598);
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::Aborted));
        assert_aborted_cleanly(&client, &events, &server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_dropped_before_the_head_closes_the_connection_and_frees_the_slot() {
    within(async {
        let server = abort_server().await;
        let (client, events) = abort_client();
        let (tx, rx) = oneshot::channel::<u16>();
        let guard = client.get(server.url("/hang")).spawn(move |res| {
            let _ = tx.send(res.status().as_u16());
        });
        server.conns.wait_requests(1).await;
        assert_eq!(counts(&client), (1, 0, 0));
        drop(guard);
        assert!(rx.await.is_err(), "a cancelled request's callback is never called");
        assert_aborted_cleanly(&client, &events, &server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_dropped_mid_body_closes_the_connection_and_frees_the_slot() {
    within(async {
        let server = abort_server().await;
        let (client, events) = abort_client();
        let (chunk_tx, mut chunk_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (tx, rx) = oneshot::channel::<u16>();
        let guard = client
            .get(server.url("/partial"))
            .on_body(move |chunk, _| {
                let _ = chunk_tx.send(chunk.to_vec());
                true
            })
            .spawn(move |res| {
                let _ = tx.send(res.status().as_u16());
            });
        assert_eq!(chunk_rx.recv().await.as_deref(), Some(&b"0123456789"[..]));
        drop(guard);
        assert!(rx.await.is_err(), "a cancelled request's callback is never called");
        assert_aborted_cleanly(&client, &events, &server).await;
    })
    .await;
}

#[tokio::test]
async fn timeout_mid_body_closes_the_connection_and_frees_the_slot() {
    within(async {
        let server = abort_server().await;
        let (client, events) = abort_client();
        let res = client.get(server.url("/partial")).timeout(Duration::from_millis(300)).send().await;
        assert_status(&res, 597);
        assert!(res.error().is_some_and(|e| e.is_timeout()), "{}", res.reason());
        assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
        assert_aborted_cleanly(&client, &events, &server).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 6. The per-host limit, and what counts as a host
// ---------------------------------------------------------------------------------------

/// 20 concurrent GETs to one host open exactly `limit` sockets, never more at once.
async fn twenty_concurrent_requests_open_at_most(limit: usize, builder: ClientBuilder) {
    let conns = ConnTracker::new();
    let server = holding_server("127.0.0.1:0", limit, conns.clone()).await;
    let (client, _events) = client_from(builder);

    let mut requests = JoinSet::new();
    for i in 0..20 {
        let request = client.get(server.url(&format!("/{i}")));
        requests.spawn(async move { (i, request.send().await) });
    }
    let mut done = 0;
    while let Some(joined) = requests.join_next().await {
        let (i, res) = joined.expect("request task");
        assert_ok(&res, &format!("/{i}"));
        done += 1;
    }
    assert_eq!(done, 20);
    assert_eq!(conns.max_open(), limit, "most sockets open at once");
    assert_eq!(server.connects(), limit);
    assert_eq!(conns.requests(), 20);
    assert_eq!(counts(&client), (0, limit, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_never_open_more_than_four_sockets() {
    within(twenty_concurrent_requests_open_at_most(4, Client::builder())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_per_host_two_never_opens_more_than_two_sockets() {
    within(twenty_concurrent_requests_open_at_most(2, Client::builder().max_per_host(2))).await;
}

/// With one slot per key, two requests under different session ids are in flight at once
/// (the server answers only when both connections are open), and each id reuses only its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_get_their_own_slots_and_connections() {
    within(async {
        let conns = ConnTracker::new();
        let server = holding_server("127.0.0.1:0", 2, conns.clone()).await;
        let (client, events) = client_from(Client::builder().max_per_host(1));

        let a = tokio::spawn(client.get(server.url("/a")).session_id("a").send());
        let b = tokio::spawn(client.get(server.url("/b")).session_id("b").send());
        assert_ok(&a.await.unwrap(), "/a");
        assert_ok(&b.await.unwrap(), "/b");
        assert_eq!(server.connects(), 2);

        let stats = client.pool_stats();
        let mut sessions: Vec<_> =
            stats.hosts.iter().map(|h| (h.session.clone(), h.open, h.idle, h.queued)).collect();
        sessions.sort();
        assert_eq!(sessions, vec![(Some("a".to_owned()), 1, 1, 0), (Some("b".to_owned()), 1, 1, 0)]);

        // Session "a" reuses the connection made under "a", and only that one.
        assert_ok(&client.get(server.url("/a2")).session_id("a").send().await, "/a2");
        assert_eq!(server.connects(), 2);
        let reuses: Vec<ConnectionEvent> =
            events.all().into_iter().filter(|e| e.kind == EventKind::Reuse).collect();
        assert_eq!(reuses.len(), 1);
        assert_eq!(reuses[0].session.as_deref(), Some("a"));
        let connect_a = events
            .all()
            .into_iter()
            .find(|e| e.kind == EventKind::Connect && e.session.as_deref() == Some("a"))
            .expect("a connect under session a");
        assert_eq!(reuses[0].id, connect_a.id);

        // No session is a key of its own too: it opens a third connection.
        assert_ok(&client.get(server.url("/none")).send().await, "/none");
        assert_eq!(server.connects(), 3);
    })
    .await;
}

/// With one slot per key, requests to two ports of one address, and to one port under two
/// host names, are in flight at once: each (host, port) has its own slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_and_host_names_get_their_own_slots() {
    within(async {
        // Two ports, one shared count: each server answers only once both are connected.
        let conns = ConnTracker::new();
        let first = holding_server("127.0.0.1:0", 2, conns.clone()).await;
        let second = holding_server("127.0.0.1:0", 2, conns.clone()).await;
        let (client, _events) = client_from(Client::builder().max_per_host(1));
        let a = tokio::spawn(client.get(first.url("/p1")).send());
        let b = tokio::spawn(client.get(second.url("/p2")).send());
        assert_ok(&a.await.unwrap(), "/p1");
        assert_ok(&b.await.unwrap(), "/p2");
        assert_eq!((first.connects(), second.connects()), (1, 1));
        assert_eq!(client.pool_stats().hosts.len(), 2);

        // One port, two names for it: 127.0.0.1 and localhost are different hosts.
        let conns = ConnTracker::new();
        let server = holding_server("127.0.0.1:0", 2, conns.clone()).await;
        let (client, _events) = client_from(Client::builder().max_per_host(1));
        let by_ip = tokio::spawn(client.get(format!("http://127.0.0.1:{}/ip", server.port())).send());
        let by_name = tokio::spawn(client.get(format!("http://localhost:{}/name", server.port())).send());
        assert_ok(&by_ip.await.unwrap(), "/ip");
        assert_ok(&by_name.await.unwrap(), "/name");
        assert_eq!(server.connects(), 2);
        let hosts: BTreeSet<String> = client.pool_stats().hosts.into_iter().map(|h| h.host).collect();
        assert_eq!(hosts, BTreeSet::from(["127.0.0.1".to_owned(), "localhost".to_owned()]));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 7. Nested requests from callbacks
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spawned_from_callbacks_all_complete() {
    within(async {
        let conns = ConnTracker::new();
        // Answers only once all four slots are in use, so the four outer requests are
        // certainly in flight together when their callbacks start the inner ones.
        let server = holding_server("127.0.0.1:0", 4, conns.clone()).await;
        let (client, _events) = client();
        let (tx, mut rx) = mpsc::unbounded_channel::<(u16, String)>();

        let mut guards = Vec::new();
        for i in 0..4 {
            let (inner_client, tx) = (client.clone(), tx.clone());
            let inner_url = server.url(&format!("/inner/{i}"));
            let guard = client.get(server.url(&format!("/outer/{i}"))).spawn(move |res| {
                let _ = tx.send((res.status().as_u16(), res.text().into_owned()));
                inner_client
                    .get(inner_url)
                    .spawn(move |res| {
                        let _ = tx.send((res.status().as_u16(), res.text().into_owned()));
                    })
                    .detach();
            });
            guards.push(guard);
        }
        drop(tx);

        let mut seen = BTreeSet::new();
        while let Some((status, body)) = rx.recv().await {
            assert_eq!(status, 200, "{body}");
            assert!(seen.insert(body));
        }
        let expected: BTreeSet<String> =
            (0..4).flat_map(|i| [format!("/outer/{i}"), format!("/inner/{i}")]).collect();
        assert_eq!(seen, expected);
        assert_eq!(conns.max_open(), 4);
        assert_eq!(server.connects(), 4);
        assert!(eventually(|| counts(&client) == (0, 4, 0)).await, "{:?}", client.pool_stats());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 8. The queue: timeout while queued, cancel, FIFO
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_request_times_out_with_595_and_a_cancelled_one_leaves_the_queue() {
    within(async {
        let gate = Gate::default();
        let conns = ConnTracker::new();
        let server = gated_server(gate.clone(), conns.clone()).await;
        let (client, _events) = client();

        // Four requests take the four slots; the server does not answer yet.
        let (tx, mut rx) = mpsc::unbounded_channel::<(u16, String)>();
        let mut held = Vec::new();
        for i in 0..4 {
            let tx = tx.clone();
            held.push(client.get(server.url(&format!("/held/{i}"))).spawn(move |res| {
                let _ = tx.send((res.status().as_u16(), res.text().into_owned()));
            }));
        }
        drop(tx);
        conns.wait_requests(4).await;
        assert_eq!(counts(&client), (4, 0, 0));

        // A fifth waits in the queue, and its activity timeout runs out there.
        let fifth = tokio::spawn(client.get(server.url("/fifth")).timeout(Duration::from_secs(1)).send());
        assert!(eventually(|| counts(&client) == (4, 0, 1)).await, "{:?}", client.pool_stats());
        let res = fifth.await.unwrap();
        assert_status(&res, 595);
        let error = res.error().expect("an error");
        assert_eq!(error.kind(), ErrorKind::Connect);
        assert!(error.is_timeout(), "{error}");
        assert_eq!(counts(&client), (4, 0, 0));

        // A sixth, cancelled by dropping its future: leaves the queue at once.
        let sixth = poll_once(Box::pin(client.get(server.url("/sixth")).send())).await;
        assert_eq!(counts(&client), (4, 0, 1));
        drop(sixth);
        assert_eq!(counts(&client), (4, 0, 0));

        // A seventh, cancelled by dropping its guard.
        let (seventh_tx, seventh_rx) = oneshot::channel::<u16>();
        let seventh = client.get(server.url("/seventh")).spawn(move |res| {
            let _ = seventh_tx.send(res.status().as_u16());
        });
        assert!(eventually(|| counts(&client) == (4, 0, 1)).await, "{:?}", client.pool_stats());
        drop(seventh);
        assert!(seventh_rx.await.is_err(), "a cancelled request's callback is never called");
        assert_eq!(counts(&client), (4, 0, 0));

        // Now the server answers: the held requests complete; the others never reached it.
        gate.open();
        let mut bodies = BTreeSet::new();
        while let Some((status, body)) = rx.recv().await {
            assert_eq!(status, 200, "{body}");
            bodies.insert(body);
        }
        assert_eq!(bodies, (0..4).map(|i| format!("/held/{i}")).collect());
        assert_eq!(server.connects(), 4);
        let targets: BTreeSet<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets, bodies);
        assert!(eventually(|| counts(&client) == (0, 4, 0)).await, "{:?}", client.pool_stats());
        drop(held);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_requests_are_served_in_fifo_order() {
    within(async {
        let gate = Gate::default();
        let conns = ConnTracker::new();
        let server = gated_server(gate.clone(), conns.clone()).await;
        let (client, _events) = client_from(Client::builder().max_per_host(1));
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let mut guards = Vec::new();
        let mut spawn = |path: &str| {
            let tx = tx.clone();
            guards.push(client.get(server.url(path)).spawn(move |res| {
                assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
                let _ = tx.send(res.text().into_owned());
            }));
        };

        spawn("/hold");
        conns.wait_requests(1).await;
        for (queued, path) in ["/a", "/b", "/c"].into_iter().enumerate() {
            spawn(path);
            assert!(
                eventually(|| counts(&client) == (1, 0, queued + 1)).await,
                "{path}: {:?}",
                client.pool_stats()
            );
        }
        drop(tx);
        gate.open();

        let mut completed = Vec::new();
        while let Some(body) = rx.recv().await {
            completed.push(body);
        }
        assert_eq!(completed, ["/hold", "/a", "/b", "/c"]);
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets, ["/hold", "/a", "/b", "/c"]);
        assert_eq!(server.connects(), 1, "each waiter got the connection handed over");
        assert!(eventually(|| counts(&client) == (0, 1, 0)).await, "{:?}", client.pool_stats());
        drop(guards);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 9. Churn
// ---------------------------------------------------------------------------------------

/// What a churn request asked the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fault {
    None,
    Reset,
    Close,
    HalfBody,
    Stall,
}

impl Fault {
    fn path(self, n: usize) -> String {
        match self {
            Fault::None => format!("/ok/{n}"),
            Fault::Reset => "/reset".into(),
            Fault::Close => "/close".into(),
            Fault::HalfBody => "/half".into(),
            Fault::Stall => "/stall".into(),
        }
    }

    /// Checks a completed (not cancelled) request's response.
    fn check(self, n: usize, res: &Response) {
        let status = res.status().as_u16();
        match self {
            Fault::None => {
                assert_eq!(status, 200, "/ok/{n}: {}", res.reason());
                assert_eq!(res.text(), format!("/ok/{n}"));
            }
            Fault::Reset | Fault::Close => assert_eq!(status, 596, "{self:?}: {}", res.reason()),
            Fault::HalfBody => {
                assert_eq!(status, 597, "{}", res.reason());
                assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
            }
            Fault::Stall => {
                assert!(matches!(status, 595 | 596), "stall: {status} {}", res.reason());
                assert!(res.error().is_some_and(|e| e.is_timeout()), "{}", res.reason());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_with_cancellations_and_faults_leaves_nothing_behind() {
    within(async {
        let mut servers = Vec::new();
        for i in 1..=3 {
            servers.push(
                KeepAlive::start_on(&format!("127.0.0.{i}:0"), |request| match request.target.as_str() {
                    "/reset" => Reply::SendThenReset("HTTP/1.1 2".into()),
                    "/close" => Reply::SendThenClose(String::new()),
                    "/half" => {
                        Reply::SendThenClose("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234".into())
                    }
                    "/stall" => Reply::Silent,
                    target => Reply::Send(ok(target)),
                })
                .await,
            );
        }
        let ports: Vec<u16> = servers.iter().map(|s| s.server.port()).collect();
        let baseline_sockets = socket_fds_for(&ports);
        assert_eq!(baseline_sockets, 3, "the three listeners");

        let max_per_host = 4;
        let (client, events) = client_from(
            Client::builder()
                .max_per_host(max_per_host)
                .timeout(Duration::from_secs(5))
                .persistent_timeout(Duration::from_millis(300)),
        );
        let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();

        let mut rng = Rng(0x5EED_C0FF_EE00_0001);
        let in_flight = Arc::new(Semaphore::new(32));
        let mut tasks = JoinSet::new();
        let (mut completed, mut cancelled) = (0usize, 0usize);
        let mut by_fault: HashMap<Fault, usize> = HashMap::new();
        for n in 0..1000 {
            let fault = match rng.below(100) {
                0..=69 => Fault::None,
                70..=75 => Fault::Reset,
                76..=81 => Fault::Close,
                82..=87 => Fault::HalfBody,
                _ => Fault::Stall,
            };
            *by_fault.entry(fault).or_default() += 1;
            let url = format!("{}{}", urls[rng.below(3) as usize], fault.path(n));
            let cancel_after = (rng.below(100) < 15).then(|| Duration::from_micros(rng.below(3000)));
            let by_guard = rng.below(2) == 0;
            let mut request = client.get(url);
            if fault == Fault::Stall {
                request = request.timeout(Duration::from_millis(150));
            }
            let permit = in_flight.clone().acquire_owned().await.unwrap();
            tasks.spawn(async move {
                let _permit = permit;
                let res = match (cancel_after, by_guard) {
                    (None, _) => Some(request.send().await),
                    (Some(after), false) => tokio::time::timeout(after, request.send()).await.ok(),
                    (Some(after), true) => {
                        let (tx, rx) = oneshot::channel();
                        let guard = request.spawn(move |res| {
                            let _ = tx.send(res);
                        });
                        tokio::time::sleep(after).await;
                        drop(guard);
                        rx.await.ok()
                    }
                };
                if let Some(res) = &res {
                    fault.check(n, res);
                }
                res.is_some()
            });
            while let Some(joined) = tasks.try_join_next() {
                if joined.expect("churn task") {
                    completed += 1;
                } else {
                    cancelled += 1;
                }
            }
        }
        while let Some(joined) = tasks.join_next().await {
            if joined.expect("churn task") {
                completed += 1;
            } else {
                cancelled += 1;
            }
        }
        assert_eq!(completed + cancelled, 1000);
        assert!(cancelled > 0 && completed > 700, "completed {completed}, cancelled {cancelled}");
        assert!(by_fault.len() == 5, "{by_fault:?}");

        // Cancelled tasks clean up as their runtime drops them: wait for that.
        assert!(
            eventually(|| {
                let stats = client.pool_stats();
                stats.active == 0 && stats.queued == 0
            })
            .await,
            "{:?}",
            client.pool_stats()
        );
        let stats = client.pool_stats();
        for host in &stats.hosts {
            assert!(host.idle <= max_per_host && host.open == host.idle, "{host:?}");
        }

        // Idle connections expire after 300 ms; every socket of the churn then closes, at
        // both ends (the servers live in this process too).
        assert!(eventually(|| pool_is_empty(&client)).await, "{:?}", client.pool_stats());
        let settled = eventually(|| socket_fds_for(&ports) == baseline_sockets).await;
        let now = socket_fds_for(&ports);
        assert!(settled, "churn sockets still open: {now}, baseline {baseline_sockets}");
        // Every connection the client opened, it also closed (events balance).
        assert_eq!(events.closes(), events.connects(), "connects vs closes");
        assert!(events.connects() <= servers.iter().map(|s| s.connects()).sum::<usize>());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 10. Early response during an upload
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_413_during_a_large_upload_is_delivered_and_not_pooled() {
    within(async {
        let (seen_tx, seen_rx) = oneshot::channel::<Vec<u8>>();
        let seen_tx = Arc::new(Mutex::new(Some(seen_tx)));
        let server = Scripted::start(move |mut peer| {
            let seen_tx = seen_tx.clone();
            async move {
                let first = peer.read_exact(1024).await;
                peer.write(
                    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 14\r\nConnection: close\r\n\r\nupload refused",
                )
                .await;
                if let Some(tx) = seen_tx.lock().unwrap().take() {
                    let _ = tx.send(first);
                }
                drop(peer);
            }
        })
        .await;
        let (client, events) = client();

        let body = vec![b'x'; 10 * 1024 * 1024];
        let res = client.post(server.url("/upload")).body(body).send().await;
        assert_status(&res, 413);
        assert_eq!(res.reason(), "Payload Too Large");
        assert_eq!(res.body().as_ref(), b"upload refused");
        assert!(res.error().is_none());

        let first = seen_rx.await.expect("the server read the start of the upload");
        assert!(first.starts_with(b"POST /upload HTTP/1.1\r\n"));
        assert_eq!(server.connects(), 1);
        assert!(pool_is_empty(&client), "{:?}", client.pool_stats());
        assert_eq!(events.count(|kind| *kind == EventKind::Idle), 0);
        assert_eq!(events.closes(), 1);
    })
    .await;
}

/// The server answers 413 early but neither reads on nor closes: the client, whose write
/// is blocked, must still hear the answer (not wait for its activity timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_413_from_a_server_that_stops_reading_is_delivered() {
    within(async {
        let server = Scripted::start(|mut peer| async move {
            let _ = peer.read_exact(1024).await;
            peer.write(
                "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 14\r\nConnection: close\r\n\r\nupload refused",
            )
            .await;
            // Hold the socket without reading or closing until the test ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(peer);
        })
        .await;
        let (client, events) = client_from(Client::builder().timeout(Duration::from_secs(5)));

        let res = client.post(server.url("/upload")).body(vec![b'x'; 10 * 1024 * 1024]).send().await;
        assert_status(&res, 413);
        assert_eq!(res.body().as_ref(), b"upload refused");
        assert!(pool_is_empty(&client), "{:?}", client.pool_stats());
        assert_eq!(events.count(|kind| *kind == EventKind::Idle), 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 11. Load: 10,000 GETs over 250 hosts
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_gets_over_250_hosts() {
    within(async {
        const HOSTS: usize = 250;
        const REQUESTS: usize = 10_000;
        const IN_FLIGHT: usize = 64;
        let mut servers = Vec::with_capacity(HOSTS);
        for i in 1..=HOSTS {
            let ip = format!("127.0.0.{i}");
            let body = ip.clone();
            servers.push(KeepAlive::start_on(&format!("{ip}:0"), move |_| ok(&body)).await);
        }
        let urls: Arc<Vec<(String, String)>> = Arc::new(
            servers.iter().enumerate().map(|(i, s)| (s.url("/"), format!("127.0.0.{}", i + 1))).collect(),
        );
        // Nothing expires during the run, so every connection opened is still open at the end.
        let (client, events) = client_from(Client::builder().persistent_timeout(Duration::from_secs(60)));

        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = JoinSet::new();
        for worker in 0..IN_FLIGHT {
            let (client, next, urls) = (client.clone(), next.clone(), urls.clone());
            workers.spawn(async move {
                let mut rng = Rng(worker as u64);
                let mut ok_count = 0;
                while next.fetch_add(1, Ordering::SeqCst) < REQUESTS {
                    let (url, ip) = &urls[rng.below(HOSTS as u64) as usize];
                    let res = client.get(url).send().await;
                    assert_status(&res, 200);
                    assert_eq!(res.text(), ip.as_str());
                    ok_count += 1;
                }
                ok_count
            });
        }
        let mut total = 0;
        while let Some(joined) = workers.join_next().await {
            total += joined.expect("load worker");
        }
        assert_eq!(total, REQUESTS);

        let stats = client.pool_stats();
        assert_eq!((stats.active, stats.queued), (0, 0));
        assert!(stats.hosts.iter().all(|h| h.idle <= 4 && h.open == h.idle), "{:?}", stats.hosts);
        let connects: usize = servers.iter().map(|s| s.connects()).sum();
        assert!(connects <= HOSTS * 4, "{connects} connects");
        assert_eq!(stats.idle, connects, "every connection opened is idle in the pool");
        assert_eq!(events.connects(), connects);
        assert_eq!(events.closes(), 0);
        let requests: usize = servers.iter().map(|s| s.conns.requests()).sum();
        assert_eq!(requests, REQUESTS);
    })
    .await;
}
