#![cfg(all(feature = "cookies", feature = "server"))]
//! The cookie jar end to end against the bundled server: hops, paths, domains, the
//! public-suffix and Secure rules, the caller's own Cookie header, and persistence.

mod support;
use support::*;

use courier::server::{Reply, Request, Server};
use courier::{CookieJar, Target};

/// A server that answers every request with the Cookie header it got, and sets the
/// cookies named in the `set` query parameters (`set=a%3D1%3B%20Path%3D%2Fx`).
async fn cookie_server() -> Server {
    Server::builder()
        .route("", |req: Request| async move {
            let mut reply = Reply::text(req.header("cookie").unwrap_or_else(|| "none".into()));
            for (name, value) in req.query_params() {
                if name == "set" {
                    reply = reply.with_header("set-cookie", &value);
                }
            }
            if let Some(next) = req.query_param("next") {
                reply = reply.with_status(302).with_header("location", &next);
            }
            reply
        })
        .start()
        .await
        .unwrap()
}

/// Sends every request, whatever its host name, to `server` (no DNS involved).
fn to(
    server: &Server,
) -> impl Fn(
    Target,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = std::io::Result<tokio::net::TcpStream>> + Send>,
> + Send
       + Sync
       + 'static {
    let address = server.local_addr();
    move |_target: Target| Box::pin(tokio::net::TcpStream::connect(address))
}

fn enc(text: &str) -> String {
    text.replace('%', "%25").replace('=', "%3D").replace(';', "%3B").replace(' ', "%20").replace('/', "%2F")
}

#[tokio::test]
async fn cookies_set_on_a_redirect_hop_are_sent_on_the_next_hops() {
    within(async {
        let server = cookie_server().await;
        let jar = CookieJar::new();
        let url = server.url(&format!("/start?set={}&next=/end", enc("hop=1")));
        let res = courier::get(url).cookie_jar(&jar).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "hop=1"), "{}", res.reason());
        assert_eq!(res.redirects()[0].text(), "none");
        let res = courier::get(server.url("/again")).cookie_jar(&jar).send().await;
        assert_eq!(res.text(), "hop=1");
    })
    .await
}

#[tokio::test]
async fn paths_and_domains_decide_where_cookies_go() {
    within(async {
        let server = cookie_server().await;
        let jar = CookieJar::new();
        let port = server.port();
        let get = |host: &str, path: &str| {
            courier::get(format!("http://{host}:{port}{path}")).cookie_jar(&jar).connector(to(&server)).send()
        };
        let set = format!("/?set={}&set={}", enc("p=1; Path=/a"), enc("d=2; Domain=example.test; Path=/"));
        assert_eq!(get("www.example.test", &set).await.text(), "none");
        assert_eq!(get("www.example.test", "/a/b").await.text(), "p=1; d=2", "longer path first");
        assert_eq!(get("www.example.test", "/c").await.text(), "d=2");
        assert_eq!(get("api.example.test", "/a").await.text(), "d=2", "host-only p stays on www");
        assert_eq!(get("example.org", "/a").await.text(), "none");
    })
    .await
}

#[tokio::test]
async fn public_suffix_domains_and_secure_cookies_over_http_are_refused() {
    within(async {
        let server = cookie_server().await;
        let jar = CookieJar::new();
        let port = server.port();
        let set = format!(
            "/?set={}&set={}&set={}&set={}",
            enc("com=1; Domain=com"),
            enc("uk=1; Domain=co.uk"),
            enc("sec=1; Secure"),
            enc("ok=1; Domain=shop.example.com")
        );
        let res = courier::get(format!("http://shop.example.com:{port}{set}"))
            .cookie_jar(&jar)
            .connector(to(&server))
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(jar.cookies_for("https://shop.example.com/"), [("ok".to_owned(), "1".to_owned())]);
        assert!(jar.cookies_for("https://other.com/").is_empty());
        // Loopback counts as a secure origin (as browsers treat localhost).
        let res = courier::get(server.url(&format!("/?set={}", enc("local=1; Secure"))))
            .cookie_jar(&jar)
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(jar.cookies_for(&server.url("/")), [("local".to_owned(), "1".to_owned())]);
    })
    .await
}

#[tokio::test]
async fn the_callers_own_cookie_header_is_sent_instead_of_the_jars() {
    within(async {
        let server = cookie_server().await;
        let jar = CookieJar::new();
        courier::get(server.url(&format!("/?set={}", enc("jar=1")))).cookie_jar(&jar).send().await;
        let res = courier::get(server.url("/")).cookie_jar(&jar).header("cookie", "mine=2").send().await;
        assert_eq!(res.text(), "mine=2");
    })
    .await
}

#[tokio::test]
async fn a_saved_jar_survives_a_restart_without_session_or_expired_cookies() {
    within(async {
        let server = cookie_server().await;
        let jar = CookieJar::new();
        let set = format!(
            "/?set={}&set={}&set={}",
            enc("keep=1; Max-Age=3600"),
            enc("session=1"),
            enc("old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        );
        courier::get(server.url(&set)).cookie_jar(&jar).send().await;
        assert_eq!(courier::get(server.url("/")).cookie_jar(&jar).send().await.text(), "keep=1; session=1");
        let path = std::env::temp_dir().join(format!("courier-cookies-{}.json", std::process::id()));
        jar.expire(true);
        jar.save_file(&path).unwrap();
        let loaded = CookieJar::load_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(courier::get(server.url("/")).cookie_jar(&loaded).send().await.text(), "keep=1");
        let missing = CookieJar::load_file(std::env::temp_dir().join("courier-no-such-jar.json")).unwrap();
        assert!(missing.is_empty());
    })
    .await
}
