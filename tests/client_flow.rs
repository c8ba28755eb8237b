mod support;
use support::*;

use courier::{Client, ErrorKind, Method};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// The default User-Agent courier sends.
const UA: &str = concat!("courier/", env!("CARGO_PKG_VERSION"));

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A server on `address` that reads one request per connection and answers it with
/// `answer(&request)`, then closes.
async fn route_on<F>(address: &str, answer: F) -> Scripted
where
    F: Fn(&Received) -> String + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    Scripted::start_on(address, move |mut peer| {
        let answer = answer.clone();
        async move {
            if let Some(request) = peer.read_request().await {
                let response = answer(&request);
                peer.write(response).await;
            }
        }
    })
    .await
}

/// [`route_on`] on `127.0.0.1:0`.
async fn route<F>(answer: F) -> Scripted
where
    F: Fn(&Received) -> String + Send + Sync + 'static,
{
    route_on("127.0.0.1:0", answer).await
}

/// A server that runs `script` on every connection, handing it a sender for what it
/// wants to report to the test; the receiver comes back with the server.
async fn reporting<T, F, Fut>(script: F) -> (Scripted, mpsc::UnboundedReceiver<T>)
where
    T: Send + 'static,
    F: Fn(Peer, mpsc::UnboundedSender<T>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Scripted::start(move |peer| script(peer, tx.clone())).await;
    (server, rx)
}

/// A [`reporting`] server that reads a request, writes `response`, then runs `rest`.
async fn answer_then<F, Fut>(response: &'static str, rest: F) -> (Scripted, mpsc::UnboundedReceiver<Vec<u8>>)
where
    F: Fn(Peer, mpsc::UnboundedSender<Vec<u8>>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rest = Arc::new(rest);
    reporting(move |mut peer, tx| {
        let rest = rest.clone();
        async move {
            if peer.read_request().await.is_none() {
                return;
            }
            peer.write(response).await;
            rest(peer, tx).await;
        }
    })
    .await
}

/// A server that answers `from` with `reply` (a redirect) and any other target with
/// `ok(body)`.
async fn one_redirect(from: &'static str, reply: String, body: &'static str) -> Scripted {
    route(move |request| if request.target == from { reply.clone() } else { ok(body) }).await
}

/// A redirect with an empty body.
fn redirect(status: u16, location: &str) -> String {
    redirect_with_body(status, location, "")
}

/// A redirect carrying `body`.
fn redirect_with_body(status: u16, location: &str, body: &str) -> String {
    format!("HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// A 200 with a Content-Length body.
fn ok(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// The exact head courier sends: request line, Host, the caller's fields (`"name: value"`,
/// in order), then the defaults User-Agent, TE, Connection, Referer and Content-Length.
fn expected_head(
    method: &str,
    target: &str,
    host: &str,
    caller: &[&str],
    referer: Option<&str>,
    content_length: Option<usize>,
) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n");
    for field in caller {
        head.push_str(field);
        head.push_str("\r\n");
    }
    let connection = default_connection(method);
    head.push_str(&format!("user-agent: {UA}\r\nte: trailers\r\nconnection: {connection}\r\n"));
    if let Some(referer) = referer {
        head.push_str(&format!("referer: {referer}\r\n"));
    }
    if let Some(length) = content_length {
        head.push_str(&format!("content-length: {length}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn targets(server: &Scripted) -> Vec<String> {
    server.requests().into_iter().map(|request| request.target).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Redirects
// ---------------------------------------------------------------------------------------

/// POST with a body and a Content-Type, answered with `status` to `/next`: the follow-up
/// must be a GET with no body, no Content-Length and no Content-Type.
async fn post_turns_into_get_on(status: u16) {
    let server = one_redirect("/form", redirect_with_body(status, "/next", "see next"), "done").await;
    let res = within(
        courier::post(server.url("/form"))
            .body("a=1&b=2")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-keep", "1")
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{status}: {}", res.reason());
    assert_eq!(res.body().as_ref(), b"done");
    assert_eq!(res.url(), server.url("/next"));
    assert_eq!(res.redirects().len(), 1);
    assert_eq!(res.redirects()[0].status().as_u16(), status);
    assert_eq!(res.redirects()[0].body().as_ref(), b"see next");

    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 2, "{status}");
    assert_eq!(
        got[0].head,
        expected_head(
            "POST",
            "/form",
            &host,
            &["content-type: application/x-www-form-urlencoded", "x-keep: 1"],
            None,
            Some(7)
        )
    );
    assert_eq!(got[0].body, b"a=1&b=2");
    assert_eq!(
        got[1].head,
        expected_head("GET", "/next", &host, &["x-keep: 1"], Some(&server.url("/form")), None),
        "{status}"
    );
    assert!(got[1].body.is_empty());
    assert_eq!(server.connects(), 2);
}

#[tokio::test]
async fn redirect_301_turns_post_into_get_without_body() {
    post_turns_into_get_on(301).await;
}

#[tokio::test]
async fn redirect_302_turns_post_into_get_without_body() {
    post_turns_into_get_on(302).await;
}

#[tokio::test]
async fn redirect_303_turns_post_into_get_without_body() {
    post_turns_into_get_on(303).await;
}

#[tokio::test]
async fn redirect_302_keeps_head_as_head() {
    let server = route(|request| match request.target.as_str() {
        "/h" => redirect(302, "/next"),
        // A HEAD response: Content-Length describes the GET body, none follows.
        _ => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_owned(),
    })
    .await;
    let res = within(courier::head(server.url("/h")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().is_empty());
    assert_eq!(res.header("content-length").as_deref(), Some("5"));
    assert_eq!(res.url(), server.url("/next"));

    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].head, expected_head("HEAD", "/h", &host, &[], None, None));
    assert_eq!(got[1].head, expected_head("HEAD", "/next", &host, &[], Some(&server.url("/h")), None));
}

#[tokio::test]
async fn redirect_303_turns_put_into_get() {
    let server = one_redirect("/put", redirect(303, "/result"), "result").await;
    let res = within(
        courier::request("PUT", server.url("/put")).body("data").header("content-type", "text/plain").send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"result");

    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].head,
        expected_head("PUT", "/put", &host, &["content-type: text/plain"], None, Some(4))
    );
    assert_eq!(got[0].body, b"data");
    assert_eq!(got[1].head, expected_head("GET", "/result", &host, &[], Some(&server.url("/put")), None));
    assert!(got[1].body.is_empty());
}

#[tokio::test]
async fn redirect_302_keeps_put_and_its_body() {
    // Only POST is rewritten by 301/302; other methods keep method and body.
    let server = one_redirect("/put", redirect(302, "/again"), "stored").await;
    let res = within(
        courier::request("PUT", server.url("/put")).body("data").header("content-type", "text/plain").send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].head,
        expected_head(
            "PUT",
            "/again",
            &host,
            &["content-type: text/plain"],
            Some(&server.url("/put")),
            Some(4)
        )
    );
    assert_eq!(got[1].body, b"data");
}

async fn post_is_kept_on(status: u16) {
    let server = one_redirect("/form", redirect(status, "/next"), "kept").await;
    let res = within(
        courier::post(server.url("/form"))
            .body("hello")
            .header("content-type", "text/plain")
            .header("x-keep", "1")
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{status}: {}", res.reason());
    assert_eq!(res.body().as_ref(), b"kept");
    assert_eq!(res.redirects().len(), 1);
    assert_eq!(res.redirects()[0].status().as_u16(), status);

    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].head,
        expected_head(
            "POST",
            "/next",
            &host,
            &["content-type: text/plain", "x-keep: 1"],
            Some(&server.url("/form")),
            Some(5)
        ),
        "{status}"
    );
    assert_eq!(got[1].body, b"hello", "{status}");
}

#[tokio::test]
async fn redirect_307_keeps_post_and_exact_body() {
    post_is_kept_on(307).await;
}

#[tokio::test]
async fn redirect_308_keeps_post_and_exact_body() {
    post_is_kept_on(308).await;
}

#[tokio::test]
async fn relative_locations_resolve_against_the_current_url() {
    let other = route(|request| ok(&request.target)).await;
    let other_authority = other.addr.to_string();
    let server = route(move |request| match request.target.as_str() {
        "/a/b/c?case=abs" => redirect(302, "/abs"),
        "/a/b/c?case=up" => redirect(302, "../up/x"),
        "/a/b/c?case=query" => redirect(302, "?q=2"),
        "/a/b/c?case=scheme" => redirect(302, &format!("//{other_authority}/path")),
        target => ok(target),
    })
    .await;

    for (case, path) in [("abs", "/abs"), ("up", "/a/up/x"), ("query", "/a/b/c?q=2")] {
        let res = within(courier::get(server.url(&format!("/a/b/c?case={case}"))).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{case}: {}", res.reason());
        assert_eq!(res.url(), server.url(path), "{case}");
        assert_eq!(res.text(), path, "{case}");
    }
    assert_eq!(
        targets(&server),
        ["/a/b/c?case=abs", "/abs", "/a/b/c?case=up", "/a/up/x", "/a/b/c?case=query", "/a/b/c?q=2"]
    );

    let res = within(courier::get(server.url("/a/b/c?case=scheme")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.url(), other.url("/path"));
    assert_eq!(res.text(), "/path");
    assert_eq!(targets(&other), ["/path"]);
    assert_eq!(other.requests()[0].header("host"), Some(other.addr.to_string().as_str()));
}

#[tokio::test]
async fn redirect_to_ftp_is_unsupported_scheme() {
    let server = Scripted::respond(
        "HTTP/1.1 302 Found\r\nLocation: ftp://files.example.test/pub/file.txt\r\nContent-Length: 4\r\n\r\nnope",
    )
    .await;
    let res = within(courier::get(server.url("/get")).send()).await;
    assert_eq!(res.status().as_u16(), 599, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::UnsupportedScheme);
    assert_eq!(res.url(), "ftp://files.example.test/pub/file.txt");
    assert_eq!(res.redirects().len(), 1);
    let hop = &res.redirects()[0];
    assert_eq!(hop.status().as_u16(), 302);
    assert_eq!(hop.url(), server.url("/get"));
    assert_eq!(hop.body().as_ref(), b"nope");
    assert_eq!(hop.header("location").as_deref(), Some("ftp://files.example.test/pub/file.txt"));
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn unparsable_location_is_599() {
    let server =
        Scripted::respond("HTTP/1.1 301 Moved\r\nLocation: http://[oops/\r\nContent-Length: 0\r\n\r\n").await;
    let res = within(courier::get(server.url("/get")).send()).await;
    assert_eq!(res.status().as_u16(), 599, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::Redirect);
    assert_eq!(res.url(), server.url("/get"));
    assert_eq!(res.redirects().len(), 1);
    assert_eq!(res.redirects()[0].status().as_u16(), 301);
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn recurse_zero_returns_the_first_redirect() {
    let server = route(|request| match request.target.as_str() {
        "/start" => {
            "HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\nContent-Length: 5\r\n\r\nmoved".to_owned()
        }
        _ => ok("next"),
    })
    .await;
    let res = within(courier::get(server.url("/start")).recurse(0).send()).await;
    assert_eq!(res.status().as_u16(), 301, "{}", res.reason());
    assert_eq!(res.reason(), "Moved Permanently");
    assert!(res.error().is_none());
    assert_eq!(res.body().as_ref(), b"moved");
    assert_eq!(res.header("location").as_deref(), Some("/next"));
    assert_eq!(res.url(), server.url("/start"));
    assert!(res.redirects().is_empty());
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn recurse_two_on_a_three_hop_chain_returns_the_third_redirect() {
    let server = route(|request| match request.target.as_str() {
        "/1" => redirect_with_body(302, "/2", "one"),
        "/2" => redirect_with_body(302, "/3", "two"),
        "/3" => redirect_with_body(302, "/4", "three"),
        _ => ok("four"),
    })
    .await;
    let res = within(courier::get(server.url("/1")).recurse(2).send()).await;
    assert_eq!(res.status().as_u16(), 302, "{}", res.reason());
    assert_eq!(res.url(), server.url("/3"));
    assert_eq!(res.body().as_ref(), b"three");
    assert_eq!(res.header("location").as_deref(), Some("/4"));
    assert_eq!(res.redirects().len(), 2);
    assert_eq!(res.redirects()[0].url(), server.url("/2"));
    assert_eq!(res.redirects()[1].url(), server.url("/1"));
    assert_eq!(targets(&server), ["/1", "/2", "/3"]);
    assert_eq!(server.connects(), 3);
}

#[tokio::test]
async fn redirect_chain_is_newest_first_and_keeps_each_hop() {
    let server = route(|request| match request.target.as_str() {
        "/a" => redirect_with_body(301, "/b", "from-a"),
        "/b" => redirect_with_body(307, "/c", "from-b"),
        _ => ok("c-body"),
    })
    .await;
    let res = within(courier::get(server.url("/a")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"c-body");
    assert_eq!(res.url(), server.url("/c"));
    let hops = res.redirects();
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[0].url(), server.url("/b"));
    assert_eq!(hops[0].status().as_u16(), 307);
    assert_eq!(hops[0].body().as_ref(), b"from-b");
    assert_eq!(hops[0].header("location").as_deref(), Some("/c"));
    assert_eq!(hops[1].url(), server.url("/a"));
    assert_eq!(hops[1].status().as_u16(), 301);
    assert_eq!(hops[1].body().as_ref(), b"from-a");
    assert_eq!(hops[1].header("location").as_deref(), Some("/b"));
    assert_eq!(targets(&server), ["/a", "/b", "/c"]);
}

#[tokio::test]
async fn referer_is_the_previous_url_without_fragment_or_userinfo() {
    let server = route(|request| match request.target.as_str() {
        "/a?x=1" => redirect(302, "/b"),
        "/b" => redirect(302, "/c"),
        _ => ok("end"),
    })
    .await;
    let start = format!("http://user:secret@{}/a?x=1#frag", server.addr);
    let res = within(courier::get(&start).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    // The credentials became Basic auth and left the URL: the response does not show them.
    assert_eq!(res.url(), format!("http://{}/c#frag", server.addr));

    let got = server.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].header("referer"), None);
    assert_eq!(got[1].header("referer"), Some(server.url("/a?x=1").as_str()));
    assert_eq!(got[2].header("referer"), Some(server.url("/b").as_str()));
    for request in &got {
        assert!(!request.head.contains("secret"), "{}", request.head);
        assert!(!request.head.contains('#'), "{}", request.head);
    }
}

#[tokio::test]
async fn remove_header_referer_suppresses_it_on_every_hop() {
    let server = route(|request| match request.target.as_str() {
        "/a" => redirect(302, "/b"),
        "/b" => redirect(301, "/c"),
        _ => ok("end"),
    })
    .await;
    let res = within(courier::get(server.url("/a")).remove_header("referer").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 3);
    for (request, target) in got.iter().zip(["/a", "/b", "/c"]) {
        assert_eq!(request.head, expected_head("GET", target, &host, &[], None, None));
    }
}

/// What reaches an origin of the credentials `with_credentials` sets: Proxy-Authorization
/// is for proxies only and never goes to an origin, not even the first one.
const CREDENTIALS: [&str; 3] = ["authorization: Bearer t0k", "cookie: sid=1", "x-custom: kept"];

fn with_credentials(request: courier::RequestBuilder) -> courier::RequestBuilder {
    request
        .header("authorization", "Bearer t0k")
        .header("cookie", "sid=1")
        .header("proxy-authorization", "Basic eA==")
        .header("x-custom", "kept")
}

async fn cross_origin_drops_credentials(second_address: &str) {
    let second = route_on(second_address, |_| ok("second")).await;
    let second_url = second.url("/b");
    let first = route(move |_| redirect(302, &second_url)).await;
    let res = within(with_credentials(courier::get(first.url("/a"))).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"second");
    assert_eq!(res.url(), second.url("/b"));

    let first_got = first.requests();
    assert_eq!(first_got.len(), 1);
    assert_eq!(
        first_got[0].head,
        expected_head("GET", "/a", &first.addr.to_string(), &CREDENTIALS, None, None)
    );
    let second_got = second.requests();
    assert_eq!(second_got.len(), 1);
    assert_eq!(
        second_got[0].head,
        expected_head(
            "GET",
            "/b",
            &second.addr.to_string(),
            &["x-custom: kept"],
            Some(&first.url("/a")),
            None
        )
    );
}

#[tokio::test]
async fn cross_origin_redirect_to_another_host_drops_credentials() {
    cross_origin_drops_credentials("127.0.0.2:0").await;
}

#[tokio::test]
async fn cross_origin_redirect_to_another_port_drops_credentials() {
    cross_origin_drops_credentials("127.0.0.1:0").await;
}

#[tokio::test]
async fn same_origin_redirect_keeps_credentials() {
    let server = one_redirect("/a", redirect(302, "/b"), "b").await;
    let res = within(with_credentials(courier::get(server.url("/a"))).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    let host = server.addr.to_string();
    let got = server.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].head, expected_head("GET", "/b", &host, &CREDENTIALS, Some(&server.url("/a")), None));
}

#[tokio::test]
async fn redirect_status_without_location_is_final() {
    let server = Scripted::respond("HTTP/1.1 302 Found\r\nContent-Length: 11\r\n\r\nno location").await;
    let res = within(courier::get(server.url("/x")).send()).await;
    assert_eq!(res.status().as_u16(), 302, "{}", res.reason());
    assert_eq!(res.reason(), "Found");
    assert!(res.error().is_none());
    assert_eq!(res.body().as_ref(), b"no location");
    assert!(res.redirects().is_empty());
    assert_eq!(res.url(), server.url("/x"));
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn conflicting_location_headers_are_a_redirect_error() {
    let server =
        Scripted::respond("HTTP/1.1 302 Found\r\nLocation: /x\r\nLocation: /y\r\nContent-Length: 0\r\n\r\n")
            .await;
    let res = within(courier::get(server.url("/start")).send()).await;
    assert_eq!(res.status().as_u16(), 599, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::Redirect);
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(302));
    assert!(res.redirects().is_empty());
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn identical_duplicate_locations_are_followed() {
    let server = route(|request| match request.target.as_str() {
        "/start" => {
            "HTTP/1.1 302 Found\r\nLocation: /next\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n".to_owned()
        }
        _ => ok("next"),
    })
    .await;
    let res = within(courier::get(server.url("/start")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"next");
    assert_eq!(res.url(), server.url("/next"));
    assert_eq!(res.redirects().len(), 1);
    assert_eq!(targets(&server), ["/start", "/next"]);
}

#[tokio::test]
async fn redirect_loop_stops_after_ten_follow_ups() {
    let server = route(|_| redirect_with_body(302, "/loop", "again")).await;
    let res = within(courier::get(server.url("/loop")).send()).await;
    assert_eq!(res.status().as_u16(), 302, "{}", res.reason());
    assert!(res.error().is_none());
    assert_eq!(res.body().as_ref(), b"again");
    assert_eq!(res.url(), server.url("/loop"));
    assert_eq!(res.redirects().len(), 10);
    assert_eq!(server.connects(), 11);
    assert_eq!(server.requests().len(), 11);
}

#[tokio::test]
async fn fragment_is_inherited_and_never_sent() {
    let server = route(|request| match request.target.as_str() {
        "/a" => redirect(302, "/b"),
        "/own" => redirect(302, "/b#mine"),
        _ => ok("b"),
    })
    .await;
    let res = within(courier::get(server.url("/a#frag")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.url(), server.url("/b#frag"));
    assert!(res.url().ends_with("#frag"));

    // A Location with its own fragment keeps it.
    let res = within(courier::get(server.url("/own#frag")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.url(), server.url("/b#mine"));

    let got = server.requests();
    assert_eq!(targets(&server), ["/a", "/b", "/own", "/b"]);
    assert_eq!(got[1].header("referer"), Some(server.url("/a").as_str()));
    for request in &got {
        assert!(!request.head.contains('#'), "{}", request.head);
    }
}

// ---------------------------------------------------------------------------------------
// 2. Interim responses
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn early_hints_103_is_skipped() {
    let server = Scripted::respond(
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.reason(), "OK");
    assert_eq!(res.body().as_ref(), b"hello");
    assert_eq!(res.header("link"), None);

    // The final response's own Link is kept, and only that one.
    let server = Scripted::respond(
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n\
         HTTP/1.1 200 OK\r\nLink: </final>\r\nContent-Length: 5\r\n\r\nworld",
    )
    .await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"world");
    assert_eq!(res.header_all("link"), ["</final>"]);
}

#[tokio::test]
async fn several_100_continue_are_skipped() {
    let server = Scripted::respond(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody",
    )
    .await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"body");
    assert_eq!(res.header("x-interim"), None);
}

#[tokio::test]
async fn thirty_two_interim_responses_are_accepted() {
    let mut response = "HTTP/1.1 100 Continue\r\n\r\n".repeat(32);
    response.push_str(&ok("fine"));
    let server = Scripted::respond(response).await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"fine");
}

#[tokio::test]
async fn thirty_three_interim_responses_are_596() {
    let mut response = "HTTP/1.1 100 Continue\r\n\r\n".repeat(33);
    response.push_str(&ok("never"));
    let server = Scripted::respond(response).await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::ResponseHead);
    assert!(res.body().is_empty());
}

#[tokio::test]
async fn unsolicited_101_is_596() {
    let server = Scripted::respond(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await;
    let res = within(courier::get(server.url("/")).send()).await;
    assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::ResponseHead);
}

#[tokio::test]
async fn requested_upgrade_makes_101_final() {
    let server = Scripted::respond(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await;
    let res = within(
        courier::get(server.url("/ws")).header("connection", "Upgrade").header("upgrade", "websocket").send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 101, "{}", res.reason());
    assert!(res.error().is_none());
    assert_eq!(res.header("upgrade").as_deref(), Some("websocket"));
    assert!(res.body().is_empty());
    let got = server.requests();
    assert_eq!(got[0].header("upgrade"), Some("websocket"));
    assert_eq!(got[0].header("connection"), Some("Upgrade"));
}

#[tokio::test]
async fn upgrade_101_with_body_handle_carries_the_new_protocol() {
    let (server, mut rx) = answer_then(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nserver-hello",
        |mut peer, tx| async move {
            let ping = peer.read_exact(4).await;
            let _ = tx.send(ping);
            peer.write("pong").await;
            peer.hold().await;
        },
    )
    .await;
    within(async {
        let mut res = courier::get(server.url("/ws"))
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .want_body_handle(true)
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 101, "{}", res.reason());
        let mut handle = res.take_body_handle().expect("a body handle after 101");
        let mut hello = [0u8; 12];
        handle.read_exact(&mut hello).await.unwrap();
        assert_eq!(&hello, b"server-hello");
        handle.write_all(b"ping").await.unwrap();
        handle.flush().await.unwrap();
        assert_eq!(rx.recv().await.as_deref(), Some(&b"ping"[..]));
        let mut pong = [0u8; 4];
        handle.read_exact(&mut pong).await.unwrap();
        assert_eq!(&pong, b"pong");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 3. Expect: 100-continue
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn expect_continue_sends_the_body_after_100() {
    // (request as received, body bytes waiting on the socket before 100, body after 100)
    let (server, mut rx) = reporting(|mut peer, tx| async move {
        let Some(request) = peer.read_request().await else { return };
        let mut probe = [0u8; 64];
        let early = !matches!(
            peer.stream.try_read(&mut probe),
            Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        peer.write("HTTP/1.1 100 Continue\r\n\r\n").await;
        let length: usize = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or_default();
        let body = peer.read_exact(length).await;
        let mut response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        response.extend_from_slice(&body);
        peer.write(response).await;
        let _ = tx.send((request, early, body));
    })
    .await;
    let body = "the exact body, 33 bytes long!!!!";
    let res =
        within(courier::post(server.url("/up")).body(body).header("expect", "100-continue").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), body.as_bytes());

    let (request, early, received) = within(rx.recv()).await.unwrap();
    assert_eq!(
        request.head,
        expected_head(
            "POST",
            "/up",
            &server.addr.to_string(),
            &["expect: 100-continue"],
            None,
            Some(body.len())
        )
    );
    assert!(request.body.is_empty());
    assert!(!early, "body bytes arrived before 100 Continue was sent");
    assert_eq!(received, body.as_bytes());
}

#[tokio::test]
async fn expect_continue_answered_with_a_final_status_sends_no_body() {
    let (server, mut rx) = reporting(|mut peer, tx| async move {
        let Some(request) = peer.read_request().await else { return };
        let response = if request.target == "/401" {
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n"
        } else {
            "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"
        };
        peer.write(response).await;
        let rest = peer.read_to_end().await;
        let _ = tx.send((request, rest));
    })
    .await;
    for (status, reason) in [(417, "Expectation Failed"), (401, "Unauthorized")] {
        let res = within(
            courier::post(server.url(&format!("/{status}")))
                .body("0123456789")
                .header("expect", "100-continue")
                .send(),
        )
        .await;
        assert_eq!(res.status().as_u16(), status, "{}", res.reason());
        assert_eq!(res.reason(), reason);
        assert!(res.error().is_none());
        let (request, rest) = within(rx.recv()).await.unwrap();
        assert_eq!(request.header("content-length"), Some("10"));
        assert!(request.body.is_empty());
        assert!(rest.is_empty(), "{status}: the server got {} body bytes", rest.len());
    }
}

#[tokio::test]
async fn expect_continue_ignored_by_the_server_still_sends_the_body() {
    let (server, mut rx) = reporting(|mut peer, tx| async move {
        let Some(request) = peer.read_request().await else { return };
        let length: usize = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or_default();
        // Never sends 100: simply waits for the body.
        let body = peer.read_exact(length).await;
        peer.write(ok("stored")).await;
        let _ = tx.send(body);
    })
    .await;
    let res =
        within(courier::post(server.url("/up")).body("late body").header("expect", "100-continue").send())
            .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"stored");
    assert_eq!(within(rx.recv()).await.as_deref(), Some(&b"late body"[..]));
}

// ---------------------------------------------------------------------------------------
// 4. on_header / on_body
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn on_header_sees_only_the_final_response() {
    let server = route(|request| match request.target.as_str() {
        "/a" => "HTTP/1.1 302 Found\r\nLocation: /b\r\nX-Hop: a\r\nContent-Length: 0\r\n\r\n".to_owned(),
        _ => "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok".to_owned(),
    })
    .await;
    /// (status, x-final, x-hop, url) per on_header call.
    type Seen = (u16, Option<String>, Option<String>, String);
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let res = within(
        courier::get(server.url("/a"))
            .on_header(move |res| {
                record.lock().unwrap().push((
                    res.status().as_u16(),
                    res.header("x-final").map(|v| v.into_owned()),
                    res.header("x-hop").map(|v| v.into_owned()),
                    res.url().to_owned(),
                ));
                true
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"ok");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [(200, Some("yes".to_owned()), None, server.url("/b"))]);
}

#[tokio::test]
async fn on_header_false_aborts_with_598() {
    // Only part of the body: a client that did not abort would wait for the rest.
    let (server, mut rx) = answer_then(
        "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 10\r\n\r\n0123",
        |mut peer, tx| async move {
            let rest = peer.read_to_end().await;
            let _ = tx.send(rest);
        },
    )
    .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let res = within(
        courier::get(server.url("/"))
            .on_header(move |res| {
                counter.fetch_add(1, Ordering::SeqCst);
                res.status().as_u16() != 200
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 598, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::Aborted);
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
    assert_eq!(res.orig_reason(), Some("Fine Thanks"));
    assert!(res.body().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The server's read_to_end returns: the client closed the connection.
    assert_eq!(within(rx.recv()).await, Some(Vec::new()));
}

#[tokio::test]
async fn on_body_receives_every_piece_of_a_chunked_body() {
    let server = Scripted::respond(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
         6\r\nhello \r\n7\r\nworld, \r\n8\r\nchunked \r\n4\r\nbody\r\n0\r\n\r\n",
    )
    .await;
    let pieces: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let record = pieces.clone();
    let res = within(
        courier::get(server.url("/"))
            .read_buffer_size(3)
            .on_body(move |chunk, res| {
                assert_eq!(res.status().as_u16(), 200);
                record.lock().unwrap().push(chunk.to_vec());
                true
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().is_empty());
    let pieces = pieces.lock().unwrap().clone();
    assert_eq!(pieces.concat(), b"hello world, chunked body");
    // 25 bytes read at most 3 at a time.
    assert!(pieces.len() >= 9, "{pieces:?}");
    assert!(pieces.iter().all(|piece| !piece.is_empty() && piece.len() <= 3), "{pieces:?}");
}

#[tokio::test]
async fn on_body_false_on_the_second_piece_aborts_with_598() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nabcdefghijkl").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let res = within(
        courier::get(server.url("/"))
            .read_buffer_size(3)
            .on_body(move |_, _| counter.fetch_add(1, Ordering::SeqCst) == 0)
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 598, "{}", res.reason());
    assert_eq!(res.error().unwrap().kind(), ErrorKind::Aborted);
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
    assert_eq!(res.orig_reason(), Some("OK"));
    assert!(res.body().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------
// 5. want_body_handle
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn body_handle_reads_the_whole_body_and_writes_to_the_server() {
    let (server, mut rx) =
        answer_then("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello", |mut peer, tx| async move {
            let line = peer.read_exact(5).await;
            let _ = tx.send(line);
            peer.write(" world").await;
        })
        .await;
    within(async {
        let mut res = courier::get(server.url("/stream")).want_body_handle(true).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(res.body().is_empty());
        let mut handle = res.take_body_handle().expect("a body handle");
        assert!(res.take_body_handle().is_none());
        handle.write_all(b"ping\n").await.unwrap();
        handle.flush().await.unwrap();
        assert_eq!(rx.recv().await.as_deref(), Some(&b"ping\n"[..]));
        let mut all = Vec::new();
        handle.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"hello world");
    })
    .await;
}

#[tokio::test]
async fn body_handle_is_absent_for_an_empty_body() {
    let server = route(|request| match request.target.as_str() {
        "/204" => "HTTP/1.1 204 No Content\r\n\r\n".to_owned(),
        _ => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned(),
    })
    .await;
    let mut res = within(courier::get(server.url("/204")).want_body_handle(true).send()).await;
    assert_eq!(res.status().as_u16(), 204, "{}", res.reason());
    assert!(res.take_body_handle().is_none());
    assert!(res.body().is_empty());

    let mut res = within(courier::get(server.url("/zero")).want_body_handle(true).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.take_body_handle().is_none());
    assert!(res.body().is_empty());
}

// ---------------------------------------------------------------------------------------
// 6. spawn and the guard
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn spawn_delivers_the_response_to_the_callback() {
    let server = Scripted::respond(ok("spawned")).await;
    let (tx, rx) = oneshot::channel();
    let guard = courier::get(server.url("/")).spawn(move |res| {
        let _ = tx.send((res.status().as_u16(), res.body().clone()));
    });
    let (status, body) = within(rx).await.expect("the callback is called");
    assert_eq!(status, 200);
    assert_eq!(body.as_ref(), b"spawned");
    drop(guard);
}

/// A server that reports "request" once it has read a request and "closed" once the
/// client closed the connection; it never answers.
async fn silent_server() -> (Scripted, mpsc::UnboundedReceiver<&'static str>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Scripted::start(move |mut peer| {
        let tx = tx.clone();
        async move {
            if peer.read_request().await.is_some() {
                let _ = tx.send("request");
            }
            peer.read_to_end().await;
            let _ = tx.send("closed");
        }
    })
    .await;
    (server, rx)
}

#[tokio::test]
async fn dropping_the_guard_cancels_the_request() {
    let (server, mut events) = silent_server().await;
    let (tx, rx) = oneshot::channel::<u16>();
    let guard = courier::get(server.url("/hang")).spawn(move |res| {
        let _ = tx.send(res.status().as_u16());
    });
    assert_eq!(within(events.recv()).await, Some("request"));
    drop(guard);
    assert_eq!(within(events.recv()).await, Some("closed"));
    assert!(within(rx).await.is_err(), "the callback must not be called");
    assert_eq!(server.connects(), 1);
}

#[tokio::test]
async fn detach_lets_the_request_complete() {
    let server = Scripted::respond(ok("detached")).await;
    let (tx, rx) = oneshot::channel();
    courier::get(server.url("/"))
        .spawn(move |res| {
            let _ = tx.send((res.status().as_u16(), res.body().clone()));
        })
        .detach();
    let (status, body) = within(rx).await.expect("the callback is called");
    assert_eq!(status, 200);
    assert_eq!(body.as_ref(), b"detached");
}

#[test]
fn spawn_outside_a_runtime_calls_back_at_once_with_599() {
    /// (status, error kind, url) the callback saw.
    type Outcome = (u16, Option<ErrorKind>, String);
    let outcome: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let record = outcome.clone();
    let guard = courier::get("http://127.0.0.1:9/never").spawn(move |res| {
        *record.lock().unwrap() =
            Some((res.status().as_u16(), res.error().map(|e| e.kind()), res.url().to_owned()));
    });
    let outcome = outcome.lock().unwrap().clone();
    assert_eq!(outcome, Some((599, Some(ErrorKind::Other), "http://127.0.0.1:9/never".to_owned())));
    assert!(guard.is_finished());
}

#[tokio::test]
async fn dropping_the_send_future_closes_the_connection() {
    let (server, mut events) = silent_server().await;
    within(async {
        let send = courier::get(server.url("/hang")).send();
        tokio::select! {
            res = send => panic!("the server never answers, yet got {} {}", res.status(), res.reason()),
            event = events.recv() => assert_eq!(event, Some("request")),
        }
        // `send` was dropped by select!: the server sees end of stream.
        assert_eq!(events.recv().await, Some("closed"));
    })
    .await;
    assert_eq!(server.connects(), 1);
}

// ---------------------------------------------------------------------------------------
// 7. Free functions and Client
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn request_with_a_method_string_sends_patch() {
    let server = Scripted::respond(ok("patched")).await;
    let res = within(courier::request("PATCH", server.url("/item/7")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"patched");
    assert_eq!(
        server.requests()[0].head,
        expected_head("PATCH", "/item/7", &server.addr.to_string(), &[], None, Some(0))
    );
}

#[tokio::test]
async fn request_with_a_method_value_sends_delete() {
    let server = Scripted::respond("HTTP/1.1 204 No Content\r\n\r\n").await;
    let res = within(courier::request(Method::DELETE, server.url("/item/7")).send()).await;
    assert_eq!(res.status().as_u16(), 204, "{}", res.reason());
    assert_eq!(
        server.requests()[0].head,
        expected_head("DELETE", "/item/7", &server.addr.to_string(), &[], None, None)
    );
}

#[tokio::test]
async fn client_builder_defaults_apply() {
    let server = route(|request| match request.target.as_str() {
        "/1" => redirect_with_body(302, "/2", "one"),
        "/2" => redirect_with_body(302, "/3", "two"),
        _ => ok("three"),
    })
    .await;
    let client = Client::builder()
        .user_agent("x/1")
        .max_recurse(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a valid client");
    let res = within(client.get(server.url("/1")).send()).await;
    assert_eq!(res.status().as_u16(), 302, "{}", res.reason());
    assert_eq!(res.url(), server.url("/2"));
    assert_eq!(res.body().as_ref(), b"two");
    assert_eq!(res.redirects().len(), 1);
    assert_eq!(server.connects(), 2);
    let got = server.requests();
    assert_eq!(got.len(), 2);
    let host = server.addr;
    assert_eq!(
        got[0].head,
        format!("GET /1 HTTP/1.1\r\nhost: {host}\r\nuser-agent: x/1\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n")
    );
    assert_eq!(
        got[1].head,
        format!(
            "GET /2 HTTP/1.1\r\nhost: {host}\r\nuser-agent: x/1\r\nte: trailers\r\nconnection: TE, keep-alive\r\nreferer: http://{host}/1\r\n\r\n"
        )
    );
}

#[tokio::test]
async fn client_builder_timeout_applies() {
    let (server, mut events) = silent_server().await;
    let client = Client::builder().timeout(Duration::from_millis(300)).build().expect("a valid client");
    let res = within(client.get(server.url("/slow")).send()).await;
    assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
    let error = res.error().unwrap();
    assert_eq!(error.kind(), ErrorKind::ResponseHead);
    assert!(error.is_timeout(), "{error}");
    assert_eq!(within(events.recv()).await, Some("request"));
    assert_eq!(within(events.recv()).await, Some("closed"));
}

#[test]
fn client_builder_rejects_a_user_agent_with_control_characters() {
    let error = Client::builder().user_agent("a\r\nb").build().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.status(), 599);
}

#[tokio::test]
async fn head_function_sends_head() {
    let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").await;
    let res = within(courier::head(server.url("/h")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().is_empty());
    assert_eq!(res.header("content-length").as_deref(), Some("5"));
    assert_eq!(
        server.requests()[0].head,
        expected_head("HEAD", "/h", &server.addr.to_string(), &[], None, None)
    );
}

#[tokio::test]
async fn post_function_sends_the_body() {
    let server = Scripted::respond(ok("posted")).await;
    let res = within(courier::post(server.url("/p")).body("x").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"posted");
    let got = server.requests();
    assert_eq!(got[0].head, expected_head("POST", "/p", &server.addr.to_string(), &[], None, Some(1)));
    assert_eq!(got[0].body, b"x");
}
