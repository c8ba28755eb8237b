//! The overall deadline, beside the activity timeout: it bounds the pool wait (595),
//! connecting (595), sending and the head (596), the body (597, also when streamed) and
//! every redirect hop, and `is_timeout()` is true for it.
//!
//! Time is paused (`start_paused`) where the server stalls: the clock then moves straight
//! to the deadline once every task is idle, and no test waits in real time. The trickle
//! test runs in real time (paused time cannot interleave a trickle with socket reads
//! faithfully); its margins are 20x, and it asserts outcomes, never durations.

mod support;
use support::*;

use courier::{Client, ErrorKind};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// Asserts a deadline failure: the status, the kind, a timeout, "deadline" in the reason.
#[track_caller]
fn assert_deadline(res: &courier::Response, status: u16, kind: ErrorKind) {
    assert_eq!(res.status().as_u16(), status, "{}", res.reason());
    let error = res.error().expect("an error");
    assert_eq!(error.kind(), kind, "{}", res.reason());
    assert!(error.is_timeout(), "{}", res.reason());
    assert!(res.reason().contains("deadline of"), "{}", res.reason());
}

/// Answers with a head announcing 1000 bytes, sends `sent` of them, then stalls.
async fn stalls_in_the_body(sent: usize) -> Scripted {
    Scripted::start(move |mut peer| async move {
        if peer.read_request().await.is_some() {
            peer.write(format!("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{}", "b".repeat(sent))).await;
            peer.hold().await;
        }
    })
    .await
}

/// Sends a 40-byte body one byte every 50 ms: never idle for long, 2 s in total.
async fn trickles() -> Scripted {
    Scripted::start(|mut peer| async move {
        while peer.read_request().await.is_some() {
            peer.write("HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n").await;
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                peer.write("t").await;
            }
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_deadline_in_the_body_is_597_and_keeps_the_partial_body() {
    within(async {
        let server = stalls_in_the_body(10).await;
        let res = courier::get(server.url("/")).timeout(30 * SECOND).deadline(SECOND).send().await;
        assert_deadline(&res, 597, ErrorKind::ResponseBody);
        assert_eq!(res.orig_status(), Some(courier::StatusCode::OK));
        assert_eq!(res.body().as_ref(), b"bbbbbbbbbb");
        assert_eq!(res.error().unwrap().url(), Some(server.url("/").as_str()));
    })
    .await;
}

#[tokio::test]
async fn the_activity_timeout_is_not_a_total_but_the_deadline_is() {
    within(async {
        let server = trickles().await;
        // Each byte comes within 1 s, so the activity timeout never runs out: 2 s in all.
        let res = courier::get(server.url("/")).timeout(SECOND).send().await;
        assert_eq!((res.status().as_u16(), res.body().len()), (200, 40), "{}", res.reason());

        let res =
            courier::get(server.url("/")).timeout(SECOND).deadline(Duration::from_millis(500)).send().await;
        assert_deadline(&res, 597, ErrorKind::ResponseBody);
        assert!((1..40).contains(&res.body().len()), "{} bytes", res.body().len());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_before_the_head_is_596() {
    within(async {
        let server = Scripted::start(|mut peer| async move {
            if peer.read_request().await.is_some() {
                peer.hold().await;
            }
        })
        .await;
        let res = courier::get(server.url("/")).deadline(2 * SECOND).send().await;
        assert_deadline(&res, 596, ErrorKind::ResponseHead);
        assert!(res.reason().starts_with("read response head: deadline of 2s exceeded"), "{}", res.reason());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_while_connecting_is_595() {
    within(async {
        let res = courier::get("http://example.test/")
            .connector(|_target: courier::Target| async {
                std::future::pending::<std::io::Result<tokio::net::TcpStream>>().await
            })
            .deadline(SECOND)
            .send()
            .await;
        assert_deadline(&res, 595, ErrorKind::Connect);
        assert!(res.reason().starts_with("connect to example.test:80: deadline of 1s"), "{}", res.reason());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_while_waiting_for_a_pool_slot_is_595() {
    within(async {
        let server = stalls_in_the_body(0).await;
        let client = Client::builder().max_per_host(1).build().unwrap();
        // The first request holds the only slot (its body never ends).
        let mut first = client.get(server.url("/first")).send_streaming().await;
        assert_eq!(first.status(), 200);
        let res = client.get(server.url("/second")).deadline(SECOND).send().await;
        assert_deadline(&res, 595, ErrorKind::Connect);
        assert!(res.reason().starts_with("wait for a connection slot"), "{}", res.reason());
        assert_eq!(server.connects(), 1);
        // The streamed body still has no deadline of its own: it waits on (drop ends it).
        let pending = tokio::time::timeout(SECOND, first.chunk()).await;
        assert!(pending.is_err(), "the body has no deadline");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_bounds_a_body_read_after_send_streaming() {
    within(async {
        let server = stalls_in_the_body(5).await;
        let mut res = courier::get(server.url("/")).deadline(3 * SECOND).send_streaming().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.chunk().await.unwrap().unwrap().as_ref(), b"bbbbb");
        let error = res.chunk().await.unwrap_err();
        assert_eq!((error.status().as_u16(), error.kind()), (597, ErrorKind::ResponseBody));
        assert!(error.is_timeout(), "{error}");
        assert!(!res.has_more_body());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_spans_every_redirect_hop() {
    within(async {
        // Each hop answers after 400 ms: two redirects fit in 1 s, the third answer does not.
        let delayed = Scripted::start(|mut peer| async move {
            while let Some(request) = peer.read_request().await {
                tokio::time::sleep(Duration::from_millis(400)).await;
                let next = match request.target.as_str() {
                    "/a" => "/b",
                    "/b" => "/c",
                    _ => "/d",
                };
                peer.write(format!("HTTP/1.1 302 Found\r\nlocation: {next}\r\ncontent-length: 0\r\n\r\n"))
                    .await;
            }
        })
        .await;
        let res = courier::get(delayed.url("/a")).deadline(SECOND).send().await;
        assert_deadline(&res, 596, ErrorKind::ResponseHead);
        assert_eq!(res.redirects().len(), 2, "two hops done before the deadline");
        assert_eq!(res.url(), delayed.url("/c"));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_clients_deadline_applies_and_a_request_can_replace_it() {
    within(async {
        let server = stalls_in_the_body(1).await;
        let client = Client::builder().deadline(SECOND).build().unwrap();
        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).send().await;
        assert_deadline(&res, 597, ErrorKind::ResponseBody);
        assert_eq!(started.elapsed(), SECOND, "paused time moves exactly to the deadline");

        let started = tokio::time::Instant::now();
        let res = client.get(server.url("/")).deadline(5 * SECOND).send().await;
        assert_deadline(&res, 597, ErrorKind::ResponseBody);
        assert_eq!(started.elapsed(), 5 * SECOND);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_request_within_its_deadline_is_untouched_and_its_connection_reused() {
    within(async {
        let server = KeepAlive::start(|_request: &Received| {
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_string()
        })
        .await;
        let client = Client::builder().deadline(SECOND).build().unwrap();
        for _ in 0..3 {
            let res = client.get(server.url("/")).send().await;
            assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "ok"), "{}", res.reason());
        }
        assert_eq!(server.connects(), 1);
    })
    .await;
}
