#![cfg(feature = "server")]
//! The bundled server's core end to end: framing, routing, hooks, keep-alive, limits, faults.

mod support;
use support::*;

use courier::server::{
    BodyError, Fault, Reply, Request, Server, ServerBuilder, ServerError, StreamClosed, DEFAULT_MAX_DRAIN,
    DEFAULT_SERVER_HEADER,
};
use courier::{Bytes, Client, Method, Version};
use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, Semaphore};

use support::raw_http::*;

/// Starting a server with a raw client connected to it.
trait StartWithClient {
    async fn start_with_client(self) -> (Server, RawClient);
}

impl StartWithClient for ServerBuilder {
    async fn start_with_client(self) -> (Server, RawClient) {
        let server = self.start().await.unwrap();
        let client = RawClient::connect(&server).await;
        (server, client)
    }
}

/// Connects, sends `request`, expects a response followed by a close.
async fn rejected(server: &Server, request: impl AsRef<[u8]>) -> RawResponse {
    let mut client = RawClient::connect(server).await;
    client.send_lossy(request).await;
    let res = client.response().await;
    assert!(res.status >= 400, "expected an error reply, got {}", lossy(&res.raw));
    assert_eq!(res.header("connection"), Some("close"), "{}", lossy(&res.raw));
    client.assert_closed().await;
    res
}

// ---------------------------------------------------------------------------------------
// Small helpers: an event log, canned handlers
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    fn has(&self, event: &str) -> bool {
        self.all().iter().any(|e| e == event)
    }

    fn position(&self, event: &str) -> Option<usize> {
        self.all().iter().position(|e| e == event)
    }
}

/// A handler that logs `name` and passes the request on.
fn pass(log: &Log, name: &'static str) -> impl Fn(Request) -> Ready<Option<Reply>> + Send + Sync + 'static {
    let log = log.clone();
    move |_req| {
        log.push(name);
        ready(None)
    }
}

/// A handler that logs `name` and answers with it.
fn answer(log: &Log, name: &'static str) -> impl Fn(Request) -> Ready<Option<Reply>> + Send + Sync + 'static {
    let log = log.clone();
    move |_req| {
        log.push(name);
        ready(Some(Reply::text(name)))
    }
}

/// A handler answering with the request body (400/413/408 when it cannot be read).
async fn echo(req: Request) -> Result<Reply, BodyError> {
    Ok(Reply::bytes("application/octet-stream", req.body().await?))
}

/// A streamed reply whose chunks are sent by a task.
fn streamed(chunks: &'static [&'static str]) -> Reply {
    let (reply, mut body) = Reply::stream(200);
    tokio::spawn(async move {
        for chunk in chunks {
            if body.send(*chunk).await.is_err() {
                return;
            }
        }
    });
    reply
}

fn client() -> Client {
    Client::new()
}

/// GETs each path in turn: the reply must be 200 with the text `expected`, and the
/// handlers that ran (their `log` entries) exactly `tried`, in order.
async fn assert_dispatch(server: &Server, log: &Log, cases: &[(&str, &str, &[&str])]) {
    let client = client();
    for (path, expected, tried) in cases {
        let res = client.get(server.url(path)).send().await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(res.text(), *expected, "{path}");
        assert_eq!(log.take(), *tried, "{path}");
    }
}

fn assert_default_headers(res: &RawResponse) {
    let date = res.header("date").unwrap_or_else(|| panic!("no Date in {}", lossy(&res.raw)));
    assert_eq!(res.header_all("date").len(), 1);
    let sent = courier::parse_date(date).unwrap_or_else(|| panic!("Date {date:?} does not parse"));
    let now = SystemTime::now();
    let skew = now.duration_since(sent).unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(60), "Date {date:?} is not now");
    assert_eq!(courier::format_date(sent), date, "Date is an IMF-fixdate");
    assert_eq!(res.header_all("server"), [DEFAULT_SERVER_HEADER]);
    assert_eq!(res.header_all("cache-control"), ["max-age=0"]);
    assert_eq!(res.header_all("expires"), [date], "Expires equals Date");
}

// ---------------------------------------------------------------------------------------
// Builder and handle
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn port_zero_gives_a_real_port_and_the_handle_knows_its_url_and_host() {
    within(async {
        let server = Server::builder()
            .port(0)
            .route("", |req| async move { Reply::text(req.target().to_owned()) })
            .start()
            .await
            .unwrap();
        let port = server.port();
        assert_ne!(port, 0);
        assert_eq!(server.host(), "127.0.0.1");
        assert_eq!(server.local_addr(), SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(server.url("/a/b?c=d"), format!("http://127.0.0.1:{port}/a/b?c=d"));
        assert_eq!(server.url(""), format!("http://127.0.0.1:{port}"));
        let res = client().get(server.url("/a/b?c=d")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.text(), "/a/b?c=d");
        let other = Server::builder().start().await.unwrap();
        assert_ne!(other.port(), port);
        other.shutdown().await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn every_reply_has_date_server_cache_control_and_expires() {
    within(async {
        assert_eq!(DEFAULT_SERVER_HEADER, format!("courier/{}", env!("CARGO_PKG_VERSION")));
        let (server, mut client) = Server::builder()
            .route("/text", |_req| async { Reply::text("hello") })
            .route("/stream", |_req| async { streamed(&["a", "b"]) })
            .route("/created", |_req| async { Reply::new(204) })
            .start_with_client()
            .await;
        for request in [get("/text"), get("/missing"), get("/stream"), get("/created")] {
            let res = client.request(&request).await;
            assert_default_headers(&res);
        }
        client.send(head("/text")).await;
        let res = client.head_response().await;
        assert_eq!(res.status, 200);
        assert_default_headers(&res);
        // Error replies the server makes itself, too.
        let res = rejected(&server, "GET / HTTP/1.1\r\n\r\n").await;
        assert_eq!(res.status, 400);
        assert_default_headers(&res);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_reply_can_remove_server_cache_control_and_expires_but_not_date() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/bare", |_req| async {
                Reply::text("bare")
                    .without_header("server")
                    .without_header("Cache-Control")
                    .without_header("expires")
                    .without_header("date")
            })
            .route("/own", |_req| async {
                Reply::text("own").with_header("cache-control", "no-store").with_header("server", "mine/1")
            })
            .start_with_client()
            .await;
        let res = client.request(get("/bare")).await;
        assert_eq!(res.text(), "bare");
        assert!(!res.has("server"), "{}", lossy(&res.raw));
        assert!(!res.has("cache-control"), "{}", lossy(&res.raw));
        assert!(!res.has("expires"), "{}", lossy(&res.raw));
        let date = res.header("date").expect("Date stays");
        assert!(courier::parse_date(date).is_some());
        // A reply's own values replace the defaults (once each); Expires stays the default.
        let res = client.request(get("/own")).await;
        assert_eq!(res.header_all("cache-control"), ["no-store"]);
        assert_eq!(res.header_all("server"), ["mine/1"]);
        assert_eq!(res.header("expires"), res.header("date"));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn global_headers_are_added_unless_the_reply_sets_them() {
    within(async {
        let (server, mut client) = Server::builder()
            .header("x-powered-by", "courier-tests")
            .header("x-frame-options", "DENY")
            .header("server", "x")
            .route("/plain", |_req| async { Reply::text("plain") })
            .route("/own", |_req| async { Reply::text("own").with_header("X-Frame-Options", "SAMEORIGIN") })
            .route("/without", |_req| async { Reply::text("without").without_header("x-powered-by") })
            .start_with_client()
            .await;
        let res = client.request(get("/plain")).await;
        assert_eq!(res.header_all("x-powered-by"), ["courier-tests"]);
        assert_eq!(res.header_all("x-frame-options"), ["DENY"]);
        assert_eq!(res.header_all("server"), ["x"]);
        let res = client.request(get("/own")).await;
        assert_eq!(res.header_all("x-frame-options"), ["SAMEORIGIN"]);
        assert_eq!(res.header_all("x-powered-by"), ["courier-tests"]);
        let res = client.request(get("/without")).await;
        assert!(!res.has("x-powered-by"), "{}", lossy(&res.raw));
        assert_eq!(res.header_all("x-frame-options"), ["DENY"]);
        // The server's own error replies carry them as well.
        let res = client.request(get("/missing")).await;
        assert_eq!(res.status, 404);
        assert_eq!(res.header_all("server"), ["x"]);
        assert_eq!(res.header_all("x-powered-by"), ["courier-tests"]);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_full_reply_is_framed_with_content_length_byte_for_byte() {
    within(async {
        let server =
            Server::builder().route("/hello", |_req| async { Reply::text("hello") }).start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        let res = client.request(get("/hello")).await;
        let date = res.header("date").expect("Date").to_owned();
        let expected = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 5\r\n\
             date: {date}\r\nserver: {DEFAULT_SERVER_HEADER}\r\ncache-control: max-age=0\r\n\
             expires: {date}\r\n\r\nhello"
        );
        assert_eq!(lossy(&res.raw), expected);
        // Keep-alive: nothing more follows, and the connection serves the next request.
        assert!(client.nothing_pending());
        assert_eq!(client.request(get("/hello")).await.text(), "hello");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_streamed_reply_is_chunked_on_http11() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/stream", |_req| async { streamed(&["hello", " world", "", "0123456789abcdef!"]) })
            .start_with_client()
            .await;
        let res = client.request(get("/stream")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("transfer-encoding"), Some("chunked"));
        assert!(!res.has("content-length"), "{}", lossy(&res.raw));
        assert!(!res.has("connection"), "{}", lossy(&res.raw));
        assert_eq!(
            lossy(&res.wire_body),
            "5\r\nhello\r\n6\r\n world\r\n11\r\n0123456789abcdef!\r\n0\r\n\r\n"
        );
        // The connection is kept and serves the next request.
        assert!(client.nothing_pending());
        assert_eq!(client.request(get("/stream")).await.text(), "hello world0123456789abcdef!");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_streamed_reply_to_http10_is_close_delimited() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/stream", |_req| async { streamed(&["hello", " world"]) })
            .start_with_client()
            .await;
        // Even when the client asks to keep the connection: the body ends with it.
        client.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
        let raw = client.rest().await;
        let (res, used) = parse_one(&raw, false, true).expect("a response");
        assert_eq!(used, raw.len());
        assert_eq!(res.version, "HTTP/1.1", "RFC 9110 §2.5");
        assert_eq!(res.status, 200);
        assert_eq!(res.header("connection"), Some("close"));
        assert!(!res.has("transfer-encoding"), "{}", lossy(&res.raw));
        assert!(!res.has("content-length"), "{}", lossy(&res.raw));
        assert_eq!(res.text(), "hello world");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_streamed_reply_with_its_own_content_length_is_sent_unchunked() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/sized", |_req| async {
                let reply = streamed(&["hello", " world"]);
                reply.with_header("content-length", "11")
            })
            .route("/short", |_req| async {
                let reply = streamed(&["hello", " world"]);
                reply.with_header("content-length", "20")
            })
            .start_with_client()
            .await;
        let res = client.request(get("/sized")).await;
        assert_eq!(res.header_all("content-length"), ["11"]);
        assert!(!res.has("transfer-encoding"), "{}", lossy(&res.raw));
        assert_eq!(res.wire_body, b"hello world");
        assert!(client.nothing_pending());
        assert_eq!(client.request(get("/sized")).await.text(), "hello world", "the connection is reused");
        // A stream shorter than its Content-Length: the body bytes, then the connection closes.
        client.send(get("/short")).await;
        let res = client.read_head().await;
        assert_eq!(res.header("content-length"), Some("20"));
        assert_eq!(client.rest().await, b"hello world");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_complete_body_states_its_own_length_once_whatever_the_handler_set() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/", |_req| async {
                Reply::text("abc").with_header("content-length", "999").with_header("x-after", "1")
            })
            .start_with_client()
            .await;
        // Twice on one connection: a wrong or doubled length would break the second reply.
        for round in 0..2 {
            let res = client.request(get("/")).await;
            assert_eq!(res.header_all("content-length"), ["3"], "round {round}: {}", lossy(&res.raw));
            assert_eq!(res.header("x-after"), Some("1"));
            assert_eq!(res.wire_body, b"abc");
        }
        assert!(client.nothing_pending());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn server_wide_headers_never_add_framing_fields() {
    within(async {
        let (server, mut client) = Server::builder()
            .header("content-length", "0")
            .header("transfer-encoding", "chunked")
            .header("connection", "close")
            .header("x-everywhere", "1")
            .route("/full", |_req| async { Reply::text("hello") })
            .route("/streamed", |_req| async { streamed(&["a", "b"]) })
            .start_with_client()
            .await;
        for round in 0..2 {
            let res = client.request(get("/full")).await;
            assert_eq!(res.header_all("content-length"), ["5"], "round {round}: {}", lossy(&res.raw));
            assert!(!res.has("transfer-encoding") && !res.has("connection"), "{}", lossy(&res.raw));
            assert_eq!((res.header("x-everywhere"), res.text().as_str()), (Some("1"), "hello"));
            let res = client.request(get("/streamed")).await;
            assert_eq!(res.header_all("transfer-encoding"), ["chunked"], "{}", lossy(&res.raw));
            assert!(!res.has("content-length") && !res.has("connection"), "{}", lossy(&res.raw));
            assert_eq!(res.text(), "ab");
        }
        assert!(client.nothing_pending());
        server.shutdown().await;
    })
    .await
}

/// A handler that streams the first piece with `chunk()`, then takes `body()`.
async fn first_piece_then_body(req: Request) -> Reply {
    let first = req.chunk().await.unwrap().unwrap_or_default();
    let rest = req.body().await.unwrap();
    Reply::text(format!("{}|{}", lossy(&first), lossy(&rest)))
}

#[tokio::test]
async fn streamed_pieces_are_held_nowhere_and_the_log_keeps_its_own_bounded_copy() {
    within(async {
        let upload = format!("POST /up HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        // Recording off: the piece read with chunk() is held nowhere, body() is the rest.
        let (server, mut client) =
            Server::builder().record_limit(0).route("/up", first_piece_then_body).start_with_client().await;
        assert_eq!(client.request(upload.as_str()).await.text(), "hello| world");
        assert!(server.requests().is_empty());
        server.shutdown().await;
        // Recording on (the default): the same for the handler; the log has every byte.
        let (server, mut client) = Server::builder().route("/up", first_piece_then_body).start_with_client().await;
        assert_eq!(client.request(upload.as_str()).await.text(), "hello| world");
        let recorded = &server.requests()[0];
        assert_eq!((&recorded.body[..], recorded.body_size), (&b"hello world"[..], 11));
        assert!(recorded.body_complete && !recorded.body_truncated());
        server.shutdown().await;
        // With a byte budget below the body: the log keeps the first bytes and says so.
        let (server, mut client) =
            Server::builder().record_body_limit(7).route("/up", first_piece_then_body).start_with_client().await;
        assert_eq!(client.request(upload.as_str()).await.text(), "hello| world");
        let recorded = &server.requests()[0];
        assert_eq!((&recorded.body[..], recorded.body_size), (&b"hello w"[..], 11));
        assert!(recorded.body_complete && recorded.body_truncated());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn the_request_log_drops_the_oldest_bodies_first_and_keeps_every_head() {
    within(async {
        let (server, mut client) = Server::builder()
            .record_body_limit(10)
            .route("/up", |req: Request| async move {
                Ok::<_, BodyError>(Reply::text(req.body().await?.len().to_string()))
            })
            .start_with_client()
            .await;
        let kept = |server: &Server| -> Vec<(String, u64, bool)> {
            server.requests().iter().map(|r| (lossy(&r.body), r.body_size, r.body_truncated())).collect()
        };
        let row = |body: &str, size: u64, truncated: bool| (body.to_owned(), size, truncated);
        for body in ["aaaa", "bbbb", "cccc"] {
            assert_eq!(client.request(post("/up", body)).await.text(), "4");
        }
        // 12 bytes over a budget of 10: the oldest body goes.
        assert_eq!(kept(&server), [row("", 4, true), row("bbbb", 4, false), row("cccc", 4, false)]);
        // A body alone larger than the budget keeps its first 10 bytes (the handler got all
        // 12), and every older body goes to make room.
        assert_eq!(client.request(post("/up", "0123456789ab")).await.text(), "12");
        assert_eq!(
            kept(&server),
            [row("", 4, true), row("", 4, true), row("", 4, true), row("0123456789", 12, true)]
        );
        assert_eq!(client.request(post("/up", "e")).await.text(), "1");
        let last = kept(&server);
        assert_eq!(last.len(), 5, "every head is kept");
        assert_eq!(last[3..], [row("", 12, true), row("e", 1, false)]);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn head_gets_the_get_headers_and_no_body() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/page", |_req| async { Reply::html("<p>page</p>").with_header("x-page", "1") })
            .start_with_client()
            .await;
        // Pipelined: a body after the HEAD reply would break the GET reply's parsing.
        client.send(format!("{}{}", head("/page"), get("/page"))).await;
        let head_res = client.head_response().await;
        let get_res = client.response().await;
        assert!(client.nothing_pending());
        assert_eq!(head_res.status, 200);
        assert_eq!(get_res.text(), "<p>page</p>");
        let without_dates = |res: &RawResponse| {
            res.headers.iter().filter(|(n, _)| n != "date" && n != "expires").cloned().collect::<Vec<_>>()
        };
        assert_eq!(without_dates(&head_res), without_dates(&get_res));
        assert_eq!(head_res.header("content-length"), Some("11"));
        let recorded = server.requests();
        assert_eq!(recorded[0].method, Method::HEAD);
        assert_eq!(recorded[0].status.map(|s| s.as_u16()), Some(200));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn no_body_and_no_content_length_for_204_and_no_body_for_304() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/204", |_req| async { Reply::text("ignored").with_status(204) })
            .route("/empty204", |_req| async { Reply::new(204) })
            .route("/304", |_req| async { Reply::text("ignored").with_status(304) })
            .route("/ok", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        client.send(format!("{}{}{}{}", get("/204"), get("/empty204"), get("/304"), get("/ok"))).await;
        for _ in 0..2 {
            let res = client.response().await;
            assert_eq!(res.status, 204);
            assert!(!res.has("content-length"), "{}", lossy(&res.raw));
            assert!(!res.has("transfer-encoding"), "{}", lossy(&res.raw));
        }
        let res = client.response().await;
        assert_eq!(res.status, 304);
        assert!(!res.has("transfer-encoding"), "{}", lossy(&res.raw));
        // No stray body bytes before the next reply.
        let res = client.response().await;
        assert_eq!((res.status, res.text().as_str()), (200, "ok"));
        assert!(client.nothing_pending());
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_path_walk_offers_a_request_to_each_segment_then_the_root() {
    within(async {
        let log = Log::default();
        let on_test = log.clone();
        let server = Server::builder()
            .route("/test/bla.jpg", pass(&log, "/test/bla.jpg"))
            .route("/test", move |req: Request| {
                on_test.push("/test");
                ready((req.query() == Some("answer")).then(|| Reply::text("test answered")))
            })
            .route("", pass(&log, ""))
            .start()
            .await
            .unwrap();
        let client = client();
        let res = client.get(server.url("/test/bla.jpg")).send().await;
        assert_eq!(res.status().as_u16(), 404);
        assert_eq!(log.take(), ["/test/bla.jpg", "/test", ""]);
        let res = client.get(server.url("/test/bla.jpg?answer")).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "test answered"));
        assert_eq!(log.take(), ["/test/bla.jpg", "/test"], "the walk stops at the first answer");
        client.get(server.url("/test/deeper/x.png")).send().await;
        assert_eq!(log.take(), ["/test", ""]);
        client.get(server.url("/testing")).send().await;
        assert_eq!(log.take(), [""], "segments, not string prefixes");
        client.get(server.url("/test/")).send().await;
        assert_eq!(log.take(), ["/test", ""], "a trailing slash names the same segment");
        client.get(server.url("/")).send().await;
        assert_eq!(log.take(), [""]);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn the_request_hook_runs_first_and_can_answer_or_pass() {
    within(async {
        let log = Log::default();
        let (on_hook, on_pre) = (log.clone(), log.clone());
        let server = Server::builder()
            .pre_request(move |_req| on_pre.push("pre"))
            .request_hook(move |req: Request| {
                on_hook.push("hook");
                ready(req.path().starts_with("/hooked").then(|| Reply::text("from hook")))
            })
            .route("/hooked", answer(&log, "/hooked"))
            .route("/open", answer(&log, "/open"))
            .handler("", answer(&log, "catch-all"))
            .route("", answer(&log, "root"))
            .start()
            .await
            .unwrap();
        assert_dispatch(
            &server,
            &log,
            &[
                // An answer from the hook stops everything else.
                ("/hooked/x", "from hook", &["pre", "hook"]),
                ("/open", "/open", &["pre", "hook", "/open"]),
                ("/elsewhere", "catch-all", &["pre", "hook", "catch-all"]),
            ],
        )
        .await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn regex_handlers_are_tried_in_order_unanchored_unless_anchored() {
    within(async {
        let log = Log::default();
        let server = Server::builder()
            .handler("foo", answer(&log, "foo"))
            .handler("onk", answer(&log, "onk"))
            .handler("honk", answer(&log, "honk"))
            .handler("^/anchored$", answer(&log, "anchored"))
            .handler("^/pass", pass(&log, "passes"))
            .handler("pass", answer(&log, "pass-next"))
            .handler("", answer(&log, "catch-all"))
            .start()
            .await
            .unwrap();
        assert_eq!(
            server.handler_patterns(),
            ["foo", "onk", "honk", "^/anchored$", "^/pass", "pass", ""].map(String::from)
        );
        assert_dispatch(
            &server,
            &log,
            &[
                ("/honk", "onk", &["onk"]),
                ("/something/foo/else", "foo", &["foo"]),
                ("/anchored", "anchored", &["anchored"]),
                ("/anchored/more", "catch-all", &["catch-all"]),
                ("/pass", "pass-next", &["passes", "pass-next"]),
                ("/zzz", "catch-all", &["catch-all"]),
                ("/q?foo=1", "catch-all", &["catch-all"]),
            ],
        )
        .await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn regex_handlers_answer_before_the_root_path_handler() {
    within(async {
        let log = Log::default();
        let server = Server::builder()
            .route("", answer(&log, "root"))
            .route("/p", answer(&log, "path /p"))
            .route("/r", pass(&log, "path /r passes"))
            .handler("^/r", answer(&log, "regex ^/r"))
            .handler("^/p", answer(&log, "regex ^/p"))
            .start()
            .await
            .unwrap();
        assert_dispatch(
            &server,
            &log,
            &[
                ("/r/x", "regex ^/r", &["path /r passes", "regex ^/r"]),
                ("/p/x", "path /p", &["path /p"]),
                ("/other", "root", &["root"]),
            ],
        )
        .await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn handlers_added_replaced_and_removed_at_runtime_affect_the_next_request() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        assert_eq!(client.request(get("/a")).await.status, 404);

        server.add_handler("^/a", |_req| async { Reply::text("A1") }).unwrap();
        assert_eq!(client.request(get("/a")).await.text(), "A1", "same connection, next request");
        server.add_handler("", |_req| async { Reply::text("catch-all") }).unwrap();
        server.add_handler("^/a", |_req| async { Reply::text("A2") }).unwrap();
        assert_eq!(server.handler_patterns(), ["^/a", ""], "replaced in place");
        assert_eq!(client.request(get("/a")).await.text(), "A2");
        assert_eq!(client.request(get("/b")).await.text(), "catch-all");

        assert!(server.remove_handler("^/a"));
        assert!(!server.remove_handler("^/a"));
        assert_eq!(server.handler_patterns(), [""]);
        assert_eq!(client.request(get("/a")).await.text(), "catch-all");
        assert!(server.remove_handler(""));
        assert_eq!(client.request(get("/a")).await.status, 404);

        server.add_route("/r", |_req| async { Reply::text("route r") });
        assert_eq!(client.request(get("/r/deeper")).await.text(), "route r");
        server.add_route("/r", |_req| async { Reply::text("route r again") });
        assert_eq!(client.request(get("/r")).await.text(), "route r again");
        assert!(server.remove_route("/r"));
        assert!(!server.remove_route("/r"));
        assert_eq!(client.request(get("/r")).await.status, 404);

        let invalid = server.add_handler("(", |_req| async { Reply::text("never") }).unwrap_err();
        assert_eq!(invalid.pattern, "(");
        assert!(server.handler_patterns().is_empty());
        let recorded = server.requests();
        assert!(recorded.iter().all(|r| r.connection_id == recorded[0].connection_id));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_invalid_regex_makes_start_fail_with_invalid_input() {
    within(async {
        let error = Server::builder()
            .handler("^/ok", |_req| async { Reply::text("ok") })
            .handler("([unclosed", |_req| async { Reply::text("never") })
            .start()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("([unclosed"), "{error}");
    })
    .await
}

#[tokio::test]
async fn nobody_answering_gives_404() {
    within(async {
        let log = Log::default();
        let (server, mut client) = Server::builder()
            .route("", pass(&log, "root"))
            .handler("", pass(&log, "catch-all"))
            .start_with_client()
            .await;
        let res = client.request(get("/nothing/here")).await;
        assert_eq!((res.status, res.reason.as_str()), (404, "Not Found"));
        assert_eq!(res.text(), "404 Not Found: no handler for this path\n");
        assert_eq!(res.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(log.take(), ["catch-all", "root"]);
        let bare = Server::builder().start().await.unwrap();
        let res = client_get_status(&bare, "/").await;
        assert_eq!(res, 404);
        bare.shutdown().await;
        server.shutdown().await;
    })
    .await
}

async fn client_get_status(server: &Server, path: &str) -> u16 {
    client().get(server.url(path)).send().await.status().as_u16()
}

// ---------------------------------------------------------------------------------------
// Handler failures
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_panicking_handler_gets_500_and_the_connection_survives() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/panic", |req: Request| async move {
                if req.path() == "/panic" {
                    panic!("boom (a deliberate panic in a test handler)");
                }
                Reply::text("unreachable")
            })
            .route("/ok", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        let res = client.request(get("/panic")).await;
        assert_eq!(res.status, 500);
        assert_eq!(res.text(), "500 Internal Server Error: the handler failed\n");
        assert!(!res.has("connection"), "the connection is kept: {}", lossy(&res.raw));
        let res = client.request(get("/ok")).await;
        assert_eq!((res.status, res.text().as_str()), (200, "ok"));
        let recorded = server.requests();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].status.map(|s| s.as_u16()), Some(500));
        assert_eq!(recorded[0].connection_id, recorded[1].connection_id);
        assert_eq!(recorded[1].index_on_connection, 1);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn on_error_sees_the_500_of_a_panicking_handler() {
    // ServerError::Http documents 500 among the error replies on_error may change.
    within(async {
        let log = Log::default();
        let on_error = log.clone();
        let (server, mut client) = Server::builder()
            .route("/panic", |req: Request| async move {
                if req.path() == "/panic" {
                    panic!("boom (a deliberate panic in a test handler)");
                }
                Reply::text("unreachable")
            })
            .on_error(move |error| {
                if let ServerError::Http { reply, .. } = error {
                    on_error.push(format!("http {}", reply.status().as_u16()));
                    *reply = Reply::text("changed").with_status(500);
                }
            })
            .start_with_client()
            .await;
        let res = client.request(get("/panic")).await;
        assert_eq!(res.status, 500);
        assert_eq!(log.all(), ["http 500"]);
        assert_eq!(res.text(), "changed");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn connection_hooks_fire_in_order_across_a_keep_alive_connection() {
    within(async {
        let log = Log::default();
        let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
        let (server, mut client) = Server::builder()
            .on_connect(move |info| l1.push(format!("connect {} {} {}", info.id, info.peer, info.local)))
            .on_disconnect(move |info| {
                l2.push(format!("disconnect {} {} {}", info.id, info.peer, info.local))
            })
            .pre_request(move |req| {
                l3.push(format!("pre {} {} {}", req.method(), req.target(), req.peer_addr()))
            })
            .post_request(move |req, sent| {
                l4.push(format!("post {} {} {}", req.target(), sent.status.as_u16(), sent.body_bytes))
            })
            .route("/1", |_req| async { Reply::text("one") })
            .route("/2", |_req| async { Reply::text("two!").with_status(201) })
            .start_with_client()
            .await;
        let peer = client.local_addr();
        let local = server.local_addr();
        assert_eq!(client.request(get("/1")).await.status, 200);
        assert_eq!(client.request(get("/2")).await.status, 201);
        assert_eq!(client.request(get_close("/3")).await.status, 404);
        client.assert_closed().await;
        assert!(eventually(|| log.all().len() == 8).await, "{:?}", log.all());
        let not_found = "404 Not Found: no handler for this path\n".len();
        assert_eq!(
            log.all(),
            [
                format!("connect 1 {peer} {local}"),
                format!("pre GET /1 {peer}"),
                "post /1 200 3".into(),
                format!("pre GET /2 {peer}"),
                "post /2 201 4".into(),
                format!("pre GET /3 {peer}"),
                format!("post /3 404 {not_found}"),
                format!("disconnect 1 {peer} {local}"),
            ]
        );
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn on_chunk_flushed_is_called_once_per_streamed_chunk_with_its_size() {
    within(async {
        let log = Log::default();
        let on_chunk = log.clone();
        let (server, mut client) = Server::builder()
            .on_chunk_flushed(move |req, size| on_chunk.push(format!("{} {size}", req.path())))
            .route("/stream", |_req| async { streamed(&["abc", "", "defgh", "ijklmno"]) })
            .route("/full", |_req| async { Reply::text("not streamed") })
            .start_with_client()
            .await;
        let res = client.request(get("/stream")).await;
        assert_eq!(res.text(), "abcdefghijklmno");
        assert_eq!(log.all(), ["/stream 3", "/stream 5", "/stream 7"]);
        assert_eq!(client.request(get("/full")).await.text(), "not streamed");
        assert_eq!(log.all().len(), 3, "complete replies flush no chunks");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn on_error_sees_a_400_for_garbage_and_can_change_the_reply() {
    within(async {
        let log = Log::default();
        let on_error = log.clone();
        let (server, mut client) = Server::builder()
            .on_error(move |error| match error {
                ServerError::Http { connection, reply } => {
                    on_error.push(format!("http {} {}", reply.status().as_u16(), connection.peer));
                    *reply = Reply::text("Don't do that!\n").with_status(400).with_header("x-changed", "yes");
                }
                ServerError::Network { .. } => on_error.push("network"),
                _ => on_error.push("other"),
            })
            .route("", |_req| async { Reply::text("never") })
            .start_with_client()
            .await;
        let peer = client.local_addr();
        client.send(b"\x01\x02\x03 nonsense\r\n\r\n").await;
        let res = client.response().await;
        assert_eq!(res.status, 400);
        assert_eq!(res.text(), "Don't do that!\n");
        assert_eq!(res.header("x-changed"), Some("yes"));
        assert_eq!(res.header("connection"), Some("close"));
        assert_default_headers(&res);
        client.assert_closed().await;
        assert_eq!(log.all(), [format!("http 400 {peer}")]);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn on_error_reports_a_network_error_when_the_client_resets_mid_reply() {
    within(async {
        let log = Log::default();
        let (on_error, on_post) = (log.clone(), log.clone());
        let (server, mut client) = Server::builder()
            .on_error(move |error| match error {
                ServerError::Network { connection, .. } => {
                    on_error.push(format!("network {}", connection.peer))
                }
                ServerError::Http { .. } => on_error.push("http"),
                _ => on_error.push("other"),
            })
            .post_request(move |_req, _sent| on_post.push("post"))
            .route("/endless", |_req| async {
                let (reply, mut body) = Reply::stream(200);
                tokio::spawn(async move {
                    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                    while body.send(chunk.clone()).await.is_ok() {}
                });
                reply
            })
            .start_with_client()
            .await;
        let peer = client.local_addr();
        client.send(get("/endless")).await;
        client.read_head().await;
        client.reset();
        assert!(eventually(|| !log.all().is_empty()).await);
        assert_eq!(log.all(), [format!("network {peer}")]);
        let recorded = server.requests();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].status, None, "the reply could not be written");
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Keep-alive
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn http11_connections_persist_by_default() {
    within(async {
        let connects = Arc::new(AtomicUsize::new(0));
        let counter = connects.clone();
        let server = Server::builder()
            .on_connect(move |_info| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .route("", |req: Request| async move {
                Reply::text(format!("{} {}", req.connection_id(), req.index_on_connection()))
            })
            .start()
            .await
            .unwrap();
        let client = client();
        for i in 0..3 {
            let res = client.get(server.url(&format!("/r{i}"))).send().await;
            assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
            assert_eq!(res.text(), format!("1 {i}"));
            assert!(res.header("connection").is_none());
        }
        let recorded = server.requests();
        assert_eq!(recorded.len(), 3);
        assert_eq!(recorded.iter().map(|r| r.connection_id).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!(recorded.iter().map(|r| r.index_on_connection).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(recorded.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["/r0", "/r1", "/r2"]);
        assert_eq!(connects.load(Ordering::SeqCst), 1);
        assert_eq!(server.open_connections(), 1);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn connection_close_from_the_client_is_honoured() {
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("bye") }).start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        let res = client.request(get_close("/")).await;
        assert_eq!(res.text(), "bye");
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        assert!(eventually(|| server.open_connections() == 0).await);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn http10_closes_unless_the_client_asks_for_keep_alive() {
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("ten") }).start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        let res = client.request("GET /plain HTTP/1.0\r\n\r\n").await;
        // The status line names the highest version the server speaks (RFC 9110 §2.5).
        assert_eq!((res.version.as_str(), res.status), ("HTTP/1.1", 200));
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;

        let mut client = RawClient::connect(&server).await;
        for i in 0..2 {
            let res = client.request(format!("GET /ka{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).await;
            assert_eq!(res.version, "HTTP/1.1");
            assert_eq!(res.header("connection"), Some("keep-alive"));
            assert_eq!(res.text(), "ten");
        }
        let res = client.request("GET /last HTTP/1.0\r\n\r\n").await;
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        let recorded = server.requests();
        let second: Vec<_> = recorded[1..].iter().map(|r| (r.connection_id, r.index_on_connection)).collect();
        assert_eq!(second, [(2, 0), (2, 1), (2, 2)]);
        assert!(recorded.iter().all(|r| r.version == Version::HTTP_10));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn max_requests_per_connection_closes_after_the_last_one() {
    within(async {
        let (server, mut client) = Server::builder()
            .max_requests_per_connection(2)
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        let res = client.request(get("/1")).await;
        assert!(!res.has("connection"), "{}", lossy(&res.raw));
        let res = client.request(get("/2")).await;
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn keep_alive_off_closes_after_every_reply() {
    within(async {
        let (server, mut client) = Server::builder()
            .keep_alive(false)
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        let res = client.request(get("/")).await;
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        let mut client = RawClient::connect(&server).await;
        let res = client.request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    within(async {
        let log = Log::default();
        let on_disconnect = log.clone();
        let (server, mut client) = Server::builder()
            .idle_timeout(Duration::from_millis(300))
            .on_disconnect(move |_info| on_disconnect.push("disconnect"))
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        let res = client.request(get("/")).await;
        assert!(!res.has("connection"), "{}", lossy(&res.raw));
        client.assert_closed().await;
        assert!(eventually(|| log.has("disconnect")).await);
        assert_eq!(server.open_connections(), 0);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn each_keep_alive_wait_gets_the_whole_idle_timeout() {
    within(async {
        let (server, mut client) = Server::builder()
            .idle_timeout(Duration::from_millis(1000))
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        // Five requests 300 ms apart: 1.5 s in all, longer than the idle timeout, but no
        // single wait is. The connection's one idle timer must move with every wait.
        for round in 0..5 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let res = client.request(get("/")).await;
            assert_eq!((res.status, res.text().as_str()), (200, "ok"), "round {round}");
        }
        assert_eq!(server.open_connections(), 1);
        client.assert_closed().await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn timeouts_of_duration_max_mean_never_on_both_sides() {
    within(async {
        let server = Server::builder()
            .request_timeout(Duration::MAX)
            .idle_timeout(Duration::MAX)
            .route("", |req: Request| async move {
                let body = req.body().await.unwrap_or_default();
                Reply::text(format!("{} bytes", body.len()))
            })
            .start()
            .await
            .unwrap();
        let client =
            Client::builder().timeout(Duration::MAX).persistent_timeout(Duration::MAX).build().unwrap();
        for _ in 0..2 {
            assert_eq!(client.get(server.url("/")).send().await.text(), "0 bytes");
        }
        // Large enough that the upload goes out in several writes (each moves a deadline).
        let upload = vec![b'u'; 8 << 20];
        let res = client.post(server.url("/")).body(upload).send().await;
        assert_eq!(res.status().as_u16(), 200, "{:?}", res.error());
        assert_eq!(res.text(), "8388608 bytes");
        assert_eq!(client.pool_stats().idle, 1);
        assert_eq!(server.open_connections(), 1);
        // Graceful shutdown waits for the connection: it must end when the client goes.
        drop(client);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_slowloris_head_gets_408_then_a_close() {
    within(async {
        let log = Log::default();
        let (server, mut client) = Server::builder()
            .request_timeout(Duration::from_millis(300))
            .route("", answer(&log, "handler"))
            .start_with_client()
            .await;
        let slow = format!("GET /slow HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: one byte at a time\r\n\r\n");
        let (got, written) = client.trickle(slow.as_bytes(), Duration::from_millis(50)).await;
        assert!(written < slow.len(), "the whole head went out before the server answered");
        let (res, used) = parse_one(&got, false, true).expect("a response");
        assert_eq!(used, got.len(), "nothing after the 408: {:?}", lossy(&got));
        assert_eq!(res.status, 408);
        assert_eq!(res.header("connection"), Some("close"));
        assert!(log.all().is_empty(), "no handler runs for a late head");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_slowloris_head_on_the_second_request_of_a_keep_alive_connection_gets_408() {
    within(async {
        let (server, mut client) = Server::builder()
            .request_timeout(Duration::from_millis(300))
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        assert_eq!(client.request(get("/first")).await.text(), "ok");
        let slow = format!("GET /second HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: one byte at a time\r\n\r\n");
        let (got, written) = client.trickle(slow.as_bytes(), Duration::from_millis(50)).await;
        assert!(written < slow.len(), "the whole head went out before the server answered");
        let (res, _) = parse_one(&got, false, true).expect("a response");
        assert_eq!(res.status, 408);
        assert_eq!(res.header("connection"), Some("close"));
        assert_eq!(server.requests().len(), 1);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_head_larger_than_64_kib_gets_431() {
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("ok") }).start().await.unwrap();
        let big =
            |size: usize| format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nX-Big: {}\r\n\r\n", "a".repeat(size));
        let mut client = RawClient::connect(&server).await;
        assert_eq!(client.request(big(60 * 1024)).await.status, 200, "60 KiB is fine");
        let res = rejected(&server, big(70 * 1024)).await;
        assert_eq!(res.status, 431);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn more_than_100_header_fields_get_431() {
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("ok") }).start().await.unwrap();
        let with_fields = |count: usize| {
            let mut request = format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n");
            for i in 1..count {
                request.push_str(&format!("X-Field-{i}: v\r\n"));
            }
            request + "\r\n"
        };
        let mut client = RawClient::connect(&server).await;
        assert_eq!(client.request(with_fields(100)).await.status, 200, "100 fields are fine");
        let res = rejected(&server, with_fields(101)).await;
        assert_eq!(res.status, 431);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_target_longer_than_max_target_length_gets_414() {
    within(async {
        let log = Log::default();
        let server =
            Server::builder().max_target_length(64).route("", answer(&log, "handler")).start().await.unwrap();
        let mut client = RawClient::connect(&server).await;
        let exact = format!("/{}", "a".repeat(63));
        assert_eq!(client.request(get(&exact)).await.status, 200);
        let res = rejected(&server, get(&format!("/{}", "a".repeat(64)))).await;
        assert_eq!(res.status, 414);
        assert_eq!(log.all(), ["handler"], "only the first request reached a handler");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_body_over_max_body_size_gets_413_without_calling_the_handler() {
    within(async {
        let log = Log::default();
        let on_echo = log.clone();
        let (server, mut client) = Server::builder()
            .max_body_size(10)
            .route("/echo", move |req| {
                on_echo.push("handler");
                echo(req)
            })
            .start_with_client()
            .await;
        assert_eq!(client.request(post("/echo", "0123456789")).await.text(), "0123456789");
        // Only the head goes out: the server must answer before the body.
        let res = rejected(&server, format!("POST /echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 11\r\n\r\n")).await;
        assert_eq!(res.status, 413);
        assert_eq!(log.take(), ["handler"], "no handler for the 413");
        // With Expect: 100-continue the 413 comes instead of the 100.
        let expecting =
            format!("POST /echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
        let res = rejected(&server, expecting).await;
        assert_eq!(res.status, 413);
        assert!(log.all().is_empty());
        // A chunked body has no length up front: reading it past the limit is a 413 too.
        let chunked = format!(
            "POST /echo HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n"
        );
        let mut client = RawClient::connect(&server).await;
        client.send(chunked).await;
        assert_eq!(client.response().await.status, 413);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn content_length_with_transfer_encoding_gets_400_and_a_close() {
    within(async {
        let log = Log::default();
        let server = Server::builder().route("", answer(&log, "handler")).start().await.unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let res = rejected(&server, request).await;
        assert_eq!(res.status, 400);
        assert!(log.all().is_empty());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn disguised_transfer_encodings_get_400() {
    within(async {
        let server =
            Server::builder().route("", |_req| async { Reply::text("never") }).start().await.unwrap();
        for coding in ["xchunked", "chunked, gzip", "gzip", "chunked\r\nTransfer-Encoding: chunked"] {
            let request = format!("POST / HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: {coding}\r\n\r\n");
            assert_eq!(rejected(&server, request).await.status, 400, "{coding:?}");
        }
        // HTTP/1.0 has no transfer codings at all.
        let request = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(rejected(&server, request).await.status, 400);
        assert!(server.requests().is_empty());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn conflicting_or_invalid_content_lengths_get_400() {
    within(async {
        let server =
            Server::builder().route("", |_req| async { Reply::text("never") }).start().await.unwrap();
        for lengths in ["5\r\nContent-Length: 6", "5, 6", "abc", "-1", "+5"] {
            let request = format!("POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {lengths}\r\n\r\n");
            assert_eq!(rejected(&server, request).await.status, 400, "{lengths:?}");
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn http11_requests_need_exactly_one_host() {
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("ok") }).start().await.unwrap();
        assert_eq!(rejected(&server, "GET / HTTP/1.1\r\n\r\n").await.status, 400);
        let two = "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n";
        assert_eq!(rejected(&server, two).await.status, 400);
        let mut client = RawClient::connect(&server).await;
        let res = client.request("GET / HTTP/1.0\r\n\r\n").await;
        assert_eq!(res.status, 200, "HTTP/1.0 needs no Host");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_invalid_host_value_gets_400() {
    // RFC 9112 §3.2: a server MUST answer 400 to a Host field with an invalid value.
    within(async {
        let server = Server::builder().route("", |_req| async { Reply::text("ok") }).start().await.unwrap();
        for host in ["a b", "a/b", "x:port", "user@x"] {
            let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(rejected(&server, request).await.status, 400, "Host: {host}");
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_invalid_request_target_gets_400() {
    // RFC 9112 §3.2: origin-form starts with "/", and "*" is only for OPTIONS; §3 says an
    // invalid request line SHOULD get 400.
    within(async {
        let log = Log::default();
        let server = Server::builder().route("", answer(&log, "handler")).start().await.unwrap();
        for target in ["foo", "*"] {
            let request = format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
            assert_eq!(rejected(&server, request).await.status, 400, "GET {target}");
        }
        assert!(log.all().is_empty(), "{:?}", log.all());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn absolute_form_and_asterisk_form_targets_are_served() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/a", |req: Request| async move {
                Reply::text(format!("{} {}", req.path(), req.query().unwrap_or("-")))
            })
            .route("", |req: Request| async move { Reply::text(format!("root {}", req.path())) })
            .start_with_client()
            .await;
        let res = client.request("GET http://h.test/a/b?c=d HTTP/1.1\r\nHost: h.test\r\n\r\n").await;
        assert_eq!(res.text(), "/a/b c=d");
        let res = client.request(format!("OPTIONS * HTTP/1.1\r\nHost: {HOST}\r\n\r\n")).await;
        assert_eq!((res.status, res.text().as_str()), (200, "root *"));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn methods_outside_allowed_methods_get_501() {
    within(async {
        let log = Log::default();
        let (server, mut client) = Server::builder()
            .allowed_methods([Method::GET, Method::HEAD, Method::POST])
            .route("", answer(&log, "handler"))
            .start_with_client()
            .await;
        assert_eq!(client.request(get("/")).await.status, 200);
        assert_eq!(client.request(post("/", "x")).await.status, 200);
        for method in ["DELETE", "PUT", "BREW"] {
            let res = rejected(&server, format!("{method} / HTTP/1.1\r\nHost: {HOST}\r\n\r\n")).await;
            assert_eq!((res.status, res.reason.as_str()), (501, "Not Implemented"), "{method}");
        }
        assert_eq!(log.all(), ["handler", "handler"]);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_unknown_expectation_gets_417() {
    within(async {
        let server =
            Server::builder().route("", |_req| async { Reply::text("never") }).start().await.unwrap();
        let request = format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nExpect: something-else\r\n\r\n");
        assert_eq!(rejected(&server, request).await.status, 417);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_garbage_request_line_gets_400() {
    within(async {
        let server =
            Server::builder().route("", |_req| async { Reply::text("never") }).start().await.unwrap();
        for garbage in [
            "this is not http\r\n\r\n",
            "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
            "GET\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        ] {
            let res = rejected(&server, garbage).await;
            assert_eq!(res.status, 400, "{garbage:?}");
            assert!(res.text().starts_with("400 Bad Request: "), "{:?}", res.text());
        }
        // A well-formed version of another major number is 505, not garbage.
        let res = rejected(&server, "GET / HTTP/9.9\r\nHost: x\r\n\r\n").await;
        assert_eq!(res.status, 505);
        assert!(res.text().starts_with("505 HTTP Version Not Supported: "), "{:?}", res.text());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_stalled_request_body_is_a_timeout_for_the_handler() {
    within(async {
        let (server, mut client) = Server::builder()
            .timeout(Duration::from_millis(300))
            .route("/echo", |req: Request| async move {
                match req.body().await {
                    Ok(body) => Reply::text(format!("unexpectedly got {} bytes", body.len())),
                    Err(error) => {
                        assert_eq!(error, BodyError::TimedOut);
                        Reply::from(error)
                    }
                }
            })
            .start_with_client()
            .await;
        client.send(format!("POST /echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 10\r\n\r\nhalf!")).await;
        let res = client.response().await;
        assert_eq!(res.status, 408);
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_activity_timeout() {
    within(async {
        let log = Log::default();
        let on_error = log.clone();
        let server = Server::builder()
            .timeout(Duration::from_millis(300))
            .on_error(move |error| {
                if let ServerError::Network { error, .. } = error {
                    on_error.push(format!("network {:?}", error.kind()));
                }
            })
            .route("/big", |_req| async { Reply::bytes("application/octet-stream", vec![1u8; 32 << 20]) })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::with_small_receive_buffer(server.local_addr()).await;
        client.send(get("/big")).await;
        // Never read: the server's writes stop making progress.
        assert!(eventually(|| !log.all().is_empty()).await, "the server gives up on the write");
        assert_eq!(log.all(), ["network TimedOut"]);
        assert!(eventually(|| server.open_connections() == 0).await);
        assert_eq!(server.requests()[0].status, None);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Pipelining, 100-continue, draining, chunked request bodies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    within(async {
        let (server, mut client) = Server::builder()
            .handler("^/a$", |_req| async {
                // A slower first handler must not let a later reply overtake it.
                for _ in 0..50 {
                    tokio::task::yield_now().await;
                }
                Reply::text("a")
            })
            .handler("^/echo$", echo)
            .handler("^/c$", |_req| async { Reply::text("c") })
            .start_with_client()
            .await;
        client.send(format!("{}{}{}", get("/a"), post("/echo", "hello"), get("/c"))).await;
        let mut bodies = Vec::new();
        for _ in 0..3 {
            bodies.push(client.response().await.text());
        }
        assert_eq!(bodies, ["a", "hello", "c"]);
        assert!(client.nothing_pending());
        let recorded = server.requests();
        assert_eq!(recorded.iter().map(|r| r.index_on_connection).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(recorded.iter().all(|r| r.connection_id == recorded[0].connection_id));
        assert_eq!(recorded[1].body.as_ref(), b"hello");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn expect_100_continue_is_sent_when_the_handler_reads_the_body() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/echo", |req: Request| async move {
                match req.text().await {
                    Ok(text) => Reply::text(format!("got {text}")),
                    Err(error) => Reply::from(error),
                }
            })
            .start_with_client()
            .await;
        client
            .send(format!(
                "POST /echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            ))
            .await;
        assert_eq!(lossy(&client.take(25).await), "HTTP/1.1 100 Continue\r\n\r\n");
        assert!(client.nothing_pending(), "nothing but the 100 before the body");
        client.send("hello").await;
        let res = client.response().await;
        assert_eq!((res.status, res.text().as_str()), (200, "got hello"));
        assert!(!res.has("connection"), "{}", lossy(&res.raw));
        // The connection carries on.
        assert_eq!(client.request(post("/echo", "again")).await.text(), "got again");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn expect_100_continue_is_not_sent_when_the_handler_ignores_the_body() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/ignore", |_req| async { Reply::text("ignored") })
            .start_with_client()
            .await;
        client
            .send(format!(
                "POST /ignore HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            ))
            .await;
        let res = client.response().await;
        assert_eq!((res.status, res.text().as_str()), (200, "ignored"));
        assert_eq!(res.header("connection"), Some("close"));
        client.assert_closed().await;
        let recorded = server.requests();
        assert!(recorded[0].body.is_empty());
        assert!(!recorded[0].body_complete);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_small_unread_body_is_drained_and_the_connection_reused() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/ignore", |_req| async { Reply::text("ignored") })
            .route("/next", |_req| async { Reply::text("next") })
            .start_with_client()
            .await;
        client.send(format!("{}{}", post("/ignore", "0123456789"), get("/next"))).await;
        let first = client.response().await;
        assert_eq!(first.text(), "ignored");
        assert!(!first.has("connection"), "{}", lossy(&first.raw));
        assert_eq!(client.response().await.text(), "next");
        let recorded = server.requests();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].body.as_ref(), b"0123456789");
        assert!(recorded[0].body_complete);
        assert_eq!(recorded[1].connection_id, recorded[0].connection_id);
        // A chunked body is drained the same way.
        let chunked = format!(
            "POST /ignore HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        );
        client.send(format!("{chunked}{}", get("/next"))).await;
        assert_eq!(client.response().await.text(), "ignored");
        assert_eq!(client.response().await.text(), "next");
        let recorded = server.requests();
        assert_eq!(recorded[2].body.as_ref(), b"abc");
        assert!(recorded[2].body_complete);
        assert_eq!(recorded[3].index_on_connection, 3);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_unread_body_over_the_drain_limit_closes_the_connection() {
    within(async {
        let server = Server::builder()
            .route("/ignore", |_req| async { Reply::text("ignored") })
            .start()
            .await
            .unwrap();
        let size = DEFAULT_MAX_DRAIN as usize + 64 * 1024;
        let client = RawClient::connect(&server).await;
        let (mut reader, mut writer) = client.stream.into_split();
        let head = format!("POST /ignore HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {size}\r\n\r\n");
        let upload = tokio::spawn(async move {
            let _ = writer.write_all(head.as_bytes()).await;
            let _ = writer.write_all(&vec![b'z'; size]).await;
            writer
        });
        let mut got = Vec::new();
        let mut piece = [0u8; 4096];
        let res = loop {
            if let Some((res, used)) = parse_one(&got, false, false) {
                got.drain(..used);
                break res;
            }
            let n = reader.read(&mut piece).await.expect("a reply before the close");
            assert!(n > 0, "closed before a reply: {:?}", lossy(&got));
            got.extend_from_slice(&piece[..n]);
        };
        assert_eq!((res.status, res.text().as_str()), (200, "ignored"));
        assert_eq!(res.header("connection"), Some("close"));
        // Then the server closes (a reset is fine: part of the body was never read).
        if let Ok(n @ 1..) = reader.read(&mut piece).await {
            panic!("unexpected bytes after the reply: {:?}", lossy(&piece[..n]));
        }
        let _ = upload.await;
        let recorded = server.requests();
        assert!(!recorded[0].body_complete);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_chunked_request_body_with_trailers_is_decoded_for_the_handler() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/chunked", |req: Request| async move {
                let body = match req.text().await {
                    Ok(body) => body,
                    Err(error) => return Reply::from(error),
                };
                let trailer =
                    req.trailers().get("x-trailer").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                Reply::text(format!("{body}|{trailer}"))
            })
            .start_with_client()
            .await;
        let request = format!(
            "POST /chunked HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
        );
        let res = client.request(request).await;
        assert_eq!((res.status, res.text().as_str()), (200, "hello world|yes"));
        assert!(!res.has("connection"), "{}", lossy(&res.raw));
        assert_eq!(client.request(post("/chunked", "plain")).await.text(), "plain|-");
        let recorded = server.requests();
        assert_eq!(recorded[0].body.as_ref(), b"hello world");
        assert!(recorded[0].body_complete);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_malformed_chunked_body_is_a_body_error_for_the_handler() {
    within(async {
        let seen: Arc<Mutex<Option<BodyError>>> = Arc::default();
        let slot = seen.clone();
        let server = Server::builder()
            .route("/chunked", move |req: Request| {
                let slot = slot.clone();
                async move {
                    match req.body().await {
                        Ok(body) => Reply::text(format!("unexpectedly got {} bytes", body.len())),
                        Err(error) => {
                            *slot.lock().unwrap() = Some(error.clone());
                            Reply::from(error)
                        }
                    }
                }
            })
            .start()
            .await
            .unwrap();
        let request = format!(
            "POST /chunked HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
        );
        let res = rejected(&server, request).await;
        assert_eq!(res.status, 400);
        assert_eq!(res.text(), "400 Bad Request: malformed request body: invalid chunk size\n");
        let error = seen.lock().unwrap().clone();
        assert_eq!(error, Some(BodyError::Malformed(courier::h1::ProtocolError::InvalidChunkSize)));
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Streaming replies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn streamed_chunks_go_out_in_lockstep_with_send() {
    within(async {
        let (events, mut sent) = mpsc::unbounded_channel::<&'static str>();
        let gate = Arc::new(Semaphore::new(0));
        let permits = gate.clone();
        let (server, mut client) = Server::builder()
            .route("/lockstep", move |_req| {
                let (events, gate) = (events.clone(), permits.clone());
                async move {
                    let (reply, mut body) = Reply::stream(200);
                    tokio::spawn(async move {
                        for word in ["one", "two", "three"] {
                            body.send(word).await.expect("the client reads");
                            events.send(word).unwrap();
                            gate.acquire().await.unwrap().forget();
                        }
                    });
                    reply
                }
            })
            .start_with_client()
            .await;
        client.send(get("/lockstep")).await;
        let res = client.read_head().await;
        assert_eq!(res.header("transfer-encoding"), Some("chunked"));
        for (word, frame) in [("one", "3\r\none\r\n"), ("two", "3\r\ntwo\r\n"), ("three", "5\r\nthree\r\n")] {
            assert_eq!(sent.recv().await, Some(word));
            assert_eq!(lossy(&client.take(frame.len()).await), frame);
            assert!(client.nothing_pending(), "nothing beyond {word:?} until the next send");
            gate.add_permits(1);
        }
        assert_eq!(lossy(&client.take(5).await), "0\r\n\r\n");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn body_sender_send_resolves_only_after_the_chunk_is_written() {
    within(async {
        const SIZE: usize = 16 << 20;
        let written = Arc::new(AtomicBool::new(false));
        let flag = written.clone();
        let server = Server::builder()
            .route("/big", move |_req| {
                let flag = flag.clone();
                async move {
                    let (reply, mut body) = Reply::stream(200);
                    tokio::spawn(async move {
                        body.send(vec![7u8; SIZE]).await.expect("the client reads");
                        flag.store(true, Ordering::SeqCst);
                    });
                    reply
                }
            })
            .start()
            .await
            .unwrap();
        // A small receive window: at most a few MiB fit in the kernel's buffers.
        let mut client = RawClient::with_small_receive_buffer(server.local_addr()).await;
        client.send(get("/big")).await;
        client.read_head().await;
        while client.buf.len() < 1 << 20 {
            assert!(client.fill().await);
        }
        assert!(!written.load(Ordering::SeqCst), "send resolved while most of the chunk was unwritten");
        let mut all = std::mem::take(&mut client.buf);
        loop {
            if all.ends_with(b"\r\n0\r\n\r\n") && all.len() >= SIZE {
                break;
            }
            assert!(client.fill().await, "closed early");
            all.append(&mut client.buf);
        }
        let prefix = format!("{SIZE:x}\r\n");
        assert!(all.starts_with(prefix.as_bytes()));
        assert_eq!(all.len(), prefix.len() + SIZE + 7);
        assert!(all[prefix.len()..prefix.len() + SIZE].iter().all(|&b| b == 7));
        assert!(eventually(|| written.load(Ordering::SeqCst)).await);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_ten_megabyte_stream_to_a_slow_reader_arrives_intact() {
    within(async {
        const MIB: usize = 1 << 20;
        let log = Log::default();
        let on_post = log.clone();
        let server = Server::builder()
            .post_request(move |_req, sent| {
                on_post.push(format!("post {} {}", sent.status.as_u16(), sent.body_bytes))
            })
            .route("/ten", |_req| async {
                let (reply, mut body) = Reply::stream(200);
                tokio::spawn(async move {
                    for i in 0..10 {
                        let chunk: Vec<u8> = (i * MIB..(i + 1) * MIB).map(|k| (k % 251) as u8).collect();
                        body.send(chunk).await.expect("the client reads");
                    }
                });
                reply
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::with_small_receive_buffer(server.local_addr()).await;
        client.send(get("/ten")).await;
        let mut piece = vec![0u8; 8 * 1024];
        let mut reads = 0usize;
        let res = loop {
            let n = client.stream.read(&mut piece).await.expect("read");
            assert!(n > 0, "closed early after {} bytes", client.buf.len());
            client.buf.extend_from_slice(&piece[..n]);
            reads += 1;
            if reads.is_multiple_of(32) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if client.buf.ends_with(b"0\r\n\r\n") {
                if let Some((res, _)) = parse_one(&client.buf, false, false) {
                    break res;
                }
            }
        };
        assert_eq!(res.status, 200);
        assert_eq!(res.body.len(), 10 * MIB);
        let expected: Vec<u8> = (0..10 * MIB).map(|k| (k % 251) as u8).collect();
        assert!(res.body == expected, "the body differs from what was sent");
        assert!(eventually(|| log.has(&format!("post 200 {}", 10 * MIB))).await, "{:?}", log.all());
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn body_sender_gets_stream_closed_after_the_client_disconnects() {
    within(async {
        let (outcome, mut outcomes) = mpsc::unbounded_channel::<(usize, StreamClosed)>();
        let (server, mut client) = Server::builder()
            .route("/endless", move |_req| {
                let outcome = outcome.clone();
                async move {
                    let (reply, mut body) = Reply::stream(200);
                    tokio::spawn(async move {
                        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                        let mut sent = 0;
                        loop {
                            match body.send(chunk.clone()).await {
                                Ok(()) => sent += 1,
                                Err(closed) => {
                                    let _ = outcome.send((sent, closed));
                                    return;
                                }
                            }
                        }
                    });
                    reply
                }
            })
            .start_with_client()
            .await;
        client.send(get("/endless")).await;
        client.read_head().await;
        drop(client);
        let (sent, closed) = outcomes.recv().await.expect("the sender learns the client is gone");
        assert_eq!(closed, StreamClosed);
        assert_eq!(closed.to_string(), "the client is gone");
        assert!(sent >= 1);
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Test kit: recording
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_are_recorded_with_head_body_connection_and_status() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/rec", |req: Request| async move {
                match req.body().await {
                    Ok(_) => Reply::text("recorded").with_status(201),
                    Err(error) => Reply::from(error),
                }
            })
            .start_with_client()
            .await;
        let peer = client.local_addr();
        let request = format!(
            "POST /rec?x=1 HTTP/1.1\r\nHost: {HOST}\r\nX-Test: one\r\nX-Test: two\r\nContent-Length: 7\r\n\r\npayload"
        );
        assert_eq!(client.request(request).await.status, 201);
        assert_eq!(client.request(get("/missing")).await.status, 404);
        let recorded = server.requests();
        assert_eq!(recorded.len(), 2);
        let first = &recorded[0];
        assert_eq!(first.method, Method::POST);
        assert_eq!(first.target, "/rec?x=1");
        assert_eq!(first.version, Version::HTTP_11);
        assert_eq!(first.header("host"), Some(HOST));
        assert_eq!(first.header("x-test"), Some("one"));
        assert_eq!(first.headers.get_all("x-test").iter().count(), 2);
        assert_eq!(first.body.as_ref(), b"payload");
        assert!(first.body_complete);
        assert_eq!(first.connection_id, 1);
        assert_eq!(first.index_on_connection, 0);
        assert_eq!(first.peer, peer);
        assert_eq!(first.status.map(|s| s.as_u16()), Some(201));
        let second = &recorded[1];
        assert_eq!((second.method.clone(), second.target.as_str()), (Method::GET, "/missing"));
        assert!(second.body.is_empty());
        assert_eq!((second.connection_id, second.index_on_connection), (1, 1));
        assert_eq!(second.status.map(|s| s.as_u16()), Some(404));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn record_limit_keeps_the_latest_and_clear_requests_forgets() {
    within(async {
        let (server, mut client) = Server::builder()
            .record_limit(2)
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        for path in ["/1", "/2", "/3"] {
            client.request(get(path)).await;
        }
        let targets = |server: &Server| server.requests().into_iter().map(|r| r.target).collect::<Vec<_>>();
        assert_eq!(targets(&server), ["/2", "/3"]);
        server.clear_requests();
        assert!(server.requests().is_empty());
        client.request(get("/4")).await;
        assert_eq!(targets(&server), ["/4"]);
        let silent = Server::builder()
            .record_limit(0)
            .route("", |_req| async { Reply::text("ok") })
            .start()
            .await
            .unwrap();
        assert_eq!(client_get_status(&silent, "/").await, 200);
        assert!(silent.requests().is_empty());
        silent.shutdown().await;
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Test kit: faults, seen by a raw client
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn fault_delay_head_sends_the_whole_reply_late_and_keeps_the_connection() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/late", |_req| async {
                Reply::text("late").with_fault(Fault::DelayHead(Duration::from_millis(200)))
            })
            .route("/late-close", |_req| async {
                Reply::text("late")
                    .with_header("connection", "close")
                    .with_fault(Fault::DelayHead(Duration::from_millis(1)))
            })
            .start_with_client()
            .await;
        for _ in 0..2 {
            let res = client.request(get("/late")).await;
            assert_eq!((res.status, res.text().as_str()), (200, "late"));
            assert_eq!(res.header("content-length"), Some("4"));
            assert_eq!(res.header("connection"), None, "a correct reply keeps the connection");
            assert_default_headers(&res);
        }
        // Unless the reply asks to close.
        let res = client.request(get("/late-close")).await;
        assert_eq!((res.text().as_str(), res.header("connection")), ("late", Some("close")));
        client.assert_closed().await;
        let recorded = server.requests();
        assert!(recorded.iter().all(|r| r.connection_id == 1 && r.status.map(|s| s.as_u16()) == Some(200)));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn fault_trickle_sends_every_byte() {
    within(async {
        let body = "t".repeat(300);
        let (server, mut client) = Server::builder()
            .route("/trickle", |_req| async {
                Reply::text("t".repeat(300))
                    .with_fault(Fault::Trickle { bytes: 7, every: Duration::from_millis(2) })
            })
            .start_with_client()
            .await;
        // A correct reply, only slow: the connection carries the next request too.
        for _ in 0..2 {
            let res = client.request(get("/trickle")).await;
            assert_eq!(res.text(), body);
            assert_eq!(res.header("content-length"), Some("300"));
            assert_eq!(res.header("connection"), None);
        }
        assert!(client.nothing_pending());
        assert_eq!(server.requests().iter().map(|r| r.connection_id).collect::<Vec<_>>(), [1, 1]);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn fault_close_after_sends_exactly_n_bytes() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/cut", |_req| async { Reply::text("hello world").with_fault(Fault::CloseAfter(20)) })
            .route("/whole", |_req| async {
                Reply::text("hello world").with_fault(Fault::CloseAfter(100_000))
            })
            .start_with_client()
            .await;
        client.send(get("/cut")).await;
        let raw = client.rest().await;
        assert_eq!(lossy(&raw), "HTTP/1.1 200 OK\r\ncon");
        // More than the reply: the whole reply, then the close.
        let mut client = RawClient::connect(&server).await;
        client.send(get("/whole")).await;
        let raw = client.rest().await;
        let (res, used) = parse_one(&raw, false, true).expect("the whole response");
        assert_eq!((used, res.text().as_str()), (raw.len(), "hello world"));
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn fault_reset_gives_the_client_a_reset_or_eof_without_data() {
    within(async {
        let (server, mut client) = Server::builder()
            .route("/reset", |_req| async { Reply::text("never").with_fault(Fault::Reset) })
            .start_with_client()
            .await;
        client.send(get("/reset")).await;
        let mut piece = [0u8; 1024];
        let outcome = client.stream.read(&mut piece).await;
        match outcome {
            Ok(0) => {}
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
            Ok(n) => panic!("unexpected bytes: {:?}", lossy(&piece[..n])),
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn fault_stall_sends_nothing_and_holds_the_connection_until_the_client_closes() {
    within(async {
        let log = Log::default();
        let (on_pre, on_disconnect) = (log.clone(), log.clone());
        let (server, mut client) = Server::builder()
            .pre_request(move |_req| on_pre.push("pre"))
            .on_disconnect(move |_info| on_disconnect.push("disconnect"))
            .route("/stall", |_req| async { Reply::text("never").with_fault(Fault::Stall) })
            .start_with_client()
            .await;
        client.send(get("/stall")).await;
        assert!(eventually(|| log.has("pre")).await);
        assert!(client.silent_for(Duration::from_millis(300)).await, "a stalled reply sends nothing");
        assert_eq!(server.open_connections(), 1);
        assert!(!log.has("disconnect"));
        // What the client sends meanwhile is swallowed; closing our side ends it.
        client.send(get("/ignored")).await;
        client.stream.shutdown().await.unwrap();
        client.assert_closed().await;
        assert!(eventually(|| log.has("disconnect")).await);
        assert_eq!(server.open_connections(), 0);
        assert_eq!(server.requests().len(), 1);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn fault_raw_sends_exactly_the_bytes_then_closes() {
    within(async {
        const RAW: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX: \xff\r\n\r\nnot really";
        let (server, mut client) = Server::builder()
            .route("/raw", |_req| async { Reply::raw(RAW) })
            .route("/fault", |_req| async {
                Reply::text("x").with_fault(Fault::Raw(Bytes::from_static(b"junk")))
            })
            .start_with_client()
            .await;
        client.send(get("/raw")).await;
        assert_eq!(client.rest().await, RAW);
        let mut client = RawClient::connect(&server).await;
        client.send(get("/fault")).await;
        assert_eq!(client.rest().await, b"junk");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn fault_wrong_content_length_announces_n_and_sends_the_real_body() {
    within(async {
        let server = Server::builder()
            .route("/long", |_req| async { Reply::text("hello").with_fault(Fault::WrongContentLength(10)) })
            .route("/short", |_req| async { Reply::text("hello").with_fault(Fault::WrongContentLength(2)) })
            .start()
            .await
            .unwrap();
        for (path, announced) in [("/long", "10"), ("/short", "2")] {
            let mut client = RawClient::connect(&server).await;
            client.send(get(path)).await;
            let res = client.read_head().await;
            assert_eq!(res.header_all("content-length"), [announced], "{path}");
            assert_eq!(res.header("connection"), Some("close"));
            assert_eq!(client.rest().await, b"hello", "{path}");
        }
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn courier_client_reports_each_fault_with_its_pseudo_status() {
    within(async {
        let server = Server::builder()
            .route("/delay", |_req| async {
                Reply::text("delayed").with_fault(Fault::DelayHead(Duration::from_millis(100)))
            })
            .route("/trickle", |_req| async {
                Reply::text("x".repeat(300))
                    .with_fault(Fault::Trickle { bytes: 16, every: Duration::from_millis(2) })
            })
            .route("/close-mid-body", |_req| async {
                Reply::text("y".repeat(1000)).with_fault(Fault::CloseAfter(500))
            })
            .route("/close-mid-head", |_req| async { Reply::text("z").with_fault(Fault::CloseAfter(5)) })
            .route("/reset", |_req| async { Reply::text("never").with_fault(Fault::Reset) })
            .route("/stall", |_req| async { Reply::text("never").with_fault(Fault::Stall) })
            .route("/raw-garbage", |_req| async { Reply::raw("garbage\r\n\r\n") })
            .route("/raw-ok", |_req| async { Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") })
            .route("/wrong-long", |_req| async {
                Reply::text("hello").with_fault(Fault::WrongContentLength(10))
            })
            .route("/wrong-short", |_req| async {
                Reply::text("hello").with_fault(Fault::WrongContentLength(2))
            })
            .start()
            .await
            .unwrap();
        let fetch = |path: &str| {
            let url = server.url(path);
            async move { client().get(url).timeout(Duration::from_millis(300)).send().await }
        };
        let res = fetch("/delay").await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "delayed"), "{}", res.reason());
        let res = fetch("/trickle").await;
        assert_eq!((res.status().as_u16(), res.text().len()), (200, 300), "{}", res.reason());
        for (path, status) in [
            ("/close-mid-body", 597),
            ("/close-mid-head", 596),
            ("/reset", 596),
            ("/stall", 596),
            ("/raw-garbage", 596),
            ("/wrong-long", 597),
        ] {
            let res = fetch(path).await;
            assert_eq!(res.status().as_u16(), status, "{path}: {}", res.reason());
        }
        let res = fetch("/raw-ok").await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "ok"));
        let res = fetch("/wrong-short").await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "he"));
        server.shutdown().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Graceful shutdown
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_the_request_in_flight_finish() {
    within(async {
        let log = Log::default();
        let on_post = log.clone();
        let (entered, mut entries) = mpsc::unbounded_channel::<()>();
        let release = Arc::new(Notify::new());
        let released = release.clone();
        let server = Server::builder()
            .post_request(move |req, sent| {
                on_post.push(format!("post {} {}", req.path(), sent.status.as_u16()))
            })
            .route("/slow", move |_req| {
                let (entered, released) = (entered.clone(), released.clone());
                async move {
                    let _ = entered.send(());
                    released.notified().await;
                    Reply::text("finished after shutdown began")
                }
            })
            .start()
            .await
            .unwrap();
        let addr = server.local_addr();
        let mut in_flight = RawClient::to(addr).await;
        in_flight.send(get("/slow")).await;
        entries.recv().await.unwrap();

        server.shutdown_handle().trigger();
        let shutdown = {
            let log = log.clone();
            tokio::spawn(async move {
                server.shutdown().await;
                log.push("shutdown returned");
            })
        };
        // A new connection is refused, or accepted and closed without an answer.
        if let Ok(stream) = TcpStream::connect(addr).await {
            let mut late = RawClient::over(stream);
            late.send_lossy(get("/slow")).await;
            late.assert_closed().await;
        }
        assert!(!shutdown.is_finished(), "shutdown waits for the request in flight");
        assert!(!log.has("shutdown returned"));

        release.notify_one();
        let res = in_flight.response().await;
        assert_eq!((res.status, res.text().as_str()), (200, "finished after shutdown began"));
        assert_eq!(res.header("connection"), Some("close"));
        in_flight.assert_closed().await;
        shutdown.await.unwrap();
        assert_eq!(log.all(), ["post /slow 200", "shutdown returned"]);
        assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
    })
    .await
}

#[tokio::test]
async fn shutdown_closes_idle_connections() {
    within(async {
        let log = Log::default();
        let on_connect = log.clone();
        let server = Server::builder()
            .on_connect(move |_info| on_connect.push("connect"))
            .route("", |_req| async { Reply::text("ok") })
            .start()
            .await
            .unwrap();
        let mut idle = RawClient::connect(&server).await;
        let res = idle.request(get("/")).await;
        assert!(!res.has("connection"), "{}", lossy(&res.raw));
        // And one that connected but never sent a request.
        let mut silent = RawClient::connect(&server).await;
        assert!(eventually(|| log.all().len() == 2).await);
        assert_eq!(server.open_connections(), 2);
        server.shutdown().await;
        idle.assert_closed().await;
        silent.assert_closed().await;
    })
    .await
}

#[tokio::test]
async fn run_serves_until_a_handler_triggers_shutdown() {
    within(async {
        let port = closed_port().await;
        let builder = Server::builder().port(port);
        let stop = builder.shutdown_handle();
        let builder = builder.route("/stop", move |_req| {
            let stop = stop.clone();
            async move {
                stop.trigger();
                Reply::text("stopping")
            }
        });
        let run = tokio::spawn(builder.route("", |_req| async { Reply::text("running") }).run());
        let url = format!("http://127.0.0.1:{port}/");
        let mut res = client().get(&url).send().await;
        for _ in 0..100 {
            if res.status().as_u16() != 595 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            res = client().get(&url).send().await;
        }
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "running"), "{}", res.reason());
        assert!(!run.is_finished());

        let res = client().get(format!("http://127.0.0.1:{port}/stop")).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "stopping"));
        // run() returns once the connections in flight are done: Ok, and nothing listens.
        run.await.expect("run task").expect("run returns Ok");
        let res = client().get(&url).send().await;
        assert_eq!(res.status().as_u16(), 595, "{}", res.reason());
    })
    .await
}

#[tokio::test]
async fn a_handler_can_ask_to_close_the_connection() {
    within(async {
        let server = Server::builder()
            .route("/bye", |_req| async { Reply::text("bye").with_header("connection", "close") })
            .start()
            .await
            .unwrap();
        let mut raw = RawClient::connect(&server).await;
        let res = raw.request(get("/bye")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("connection"), Some("close"));
        raw.assert_closed().await;
    })
    .await
}

#[tokio::test]
async fn faults_that_send_no_complete_reply_record_no_status_and_skip_post_request() {
    within(async {
        let posts = Arc::new(Mutex::new(Vec::new()));
        let seen = posts.clone();
        let server = Server::builder()
            .route("/raw", |_req| async { Reply::raw("garbage") })
            .route("/cut", |_req| async { Reply::text("0123456789").with_fault(Fault::CloseAfter(5)) })
            .route("/slow", |_req| async {
                Reply::text("ok").with_fault(Fault::DelayHead(Duration::from_millis(1)))
            })
            .post_request(move |req, sent| {
                seen.lock().unwrap().push((req.target().to_owned(), sent.status.as_u16()))
            })
            .start()
            .await
            .unwrap();
        for path in ["/raw", "/cut", "/slow"] {
            let mut raw = RawClient::connect(&server).await;
            raw.send(get(path)).await;
            raw.rest().await;
        }
        let statuses: Vec<(String, Option<u16>)> =
            server.requests().iter().map(|r| (r.target.clone(), r.status.map(|s| s.as_u16()))).collect();
        assert_eq!(
            statuses,
            [("/raw".to_owned(), None), ("/cut".to_owned(), None), ("/slow".to_owned(), Some(200))]
        );
        assert_eq!(*posts.lock().unwrap(), [("/slow".to_owned(), 200)]);
    })
    .await
}

#[tokio::test]
async fn a_global_header_set_twice_sends_both_values() {
    within(async {
        let server = Server::builder()
            .header("x-tag", "a")
            .header("x-tag", "b")
            .route("", |_req| async { Reply::text("ok") })
            .start()
            .await
            .unwrap();
        let mut raw = RawClient::connect(&server).await;
        let res = raw.request(get_close("/")).await;
        assert_eq!(res.header_all("x-tag"), ["a", "b"]);
    })
    .await
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413_and_the_connection_closes() {
    within(async {
        let server = Server::builder().max_body_size(8).handler("", echo).start().await.unwrap();
        let mut raw = RawClient::connect(&server).await;
        raw.send(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
        )
        .await;
        let res = raw.response().await;
        assert_eq!(res.status, 413);
        assert_eq!(res.header("connection"), Some("close"));
        raw.assert_closed().await;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Concurrency and binding
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_concurrency_limit_beyond_what_a_semaphore_holds_is_no_limit() {
    within(async {
        let (server, mut first) = Server::builder()
            .concurrency(usize::MAX)
            .route("", |_req| async { Reply::text("ok") })
            .start_with_client()
            .await;
        let mut second = RawClient::connect(&server).await;
        assert_eq!(first.request(get("/")).await.text(), "ok");
        assert_eq!(second.request(get("/")).await.text(), "ok");
        assert_eq!(server.open_connections(), 2);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_concurrency_limit_holds_the_next_connection_until_one_closes() {
    within(async {
        let log = Log::default();
        let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
        let (entered, mut entries) = mpsc::unbounded_channel::<String>();
        let gates: Arc<[Semaphore; 2]> = Arc::new([Semaphore::new(0), Semaphore::new(0)]);
        let held = gates.clone();
        let server = Server::builder()
            .concurrency(2)
            .on_connect(move |info| l1.push(format!("connect {}", info.id)))
            .on_disconnect(move |info| l2.push(format!("disconnect {}", info.id)))
            .pre_request(move |req| l3.push(format!("pre {}", req.path())))
            .post_request(move |req, _sent| l4.push(format!("post {}", req.path())))
            .handler("^/hold/", move |req: Request| {
                let (entered, gates) = (entered.clone(), held.clone());
                async move {
                    let which: usize = req.path()["/hold/".len()..].parse().unwrap();
                    let _ = entered.send(req.path().to_owned());
                    gates[which].acquire().await.unwrap().forget();
                    Reply::text(format!("held {which}"))
                }
            })
            .handler("^/free$", |_req| async { Reply::text("free") })
            .start()
            .await
            .unwrap();
        let mut first = RawClient::connect(&server).await;
        first.send(get_close("/hold/0")).await;
        let mut second = RawClient::connect(&server).await;
        second.send(get_close("/hold/1")).await;
        let mut both = vec![entries.recv().await.unwrap(), entries.recv().await.unwrap()];
        both.sort();
        assert_eq!(both, ["/hold/0", "/hold/1"]);

        let mut third = RawClient::connect(&server).await;
        third.send(get("/free")).await;
        assert!(third.silent_for(Duration::from_millis(300)).await, "the third connection must wait");
        assert!(!log.has("pre /free"), "{:?}", log.all());
        assert!(!log.has("connect 3"), "{:?}", log.all());

        gates[0].add_permits(1);
        assert_eq!(first.response().await.text(), "held 0");
        first.assert_closed().await;
        assert_eq!(third.response().await.text(), "free");
        let after = |a: &str, b: &str| {
            let (a_at, b_at) = (log.position(a), log.position(b));
            assert!(a_at.is_some() && b_at.is_some() && a_at < b_at, "{a} before {b}: {:?}", log.all());
        };
        after("post /hold/0", "pre /free");
        after("post /hold/0", "connect 3");
        assert!(!log.has("post /hold/1"), "the other held request is still in flight");

        gates[1].add_permits(1);
        assert_eq!(second.response().await.text(), "held 1");
        server.shutdown().await;
    })
    .await
}

/// A port another listener holds for 60 ms; the task ends once it is released.
async fn port_taken_briefly() -> (u16, tokio::task::JoinHandle<()>) {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        drop(taken);
    });
    (port, release)
}

#[tokio::test]
async fn binding_a_port_in_use_fails_without_retry() {
    within(async {
        // The port frees up soon, but without bind_retry the server does not wait for it.
        let (port, release) = port_taken_briefly().await;
        let error = Server::builder().port(port).start().await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        release.await.unwrap();
    })
    .await
}

#[tokio::test]
async fn bind_retry_succeeds_once_the_port_is_freed() {
    within(async {
        let (port, release) = port_taken_briefly().await;
        let server = Server::builder()
            .port(port)
            .bind_retry(3, Duration::from_millis(50))
            .route("", |_req| async { Reply::text("bound") })
            .start()
            .await
            .expect("bound after a retry");
        release.await.unwrap();
        assert_eq!(server.port(), port);
        let res = client().get(server.url("/")).send().await;
        assert_eq!(res.text(), "bound");
        server.shutdown().await;
    })
    .await
}
