//! Hostile responses (issue 9, part 2): what the client does when the server is the attacker.
//!
//! Every case asserts the exact outcome: a real response where the bytes are valid HTTP,
//! otherwise a pseudo-status (596 head, 597 body, 599 redirect/scheme) with its ErrorKind
//! and a stable part of the reason. Floods assert that the client stops reading (the
//! server's writes fail long before it has sent everything). Pool cases count connections,
//! so bytes a server sends beyond a response never reach the next request.

mod support;
use support::*;

use courier::h1::limits::{MAX_HEADERS, MAX_HEAD_SIZE, MAX_INTERIM_RESPONSES};
use courier::{Client, CloseReason, ConnectionEvent, ErrorKind, EventKind, Proxy, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// The activity timeout of the test clients: well under `within`'s limit, so a client that
/// waits where it should not fails as a timeout (whose reason says so) rather than a hang.
const TIMEOUT: Duration = Duration::from_secs(5);

/// How much a flooding server tries to send. Far beyond every limit and every socket
/// buffer: a server that gets all of it out was read by a client that never stopped.
const FLOOD_CAP: usize = 64 * 1024 * 1024;

/// What a flooding server may get out before its writes fail: the client's limit plus
/// what loopback socket buffers absorb (a few MiB at most). In practice the writes fail
/// within a few KiB of the limit.
const FLOOD_BOUND: usize = MAX_HEAD_SIZE + 8 * 1024 * 1024;

/// A client of its own (its own pool), direct (no proxy from the environment).
fn client() -> Client {
    Client::builder().timeout(TIMEOUT).proxy(Proxy::none()).build().unwrap()
}

/// A client that records its connection events.
fn observed_client() -> (Client, Arc<Mutex<Vec<ConnectionEvent>>>, Arc<tokio::sync::Notify>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let changed = Arc::new(tokio::sync::Notify::new());
    let (sink, notify) = (events.clone(), changed.clone());
    let client = Client::builder()
        .timeout(TIMEOUT)
        .proxy(Proxy::none())
        .on_connection_event(move |event| {
            sink.lock().unwrap().push(event.clone());
            notify.notify_waiters();
        })
        .build()
        .unwrap();
    (client, events, changed)
}

/// Waits until the recorded events satisfy `condition` (run under `within`).
async fn wait_for_event(
    events: &Mutex<Vec<ConnectionEvent>>,
    changed: &tokio::sync::Notify,
    condition: impl Fn(&[ConnectionEvent]) -> bool,
) {
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if condition(&events.lock().unwrap()) {
            return;
        }
        notified.await;
    }
}

/// The Close reasons recorded so far, in order.
fn close_reasons(events: &Mutex<Vec<ConnectionEvent>>) -> Vec<CloseReason> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::Close(reason) => Some(reason),
            _ => None,
        })
        .collect()
}

/// GETs `/` from a server that answers with `response` and closes; one connection.
async fn answer(response: impl Into<Vec<u8>>) -> Response {
    let server = Scripted::respond(response).await;
    let res = within(client().get(server.url("/")).send()).await;
    assert_eq!(server.connects(), 1);
    res
}

/// A 596 ResponseHead whose reason contains `part`.
#[track_caller]
fn assert_head_failure(res: &Response, part: &str) {
    let reason = assert_failure(res, 596, ErrorKind::ResponseHead);
    assert!(reason.contains(part), "reason {reason:?} lacks {part:?}");
    assert!(!res.error().unwrap().is_timeout(), "{reason}");
}

/// A 597 ResponseBody whose reason contains `part`.
#[track_caller]
fn assert_body_failure(res: &Response, part: &str) {
    assert_eq!(res.status().as_u16(), 597, "{}", res.reason());
    assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseBody), "{}", res.reason());
    assert!(res.reason().contains(part), "reason {:?} lacks {part:?}", res.reason());
    assert!(!res.error().unwrap().is_timeout(), "{}", res.reason());
}

/// What a flooding server managed: bytes written, and whether a write failed (the client
/// closed the connection) before it reached [`FLOOD_CAP`].
#[derive(Debug)]
struct Flooded {
    written: usize,
    cut_off: bool,
}

/// Writes `prefix`, then `filler` again and again (one write each, yielding in between)
/// until a write fails or [`FLOOD_CAP`] is reached; reports what it managed, and keeps the
/// connection open unless the client cut it off.
async fn flood_peer(mut peer: Peer, prefix: &[u8], filler: &[u8], report: &mpsc::UnboundedSender<Flooded>) {
    let mut written = 0;
    let mut cut_off = peer.stream.write_all(prefix).await.is_err();
    while !cut_off && written < FLOOD_CAP {
        match peer.stream.write_all(filler).await {
            Ok(()) => written += filler.len(),
            Err(_) => cut_off = true,
        }
        tokio::task::yield_now().await;
    }
    let _ = report.send(Flooded { written, cut_off });
    if !cut_off {
        peer.hold().await;
    }
}

/// A server that answers the first request with a [`flood_peer`] of `prefix` and `filler`.
async fn flood(prefix: Vec<u8>, filler: Vec<u8>) -> (Scripted, mpsc::UnboundedReceiver<Flooded>) {
    let (report, reports) = mpsc::unbounded_channel();
    let (prefix, filler) = (Arc::new(prefix), Arc::new(filler));
    let server = Scripted::start(move |mut peer| {
        let (report, prefix, filler) = (report.clone(), prefix.clone(), filler.clone());
        async move {
            if peer.read_request().await.is_none() {
                return;
            }
            flood_peer(peer, &prefix, &filler, &report).await;
        }
    })
    .await;
    (server, reports)
}

/// Runs a GET against a flood and checks the client failed with `part` and cut it off.
async fn assert_flood_cut_off(prefix: &[u8], filler: &[u8], part: &str) {
    let (server, mut reports) = flood(prefix.to_vec(), filler.to_vec()).await;
    let res = within(client().get(server.url("/")).send()).await;
    assert_head_failure(&res, part);
    let flooded = within(reports.recv()).await.unwrap();
    assert!(flooded.cut_off, "the client read the whole flood: {flooded:?}");
    assert!(flooded.written < FLOOD_BOUND, "the client read far past its limit: {flooded:?}");
    assert_eq!(server.connects(), 1);
}

// ---------------------------------------------------------------------------------------
// Header floods and huge heads
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn exactly_max_headers_fields_is_accepted() {
    let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..MAX_HEADERS - 1 {
        response.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    response.extend_from_slice(b"content-length: 2\r\n\r\nok");
    let res = answer(response).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.headers().len(), MAX_HEADERS);
    assert_eq!(res.header("x-98").as_deref(), Some("v"));
    assert_eq!(res.text(), "ok");
}

#[tokio::test]
async fn one_field_more_than_max_headers_is_596() {
    let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..MAX_HEADERS {
        response.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    response.extend_from_slice(b"content-length: 2\r\n\r\nok");
    assert_head_failure(&answer(response).await, "too many header fields");
}

#[tokio::test]
async fn an_endless_stream_of_small_fields_is_cut_off_at_the_field_limit() {
    assert_flood_cut_off(b"HTTP/1.1 200 OK\r\n", b"x-flood: v\r\n", "too many header fields").await;
}

#[tokio::test]
async fn a_head_over_64k_sent_slowly_in_pieces_is_cut_off() {
    // 1000-byte fields, one write each: the size limit (about 65 fields) comes long
    // before the field-count limit.
    let mut line = b"x-big: ".to_vec();
    line.resize(998, b'a');
    line.extend_from_slice(b"\r\n");
    assert!(MAX_HEAD_SIZE / line.len() < MAX_HEADERS);
    assert_flood_cut_off(b"HTTP/1.1 200 OK\r\n", &line, "message head too large").await;
}

#[tokio::test]
async fn an_endless_header_line_is_cut_off() {
    assert_flood_cut_off(b"HTTP/1.1 200 OK\r\nx-endless: ", &[b'a'; 4096], "message head too large").await;
}

#[tokio::test]
async fn an_endless_reason_phrase_is_cut_off() {
    assert_flood_cut_off(b"HTTP/1.1 200 ", &[b'a'; 4096], "message head too large").await;
}

#[tokio::test]
async fn endless_bytes_that_are_not_http_are_refused_at_once() {
    assert_flood_cut_off(b"", &[b'a'; 4096], "unsupported HTTP version").await;
}

#[tokio::test]
async fn a_complete_head_just_over_64k_is_596() {
    let mut response = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    response.resize(MAX_HEAD_SIZE, b'a');
    response.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
    assert_head_failure(&answer(response).await, "message head too large");
}

// ---------------------------------------------------------------------------------------
// Malformed fields and line endings
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn obs_fold_continuation_lines_are_596() {
    for fold in [&b" "[..], b"\t", b"   "] {
        let mut response = b"HTTP/1.1 200 OK\r\nx-a: 1\r\n".to_vec();
        response.extend_from_slice(fold);
        response.extend_from_slice(b"folded\r\ncontent-length: 0\r\n\r\n");
        assert_head_failure(&answer(response).await, "malformed message head");
    }
}

#[tokio::test]
async fn bare_cr_line_endings_are_596() {
    for response in [
        &b"HTTP/1.1 200 OK\rx-a: 1\r\ncontent-length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nx-a: 1\rx-b: 2\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 0\r\n\r\r",
    ] {
        assert_head_failure(&answer(response).await, "malformed message head");
    }
}

#[tokio::test]
async fn bare_lf_line_endings_are_accepted_as_line_ends() {
    // RFC 9112 §2.2 lets a recipient accept a lone LF as a line terminator; httparse does.
    let res = answer(&b"HTTP/1.1 200 OK\nx-a: 1\ncontent-length: 2\n\nhi"[..]).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.header("x-a").as_deref(), Some("1"));
    assert_eq!(res.text(), "hi");
}

#[tokio::test]
async fn nul_and_control_bytes_in_a_header_value_are_596() {
    for value in [&b"a\0b"[..], b"a\x01b", b"a\x7fb", b"a\x1bb"] {
        let mut response = b"HTTP/1.1 200 OK\r\nx-a: ".to_vec();
        response.extend_from_slice(value);
        response.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        assert_head_failure(&answer(response).await, "malformed message head");
    }
}

#[tokio::test]
async fn malformed_header_names_are_596() {
    for line in [&b"x-a : 1"[..], b": 1", b"x a: 1", b"x-a", b"x\xffa: 1", b"x(a): 1"] {
        let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
        response.extend_from_slice(line);
        response.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        assert_head_failure(&answer(response).await, "malformed message head");
    }
}

#[tokio::test]
async fn non_utf8_header_values_are_kept_as_opaque_bytes() {
    let res = answer(&b"HTTP/1.1 200 OK\r\nx-latin1: caf\xe9\r\ncontent-length: 2\r\n\r\nok"[..]).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.headers()["x-latin1"].as_bytes(), b"caf\xe9");
    assert_eq!(res.header("x-latin1").as_deref(), Some("caf\u{fffd}"));
    assert_eq!(res.header_all("x-latin1"), ["caf\u{fffd}"]);
    assert_eq!(res.text(), "ok");
}

#[tokio::test]
async fn a_non_utf8_reason_phrase_reads_as_empty() {
    let res = answer(&b"HTTP/1.1 200 Caf\xe9\r\ncontent-length: 2\r\n\r\nok"[..]).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.error().is_none());
    assert_eq!(res.reason(), "");
    assert_eq!(res.text(), "ok");
}

#[tokio::test]
async fn control_bytes_in_the_reason_phrase_are_596() {
    for reason in [&b"O\0K"[..], b"O\x01K", b"O\x7fK"] {
        let mut response = b"HTTP/1.1 200 ".to_vec();
        response.extend_from_slice(reason);
        response.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        assert_head_failure(&answer(response).await, "malformed message head");
    }
}

// ---------------------------------------------------------------------------------------
// Status lines
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_later_http_1_minor_version_is_read_as_http_1_1() {
    // RFC 9110 §2.5: a recipient handles HTTP/1.x with x above 1 as the 1.1 it speaks.
    let res = answer(&b"HTTP/1.7 200 OK\r\ncontent-length: 2\r\n\r\nhi"[..]).await;
    assert_eq!(
        (res.status().as_u16(), res.version(), res.text().as_ref()),
        (200, Some(http::Version::HTTP_11), "hi")
    );
}

#[tokio::test]
async fn invalid_status_lines_are_596() {
    for (status_line, part) in [
        (&b"HTTP/2 200"[..], "unsupported HTTP version"),
        (b"HTTP/2.0 200 OK", "unsupported HTTP major version"),
        (b"HTTP/1.10 200 OK", "unsupported HTTP version"),
        (b"HTTP/0.9 200 OK", "unsupported HTTP version"),
        (b"http/1.1 200 OK", "unsupported HTTP version"),
        (b"ICY 200 OK", "unsupported HTTP version"),
        (b"HTTP/1.1200 OK", "malformed message head"),
        (b"HTTP/1.1 20 OK", "malformed message head"),
        (b"HTTP/1.1 2000 OK", "malformed message head"),
        (b"HTTP/1.1 abc OK", "malformed message head"),
        (b"HTTP/1.1 -200 OK", "malformed message head"),
        (b"HTTP/1.1 099 Low", "invalid status code"),
        (b"HTTP/1.1 000 Zero", "invalid status code"),
        (b"HTTP/1.1 200OK", "malformed message head"),
        (b" HTTP/1.1 200 OK", "malformed message head"),
    ] {
        let mut response = status_line.to_vec();
        response.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        let res = answer(response).await;
        let reason = assert_failure(&res, 596, ErrorKind::ResponseHead);
        assert!(
            reason.contains(part),
            "{:?}: reason {reason:?} lacks {part:?}",
            String::from_utf8_lossy(status_line)
        );
        assert_eq!(res.version(), None, "{:?}", String::from_utf8_lossy(status_line));
    }
}

#[tokio::test]
async fn an_http09_style_body_without_a_status_line_is_596() {
    let res = answer(&b"<html>hello</html>\n"[..]).await;
    assert_head_failure(&res, "unsupported HTTP version");
    // A short answer that is a prefix of nothing valid still fails, and so does silence.
    assert_head_failure(&answer(&b"hi"[..]).await, "unsupported HTTP version");
    assert_head_failure(&answer(&b""[..]).await, "connection closed before the response head");
    assert_head_failure(
        &answer(&b"HTTP/1.1 200 OK\r\n"[..]).await,
        "closed in the middle of the response head",
    );
}

#[tokio::test]
async fn a_three_digit_status_without_a_reason_is_valid() {
    for status_line in [&b"HTTP/1.1 200 "[..], b"HTTP/1.1 200"] {
        let mut response = status_line.to_vec();
        response.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
        let res = answer(response).await;
        assert_eq!(
            res.status().as_u16(),
            200,
            "{:?}: {}",
            String::from_utf8_lossy(status_line),
            res.reason()
        );
        assert_eq!(res.reason(), "");
        assert_eq!(res.text(), "ok");
    }
}

#[tokio::test]
async fn a_server_sent_59x_is_a_real_response_not_a_failure() {
    // The pseudo-statuses share their numbers with real ones: `error()` tells them apart.
    let res = answer(&b"HTTP/1.1 599 Spoofed\r\ncontent-length: 2\r\n\r\nok"[..]).await;
    assert_eq!(res.status().as_u16(), 599);
    assert!(res.error().is_none());
    assert!(!res.is_error());
    assert_eq!(res.reason(), "Spoofed");
    assert_eq!(res.text(), "ok");
    let res = answer(&b"HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n"[..]).await;
    assert_eq!(res.status().as_u16(), 999);
    assert!(res.error().is_none());
}

// ---------------------------------------------------------------------------------------
// Interim (1xx) responses
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_few_100_and_103_then_200_works() {
    let res = answer(
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n\
           HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"[..],
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.reason(), "OK");
    assert_eq!(res.header("link"), None, "an interim response's fields are not the final one's");
    assert_eq!(res.text(), "body");
}

#[tokio::test]
async fn exactly_the_interim_limit_then_200_works() {
    let mut response = b"HTTP/1.1 103 Early Hints\r\n\r\n".repeat(MAX_INTERIM_RESPONSES);
    response.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    let res = answer(response).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "ok");
}

#[tokio::test]
async fn one_interim_response_over_the_limit_is_596() {
    let mut response = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM_RESPONSES + 1);
    response.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    assert_head_failure(&answer(response).await, "too many interim (1xx) responses");
}

#[tokio::test]
async fn an_endless_1xx_storm_is_cut_off() {
    assert_flood_cut_off(b"", b"HTTP/1.1 102 Processing\r\n\r\n", "too many interim (1xx) responses").await;
}

#[tokio::test]
async fn a_101_without_an_upgrade_request_is_596() {
    let res = answer(&b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\nraw"[..]).await;
    assert_head_failure(&res, "101 Switching Protocols without an Upgrade request");
}

#[tokio::test]
async fn a_body_on_an_interim_response_is_read_as_the_next_head() {
    // 1xx responses have no body: the bytes after one must be a head, and these are not.
    let res =
        answer(&b"HTTP/1.1 100 Continue\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n"[..]).await;
    assert_head_failure(&res, "unsupported HTTP version");
}

// ---------------------------------------------------------------------------------------
// Location oddities
// ---------------------------------------------------------------------------------------

/// A keep-alive server answering each request with `route(target, host)`.
async fn routed(route: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> KeepAlive {
    KeepAlive::start(move |request| route(&request.target, request.header("host").unwrap_or_default())).await
}

fn redirect_to(status: u16, location: &str) -> String {
    format!("HTTP/1.1 {status} Moved\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n")
}

fn ok(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len())
}

#[tokio::test]
async fn two_differing_locations_are_refused_with_599() {
    let server = routed(|target, _| match target {
        "/start" => "HTTP/1.1 302 Found\r\nlocation: /a\r\nlocation: /b\r\ncontent-length: 0\r\n\r\n".into(),
        _ => ok("followed"),
    })
    .await;
    let res = within(client().get(server.url("/start")).send()).await;
    let reason = assert_failure(&res, 599, ErrorKind::Redirect);
    assert!(reason.contains("conflicting Location headers"), "{reason}");
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(302));
    assert_eq!(res.url(), server.url("/start"));
    assert_eq!(server.requests().len(), 1, "neither Location was followed");
}

#[tokio::test]
async fn repeated_identical_locations_are_followed() {
    let server = routed(|target, _| match target {
        "/start" => "HTTP/1.1 302 Found\r\nlocation: /a\r\nlocation: /a\r\ncontent-length: 0\r\n\r\n".into(),
        _ => ok("followed"),
    })
    .await;
    let res = within(client().get(server.url("/start")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "followed");
    assert_eq!(res.url(), server.url("/a"));
}

#[tokio::test]
async fn locations_to_other_schemes_are_never_followed() {
    for location in [
        "ftp://127.0.0.1/file",
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
    ] {
        let server = routed(move |_, _| redirect_to(302, location)).await;
        let res = within(client().get(server.url("/")).send()).await;
        let reason = assert_failure(&res, 599, ErrorKind::UnsupportedScheme);
        assert!(reason.contains("unsupported URL scheme"), "{location}: {reason}");
        let scheme = location.split(':').next().unwrap();
        assert!(res.url().starts_with(&format!("{scheme}:")), "{location}: url {}", res.url());
        assert_eq!(res.redirects().len(), 1, "{location}");
        assert_eq!(res.redirects()[0].status().as_u16(), 302);
        assert_eq!(server.requests().len(), 1, "{location}");
        assert_eq!(server.connects(), 1, "{location}");
    }
}

#[tokio::test]
async fn unusable_locations_are_599_redirect() {
    for location in [&b"http://"[..], b"http://[::1", b"http://127.0.0.1:99999/", b"/caf\xe9"] {
        let mut response = b"HTTP/1.1 302 Found\r\nlocation: ".to_vec();
        response.extend_from_slice(location);
        response.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        let server = Scripted::respond(response).await;
        let res = within(client().get(server.url("/")).send()).await;
        let reason = assert_failure(&res, 599, ErrorKind::Redirect);
        assert!(reason.contains("Location"), "{:?}: {reason}", String::from_utf8_lossy(location));
        assert_eq!(server.connects(), 1, "{:?}", String::from_utf8_lossy(location));
    }
}

#[tokio::test]
async fn credentials_in_a_location_are_neither_sent_nor_shown() {
    let server = routed(|target, host| match target {
        "/start" => redirect_to(302, &format!("http://user:secret@{host}/next")),
        _ => ok("landed"),
    })
    .await;
    let res = within(client().get(server.url("/start")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "landed");
    assert_eq!(res.url(), server.url("/next"));
    assert!(!res.url().contains("secret") && !res.url().contains("user"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let second = &requests[1];
    assert_eq!(second.target, "/next");
    assert_eq!(second.header("authorization"), None);
    // Basic base64("user:secret") = dXNlcjpzZWNyZXQ=
    for leak in ["secret", "user:", "dXNlcjpzZWNyZXQ"] {
        assert!(!second.head.contains(leak), "{leak:?} leaked into {:?}", second.head);
    }
}

#[tokio::test]
async fn a_redirect_loop_stops_after_recurse_with_the_last_3xx() {
    let server = routed(|target, _| match target {
        "/a" => redirect_to(302, "/b"),
        _ => redirect_to(302, "/a"),
    })
    .await;
    let res = within(client().get(server.url("/a")).recurse(5).send()).await;
    assert_eq!(res.status().as_u16(), 302, "{}", res.reason());
    assert!(res.error().is_none());
    assert_eq!(res.redirects().len(), 5);
    assert_eq!(res.url(), server.url("/b"));
    assert_eq!(res.header("location").as_deref(), Some("/a"));
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/a", "/b", "/a", "/b", "/a", "/b"]);
    assert_eq!(server.connects(), 1, "empty redirect bodies leave the connection reusable");
}

#[tokio::test]
async fn a_redirect_loop_stops_at_the_default_limit() {
    let server = routed(|_, _| redirect_to(301, "/again")).await;
    let res = within(client().get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 301, "{}", res.reason());
    assert_eq!(res.redirects().len(), courier::DEFAULT_MAX_RECURSE as usize);
    assert_eq!(server.requests().len(), courier::DEFAULT_MAX_RECURSE as usize + 1);
}

#[tokio::test]
async fn relative_locations_with_dot_segments_stay_on_the_origin() {
    let server = routed(|target, _| match target {
        "/a/b/c" => redirect_to(302, "../../x/./y/../z?q=1"),
        "/x/z?q=1" => redirect_to(302, "/../../../../etc/passwd"),
        _ => ok("end"),
    })
    .await;
    let res = within(client().get(server.url("/a/b/c")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/a/b/c", "/x/z?q=1", "/etc/passwd"]);
    assert_eq!(res.url(), server.url("/etc/passwd"));
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn a_protocol_relative_location_to_another_origin_gets_no_credentials() {
    let elsewhere = KeepAlive::start(|_| ok("elsewhere")).await;
    let other = format!("//127.0.0.1:{}/landing", elsewhere.server.port());
    let server = routed(move |_, _| redirect_to(302, &other)).await;
    let res = within(
        client()
            .get(server.url("/"))
            .bearer_auth("origin-only-token")
            .header("cookie", "session=origin-only")
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "elsewhere");
    let first = &server.requests()[0];
    assert_eq!(first.header("authorization"), Some("Bearer origin-only-token"));
    let landed = &elsewhere.requests()[0];
    assert_eq!(landed.target, "/landing");
    assert_eq!(landed.header("authorization"), None, "{}", landed.head);
    assert_eq!(landed.header("cookie"), None, "{}", landed.head);
    assert!(!landed.head.contains("origin-only"), "{}", landed.head);
}

// ---------------------------------------------------------------------------------------
// Cookie abuse
// ---------------------------------------------------------------------------------------

#[cfg(feature = "cookies")]
mod cookies {
    use super::*;
    use courier::{CookieJar, MAX_COOKIES_PER_DOMAIN, MAX_COOKIE_SIZE};

    fn with_cookies(lines: &[Vec<u8>]) -> Vec<u8> {
        let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
        for line in lines {
            response.extend_from_slice(b"set-cookie: ");
            response.extend_from_slice(line);
            response.extend_from_slice(b"\r\n");
        }
        response.extend_from_slice(b"content-length: 0\r\n\r\n");
        response
    }

    async fn get_with(jar: &CookieJar, response: Vec<u8>) -> (Response, String) {
        let server = Scripted::respond(response).await;
        let url = server.url("/");
        let res = within(client().get(&url).cookie_jar(jar).send()).await;
        (res, url)
    }

    #[tokio::test]
    async fn control_characters_in_set_cookie_fail_the_head_and_store_nothing() {
        for value in [&b"a=b\x01c"[..], b"a=b\0c", b"a=b\x7fc", b"a=1; Path=/\x1b[31m"] {
            let jar = CookieJar::new();
            let (res, _) = get_with(&jar, with_cookies(&[b"ok=1".to_vec(), value.to_vec()])).await;
            assert_head_failure(&res, "malformed message head");
            assert!(jar.is_empty(), "{:?}: {:?}", String::from_utf8_lossy(value), jar);
        }
    }

    #[tokio::test]
    async fn a_non_utf8_set_cookie_is_skipped_and_the_others_kept() {
        let jar = CookieJar::new();
        let (res, url) = get_with(&jar, with_cookies(&[b"bad=caf\xe9".to_vec(), b"good=1".to_vec()])).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(jar.cookies_for(&url), [("good".to_owned(), "1".to_owned())]);
    }

    #[tokio::test]
    async fn an_enormous_max_age_neither_panics_nor_expires() {
        let jar = CookieJar::new();
        // 1000 digits: far past i64, still under the 4 KiB cookie limit.
        let huge = format!("huge=2; Max-Age={}", "9".repeat(1000));
        let lines = [format!("max=1; Max-Age={}", u64::MAX).into_bytes(), huge.into_bytes()];
        let (res, url) = get_with(&jar, with_cookies(&lines)).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        jar.expire(false);
        assert_eq!(
            jar.cookies_for(&url),
            [("huge".to_owned(), "2".to_owned()), ("max".to_owned(), "1".to_owned())]
        );
        // Persistent cookies: they survive the end of the session, and saving them works.
        jar.expire(true);
        assert_eq!(jar.len(), 2);
        let mut saved = Vec::new();
        jar.save(&mut saved).unwrap();
        assert_eq!(CookieJar::load(&saved[..]).unwrap().cookies_for(&url).len(), 2);
    }

    #[tokio::test]
    async fn thousands_of_set_cookie_lines_fail_the_head_and_store_nothing() {
        let jar = CookieJar::new();
        let lines: Vec<Vec<u8>> = (0..5000).map(|i| format!("c{i}=v").into_bytes()).collect();
        let (res, _) = get_with(&jar, with_cookies(&lines)).await;
        // 5000 short lines are ~45 KiB, under the size limit: the field count refuses them.
        assert_head_failure(&res, "too many header fields");
        assert!(jar.is_empty());
    }

    #[tokio::test]
    async fn cookies_over_several_responses_are_capped_per_domain() {
        let jar = CookieJar::new();
        let server = KeepAlive::start(|request| {
            let round = request.target.trim_start_matches("/r").parse::<usize>().unwrap();
            let mut response = "HTTP/1.1 200 OK\r\n".to_owned();
            for i in 0..40 {
                response.push_str(&format!("set-cookie: r{round}c{i:02}=v\r\n"));
            }
            response.push_str("content-length: 0\r\n\r\n");
            response
        })
        .await;
        let client = client();
        for round in 0..4 {
            let res = within(client.get(server.url(&format!("/r{round}"))).cookie_jar(&jar).send()).await;
            assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        }
        assert_eq!(jar.len(), MAX_COOKIES_PER_DOMAIN);
        let names: Vec<String> =
            jar.cookies_for(&server.url("/")).into_iter().map(|(name, _)| name).collect();
        let expected: Vec<String> = (0..40)
            .map(|i| format!("r0c{i:02}"))
            .chain((0..MAX_COOKIES_PER_DOMAIN - 40).map(|i| format!("r1c{i:02}")))
            .collect();
        assert_eq!(names, expected, "the first {MAX_COOKIES_PER_DOMAIN} are kept, later new ones refused");
        // What goes out stays bounded too: the last request carried the 50, nothing more.
        let last = server.requests().pop().unwrap();
        assert_eq!(last.header("cookie").unwrap().split("; ").count(), MAX_COOKIES_PER_DOMAIN);
    }

    #[tokio::test]
    async fn set_cookie_in_trailers_is_not_stored() {
        let jar = CookieJar::new();
        let response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\
                         set-cookie: late=1\r\n\r\n"
            .to_vec();
        let (res, _) = get_with(&jar, response).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.trailers()["set-cookie"], "late=1");
        assert!(jar.is_empty(), "{jar:?}");
    }

    #[tokio::test]
    async fn cookies_for_other_domains_are_refused() {
        let jar = CookieJar::new();
        let lines = [
            b"a=1; Domain=example.com".to_vec(),
            b"b=1; Domain=com".to_vec(),
            b"c=1; Domain=127.0.0.2".to_vec(),
            b"d=1; Domain=0.0.1".to_vec(),
        ];
        let (res, url) = get_with(&jar, with_cookies(&lines)).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(jar.cookies_for("http://example.com/").is_empty());
        assert!(jar.cookies_for("http://127.0.0.2/").is_empty());
        assert!(jar.cookies_for(&url).is_empty(), "{:?}", jar.cookies_for(&url));
        assert!(jar.is_empty(), "{jar:?}");
    }

    #[tokio::test]
    async fn a_cookie_over_4k_is_refused_and_one_at_4k_kept() {
        let jar = CookieJar::new();
        let fits = format!("fits={}", "a".repeat(MAX_COOKIE_SIZE - 5));
        let too_big = format!("toobig={}", "b".repeat(MAX_COOKIE_SIZE - 6));
        assert_eq!((fits.len(), too_big.len()), (MAX_COOKIE_SIZE, MAX_COOKIE_SIZE + 1));
        let (res, url) = get_with(&jar, with_cookies(&[fits.into_bytes(), too_big.into_bytes()])).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        let names: Vec<String> = jar.cookies_for(&url).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["fits"]);
    }
}

// ---------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn content_length_with_transfer_encoding_is_596_and_the_connection_is_not_reused() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = KeepAlive::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            .to_owned(),
        _ => ok("second"),
    })
    .await;
    let client = client();
    let res = within(client.get(server.url("/")).send()).await;
    assert_head_failure(&res, "both Content-Length and Transfer-Encoding present");
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.text(), "second");
    assert_eq!(server.connects(), 2);
}

#[tokio::test]
async fn bad_content_lengths_are_596() {
    for (fields, part) in [
        ("content-length: 5\r\ncontent-length: 6", "conflicting Content-Length values"),
        ("content-length: 5, 6", "conflicting Content-Length values"),
        ("content-length: -1", "invalid Content-Length"),
        ("content-length: +5", "invalid Content-Length"),
        ("content-length: 0x5", "invalid Content-Length"),
        ("content-length: 18446744073709551616", "invalid Content-Length"),
        ("transfer-encoding: gzip, chunked", "unsupported Transfer-Encoding"),
        ("transfer-encoding: chunked\r\ntransfer-encoding: chunked", "unsupported Transfer-Encoding"),
    ] {
        let res = answer(format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\nhello")).await;
        assert_head_failure(&res, part);
    }
    let res =
        answer(&b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..]).await;
    assert_head_failure(&res, "Transfer-Encoding in an HTTP/1.0 message");
}

#[tokio::test]
async fn bad_chunked_bodies_are_597() {
    let mut long_extension = b"5;".to_vec();
    long_extension.resize(8 * 1024, b'x');
    long_extension.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    for (body, part) in [
        (&b"ffffffffffffffffff\r\n"[..], "chunk size overflows 64 bits"),
        (b"10000000000000000\r\n", "chunk size overflows 64 bits"),
        (b"0x5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
        (b"-5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
        (b"5\r\nhelloXX0\r\n\r\n", "chunk line or data not terminated by CRLF"),
        (&long_extension, "chunk extensions too long"),
    ] {
        let mut response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        response.extend_from_slice(body);
        let res = answer(response).await;
        assert_body_failure(&res, part);
        assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
    }
}

#[tokio::test]
async fn an_endless_trailer_section_is_cut_off_with_597() {
    let (server, mut reports) = flood(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n".to_vec(),
        b"x-trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".to_vec(),
    )
    .await;
    let res = within(client().get(server.url("/")).send()).await;
    assert_body_failure(&res, "trailer section too large");
    let flooded = within(reports.recv()).await.unwrap();
    assert!(flooded.cut_off, "{flooded:?}");
}

#[tokio::test]
async fn a_huge_content_length_then_close_is_597_without_preallocating() {
    let res = answer(&b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\nabc"[..]).await;
    assert_body_failure(&res, "connection closed before the body was complete");
    assert_eq!(res.body().as_ref(), b"abc", "what arrived before the failure is kept");
}

// ---------------------------------------------------------------------------------------
// Bytes beyond the response: never handed to the next request
// ---------------------------------------------------------------------------------------

/// A whole response (head and body) saying `body`.
fn smuggled(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len())
}

#[tokio::test]
async fn a_body_longer_than_content_length_closes_the_connection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = KeepAlive::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => format!("{}{}garbage\r\n\r\n", ok("hello"), smuggled("EVIL")),
        n => ok(&format!("honest {n}")),
    })
    .await;
    let (client, events, _) = observed_client();
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "hello");
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "honest 1", "the extra bytes were read as the next response");
    assert_eq!(server.connects(), 2);
    assert_eq!(close_reasons(&events)[0], CloseReason::BytesAfterResponse);
}

#[tokio::test]
async fn a_body_on_a_bodiless_response_closes_the_connection() {
    for (method, status_line) in [
        ("HEAD", "HTTP/1.1 200 OK"),
        ("GET", "HTTP/1.1 204 No Content"),
        ("GET", "HTTP/1.1 304 Not Modified"),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let evil = smuggled("EVIL");
        let server = KeepAlive::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
            0 => format!("{status_line}\r\ncontent-length: {}\r\n\r\n{evil}", evil.len()),
            _ => ok("honest"),
        })
        .await;
        let client = client();
        let res = within(client.request(method, server.url("/")).send()).await;
        assert_eq!(&res.status().to_string()[..3], &status_line[9..12], "{method}: {}", res.reason());
        assert!(res.body().is_empty(), "{method} {status_line}");
        let res = within(client.get(server.url("/")).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.text(), "honest", "{method} {status_line}: the body became the next response");
        assert_eq!(server.connects(), 2, "{method} {status_line}");
    }
}

/// A server whose first connection answers "first"; once that connection sits idle in
/// the client's pool, it writes a whole response nobody asked for. Were the connection
/// reused anyway, its requests would get "reused"; a new connection's get "fresh". Returns
/// after the unsolicited bytes are written, with the observed client that got "first".
async fn unsolicited_bytes_on_an_idle_connection(
) -> (Scripted, Client, Arc<Mutex<Vec<ConnectionEvent>>>, Arc<tokio::sync::Notify>) {
    let gate = Gate::default();
    let wrote = Arc::new(tokio::sync::Notify::new());
    let (script_gate, script_wrote) = (gate.clone(), wrote.clone());
    let server = Scripted::start(move |mut peer| {
        let (gate, wrote) = (script_gate.clone(), script_wrote.clone());
        async move {
            if peer.index > 0 {
                while peer.read_request().await.is_some() {
                    peer.write(ok("fresh")).await;
                }
                return;
            }
            if peer.read_request().await.is_none() {
                return;
            }
            peer.write(ok("first")).await;
            gate.wait().await;
            peer.write(smuggled("EVIL")).await;
            wrote.notify_one();
            while peer.read_request().await.is_some() {
                peer.write(ok("reused")).await;
            }
        }
    })
    .await;
    let (client, events, changed) = observed_client();
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.text(), "first");
    within(wait_for_event(&events, &changed, |seen| seen.iter().any(|e| e.kind == EventKind::Idle))).await;
    gate.open();
    within(wrote.notified()).await;
    (server, client, events, changed)
}

#[tokio::test]
async fn unsolicited_bytes_on_an_idle_pooled_connection_are_never_a_response() {
    let (server, client, events, changed) = unsolicited_bytes_on_an_idle_connection().await;
    // The pool watches idle sockets: readable bytes retire the connection.
    within(wait_for_event(&events, &changed, |seen| {
        seen.iter().any(|e| matches!(e.kind, EventKind::Close(_)))
    }))
    .await;
    assert_eq!(close_reasons(&events), [CloseReason::UnaskedBytes]);
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "fresh");
    assert_eq!(server.connects(), 2);
}

#[tokio::test]
async fn a_chunked_body_followed_by_garbage_closes_the_connection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = KeepAlive::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n{}",
            smuggled("EVIL")
        ),
        _ => ok("honest"),
    })
    .await;
    let client = client();
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.text(), "ok");
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.text(), "honest");
    assert_eq!(server.connects(), 2);
}

#[tokio::test]
async fn a_failed_response_never_leaves_its_connection_to_the_next_request() {
    // Every failure closes: the next request on the same client opens a new connection.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = KeepAlive::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => format!("HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\nx{}", smuggled("EVIL")),
        1 => format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}", smuggled("EVIL")),
        _ => ok("honest"),
    })
    .await;
    let client = client();
    assert_head_failure(&within(client.get(server.url("/")).send()).await, "conflicting Content-Length");
    assert_body_failure(&within(client.get(server.url("/")).send()).await, "invalid chunk size");
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.text(), "honest");
    assert_eq!(server.connects(), 3);
}

#[tokio::test]
async fn unsolicited_bytes_just_before_the_next_request_are_never_its_response() {
    // As above, but the next request goes out as soon as the server has written, without
    // waiting for the pool to notice: taking an idle connection checks it for bytes.
    let (server, client, events, _) = unsolicited_bytes_on_an_idle_connection().await;
    let res = within(client.get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "fresh");
    assert_eq!(server.connects(), 2);
    assert_eq!(close_reasons(&events), [CloseReason::UnaskedBytes]);
}

#[tokio::test]
async fn an_endless_redirect_body_is_cut_off_and_the_redirect_followed() {
    // A redirect hop keeps at most 64 KiB of its body and never reads the rest.
    let (report, mut reports) = mpsc::unbounded_channel();
    let server = Scripted::start(move |mut peer| {
        let report = report.clone();
        async move {
            let Some(request) = peer.read_request().await else { return };
            if request.target != "/" {
                peer.write(ok("landed")).await;
                return;
            }
            flood_peer(peer, b"HTTP/1.1 302 Found\r\nlocation: /next\r\n\r\n", &[b'z'; 4096], &report).await;
        }
    })
    .await;
    let res = within(client().get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "landed");
    assert_eq!(res.redirects().len(), 1);
    assert_eq!(res.redirects()[0].status().as_u16(), 302);
    assert_eq!(res.redirects()[0].body().len(), 64 * 1024);
    let flooded = within(reports.recv()).await.unwrap();
    assert!(flooded.cut_off, "{flooded:?}");
    assert!(flooded.written < FLOOD_BOUND, "{flooded:?}");
    assert_eq!(server.connects(), 2, "the cut-off connection is not reused");
}

#[tokio::test]
async fn endless_chunk_extensions_are_cut_off_with_597() {
    let mut chunk = b"1;".to_vec();
    chunk.resize(1000, b'e');
    chunk.extend_from_slice(b"\r\na\r\n");
    let (server, mut reports) =
        flood(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(), chunk).await;
    let res = within(client().get(server.url("/")).send()).await;
    assert_body_failure(&res, "chunk extensions too long");
    let flooded = within(reports.recv()).await.unwrap();
    assert!(flooded.cut_off, "{flooded:?}");
    assert!(flooded.written < FLOOD_BOUND, "{flooded:?}");
}

#[tokio::test]
async fn trailers_never_become_headers() {
    let res = answer(
        &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-kept: head\r\n\r\n2\r\nok\r\n0\r\n\
           x-kept: trailer\r\ncontent-length: 999\r\nlocation: http://127.0.0.1:1/\r\n\r\n"[..],
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "ok");
    assert_eq!(res.header("x-kept").as_deref(), Some("head"));
    assert_eq!(res.header("content-length"), None);
    assert_eq!(res.header("location"), None);
    assert_eq!(res.trailers()["x-kept"], "trailer");
    assert_eq!(res.trailers()["content-length"], "999");
}

#[tokio::test]
async fn an_endless_body_read_through_on_body_is_cut_off_when_the_caller_stops() {
    // on_body is the unbounded way (nothing is collected); returning false ends the read
    // at once.
    const ENOUGH: usize = 1024 * 1024;
    let (server, mut reports) = flood(b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), vec![b'z'; 4096]).await;
    let mut seen = 0;
    let res = within(
        client()
            .get(server.url("/"))
            .on_body(|data, _| {
                seen += data.len();
                seen <= ENOUGH
            })
            .send(),
    )
    .await;
    let reason = assert_failure(&res, 598, ErrorKind::Aborted);
    assert!(reason.contains("cancelled by on_body"), "{reason}");
    assert!(seen > ENOUGH && seen <= ENOUGH + courier::DEFAULT_READ_BUFFER_SIZE, "{seen}");
    let flooded = within(reports.recv()).await.unwrap();
    assert!(flooded.cut_off, "{flooded:?}");
    assert!(flooded.written < ENOUGH + FLOOD_BOUND, "{flooded:?}");
}

#[tokio::test]
async fn an_endless_collected_body_ends_in_597_at_max_body_size() {
    const LIMIT: u64 = 256 * 1024;
    let (server, mut reports) = flood(b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), vec![b'z'; 4096]).await;
    let res = within(client().get(server.url("/")).max_body_size(LIMIT).send()).await;
    assert_eq!(res.status().as_u16(), 597, "{}", res.reason());
    assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseBody));
    assert!(res.reason().contains("larger than 262144 bytes"), "{}", res.reason());
    // What arrived within the limit is kept (a failed response keeps its partial body);
    // the rest was never read.
    assert!(res.body().len() as u64 <= LIMIT, "{}", res.body().len());
    let flooded = within(reports.recv()).await.unwrap();
    assert!(flooded.cut_off, "{flooded:?}");
    assert!(flooded.written < LIMIT as usize + FLOOD_BOUND, "{flooded:?}");

    // A body of exactly the limit is fine.
    let exact = format!("HTTP/1.1 200 OK\r\ncontent-length: {LIMIT}\r\n\r\n{}", "y".repeat(LIMIT as usize));
    let server = Scripted::respond(exact).await;
    let res = within(client().get(server.url("/")).max_body_size(LIMIT).send()).await;
    assert_eq!((res.status().as_u16(), res.body().len() as u64), (200, LIMIT), "{}", res.reason());
}
