//! Proxies end to end against scripted proxies on loopback: HTTP proxies (absolute-form for
//! http URLs, CONNECT tunnels for https), where the proxy credentials go (to the proxy only),
//! refusals and unreachable proxies (595), pooling by proxy, `Proxy::none()` overrides, the
//! environment rules (`Proxy::from_vars`, never the real environment), SOCKS 4/4a/5/5h, and
//! proxy URL parsing. `courier::set_proxy` is never called here: it would change the default
//! of every test running in parallel.

mod support;
use support::{assert_failure, closed_port, within, KeepAlive, Scripted};

use courier::{Client, ErrorKind, EventKind, Proxy, Response, Target};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;

const UA: &str = courier::DEFAULT_USER_AGENT;

/// `200 OK` with `body`, framed by Content-Length.
fn ok(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

fn proxy(url: &str) -> Proxy {
    Proxy::new(url).unwrap_or_else(|error| panic!("{url}: {error}"))
}

/// An explicit HTTP proxy at a scripted server.
fn http_proxy(server: &Scripted) -> Proxy {
    proxy(&format!("http://127.0.0.1:{}", server.port()))
}

/// Asserts a 200 with exactly `body`.
#[track_caller]
fn assert_body(res: &Response, body: &str) {
    assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, body), "{}", res.reason());
}

/// Asserts a 595 of kind `Connect` with no body and returns its reason.
#[track_caller]
fn assert_connect_failure(res: &Response) -> String {
    assert_failure(res, 595, ErrorKind::Connect)
}

/// The head courier sends for a body-less GET through a proxy (keep-alive is off by
/// default through a proxy: persistent, but no `keep-alive` token).
fn proxied_get_head(target: &str, host: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nhost: {host}\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: TE\r\n{extra}\r\n"
    )
}

/// A client whose connection events are recorded.
fn observed_client(proxy: Option<Proxy>) -> (Client, Arc<Mutex<Vec<EventKind>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let mut builder =
        Client::builder().on_connection_event(move |event| sink.lock().unwrap().push(event.kind));
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    (builder.build().unwrap(), events)
}

fn count(events: &Arc<Mutex<Vec<EventKind>>>, kind: EventKind) -> usize {
    events.lock().unwrap().iter().filter(|k| **k == kind).count()
}

// ---------------------------------------------------------------------------------------
// HTTP proxy, http URLs: absolute-form
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn http_url_goes_to_the_proxy_in_absolute_form() {
    within(async {
        let origin = Scripted::start_on("127.0.0.2:0", |_peer| async {}).await;
        let proxy_server = Scripted::respond(ok("from the proxy")).await;
        let host = format!("127.0.0.2:{}", origin.port());
        // The fragment stays here; the query goes to the proxy.
        let res = courier::request("GET", format!("http://{host}/path?q#fragment"))
            .body("payload")
            .proxy(http_proxy(&proxy_server))
            .send()
            .await;
        assert_body(&res, "from the proxy");
        let got = proxy_server.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].head,
            format!(
                "GET http://{host}/path?q HTTP/1.1\r\nhost: {host}\r\nuser-agent: {UA}\r\nte: trailers\r\n\
                 connection: TE\r\ncontent-length: 7\r\n\r\n"
            )
        );
        assert_eq!(got[0].body, b"payload");
        assert_eq!(origin.connects(), 0, "the origin is never contacted");
    })
    .await;
}

#[tokio::test]
async fn proxy_url_credentials_become_basic_proxy_authorization() {
    within(async {
        let origin = Scripted::start_on("127.0.0.2:0", |_peer| async {}).await;
        let proxy_server = Scripted::respond(ok("authorized")).await;
        let host = format!("127.0.0.2:{}", origin.port());
        // Percent-encoded in the URL, decoded before encoding: "us@er:p:ss w0rd".
        let via = proxy(&format!("http://us%40er:p%3Ass%20w0rd@127.0.0.1:{}", proxy_server.port()));
        let res = courier::get(format!("http://{host}/a")).proxy(via).send().await;
        assert_body(&res, "authorized");
        assert_eq!(
            proxy_server.requests()[0].head,
            proxied_get_head(
                &format!("http://{host}/a"),
                &host,
                "proxy-authorization: Basic dXNAZXI6cDpzcyB3MHJk\r\n"
            )
        );

        // Plain ASCII, the textbook pair.
        let via = proxy(&format!("http://Aladdin:open%20sesame@127.0.0.1:{}", proxy_server.port()));
        let res = courier::get(format!("http://{host}/b")).proxy(via).send().await;
        assert_body(&res, "authorized");
        assert_eq!(
            proxy_server.requests()[1].head,
            proxied_get_head(
                &format!("http://{host}/b"),
                &host,
                "proxy-authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
            )
        );
        assert_eq!(origin.connects(), 0);
    })
    .await;
}

#[tokio::test]
async fn removing_proxy_authorization_suppresses_the_url_credentials() {
    within(async {
        let proxy_server = Scripted::respond(ok("anonymous")).await;
        let host = "127.0.0.2:9";
        let via = proxy(&format!("http://user:secret@127.0.0.1:{}", proxy_server.port()));
        let res = courier::get(format!("http://{host}/a"))
            .proxy(via)
            .remove_header("proxy-authorization")
            .send()
            .await;
        assert_body(&res, "anonymous");
        assert_eq!(proxy_server.requests()[0].head, proxied_get_head(&format!("http://{host}/a"), host, ""));
    })
    .await
}

#[tokio::test]
async fn caller_proxy_authorization_header_replaces_the_url_credentials() {
    within(async {
        let origin = Scripted::start_on("127.0.0.2:0", |_peer| async {}).await;
        let proxy_server = Scripted::respond(ok("ok")).await;
        let host = format!("127.0.0.2:{}", origin.port());
        let via = proxy(&format!("http://user:pass@127.0.0.1:{}", proxy_server.port()));
        let res = courier::get(format!("http://{host}/"))
            .header("x-before", "1")
            .header("Proxy-Authorization", "Bearer from-the-caller")
            .proxy(via)
            .send()
            .await;
        assert_body(&res, "ok");
        // Exactly one Proxy-Authorization, the caller's, after the defaults.
        assert_eq!(
            proxy_server.requests()[0].head,
            format!(
                "GET http://{host}/ HTTP/1.1\r\nhost: {host}\r\nx-before: 1\r\nuser-agent: {UA}\r\n\
                 te: trailers\r\nconnection: TE\r\nproxy-authorization: Bearer from-the-caller\r\n\r\n"
            )
        );

        // Without credentials in the proxy URL the caller's header is still sent to the proxy.
        let res = courier::get(format!("http://{host}/"))
            .header("proxy-authorization", "Basic eA==")
            .proxy(http_proxy(&proxy_server))
            .send()
            .await;
        assert_body(&res, "ok");
        assert_eq!(
            proxy_server.requests()[1].head,
            proxied_get_head(&format!("http://{host}/"), &host, "proxy-authorization: Basic eA==\r\n")
        );
        assert_eq!(origin.connects(), 0);
    })
    .await;
}

#[tokio::test]
async fn keepalive_through_a_proxy_is_off_by_default_and_can_be_turned_on() {
    within(async {
        let proxy_server = Scripted::respond(ok("ok")).await;
        let url = "http://192.0.2.1:8080/x"; // never contacted: the proxy answers
        let res = courier::get(url).proxy(http_proxy(&proxy_server)).send().await;
        assert_body(&res, "ok");
        assert_eq!(proxy_server.requests()[0].header("connection"), Some("TE"));

        let res = courier::get(url).proxy(http_proxy(&proxy_server)).keepalive(true).send().await;
        assert_body(&res, "ok");
        assert_eq!(proxy_server.requests()[1].header("connection"), Some("TE, keep-alive"));

        // POST is not persistent: close, through a proxy as directly.
        let res = courier::post(url).body("x").proxy(http_proxy(&proxy_server)).send().await;
        assert_body(&res, "ok");
        assert_eq!(proxy_server.requests()[2].header("connection"), Some("TE, close"));
        assert_eq!(proxy_server.requests()[2].target, url);
    })
    .await;
}

#[tokio::test]
async fn redirects_through_a_proxy_stay_on_the_proxy_with_its_credentials() {
    within(async {
        let first = Scripted::start_on("127.0.0.2:0", |_peer| async {}).await;
        let second = Scripted::start_on("127.0.0.3:0", |_peer| async {}).await;
        let next = format!("http://127.0.0.3:{}/b", second.port());
        let location = next.clone();
        let proxy_server = KeepAlive::start(move |request| {
            if request.target.ends_with("/a") {
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
            } else {
                ok("arrived")
            }
        })
        .await;
        let via = proxy(&format!("http://user:pass@{}", proxy_server.server.addr));
        let start = format!("http://127.0.0.2:{}/a", first.port());
        let res = courier::get(&start).proxy(via).send().await;
        assert_body(&res, "arrived");
        assert_eq!(res.url(), next);
        assert_eq!(res.redirects().len(), 1);
        let got = proxy_server.requests();
        let targets: Vec<&str> = got.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, [start.as_str(), next.as_str()]);
        // The proxy's own credentials are not the origin's: they survive the cross-origin hop.
        for request in &got {
            assert_eq!(request.header("proxy-authorization"), Some("Basic dXNlcjpwYXNz"));
        }
        assert_eq!((first.connects(), second.connects()), (0, 0));
        // Pool keys are per origin, through a proxy too: one proxy connection per origin.
        assert_eq!(proxy_server.connects(), 2);
    })
    .await;
}

/// A caller's Proxy-Authorization is for the proxy, which a cross-origin redirect does not
/// change (and which no origin ever receives): the next hop through the proxy needs it too.
#[tokio::test]
async fn caller_proxy_authorization_survives_a_cross_origin_redirect_through_the_proxy() {
    within(async {
        let next = "http://192.0.2.2:8080/b";
        let proxy_server = KeepAlive::start(move |request| {
            if request.target.ends_with("/a") {
                format!("HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: 0\r\n\r\n")
            } else {
                ok("arrived")
            }
        })
        .await;
        let res = courier::get("http://192.0.2.1:8080/a")
            .header("proxy-authorization", "Bearer t0k")
            .proxy(http_proxy(&proxy_server.server))
            .send()
            .await;
        assert_body(&res, "arrived");
        let got = proxy_server.requests();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].target, next);
        assert_eq!(got[1].header("proxy-authorization"), Some("Bearer t0k"));
    })
    .await;
}

/// RFC 9110 §4.2.4: a target URI never carries userinfo; in absolute-form it would hand the
/// URL's credentials to the proxy.
#[tokio::test]
async fn absolute_form_never_carries_the_urls_userinfo() {
    within(async {
        let proxy_server = Scripted::respond(ok("ok")).await;
        let res =
            courier::get("http://user:secret@192.0.2.1:8080/x").proxy(http_proxy(&proxy_server)).send().await;
        assert_body(&res, "ok");
        assert_eq!(proxy_server.requests()[0].target, "http://192.0.2.1:8080/x");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Failures: refused and unreachable proxies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unreachable_proxy_is_595() {
    within(async {
        let port = closed_port().await;
        let origin = Scripted::respond(ok("direct")).await;
        let via = proxy(&format!("http://user:secret@127.0.0.1:{port}"));
        let res = courier::get(origin.url("/")).proxy(via.clone()).send().await;
        let reason = assert_connect_failure(&res);
        assert!(reason.starts_with(&format!("connect to 127.0.0.1:{port}: ")), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
        assert_eq!(origin.connects(), 0, "no fallback to a direct connection");

        #[cfg(feature = "tls")]
        {
            let res = courier::get(format!("https://127.0.0.1:{}/", origin.port())).proxy(via).send().await;
            let reason = assert_connect_failure(&res);
            assert!(reason.starts_with(&format!("connect to 127.0.0.1:{port}: ")), "{reason}");
            assert_eq!(origin.connects(), 0);
        }
        #[cfg(feature = "socks")]
        for scheme in ["socks4", "socks4a", "socks5", "socks5h"] {
            let res = courier::get(origin.url("/"))
                .proxy(proxy(&format!("{scheme}://127.0.0.1:{port}")))
                .send()
                .await;
            let reason = assert_connect_failure(&res);
            assert!(reason.starts_with(&format!("connect to 127.0.0.1:{port}: ")), "{scheme}: {reason}");
        }
        assert_eq!(origin.connects(), 0);
    })
    .await;
}

#[tokio::test]
async fn proxy_closing_without_an_answer_is_an_error_not_a_hang() {
    within(async {
        let proxy_server = Scripted::start(|mut peer| async move {
            peer.read_request().await;
        })
        .await;
        let res = courier::get("http://192.0.2.1:8080/").proxy(http_proxy(&proxy_server)).send().await;
        assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseHead));
        assert_eq!(proxy_server.requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn absolute_form_answers_from_the_proxy_are_ordinary_responses() {
    within(async {
        // An HTTP proxy's own refusal for an http URL is a real response, not a 59x.
        let proxy_server = Scripted::respond(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\
             Content-Length: 6\r\n\r\ndenied",
        )
        .await;
        let res = courier::get("http://192.0.2.1:8080/").proxy(http_proxy(&proxy_server)).send().await;
        assert_eq!(res.status().as_u16(), 407, "{}", res.reason());
        assert!(!res.is_error());
        assert_eq!(res.body().as_ref(), b"denied");
        assert_eq!(res.header("proxy-authenticate").as_deref(), Some("Basic realm=\"p\""));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Pooling: the proxy is part of the pool key
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_through_one_proxy_share_its_connection() {
    within(async {
        let proxy_server = KeepAlive::start(|request| ok(&format!("via proxy {}", request.target))).await;
        let (client, events) = observed_client(Some(http_proxy(&proxy_server.server)));
        for path in ["/one", "/two", "/three"] {
            let url = format!("http://192.0.2.1:8080{path}");
            let res = client.get(&url).send().await;
            assert_body(&res, &format!("via proxy {url}"));
        }
        // Another origin through the same proxy: its own pool key, so its own connection.
        let res = client.get("http://192.0.2.2:8080/other").send().await;
        assert_body(&res, "via proxy http://192.0.2.2:8080/other");
        assert_eq!(proxy_server.conns.requests(), 4);
        assert_eq!(proxy_server.connects(), 2);
        assert_eq!((count(&events, EventKind::Connect), count(&events, EventKind::Reuse)), (2, 2));
    })
    .await;
}

#[tokio::test]
async fn one_target_through_two_proxies_uses_two_connections() {
    within(async {
        let one = KeepAlive::start(|_| ok("one")).await;
        let two = KeepAlive::start(|_| ok("two")).await;
        let (client, events) = observed_client(None);
        let url = "http://192.0.2.1:8080/same";
        for _ in 0..2 {
            assert_body(&client.get(url).proxy(http_proxy(&one.server)).send().await, "one");
            assert_body(&client.get(url).proxy(http_proxy(&two.server)).send().await, "two");
        }
        assert_eq!((one.connects(), two.connects()), (1, 1));
        assert_eq!((one.conns.requests(), two.conns.requests()), (2, 2));
        assert_eq!((count(&events, EventKind::Connect), count(&events, EventKind::Reuse)), (2, 2));

        // Credentials are part of the proxy's identity: another user, another connection.
        let as_alice = proxy(&format!("http://alice:a@{}", one.server.addr));
        assert_body(&client.get(url).proxy(as_alice).send().await, "one");
        assert_eq!(one.connects(), 2);
    })
    .await;
}

#[tokio::test]
async fn direct_and_proxied_requests_to_one_origin_never_share_a_connection() {
    within(async {
        let origin = KeepAlive::start(|_| ok("direct")).await;
        let proxy_server = KeepAlive::start(|_| ok("proxied")).await;
        let (client, _events) = observed_client(None);
        let url = origin.url("/");
        let via = http_proxy(&proxy_server.server);

        assert_body(&client.get(&url).proxy(Proxy::none()).send().await, "direct");
        assert_body(&client.get(&url).proxy(via.clone()).send().await, "proxied");
        assert_body(&client.get(&url).proxy(Proxy::none()).send().await, "direct");
        assert_body(&client.get(&url).proxy(via).send().await, "proxied");
        assert_eq!((origin.connects(), origin.conns.requests()), (1, 2));
        assert_eq!((proxy_server.connects(), proxy_server.conns.requests()), (1, 2));
        // The origin saw origin-form requests only; the proxy absolute-form ones only.
        assert!(origin.requests().iter().all(|r| r.target == "/"));
        assert!(proxy_server.requests().iter().all(|r| r.target == url));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Which proxy: client, request, Proxy::none()
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn proxy_none_on_a_request_overrides_the_clients_proxy() {
    within(async {
        let origin = Scripted::respond(ok("direct")).await;
        let proxy_server = Scripted::respond(ok("proxied")).await;
        let client = Client::builder().proxy(http_proxy(&proxy_server)).build().unwrap();

        assert_body(&client.get(origin.url("/a")).send().await, "proxied");
        assert_eq!((origin.connects(), proxy_server.connects()), (0, 1));
        assert_eq!(proxy_server.requests()[0].target, origin.url("/a"));

        // Direct: origin-form, and a caller's Proxy-Authorization goes nowhere.
        let res = client
            .get(origin.url("/b"))
            .header("proxy-authorization", "Basic eA==")
            .proxy(Proxy::none())
            .send()
            .await;
        assert_body(&res, "direct");
        assert_eq!((origin.connects(), proxy_server.connects()), (1, 1));
        assert_eq!(
            origin.requests()[0].head,
            format!(
                "GET /b HTTP/1.1\r\nhost: {}\r\nuser-agent: {UA}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n",
                origin.addr
            )
        );

        // A request's own proxy replaces the client's, too.
        let other = Scripted::respond(ok("other proxy")).await;
        assert_body(&client.get(origin.url("/c")).proxy(http_proxy(&other)).send().await, "other proxy");
        assert_eq!((origin.connects(), proxy_server.connects(), other.connects()), (1, 1, 1));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// The environment's rules, through Proxy::from_vars (the real environment is not touched)
// ---------------------------------------------------------------------------------------

/// A proxy from these variables only.
fn from_vars(pairs: &[(&str, &str)]) -> Proxy {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    Proxy::from_vars(move |name| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
}

/// A connector that sends every connection to 127.0.0.1 (same port) and records the
/// [`Target`] it was asked for: the proxy's for proxied requests, the origin's otherwise.
#[derive(Clone, Default)]
struct Dialed(Arc<Mutex<Vec<Target>>>);

impl Dialed {
    fn connector(&self) -> impl courier::Connector {
        let log = self.0.clone();
        move |target: Target| {
            log.lock().unwrap().push(target.clone());
            async move { TcpStream::connect(("127.0.0.1", target.port)).await }
        }
    }

    fn take(&self) -> Vec<Target> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn target(scheme: &str, host: &str, port: u16) -> Target {
    Target { scheme: scheme.into(), host: host.into(), port }
}

/// Three proxies and an origin, each answering with its own name; `route` says which
/// one a request reached, and through which connection target.
struct EnvRig {
    origin: Scripted,
    one: Scripted,
    two: Scripted,
    all: Scripted,
    dialed: Dialed,
}

impl EnvRig {
    async fn start() -> Self {
        Self {
            origin: Scripted::respond(ok("origin")).await,
            one: Scripted::respond(ok("one")).await,
            two: Scripted::respond(ok("two")).await,
            all: Scripted::respond(ok("all")).await,
            dialed: Dialed::default(),
        }
    }

    /// `{name}` in a variable's value becomes that proxy's `http://127.0.0.1:PORT`.
    fn vars(&self, pairs: &[(&str, &str)]) -> Proxy {
        let fill = |value: &str| {
            value
                .replace("{one}", &format!("http://127.0.0.1:{}", self.one.port()))
                .replace("{two}", &format!("http://127.0.0.1:{}", self.two.port()))
                .replace("{all}", &format!("http://127.0.0.1:{}", self.all.port()))
        };
        let filled: Vec<(String, String)> = pairs.iter().map(|(n, v)| (n.to_string(), fill(v))).collect();
        Proxy::from_vars(move |name| filled.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
    }

    /// GETs `http://{host}:ORIGIN_PORT/` with `proxy`; returns who answered.
    async fn route(&self, proxy: &Proxy, host: &str) -> String {
        let url = format!("http://{host}:{}/", self.origin.port());
        let res = courier::get(&url).proxy(proxy.clone()).connector(self.dialed.connector()).send().await;
        assert_eq!(res.status().as_u16(), 200, "{url}: {}", res.reason());
        let dialed = self.dialed.take();
        let who = res.text().into_owned();
        let expected = match who.as_str() {
            // URL hosts are lowercased when parsed.
            "origin" => target("http", &host.to_ascii_lowercase(), self.origin.port()),
            "one" => target("http", "127.0.0.1", self.one.port()),
            "two" => target("http", "127.0.0.1", self.two.port()),
            _ => target("http", "127.0.0.1", self.all.port()),
        };
        assert_eq!(dialed, [expected], "{url} answered by {who}");
        who
    }
}

#[tokio::test]
async fn environment_http_proxy_all_proxy_and_case() {
    within(async {
        let rig = EnvRig::start().await;
        let proxy = rig.vars(&[("http_proxy", "{one}")]);
        assert_eq!(rig.route(&proxy, "origin.test").await, "one");
        assert_eq!(rig.one.requests()[0].target, format!("http://origin.test:{}/", rig.origin.port()));

        assert_eq!(rig.route(&rig.vars(&[("HTTP_PROXY", "{two}")]), "origin.test").await, "two");
        // Lowercase wins over uppercase.
        let both = rig.vars(&[("HTTP_PROXY", "{two}"), ("http_proxy", "{one}")]);
        assert_eq!(rig.route(&both, "origin.test").await, "one");
        // all_proxy is the fallback, in either case; a scheme's own variable wins over it.
        assert_eq!(rig.route(&rig.vars(&[("all_proxy", "{all}")]), "origin.test").await, "all");
        assert_eq!(rig.route(&rig.vars(&[("ALL_PROXY", "{all}")]), "origin.test").await, "all");
        let both = rig.vars(&[("all_proxy", "{all}"), ("http_proxy", "{one}")]);
        assert_eq!(rig.route(&both, "origin.test").await, "one");
        let both = rig.vars(&[("ALL_PROXY", "{two}"), ("all_proxy", "{all}")]);
        assert_eq!(rig.route(&both, "origin.test").await, "all");
        // https_proxy is not for http URLs.
        assert_eq!(rig.route(&rig.vars(&[("https_proxy", "{one}")]), "origin.test").await, "origin");
        // Nothing set, empty or unparsable values: direct.
        assert_eq!(rig.vars(&[]), Proxy::none());
        assert_eq!(rig.route(&rig.vars(&[]), "origin.test").await, "origin");
        assert_eq!(
            rig.route(&rig.vars(&[("http_proxy", "ftp://127.0.0.1:21")]), "origin.test").await,
            "origin"
        );
        // A value without a scheme is an HTTP proxy.
        let bare = rig.vars(&[("http_proxy", &format!("127.0.0.1:{}", rig.two.port()))]);
        assert_eq!(rig.route(&bare, "origin.test").await, "two");
    })
    .await;
}

#[tokio::test]
async fn environment_http_proxy_is_ignored_under_cgi() {
    within(async {
        let rig = EnvRig::start().await;
        // httpoxy: a CGI client's `Proxy:` header arrives as HTTP_PROXY.
        let cgi = rig.vars(&[("HTTP_PROXY", "{two}"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(cgi, Proxy::none());
        assert_eq!(rig.route(&cgi, "origin.test").await, "origin");
        // The lowercase name cannot come from a header, nor can all_proxy: both still apply.
        let cgi = rig.vars(&[("HTTP_PROXY", "{two}"), ("http_proxy", "{one}"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(rig.route(&cgi, "origin.test").await, "one");
        let cgi = rig.vars(&[("HTTP_PROXY", "{two}"), ("ALL_PROXY", "{all}"), ("REQUEST_METHOD", "POST")]);
        assert_eq!(rig.route(&cgi, "origin.test").await, "all");
    })
    .await;
}

#[tokio::test]
async fn environment_no_proxy_rules() {
    within(async {
        let rig = EnvRig::start().await;
        let with = |no_proxy: &str| rig.vars(&[("http_proxy", "{one}"), ("no_proxy", no_proxy)]);

        let star = with("*");
        for host in ["origin.test", "a.example.test", "192.0.2.10"] {
            assert_eq!(rig.route(&star, host).await, "origin", "{host}");
        }
        // A bare domain covers itself and its subdomains, not names that merely end alike.
        let suffix = with("example.test");
        assert_eq!(rig.route(&suffix, "example.test").await, "origin");
        assert_eq!(rig.route(&suffix, "a.example.test").await, "origin");
        assert_eq!(rig.route(&suffix, "b.a.example.test").await, "origin");
        assert_eq!(rig.route(&suffix, "badexample.test").await, "one");
        assert_eq!(rig.route(&suffix, "example.test.evil").await, "one");
        // A leading dot: the same.
        let dotted = with(".example.test");
        assert_eq!(rig.route(&dotted, "a.example.test").await, "origin");
        assert_eq!(rig.route(&dotted, "example.test").await, "origin");
        assert_eq!(rig.route(&dotted, "badexample.test").await, "one");
        // A list with spaces and case differences; an IP entry matches that IP only.
        let list = with(" other.test , Example.TEST,192.0.2.10 ,");
        assert_eq!(rig.route(&list, "other.test").await, "origin");
        assert_eq!(rig.route(&list, "A.EXAMPLE.test").await, "origin");
        assert_eq!(rig.route(&list, "192.0.2.10").await, "origin");
        assert_eq!(rig.route(&list, "192.0.2.11").await, "one");
        assert_eq!(rig.route(&list, "origin.test").await, "one");
        // Lowercase no_proxy wins over NO_PROXY; NO_PROXY alone applies.
        let both =
            rig.vars(&[("http_proxy", "{one}"), ("no_proxy", "other.test"), ("NO_PROXY", "origin.test")]);
        assert_eq!(rig.route(&both, "origin.test").await, "one");
        let upper = rig.vars(&[("http_proxy", "{one}"), ("NO_PROXY", "origin.test")]);
        assert_eq!(rig.route(&upper, "origin.test").await, "origin");
    })
    .await;
}

#[tokio::test]
async fn environment_proxies_never_take_loopback_targets() {
    within(async {
        let rig = EnvRig::start().await;
        let env = rig.vars(&[("http_proxy", "{one}"), ("all_proxy", "{all}")]);
        for host in ["127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost", "LOCALHOST"] {
            assert_eq!(rig.route(&env, host).await, "origin", "{host}");
        }
        assert_eq!(rig.route(&env, "origin.test").await, "one");
        // An explicit proxy does take them.
        let explicit = proxy(&format!("http://127.0.0.1:{}", rig.two.port()));
        assert_eq!(rig.route(&explicit, "127.0.0.1").await, "two");
        assert_eq!(rig.route(&explicit, "localhost").await, "two");
    })
    .await;
}

#[tokio::test]
async fn environment_proxy_as_a_clients_default() {
    within(async {
        let rig = EnvRig::start().await;
        let client = Client::builder().proxy(rig.vars(&[("http_proxy", "{one}")])).build().unwrap();
        let url = format!("http://origin.test:{}/", rig.origin.port());
        let res = client.get(&url).connector(rig.dialed.connector()).send().await;
        assert_body(&res, "one");
        assert_eq!(rig.dialed.take(), [target("http", "127.0.0.1", rig.one.port())]);
        let res = client.get(&url).connector(rig.dialed.connector()).proxy(Proxy::none()).send().await;
        assert_body(&res, "origin");
        assert_eq!(rig.dialed.take(), [target("http", "origin.test", rig.origin.port())]);
    })
    .await;
}

/// https URLs take https_proxy (or all_proxy), never http_proxy, and always CONNECT.
#[cfg(feature = "tls")]
#[tokio::test]
async fn environment_https_proxy_is_per_scheme() {
    within(async {
        // Speaks plain HTTP at once, so a TLS client fails fast instead of waiting.
        let origin = Scripted::start(|mut peer| async move { peer.write(ok("not tls")).await }).await;
        let refusing = || Scripted::respond("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        let (one, two) = (refusing().await, refusing().await);
        let dialed = Dialed::default();
        let fetch = |proxy: Proxy| {
            courier::get(format!("https://origin.test:{}/", origin.port()))
                .proxy(proxy)
                .connector(dialed.connector())
                .send()
        };
        let vars = |pairs: &[(&str, u16)]| {
            let owned: Vec<(&str, String)> =
                pairs.iter().map(|(n, port)| (*n, format!("http://127.0.0.1:{port}"))).collect();
            let refs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
            from_vars(&refs)
        };

        let res = fetch(vars(&[("http_proxy", one.port()), ("https_proxy", two.port())])).await;
        let reason = assert_connect_failure(&res);
        assert!(reason.ends_with("CONNECT refused: 403 Forbidden"), "{reason}");
        assert_eq!(dialed.take(), [target("http", "127.0.0.1", two.port())]);
        assert_eq!(two.requests()[0].method, "CONNECT");
        assert_eq!(two.requests()[0].target, format!("origin.test:{}", origin.port()));

        let res = fetch(vars(&[("HTTPS_PROXY", one.port())])).await;
        assert_connect_failure(&res);
        assert_eq!(dialed.take(), [target("http", "127.0.0.1", one.port())]);

        let res = fetch(vars(&[("all_proxy", two.port())])).await;
        assert_connect_failure(&res);
        assert_eq!(dialed.take(), [target("http", "127.0.0.1", two.port())]);

        // http_proxy alone: https goes direct (and meets a plain-HTTP server: 596).
        let res = fetch(vars(&[("http_proxy", one.port())])).await;
        assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
        assert_eq!(dialed.take(), [target("https", "origin.test", origin.port())]);
        assert_eq!((one.connects(), two.connects()), (1, 2));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Proxy URLs
// ---------------------------------------------------------------------------------------

#[test]
fn proxy_urls_are_checked() {
    for bad in ["ftp://127.0.0.1:21", "https://127.0.0.1:3128", "socks5://", "http://", "http://[::1", "::"] {
        let error = Proxy::new(bad).expect_err(bad);
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{bad}");
        assert_eq!(error.status(), 599, "{bad}");
        assert!(error.to_string().starts_with("invalid proxy URL"), "{bad}: {error}");
    }
    for good in [
        "http://127.0.0.1:3128",
        "127.0.0.1:3128",
        "http://user:pass@proxy.test",
        "socks4://127.0.0.1:1080",
        "socks4a://127.0.0.1",
        "socks5://127.0.0.1:1080",
        "socks5h://user:pass@[::1]:1080",
    ] {
        assert!(Proxy::new(good).is_ok(), "{good}");
    }
    assert_ne!(proxy("http://127.0.0.1:3128"), proxy("socks5://127.0.0.1:3128"));
    assert_eq!(proxy("127.0.0.1:3128"), proxy("http://127.0.0.1:3128"));
}

#[test]
fn proxy_debug_output_never_shows_the_password() {
    let shown = format!("{:?}", proxy("http://user:s3cr3t@127.0.0.1:3128"));
    assert!(shown.contains("http://user:***@127.0.0.1:3128"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    let shown = format!("{:?}", proxy("socks5h://us%40er:s3cr3t@[::1]"));
    assert!(shown.contains("socks5h://us@er:***@[::1]:1080"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    let env = from_vars(&[
        ("http_proxy", "http://u:s3cr3t@p.test:1"),
        ("https_proxy", "socks5://v:s3cr3t@q.test:2"),
    ]);
    let shown = format!("{env:?}");
    assert!(shown.contains("http://u:***@p.test:1") && shown.contains("socks5://v:***@q.test:2"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn invalid_proxy_url_errors_never_show_the_password() {
    let error = Proxy::new("ftp://user:s3cr3t@127.0.0.1:21").unwrap_err();
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
    assert!(!format!("{error:?}").contains("s3cr3t"), "{error:?}");
}

// ---------------------------------------------------------------------------------------
// HTTP proxy, https URLs: CONNECT tunnels to the bundled TLS server
// ---------------------------------------------------------------------------------------

#[cfg(feature = "tls")]
mod connect_refusals {
    use super::*;

    /// A proxy that answers every CONNECT with `answer` (then closes).
    async fn answering(answer: &'static str) -> Scripted {
        Scripted::respond(answer).await
    }

    async fn through(server: &Scripted, credentials: &str) -> Response {
        let via = proxy(&format!("http://{credentials}127.0.0.1:{}", server.port()));
        courier::get("https://192.0.2.1:8443/").proxy(via).send().await
    }

    #[tokio::test]
    async fn connect_refused_with_407_is_595_with_the_status() {
        within(async {
            let server = answering(
                "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\
                 Content-Length: 12\r\n\r\nlog in first",
            )
            .await;
            let res = through(&server, "user:s3cr3t@").await;
            let reason = assert_connect_failure(&res);
            assert_eq!(
                reason,
                format!(
                    "proxy http://user:***@127.0.0.1:{}: CONNECT refused: 407 Proxy Authentication Required",
                    server.port()
                )
            );
            assert_eq!(
                server.requests()[0].head,
                "CONNECT 192.0.2.1:8443 HTTP/1.1\r\nHost: 192.0.2.1:8443\r\n\
                 Proxy-Authorization: Basic dXNlcjpzM2NyM3Q=\r\n\r\n"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn connect_refused_with_502_is_595_with_the_status() {
        within(async {
            let server = answering("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert_eq!(
                reason,
                format!("proxy http://127.0.0.1:{}: CONNECT refused: 502 Bad Gateway", server.port())
            );
            // HTTP/1.0 proxies answer with 1.0 status lines; a redirect is not followed either.
            let server = answering("HTTP/1.0 503 Service Unavailable\r\n\r\n").await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert!(reason.ends_with("CONNECT refused: 503 Service Unavailable"), "{reason}");
            let server =
                answering("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n")
                    .await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert!(reason.ends_with("CONNECT refused: 302 Found"), "{reason}");
        })
        .await;
    }

    #[tokio::test]
    async fn connect_answered_with_garbage_is_595() {
        within(async {
            let server = answering("SSH-2.0-OpenSSH_9.2\r\n\r\n").await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert!(
                reason.starts_with(&format!("proxy http://127.0.0.1:{}: CONNECT answer: ", server.port())),
                "{reason}"
            );
            // An answer the proxy never finishes.
            let server = answering("HTTP/1.1 200 Connection est").await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert!(reason.contains("CONNECT answer: "), "{reason}");
            // 200 and then bytes the origin could not have sent yet.
            let server = answering("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n").await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert!(reason.ends_with("bytes after the CONNECT answer"), "{reason}");
        })
        .await;
    }

    #[tokio::test]
    async fn connect_closed_without_an_answer_is_595() {
        within(async {
            let server = Scripted::start(|mut peer| async move {
                peer.read_request().await;
            })
            .await;
            let reason = assert_connect_failure(&through(&server, "").await);
            assert!(
                reason.starts_with(&format!("proxy http://127.0.0.1:{}: CONNECT answer: ", server.port())),
                "{reason}"
            );
            assert_eq!(server.requests().len(), 1);
        })
        .await;
    }
}

#[cfg(all(feature = "tls", feature = "server"))]
mod tunnels {
    use super::*;
    use courier::server::{Reply, Server};
    use courier::tls::{self, Tls};
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
        Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::sync::OnceLock;

    pub(crate) struct Pki {
        pub(crate) ca: CertificateDer<'static>,
        /// For `localhost` and `127.0.0.1`.
        good: Arc<rustls::ServerConfig>,
        /// For `other.test` only.
        wrong_name: Arc<rustls::ServerConfig>,
    }

    /// A CA and two leaves, made once per test binary.
    pub(crate) fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params.distinguished_name = DistinguishedName::new();
            ca_params.distinguished_name.push(DnType::CommonName, "courier proxy test CA");
            ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca_params, ca_key);
            let leaf = |names: &[&str]| {
                let mut params =
                    CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
                params.distinguished_name = DistinguishedName::new();
                params.distinguished_name.push(DnType::CommonName, names[0]);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                let key = KeyPair::generate().unwrap();
                let cert = params.signed_by(&key, &issuer).unwrap();
                let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
                tls::server_config(vec![cert.der().clone()], key).unwrap()
            };
            Pki {
                ca: ca.der().clone(),
                good: leaf(&["localhost", "127.0.0.1"]),
                wrong_name: leaf(&["other.test"]),
            }
        })
    }

    pub(crate) fn trust_ca() -> Tls {
        Tls::with_roots([pki().ca.clone()]).unwrap()
    }

    pub(crate) const BODY: &str = "hello through the tunnel";

    /// The bundled server over TLS: `/hello` answers [`BODY`].
    pub(crate) async fn https_origin() -> Server {
        Server::builder()
            .tls(pki().good.clone())
            .route("/hello", |_req| async { Reply::text(BODY) })
            .start()
            .await
            .unwrap()
    }

    /// A CONNECT proxy: reads the CONNECT, answers 200, connects to the requested
    /// authority and relays bytes both ways until either side closes.
    pub(crate) async fn connect_proxy() -> Scripted {
        Scripted::start(|mut peer| async move {
            let Some(request) = peer.read_request().await else { return };
            assert_eq!(request.method, "CONNECT");
            assert!(peer.unconsumed().is_empty(), "the client spoke before the tunnel was up");
            let Ok(mut upstream) = TcpStream::connect(request.target.as_str()).await else {
                peer.write("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
                return;
            };
            peer.write("HTTP/1.1 200 Connection established\r\n\r\n").await;
            let _ = tokio::io::copy_bidirectional(&mut peer.stream, &mut upstream).await;
        })
        .await
    }

    fn connect_head(authority: &str, authorization: Option<&str>) -> String {
        let authorization =
            authorization.map(|value| format!("Proxy-Authorization: {value}\r\n")).unwrap_or_default();
        format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{authorization}\r\n")
    }

    #[tokio::test]
    async fn https_url_goes_through_a_connect_tunnel() {
        within(async {
            let origin = https_origin().await;
            let tunnel = connect_proxy().await;
            let authority = format!("127.0.0.1:{}", origin.port());
            let res = courier::get(format!("https://{authority}/hello?x=1"))
                .tls(trust_ca())
                .proxy(http_proxy(&tunnel))
                .send()
                .await;
            assert_body(&res, BODY);
            assert_eq!(tunnel.requests().len(), 1);
            assert_eq!(tunnel.requests()[0].head, connect_head(&authority, None));

            // Inside the tunnel: origin-form, the default persistence through a proxy.
            let got = origin.requests();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].target, "/hello?x=1");
            assert_eq!(got[0].header("host"), Some(authority.as_str()));
            assert_eq!(got[0].header("connection"), Some("TE"));
            assert_eq!(got[0].header("proxy-authorization"), None);
        })
        .await;
    }

    #[tokio::test]
    async fn connect_carries_the_credentials_and_the_origin_never_sees_them() {
        within(async {
            let origin = https_origin().await;
            let tunnel = connect_proxy().await;
            let authority = format!("localhost:{}", origin.port());
            let url = format!("https://{authority}/hello");
            let via = proxy(&format!("http://user:pass@127.0.0.1:{}", tunnel.port()));

            let res = courier::get(&url).tls(trust_ca()).proxy(via.clone()).send().await;
            assert_body(&res, BODY);
            assert_eq!(tunnel.requests()[0].head, connect_head(&authority, Some("Basic dXNlcjpwYXNz")));

            // A caller's header replaces the URL's credentials on the CONNECT, and stays there.
            let res = courier::get(&url)
                .tls(Tls::Low)
                .header("proxy-authorization", "Bearer t0k")
                .header("authorization", "Bearer origin-only")
                .proxy(via)
                .send()
                .await;
            assert_body(&res, BODY);
            assert_eq!(tunnel.requests()[1].head, connect_head(&authority, Some("Bearer t0k")));

            let got = origin.requests();
            assert_eq!(got.len(), 2);
            for request in &got {
                assert_eq!(request.target, "/hello", "never absolute-form inside the tunnel");
                assert_eq!(request.header("host"), Some(authority.as_str()));
                assert_eq!(request.header("proxy-authorization"), None);
                assert!(!request.headers.contains_key("proxy-authorization"));
            }
            assert_eq!(got[1].header("authorization"), Some("Bearer origin-only"));
        })
        .await;
    }

    #[tokio::test]
    async fn https_through_a_proxy_always_uses_connect_and_verifies_the_origin() {
        within(async {
            let origin = https_origin().await;
            let tunnel = connect_proxy().await;
            let url = format!("https://localhost:{}/hello", origin.port());
            // Even a POST (not persistent) and with keep-alive forced on.
            let res =
                courier::post(&url).body("data").tls(trust_ca()).proxy(http_proxy(&tunnel)).send().await;
            assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
            let res =
                courier::get(&url).tls(trust_ca()).keepalive(true).proxy(http_proxy(&tunnel)).send().await;
            assert_body(&res, BODY);
            let methods: Vec<String> = tunnel.requests().iter().map(|r| r.method.clone()).collect();
            assert_eq!(methods, ["CONNECT", "CONNECT"]);
            assert!(origin.requests().iter().all(|r| r.target == "/hello"));

            // The name check is against the origin, not the proxy: a wrong-name leaf is 596.
            let wrong = Server::builder()
                .tls(pki().wrong_name.clone())
                .route("/hello", |_req| async { Reply::text(BODY) })
                .start()
                .await
                .unwrap();
            let res = courier::get(format!("https://localhost:{}/hello", wrong.port()))
                .tls(trust_ca())
                .proxy(http_proxy(&tunnel))
                .send()
                .await;
            assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
            assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::Tls));
            assert!(res.reason().contains("not valid for name \"localhost\""), "{}", res.reason());
            assert!(wrong.requests().is_empty());
            // And the default (webpki roots) does not trust the test CA through a tunnel either.
            let res = courier::get(&url).proxy(http_proxy(&tunnel)).send().await;
            assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
            assert!(res.reason().contains("UnknownIssuer"), "{}", res.reason());
        })
        .await;
    }

    #[tokio::test]
    async fn tunnels_are_pooled_per_proxy() {
        within(async {
            let origin = https_origin().await;
            let tunnel = connect_proxy().await;
            let other = connect_proxy().await;
            let (client, events) = observed_client(Some(http_proxy(&tunnel)));
            let tls = trust_ca();
            let url = format!("https://localhost:{}/hello", origin.port());
            for _ in 0..3 {
                assert_body(&client.get(&url).tls(tls.clone()).send().await, BODY);
            }
            assert_eq!(tunnel.connects(), 1, "one CONNECT, reused");
            assert_body(&client.get(&url).tls(tls.clone()).proxy(http_proxy(&other)).send().await, BODY);
            assert_body(&client.get(&url).tls(tls.clone()).proxy(Proxy::none()).send().await, BODY);
            assert_eq!((tunnel.connects(), other.connects()), (1, 1));
            assert_eq!((count(&events, EventKind::Connect), count(&events, EventKind::Reuse)), (3, 2));
            let connections: std::collections::BTreeSet<u64> =
                origin.requests().iter().map(|r| r.connection_id).collect();
            assert_eq!(connections.len(), 3);
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// SOCKS 4, 4a, 5 and 5h against a scripted SOCKS server
// ---------------------------------------------------------------------------------------

#[cfg(feature = "socks")]
mod socks {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The destination a client asked the SOCKS server for.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Dest {
        Ip(SocketAddr),
        Domain(String, u16),
    }

    /// One SOCKS request as the server saw it.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    struct Seen {
        version: u8,
        /// SOCKS5: the authentication methods offered.
        methods: Vec<u8>,
        /// SOCKS5 username/password, if that method ran.
        credentials: Option<(String, String)>,
        /// SOCKS4: the user id.
        user_id: Option<String>,
        dest: Option<Dest>,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// No authentication (or user/password when the client offers it, accepted).
        Grant,
        /// Insist on username/password; accept them.
        RequirePassword,
        /// Insist on username/password; reject them.
        RejectPassword,
        /// Refuse the CONNECT with this reply code.
        Refuse(u8),
    }

    /// A SOCKS4/4a/5 server that relays every granted connection to `upstream`, whatever
    /// destination was asked for (the tests assert on the destination).
    struct SocksServer {
        server: Scripted,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl SocksServer {
        async fn start(upstream: SocketAddr, mode: Mode) -> Self {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            let server = Scripted::start(move |peer| {
                let log = log.clone();
                async move {
                    let mut stream = peer.stream;
                    let mut seen = Seen::default();
                    let granted = handshake(&mut stream, mode, &mut seen).await;
                    log.lock().unwrap().push(seen);
                    if granted.unwrap_or(false) {
                        if let Ok(mut origin) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut stream, &mut origin).await;
                        }
                    }
                }
            })
            .await;
            Self { server, seen }
        }

        fn url(&self, scheme: &str, credentials: &str) -> Proxy {
            proxy(&format!("{scheme}://{credentials}127.0.0.1:{}", self.server.port()))
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    async fn read_u8(stream: &mut TcpStream) -> std::io::Result<u8> {
        stream.read_u8().await
    }

    async fn read_vec(stream: &mut TcpStream, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    }

    async fn read_nul_terminated(stream: &mut TcpStream) -> std::io::Result<String> {
        let mut bytes = Vec::new();
        loop {
            match read_u8(stream).await? {
                0 => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
                byte => bytes.push(byte),
            }
        }
    }

    /// Runs the server side of the handshake; `Ok(true)` when the CONNECT was granted.
    async fn handshake(stream: &mut TcpStream, mode: Mode, seen: &mut Seen) -> std::io::Result<bool> {
        seen.version = read_u8(stream).await?;
        match seen.version {
            4 => socks4(stream, mode, seen).await,
            5 => socks5(stream, mode, seen).await,
            _ => Ok(false),
        }
    }

    async fn socks4(stream: &mut TcpStream, mode: Mode, seen: &mut Seen) -> std::io::Result<bool> {
        let command = read_u8(stream).await?;
        let port = stream.read_u16().await?;
        let ip = Ipv4Addr::from(stream.read_u32().await?);
        seen.user_id = Some(read_nul_terminated(stream).await?);
        let octets = ip.octets();
        // SOCKS4a: 0.0.0.x (x != 0) means "the host name follows".
        seen.dest = Some(if octets[..3] == [0, 0, 0] && octets[3] != 0 {
            Dest::Domain(read_nul_terminated(stream).await?, port)
        } else {
            Dest::Ip(SocketAddr::from((ip, port)))
        });
        let code = match mode {
            Mode::Refuse(code) => code,
            _ if command != 1 => 0x5b,
            _ => 0x5a,
        };
        stream.write_all(&[0, code, 0, 0, 0, 0, 0, 0]).await?;
        Ok(code == 0x5a)
    }

    async fn socks5(stream: &mut TcpStream, mode: Mode, seen: &mut Seen) -> std::io::Result<bool> {
        let count = read_u8(stream).await?;
        seen.methods = read_vec(stream, count.into()).await?;
        let wants_password = matches!(mode, Mode::RequirePassword | Mode::RejectPassword);
        let method = if seen.methods.contains(&2) && (wants_password || !seen.methods.contains(&0)) {
            2
        } else if seen.methods.contains(&0) && !wants_password {
            0
        } else {
            0xff
        };
        stream.write_all(&[5, method]).await?;
        match method {
            0xff => return Ok(false),
            2 => {
                let _version = read_u8(stream).await?;
                let len = read_u8(stream).await?;
                let user = String::from_utf8_lossy(&read_vec(stream, len.into()).await?).into_owned();
                let len = read_u8(stream).await?;
                let password = String::from_utf8_lossy(&read_vec(stream, len.into()).await?).into_owned();
                seen.credentials = Some((user, password));
                let status = if mode == Mode::RejectPassword { 1 } else { 0 };
                stream.write_all(&[1, status]).await?;
                if status != 0 {
                    return Ok(false);
                }
            }
            _ => {}
        }
        let header = read_vec(stream, 4).await?; // version, command, reserved, address type
        let dest = match header[3] {
            1 => {
                let ip = Ipv4Addr::from(stream.read_u32().await?);
                Dest::Ip(SocketAddr::from((ip, stream.read_u16().await?)))
            }
            4 => {
                let ip = std::net::Ipv6Addr::from(stream.read_u128().await?);
                Dest::Ip(SocketAddr::from((ip, stream.read_u16().await?)))
            }
            3 => {
                let len = read_u8(stream).await?;
                let name = String::from_utf8_lossy(&read_vec(stream, len.into()).await?).into_owned();
                Dest::Domain(name, stream.read_u16().await?)
            }
            _ => return Ok(false),
        };
        seen.dest = Some(dest);
        let code = match mode {
            Mode::Refuse(code) => code,
            _ if header[1] != 1 => 7,
            _ => 0,
        };
        stream.write_all(&[5, code, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
        Ok(code == 0)
    }

    /// The origin: a keep-alive server answering `socks ok` (counts connections).
    async fn origin() -> KeepAlive {
        KeepAlive::start(|_| ok("socks ok")).await
    }

    /// The origin, a SOCKS server in `mode` relaying to it, and the origin's port.
    async fn origin_behind(mode: Mode) -> (KeepAlive, SocksServer, u16) {
        let origin = origin().await;
        let socks = SocksServer::start(origin.server.addr, mode).await;
        let port = origin.server.port();
        (origin, socks, port)
    }

    /// GETs `url` through `socks` as `scheme` (`credentials` in the proxy URL) and asserts
    /// that the origin answered.
    async fn get_via(socks: &SocksServer, scheme: &str, credentials: &str, url: &str) {
        let res = courier::get(url).proxy(socks.url(scheme, credentials)).send().await;
        assert_body(&res, "socks ok");
    }

    /// A SOCKS5 request offering only "no authentication".
    fn socks5_seen(dest: Dest) -> Seen {
        Seen { version: 5, methods: vec![0], dest: Some(dest), ..Seen::default() }
    }

    /// A SOCKS4 request with an empty user id.
    fn socks4_seen(dest: Dest) -> Seen {
        Seen { version: 4, user_id: Some(String::new()), dest: Some(dest), ..Seen::default() }
    }

    /// What `localhost` resolves to first here: what socks4 and socks5 send.
    async fn localhost(port: u16, v4_only: bool) -> SocketAddr {
        tokio::net::lookup_host(("localhost", port))
            .await
            .unwrap()
            .find(|address| address.is_ipv4() || !v4_only)
            .unwrap()
    }

    #[tokio::test]
    async fn socks5_resolves_here_and_sends_an_ip() {
        within(async {
            let (origin, socks, port) = origin_behind(Mode::Grant).await;
            get_via(&socks, "socks5", "", &format!("http://localhost:{port}/path?q")).await;
            assert_eq!(socks.seen(), [socks5_seen(Dest::Ip(localhost(port, false).await))]);
            // Through SOCKS the origin gets an ordinary origin-form request.
            assert_eq!(
                origin.requests()[0].head,
                proxied_get_head("/path?q", &format!("localhost:{port}"), "")
            );
        })
        .await;
    }

    #[tokio::test]
    async fn socks5h_sends_the_host_name() {
        within(async {
            let (origin, socks, port) = origin_behind(Mode::Grant).await;
            get_via(&socks, "socks5h", "", &format!("http://localhost:{port}/")).await;
            assert_eq!(socks.seen(), [socks5_seen(Dest::Domain("localhost".into(), port))]);
            // A name nobody here can resolve: socks5h hands it on untouched.
            get_via(&socks, "socks5h", "", &format!("http://origin.invalid:{port}/")).await;
            assert_eq!(socks.seen()[1].dest, Some(Dest::Domain("origin.invalid".into(), port)));
            assert_eq!(origin.requests()[1].header("host"), Some(format!("origin.invalid:{port}").as_str()));
        })
        .await;
    }

    #[tokio::test]
    async fn socks4_sends_an_ipv4_and_socks4a_the_host_name() {
        within(async {
            let (origin, socks, port) = origin_behind(Mode::Grant).await;
            let url = format!("http://localhost:{port}/");
            get_via(&socks, "socks4", "", &url).await;
            get_via(&socks, "socks4a", "", &url).await;
            let seen = socks.seen();
            assert_eq!(seen[0], socks4_seen(Dest::Ip(localhost(port, true).await)));
            assert_eq!(seen[1], socks4_seen(Dest::Domain("localhost".into(), port)));
            // An IP literal is an address in both modes: nothing to resolve, for anyone.
            let url = format!("http://127.0.0.1:{port}/");
            get_via(&socks, "socks4", "", &url).await;
            get_via(&socks, "socks4a", "", &url).await;
            assert_eq!(socks.seen()[2].dest, Some(Dest::Ip(origin.server.addr)));
            assert_eq!(socks.seen()[3].dest, Some(Dest::Ip(origin.server.addr)));
        })
        .await;
    }

    /// RFC 1928's domain-name address type is for names; an IP literal has its own address
    /// types (curl's socks5h sends IPv4 and IPv6 literals as addresses too).
    #[tokio::test]
    async fn socks5h_sends_ip_literals_as_addresses() {
        within(async {
            let (origin, socks, _) = origin_behind(Mode::Grant).await;
            get_via(&socks, "socks5h", "", &origin.url("/")).await;
            assert_eq!(socks.seen()[0].dest, Some(Dest::Ip(origin.server.addr)));
        })
        .await;
    }

    #[tokio::test]
    async fn socks_credentials_come_from_the_proxy_url() {
        within(async {
            let (origin, socks, port) = origin_behind(Mode::RequirePassword).await;
            let url = format!("http://localhost:{port}/");
            get_via(&socks, "socks5h", "us%40er:p%3Ass@", &url).await;
            let seen = socks.seen();
            assert_eq!(seen[0].methods, [0, 2], "no authentication and username/password offered");
            assert_eq!(seen[0].credentials, Some(("us@er".into(), "p:ss".into())));
            assert_eq!(seen[0].dest, Some(Dest::Domain("localhost".into(), port)));
            // The credentials never reach the origin.
            assert_eq!(origin.requests()[0].header("proxy-authorization"), None);
            assert_eq!(origin.requests()[0].header("authorization"), None);

            // SOCKS4: the URL's user name is the user id.
            let socks4 = SocksServer::start(origin.server.addr, Mode::Grant).await;
            get_via(&socks4, "socks4", "alice@", &url).await;
            get_via(&socks4, "socks4a", "bob:ignored@", &url).await;
            let ids: Vec<Option<String>> = socks4.seen().into_iter().map(|s| s.user_id).collect();
            assert_eq!(ids, [Some("alice".into()), Some("bob".into())]);
        })
        .await;
    }

    #[tokio::test]
    async fn socks_refusals_are_595() {
        within(async {
            let origin = origin().await;
            let port = origin.server.port();
            let url = format!("http://localhost:{port}/");
            let check = |res: &Response, socks: &SocksServer, scheme: &str| {
                let reason = assert_connect_failure(res);
                let prefix =
                    format!("SOCKS proxy {scheme}://127.0.0.1:{} to localhost:{port}: ", socks.server.port());
                assert!(reason.starts_with(&prefix), "{reason}");
                reason
            };

            let refusing = SocksServer::start(origin.server.addr, Mode::Refuse(2)).await;
            for scheme in ["socks5", "socks5h"] {
                let res = courier::get(&url).proxy(refusing.url(scheme, "")).send().await;
                check(&res, &refusing, scheme);
            }
            let refusing = SocksServer::start(origin.server.addr, Mode::Refuse(0x5b)).await;
            for scheme in ["socks4", "socks4a"] {
                let res = courier::get(&url).proxy(refusing.url(scheme, "")).send().await;
                check(&res, &refusing, scheme);
            }
            // A server that insists on a password the URL does not have.
            let strict = SocksServer::start(origin.server.addr, Mode::RequirePassword).await;
            let res = courier::get(&url).proxy(strict.url("socks5", "")).send().await;
            check(&res, &strict, "socks5");
            assert_eq!(strict.seen()[0].dest, None, "no CONNECT after the refusal");
            // Wrong credentials; the password never shows in the reason.
            let rejecting = SocksServer::start(origin.server.addr, Mode::RejectPassword).await;
            let res = courier::get(&url).proxy(rejecting.url("socks5h", "user:s3cr3t@")).send().await;
            let reason = assert_connect_failure(&res);
            assert!(!reason.contains("s3cr3t"), "{reason}");
            assert!(reason.contains("user:***@"), "{reason}");
            assert_eq!(rejecting.seen()[0].credentials, Some(("user".into(), "s3cr3t".into())));
            // Not a SOCKS server at all.
            let http = Scripted::start(|mut peer| async move {
                peer.write(ok("not socks")).await;
                peer.hold().await;
            })
            .await;
            let res =
                courier::get(&url).proxy(proxy(&format!("socks5://127.0.0.1:{}", http.port()))).send().await;
            assert_connect_failure(&res);
            // A SOCKS server that closes at once.
            let closing = Scripted::start(|_peer| async {}).await;
            let res = courier::get(&url)
                .proxy(proxy(&format!("socks4a://127.0.0.1:{}", closing.port())))
                .send()
                .await;
            assert_connect_failure(&res);
            assert_eq!(origin.connects(), 0);
        })
        .await;
    }

    #[tokio::test]
    async fn socks_connections_are_pooled_per_proxy() {
        within(async {
            let origin = origin().await;
            let socks = SocksServer::start(origin.server.addr, Mode::Grant).await;
            let (client, events) = observed_client(Some(socks.url("socks5h", "")));
            let url = format!("http://localhost:{}/", origin.server.port());
            for _ in 0..3 {
                assert_body(&client.get(&url).send().await, "socks ok");
            }
            assert_eq!((socks.server.connects(), origin.connects()), (1, 1));
            assert_body(&client.get(&url).proxy(socks.url("socks5", "")).send().await, "socks ok");
            assert_body(&client.get(&url).proxy(Proxy::none()).send().await, "socks ok");
            assert_eq!((socks.server.connects(), origin.connects()), (2, 3));
            assert_eq!((count(&events, EventKind::Connect), count(&events, EventKind::Reuse)), (3, 2));
        })
        .await;
    }

    #[cfg(all(feature = "tls", feature = "server"))]
    #[tokio::test]
    async fn https_over_socks5h_is_tls_on_top_of_the_socks_stream() {
        use super::tunnels::{https_origin, trust_ca, BODY};
        within(async {
            let origin = https_origin().await;
            let port = origin.port();
            let socks = SocksServer::start(SocketAddr::from(([127, 0, 0, 1], port)), Mode::Grant).await;
            for scheme in ["socks5h", "socks5", "socks4", "socks4a"] {
                let res = courier::get(format!("https://localhost:{port}/hello"))
                    .tls(trust_ca())
                    .proxy(socks.url(scheme, ""))
                    .send()
                    .await;
                assert_body(&res, BODY);
            }
            assert_eq!(socks.seen()[0].dest, Some(Dest::Domain("localhost".into(), port)));
            let got = origin.requests();
            assert_eq!(got.len(), 4);
            assert!(got
                .iter()
                .all(|r| r.target == "/hello" && r.header("host") == Some(&*format!("localhost:{port}"))));
        })
        .await;
    }
}
