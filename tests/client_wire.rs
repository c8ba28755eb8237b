mod support;
use support::*;

use courier::{ErrorKind, RequestBuilder, Response, Target, Version};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Short activity timeout for tests whose server stalls on purpose (or would, on a bug).
const SHORT: Duration = Duration::from_millis(300);
/// Timeout for tests that must finish without waiting: a client that waits fails fast.
const NO_WAIT: Duration = Duration::from_millis(500);

const UA: &str = courier::DEFAULT_USER_AGENT;

/// Asserts `res` is a failure of `kind`, with the matching pseudo-status.
#[track_caller]
fn assert_fails(res: &Response, kind: ErrorKind) {
    assert_eq!(Some(res.status().as_u16()), kind.status(), "reason: {}", res.reason());
    assert_eq!(res.error().map(|e| e.kind()), Some(kind), "reason: {}", res.reason());
    assert!(res.is_error());
}

/// Sends `request` (which must be refused locally) and checks the 599 kind, the URL, and
/// that the server saw no connection.
async fn assert_refused(server: &Scripted, request: RequestBuilder<'_>, url: &str, kind: ErrorKind) {
    let res = within(request.send()).await;
    assert_eq!(res.status().as_u16(), 599, "{url}: {}", res.reason());
    assert_eq!(res.error().map(|e| e.kind()), Some(kind), "{url}: {}", res.reason());
    assert_eq!(res.url(), url);
    assert_eq!(res.version(), None);
    assert!(res.headers().is_empty());
    assert_eq!(server.connects(), 0, "{url}: a refused request must not connect");
}

/// The head courier sends by default, with `extra` lines (each ending in CRLF) after the defaults.
fn default_head(method: &str, target: &str, host: &str, extra: &str) -> String {
    let connection = default_connection(method);
    format!(
        "{method} {target} HTTP/1.1\r\nhost: {host}\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: {connection}\r\n{extra}\r\n"
    )
}

/// A server that answers with `response`, then keeps the connection open until the client closes it.
async fn respond_and_hold(response: &'static [u8]) -> Scripted {
    Scripted::start(move |mut peer| async move {
        if peer.read_request().await.is_some() {
            peer.write(response).await;
            peer.hold().await;
        }
    })
    .await
}

/// A connector that ignores the URL's port and connects to `port` on 127.0.0.1, recording
/// every target it is handed.
fn redirecting_connector(port: u16, seen: Arc<Mutex<Vec<Target>>>) -> impl courier::Connector {
    move |target: Target| {
        seen.lock().unwrap().push(target);
        tokio::net::TcpStream::connect(("127.0.0.1", port))
    }
}

// ---------------------------------------------------------------------------------------
// 1. Exact request heads
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn non_default_port_is_in_host_and_path_query_are_sent_without_fragment() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let host = format!("127.0.0.1:{}", server.port());
    for (path, target) in [
        ("/a/b.txt?q=1&r=two#section-2", "/a/b.txt?q=1&r=two"),
        ("", "/"),
        ("?only=query", "/?only=query"),
        ("/frag#x?not=query", "/frag"),
    ] {
        let url = server.url(path);
        let res = within(courier::get(&url).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{url}: {}", res.reason());
        let got = server.requests().pop().unwrap();
        assert_eq!(got.head, default_head("GET", target, &host, ""), "{url}");
    }
    assert_eq!(server.connects(), 4);
}

#[tokio::test]
async fn default_port_is_left_out_of_host() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    for url in ["http://127.0.0.1/x", "http://127.0.0.1:80/x"] {
        let res =
            within(courier::get(url).connector(redirecting_connector(server.port(), seen.clone())).send())
                .await;
        assert_eq!(res.status().as_u16(), 200, "{url}: {}", res.reason());
        let got = server.requests().pop().unwrap();
        assert_eq!(got.head, default_head("GET", "/x", "127.0.0.1", ""), "{url}");
    }
    let target = Target { scheme: "http".into(), host: "127.0.0.1".into(), port: 80 };
    assert_eq!(*seen.lock().unwrap(), vec![target.clone(), target]);
}

#[tokio::test]
async fn caller_user_agent_replaces_the_default() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::get(server.url("/")).header("User-Agent", "tester/9.9").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(
        server.requests()[0].head,
        format!(
            "GET / HTTP/1.1\r\nhost: {}\r\nuser-agent: tester/9.9\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n",
            server.addr
        )
    );
}

#[tokio::test]
async fn removed_default_headers_are_not_sent() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let host = server.addr.to_string();

    let res = within(courier::get(server.url("/")).remove_header("user-agent").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(
        server.requests()[0].head,
        format!("GET / HTTP/1.1\r\nhost: {host}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n")
    );

    let res = within(courier::get(server.url("/")).remove_header("TE").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(
        server.requests()[1].head,
        format!("GET / HTTP/1.1\r\nhost: {host}\r\nuser-agent: {UA}\r\nconnection: keep-alive\r\n\r\n")
    );
    assert_eq!(server.requests()[1].header("connection"), Some("keep-alive"));

    let res = within(courier::get(server.url("/")).remove_header("host").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(
        server.requests()[2].head,
        format!("GET / HTTP/1.1\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n")
    );

    // A header set earlier and then removed is not sent either.
    let res =
        within(courier::get(server.url("/")).header("x-gone", "1").remove_header("X-Gone").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(server.requests()[3].head, default_head("GET", "/", &host, ""));
}

#[tokio::test]
async fn header_set_twice_is_sent_twice_in_order() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(
        courier::get(server.url("/"))
            .header("x-a", "first")
            .header("x-b", "mid")
            .header("X-A", "second")
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(
        server.requests()[0].head,
        format!(
            "GET / HTTP/1.1\r\nhost: {}\r\nx-a: first\r\nx-b: mid\r\nx-a: second\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n",
            server.addr
        )
    );
}

#[tokio::test]
async fn header_names_go_out_lowercased() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::get(server.url("/")).header("X-Custom-THING", "Mixed Case Value").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(
        server.requests()[0].head,
        format!(
            "GET / HTTP/1.1\r\nhost: {}\r\nx-custom-thing: Mixed Case Value\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n",
            server.addr
        )
    );
}

// ---------------------------------------------------------------------------------------
// 2. Request bodies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn post_sends_content_length_and_exact_body() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::post(server.url("/submit")).body("a=1&b=\r\n\0two").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let got = &server.requests()[0];
    assert_eq!(got.head, default_head("POST", "/submit", &server.addr.to_string(), "content-length: 12\r\n"));
    assert_eq!(got.body, b"a=1&b=\r\n\0two");
}

#[tokio::test]
async fn post_with_empty_body_sends_content_length_zero() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::post(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let got = &server.requests()[0];
    assert_eq!(got.head, default_head("POST", "/", &server.addr.to_string(), "content-length: 0\r\n"));
    assert!(got.body.is_empty());
}

#[tokio::test]
async fn get_without_body_sends_no_content_length() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let got = &server.requests()[0];
    assert_eq!(got.header("content-length"), None);
    assert_eq!(got.head, default_head("GET", "/", &server.addr.to_string(), ""));
}

#[tokio::test]
async fn put_sends_content_length_and_exact_body() {
    let server = Scripted::respond("HTTP/1.1 204 No Content\r\n\r\n").await;
    let res = within(courier::request("PUT", server.url("/item/7")).body(&b"{\"v\":7}"[..]).send()).await;
    assert_eq!(res.status().as_u16(), 204, "{}", res.reason());
    let got = &server.requests()[0];
    assert_eq!(got.method, "PUT");
    assert_eq!(got.head, default_head("PUT", "/item/7", &server.addr.to_string(), "content-length: 7\r\n"));
    assert_eq!(got.body, b"{\"v\":7}");
}

#[tokio::test]
async fn matching_caller_content_length_is_sent_once() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::post(server.url("/")).body("hello").header("Content-Length", "5").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let got = &server.requests()[0];
    assert_eq!(got.headers.iter().filter(|(name, _)| name == "content-length").count(), 1, "{}", got.head);
    assert_eq!(
        got.head,
        format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-length: 5\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: TE, close\r\n\r\n",
            server.addr
        )
    );
    assert_eq!(got.body, b"hello");
}

#[tokio::test]
async fn mismatched_caller_content_length_is_refused_before_connecting() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let url = server.url("/");
    for (body, length) in [("hello", "4"), ("hello", "6"), ("hello", "05"), ("", "1"), ("hello", " 5")] {
        let request = courier::post(&url).body(body).header("content-length", length);
        assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
    }
}

#[tokio::test]
async fn caller_transfer_encoding_is_refused_before_connecting() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let url = server.url("/");
    let request = courier::post(&url).body("5\r\nhello\r\n0\r\n\r\n").header("Transfer-Encoding", "chunked");
    assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
    let request = courier::get(&url).header("transfer-encoding", "gzip");
    assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
}

#[tokio::test]
async fn body_larger_than_the_inline_limit_arrives_intact() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let body: Vec<u8> = (0..200 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let res = within(courier::post(server.url("/upload")).body(body.clone()).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let got = &server.requests()[0];
    assert_eq!(
        got.head,
        default_head("POST", "/upload", &server.addr.to_string(), "content-length: 204800\r\n")
    );
    assert_eq!(got.body.len(), body.len());
    assert!(got.body == body, "the 200 KB body arrived altered");
}

// ---------------------------------------------------------------------------------------
// 3. Request validation: 599 before any connection
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn control_characters_in_a_header_value_are_refused() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let url = server.url("/");
    for value in [&b"a\rb"[..], b"a\nb", b"a\r\nx-evil: 1", b"a\0b", b"\n"] {
        let request = courier::get(&url).header("x-value", value);
        assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
    }
}

#[tokio::test]
async fn invalid_header_names_are_refused() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let url = server.url("/");
    for name in ["x a", "x:a", "x-a:", "x(a)", "x\"a", "x@a", "x/a", "", "caf\u{e9}", "x\r\na"] {
        let request = courier::get(&url).header(name, "v");
        assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
    }
    // Removing a header with an invalid name is refused as well.
    let request = courier::get(&url).remove_header("bad name");
    assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
}

#[tokio::test]
async fn invalid_method_is_refused() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let url = server.url("/");
    for method in ["GE T", "", "GET\r\n", "G(T", "G\0T"] {
        let request = courier::request(method, &url);
        assert_refused(&server, request, &url, ErrorKind::InvalidRequest).await;
    }
}

#[tokio::test]
async fn unparsable_urls_are_invalid_url() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let port = server.port();
    for url in [
        "not a url".to_owned(),
        "/relative/path".to_owned(),
        "http://".to_owned(),
        "http:///".to_owned(),
        format!("http://:{port}/"),
        "http://[::1/".to_owned(),
        "http://127.0.0.1:99999/".to_owned(),
    ] {
        let request = courier::get(&url);
        assert_refused(&server, request, &url, ErrorKind::InvalidUrl).await;
    }
}

#[tokio::test]
async fn non_http_schemes_are_unsupported() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let port = server.port();
    let mut urls = vec![
        format!("ftp://127.0.0.1:{port}/file"),
        format!("ws://127.0.0.1:{port}/"),
        "mailto:someone@127.0.0.1".to_owned(),
        "file:///etc/passwd".to_owned(),
    ];
    // Without the tls feature, https is refused the same way (with it, see tests/tls.rs).
    if cfg!(not(feature = "tls")) {
        urls.push(format!("https://127.0.0.1:{port}/"));
    }
    for url in urls {
        let request = courier::get(&url);
        assert_refused(&server, request, &url, ErrorKind::UnsupportedScheme).await;
    }
}

/// `http:///nohost` is not host-less to the url crate: special schemes skip extra slashes,
/// so it means `http://nohost/`. A connector shows the target courier derives, without any
/// name lookup.
#[tokio::test]
async fn url_with_extra_slashes_takes_the_next_segment_as_host() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = "http:///nohost";
    let res =
        within(courier::get(url).connector(redirecting_connector(server.port(), seen.clone())).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    // A URL that was fetched is reported as the url crate serialises it.
    assert_eq!(res.url(), "http://nohost/");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Target { scheme: "http".into(), host: "nohost".into(), port: 80 }]
    );
    assert_eq!(server.requests()[0].head, default_head("GET", "/", "nohost", ""));
}

// ---------------------------------------------------------------------------------------
// 4. Response fields
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn response_fields_are_reported_as_received() {
    let server = Scripted::respond(
        &b"HTTP/1.1 203 Custom Reason Here\r\n\
           X-Mixed-Case: v\r\n\
           X-Rep: a\r\n\
           Content-Length: 2\r\n\
           X-Rep: b\r\n\
           Set-Cookie: a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/\r\n\
           SET-COOKIE: b=2, c=3\r\n\
           X-Bin: caf\xe9!\r\n\
           \r\nok"[..],
    )
    .await;
    let url = server.url("/fields?x=1");
    let res = within(courier::get(&url).send()).await;
    assert_eq!(res.status().as_u16(), 203, "{}", res.reason());
    assert_eq!(res.reason(), "Custom Reason Here");
    assert_eq!(res.version(), Some(Version::HTTP_11));
    assert_eq!(res.url(), url);
    assert!(!res.is_error());
    assert!(res.error().is_none());
    assert_eq!(res.orig_status(), None);
    assert_eq!(res.orig_reason(), None);
    assert_eq!(res.body().as_ref(), b"ok");

    let names: Vec<&str> = res.headers().keys().map(|name| name.as_str()).collect();
    assert_eq!(names, ["x-mixed-case", "x-rep", "content-length", "set-cookie", "x-bin"]);
    assert_eq!(res.header("x-mixed-case").as_deref(), Some("v"));
    assert_eq!(res.header("X-MIXED-CASE").as_deref(), Some("v"));
    assert_eq!(res.header("x-rep").as_deref(), Some("a, b"));
    assert_eq!(
        res.header_all("set-cookie"),
        ["a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/", "b=2, c=3"]
    );
    assert_eq!(
        res.header("set-cookie").as_deref(),
        Some("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/, b=2, c=3")
    );
    assert_eq!(res.header("x-bin").as_deref(), Some("caf\u{fffd}!"));
    assert_eq!(res.headers()["x-bin"].as_bytes(), b"caf\xe9!");
    assert_eq!(res.header("x-missing"), None);
    assert!(res.header_all("x-missing").is_empty());
    assert!(res.trailers().is_empty());
    assert!(res.redirects().is_empty());
}

#[tokio::test]
async fn http_10_response_reports_its_version() {
    let server = Scripted::respond("HTTP/1.0 404 Gone Fishing\r\nContent-Length: 4\r\n\r\nnope").await;
    let url = server.url("/missing");
    let res = within(courier::get(&url).send()).await;
    assert_eq!(res.status().as_u16(), 404);
    assert_eq!(res.reason(), "Gone Fishing");
    assert_eq!(res.version(), Some(Version::HTTP_10));
    assert_eq!(res.url(), url);
    assert!(!res.is_error(), "a real 404 is not a courier error");
    assert_eq!(res.body().as_ref(), b"nope");
}

#[tokio::test]
async fn empty_reason_phrase_is_empty() {
    let server = Scripted::respond("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.reason(), "");
    assert!(!res.is_error());
}

// ---------------------------------------------------------------------------------------
// 5. Response body framings
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn content_length_body_ends_at_the_length_without_waiting_for_close() {
    let server = respond_and_hold(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloTRAILING-GARBAGE").await;
    let res = within(courier::get(server.url("/")).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello");
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn chunked_body_with_extensions_and_trailers() {
    let server = respond_and_hold(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;name=value\r\nhello\r\n\
          6;a;b=\"c d\"\r\n world\r\n\
          B \t;x\r\n, chunked!\n\r\n\
          0;last\r\n\
          X-Sum: 42\r\n\
          X-Note: done, really\r\n\
          \r\n",
    )
    .await;
    let res = within(courier::get(server.url("/")).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello world, chunked!\n");
    assert_eq!(res.trailers().len(), 2);
    assert_eq!(res.trailers()["x-sum"], "42");
    assert_eq!(res.trailers()["x-note"], "done, really");
    assert_eq!(res.header("x-sum"), None, "trailers are not merged into the headers");
    assert_eq!(res.header("transfer-encoding").as_deref(), Some("chunked"));
}

#[tokio::test]
async fn http_10_body_without_length_ends_at_close() {
    let server = Scripted::start(|mut peer| async move {
        if peer.read_request().await.is_some() {
            peer.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ").await;
            peer.write("part two\r\n\r\nstill body").await;
        }
    })
    .await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.version(), Some(Version::HTTP_10));
    assert_eq!(res.body().as_ref(), b"part one, part two\r\n\r\nstill body");
}

#[tokio::test]
async fn head_response_has_no_body_whatever_its_content_length() {
    let server = respond_and_hold(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n").await;
    let res = within(courier::head(server.url("/")).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().is_empty());
    assert_eq!(res.header("content-length").as_deref(), Some("100"));
    assert_eq!(server.requests()[0].head, default_head("HEAD", "/", &server.addr.to_string(), ""));
}

#[tokio::test]
async fn no_content_response_has_no_body_whatever_its_content_length() {
    let server = respond_and_hold(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n").await;
    let res = within(courier::get(server.url("/")).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 204, "{}", res.reason());
    assert!(!res.is_error());
    assert!(res.body().is_empty());
}

#[tokio::test]
async fn not_modified_response_has_no_body_whatever_its_content_length() {
    let server = respond_and_hold(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n").await;
    let res = within(courier::get(server.url("/")).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 304, "{}", res.reason());
    assert!(!res.is_error());
    assert!(res.body().is_empty());
}

#[tokio::test]
async fn one_byte_reads_still_yield_exact_bodies() {
    let server = respond_and_hold(
        b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\nX-A: 1\r\n\r\nabcdefghijklmnopqrstuvwxyzEXTRA",
    )
    .await;
    let res = within(courier::get(server.url("/")).read_buffer_size(1).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.header("x-a").as_deref(), Some("1"));
    assert_eq!(res.body().as_ref(), b"abcdefghijklmnopqrstuvwxyz");

    let server = respond_and_hold(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: t\r\n\r\n",
    )
    .await;
    let res = within(courier::get(server.url("/")).read_buffer_size(1).timeout(NO_WAIT).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"abcde");
    assert_eq!(res.trailers()["x-t"], "t");
}

// ---------------------------------------------------------------------------------------
// 6. Malformed framing
// ---------------------------------------------------------------------------------------

struct FramingCase {
    name: &'static str,
    response: Vec<u8>,
    kind: ErrorKind,
    /// Part of the reason, naming the violation (so each case fails for its own cause).
    why: &'static str,
    /// The body collected before the failure.
    partial: &'static [u8],
}

fn case(
    name: &'static str,
    response: impl Into<Vec<u8>>,
    kind: ErrorKind,
    why: &'static str,
    partial: &'static [u8],
) -> FramingCase {
    FramingCase { name, response: response.into(), kind, why, partial }
}

#[tokio::test]
async fn malformed_framing_fails_with_the_original_status_kept() {
    use ErrorKind::{ResponseBody, ResponseHead};
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let long_extension = format!("{chunked}1;{}\r\nx\r\n0\r\n\r\n", "a".repeat(4097));
    let big_trailers = format!("{chunked}3\r\nabc\r\n0\r\nX-Big: {}\r\n\r\n", "t".repeat(17 * 1024));
    let cases = [
        case(
            "content-length with transfer-encoding",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ResponseHead,
            "both Content-Length and Transfer-Encoding",
            b"",
        ),
        case(
            "differing content-lengths",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            ResponseHead,
            "conflicting Content-Length",
            b"",
        ),
        case(
            "differing content-length list",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
            ResponseHead,
            "conflicting Content-Length",
            b"",
        ),
        case(
            "non-numeric content-length",
            "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello",
            ResponseHead,
            "invalid Content-Length",
            b"",
        ),
        case(
            "negative content-length",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
            ResponseHead,
            "invalid Content-Length",
            b"",
        ),
        case(
            "transfer-encoding gzip",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
            ResponseHead,
            "unsupported Transfer-Encoding",
            b"",
        ),
        case(
            "chunked in HTTP/1.0",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ResponseHead,
            "Transfer-Encoding in an HTTP/1.0 message",
            b"",
        ),
        case(
            "chunk-size garbage",
            format!("{chunked}zz\r\nhello\r\n0\r\n\r\n"),
            ResponseBody,
            "invalid chunk size",
            b"",
        ),
        case(
            "chunk size overflowing u64",
            format!("{chunked}10000000000000000\r\n"),
            ResponseBody,
            "overflows",
            b"",
        ),
        case(
            "chunk data without CRLF",
            format!("{chunked}5\r\nhelloX\r\n0\r\n\r\n"),
            ResponseBody,
            "not terminated by CRLF",
            b"hello",
        ),
        case("chunk extension over 4 KiB", long_extension, ResponseBody, "extensions too long", b""),
        case("trailers over 16 KiB", big_trailers, ResponseBody, "trailer section too large", b"abc"),
        case(
            "content-length body cut short",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            ResponseBody,
            "closed before the body was complete",
            b"abc",
        ),
        case(
            "chunked body cut short",
            format!("{chunked}5\r\nhello\r\n5\r\nwo"),
            ResponseBody,
            "closed before the body was complete",
            b"hellowo",
        ),
    ];
    for case in cases {
        let server = Scripted::respond(case.response).await;
        let url = server.url("/");
        let res = within(courier::get(&url).timeout(Duration::from_secs(5)).send()).await;
        let name = case.name;
        assert_eq!(Some(res.status().as_u16()), case.kind.status(), "{name}: {}", res.reason());
        assert_eq!(res.error().map(|e| e.kind()), Some(case.kind), "{name}: {}", res.reason());
        assert!(!res.error().unwrap().is_timeout(), "{name}: {}", res.reason());
        assert!(res.reason().contains(case.why), "{name}: {}", res.reason());
        assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200), "{name}");
        assert_eq!(res.orig_reason(), Some("OK"), "{name}");
        assert_eq!(res.url(), url, "{name}");
        assert!(res.version().is_some(), "{name}: the head was parsed");
        assert_eq!(res.body().as_ref(), case.partial, "{name}");
        assert_eq!(server.connects(), 1, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// 7. Head errors
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_or_missing_heads_fail_with_596() {
    let mut hundred = String::from("HTTP/1.1 200 OK\r\n");
    let mut too_many = hundred.clone();
    for i in 0..101 {
        too_many.push_str(&format!("x-{i}: v\r\n"));
    }
    too_many.push_str("\r\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage status line", b"garbage\r\n\r\n".to_vec(), "malformed message head"),
        ("HTTP/2 status line", b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(), "HTTP version"),
        (
            "HTTP/2.0 status line",
            b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "HTTP major version",
        ),
        ("HTTP/1.10 status line", b"HTTP/1.10 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(), "HTTP version"),
        ("closed before any byte", Vec::new(), "closed before the response head"),
        ("closed mid status line", b"HTTP/1.1 20".to_vec(), "closed in the middle of the response head"),
        (
            "closed mid head",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n".to_vec(),
            "closed in the middle of the response head",
        ),
        ("101 header fields", too_many.into_bytes(), "too many header fields"),
        (
            "obs-fold header line",
            b"HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "malformed message head",
        ),
        ("status 099", b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n".to_vec(), "invalid status"),
        ("two-digit status", b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n".to_vec(), "invalid status"),
        (
            "space in header name",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "invalid header name",
        ),
        (
            "NUL in header value",
            b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "invalid header value",
        ),
    ];
    for (name, response, why) in cases {
        let server = Scripted::respond(response).await;
        let url = server.url("/");
        let res = within(courier::get(&url).timeout(Duration::from_secs(5)).send()).await;
        assert_fails(&res, ErrorKind::ResponseHead);
        assert!(!res.error().unwrap().is_timeout(), "{name}: {}", res.reason());
        assert!(res.reason().contains(why), "{name}: {}", res.reason());
        assert_eq!(res.orig_status(), None, "{name}: no head was parsed");
        assert_eq!(res.version(), None, "{name}");
        assert!(res.headers().is_empty(), "{name}");
        assert_eq!(res.url(), url, "{name}");
        assert_eq!(server.connects(), 1, "{name}");
    }

    // The boundary: exactly 100 fields is fine.
    for i in 0..99 {
        hundred.push_str(&format!("x-{i}: v\r\n"));
    }
    hundred.push_str("Content-Length: 2\r\n\r\nok");
    let server = Scripted::respond(hundred).await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.headers().len(), 100);
    assert_eq!(res.body().as_ref(), b"ok");
}

#[tokio::test]
async fn connection_closed_before_the_head_says_so() {
    let server = Scripted::start(|mut peer| async move {
        peer.read_request().await;
    })
    .await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_fails(&res, ErrorKind::ResponseHead);
    assert!(res.reason().contains("closed before the response head"), "{}", res.reason());
}

#[tokio::test]
async fn head_over_64_kib_fails_without_waiting_for_its_end() {
    let server = Scripted::start(|mut peer| async move {
        if peer.read_request().await.is_some() {
            let mut head = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            head.resize(70 * 1024, b'a');
            peer.write(head).await;
            // Never finish the head: a client that waits for the blank line would hang.
            peer.hold().await;
        }
    })
    .await;
    let res = within(courier::get(server.url("/")).timeout(NO_WAIT).send()).await;
    assert_fails(&res, ErrorKind::ResponseHead);
    assert!(!res.error().unwrap().is_timeout(), "the client waited: {}", res.reason());
    assert!(res.reason().contains("too large"), "{}", res.reason());
}

// ---------------------------------------------------------------------------------------
// 8. Activity timeout
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn silent_server_times_out_with_596() {
    let server = Scripted::start(|mut peer| async move {
        if peer.read_request().await.is_some() {
            peer.hold().await;
        }
    })
    .await;
    let url = server.url("/");
    let res = within(courier::get(&url).timeout(SHORT).send()).await;
    assert_fails(&res, ErrorKind::ResponseHead);
    assert!(res.error().unwrap().is_timeout(), "{}", res.reason());
    assert_eq!(res.orig_status(), None);
    assert_eq!(res.url(), url);
    assert_eq!(server.requests().len(), 1, "the request was sent before the wait");
}

#[tokio::test]
async fn stalled_body_times_out_with_597_and_keeps_the_partial_body() {
    let server = Scripted::start(|mut peer| async move {
        if peer.read_request().await.is_some() {
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
            peer.hold().await;
        }
    })
    .await;
    let res = within(courier::get(server.url("/")).timeout(SHORT).send()).await;
    assert_fails(&res, ErrorKind::ResponseBody);
    assert!(res.error().unwrap().is_timeout(), "{}", res.reason());
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
    assert_eq!(res.orig_reason(), Some("OK"));
    assert_eq!(res.header("content-length").as_deref(), Some("10"));
    assert_eq!(res.body().as_ref(), b"abc");
}

#[tokio::test]
async fn trickling_body_resets_the_activity_timeout() {
    let server = Scripted::start(|mut peer| async move {
        let _ = peer.stream.set_nodelay(true);
        if peer.read_request().await.is_some() {
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n").await;
            for byte in b"0123456789" {
                tokio::time::sleep(Duration::from_millis(100)).await;
                peer.write([*byte]).await;
            }
            peer.hold().await;
        }
    })
    .await;
    let res = within(courier::get(server.url("/")).timeout(Duration::from_millis(400)).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(!res.is_error());
    assert_eq!(res.body().as_ref(), b"0123456789");
}

// ---------------------------------------------------------------------------------------
// 9. Connecting
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn closed_port_fails_with_595() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/");
    let res = within(courier::get(&url).timeout(Duration::from_secs(5)).send()).await;
    assert_fails(&res, ErrorKind::Connect);
    assert_eq!(res.url(), url);
    assert_eq!(res.version(), None);
    assert!(res.reason().contains(&format!("127.0.0.1:{port}")), "{}", res.reason());
}

#[tokio::test]
async fn localhost_tries_each_resolved_address() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let url = format!("http://localhost:{}/l", server.port());
    let res = within(courier::get(&url).timeout(Duration::from_secs(5)).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"ok");
    assert_eq!(
        server.requests()[0].head,
        default_head("GET", "/l", &format!("localhost:{}", server.port()), "")
    );
}

#[tokio::test]
async fn on_prepare_can_bind_the_local_address() {
    let server = Scripted::start(|mut peer| async move {
        if peer.read_request().await.is_some() {
            let body = peer.peer_addr.ip().to_string();
            peer.write(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())).await;
        }
    })
    .await;
    let prepared = Arc::new(AtomicUsize::new(0));
    let counter = prepared.clone();
    let res = within(
        courier::get(server.url("/"))
            .on_prepare(move |socket: &TcpSocket| {
                counter.fetch_add(1, Ordering::SeqCst);
                socket.bind("127.0.0.2:0".parse().unwrap())
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "127.0.0.2");
    assert_eq!(prepared.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn on_prepare_error_fails_with_595_without_connecting() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let url = server.url("/");
    let res = within(
        courier::get(&url)
            .on_prepare(|_: &TcpSocket| Err(io::Error::other("socket vetoed by policy")))
            .send(),
    )
    .await;
    assert_fails(&res, ErrorKind::Connect);
    assert!(res.reason().contains("socket vetoed by policy"), "{}", res.reason());
    assert_eq!(res.url(), url);
    assert_eq!(server.connects(), 0);
}

#[tokio::test]
async fn custom_connector_receives_the_target_and_its_stream_is_used() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nvia").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(None::<Target>));
    let (counter, record, port) = (calls.clone(), seen.clone(), server.port());
    let url = "http://127.0.0.1:1/through?c=1";
    let res = within(
        courier::get(url)
            .connector(move |target: Target| {
                counter.fetch_add(1, Ordering::SeqCst);
                *record.lock().unwrap() = Some(target);
                tokio::net::TcpStream::connect(("127.0.0.1", port))
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"via");
    assert_eq!(res.url(), url);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some(Target { scheme: "http".into(), host: "127.0.0.1".into(), port: 1 })
    );
    assert_eq!(server.connects(), 1);
    assert_eq!(server.requests()[0].head, default_head("GET", "/through?c=1", "127.0.0.1:1", ""));
}

#[tokio::test]
async fn connector_error_fails_with_595_and_its_text() {
    let url = "http://127.0.0.1:1/";
    let res = within(
        courier::get(url)
            .connector(|_: Target| async {
                Err::<tokio::net::TcpStream, _>(io::Error::other("proxy said no"))
            })
            .send(),
    )
    .await;
    assert_fails(&res, ErrorKind::Connect);
    assert!(res.reason().contains("proxy said no"), "{}", res.reason());
    assert_eq!(res.url(), url);
}

#[tokio::test]
async fn in_memory_transport_from_a_connector_works() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let url = "http://127.0.0.1:9/mem?x=1#not-sent";
    let res = within(
        courier::post(url).body("ping")
            .connector(move |_: Target| {
                let record = record.clone();
                async move {
                    let (client, mut server) = tokio::io::duplex(1024);
                    tokio::spawn(async move {
                        let mut received = Vec::new();
                        let mut chunk = [0u8; 256];
                        // Head plus the 4-byte body.
                        while !received.ends_with(b"\r\n\r\nping") {
                            match server.read(&mut chunk).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => received.extend_from_slice(&chunk[..n]),
                            }
                        }
                        *record.lock().unwrap() = received;
                        let _ = server
                            .write_all(b"HTTP/1.1 200 In Memory\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nmemory\r\n0\r\n\r\n")
                            .await;
                        // Stay open until the client is done with the stream.
                        let _ = server.read(&mut chunk).await;
                    });
                    Ok::<_, io::Error>(client)
                }
            })
            .timeout(NO_WAIT)
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.reason(), "In Memory");
    assert_eq!(res.body().as_ref(), b"memory");
    let expected = default_head("POST", "/mem?x=1", "127.0.0.1:9", "content-length: 4\r\n") + "ping";
    assert_eq!(String::from_utf8_lossy(&seen.lock().unwrap()), expected);
}
