#![cfg(feature = "server")]
//! Declarative mocks end to end, driven by courier's client and raw sockets: matchers,
//! priority and order, used-up mocks, expectations, the verification report,
//! verify-on-drop and wait_until_satisfied.

mod support;
use support::*;

use support::raw_http::*;

use courier::server::{when, Fault, MockHandle, Reply, Server, ServerBuilder, When};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// A server whose drop does not verify: these tests call `verify()` themselves.
async fn quiet() -> Server {
    Server::builder().verify_on_drop(false).start().await.unwrap()
}

async fn get(server: &Server, target: &str) -> u16 {
    courier::get(server.url(target)).send().await.status().as_u16()
}

/// The report of a failed verification.
fn report(server: &Server) -> String {
    server.verify().expect_err("verification should fail").to_string()
}

#[cfg(feature = "json")]
#[tokio::test]
async fn a_mock_test_in_five_lines() {
    use serde_json::json;
    within(async {
        let server = Server::builder().start().await.unwrap();
        server
            .mock(when().method("POST").path("/users").json_body(json!({"name": "ada"})))
            .respond(Reply::new(201))
            .times(1);
        let res = courier::request("POST", server.url("/users")).json(&json!({"name": "ada"})).send().await;
        assert_eq!(res.status(), 201);
        server.verify().unwrap();
    })
    .await;
}

/// Matchers, a target, a header to send, and the status wanted.
type Case = (When, &'static str, Option<(&'static str, &'static str)>, u16);

#[tokio::test]
async fn head_matchers_each_pass_and_fail() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let cases: Vec<Case> = vec![
            (when().method("delete"), "/x", None, 404), // GET is sent
            (when().method("GET").path("/a/b"), "/a/b?q=1", None, 200),
            (when().path("/a/b"), "/a/b/c", None, 404),
            (when().path_prefix("/api/"), "/api/v1", None, 200),
            (when().path_prefix("/api/"), "/apiv1", None, 404),
            (when().path_regex(r"^/users/\d+$"), "/users/42", None, 200),
            (when().path_regex(r"^/users/\d+$"), "/users/ada", None, 404),
            (when().query("name", "ada lovelace"), "/q?x=1&name=ada+lovelace", None, 200),
            (when().query("name", "ada"), "/q?name=bob", None, 404),
            (when().header("X-Api-Key", "abc"), "/h", Some(("x-api-key", "abc")), 200),
            (when().header("x-api-key", "abc"), "/h", Some(("x-api-key", "abd")), 404),
            (when().header_contains("accept", "json"), "/h", Some(("accept", "application/json")), 200),
            (when().header_exists("x-id"), "/h", Some(("x-id", "")), 200),
            (when().header_exists("x-id"), "/h", None, 404),
            (when().header_absent("x-id"), "/h", None, 200),
            (when().header_absent("x-id"), "/h", Some(("x-id", "7")), 404),
            (
                when().matching("an even id", |req| req.query_param("id").as_deref() == Some("2")),
                "/m?id=2",
                None,
                200,
            ),
            (
                when().matching("an even id", |req| req.query_param("id").as_deref() == Some("2")),
                "/m?id=3",
                None,
                404,
            ),
        ];
        for (matching, target, header, want) in cases {
            let described = matching.to_string();
            let mock = server.mock(matching).respond(Reply::text("mocked"));
            let mut request = courier::get(server.url(target));
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            let res = request.send().await;
            assert_eq!(res.status().as_u16(), want, "[{described}] with {target} {header:?}");
            assert_eq!(mock.hits(), usize::from(want == 200), "[{described}]");
            assert!(mock.remove());
        }
    })
    .await;
}

#[tokio::test]
async fn body_matchers_read_the_body_and_keep_it() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let exact = server.mock(when().method("POST").body("ping")).respond(Reply::text("exact"));
        let part = server.mock(when().method("POST").body_contains("needle")).respond(Reply::text("part"));
        let custom = server
            .mock(when().body_matching("a long body", |body| body.len() > 10))
            .respond(Reply::text("long"));
        for (body, want) in
            [("ping", "exact"), ("hay needle hay", "part"), ("0123456789ab", "long"), ("pong", "")]
        {
            let res = courier::request("POST", server.url("/b")).body(body).send().await;
            let expected = if want.is_empty() { 404 } else { 200 };
            assert_eq!((res.status().as_u16(), res.text().contains(want)), (expected, true), "{body}");
        }
        assert_eq!((exact.hits(), part.hits(), custom.hits()), (1, 1, 1));
        assert_eq!(&part.requests()[0].body[..], b"hay needle hay");
    })
    .await;
}

#[cfg(feature = "json")]
#[tokio::test]
async fn json_matchers_compare_structure_not_text() {
    use serde_json::json;
    within(async {
        let server = Server::builder().start().await.unwrap();
        let whole = server.mock(when().json_body(json!({"a": 1, "b": [true]}))).respond(Reply::text("whole"));
        let partial = server
            .mock(when().json_body_partial(json!({"user": {"name": "ada"}})))
            .respond(Reply::text("part"));
        for (body, want) in [
            (r#"{ "b": [true],  "a": 1 }"#, "whole"),
            (r#"{"a": 1, "b": [true], "c": 0}"#, "404"),
            (r#"{"user": {"name": "ada", "id": 7}, "extra": 1}"#, "part"),
            (r#"{"user": {"name": "bob"}}"#, "404"),
            ("not json", "404"),
        ] {
            let res = courier::request("POST", server.url("/j")).body(body).send().await;
            let got = if res.status() == 404 { "404".to_owned() } else { res.text().into_owned() };
            assert_eq!(got, want, "{body}");
        }
        assert_eq!((whole.hits(), partial.hits()), (1, 1));
    })
    .await;
}

#[tokio::test]
async fn the_body_is_read_only_when_a_body_matcher_could_decide() {
    within(async {
        // A body matcher on another path: the request to /route keeps its body for the
        // route, which streams it itself.
        let server = Server::builder()
            .route("/route", |req| async move {
                let mut size = 0;
                while let Ok(Some(piece)) = req.chunk().await {
                    size += piece.len();
                }
                Reply::text(size.to_string())
            })
            .start()
            .await
            .unwrap();
        server.mock(when().path("/mocked").body_contains("x")).respond(Reply::text("mocked"));
        let res = courier::request("POST", server.url("/route")).body("x".repeat(1000)).send().await;
        assert_eq!(res.text(), "1000");
        let res = courier::request("POST", server.url("/mocked")).body("axb").send().await;
        assert_eq!(res.text(), "mocked");
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_from_a_body_matcher() {
    within(async {
        let server = Server::builder().max_body_size(10).start().await.unwrap();
        let mock = server.mock(when().body_contains("x")).respond(Reply::text("mocked"));
        let res = courier::request("POST", server.url("/")).body("x".repeat(100)).send().await;
        assert_eq!(res.status(), 413);
        assert_eq!(mock.hits(), 0);
    })
    .await;
}

#[tokio::test]
async fn priority_then_mounting_order_decides() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        server.mock(when().path("/p")).respond(Reply::text("first"));
        server.mock(when().path("/p")).respond(Reply::text("second"));
        assert_eq!(courier::get(server.url("/p")).send().await.text(), "first");
        server.mock(when().path("/p")).respond(Reply::text("urgent")).priority(1);
        assert_eq!(courier::get(server.url("/p")).send().await.text(), "urgent");
        server.mock(when()).respond(Reply::text("fallback")).priority(200);
        assert_eq!(courier::get(server.url("/other")).send().await.text(), "fallback");
    })
    .await;
}

#[tokio::test]
async fn a_used_up_mock_passes_to_the_next_then_to_the_routes() {
    within(async {
        let server =
            Server::builder().route("/r", |_req| async { Reply::text("route") }).start().await.unwrap();
        server.mock(when().path("/r")).respond(Reply::text("one")).up_to_n_times(1);
        server.mock(when().path("/r")).respond(Reply::text("two")).up_to_n_times(2);
        let mut answers = Vec::new();
        for _ in 0..4 {
            answers.push(courier::get(server.url("/r")).send().await.text().into_owned());
        }
        assert_eq!(answers, ["one", "two", "two", "route"]);
    })
    .await;
}

#[tokio::test]
async fn mocks_come_before_the_request_hook_and_survive_handler_changes() {
    within(async {
        let server =
            Server::builder().request_hook(|_req| async { Reply::text("hook") }).start().await.unwrap();
        let mock = server.mock(when().path("/m")).respond(Reply::text("mock"));
        server.add_route("/other", |_req| async { Reply::text("route") });
        assert!(server.add_handler("^/x", |_req| async { Reply::text("x") }).is_ok());
        assert_eq!(courier::get(server.url("/m")).send().await.text(), "mock");
        assert_eq!(courier::get(server.url("/n")).send().await.text(), "hook");
        assert!(mock.remove());
        assert!(!mock.remove());
        assert_eq!(courier::get(server.url("/m")).send().await.text(), "hook");
    })
    .await;
}

#[tokio::test]
async fn replies_are_copied_per_hit_or_made_per_hit() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let reply = Reply::text("same").with_status(202).with_header("x-a", "1").without_header("server");
        server.mock(when().path("/copy")).respond(reply);
        for _ in 0..2 {
            let res = courier::get(server.url("/copy")).send().await;
            assert_eq!((res.status().as_u16(), res.text().as_ref()), (202, "same"));
            assert_eq!((res.header("x-a").as_deref(), res.header("server")), (Some("1"), None));
        }
        server.mock(when().path_prefix("/made/")).respond_with(|req| Reply::text(req.path()[6..].to_owned()));
        assert_eq!(courier::get(server.url("/made/a")).send().await.text(), "a");
        assert_eq!(courier::get(server.url("/made/b")).send().await.text(), "b");

        // A streamed reply cannot be copied: it goes out once, then a 500 says why.
        let (stream, mut sender) = Reply::stream(200);
        server.mock(when().path("/stream")).respond(stream);
        tokio::spawn(async move {
            let _ = sender.send("streamed").await;
        });
        assert_eq!(courier::get(server.url("/stream")).send().await.text(), "streamed");
        let res = courier::get(server.url("/stream")).send().await;
        assert_eq!(res.status(), 500);
        assert!(res.text().contains("use respond_with"), "{}", res.text());
    })
    .await;
}

#[tokio::test]
async fn a_mock_can_reply_with_a_fault() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let mock = server
            .mock(when().path("/cut"))
            .respond(Reply::text("never complete").with_fault(Fault::CloseAfter(20)));
        let res = courier::get(server.url("/cut")).send().await;
        assert!(res.is_error(), "{} {}", res.status(), res.reason());
        assert_eq!(mock.hits(), 1);
    })
    .await;
}

#[tokio::test]
async fn expectations_are_checked_by_verify() {
    within(async {
        let server = quiet().await;
        let exactly = server.mock(when().path("/a")).respond(Reply::new(200)).times(2).named("exactly two");
        let least = server.mock(when().path("/b")).respond(Reply::new(200)).at_least(1).named("at least one");
        let most = server.mock(when().path("/c")).respond(Reply::new(200)).at_most(1).named("at most one");
        let never = server.mock(when().path("/d")).respond(Reply::new(200)).never().named("never");
        let between = server.mock(when().path("/e")).respond(Reply::new(200)).at_least(1).at_most(2);
        for target in ["/a", "/c", "/c", "/d", "/e"] {
            get(&server, target).await;
        }
        assert_eq!(
            report(&server),
            "\
4 of 5 mocks not satisfied:
  FAILED [exactly two] expected exactly 2 requests, received 1
  FAILED [at least one] expected at least 1 request, received 0
  FAILED [at most one] expected at most 1 request, received 2
  FAILED [never] expected no requests, received 1
  ok     [/e] expected between 1 and 2 requests, received 1
"
        );
        assert!(between.verify().is_ok());
        assert_eq!(
            least.verify().unwrap_err().to_string(),
            "1 of 1 mocks not satisfied:\n  FAILED [at least one] expected at least 1 request, received 0\n"
        );
        get(&server, "/a").await;
        get(&server, "/b").await;
        for mock in [&exactly, &least] {
            assert!(mock.verify().is_ok(), "{}", mock.name());
        }
        assert!(most.remove() && never.remove());
        assert!(server.verify().is_ok());
    })
    .await;
}

#[tokio::test]
async fn the_report_names_the_closest_mock_and_each_failing_matcher() {
    within(async {
        let server = Server::builder()
            .verify_on_drop(false)
            .route("/health", |_req| async { Reply::text("ok") })
            .start()
            .await
            .unwrap();
        server
            .mock(when().method("POST").path("/users").query("v", "2").header("x-api-key", "abc"))
            .respond(Reply::new(201))
            .times(1)
            .named("create user");
        server.mock(when().method("GET").path("/users")).respond(Reply::new(200)).at_least(1);
        // One raw connection, so the report's connection ids are known.
        let mut raw = RawClient::connect(&server).await;
        raw.request("POST /users?v=3 HTTP/1.1\r\nHost: x\r\nX-Api-Key: abd\r\nContent-Length: 0\r\n\r\n")
            .await;
        raw.request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(
            report(&server),
            "\
2 of 2 mocks not satisfied:
  FAILED [create user] expected exactly 1 request, received 0
  FAILED [GET /users] expected at least 1 request, received 0
2 requests matched no mock:
  POST /users?v=3 (connection 1) -> 404
    closest mock: [create user], 2 of 4 matchers passed
      query v: expected \"2\", got \"3\"
      header x-api-key: expected \"abc\", got \"abd\"
  GET /health (connection 1) -> 200
    closest mock: [GET /users], 1 of 2 matchers passed
      path: expected \"/users\", got \"/health\"
"
        );
    })
    .await;
}

#[cfg(feature = "json")]
#[tokio::test]
async fn the_report_shows_a_json_difference_by_path_and_a_used_up_mock() {
    use serde_json::json;
    within(async {
        let server = quiet().await;
        server
            .mock(
                when()
                    .method("POST")
                    .path("/users")
                    .json_body(json!({"user": {"name": "ada", "tags": ["x"]}})),
            )
            .respond(Reply::new(201))
            .times(1)
            .named("create ada");
        server.mock(when().path("/once")).respond(Reply::new(200)).up_to_n_times(1).named("once");
        let mut raw = RawClient::connect(&server).await;
        let body = json!({"user": {"name": "bob", "tags": ["x"]}}).to_string();
        raw.request(format!(
            "POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
        for want in [200, 404] {
            assert_eq!(raw.request("GET /once HTTP/1.1\r\nHost: x\r\n\r\n").await.status, want);
        }
        assert_eq!(
            report(&server),
            "\
1 of 2 mocks not satisfied:
  FAILED [create ada] expected exactly 1 request, received 0
  ok     [once] expected any number of requests, received 1
2 requests matched no mock:
  POST /users (connection 1) -> 404
    closest mock: [create ada], 2 of 3 matchers passed
      json body: at .user.name expected \"ada\", got \"bob\"
  GET /once (connection 1) -> 404
    closest mock: [once], all 1 matchers passed, but it was used up after 1
"
        );
    })
    .await;
}

#[tokio::test]
async fn dropping_the_server_verifies_and_panics_with_the_report() {
    let server = within(async {
        let server = Server::builder().start().await.unwrap();
        server.mock(when().path("/never-called")).respond(Reply::new(200)).times(1);
        server
    })
    .await;
    let panic = catch_unwind(AssertUnwindSafe(|| drop(server))).expect_err("dropping should panic");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(
        message,
        "1 of 1 mocks not satisfied:\n  FAILED [/never-called] expected exactly 1 request, received 0\n"
    );

    // Off for this server: no panic.
    let server = within(ServerBuilder::default().verify_on_drop(false).start()).await.unwrap();
    server.mock(when()).respond(Reply::new(200)).times(1);
    drop(server);

    // While the thread already panics, dropping does not panic again (that would abort).
    let server = within(Server::builder().start()).await.unwrap();
    server.mock(when()).respond(Reply::new(200)).times(1);
    let panic = catch_unwind(AssertUnwindSafe(move || {
        let _server = server;
        panic!("the test's own failure");
    }))
    .expect_err("the test panics");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the test's own failure"));
}

#[tokio::test]
async fn graceful_shutdown_verifies_too() {
    let server = within(Server::builder().start()).await.unwrap();
    let mock = server.mock(when()).respond(Reply::new(200)).times(1);
    assert_eq!(within(get(&server, "/")).await, 200);
    within(server.shutdown()).await; // satisfied: no panic
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn wait_until_satisfied_resolves_on_the_expected_hit() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let mock = server.mock(when().method("POST").path("/hook")).respond(Reply::new(204)).times(3);
        let url = server.url("/hook");
        let waiting = tokio::spawn(mock.wait_until_satisfied());
        for _ in 0..2 {
            courier::request("POST", url.as_str()).body("event").send().await;
        }
        assert!(!waiting.is_finished(), "two of three hits");
        courier::request("POST", url.as_str()).body("event").send().await;
        waiting.await.unwrap();
        assert_eq!(mock.hits(), 3);

        // Requests from another task, awaited under the caller's own timeout.
        let any = server.mock(when().path("/any")).respond(Reply::new(200));
        let url = server.url("/any");
        tokio::spawn(async move { courier::get(url).send().await });
        tokio::time::timeout(Duration::from_secs(10), any.wait_until_satisfied()).await.unwrap();
        assert_eq!(any.hits(), 1);

        // Nothing to wait for.
        let never: MockHandle = server.mock(when().path("/never")).respond(Reply::new(200)).never();
        never.wait_until_satisfied().await;
    })
    .await;
}

#[tokio::test]
async fn raw_sockets_see_exact_mock_replies_on_one_connection() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let mock = server
            .mock(when().method("PUT").path("/item").header("content-type", "text/plain").body("chunked body"))
            .respond(Reply::text("stored").with_status(201))
            .times(1);
        let mut client = RawClient::connect(&server).await;
        // A chunked body, read for the body matcher, and the connection stays usable.
        let res = client
            .request(
                "PUT /item HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
                 7\r\nchunked\r\n5\r\n body\r\n0\r\n\r\n",
            )
            .await;
        assert_eq!((res.status, res.text().as_str(), res.closes()), (201, "stored", false));
        // Unmatched: the 404, on the same connection.
        let res = client.request("PUT /item HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").await;
        assert_eq!(res.status, 404);
        assert_eq!(mock.requests()[0].connection_id, 1);
        assert_eq!(&mock.requests()[0].body[..], b"chunked body");

        // Expect: 100-continue with a body matcher: the mock asks for the body.
        let mut client = RawClient::connect(&server).await;
        server.mock(when().body("late")).respond(Reply::text("got it"));
        client.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n").await;
        let interim = client.read_head().await;
        assert_eq!(interim.status, 100);
        let res = client.request("late").await;
        assert_eq!(res.text(), "got it");
    })
    .await;
}

#[tokio::test]
async fn concurrent_requests_never_overuse_a_limited_mock() {
    within(async {
        let server = Server::builder().start().await.unwrap();
        let limited = server.mock(when().path("/c")).respond(Reply::text("limited")).up_to_n_times(5);
        server.mock(when().path("/c")).respond(Reply::text("rest"));
        let url = server.url("/c");
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { courier::get(url).send().await.text().into_owned() })
            })
            .collect();
        let mut limited_answers = 0;
        for task in tasks {
            limited_answers += usize::from(task.await.unwrap() == "limited");
        }
        assert_eq!((limited_answers, limited.hits()), (5, 5));
    })
    .await;
}

#[tokio::test]
async fn clear_mocks_unmounts_everything() {
    within(async {
        let server = quiet().await;
        server.mock(when()).respond(Reply::new(200)).times(5);
        assert_eq!(get(&server, "/").await, 200);
        server.clear_mocks();
        assert_eq!(get(&server, "/").await, 404);
        assert!(server.verify().is_ok());
    })
    .await;
}
