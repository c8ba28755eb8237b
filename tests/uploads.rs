#![cfg(feature = "server")]
//! Request bodies produced while they are sent: streams, readers and files; Content-Length
//! when known, chunked otherwise; what a failing or mismatched body does.

mod support;
use support::*;

use courier::server::{Reply, Request, Server};
use courier::{Bytes, Client, ErrorKind};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Echoes how the body was framed and a checksum-like summary: `te=..;cl=..;len=..;sum=..`.
async fn echo_server() -> Server {
    Server::builder()
        .route("", |req: Request| async move {
            let framing = format!(
                "te={};cl={}",
                req.header("transfer-encoding").unwrap_or_default(),
                req.header("content-length").unwrap_or_default()
            );
            match req.body().await {
                Ok(body) => {
                    let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
                    Reply::text(format!("{framing};len={};sum={sum}", body.len()))
                }
                Err(error) => Reply::from(error),
            }
        })
        .route("/moved", |_req| async { Reply::redirect(307, "/") })
        .start()
        .await
        .unwrap()
}

fn summary(body: &[u8], framing: &str) -> String {
    let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
    format!("{framing};len={};sum={sum}", body.len())
}

fn chunks(body: &[u8], size: usize) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let pieces: Vec<io::Result<Bytes>> = body.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures_util::stream::iter(pieces)
}

#[tokio::test]
async fn a_stream_without_a_length_goes_chunked_and_arrives_intact() {
    within(async {
        let server = echo_server().await;
        let body = pattern(300_000);
        let res = courier::post(server.url("/")).body_stream(chunks(&body, 10_000), None).send().await;
        assert_eq!(res.text(), summary(&body, "te=chunked;cl="), "{}", res.reason());
    })
    .await
}

#[tokio::test]
async fn a_stream_with_a_length_goes_with_content_length() {
    within(async {
        let server = echo_server().await;
        let body = pattern(100_000);
        let res = courier::request("PUT", server.url("/"))
            .body_stream(chunks(&body, 7_000), Some(body.len() as u64))
            .send()
            .await;
        assert_eq!(res.text(), summary(&body, "te=;cl=100000"), "{}", res.reason());
    })
    .await
}

#[tokio::test]
async fn readers_and_files_stream_their_bytes() {
    within(async {
        let server = echo_server().await;
        let body = pattern(200_000);
        let res =
            courier::post(server.url("/")).body_reader(std::io::Cursor::new(body.clone()), None).send().await;
        assert_eq!(res.text(), summary(&body, "te=chunked;cl="));

        let path = std::env::temp_dir().join(format!("courier-upload-{}.bin", std::process::id()));
        std::fs::write(&path, &body).unwrap();
        let res = courier::post(server.url("/")).body_file(&path).send().await;
        std::fs::remove_file(&path).unwrap();
        assert_eq!(res.text(), summary(&body, "te=;cl=200000"), "{}", res.reason());
    })
    .await
}

#[tokio::test]
async fn a_missing_file_is_599_before_anything_is_sent() {
    within(async {
        let server = echo_server().await;
        let res = courier::post(server.url("/")).body_file("/nonexistent/courier/body").send().await;
        assert_eq!(res.status().as_u16(), 599, "{}", res.reason());
        assert_eq!(res.error().unwrap().kind(), ErrorKind::InvalidRequest);
        assert!(server.requests().is_empty());
    })
    .await
}

#[tokio::test]
async fn a_body_that_does_not_match_its_length_is_596() {
    within(async {
        let server = echo_server().await;
        let body = pattern(1000);
        let short = courier::post(server.url("/")).body_stream(chunks(&body, 100), Some(2000)).send().await;
        assert_eq!(short.status().as_u16(), 596, "{}", short.reason());
        assert_eq!(short.reason(), "the request body ended after 1000 of its declared 2000 bytes");
        let long = courier::post(server.url("/")).body_stream(chunks(&body, 100), Some(500)).send().await;
        assert_eq!(long.status().as_u16(), 596, "{}", long.reason());
        assert_eq!(long.reason(), "the request body is longer than its declared 500 bytes");
    })
    .await
}

#[tokio::test]
async fn a_failing_stream_is_596_and_its_connection_is_not_reused() {
    within(async {
        let connects = Arc::new(AtomicUsize::new(0));
        let counted = connects.clone();
        let server = Server::builder()
            .on_connect(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            })
            .route("", |req: Request| async move {
                Reply::text(format!("{}", req.body().await.map(|b| b.len()).unwrap_or(0)))
            })
            .start()
            .await
            .unwrap();
        let client = Client::new();
        let failing = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"first part")),
            Err(io::Error::other("the disk went away")),
        ]);
        let res = client.request("PUT", server.url("/")).body_stream(failing, None).send().await;
        assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
        assert_eq!(res.error().unwrap().kind(), ErrorKind::Send);
        assert_eq!(res.reason(), "read the request body: the disk went away");
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(connects.load(Ordering::SeqCst), 2, "the failed upload's connection was not reused");
    })
    .await
}

#[tokio::test]
async fn a_307_is_returned_rather_than_followed_with_a_streamed_body() {
    within(async {
        let server = echo_server().await;
        let res = courier::post(server.url("/moved")).body_stream(chunks(b"once", 2), None).send().await;
        assert_eq!(res.status().as_u16(), 307, "{}", res.reason());
        assert!(res.redirects().is_empty());
        // An in-memory body is replayed as usual.
        let res = courier::post(server.url("/moved")).body("twice").send().await;
        assert_eq!(res.text(), summary(b"twice", "te=;cl=5"));
    })
    .await
}

#[tokio::test]
async fn expect_continue_works_with_a_streamed_body() {
    within(async {
        let server = echo_server().await;
        let body = pattern(50_000);
        let res = courier::post(server.url("/"))
            .header("expect", "100-continue")
            .body_stream(chunks(&body, 5_000), Some(body.len() as u64))
            .send()
            .await;
        assert_eq!(res.text(), summary(&body, "te=;cl=50000"), "{}", res.reason());
    })
    .await
}

#[tokio::test]
async fn progress_reports_upload_and_download_with_totals() {
    within(async {
        let server = echo_server().await;
        let body = pattern(50_000);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let res = courier::post(server.url("/"))
            .body_stream(chunks(&body, 10_000), Some(50_000))
            .on_progress(move |progress| recorded.lock().unwrap().push(progress))
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        let seen = seen.lock().unwrap().clone();
        let sends: Vec<(u64, Option<u64>)> =
            seen.iter().filter(|p| p.received == 0).map(|p| (p.sent, p.send_total)).collect();
        assert_eq!(sends, (1..=5).map(|i| (i * 10_000, Some(50_000))).collect::<Vec<_>>());
        let last = *seen.last().unwrap();
        assert_eq!((last.sent, last.received), (50_000, res.body().len() as u64));
        assert_eq!(last.receive_total, Some(res.body().len() as u64));
        // Download progress is monotonic.
        let received: Vec<u64> = seen.iter().map(|p| p.received).collect();
        assert!(received.windows(2).all(|w| w[0] <= w[1]));

        // An in-memory body reports once, whole.
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = seen.clone();
        courier::post(server.url("/"))
            .body("12345")
            .on_progress(move |p| recorded.lock().unwrap().push(p))
            .send()
            .await;
        let first = seen.lock().unwrap()[0];
        assert_eq!((first.sent, first.send_total, first.received), (5, Some(5), 0));
    })
    .await
}
