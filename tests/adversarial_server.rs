#![cfg(feature = "server")]
//! Hostile input against the bundled server: request smuggling shapes, broken chunked
//! framing with a pipelined request behind it, oversized targets and heads, slowloris on
//! a keep-alive connection, range amplification, path traversal, multipart part floods,
//! and Upgrade with early data on a plain route.
//!
//! Every refusal must be an error reply followed by a close, no smuggled request may ever
//! reach a handler (each route counts its invocations), and nothing may hang (every test
//! runs under `within`).

mod support;
use support::within;

use courier::server::{serve_dir, BodyError, Reply, Request, Server};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::raw_http::*;

/// A request that must never reach a handler when it rides behind a broken one.
fn smuggled() -> String {
    get("/smuggled")
}

// ---------------------------------------------------------------------------------------
// A server whose routes count their invocations
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Counts {
    body: AtomicUsize,
    plain: AtomicUsize,
    smuggled: AtomicUsize,
}

impl Counts {
    /// (`/body`, `/plain`, `/smuggled`) invocations.
    fn get(&self) -> (usize, usize, usize) {
        (
            self.body.load(Ordering::SeqCst),
            self.plain.load(Ordering::SeqCst),
            self.smuggled.load(Ordering::SeqCst),
        )
    }
}

/// `/body` reads the whole body and answers its length; `/plain` answers "plain" without
/// reading anything; `/smuggled` must never run.
async fn counting_server(
    configure: impl FnOnce(courier::server::ServerBuilder) -> courier::server::ServerBuilder,
) -> (Server, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let (c1, c2, c3) = (counts.clone(), counts.clone(), counts.clone());
    let builder = Server::builder()
        .host("127.0.0.1")
        .route("/body", move |req: Request| {
            c1.body.fetch_add(1, Ordering::SeqCst);
            async move {
                let body = req.body().await?;
                Ok::<_, BodyError>(Reply::text(format!("got {} bytes", body.len())))
            }
        })
        .route("/plain", move |_req: Request| {
            c2.plain.fetch_add(1, Ordering::SeqCst);
            async move { Reply::text("plain") }
        })
        .route("/smuggled", move |_req: Request| {
            c3.smuggled.fetch_add(1, Ordering::SeqCst);
            async move { Reply::text("SMUGGLED") }
        });
    let server = configure(builder).start().await.expect("start the server");
    (server, counts)
}

/// Sends `bytes` on a fresh connection; expects exactly one reply with `status` and
/// `Connection: close`, then the close, and nothing else (no second reply).
async fn refused_then_closed(addr: SocketAddr, bytes: &[u8], status: u16) -> RawResponse {
    let mut client = RawClient::framed(addr).await;
    client.send_lossy(bytes).await;
    let res = client.response().await;
    assert_eq!(res.status, status, "{:?} -> {}", lossy(bytes), lossy(&res.raw));
    assert!(res.closes(), "a refusal closes: {}", lossy(&res.raw));
    client.assert_closed().await;
    res
}

// ---------------------------------------------------------------------------------------
// Smuggling shapes in the head: 400 before any handler, then close
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn smuggling_shapes_in_the_head_are_refused_before_dispatch() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let addr = server.local_addr();
        // Each head is followed by a body that, read another way, ends with a complete
        // request for /smuggled.
        let tail = format!("0\r\n\r\n{}", smuggled());
        let shapes: Vec<(&str, String)> = vec![
            ("CL.TE", format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", tail.len())),
            ("TE.CL", "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n".into()),
            ("xchunked", "Transfer-Encoding: xchunked\r\n".into()),
            ("chunked, identity", "Transfer-Encoding: chunked, identity\r\n".into()),
            ("identity, chunked", "Transfer-Encoding: identity, chunked\r\n".into()),
            ("chunked, chunked", "Transfer-Encoding: chunked, chunked\r\n".into()),
            ("two TE lines", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n".into()),
            ("TE gzip", "Transfer-Encoding: gzip\r\n".into()),
            ("TE with params", "Transfer-Encoding: chunked;q=1\r\n".into()),
            ("empty TE", "Transfer-Encoding: \r\n".into()),
            ("differing CL", "Content-Length: 5\r\nContent-Length: 6\r\n".into()),
            ("differing CL list", "Content-Length: 5, 6\r\n".into()),
            ("CL +5", "Content-Length: +5\r\n".into()),
            ("CL -1", "Content-Length: -1\r\n".into()),
            ("CL 0x10", "Content-Length: 0x10\r\n".into()),
            ("CL 1e3", "Content-Length: 1e3\r\n".into()),
            ("CL empty", "Content-Length: \r\n".into()),
            ("CL 5 5 (space)", "Content-Length: 5 5\r\n".into()),
            ("CL u64 overflow", "Content-Length: 18446744073709551616\r\n".into()),
        ];
        for (name, fields) in &shapes {
            let request = format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\n{fields}\r\n{tail}");
            let res = refused_then_closed(addr, request.as_bytes(), 400).await;
            assert!(!contains(&res.raw, b"SMUGGLED"), "{name}");
            assert_eq!(counts.get(), (0, 0, 0), "{name}: no handler may run");
        }
        // The same shapes against a route that never reads the body.
        for (name, fields) in &shapes {
            let request = format!("POST /plain HTTP/1.1\r\nHost: {HOST}\r\n{fields}\r\n{tail}");
            refused_then_closed(addr, request.as_bytes(), 400).await;
            assert_eq!(counts.get(), (0, 0, 0), "{name}: no handler may run");
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn obfuscated_transfer_encoding_spellings() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let addr = server.local_addr();
        let tail = format!("5\r\nhello\r\n0\r\n\r\n{}", smuggled());
        // Whitespace around the value is optional whitespace (RFC 9110 §5.5): a leading
        // space or tab is not an obfuscation but the plain `chunked` coding, and the body
        // is framed exactly; the pipelined request after it is a genuine next request.
        for spelling in
            ["Transfer-Encoding:  chunked", "Transfer-Encoding:\tchunked", "Transfer-Encoding: chunked "]
        {
            let mut client = RawClient::framed(addr).await;
            client.send_lossy(format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\n{spelling}\r\n\r\n{tail}")).await;
            let first = client.response().await;
            assert_eq!((first.status, lossy(&first.body)), (200, "got 5 bytes".into()), "{spelling:?}");
            let second = client.response().await;
            assert_eq!((second.status, lossy(&second.body)), (200, "SMUGGLED".into()), "{spelling:?}");
        }
        assert_eq!(counts.get(), (3, 0, 3));

        // Spellings that are not the `chunked` coding, or not a header field at all.
        let refused = [
            "Transfer-Encoding: xchunked",
            "Transfer-Encoding: chunk",
            "Transfer-Encoding: \"chunked\"",
            "Transfer-Encoding: chunked\x0b",
            "Transfer-Encoding : chunked",
            " Transfer-Encoding: chunked",
            "Transfer-Encoding\t: chunked",
        ];
        for spelling in refused {
            let request = format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\n{spelling}\r\n\r\n{tail}");
            let res = refused_then_closed(addr, request.as_bytes(), 400).await;
            assert!(!contains(&res.raw, b"SMUGGLED"), "{spelling:?}");
        }
        assert_eq!(counts.get(), (3, 0, 3), "no refused spelling reached a handler");

        // `Transfer_Encoding` is another (unknown) field, not a spelling of TE: the body is
        // framed by its Content-Length (1 byte, "5"), and what follows ("\r\nhello...") is
        // a malformed next request: 400 and close; /smuggled behind it never runs.
        let mut client = RawClient::framed(addr).await;
        client
            .send_lossy(format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\nTransfer_Encoding: chunked\r\nContent-Length: 1\r\n\r\n{tail}"))
            .await;
        let first = client.response().await;
        assert_eq!((first.status, lossy(&first.body)), (200, "got 1 bytes".into()));
        let second = client.response().await;
        assert_eq!(second.status, 400, "{}", lossy(&second.raw));
        assert!(second.closes());
        client.assert_closed().await;
        assert_eq!(counts.get(), (4, 0, 3));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn transfer_encoding_in_http_1_0_is_refused() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let request = format!(
            "POST /body HTTP/1.0\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{}",
            smuggled()
        );
        refused_then_closed(server.local_addr(), request.as_bytes(), 400).await;
        // With a Content-Length beside it too.
        let request = format!(
            "POST /body HTTP/1.0\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{}",
            smuggled()
        );
        refused_then_closed(server.local_addr(), request.as_bytes(), 400).await;
        assert_eq!(counts.get(), (0, 0, 0));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn duplicate_identical_content_lengths_frame_the_body_exactly() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        for fields in ["Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length: 5, 5\r\n"] {
            let mut client = RawClient::framed(server.local_addr()).await;
            client
                .send_lossy(format!(
                    "POST /body HTTP/1.1\r\nHost: {HOST}\r\n{fields}\r\nhello{}",
                    get("/plain")
                ))
                .await;
            let first = client.response().await;
            assert_eq!((first.status, lossy(&first.body)), (200, "got 5 bytes".into()), "{fields:?}");
            let second = client.response().await;
            assert_eq!((second.status, lossy(&second.body)), (200, "plain".into()), "{fields:?}");
        }
        assert_eq!(counts.get(), (2, 2, 0));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_content_length_over_the_body_limit_is_413_without_reading_the_body() {
    within(async {
        let (server, counts) = counting_server(|b| b.max_body_size(1024)).await;
        let addr = server.local_addr();
        // Just over the limit, and absurdly large: 413 from the head alone; the body is
        // never sent, so a server that waited for it would hang.
        for length in ["1025", "1000000000000", "18446744073709551615"] {
            let request = format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {length}\r\n\r\n");
            refused_then_closed(addr, request.as_bytes(), 413).await;
            let request = format!("POST /plain HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {length}\r\n\r\n");
            refused_then_closed(addr, request.as_bytes(), 413).await;
        }
        // At the limit it is read.
        let mut client = RawClient::framed(addr).await;
        client
            .send_lossy(format!(
                "POST /body HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 1024\r\n\r\n{}",
                "x".repeat(1024)
            ))
            .await;
        let res = client.response().await;
        assert_eq!((res.status, lossy(&res.body)), (200, "got 1024 bytes".into()));
        assert_eq!(counts.get(), (1, 0, 0));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_413_survives_a_client_that_sends_the_body_anyway() {
    within(async {
        let (server, counts) = counting_server(|b| b.max_body_size(1024)).await;
        // The client does not wait: head and 1 MiB of body in one go. The server refuses
        // from the head; the 413 must still reach the client (not be destroyed by a reset
        // because body bytes were left unread when the server closed).
        let mut client = RawClient::framed(server.local_addr()).await;
        let mut request =
            format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {}\r\n\r\n", 1 << 20)
                .into_bytes();
        request.resize(request.len() + (1 << 20), b'z');
        client.send_lossy(&request).await;
        let res = client.response().await;
        assert_eq!(res.status, 413);
        assert!(res.closes());
        assert_eq!(counts.get(), (0, 0, 0));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_chunked_body_over_the_body_limit_is_413_and_closes() {
    within(async {
        let (server, counts) = counting_server(|b| b.max_body_size(1024)).await;
        let mut client = RawClient::framed(server.local_addr()).await;
        let mut request =
            format!("POST /body HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
        for _ in 0..3 {
            request.extend_from_slice(format!("200\r\n{}\r\n", "y".repeat(0x200)).as_bytes());
        }
        request.extend_from_slice(b"0\r\n\r\n");
        request.extend_from_slice(smuggled().as_bytes());
        client.send_lossy(&request).await;
        let res = client.response().await;
        assert_eq!(res.status, 413, "{}", lossy(&res.raw));
        assert!(res.closes());
        client.assert_closed().await;
        assert_eq!(counts.get(), (1, 0, 0));
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Broken chunked framing with a pipelined request behind it
// ---------------------------------------------------------------------------------------

/// A chunked POST whose body is `body` followed, in the same write, by a request for
/// /smuggled: the handler runs once, the reply closes, /smuggled never runs.
async fn broken_chunked_never_smuggles(route: &str, body: &[u8], expected_status: u16) {
    let (server, counts) = counting_server(|b| b).await;
    let mut client = RawClient::framed(server.local_addr()).await;
    let mut request =
        format!("POST {route} HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    request.extend_from_slice(smuggled().as_bytes());
    client.send_lossy(&request).await;
    let res = client.response().await;
    assert_eq!(res.status, expected_status, "{}", lossy(&res.raw));
    assert!(res.closes(), "{}", lossy(&res.raw));
    let rest = client.rest().await;
    assert!(rest.is_empty(), "nothing after the reply: {:?}", lossy(&rest));
    let expected = if route == "/body" { (1, 0, 0) } else { (0, 1, 0) };
    assert_eq!(counts.get(), expected, "{route}: the smuggled request must never be dispatched");
    // (Closing first ends the server's lingering close at once.)
    drop(client);
    server.shutdown().await;
}

#[tokio::test]
async fn an_overflowing_chunk_size_never_dispatches_the_pipelined_request() {
    within(async {
        // 18 hex digits: more than 64 bits.
        broken_chunked_never_smuggles("/body", b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400).await;
        // The handler that does not read: the server drains, finds the overflow, and
        // refuses the request whatever the handler said.
        broken_chunked_never_smuggles("/plain", b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400).await;
        // 16 digits fit in u64 but declare an absurd chunk: the data is "read" until the
        // drain limit or the end; either way the smuggled request is chunk data.
        broken_chunked_never_smuggles("/plain", b"1000000000000000\r\n", 200).await;
    })
    .await;
}

#[tokio::test]
async fn malformed_chunk_lines_never_dispatch_the_pipelined_request() {
    within(async {
        let long_extension = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(5000));
        let many_extensions: String =
            (0..10).map(|_| format!("1;{}\r\nx\r\n", "e".repeat(2000))).collect::<String>() + "0\r\n\r\n";
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("extension too long", long_extension.into_bytes()),
            ("extensions too long in total", many_extensions.into_bytes()),
            ("bare LF after size", b"5\nhello\r\n0\r\n\r\n".to_vec()),
            ("no CRLF after data", b"5\r\nhelloXX0\r\n\r\n".to_vec()),
            ("negative size", b"-5\r\nhello\r\n0\r\n\r\n".to_vec()),
            ("0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n".to_vec()),
            ("empty size", b"\r\nhello\r\n0\r\n\r\n".to_vec()),
            ("LF in extension", b"5;a\nb\r\nhello\r\n0\r\n\r\n".to_vec()),
            ("size then junk", b"5 z\r\nhello\r\n0\r\n\r\n".to_vec()),
        ];
        for (name, body) in bodies {
            eprintln!("case: {name}");
            broken_chunked_never_smuggles("/body", &body, 400).await;
            broken_chunked_never_smuggles("/plain", &body, 400).await;
        }
    })
    .await;
}

#[tokio::test]
async fn huge_trailers_are_refused() {
    within(async {
        let mut body = b"1\r\nx\r\n0\r\n".to_vec();
        for i in 0..50 {
            body.extend_from_slice(format!("x-trailer-{i}: {}\r\n", "t".repeat(500)).as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        broken_chunked_never_smuggles("/body", &body, 400).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Oversized targets and heads
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn huge_targets_and_heads_are_414_and_431() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let addr = server.local_addr();
        // Just over 8 KiB of target: 414.
        let target = format!("/plain?{}", "a".repeat(8 * 1024));
        refused_then_closed(addr, get(&target).as_bytes(), 414).await;
        // At the limit: served.
        let target = format!("/plain?{}", "a".repeat(8 * 1024 - "/plain?".len()));
        let mut client = RawClient::framed(addr).await;
        client.send_lossy(get(&target)).await;
        assert_eq!(client.response().await.status, 200);
        // A target bigger than the whole head limit: 431 (the head never completes).
        let target = format!("/plain?{}", "a".repeat(70 * 1024));
        refused_then_closed(addr, get(&target).as_bytes(), 431).await;
        // A head over 64 KiB in header fields: 431.
        let fields: String = (0..20).map(|i| format!("x-filler-{i}: {}\r\n", "f".repeat(4000))).collect();
        let request = format!("GET /plain HTTP/1.1\r\nHost: {HOST}\r\n{fields}\r\n");
        refused_then_closed(addr, request.as_bytes(), 431).await;
        // More than 100 header fields: 431.
        let fields: String = (0..101).map(|i| format!("x-f{i}: v\r\n")).collect();
        let request = format!("GET /plain HTTP/1.1\r\nHost: {HOST}\r\n{fields}\r\n");
        refused_then_closed(addr, request.as_bytes(), 431).await;
        // A head that never ends (no blank line) and keeps growing: 431 once it passes
        // the limit, without waiting for the end.
        let mut client = RawClient::framed(addr).await;
        client.send_lossy(format!("GET /plain HTTP/1.1\r\nHost: {HOST}\r\n")).await;
        // 66 lines of 1 KiB: just past the limit.
        let endless = format!("x-more: {}\r\n", "m".repeat(1014)).repeat(66);
        client.send_lossy(&endless).await;
        let res = client.response().await;
        assert_eq!(res.status, 431);
        assert!(res.closes());
        assert_eq!(counts.get(), (0, 1, 0), "only the request at the limit ran");
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn slowloris_on_the_second_request_of_a_keep_alive_connection_gets_408() {
    within(async {
        let (server, counts) = counting_server(|b| {
            b.request_timeout(Duration::from_millis(300)).idle_timeout(Duration::from_secs(5))
        })
        .await;
        let mut client = RawClient::framed(server.local_addr()).await;
        client.send_lossy(get("/plain")).await;
        let first = client.response().await;
        assert_eq!((first.status, first.closes()), (200, false));
        // The second head trickles in a byte every 50 ms: ~50 bytes take 2.5 s, far past
        // the 300 ms request timeout. The server answers 408 and closes mid-head.
        let second = get("/smuggled");
        let (got, sent) = client.trickle(second.as_bytes(), Duration::from_millis(50)).await;
        let (res, used) = parse_one(&got, false, false).expect("a complete 408");
        assert_eq!(res.status, 408, "{}", lossy(&got));
        assert!(res.closes());
        assert_eq!(used, got.len(), "nothing after the 408");
        assert!(sent < second.len(), "the server answered before the head was complete ({sent} bytes sent)");
        assert_eq!(counts.get(), (0, 1, 0));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn slowloris_on_the_first_request_gets_408() {
    within(async {
        let (server, counts) = counting_server(|b| b.request_timeout(Duration::from_millis(300))).await;
        let mut client = RawClient::framed(server.local_addr()).await;
        let request = get("/smuggled");
        let (got, sent) = client.trickle(request.as_bytes(), Duration::from_millis(50)).await;
        let (res, _) = parse_one(&got, false, false).expect("a complete 408");
        assert_eq!(res.status, 408, "{}", lossy(&got));
        assert!(res.closes());
        assert!(sent < request.len());
        assert_eq!(counts.get(), (0, 0, 0));
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Range amplification
// ---------------------------------------------------------------------------------------

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "courier-adversarial-{}-{name}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const FILE_SIZE: usize = 10_000;

fn file_content() -> Vec<u8> {
    (0..FILE_SIZE).map(|i| b'a' + (i % 26) as u8).collect()
}

async fn range_server(dir: &TempDir) -> Server {
    std::fs::write(dir.0.join("file.txt"), file_content()).unwrap();
    Server::builder().host("127.0.0.1").route("/", serve_dir(dir.0.clone())).start().await.unwrap()
}

async fn ranged(server: &Server, range: &str) -> RawResponse {
    let mut client = RawClient::framed(server.local_addr()).await;
    client
        .send_lossy(format!(
            "GET /file.txt HTTP/1.1\r\nHost: {HOST}\r\nRange: {range}\r\nConnection: close\r\n\r\n"
        ))
        .await;
    let res = client.response().await;
    client.assert_closed().await;
    res
}

#[tokio::test]
async fn hundreds_of_ranges_are_not_amplified() {
    within(async {
        let dir = TempDir::new("ranges");
        let server = range_server(&dir).await;
        let content = file_content();

        // 500 overlapping whole-file ranges: more than the range limit, so ignored: the
        // whole file once, not 500 times.
        let res = ranged(&server, &format!("bytes={}", vec!["0-"; 500].join(","))).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body, content);

        // 500 small disjoint ranges: ignored too.
        let many: Vec<String> = (0..500).map(|i| format!("{}-{}", i * 20, i * 20 + 1)).collect();
        let res = ranged(&server, &format!("bytes={}", many.join(","))).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body, content);

        // 500 suffix ranges and 500 single bytes of the same spot.
        let res = ranged(&server, &format!("bytes={}", vec!["-10000"; 500].join(","))).await;
        assert_eq!((res.status, res.body.len()), (200, FILE_SIZE));
        let res = ranged(&server, &format!("bytes={}", vec!["5-5"; 500].join(","))).await;
        assert_eq!((res.status, res.body.len()), (200, FILE_SIZE));

        // Within the limit (16), overlapping whole-file ranges merge into one: 206 with
        // the file once.
        let res = ranged(&server, &format!("bytes={}", vec!["0-"; 16].join(","))).await;
        assert_eq!(res.status, 206);
        assert_eq!(res.header("content-range"), Some("bytes 0-9999/10000"));
        assert_eq!(res.body, content);

        // 16 overlapping ranges of various shapes also merge: one part.
        let res = ranged(
            &server,
            "bytes=0-5000,100-200,4000-,0-0,-6000,1-9999,0-,2-3,500-9000,9999-,0-1,3-4,5-6,7-8,9-10,11-12",
        )
        .await;
        assert_eq!(res.status, 206);
        assert_eq!(res.body, content);

        // 16 disjoint ranges: a multipart with 16 parts, bounded by the file size plus
        // per-part overhead (never more than 2x the file plus 200 bytes a part).
        let sixteen: Vec<String> = (0..16).map(|i| format!("{}-{}", i * 600, i * 600 + 99)).collect();
        let res = ranged(&server, &format!("bytes={}", sixteen.join(","))).await;
        assert_eq!(res.status, 206);
        assert!(res.header("content-type").unwrap().starts_with("multipart/byteranges; boundary="));
        let parts = res.body.windows(b"Content-Range: ".len()).filter(|w| *w == b"Content-Range: ").count();
        assert_eq!(parts, 16);
        assert!(res.body.len() <= 2 * FILE_SIZE + 16 * 200, "{} bytes", res.body.len());
        for i in 0..16 {
            let start = i * 600;
            let piece = &content[start..start + 100];
            let header = format!("Content-Range: bytes {}-{}/10000\r\n\r\n", start, start + 99);
            let at = find_from(&res.body, header.as_bytes(), 0).expect("the part's header") + header.len();
            assert_eq!(&res.body[at..at + 100], piece);
        }

        // Nothing satisfiable: 416, no body beyond the error message.
        let res = ranged(&server, &format!("bytes={}", ["20000-"; 10].join(","))).await;
        assert_eq!(res.status, 416);
        assert_eq!(res.header("content-range"), Some("bytes */10000"));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_range_header_bigger_than_the_head_limit_is_431() {
    within(async {
        let dir = TempDir::new("range-head");
        let server = range_server(&dir).await;
        let range = format!("bytes={}", vec!["0-"; 30_000].join(","));
        let request = format!("GET /file.txt HTTP/1.1\r\nHost: {HOST}\r\nRange: {range}\r\n\r\n");
        refused_then_closed(server.local_addr(), request.as_bytes(), 431).await;
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Path traversal
// ---------------------------------------------------------------------------------------

const SECRET: &str = "TOP-SECRET-6b1d2a";

#[tokio::test]
async fn path_traversal_never_leaves_the_root() {
    within(async {
        let base = TempDir::new("traversal");
        let root = base.0.join("public");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("public.txt"), "public").unwrap();
        std::fs::write(root.join("sub/inner.txt"), "inner").unwrap();
        std::fs::write(base.0.join("secret.txt"), SECRET).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.0.join("secret.txt"), root.join("link-out.txt")).unwrap();
            std::os::unix::fs::symlink(&base.0, root.join("dir-out")).unwrap();
        }
        let server =
            Server::builder().host("127.0.0.1").route("/", serve_dir(root.clone())).start().await.unwrap();
        let absolute = base.0.join("secret.txt").display().to_string();

        let cases: Vec<(String, u16)> = vec![
            ("/../secret.txt".into(), 400),
            ("/sub/../../secret.txt".into(), 400),
            ("/%2e%2e/secret.txt".into(), 400),
            ("/%2E%2E/secret.txt".into(), 400),
            ("/.%2e/secret.txt".into(), 400),
            ("/..%2fsecret.txt".into(), 400),
            ("/..%2Fsecret.txt".into(), 400),
            ("/%2e%2e%2fsecret.txt".into(), 400),
            ("/sub%2f..%2f..%2fsecret.txt".into(), 400),
            // Double encoding decodes once: a file literally named "%2e%2e" (absent).
            ("/%252e%252e/secret.txt".into(), 404),
            ("/%252e%252e%252fsecret.txt".into(), 404),
            ("/..\\secret.txt".into(), 400),
            ("/\\..\\secret.txt".into(), 400),
            ("/%5c..%5csecret.txt".into(), 400),
            ("/..%5csecret.txt".into(), 400),
            // `.` segments are skipped: still under the root.
            ("/./././secret.txt".into(), 404),
            ("/./././public.txt".into(), 200),
            ("//secret.txt".into(), 404),
            (format!("/{absolute}"), 404),
            (format!("/{}", absolute.trim_start_matches('/')), 404),
            (format!("/%2f{}", absolute.trim_start_matches('/').replace('/', "%2f")), 404),
            ("/secret.txt%00".into(), 400),
            ("/public.txt%00.png".into(), 400),
            ("/%00/../secret.txt".into(), 400),
            // Overlong UTF-8 for "." and "/": not UTF-8, refused.
            ("/%c0%ae%c0%ae/secret.txt".into(), 400),
            ("/..%c0%afsecret.txt".into(), 400),
            ("/%e0%80%ae%e0%80%ae/secret.txt".into(), 400),
            ("/%2".into(), 400),
            ("/%zz/secret.txt".into(), 400),
            ("/link-out.txt".into(), 404),
            ("/dir-out/secret.txt".into(), 404),
            // Out through a symlink and back in: the resolved path is under the root.
            ("/dir-out/public/public.txt".into(), 200),
        ];
        for (target, status) in &cases {
            let mut client = RawClient::framed(server.local_addr()).await;
            client
                .send_lossy(format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"))
                .await;
            let all = client.rest().await;
            assert!(!contains(&all, SECRET.as_bytes()), "{target}: the secret leaked: {}", lossy(&all));
            let (res, _) = parse_one(&all, false, false)
                .unwrap_or_else(|| panic!("{target}: no reply: {}", lossy(&all)));
            assert_eq!(res.status, *status, "{target}: {}", lossy(&res.raw));
            if *status == 200 {
                assert_eq!(res.body, b"public");
            }
        }
        // Absolute-form targets name the same paths.
        for target in ["http://courier.test/../secret.txt", "http://courier.test/%2e%2e/secret.txt"] {
            let mut client = RawClient::framed(server.local_addr()).await;
            client
                .send_lossy(format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"))
                .await;
            let all = client.rest().await;
            assert!(!contains(&all, SECRET.as_bytes()), "{target}: the secret leaked");
            let (res, _) = parse_one(&all, false, false).expect("a reply");
            assert_eq!(res.status, 400, "{target}: {}", lossy(&res.raw));
        }
        // HEAD too.
        let mut client = RawClient::framed(server.local_addr()).await;
        client
            .send_lossy(format!(
                "HEAD /%2e%2e/secret.txt HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
            ))
            .await;
        let res = client.head_response().await;
        assert_eq!(res.status, 400);
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Multipart part floods
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_multipart_body_with_thousands_of_parts_is_413() {
    within(async {
        let parsed = Arc::new(AtomicUsize::new(0));
        let seen = parsed.clone();
        let server = Server::builder()
            .host("127.0.0.1")
            .route("/form", move |req: Request| {
                let seen = seen.clone();
                async move {
                    let parts = req.multipart().await?;
                    seen.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, courier::server::FormError>(Reply::text(format!("{} parts", parts.len())))
                }
            })
            .start()
            .await
            .unwrap();
        let form = |parts: usize| {
            let mut body = String::new();
            for i in 0..parts {
                body.push_str(&format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"
                ));
            }
            body.push_str("--XyZ--\r\n");
            format!(
                "POST /form HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        assert_eq!(courier::server::DEFAULT_MAX_PARTS, 1000);
        // At the limit: accepted.
        let mut client = RawClient::framed(server.local_addr()).await;
        client.send_lossy(form(1000)).await;
        let res = client.response().await;
        assert_eq!((res.status, lossy(&res.body)), (200, "1000 parts".into()));
        // One over, and 5000: 413.
        for parts in [1001, 5000] {
            let mut client = RawClient::framed(server.local_addr()).await;
            client.send_lossy(form(parts)).await;
            let res = client.response().await;
            assert_eq!(res.status, 413, "{parts}: {}", lossy(&res.raw));
        }
        // Thousands of empty parts with no names, in a body beyond the drain limit: 413 and
        // the connection closes rather than reading the rest.
        let mut client = RawClient::framed(server.local_addr()).await;
        let mut body = String::new();
        for _ in 0..20_000 {
            body.push_str("--XyZ\r\n\r\n\r\n");
        }
        body.push_str("--XyZ--\r\n");
        client
            .send_lossy(format!(
                "POST /form HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n\
                 Content-Length: {}\r\n\r\n{body}{}",
                body.len(),
                get("/form")
            ))
            .await;
        let res = client.response().await;
        assert!(res.status == 413 || res.status == 400, "{}", lossy(&res.raw));
        assert_eq!(parsed.load(Ordering::SeqCst), 1, "only the form at the limit was accepted");
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Upgrade with early data on a plain route
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn upgrade_with_early_data_on_a_plain_route_is_not_a_protocol_switch() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let addr = server.local_addr();
        // A WebSocket-looking upgrade on /plain, with a second request right behind it:
        // the route does not switch protocols, so the bytes after the head are the next
        // request, parsed and answered as such.
        let mut client = RawClient::framed(addr).await;
        client
            .send_lossy(format!(
                "GET /plain HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n{}",
                get("/plain")
            ))
            .await;
        let first = client.response().await;
        assert_eq!((first.status, lossy(&first.body)), (200, "plain".into()), "{}", lossy(&first.raw));
        assert_ne!(first.status, 101);
        let second = client.response().await;
        assert_eq!((second.status, lossy(&second.body)), (200, "plain".into()));
        assert_eq!(counts.get(), (0, 2, 0));

        // Early data that is not HTTP (a masked WebSocket frame): answered, then the
        // garbage is a malformed request: 400 and close, no crash.
        let mut client = RawClient::framed(addr).await;
        let mut bytes = format!(
            "GET /plain HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, b'\r', b'\n', b'\r', b'\n']);
        client.send_lossy(&bytes).await;
        let first = client.response().await;
        assert_eq!(first.status, 200);
        let second = client.response().await;
        assert_eq!(second.status, 400, "{}", lossy(&second.raw));
        assert!(second.closes());
        client.assert_closed().await;

        // An Upgrade request with a body: the body is framed by Content-Length and the
        // request after it is the next one; an h2c upgrade is ignored.
        let mut client = RawClient::framed(addr).await;
        client
            .send_lossy(format!(
                "POST /body HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\
                 HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello{}",
                get("/plain")
            ))
            .await;
        let first = client.response().await;
        assert_eq!((first.status, lossy(&first.body)), (200, "got 5 bytes".into()));
        let second = client.response().await;
        assert_eq!((second.status, lossy(&second.body)), (200, "plain".into()));
        assert_eq!(counts.get(), (1, 4, 0));
        // The server is fine afterwards.
        let mut client = RawClient::framed(addr).await;
        client.send_lossy(get("/plain")).await;
        assert_eq!(client.response().await.status, 200);
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Garbage request lines, and the server survives all of it
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn garbage_heads_are_400_and_the_server_survives() {
    within(async {
        let (server, counts) = counting_server(|b| b).await;
        let addr = server.local_addr();
        let garbage: Vec<Vec<u8>> = vec![
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            b"GET /plain HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n".to_vec(),
            b"GET /plain HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n".to_vec(),
            b"GET /plain HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            b"GET /plain HTTP/1.1\r\n\r\n".to_vec(),
            b"GET /plain HTTP/1.1\r\nHost: user@evil\r\n\r\n".to_vec(),
            b"GET /plain#frag HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            b"GET plain HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            b"G\xffT /plain HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            b"GET /plain HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n".to_vec(),
        ];
        for bytes in &garbage {
            refused_then_closed(addr, bytes, 400).await;
        }
        assert_eq!(counts.get(), (0, 0, 0));
        // Another major version is 505, not a parse error.
        for bytes in [&b"GET /plain HTTP/2.0\r\nHost: a\r\n\r\n"[..], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"] {
            refused_then_closed(addr, bytes, 505).await;
        }
        assert_eq!(counts.get(), (0, 0, 0));
        let mut client = RawClient::framed(addr).await;
        client.send_lossy(get("/plain")).await;
        assert_eq!(client.response().await.status, 200);
        server.shutdown().await;
    })
    .await;
}
