#![cfg(feature = "server")]
//! Record and replay: a forwarding server in front of a real upstream records each
//! exchange; the recording is saved to a file and replayed as mocks by a fresh server,
//! which gives the same answers with the upstream gone.

mod support;
use support::*;

use support::raw_http::*;

use courier::server::{when, BodyError, Reply, Request, Server};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The upstream: echoes what it saw, counts, sends binary and several cookies.
async fn upstream() -> Server {
    let count = Arc::new(AtomicUsize::new(0));
    Server::builder()
        .route("/echo", |req: Request| async move {
            let body = req.text().await?;
            let seen = format!(
                "{} {} x-test={:?} ua={} body={body}",
                req.method(),
                req.target(),
                req.header("x-test"),
                req.header("user-agent").is_some(),
            );
            let status = if req.method() == "POST" { 201 } else { 200 };
            Ok::<_, BodyError>(
                Reply::text(seen)
                    .with_status(status)
                    .with_header("x-upstream", "yes")
                    .with_header("set-cookie", "a=1")
                    .with_header("set-cookie", "b=2"),
            )
        })
        .route("/count", move |_req| {
            let now = count.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Reply::text(now.to_string()) }
        })
        .route("/bin", |_req| async {
            Reply::bytes("application/octet-stream", vec![0u8, 159, 146, 150, 255])
        })
        .start()
        .await
        .unwrap()
}

/// Status, body and the headers the tests compare.
type Answer = (u16, Vec<u8>, Option<String>, Vec<String>);

async fn ask(server: &Server, method: &str, target: &str, body: &str) -> Answer {
    let res =
        courier::request(method, server.url(target)).header("x-test", "t").body(body.to_owned()).send().await;
    let cookies = res.header_all("set-cookie").into_iter().map(|c| c.into_owned()).collect();
    (res.status().as_u16(), res.body().to_vec(), res.header("x-upstream").map(|v| v.into_owned()), cookies)
}

#[cfg(feature = "json")]
const CALLS: [(&str, &str, &str); 7] = [
    ("GET", "/echo?a=1&b=x+y", ""),
    ("POST", "/echo", "hello"),
    ("POST", "/echo", "other body"),
    ("GET", "/count", ""),
    ("GET", "/count", ""),
    ("GET", "/bin", ""),
    ("GET", "/missing", ""),
];

#[cfg(feature = "json")]
#[tokio::test]
async fn a_recording_saved_to_a_file_replays_without_the_upstream() {
    within(async {
        let upstream = upstream().await;
        let recorder = Server::builder().forward_to(&upstream.url("/")).start().await.unwrap();
        let mut recorded = Vec::new();
        for (method, target, body) in CALLS {
            recorded.push(ask(&recorder, method, target, body).await);
        }
        assert_eq!(
            String::from_utf8_lossy(&recorded[0].1),
            r#"GET /echo?a=1&b=x+y x-test=Some("t") ua=true body="#
        );
        assert_eq!(
            (recorded[1].0, &recorded[1].1[..]),
            (201, &br#"POST /echo x-test=Some("t") ua=true body=hello"#[..])
        );
        assert_eq!(
            (recorded[1].2.as_deref(), &recorded[1].3[..]),
            (Some("yes"), &["a=1".to_owned(), "b=2".to_owned()][..])
        );
        assert_eq!((&recorded[3].1[..], &recorded[4].1[..]), (&b"1"[..], &b"2"[..]));
        assert_eq!(recorded[5].1, [0u8, 159, 146, 150, 255]);
        assert_eq!(recorded[6].0, 404);

        let recording = recorder.recording();
        assert_eq!(recording.exchanges().len(), CALLS.len());
        let first = &recording.exchanges()[0];
        assert_eq!((first.method.as_str(), first.target.as_str()), ("GET", "/echo?a=1&b=x+y"));
        assert_eq!(first.request_headers.get("x-test").unwrap(), "t");
        for hop_by_hop in ["transfer-encoding", "connection"] {
            assert!(!first.response_headers.contains_key(hop_by_hop), "{hop_by_hop} was recorded");
        }

        let path = std::env::temp_dir().join(format!(
            "courier-replay-{}-{:?}.json",
            std::process::id(),
            std::thread::current().id()
        ));
        recording.save(&path).unwrap();
        upstream.shutdown().await;
        recorder.shutdown().await;

        let replayer = Server::builder().start().await.unwrap();
        let loaded = courier::server::Recording::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded, recording);
        let mocks = replayer.replay(&loaded);
        assert_eq!(mocks[0].name(), "replay 1: GET /echo?a=1&b=x+y");
        for ((method, target, body), want) in CALLS.into_iter().zip(&recorded) {
            assert_eq!(&ask(&replayer, method, target, body).await, want, "{method} {target}");
        }
        // The last answer of a repeated request answers its repeats.
        assert_eq!(ask(&replayer, "GET", "/count", "").await.1, b"2");
        // A request that was never recorded is not invented.
        assert_eq!(ask(&replayer, "GET", "/echo?a=2", "").await.0, 404);
        assert_eq!(ask(&replayer, "POST", "/echo", "a third body").await.0, 404);
    })
    .await;
}

#[tokio::test]
async fn mocks_and_routes_on_the_forwarder_come_first_and_are_not_recorded() {
    within(async {
        let upstream = upstream().await;
        let recorder = Server::builder()
            .forward_to(&upstream.url(""))
            .route("/local", |_req| async { Reply::text("local") })
            .start()
            .await
            .unwrap();
        recorder.mock(when().path("/count")).respond(Reply::text("mocked")).up_to_n_times(1);
        assert_eq!(ask(&recorder, "GET", "/count", "").await.1, b"mocked");
        assert_eq!(ask(&recorder, "GET", "/local", "").await.1, b"local");
        assert_eq!(ask(&recorder, "GET", "/count", "").await.1, b"1");
        let targets: Vec<String> =
            recorder.recording().exchanges().iter().map(|e| e.target.clone()).collect();
        assert_eq!(targets, ["/count"]);
        assert_eq!(upstream.requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn hop_by_hop_fields_stay_on_their_hop() {
    within(async {
        let upstream = Server::builder()
            .route("/h", |req: Request| async move {
                // (Connection is the forwarder's own, for its hop.)
                let mut names: Vec<&str> = req
                    .headers()
                    .keys()
                    .map(|name| name.as_str())
                    .filter(|name| *name != "connection")
                    .collect();
                names.sort_unstable();
                // Raw, since the server writes its own Connection: a chunked reply naming
                // a field of its own in Connection.
                let text = names.join(" ");
                Reply::raw(format!(
                    "HTTP/1.1 200 OK\r\nConnection: x-private, close\r\nX-Private: 1\r\nX-Public: 2\r\n\
                     Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{text}\r\n0\r\n\r\n",
                    text.len()
                ))
            })
            .start()
            .await
            .unwrap();
        let recorder = Server::builder().forward_to(&upstream.url("")).start().await.unwrap();
        let mut client = RawClient::connect(&recorder).await;
        let res = client
            .request(
                "GET /h HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n\
                 TE: trailers\r\nX-End: 2\r\n\r\n",
            )
            .await;
        // No User-Agent either: the client did not send one, so neither does the forwarder.
        assert_eq!(res.text(), "host x-end");
        assert_eq!((res.header("x-public"), res.has("x-private")), (Some("2"), false));
        assert_eq!(res.header("transfer-encoding"), None, "a relayed body is complete: {:?}", res.headers);
        let recording = recorder.recording();
        assert_eq!(&recording.exchanges()[0].response_body[..], b"host x-end");
    })
    .await;
}

#[tokio::test]
async fn a_reply_to_head_keeps_the_upstreams_length() {
    within(async {
        let upstream = upstream().await;
        let recorder = Server::builder().forward_to(&upstream.url("")).start().await.unwrap();
        let mut client = RawClient::connect(&recorder).await;
        client.send("HEAD /bin HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let res = client.head_response().await;
        assert_eq!((res.status, res.header("content-length"), res.body.len()), (200, Some("5"), 0));
        let res = client.request("GET /bin HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!((res.header("content-length"), res.body.len()), (Some("5"), 5));
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502() {
    within(async {
        let gone = Server::builder().start().await.unwrap();
        let url = gone.url("");
        gone.shutdown().await;
        let recorder = Server::builder().forward_to(&url).start().await.unwrap();
        let res = courier::get(recorder.url("/x")).send().await;
        assert_eq!(res.status(), 502);
        assert!(res.text().contains("forwarding to http://127.0.0.1:"), "{}", res.text());
        assert!(recorder.recording().exchanges().is_empty());
    })
    .await;
}

#[cfg(feature = "json")]
#[tokio::test]
async fn a_hand_written_recording_replays_in_order_and_by_body() {
    within(async {
        let recording = courier::server::Recording::from_json(
            r#"{"courier_recording": 1, "exchanges": [
                {"request": {"method": "POST", "target": "/login", "headers": [], "body": "user=ada"},
                 "response": {"status": 200, "headers": [["set-cookie", "id=1"]], "body": "welcome ada"}},
                {"request": {"method": "POST", "target": "/login", "headers": [], "body": "user=bob"},
                 "response": {"status": 403, "headers": [], "body": "no"}},
                {"request": {"method": "GET", "target": "/job?id=7", "headers": [], "body": ""},
                 "response": {"status": 202, "headers": [], "body": "pending"}},
                {"request": {"method": "GET", "target": "/job?id=7", "headers": [], "body": ""},
                 "response": {"status": 200, "headers": [], "body_base64": "ZG9uZQ=="}}
            ]}"#,
        )
        .unwrap();
        let server = Server::builder().start().await.unwrap();
        let mocks = server.replay(&recording);
        let res = courier::request("POST", server.url("/login")).body("user=bob").send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (403, "no"));
        let res = courier::request("POST", server.url("/login")).body("user=ada").send().await;
        assert_eq!((res.header("set-cookie").as_deref(), res.text().as_ref()), (Some("id=1"), "welcome ada"));
        let mut job = Vec::new();
        for _ in 0..3 {
            let res = courier::get(server.url("/job?id=7")).send().await;
            job.push((res.status().as_u16(), res.text().into_owned()));
        }
        assert_eq!(job, [(202, "pending".to_owned()), (200, "done".to_owned()), (200, "done".to_owned())]);
        assert_eq!(mocks.iter().map(|mock| mock.hits()).collect::<Vec<_>>(), [1, 1, 1, 2]);
    })
    .await;
}
