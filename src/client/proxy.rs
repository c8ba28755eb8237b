//! Proxies: which one a request goes through (explicit, global, or from the environment),
//! HTTP CONNECT tunnels, and SOCKS 4/4a/5/5h handshakes.

use super::target::Target;
use crate::error::{Error, ErrorKind};
use crate::io::{Transport, Wire};
use http::header::HeaderValue;
use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

/// The kind of proxy server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// An HTTP proxy: absolute-form requests for http URLs, CONNECT tunnels for https.
    Http,
    /// SOCKS4: the host name is resolved here and the proxy gets an IPv4 address.
    Socks4,
    /// SOCKS4a: the proxy resolves the host name.
    Socks4a,
    /// SOCKS5: the host name is resolved here.
    Socks5,
    /// SOCKS5 with remote name resolution: the proxy resolves the host name.
    Socks5h,
}

/// One proxy server, with optional credentials (sent to the proxy only).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyServer {
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for ProxyServer {
    /// Never shows the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            ProxyScheme::Http => "http",
            ProxyScheme::Socks4 => "socks4",
            ProxyScheme::Socks4a => "socks4a",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        };
        let user = self.credentials.as_ref().map(|(user, _)| format!("{user}:***@")).unwrap_or_default();
        if self.host.contains(':') {
            write!(f, "{scheme}://{user}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{user}{}:{}", self.host, self.port)
        }
    }
}

impl ProxyServer {
    /// The proxy's kind.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// Where to connect to reach the proxy.
    pub(crate) fn target(&self) -> Target {
        Target { scheme: "http".into(), host: self.host.clone(), port: self.port }
    }

    /// `Proxy-Authorization: Basic ...` for the credentials in the proxy URL, if any.
    pub(crate) fn authorization(&self) -> Option<HeaderValue> {
        let (user, password) = self.credentials.as_ref()?;
        HeaderValue::from_str(&format!(
            "Basic {}",
            crate::base64::encode(format!("{user}:{password}").as_bytes())
        ))
        .ok()
    }
}

/// Which proxy requests go through (AnyEvent::HTTP's `proxy` option and `set_proxy`).
///
/// ```
/// use courier::Proxy;
/// let direct = Proxy::none();
/// let corporate = Proxy::new("http://user:secret@127.0.0.1:3128").unwrap();
/// let tor = Proxy::new("socks5h://127.0.0.1:9050").unwrap();
/// assert!(Proxy::new("ftp://127.0.0.1:21").is_err());
/// # let _ = (direct, corporate, tor);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    rules: Rules,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rules {
    Direct,
    /// Every request through this proxy.
    Always(ProxyServer),
    /// Per scheme, with exceptions (the environment's rules, or an explicit proxy with a
    /// no-proxy list).
    PerScheme {
        http: Option<ProxyServer>,
        https: Option<ProxyServer>,
        no_proxy: Vec<String>,
        /// Loopback hosts go direct (always so for the environment: a developer's proxy
        /// settings must not capture traffic to local test servers).
        direct_loopback: bool,
    },
}

impl Proxy {
    /// No proxy: connect directly.
    pub fn none() -> Self {
        Self { rules: Rules::Direct }
    }

    /// Every request through the proxy at `url`: `http://`, `socks4://`, `socks4a://`,
    /// `socks5://` or `socks5h://`, with optional `user:password@`. A URL without a scheme
    /// is an HTTP proxy (as in `http_proxy=host:3128`).
    pub fn new(url: &str) -> Result<Self, Error> {
        Ok(Self { rules: Rules::Always(parse_server(url)?) })
    }

    /// From `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy` (lowercase first, then
    /// uppercase; `HTTP_PROXY` is ignored under CGI, where a client could set it). Loopback
    /// hosts always go direct. Invalid entries are ignored.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// [`from_env`](Self::from_env) over any variable lookup (for tests and embedders).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let pick = |lower: &str, upper: &str| var(lower).or_else(|| var(upper));
        let all = pick("all_proxy", "ALL_PROXY");
        // httpoxy: under CGI, HTTP_PROXY comes from the client's `Proxy:` header.
        let http = var("http_proxy")
            .or_else(|| var("REQUEST_METHOD").is_none().then(|| var("HTTP_PROXY")).flatten())
            .or_else(|| all.clone());
        let https = pick("https_proxy", "HTTPS_PROXY").or(all);
        let no_proxy = pick("no_proxy", "NO_PROXY").map(|list| no_proxy_list(&list)).unwrap_or_default();
        let parse = |url: Option<String>| url.and_then(|url| parse_server(&url).ok());
        let (http, https) = (parse(http), parse(https));
        if http.is_none() && https.is_none() {
            return Self::none();
        }
        Self { rules: Rules::PerScheme { http, https, no_proxy, direct_loopback: true } }
    }

    /// The same proxy, except for the hosts in `list` (comma-separated, `no_proxy` syntax:
    /// `*`, host names, domain suffixes, IPs), which go direct (curl's `--noproxy`).
    pub fn with_no_proxy(self, list: &str) -> Self {
        let entries = no_proxy_list(list);
        let rules = match self.rules {
            Rules::Direct => Rules::Direct,
            Rules::Always(server) => Rules::PerScheme {
                http: Some(server.clone()),
                https: Some(server),
                no_proxy: entries,
                direct_loopback: false,
            },
            Rules::PerScheme { http, https, mut no_proxy, direct_loopback } => {
                no_proxy.extend(entries);
                Rules::PerScheme { http, https, no_proxy, direct_loopback }
            }
        };
        Self { rules }
    }

    /// The proxy for a request to `target`, if any.
    pub(crate) fn server_for(&self, target: &Target) -> Option<&ProxyServer> {
        match &self.rules {
            Rules::Direct => None,
            Rules::Always(server) => Some(server),
            Rules::PerScheme { http, https, no_proxy, direct_loopback } => {
                if (*direct_loopback && is_loopback(&target.host)) || bypassed(no_proxy, &target.host) {
                    return None;
                }
                if target.scheme == "https" {
                    https.as_ref()
                } else {
                    http.as_ref()
                }
            }
        }
    }
}

/// The process-wide default proxy; read from the environment on first use.
static GLOBAL_PROXY: RwLock<Option<Proxy>> = RwLock::new(None);

/// Sets the default proxy of every client that has none of its own (AnyEvent::HTTP's
/// `set_proxy`). `Proxy::none()` clears it.
///
/// ```
/// courier::set_proxy(courier::Proxy::none());
/// ```
pub fn set_proxy(proxy: Proxy) {
    *GLOBAL_PROXY.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(proxy);
}

/// The default proxy: what [`set_proxy`] set, else the environment's.
pub fn default_proxy() -> Proxy {
    if let Some(proxy) = GLOBAL_PROXY.read().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
        return proxy.clone();
    }
    let mut slot = GLOBAL_PROXY.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    slot.get_or_insert_with(Proxy::from_env).clone()
}

fn parse_server(text: &str) -> Result<ProxyServer, Error> {
    let shown = redact(text);
    let invalid =
        |why: &str| Error::new(ErrorKind::InvalidRequest, format!("invalid proxy URL {shown:?}: {why}"));
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
    let url = url::Url::parse(&with_scheme).map_err(|_| invalid("not a URL"))?;
    let scheme = match url.scheme() {
        "http" => ProxyScheme::Http,
        "socks4" => ProxyScheme::Socks4,
        "socks4a" => ProxyScheme::Socks4a,
        "socks5" => ProxyScheme::Socks5,
        "socks5h" => ProxyScheme::Socks5h,
        _ => return Err(invalid("the scheme must be http, socks4, socks4a, socks5 or socks5h")),
    };
    let host = match url.host() {
        Some(url::Host::Ipv6(address)) => address.to_string(),
        Some(host) => host.to_string(),
        None => return Err(invalid("no host")),
    };
    let port = url.port_or_known_default().unwrap_or(1080);
    let decode = |part: &str| crate::percent::decode(part, false);
    let credentials = (!url.username().is_empty())
        .then(|| (decode(url.username()), decode(url.password().unwrap_or_default())));
    Ok(ProxyServer { scheme, host, port, credentials })
}

/// The URL with any password replaced by `***`, for messages.
pub(crate) fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else { return text.to_owned() };
    let authority_end = text[scheme_end..].find('/').map_or(text.len(), |i| scheme_end + i);
    match text[scheme_end..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &text[scheme_end..scheme_end + at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &text[..scheme_end], &text[scheme_end + at..])
        }
        None => text.to_owned(),
    }
}

fn no_proxy_list(list: &str) -> Vec<String> {
    list.split(',').map(|entry| entry.trim().to_ascii_lowercase()).filter(|entry| !entry.is_empty()).collect()
}

/// `no_proxy`: `*`, exact hosts and IPs, and domain suffixes (`example.com` and
/// `.example.com` both cover `a.example.com`).
fn bypassed(no_proxy: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy.iter().any(|entry| {
        let entry = entry.trim_start_matches('.');
        entry == "*" || host == entry || host.strip_suffix(entry).is_some_and(|rest| rest.ends_with('.'))
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

/// Opens a CONNECT tunnel to `target` through an HTTP proxy; a refusal is 595 with the
/// proxy's status in the reason. Only this request carries the proxy credentials.
pub(crate) async fn connect_tunnel(
    stream: Box<dyn Transport>,
    target: &Target,
    proxy: &ProxyServer,
    authorization: Option<&HeaderValue>,
    timeout: Duration,
) -> Result<Box<dyn Transport>, Error> {
    let mut request = Vec::with_capacity(128);
    crate::h1::write_connect_request(&mut request, &target.to_string(), authorization);
    let failed = |what: String| Error::new(ErrorKind::Connect, format!("proxy {proxy}: {what}"));
    let mut conn = Wire::new(stream, 4096, timeout);
    // Nothing to watch for while the CONNECT goes out: the answer is read next.
    let sent = conn.write_watching(&request, |_| false).await;
    sent.map_err(|cause| failed("send CONNECT".into()).with_source(cause))?;
    let head = conn
        .read_head(crate::h1::parse_response_head)
        .await
        .map_err(|error| failed(format!("CONNECT answer: {error}")))?;
    if !head.status.is_success() {
        return Err(failed(format!("CONNECT refused: {} {}", head.status.as_u16(), head.reason)));
    }
    let (stream, rest) = conn.into_parts();
    // The origin speaks first only after our TLS hello: anything here is the proxy talking.
    if !rest.is_empty() {
        return Err(failed("bytes after the CONNECT answer".into()));
    }
    Ok(stream)
}

/// Runs the SOCKS handshake for `target` over `stream` (connected to the proxy).
#[cfg(feature = "socks")]
pub(crate) async fn socks_handshake(
    stream: Box<dyn Transport>,
    target: &Target,
    proxy: &ProxyServer,
    timeout: Duration,
) -> Result<Box<dyn Transport>, Error> {
    use tokio_socks::tcp::{Socks4Stream, Socks5Stream};
    use tokio_socks::TargetAddr;
    let failed = |cause: Box<dyn std::error::Error + Send + Sync>| {
        Error::new(ErrorKind::Connect, format!("SOCKS proxy {proxy} to {target}")).with_source(cause)
    };
    // socks4 and socks5 resolve the name here; socks4a and socks5h let the proxy do it.
    // An IP literal is an address in every mode.
    let literal = target.host.parse::<std::net::IpAddr>().ok();
    let address = match (literal, proxy.scheme) {
        (Some(ip), _) => TargetAddr::Ip(std::net::SocketAddr::new(ip, target.port)),
        (None, ProxyScheme::Socks4a | ProxyScheme::Socks5h) => {
            TargetAddr::Domain(target.host.clone().into(), target.port)
        }
        (None, _) => {
            let resolved = crate::io::with_timeout(
                timeout,
                tokio::net::lookup_host((target.host.as_str(), target.port)),
            )
            .await
            .map_err(|e| failed(e.into()))?
            .find(|address| address.is_ipv4() || proxy.scheme != ProxyScheme::Socks4)
            .ok_or_else(|| failed(format!("no usable address for {}", target.host).into()))?;
            TargetAddr::Ip(resolved)
        }
    };
    let credentials = proxy.credentials.as_ref();
    let handshake = async {
        let stream: Box<dyn Transport> = match (proxy.scheme, credentials) {
            (ProxyScheme::Socks4 | ProxyScheme::Socks4a, Some((user, _))) => {
                Box::new(Socks4Stream::connect_with_userid_and_socket(stream, address, user).await?)
            }
            (ProxyScheme::Socks4 | ProxyScheme::Socks4a, None) => {
                Box::new(Socks4Stream::connect_with_socket(stream, address).await?)
            }
            (_, Some((user, password))) => Box::new(
                Socks5Stream::connect_with_password_and_socket(stream, address, user, password).await?,
            ),
            (_, None) => Box::new(Socks5Stream::connect_with_socket(stream, address).await?),
        };
        Ok::<_, tokio_socks::Error>(stream)
    };
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(failed(error.into())),
        Err(_) => Err(failed("timed out".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(scheme: &str, host: &str) -> Target {
        Target { scheme: scheme.into(), host: host.into(), port: 80 }
    }

    #[test]
    fn parses_proxy_urls() {
        let proxy = parse_server("http://us%40er:p%3Ass@proxy.test:3128").unwrap();
        assert_eq!(proxy.scheme, ProxyScheme::Http);
        assert_eq!((proxy.host.as_str(), proxy.port), ("proxy.test", 3128));
        assert_eq!(proxy.credentials, Some(("us@er".into(), "p:ss".into())));
        assert_eq!(proxy.to_string(), "http://us@er:***@proxy.test:3128");
        assert_eq!(parse_server("proxy.test:8080").unwrap().scheme, ProxyScheme::Http);
        assert_eq!(parse_server("socks5h://[::1]").unwrap().to_string(), "socks5h://[::1]:1080");
        assert!(parse_server("https://proxy.test").is_err());
        assert!(parse_server("socks5://").is_err());
        let error = parse_server("ftp://user:s3cr3t@127.0.0.1:21/x").unwrap_err().to_string();
        assert!(error.contains("ftp://user:***@127.0.0.1:21/x") && !error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn basic_credentials_are_base64_encoded() {
        let proxy = parse_server("http://Aladdin:open%20sesame@p:1").unwrap();
        assert_eq!(proxy.authorization().unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn environment_rules() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            Proxy::from_vars(move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
        };
        let proxy = env(&[
            ("http_proxy", "http://hp:1"),
            ("HTTPS_PROXY", "socks5h://sp:2"),
            ("no_proxy", "skip.test, .corp"),
        ]);
        assert_eq!(proxy.server_for(&target("http", "a.test")).unwrap().host, "hp");
        assert_eq!(proxy.server_for(&target("https", "a.test")).unwrap().host, "sp");
        assert!(proxy.server_for(&target("http", "skip.test")).is_none());
        assert!(proxy.server_for(&target("http", "x.skip.test")).is_none());
        assert!(proxy.server_for(&target("http", "noskip.test")).is_some());
        assert!(proxy.server_for(&target("http", "in.corp")).is_none());
        assert!(proxy.server_for(&target("http", "127.0.0.1")).is_none(), "loopback goes direct");
        assert!(proxy.server_for(&target("http", "localhost")).is_none());

        let all = env(&[("ALL_PROXY", "http://all:3"), ("NO_PROXY", "*")]);
        assert!(all.server_for(&target("http", "a.test")).is_none());
        let all = env(&[("all_proxy", "http://all:3")]);
        assert_eq!(all.server_for(&target("https", "a.test")).unwrap().host, "all");

        // httpoxy: HTTP_PROXY is ignored under CGI.
        let cgi = env(&[("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(cgi, Proxy::none());
        let plain = env(&[("HTTP_PROXY", "http://fine:1")]);
        assert_eq!(plain.server_for(&target("http", "a.test")).unwrap().host, "fine");
        assert_eq!(env(&[]), Proxy::none());
    }

    #[test]
    fn an_explicit_proxy_with_exceptions() {
        let proxy = Proxy::new("http://p:1").unwrap().with_no_proxy("skip.test");
        assert!(proxy.server_for(&target("http", "skip.test")).is_none());
        assert_eq!(proxy.server_for(&target("https", "other.test")).unwrap().host, "p");
        // Explicit proxies apply to loopback targets too (only the environment's skip them).
        assert_eq!(proxy.server_for(&target("http", "127.0.0.1")).unwrap().host, "p");
        let none = Proxy::new("http://p:1").unwrap().with_no_proxy("*");
        assert!(none.server_for(&target("http", "a.test")).is_none());
    }
}
