//! Builds one hop's request head: the caller's headers plus the seed's defaults.
//!
//! Defaults (each replaced by a caller header of the same name, or suppressed with
//! `remove_header`): Host, User-Agent, TE, Connection, Referer (on redirect hops) and
//! Content-Length (when there is a body, or the method expects one).

use super::request::Request;
use crate::h1;
use http::header::{self, HeaderName, HeaderValue};
use http::Method;
use url::{Position, Url};

/// What the Connection header asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// `close`: one request, then the connection ends.
    Close,
    /// HTTP/1.1 persistence (the default, no token needed).
    Persistent,
    /// Persistent, and `keep-alive` for HTTP/1.0 servers.
    KeepAlive,
}

/// What this hop adds beyond the request itself: how it reaches the origin, and cookies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Route<'a> {
    /// Through an HTTP proxy, for an http URL: the target is the absolute URL.
    pub(crate) absolute_form: bool,
    /// Credentials for that proxy; sent only with an absolute-form request.
    pub(crate) proxy_authorization: Option<&'a HeaderValue>,
    /// The cookie jar's Cookie header for this URL (unless the caller set one).
    pub(crate) cookie: Option<&'a HeaderValue>,
    /// A streamed body: `Some(Some(n))` is sent with Content-Length n, `Some(None)` chunked.
    pub(crate) streamed_body: Option<Option<u64>>,
    /// The URL of the response that redirected here, if any (for Referer).
    pub(crate) referer: Option<&'a Url>,
}

/// Appends the request line and header fields for `request` to `dst`.
pub(crate) fn write(
    request: &Request,
    user_agent: &HeaderValue,
    persistence: Persistence,
    route: &Route<'_>,
    dst: &mut Vec<u8>,
) {
    let mut defaults: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(6);
    let mut add_default = |name: HeaderName, value: Option<HeaderValue>| {
        if let (None, Some(value)) = (request.caller_header(&name), value) {
            defaults.push((name, value));
        }
    };
    // Host goes first, as RFC 9112 §3.2 recommends.
    add_default(header::HOST, host_value(&request.url));
    add_default(header::USER_AGENT, Some(user_agent.clone()));
    // We decode chunked trailers, so say so; TE is hop-by-hop and must be named in Connection.
    add_default(header::TE, Some(HeaderValue::from_static("trailers")));
    let sends_te = !matches!(request.caller_header(&header::TE), Some(None));
    let connection = match (sends_te, persistence) {
        (true, Persistence::Close) => Some("TE, close"),
        (true, Persistence::Persistent) => Some("TE"),
        (true, Persistence::KeepAlive) => Some("TE, keep-alive"),
        (false, Persistence::Close) => Some("close"),
        (false, Persistence::Persistent) => None,
        (false, Persistence::KeepAlive) => Some("keep-alive"),
    };
    add_default(header::CONNECTION, connection.map(HeaderValue::from_static));
    add_default(header::REFERER, route.referer.and_then(|from| referer_value(from, &request.url)));
    match route.streamed_body {
        None => add_default(header::CONTENT_LENGTH, content_length(request)),
        Some(Some(length)) => add_default(header::CONTENT_LENGTH, Some(HeaderValue::from(length))),
        Some(None) => add_default(header::TRANSFER_ENCODING, Some(HeaderValue::from_static("chunked"))),
    }
    add_default(header::COOKIE, route.cookie.cloned());
    if route.absolute_form {
        if let Some(credentials) = route.proxy_authorization {
            defaults.push((header::PROXY_AUTHORIZATION, credentials.clone()));
        }
    }

    let (host, rest) =
        defaults.split_at(usize::from(defaults.first().is_some_and(|(name, _)| name == header::HOST)));
    // Proxy-Authorization never goes to the origin; for a proxy it was added above.
    let caller = request
        .headers
        .iter()
        .filter(|(name, _)| name != header::PROXY_AUTHORIZATION)
        .filter_map(|(name, value)| value.as_ref().map(|value| (name, value)));
    let fields = host.iter().map(|(n, v)| (n, v)).chain(caller).chain(rest.iter().map(|(n, v)| (n, v)));
    // The absolute form names the origin for the proxy, never the URL's credentials
    // (RFC 9110 §4.2.4); the origin form is just path and query.
    let absolute;
    let target = if route.absolute_form {
        let mut clean = request.url.clone();
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
        absolute = clean;
        &absolute[..Position::AfterQuery]
    } else {
        &request.url[Position::BeforePath..Position::AfterQuery]
    };
    h1::write_request_head(dst, &request.method, target, fields);
}

/// `host[:port]`, the port only when it is not the scheme's default: exactly the URL's
/// own serialization of that part (no userinfo), so nothing needs formatting.
fn host_value(url: &Url) -> Option<HeaderValue> {
    url.host_str()?;
    HeaderValue::from_str(&url[Position::BeforeHost..Position::AfterPort]).ok()
}

/// The previous URL without credentials or fragment, and never from https to http
/// (a secure page's address must not leak onto a plain-text connection).
fn referer_value(from: &Url, to: &Url) -> Option<HeaderValue> {
    if from.scheme() == "https" && to.scheme() != "https" {
        return None;
    }
    let mut clean = from.clone();
    clean.set_fragment(None);
    // Setting credentials can only fail for URLs without a host, which we never fetch.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    HeaderValue::from_str(clean.as_str()).ok()
}

/// Content-Length for a body, or `0` for methods whose semantics anticipate one.
fn content_length(request: &Request) -> Option<HeaderValue> {
    let expects_body = matches!(request.method, Method::POST | Method::PUT | Method::PATCH);
    (expects_body || !request.body.is_empty()).then(|| HeaderValue::from(request.body.len()))
}
