#![cfg(feature = "server")]
//! Authentication helpers end to end: Basic and Bearer on a request, credentials from the
//! URL's userinfo, and where credentials must never go (other origins, the response's
//! URL, Referer, error messages). The bundled server records exactly what arrived.

mod support;

use courier::server::{Reply, Server};
use support::{closed_port, within};

/// A server that records every request and answers `/to?location=L` with a 302 to L.
async fn recording_server() -> Server {
    Server::builder()
        .route("/to", |request| async move {
            let location = request.query_param("location").unwrap_or_default();
            Reply::redirect(302, &location)
        })
        .route("", |_request| async { Reply::text("ok") })
        .start()
        .await
        .unwrap()
}

/// The Authorization header of each request the server recorded, in order.
fn authorizations(server: &Server) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|request| request.headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn basic_and_bearer_send_exact_headers() {
    within(async {
        let server = recording_server().await;
        let res = courier::get(server.url("/a")).basic_auth("ada", Some("s3cret")).send().await;
        assert_eq!(res.status(), 200);
        courier::get(server.url("/b")).basic_auth("ada", None).send().await;
        courier::get(server.url("/c")).bearer_auth("t0k.en").send().await;
        // The last credentials set win; a later header() replaces them too.
        courier::get(server.url("/d")).bearer_auth("old").basic_auth("new", Some("pw")).send().await;
        assert_eq!(
            authorizations(&server),
            [
                Some("Basic YWRhOnMzY3JldA==".into()),
                Some("Basic YWRhOg==".into()),
                Some("Bearer t0k.en".into()),
                Some("Basic bmV3OnB3".into()),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn url_credentials_become_basic_auth_and_leave_the_url() {
    within(async {
        let server = recording_server().await;
        // Percent-encoded user and password are decoded first: "us@er" and "p:ss w".
        let url = format!("http://us%40er:p%3Ass%20w@127.0.0.1:{}/private?x=1", server.port());
        let res = courier::get(&url).send().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.url(), format!("http://127.0.0.1:{}/private?x=1", server.port()));
        let seen = server.requests();
        assert_eq!(seen[0].target, "/private?x=1");
        // base64("us@er:p:ss w")
        assert_eq!(authorizations(&server), [Some("Basic dXNAZXI6cDpzcyB3".into())]);
    })
    .await;
}

#[tokio::test]
async fn the_callers_authorization_beats_url_credentials_and_can_suppress_them() {
    within(async {
        let server = recording_server().await;
        let url = format!("http://ada:pw@127.0.0.1:{}/", server.port());
        courier::get(&url).bearer_auth("explicit").send().await;
        courier::get(&url).remove_header("authorization").send().await;
        assert_eq!(authorizations(&server), [Some("Bearer explicit".into()), None]);
    })
    .await;
}

#[tokio::test]
async fn credentials_follow_redirects_within_the_origin_only() {
    within(async {
        let server = recording_server().await;
        let other = recording_server().await;
        let base = format!("http://ada:pw@127.0.0.1:{}", server.port());

        // Same origin: the Authorization made from the userinfo goes along.
        let res = courier::get(format!("{base}/to?location=/landed")).send().await;
        assert_eq!((res.status().as_u16(), res.redirects().len()), (200, 1));
        let expected = Some("Basic YWRhOnB3".to_owned());
        assert_eq!(authorizations(&server), [expected.clone(), expected]);
        // The hop's Referer carries no credentials.
        let referer = server.requests()[1].headers["referer"].to_str().unwrap().to_owned();
        assert_eq!(referer, format!("http://127.0.0.1:{}/to?location=/landed", server.port()));

        // Another origin (another port): no Authorization, whatever its source.
        let elsewhere = other.url("/x");
        courier::get(format!("{base}/to?location={elsewhere}")).send().await;
        courier::get(server.url(&format!("/to?location={elsewhere}"))).bearer_auth("tok").send().await;
        assert_eq!(authorizations(&other), [None, None]);
    })
    .await;
}

#[tokio::test]
async fn credentials_in_a_location_are_neither_used_nor_shown() {
    within(async {
        let server = recording_server().await;
        let location = format!("http://mallory:stolen@127.0.0.1:{}/next", server.port());
        let res = courier::get(server.url(&format!("/to?location={location}"))).send().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.url(), server.url("/next"));
        assert_eq!(authorizations(&server), [None, None]);
    })
    .await;
}

#[tokio::test]
async fn a_password_never_appears_in_a_failure() {
    within(async {
        let port = closed_port().await;
        let res = courier::get(format!("http://ada:hunter2@127.0.0.1:{port}/")).send().await;
        assert_eq!(res.status(), 595);
        assert!(
            !res.url().contains("hunter2") && !res.reason().contains("hunter2"),
            "{} {}",
            res.url(),
            res.reason()
        );
        // A URL that does not even parse is shown with its password masked.
        let res = courier::get("http://ada:hunter2@bad host/").send().await;
        assert_eq!(res.status(), 599);
        assert!(!res.url().contains("hunter2"), "{}", res.url());
        assert!(res.url().contains("ada:***@"), "{}", res.url());
    })
    .await;
}
