//! What a reqwest user reaches for on day one: `?` bridges (`try_send`, `error_for_status`,
//! `bytes`, `json`), the method shortcuts, default headers, `try_clone`, and the
//! `Send`/`Sync`/`Unpin` guarantees of the public types.

mod support;
use support::*;

use courier::{Client, ErrorKind, Response};
use futures_util::StreamExt;

/// A keep-alive HTTP/1.1 response with a Content-Length.
fn reply(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    format!("{head}\r\n{body}")
}

/// A server that answers `/ip` with JSON, `/missing` with 404, `/broken` with 500, and
/// anything else with `ok`.
async fn api() -> KeepAlive {
    KeepAlive::start(|request: &Received| match request.target.as_str() {
        "/ip" => reply("200 OK", &[("content-type", "application/json")], r#"{"origin":"127.0.0.1"}"#),
        "/missing" => reply("404 Not Found", &[], "no such thing"),
        "/broken" => reply("500 Internal Server Error", &[], "oops"),
        "/not-json" => reply("200 OK", &[("content-type", "application/json")], "{nope"),
        _ => reply("200 OK", &[], "ok"),
    })
    .await
}

#[cfg(feature = "json")]
#[derive(serde::Deserialize, Debug, PartialEq)]
struct Ip {
    origin: String,
}

#[cfg(feature = "json")]
#[tokio::test]
async fn get_json_with_question_marks() -> Result<(), courier::Error> {
    within(async {
        let server = api().await;
        let ip: Ip = courier::get(server.url("/ip")).try_send().await?.error_for_status()?.json().await?;
        assert_eq!(ip, Ip { origin: "127.0.0.1".into() });
        Ok(())
    })
    .await
}

#[cfg(feature = "json")]
#[tokio::test]
async fn a_body_that_is_not_json_is_a_decode_error() {
    use std::error::Error as _;
    within(async {
        let server = api().await;
        let res = courier::get(server.url("/not-json")).send().await;
        let error = res.json::<Ip>().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode);
        assert_eq!(error.status().as_u16(), 599);
        assert_eq!(error.url(), Some(server.url("/not-json").as_str()));
        assert!(error.source().is_some_and(|source| source.is::<serde_json::Error>()), "{error}");
        assert!(error.to_string().starts_with("decode the JSON body: "), "{error}");
    })
    .await;
}

#[tokio::test]
async fn error_for_status_turns_4xx_and_5xx_into_errors_with_status_reason_and_url() {
    within(async {
        let server = api().await;
        let url = server.url("/missing");
        let error = courier::get(&url).send().await.error_for_status().unwrap_err();
        assert_eq!(error.status().as_u16(), 404);
        assert_eq!(error.kind(), ErrorKind::Status);
        assert!(error.is_status() && !error.is_timeout());
        assert_eq!(error.url(), Some(url.as_str()));
        assert_eq!(error.to_string(), format!("{url} answered 404 Not Found"));

        let error = courier::get(server.url("/broken")).send().await.error_for_status().unwrap_err();
        assert_eq!((error.status().as_u16(), error.kind()), (500, ErrorKind::Status));

        let ok = courier::get(server.url("/fine")).send().await.error_for_status().unwrap();
        assert_eq!((ok.status().as_u16(), ok.text().as_ref()), (200, "ok"));
    })
    .await;
}

#[tokio::test]
async fn a_failed_request_is_an_err_from_try_send_and_error_for_status() {
    within(async {
        let url = format!("http://127.0.0.1:{}/", closed_port().await);
        let error = courier::get(&url).try_send().await.unwrap_err();
        assert_eq!((error.status().as_u16(), error.kind()), (595, ErrorKind::Connect));
        assert_eq!(error.url(), Some(url.as_str()));
        assert!(error.to_string().starts_with("connect to 127.0.0.1:"), "{error}");

        let error = courier::get(&url).send().await.error_for_status().unwrap_err();
        assert_eq!(error.status().as_u16(), 595);
        // The Response's own error knows its URL too.
        let res = courier::get(&url).send().await;
        assert_eq!(res.error().and_then(|error| error.url()), Some(url.as_str()));
    })
    .await;
}

#[tokio::test]
async fn try_send_returns_any_response_the_server_gave() {
    within(async {
        let server = api().await;
        let res = courier::get(server.url("/missing")).try_send().await.unwrap();
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (404, "no such thing"));
    })
    .await;
}

#[tokio::test]
async fn bytes_gives_the_body_collected_or_streamed() {
    within(async {
        let body = "x".repeat(100_000);
        let served = body.clone();
        let server = KeepAlive::start(move |_request: &Received| reply("200 OK", &[], &served)).await;

        let collected = courier::get(server.url("/")).send().await.bytes().await.unwrap();
        assert_eq!(collected, body.as_bytes());
        let streamed = courier::get(server.url("/")).send_streaming().await.bytes().await.unwrap();
        assert_eq!(streamed, body.as_bytes());

        // Collecting a streamed body keeps to max_body_size.
        let res = courier::get(server.url("/")).max_body_size(1000).send_streaming().await;
        let error = res.bytes().await.unwrap_err();
        assert_eq!((error.status().as_u16(), error.kind()), (597, ErrorKind::ResponseBody));
        assert_eq!(error.url(), Some(server.url("/").as_str()));

        let failed = courier::get("http://127.0.0.1:1/").send().await.bytes().await.unwrap_err();
        assert_eq!(failed.status(), 595);
    })
    .await;
}

#[tokio::test]
async fn the_method_shortcuts_send_their_method_and_post_needs_no_body() {
    within(async {
        let server = api().await;
        let client = Client::new();
        let url = server.url("/thing");
        for res in [
            courier::post(&url).send().await,
            courier::put(&url).body("new").send().await,
            courier::patch(&url).body("+1").send().await,
            courier::delete(&url).send().await,
            client.post(&url).body("c").send().await,
            client.put(&url).send().await,
            client.patch(&url).send().await,
            client.delete(&url).send().await,
        ] {
            assert_eq!(res.status(), 200, "{}", res.reason());
        }
        let seen: Vec<(String, Option<String>, Vec<u8>)> = server
            .requests()
            .into_iter()
            .map(|request| {
                (request.method.clone(), request.header("content-length").map(String::from), request.body)
            })
            .collect();
        let expected = |method: &str, length: Option<&str>, body: &str| {
            (method.to_owned(), length.map(String::from), body.as_bytes().to_vec())
        };
        assert_eq!(
            seen,
            [
                // POST, PUT and PATCH announce an empty body; DELETE has none.
                expected("POST", Some("0"), ""),
                expected("PUT", Some("3"), "new"),
                expected("PATCH", Some("2"), "+1"),
                expected("DELETE", None, ""),
                expected("POST", Some("1"), "c"),
                expected("PUT", Some("0"), ""),
                expected("PATCH", Some("0"), ""),
                expected("DELETE", None, ""),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn default_headers_go_first_and_a_request_replaces_or_removes_them() {
    use courier::http::{header, HeaderMap, HeaderValue};
    within(async {
        let server = api().await;
        let mut defaults = HeaderMap::new();
        defaults.insert("x-api-key", HeaderValue::from_static("k3y"));
        defaults.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        defaults.insert(header::USER_AGENT, HeaderValue::from_static("my-app/2"));
        let client = Client::builder().default_headers(defaults).build().unwrap();

        assert_eq!(client.get(server.url("/a")).header("x-extra", "1").send().await.status(), 200);
        assert_eq!(
            client
                .get(server.url("/b"))
                .header("Accept", "text/html")
                .remove_header("x-api-key")
                .send()
                .await
                .status(),
            200
        );
        let requests = server.requests();
        let names = |i: usize| -> Vec<(String, String)> { requests[i].headers.clone() };
        let host = server.url("").trim_start_matches("http://").to_owned();
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            names(0),
            [
                pair("host", &host),
                pair("x-api-key", "k3y"),
                pair("accept", "application/json"),
                pair("user-agent", "my-app/2"),
                pair("x-extra", "1"),
                pair("te", "trailers"),
                pair("connection", "TE, keep-alive"),
            ]
        );
        assert_eq!(requests[1].header("accept"), Some("text/html"));
        assert_eq!(requests[1].header("x-api-key"), None);
        assert_eq!(requests[1].header("user-agent"), Some("my-app/2"));
    })
    .await;
}

#[tokio::test]
async fn a_default_authorization_is_not_sent_to_another_origin_and_url_credentials_win() {
    use courier::http::{header, HeaderMap, HeaderValue};
    within(async {
        let other =
            KeepAlive::start_on("127.0.0.2:0", |_request: &Received| reply("200 OK", &[], "there")).await;
        let target = other.url("/landing");
        let origin =
            KeepAlive::start(move |_request: &Received| reply("302 Found", &[("location", &target)], ""))
                .await;
        let mut defaults = HeaderMap::new();
        defaults.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t0ken"));
        let client = Client::builder().default_headers(defaults).build().unwrap();

        let res = client.get(origin.url("/start")).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "there"));
        assert_eq!(origin.requests()[0].header("authorization"), Some("Bearer t0ken"));
        assert_eq!(other.requests()[0].header("authorization"), None);

        let with_credentials = origin.url("/start").replace("http://", "http://ada:pw@");
        client.get(&with_credentials).recurse(0).send().await;
        assert_eq!(origin.requests()[1].header("authorization"), Some("Basic YWRhOnB3"));
    })
    .await;
}

#[tokio::test]
async fn try_clone_copies_requests_that_can_be_sent_again() {
    within(async {
        let server = api().await;
        let request = courier::put(server.url("/doc")).header("x-n", "7").body("payload");
        let copy = request.try_clone().expect("an in-memory body and no callbacks");
        assert_eq!(request.send().await.status(), 200);
        assert_eq!(copy.send().await.status(), 200);
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].head, requests[1].head);
        assert_eq!(
            (requests[0].body.as_slice(), requests[1].body.as_slice()),
            (&b"payload"[..], &b"payload"[..])
        );

        let chunks = futures_util::stream::iter([Ok(courier::Bytes::from("a"))]);
        assert!(courier::post(server.url("/")).body_stream(chunks, None).try_clone().is_none());
        assert!(courier::get(server.url("/")).on_body(|_, _| true).try_clone().is_none());
        assert!(courier::get(server.url("/")).on_header(|_| true).try_clone().is_none());
        assert!(courier::post(server.url("/")).body_file("Cargo.toml").try_clone().is_some());
        // A request that will fail keeps failing the same way.
        let bad = courier::get("ftp://example.test/");
        let again = bad.try_clone().unwrap();
        assert_eq!(again.send().await.status(), 599);
    })
    .await;
}

#[tokio::test]
async fn responses_are_send_and_sync_and_body_streams_are_unpin() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send_unpin<T: Send + Unpin>(_: &T) {}
    assert_send_sync::<Response>();
    assert_send_sync::<courier::Error>();
    assert_send_sync::<Client>();

    within(async {
        let server = api().await;
        // A response shared across tasks by reference count.
        let shared = std::sync::Arc::new(courier::get(server.url("/shared")).send().await);
        let reader = shared.clone();
        let text = tokio::spawn(async move { reader.text().into_owned() }).await.unwrap();
        assert_eq!(text, "ok");

        // `next()` straight on the stream: no pinning needed.
        let mut stream = courier::get(server.url("/streamed")).send_streaming().await.into_stream();
        assert_send_unpin(&stream);
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(body, b"ok");
    })
    .await;
}

#[test]
fn the_http_crate_is_reexported() {
    let mut headers: courier::HeaderMap = courier::http::HeaderMap::new();
    headers.insert(courier::http::header::ACCEPT, courier::http::HeaderValue::from_static("*/*"));
    let method: courier::Method = courier::http::Method::PATCH;
    assert_eq!((headers.len(), method.as_str()), (1, "PATCH"));
    assert_eq!(courier::ErrorKind::Status.status(), None);
    assert_eq!(courier::ErrorKind::Connect.status(), Some(595));
}

/// The README's courier column (its line count included) is examples/day_one.rs's code,
/// which runs in CI: the side-by-side cannot drift from code that works.
#[test]
fn the_readmes_day_one_code_is_the_example_that_runs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/day_one.rs")).unwrap();
    let (_, after) = readme.split_once("courier (8 lines):\n\n```rust,ignore\n").expect("the courier column");
    let (block, _) = after.split_once("```").unwrap();
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(lines.len(), 8, "{block}");
    let example_lines: Vec<&str> = example.lines().map(str::trim).collect();
    let start =
        example_lines.iter().position(|line| *line == lines[0].trim()).expect("the first line in day_one.rs");
    for (offset, line) in lines.iter().enumerate() {
        let expected =
            if offset == 6 { line.trim().replace("let ip: Ip = ", "") } else { line.trim().to_owned() };
        assert_eq!(
            example_lines[start + offset],
            expected,
            "line {} of the README's courier column",
            offset + 1
        );
    }
}

/// The day-one example itself runs (`cargo test` builds it): GET + JSON + `?`, a deadline,
/// a retry of the 503, default headers, against the bundled server.
#[cfg(all(feature = "server", feature = "json"))]
#[tokio::test]
async fn the_day_one_example_runs_and_retries_the_503() {
    let run = tokio::process::Command::new(support::example_binary("day_one")).output();
    let out = support::within(run).await.expect("run examples/day_one");
    assert!(out.status.success(), "day_one failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "origin 127.0.0.1 after 2 requests (the 503 was retried)\n"
    );
}
