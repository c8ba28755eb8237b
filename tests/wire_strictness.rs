#![cfg(feature = "server")]
//! Wire strictness both ways, and clean closes: chunk-extension grammar (server 400 and
//! close, client 597), bare LF in request heads, empty Host, raw bytes in targets, CONNECT,
//! later HTTP/1.x minor versions, bodiless refusals to HEAD, and the lingering close that
//! keeps a closing connection from resetting away replies already written.
//!
//! The codec's own tests (`src/h1`) feed each shape whole and one byte at a time; here the
//! same shapes go through real sockets, some of them one byte per write.

mod support;
use support::{within, Scripted};

use courier::server::{BodyError, Reply, Request, Server};
use courier::{ErrorKind, Method, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::raw_http::*;

/// How often each route ran.
#[derive(Default)]
struct Counts {
    body: AtomicUsize,
    plain: AtomicUsize,
    other: AtomicUsize,
}

impl Counts {
    fn get(&self) -> (usize, usize, usize) {
        let load = |counter: &AtomicUsize| counter.load(Ordering::SeqCst);
        (load(&self.body), load(&self.plain), load(&self.other))
    }
}

/// `/body` reads the body and answers its length, `/plain` ignores it, and every other
/// path (the root route and a catch-all regex) counts as `other`.
async fn counting_server(
    configure: impl FnOnce(courier::server::ServerBuilder) -> courier::server::ServerBuilder,
) -> (Server, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let (c1, c2, c3, c4) = (counts.clone(), counts.clone(), counts.clone(), counts.clone());
    let builder = Server::builder()
        .route("/body", move |req: Request| {
            c1.body.fetch_add(1, Ordering::SeqCst);
            async move {
                let body = req.body().await?;
                Ok::<_, BodyError>(Reply::text(format!("got {} bytes", body.len())))
            }
        })
        .route("/plain", move |_req: Request| {
            c2.plain.fetch_add(1, Ordering::SeqCst);
            async { Reply::text("plain") }
        })
        .route("", move |_req: Request| {
            c3.other.fetch_add(1, Ordering::SeqCst);
            async { Reply::text("root") }
        })
        .handler("", move |_req: Request| {
            c4.other.fetch_add(1, Ordering::SeqCst);
            async { Reply::text("regex") }
        });
    (configure(builder).start().await.expect("start the server"), counts)
}

/// Sends `bytes` (at once, or one byte per write), expects exactly one reply with `status`,
/// then a clean close with nothing after the reply.
async fn one_reply_then_close(server: &Server, bytes: &[u8], status: u16, bytewise: bool) -> RawResponse {
    let mut client = RawClient::framed(server.local_addr()).await;
    if bytewise {
        for byte in bytes {
            client.send_lossy([*byte]).await;
        }
    } else {
        client.send_lossy(bytes).await;
    }
    let res = client.response().await;
    assert_eq!(res.status, status, "{:?} -> {}", lossy(bytes), lossy(&res.raw));
    assert!(res.closes(), "a refusal closes: {}", lossy(&res.raw));
    let rest = client.until_closed().await.expect("a clean close, not a reset");
    assert!(rest.is_empty(), "nothing after the reply: {:?}", lossy(&rest));
    res
}

fn chunked_post(path: &str, chunked_body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_body}")
}

/// Size lines the grammar of RFC 9112 §7.1.1 refuses, with the text of the refusal.
const BAD_SIZE_LINES: &[(&str, &str)] = &[
    ("5 ", "invalid chunk size"),
    ("5\t", "invalid chunk size"),
    ("5;", "malformed chunk extension"),
    ("5;=x", "malformed chunk extension"),
    ("5;bad[=x", "malformed chunk extension"),
    ("5;a=\"open", "malformed chunk extension"),
    ("5;a=b ", "malformed chunk extension"),
];

// ---------------------------------------------------------------------------------------
// Chunk extensions: server 400 and close, client 597
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn chunk_size_lines_off_the_grammar_are_400_and_close_whether_or_not_the_handler_reads() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        for (line, why) in BAD_SIZE_LINES {
            for (route, bytewise) in [("/body", false), ("/plain", false), ("/body", true)] {
                // A request rides behind the broken body: it must never be served.
                let request =
                    chunked_post(route, &format!("{line}\r\nhello\r\n0\r\n\r\n")) + &get("/smuggled");
                let res = one_reply_then_close(&server, request.as_bytes(), 400, bytewise).await;
                assert!(res.text().contains(why), "{line:?} on {route}: {}", res.text());
            }
        }
        assert_eq!(counts.get(), (2 * BAD_SIZE_LINES.len(), BAD_SIZE_LINES.len(), 0), "never /smuggled");
        // Well-formed extensions still work, with keep-alive.
        let mut client = RawClient::connect(&server).await;
        for line in ["5;a", "5 ;a=b", "5;a=\"x;y\"", "5;a ;b=c"] {
            let res = client.request(chunked_post("/body", &format!("{line}\r\nhello\r\n0\r\n\r\n"))).await;
            assert_eq!(
                (res.status, res.text().as_str(), res.closes()),
                (200, "got 5 bytes", false),
                "{line:?}"
            );
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_client_reading_chunk_size_lines_off_the_grammar_gets_597() {
    within(async {
        for (line, why) in BAD_SIZE_LINES {
            let response = format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n{line}\r\nhello\r\n0\r\n\r\n"
            );
            let server = Scripted::respond(response).await;
            let res = courier::get(server.url("/")).send().await;
            assert_eq!(res.status().as_u16(), 597, "{line:?}: {}", res.reason());
            assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseBody), "{line:?}");
            assert!(res.reason().contains(why), "{line:?}: {}", res.reason());
            assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200), "{line:?}");
        }
        let server = Scripted::respond(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"q\\\"\" ;b\r\nhello\r\n0\r\n\r\n",
        )
        .await;
        let res = courier::get(server.url("/")).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "hello"));
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Request heads: bare LF, Host, the target
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_bare_lf_in_a_request_head_is_400_and_never_becomes_framing() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        // Read with bare LF as a line end, `X: v\nContent-Length: 5` would frame a body
        // that a CRLF-only reader sees as part of a field value, or the other way round.
        let shapes = [
            format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\nX: v\nContent-Length: 5\r\n\r\nhello"),
            format!("GET /plain HTTP/1.1\nHost: {HOST}\n\n"),
            format!("GET /plain HTTP/1.1\r\nHost: {HOST}\r\n\n"),
            format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\nX: v\r\n\r\nhello"),
        ];
        for shape in &shapes {
            for bytewise in [false, true] {
                let request = format!("{shape}{}", get("/smuggled"));
                let res = one_reply_then_close(&server, request.as_bytes(), 400, bytewise).await;
                assert!(res.text().contains("LF without CR"), "{}", res.text());
            }
        }
        assert_eq!(counts.get(), (0, 0, 0), "no handler ran");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_empty_host_is_400() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        for request in ["GET /plain HTTP/1.1\r\nHost:\r\n\r\n", "GET /plain HTTP/1.1\r\nHost:   \r\n\r\n"] {
            let res = one_reply_then_close(&server, request.as_bytes(), 400, false).await;
            assert!(res.text().contains("Host"), "{}", res.text());
        }
        // HTTP/1.0 may leave Host out; an empty one is still refused.
        one_reply_then_close(&server, b"GET /plain HTTP/1.0\r\nHost:\r\n\r\n", 400, false).await;
        assert_eq!(counts.get(), (0, 0, 0));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn raw_bytes_over_0x7f_and_controls_in_the_target_are_400() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let targets: [&[u8]; 6] =
            [b"/caf\xc3\xa9", b"/\x80", b"/a\xffb", b"/a\x7fb", b"/a\x01b", b"/plain?q=\xe2\x82\xac"];
        for target in targets {
            let mut request = b"GET ".to_vec();
            request.extend_from_slice(target);
            request.extend_from_slice(format!(" HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes());
            one_reply_then_close(&server, &request, 400, false).await;
        }
        assert_eq!(counts.get(), (0, 0, 0));
        // The same characters percent-encoded are fine.
        let mut client = RawClient::connect(&server).await;
        assert_eq!(client.request(get("/plain?q=%E2%82%AC")).await.status, 200);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------

fn connect(target: &str) -> String {
    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")
}

#[tokio::test]
async fn a_connect_target_that_is_not_host_and_port_is_400() {
    within(async {
        let (server, counts) = counting_server(|b| b.connect_handler(|_req| async { Reply::new(200) })).await;
        for target in [
            "example.test",
            "/path",
            "http://example.test:80/",
            "example.test:",
            "example.test:123456",
            "[::1]",
            "u@h:80",
            "h:80/x",
            ":80",
        ] {
            let request = format!("CONNECT {target} HTTP/1.1\r\nHost: example.test\r\n\r\n");
            let res = one_reply_then_close(&server, request.as_bytes(), 400, false).await;
            assert!(res.text().contains("host:port"), "{target}: {}", res.text());
        }
        assert_eq!(counts.get(), (0, 0, 0));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn connect_never_reaches_an_ordinary_route() {
    within(async {
        // A catch-all root route, a catch-all regex and a request hook: none sees CONNECT.
        let hooked = Arc::new(AtomicUsize::new(0));
        let seen = hooked.clone();
        let (server, counts) = counting_server(move |b| {
            b.request_hook(move |_req| {
                seen.fetch_add(1, Ordering::SeqCst);
                async { None::<Reply> }
            })
        })
        .await;
        // Refused with 501, and the connection stays HTTP: it carries the next request.
        let mut client = RawClient::connect(&server).await;
        for target in ["example.test:443", "127.0.0.1:80", "[::1]:8080"] {
            let res = client.request(connect(target)).await;
            assert_eq!((res.status, res.closes()), (501, false), "{}", lossy(&res.raw));
            assert!(res.text().contains("CONNECT"), "{}", res.text());
        }
        assert_eq!((counts.get(), hooked.load(Ordering::SeqCst)), ((0, 0, 0), 0));
        // Ordinary requests still reach the handlers (the regex before the root).
        assert_eq!(client.request(get("/anything")).await.text(), "regex");
        assert_eq!(hooked.load(Ordering::SeqCst), 1);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_2xx_to_connect_has_no_framing_fields_and_no_body_and_the_connection_ends() {
    within(async {
        let targets = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = targets.clone();
        let server = Server::builder()
            .connect_handler(move |req: Request| {
                seen.lock().unwrap().push(req.target().to_owned());
                async {
                    Reply::text("a body that must not be sent")
                        .with_header("content-length", "28")
                        .with_header("transfer-encoding", "chunked")
                        .with_header("x-tunnel", "no")
                }
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        // Whatever follows the CONNECT would be tunnelled bytes, never a request.
        client.send(connect("example.test:443") + &get("/next")).await;
        let res = client.head_response().await;
        assert_eq!((res.status, res.header("x-tunnel")), (200, Some("no")));
        assert!(!res.has("content-length") && !res.has("transfer-encoding"), "{}", lossy(&res.raw));
        let rest = client.until_closed().await.expect("a clean close");
        assert!(rest.is_empty(), "no body, no second reply: {:?}", lossy(&rest));
        assert_eq!(*targets.lock().unwrap(), ["example.test:443"]);
        let recorded = server.requests();
        assert_eq!((recorded.len(), &recorded[0].method), (1, &Method::CONNECT));
        // A refusal from the handler is an ordinary reply with its body.
        server.shutdown().await;
        let server = Server::builder()
            .connect_handler(|_req| async {
                Reply::error(407, "no").with_header("proxy-authenticate", "Basic")
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        let res = client.request(connect("example.test:443")).await;
        assert_eq!((res.status, res.header("proxy-authenticate")), (407, Some("Basic")));
        assert_eq!(res.text(), "407 Proxy Authentication Required: no\n");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn http_1_2_to_1_9_are_served_as_http_1_1() {
    within(async {
        let (server, _) = counting_server(|b| b).await;
        let mut client = RawClient::connect(&server).await;
        for minor in 2..=9 {
            // Keep-alive by default, as in HTTP/1.1, and chunked works.
            let request = format!(
                "POST /body HTTP/1.{minor}\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            );
            let res = client.request(request).await;
            assert_eq!((res.version.as_str(), res.status, res.text().as_str()), ("HTTP/1.1", 200, "got 3 bytes"));
            assert!(!res.closes(), "HTTP/1.{minor} persists like 1.1");
        }
        let recorded = server.requests();
        assert_eq!(recorded.len(), 8);
        assert!(recorded.iter().all(|r| r.version == Version::HTTP_11 && r.connection_id == 1));
        // Like HTTP/1.1, it needs a Host.
        one_reply_then_close(&server, b"GET /plain HTTP/1.4\r\n\r\n", 400, false).await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn http_2_and_later_are_505() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        for request in [
            format!("GET /plain HTTP/2.0\r\nHost: {HOST}\r\n\r\n"),
            format!("GET /plain HTTP/3.0\r\nHost: {HOST}\r\n\r\n"),
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_owned(),
        ] {
            let res = one_reply_then_close(&server, request.as_bytes(), 505, false).await;
            assert_eq!(res.version, "HTTP/1.1");
        }
        assert_eq!(counts.get(), (0, 0, 0));
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Refusals to HEAD
// ---------------------------------------------------------------------------------------

/// Sends a HEAD request that the connection loop refuses; the reply must be a head alone.
async fn refused_head(server: &Server, request: &[u8], status: u16) {
    let mut client = RawClient::framed(server.local_addr()).await;
    client.send_lossy(request).await;
    let res = client.read_head().await;
    assert_eq!(res.status, status, "{}", lossy(&res.raw));
    assert!(res.closes(), "{}", lossy(&res.raw));
    // The length a GET would have got may be stated, but no body byte follows.
    assert!(res.has("content-length"), "{}", lossy(&res.raw));
    let rest = client.until_closed().await.expect("a clean close");
    assert!(rest.is_empty(), "{status} to HEAD carried a body: {:?}", lossy(&rest));
}

#[tokio::test]
async fn every_refusal_to_head_has_no_body() {
    within(async {
        let (server, counts) = counting_server(|b| {
            b.allowed_methods([Method::GET, Method::HEAD])
                .max_target_length(64)
                .max_body_size(10)
                .request_timeout(Duration::from_millis(300))
        })
        .await;
        let host = format!("Host: {HOST}\r\n");
        refused_head(&server, format!("HEAD /plain HTTP/1.1\r\n{host}{host}\r\n").as_bytes(), 400).await;
        refused_head(&server, b"HEAD /plain HTTP/1.1\r\nHost:\r\n\r\n", 400).await;
        refused_head(&server, format!("HEAD /{} HTTP/1.1\r\n{host}\r\n", "a".repeat(100)).as_bytes(), 414)
            .await;
        refused_head(
            &server,
            format!("HEAD /plain HTTP/1.1\r\n{host}Content-Length: 11\r\n\r\n").as_bytes(),
            413,
        )
        .await;
        refused_head(&server, format!("HEAD /plain HTTP/1.1\r\n{host}Expect: x\r\n\r\n").as_bytes(), 417)
            .await;
        refused_head(&server, format!("HEAD /plain HTTP/2.0\r\n{host}\r\n").as_bytes(), 505).await;
        // The head did not even parse, but it says HEAD.
        refused_head(&server, format!("HEAD /plain HTTP/1.1\n{host}\r\n").as_bytes(), 400).await;
        let huge = format!("HEAD /plain HTTP/1.1\r\n{host}X-Big: {}\r\n\r\n", "b".repeat(70 * 1024));
        refused_head(&server, huge.as_bytes(), 431).await;
        // A head that never completes: 408.
        refused_head(&server, format!("HEAD /plain HTTP/1.1\r\n{host}").as_bytes(), 408).await;
        assert_eq!(counts.get(), (0, 0, 0));
        // A method that is not allowed: 501 (a separate server, where HEAD is refused).
        server.shutdown().await;
        let (server, _) = counting_server(|b| b.allowed_methods([Method::GET])).await;
        refused_head(&server, format!("HEAD /plain HTTP/1.1\r\n{host}\r\n").as_bytes(), 501).await;
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Lingering close
// ---------------------------------------------------------------------------------------

/// Parses every complete response in `bytes` (all to GET); the responses and what is left.
fn responses(mut bytes: &[u8]) -> (Vec<RawResponse>, usize) {
    let mut all = Vec::new();
    while let Some((res, used)) = parse_one(bytes, false, false) {
        all.push(res);
        bytes = &bytes[used..];
    }
    (all, bytes.len())
}

#[tokio::test]
async fn ten_thousand_pipelined_requests_get_the_limits_hundred_replies_then_a_clean_eof() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let client = RawClient::with_small_receive_buffer(server.local_addr()).await;
        let (mut reader, mut writer) = client.stream.into_split();
        // All 10,000 requests go out in one go, while nothing is read: the replies pile up
        // until the server must wait for this slow reader.
        let requests = get("/plain").repeat(10_000);
        let sending = tokio::spawn(async move {
            let sent = writer.write_all(requests.as_bytes()).await;
            (sent, writer)
        });
        let (sent, _writer) = sending.await.unwrap();
        sent.expect("the server reads (and discards) every request: no reset while sending");
        // Only now the reader starts.
        let mut got = Vec::new();
        let mut piece = [0u8; 1024];
        let outcome = loop {
            match reader.read(&mut piece).await {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&piece[..n]),
                Err(error) => break Err(error),
            }
        };
        let (replies, left) = responses(&got);
        assert_eq!((replies.len(), left), (100, 0), "every reply of the request limit, whole");
        assert!(replies.iter().all(|res| res.status == 200 && res.text() == "plain"));
        assert!(replies[..99].iter().all(|res| !res.closes()) && replies[99].closes());
        outcome.expect("a clean EOF after the last reply, not a reset");
        assert_eq!(counts.get(), (0, 100, 0));
        server.shutdown().await;
    })
    .await
}

/// A reply larger than the reader's receive buffer: when the server closes, the end of it
/// is still in the server's send queue, which a reset would throw away.
const BIG: usize = 2 * 1024 * 1024;

/// Sends `requests` while reading everything the server sends (through a small receive
/// buffer) until it closes; what arrived, or the error a reset caused.
async fn send_while_reading(server: &Server, requests: String) -> Result<Vec<u8>, (std::io::Error, Vec<u8>)> {
    let client = RawClient::with_small_receive_buffer(server.local_addr()).await;
    let (mut reader, mut writer) = client.stream.into_split();
    let sending = tokio::spawn(async move {
        // The server may refuse further bytes once it has closed: not this test's concern.
        let _ = writer.write_all(requests.as_bytes()).await;
        writer
    });
    let mut got = Vec::new();
    let mut piece = vec![0u8; 8 * 1024];
    let outcome = loop {
        match reader.read(&mut piece).await {
            Ok(0) => break Ok(()),
            Ok(n) => got.extend_from_slice(&piece[..n]),
            Err(error) => break Err(error),
        }
    };
    drop(sending.await.unwrap());
    outcome.map(|()| got.clone()).map_err(|error| (error, got))
}

/// One whole reply of `BIG` bytes that says `Connection: close`, then nothing.
fn assert_one_big_reply(got: Result<Vec<u8>, (std::io::Error, Vec<u8>)>) {
    let got = got.unwrap_or_else(|(error, got)| panic!("reset after {} bytes: {error}", got.len()));
    let (replies, left) = responses(&got);
    assert_eq!((replies.len(), left), (1, 0), "one whole reply, nothing after it");
    assert_eq!((replies[0].body.len(), replies[0].closes()), (BIG, true));
}

#[tokio::test]
async fn connection_close_with_requests_behind_it_gets_its_reply_then_a_clean_eof() {
    within(async {
        let server = Server::builder()
            .route("/big", |_req| async { Reply::bytes("application/octet-stream", vec![7u8; BIG]) });
        let server = server.start().await.unwrap();
        // Far more behind the closing request than the server reads before it closes.
        let requests = get_close("/big") + &get("/big").repeat(20_000);
        assert_one_big_reply(send_while_reading(&server, requests).await);
        assert_eq!(server.requests().len(), 1);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn graceful_shutdown_with_pipelined_requests_behind_the_one_in_flight_closes_cleanly() {
    within(async {
        let release = Arc::new(tokio::sync::Notify::new());
        let started = Arc::new(tokio::sync::Notify::new());
        let (wait, begun) = (release.clone(), started.clone());
        let server = Server::builder()
            .route("/slow", move |_req| {
                let (wait, begun) = (wait.clone(), begun.clone());
                async move {
                    begun.notify_one();
                    wait.notified().await;
                    Reply::bytes("application/octet-stream", vec![7u8; BIG])
                }
            })
            .start()
            .await
            .unwrap();
        let shutdown = server.shutdown_handle();
        let stopper = tokio::spawn(async move {
            // Once the first request is in flight, shut down, then let it finish.
            started.notified().await;
            shutdown.trigger();
            release.notify_one();
        });
        let requests = get("/slow") + &get("/slow").repeat(20_000);
        assert_one_big_reply(send_while_reading(&server, requests).await);
        stopper.await.unwrap();
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Expect lists, interim statuses from handlers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_expectation_we_do_not_know_is_417_wherever_it_is_in_the_list() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        for expect in [
            "Expect: 100-continue\r\nExpect: foo\r\n",
            "Expect: foo\r\nExpect: 100-continue\r\n",
            "Expect: 100-continue, foo\r\n",
            "Expect: 100-continue,\r\nExpect: , bar\r\n",
        ] {
            let request =
                format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\n{expect}Content-Length: 5\r\n\r\nhello");
            one_reply_then_close(&server, request.as_bytes(), 417, false).await;
        }
        assert_eq!(counts.get(), (0, 0, 0));
        // 100-continue said twice, or in any case, is still only 100-continue.
        let mut client = RawClient::connect(&server).await;
        for expect in
            ["Expect: 100-continue\r\nExpect: 100-Continue\r\n", "Expect: 100-CONTINUE , 100-continue\r\n"]
        {
            client
                .send(format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\n{expect}Content-Length: 5\r\n\r\n"))
                .await;
            assert_eq!(client.read_head().await.status, 100, "{expect:?}");
            client.send("hello").await;
            assert_eq!(client.response().await.text(), "got 5 bytes");
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_handler_answering_with_an_interim_status_gets_500() {
    within(async {
        let server = Server::builder()
            .route("/early-hints", |_req| async { Reply::new(103).with_header("link", "</a.css>") })
            .route("/switch", |_req| async { Reply::new(101) })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        for path in ["/early-hints", "/switch"] {
            let res = client.request(get(path)).await;
            assert_eq!(res.status, 500, "{path}: {}", lossy(&res.raw));
            assert!(res.text().contains("interim"), "{}", res.text());
        }
        // The connection is still in step: the next reply is the next request's.
        assert_eq!(client.request(get("/missing")).await.status, 404);
        server.shutdown().await;
    })
    .await
}
