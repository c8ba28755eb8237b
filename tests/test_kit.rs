#![cfg(feature = "server")]
//! The test kit, second edition: the request log's timing (a request is in the log from
//! its head on, complete before its reply goes out), `wait_for_requests`, faults on
//! streamed and file replies and over TLS, body-counted cuts, Stall ending at shutdown,
//! the blocking server, and JSON in and out.

mod support;
use support::within;

use courier::server::{serve_file, BodyError, Fault, Reply, Request, Server};
use courier::ErrorKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use support::raw_http::*;

fn status_of(recorded: &courier::server::RecordedRequest) -> Option<u16> {
    recorded.status.map(|status| status.as_u16())
}

// ---------------------------------------------------------------------------------------
// The request log's timing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_is_in_the_log_while_its_handler_runs_and_complete_before_its_reply() {
    within(async {
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (entered2, release2) = (entered.clone(), release.clone());
        let server = Server::builder()
            .route("/wait", move |req: Request| {
                let (entered, release) = (entered2.clone(), release2.clone());
                async move {
                    let body = req.body().await?;
                    entered.notify_one();
                    release.notified().await;
                    Ok::<_, BodyError>(Reply::text(format!("{} bytes", body.len())).with_status(201))
                }
            })
            .start()
            .await
            .unwrap();
        let url = server.url("/wait");
        let call = tokio::spawn(async move { courier::request("POST", url).body("hello").send().await });
        entered.notified().await;
        // The handler runs: the request is there, not answered yet.
        let recorded = server.requests();
        assert_eq!(
            (recorded.len(), recorded[0].target.as_str(), status_of(&recorded[0])),
            (1, "/wait", None)
        );
        release.notify_one();
        let res = call.await.unwrap();
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (201, "5 bytes"));
        // Once the client has the reply, the log has the body and the status: never later.
        let recorded = server.requests();
        assert_eq!((&recorded[0].body[..], status_of(&recorded[0])), (&b"hello"[..], Some(201)));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_streamed_reply_is_logged_with_its_status_before_its_body_ends() {
    within(async {
        let (first_sent, finish) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (first_sent2, finish2) = (first_sent.clone(), finish.clone());
        let server = Server::builder()
            .route("/stream", move |_req| {
                let (first_sent, finish) = (first_sent2.clone(), finish2.clone());
                async move {
                    let (reply, mut sender) = Reply::stream(200);
                    tokio::spawn(async move {
                        let _ = sender.send("first ").await;
                        first_sent.notify_one();
                        finish.notified().await;
                        let _ = sender.send("last").await;
                    });
                    reply
                }
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        client.send(get("/stream")).await;
        let head = client.read_head().await;
        assert_eq!(head.status, 200);
        first_sent.notified().await;
        // Mid-stream: the log already says what is being sent.
        assert_eq!(server.requests().iter().map(status_of).collect::<Vec<_>>(), [Some(200)]);
        finish.notify_one();
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_request_without_a_body_has_all_of_it_and_an_unread_upload_is_logged_up_to_the_drain_limit() {
    within(async {
        let server =
            Server::builder().route("", |_req| async { Reply::text("ignored") }).start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        client.request(get("/none")).await;
        let small = "s".repeat(10_000);
        client.request(post("/small", &small)).await;
        // More than the server drains for a handler that ignored it: logged as far as it
        // arrived, and marked incomplete.
        let big = "b".repeat(1024 * 1024);
        let res = client.request(post("/big", &big)).await;
        assert!(res.closes(), "an upload past the drain limit ends the connection");
        let recorded = server.requests();
        let view: Vec<(&str, bool, bool)> =
            recorded.iter().map(|r| (r.target.as_str(), r.body_complete, r.body_truncated())).collect();
        assert_eq!(view, [("/none", true, false), ("/small", true, false), ("/big", false, false)]);
        assert_eq!(
            (recorded[0].body_size, recorded[1].body_size, &recorded[1].body[..]),
            (0, 10_000, small.as_bytes())
        );
        let drained = recorded[2].body_size;
        assert!(
            drained > courier::server::DEFAULT_MAX_DRAIN && drained < big.len() as u64,
            "drained {drained} bytes"
        );
        assert_eq!(recorded[2].body.len() as u64, drained);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn wait_for_requests_returns_once_they_are_answered_and_says_what_came_on_timeout() {
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("ok") }).start().await.unwrap();
        // Fire and forget: nobody awaits these requests.
        for path in ["/a", "/b"] {
            courier::get(server.url(path)).spawn(|_res| {}).detach();
        }
        let seen = server.wait_for_requests(2, Duration::from_secs(10)).await.unwrap();
        let mut targets: Vec<&str> = seen.iter().map(|r| r.target.as_str()).collect();
        targets.sort_unstable();
        assert_eq!(targets, ["/a", "/b"]);
        assert!(seen.iter().all(|r| status_of(r) == Some(200)));
        // A third never comes.
        let missing = server.wait_for_requests(3, Duration::from_millis(50)).await.unwrap_err();
        assert_eq!((missing.expected, missing.received.len()), (3, 2));
        assert!(missing.to_string().starts_with("expected 3 requests, 2 arrived: GET /"), "{missing}");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Faults on streamed and file replies
// ---------------------------------------------------------------------------------------

/// A streamed reply of `pieces` pieces of 1,000 bytes each (`a`, `b`, ...), with `fault`.
fn streamed(pieces: u8, fault: Fault) -> Reply {
    let (reply, mut sender) = Reply::stream(200);
    tokio::spawn(async move {
        for piece in 0..pieces {
            if sender.send(vec![b'a' + piece; 1000]).await.is_err() {
                break;
            }
        }
    });
    reply.with_fault(fault)
}

#[tokio::test]
async fn faults_cut_streamed_replies_by_body_bytes_inside_a_chunk() {
    within(async {
        let server = Server::builder()
            .route("/close", |_req| async { streamed(3, Fault::CloseAfterBody(1500)) })
            .route("/reset", |_req| async { streamed(3, Fault::ResetAfterBody(1500)) })
            .route("/whole", |_req| async { streamed(2, Fault::CloseAfterBody(5000)) })
            .start()
            .await
            .unwrap();
        // Head, the first chunk, then the second chunk's size line and 500 of its bytes.
        let mut expected_body = b"3e8\r\n".to_vec();
        expected_body.extend_from_slice(&[b'a'; 1000]);
        expected_body.extend_from_slice(b"\r\n3e8\r\n");
        expected_body.extend_from_slice(&[b'b'; 500]);
        for (path, reset) in [("/close", false), ("/reset", true)] {
            let mut client = RawClient::connect(&server).await;
            client.send(get(path)).await;
            let head = client.read_head().await;
            assert_eq!((head.status, head.header("transfer-encoding")), (200, Some("chunked")));
            assert!(head.closes(), "a cut reply says it closes");
            let got = client.until_closed().await;
            let reset_seen =
                got.as_ref().is_err_and(|(error, _)| error.kind() == std::io::ErrorKind::ConnectionReset);
            assert_eq!(
                (got.is_err(), reset_seen),
                (reset, reset),
                "{path}: a reset for ResetAfterBody, a FIN for CloseAfterBody"
            );
            let body = got.unwrap_or_else(|(_, got)| got);
            if !reset {
                assert_eq!(lossy(&body), lossy(&expected_body), "{path}");
            } else {
                // A reset may cost the last bytes in flight, never add any.
                assert!(expected_body.starts_with(&body), "{path}: {}", lossy(&body));
            }
        }
        // A budget larger than the body: the whole reply, then a close.
        let mut client = RawClient::connect(&server).await;
        let res = client.request(get("/whole")).await;
        assert_eq!(res.body.len(), 2000);
        client.assert_closed().await;
        // What the client makes of a cut: 597 after the head.
        let res = courier::get(server.url("/close")).send().await;
        assert_eq!((res.status().as_u16(), res.orig_status().map(|s| s.as_u16())), (597, Some(200)));
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseBody));
        let logged: Vec<Option<u16>> = server.requests().iter().map(status_of).collect();
        assert_eq!(logged, [None, None, None, None], "cut replies are logged with no status");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn faults_work_on_file_replies() {
    within(async {
        let dir = std::env::temp_dir().join(format!("courier-test-kit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("data.bin");
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&file, &content).unwrap();
        let (cut_file, trickle_file, length_file) = (file.clone(), file.clone(), file.clone());
        let server = Server::builder()
            .route("/cut", move |req: Request| {
                let file = cut_file.clone();
                async move { serve_file(&req, &file).await.with_fault(Fault::CloseAfterBody(12_345)) }
            })
            .route("/slow", move |req: Request| {
                let file = trickle_file.clone();
                async move {
                    serve_file(&req, &file)
                        .await
                        .with_fault(Fault::Trickle { bytes: 20_000, every: Duration::ZERO })
                }
            })
            .route("/length", move |req: Request| {
                let file = length_file.clone();
                async move { serve_file(&req, &file).await.with_fault(Fault::WrongContentLength(200_000)) }
            })
            .start()
            .await
            .unwrap();
        // Cut after 12,345 body bytes: exactly those bytes of the file.
        let mut client = RawClient::connect(&server).await;
        client.send(get("/cut")).await;
        let head = client.read_head().await;
        assert_eq!(head.header("content-length"), Some("100000"));
        assert_eq!(client.until_closed().await.unwrap(), &content[..12_345]);
        // Trickled: all of it, and the connection stays.
        let res = client_request(&server, "/slow").await;
        assert_eq!(res.body, content);
        // A wrong length announced for a file: the head says 200000, 100000 bytes follow.
        let mut client = RawClient::connect(&server).await;
        client.send(get("/length")).await;
        let head = client.read_head().await;
        assert_eq!((head.header("content-length"), head.header("transfer-encoding")), (Some("200000"), None));
        assert_eq!(client.until_closed().await.unwrap(), content);
        server.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await
}

async fn client_request(server: &Server, path: &str) -> RawResponse {
    let mut client = RawClient::connect(server).await;
    let res = client.request(get(path)).await;
    assert!(!res.closes() && client.nothing_pending());
    res
}

#[tokio::test]
async fn stall_ends_at_graceful_shutdown() {
    within(async {
        let server = Server::builder()
            .route("/stall", |_req| async { Reply::text("never").with_fault(Fault::Stall) })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        client.send(get("/stall")).await;
        server.wait_for_requests(1, Duration::from_secs(10)).await.unwrap();
        // The client holds on; shutdown still completes (it used to wait for the client or
        // the 300 s activity timeout), and the client sees the close without a reply.
        server.shutdown().await;
        assert!(client.until_closed().await.unwrap().is_empty());
    })
    .await
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn reset_works_over_tls() {
    within(async {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
        let config = courier::tls::server_config(vec![certified.cert.der().clone()], key).unwrap();
        let server = Server::builder()
            .tls(config)
            .route("/reset", |_req| async { Reply::text("never").with_fault(Fault::Reset) })
            .route("/reset-mid-body", |_req| async {
                Reply::text("x".repeat(10_000)).with_fault(Fault::ResetAfterBody(10))
            })
            .start()
            .await
            .unwrap();
        let client = courier::Client::builder().tls(courier::tls::Tls::Low).build().unwrap();
        for path in ["/reset", "/reset-mid-body"] {
            let res = client.get(server.url(path)).send().await;
            // A TCP reset under the TLS stream, not a TLS close or a plain FIN.
            let chain = {
                let mut chain = Vec::new();
                let mut source: Option<&dyn std::error::Error> = res.error().map(|e| e as _);
                while let Some(error) = source {
                    chain.push(error.to_string());
                    source = error.source();
                }
                chain.join(" / ")
            };
            assert!(
                chain.contains("reset") || chain.contains("Connection reset"),
                "{path}: {} {chain}",
                res.status().as_u16()
            );
        }
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The blocking server, and JSON
// ---------------------------------------------------------------------------------------

#[test]
fn a_blocking_server_serves_sync_code_and_shuts_down() {
    use std::io::{Read, Write};
    let server = Server::builder().route("/hi", |_req| async { Reply::text("hi") }).start_blocking().unwrap();
    for _ in 0..2 {
        let mut socket = std::net::TcpStream::connect(server.local_addr()).unwrap();
        socket.write_all(b"GET /hi HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
        let mut reply = String::new();
        socket.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("\r\n\r\nhi"), "{reply}");
    }
    let seen = server.wait_for_requests(2, Duration::from_secs(10)).unwrap();
    assert_eq!(seen.iter().map(|r| r.connection_id).collect::<Vec<_>>(), [1, 2]);
    let address = server.local_addr();
    server.shutdown();
    assert!(std::net::TcpStream::connect(address).is_err(), "no longer listening");
}

#[cfg(feature = "json")]
#[tokio::test]
async fn json_in_and_out() {
    within(async {
        let server = Server::builder()
            .route("/users", |req: Request| async move {
                let user: serde_json::Value = req.json().await?;
                Ok::<_, BodyError>(
                    Reply::json(&serde_json::json!({"id": 7, "name": user["name"]})).with_status(201),
                )
            })
            .start()
            .await
            .unwrap();
        let res = courier::request("POST", server.url("/users"))
            .json(&serde_json::json!({"name": "ada"}))
            .send()
            .await;
        assert_eq!(
            (res.status().as_u16(), res.header("content-type").as_deref()),
            (201, Some("application/json"))
        );
        assert_eq!(res.text(), r#"{"id":7,"name":"ada"}"#);
        // Not JSON: the handler's `?` makes it a 400 that says why.
        let res = courier::request("POST", server.url("/users")).body("{nope").send().await;
        assert_eq!(res.status().as_u16(), 400);
        assert!(res.text().contains("not the JSON expected"), "{}", res.text());
        server.shutdown().await;
    })
    .await
}
