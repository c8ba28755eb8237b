#![cfg(feature = "server")]
//! Regression tests for server bugs found in review, one test per bug: body pieces lost
//! to cancelled reads or to a mock's body matcher, late readers getting a short body as
//! `Ok`, framing fields a handler set going out beside ours, a streamed reply overrunning
//! its Content-Length, empty lines before the request line, a mid-body close reported as
//! malformed, and the log's status for a fault that did not cut the reply.

mod support;
use support::within;

use courier::server::{Reply, Request, Server};
use std::time::Duration;
use tokio::io::AsyncReadExt;

use support::raw_http::*;

/// Reads until the server closes (a reset ends it too): everything it sent.
async fn read_all(client: &mut RawClient) -> Vec<u8> {
    let mut got = std::mem::take(&mut client.buf);
    let mut piece = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.stream.read(&mut piece)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&piece[..n]),
        }
    }
}

/// The head (through the blank line) and what follows it.
fn split_head(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = find_from(bytes, b"\r\n\r\n", 0).expect("a complete head") + 4;
    (lossy(&bytes[..end]).to_ascii_lowercase(), bytes[end..].to_vec())
}

// ---------------------------------------------------------------------------------------
// conn.rs / parse.rs: an empty line before the request line (RFC 9112 §2.2)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_refused_head_request_after_an_empty_line_has_no_body() {
    within(async {
        let server =
            Server::builder().route("/", |_req| async { Reply::text("root") }).start().await.unwrap();
        // The server skips an empty line before the request line, so this is a HEAD
        // request; its head is refused (bare LF), and a reply to HEAD has no body.
        let mut client = RawClient::connect(&server).await;
        client.send(format!("\r\nHEAD / HTTP/1.1\nHost: {HOST}\r\n\r\n")).await;
        let wire = read_all(&mut client).await;
        let (head, body) = split_head(&wire);
        assert!(head.starts_with("http/1.1 400"), "{head:?}");
        assert!(body.is_empty(), "a refusal to HEAD carried a body: {:?}", lossy(&body));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn http_1_2_after_an_empty_line_is_still_served_as_http_1_1() {
    within(async {
        let server =
            Server::builder().route("/", |_req| async { Reply::text("root") }).start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        // Without the empty line this is served (tests/wire_strictness.rs); with it, the
        // version check looked for the version on the (empty) first line.
        let res = client.request(format!("\r\nGET / HTTP/1.2\r\nHost: {HOST}\r\n\r\n")).await;
        assert_eq!((res.status, res.text().as_str()), (200, "root"));
        let mut client = RawClient::connect(&server).await;
        let res = client.request(format!("\r\nGET / HTTP/2.0\r\nHost: {HOST}\r\n\r\n")).await;
        assert_eq!(res.status, 505);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// write.rs: a handler's Transfer-Encoding on a complete body
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_handlers_transfer_encoding_never_goes_out_beside_content_length() {
    within(async {
        let server = Server::builder()
            .route("/te", |_req| async { Reply::text("hello").with_header("transfer-encoding", "chunked") })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        client.send(get_close("/te")).await;
        let wire = read_all(&mut client).await;
        let (head, body) = split_head(&wire);
        // RFC 9112 §6.1: a sender MUST NOT send Content-Length with Transfer-Encoding; and a
        // body framed as chunked must be chunked.
        assert!(
            !(head.contains("transfer-encoding:") && head.contains("content-length:")),
            "both framings on the wire: {head:?} {:?}",
            lossy(&body)
        );
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// write.rs: a streamed reply longer than its own Content-Length
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_streamed_reply_never_sends_more_than_its_content_length() {
    within(async {
        let server = Server::builder()
            .route("/long", |_req| async {
                let (reply, mut sender) = Reply::stream(200);
                tokio::spawn(async move {
                    let _ = sender.send("hello").await;
                    let _ = sender.send(" world").await;
                });
                reply.with_header("content-length", "3")
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        // Keep-alive: the bytes after the stated length would be read as the next response.
        client.send(get("/long")).await;
        let wire = read_all(&mut client).await;
        let (head, body) = split_head(&wire);
        assert!(head.contains("content-length: 3\r\n"), "{head:?}");
        assert_eq!(lossy(&body), "hel", "bytes beyond Content-Length went out");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// body.rs: a read cancelled after the loop handed its piece over loses the piece
// ---------------------------------------------------------------------------------------

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Pending for its first `polls - 1` polls (waking itself each time), ready on poll
/// `polls`: a stand-in for any other `select!` branch (a timer, a shutdown signal) that
/// becomes ready in the same wake-up as the body piece.
struct ReadyOnPoll {
    polls: u32,
}

impl Future for ReadyOnPoll {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls -= 1;
        if self.polls == 0 {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[tokio::test]
async fn a_chunk_read_cancelled_after_its_piece_was_handed_over_loses_no_byte() {
    within(async {
        let server = Server::builder()
            .route("/up", |req: Request| async move {
                let mut got = Vec::new();
                // Each round gives up on `chunk()` once the other branch is ready: on
                // the third poll, which is the poll right after the loop has put the
                // (already buffered) piece into the reader's answer slot.
                for _ in 0..20 {
                    tokio::select! {
                        biased;
                        () = ReadyOnPoll { polls: 3 } => continue,
                        piece = req.chunk() => match piece {
                            Ok(Some(piece)) => got.extend_from_slice(&piece),
                            Ok(None) => break,
                            Err(error) => return Reply::from(error),
                        },
                    }
                }
                // The rest, read without giving up.
                while let Ok(Some(piece)) = req.chunk().await {
                    got.extend_from_slice(&piece);
                }
                Reply::text(lossy(&got))
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        // Head and body in one write: the body is buffered when the handler asks.
        let res = client.request(post("/up", "hello world")).await;
        assert_eq!((res.status, res.text().as_str()), (200, "hello world"), "a piece was lost");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// body.rs / request.rs: a reader that outlives its handler gets a short body as Ok
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_body_read_after_the_handler_returned_is_never_a_short_ok() {
    within(async {
        let (seen_tx, seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let server = Server::builder()
            .route("/job", move |req: Request| {
                let seen = seen_tx.clone();
                async move {
                    // "202 Accepted, processed in the background": the job reads the body
                    // after the handler has returned.
                    tokio::spawn(async move {
                        let _ = seen.send(req.body().await);
                    });
                    Reply::text("accepted").with_status(202)
                }
            })
            .start()
            .await
            .unwrap();
        let mut seen_rx = seen_rx;
        let mut client = RawClient::connect(&server).await;
        let res = client.request(post("/job", "hello world")).await;
        assert_eq!(res.status, 202);
        let body = seen_rx.recv().await.expect("the job ran");
        // Either the whole body or an error; never "Ok, and it was shorter".
        if let Ok(body) = &body {
            assert_eq!(lossy(body), "hello world", "the background job got a truncated body as Ok");
        }
        assert_eq!(body, Err(courier::server::BodyError::Closed));
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// body.rs: a client that closes in the middle of its body
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_closing_mid_body_is_body_error_closed() {
    within(async {
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let server = Server::builder()
            .route("/up", move |req: Request| {
                let seen = seen_tx.clone();
                async move {
                    let body = req.body().await;
                    let _ = seen.send(body.clone());
                    match body {
                        Ok(body) => Reply::text(lossy(&body)),
                        Err(error) => Reply::from(error),
                    }
                }
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        client.send(format!("POST /up HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 10\r\n\r\nhello")).await;
        tokio::io::AsyncWriteExt::shutdown(&mut client.stream).await.unwrap();
        // BodyError::Closed is "the connection failed or closed mid-body".
        assert_eq!(seen_rx.recv().await.expect("the handler ran"), Err(courier::server::BodyError::Closed));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_body_the_handler_read_whole_still_ends_cleanly_for_a_later_reader() {
    within(async {
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let server = Server::builder()
            .route("/job", move |req: Request| {
                let seen = seen_tx.clone();
                async move {
                    // All the data, but not the end: a Content-Length body's end is one
                    // more read away.
                    let first = req.chunk().await;
                    tokio::spawn(async move {
                        let _ = seen.send((first, req.body().await));
                    });
                    Reply::text("accepted").with_status(202)
                }
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        assert_eq!(client.request(post("/job", "hello world")).await.status, 202);
        let (first, rest) = seen_rx.recv().await.expect("the job ran");
        assert_eq!(first.unwrap().as_deref(), Some(&b"hello world"[..]));
        assert_eq!(rest.unwrap(), "", "nothing was cut off: the rest is empty");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// router.rs / mock: a body-reading mock that does not match uses up the body for chunk()
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_body_matcher_that_does_not_match_leaves_the_body_to_the_routes_chunk_reads() {
    within(async {
        let server = Server::builder()
            .verify_on_drop(false)
            .route("/route", |req: Request| async move {
                let mut size = 0;
                while let Ok(Some(piece)) = req.chunk().await {
                    size += piece.len();
                }
                Reply::text(size.to_string())
            })
            .start()
            .await
            .unwrap();
        // Its head matches every request, so the registry reads the body to test it.
        server.mock(courier::server::when().body_contains("needle")).respond(Reply::text("mocked"));
        let mut client = RawClient::connect(&server).await;
        let res = client.request(post("/route", &"x".repeat(1000))).await;
        assert_eq!(res.text(), "1000", "the route's chunk() reads found the body gone");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// record.rs / write.rs: a fault that did not cut the reply still logs no status
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_close_after_body_fault_longer_than_the_body_logs_the_status_sent() {
    within(async {
        let server = Server::builder()
            .route("/short", |_req| async {
                Reply::text("hello").with_fault(courier::server::Fault::CloseAfterBody(100))
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        let res = client.request(get("/short")).await;
        // The whole reply went out ("a shorter body goes out whole, then the connection
        // closes"); RecordedRequest::status is None only "when no complete reply went out".
        assert_eq!((res.status, res.text().as_str()), (200, "hello"));
        let logged = server.wait_for_requests(1, Duration::from_secs(5)).await.unwrap();
        assert_eq!(logged[0].status.map(|s| s.as_u16()), Some(200));
        server.shutdown().await;
    })
    .await
}
