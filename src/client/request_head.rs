//! Builds one hop's request head: the caller's headers plus AnyEvent::HTTP's defaults.
//!
//! Defaults (each replaced by a caller header of the same name, or suppressed with
//! `remove_header`): Host, User-Agent, Accept-Encoding (with `decompress(true)`), TE,
//! Connection, Referer (on redirect hops) and the body's framing field (`h1::framing`:
//! Content-Length when there is a body or the method expects one, chunked for a streamed
//! body of unknown length).

use super::prepared::PreparedRequest;
use crate::h1::{self, Framing, FramingField};
use http::header::{self, HeaderName, HeaderValue};
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route<'a> {
    /// Through an HTTP proxy, for an http URL: the target is the absolute URL.
    pub(crate) absolute_form: bool,
    /// Credentials for that proxy; sent only with an absolute-form request.
    pub(crate) proxy_authorization: Option<&'a HeaderValue>,
    /// The cookie jar's Cookie header for this URL (unless the caller set one).
    pub(crate) cookie: Option<&'a HeaderValue>,
    /// How the body is framed (`h1::framing`): its Content-Length, chunked, or no field.
    pub(crate) framing: Framing,
    /// The URL of the response that redirected here, if any (for Referer).
    pub(crate) referer: Option<&'a Url>,
    /// Ask for compressed content (`decompress(true)`): Accept-Encoding.
    pub(crate) accept_encoding: bool,
}

/// Appends the request line and header fields for `request` to `dst`: Host first (as
/// RFC 9112 §3.2 recommends), then the caller's fields, then the other defaults. Written
/// straight into `dst`: this runs for every request.
pub(crate) fn write(
    request: &PreparedRequest,
    user_agent: &HeaderValue,
    persistence: Persistence,
    route: &Route<'_>,
    dst: &mut Vec<u8>,
) {
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
    h1::write_request_line(dst, &request.method, target);
    let defaulted = |name: &HeaderName| request.caller_header(name).is_none();
    if defaulted(&header::HOST) {
        if let Some(host) = host_value(&request.url) {
            h1::write_field(dst, &header::HOST, host.as_bytes());
        }
    }
    // Proxy-Authorization never goes to the origin; for a proxy it is added below.
    for (name, value) in &request.headers {
        if let (Some(value), false) = (value, name == header::PROXY_AUTHORIZATION) {
            h1::write_field(dst, name, value.as_bytes());
        }
    }
    let mut add_default = |name: HeaderName, value: Option<&[u8]>| {
        if let (true, Some(value)) = (defaulted(&name), value) {
            h1::write_field(dst, &name, value);
        }
    };
    add_default(header::USER_AGENT, Some(user_agent.as_bytes()));
    if route.accept_encoding {
        add_default(header::ACCEPT_ENCODING, Some(super::decompress::ACCEPT_ENCODING));
    }
    // We decode chunked trailers, so say so; TE is hop-by-hop and must be named in Connection.
    add_default(header::TE, Some(b"trailers"));
    let sends_te = !matches!(request.caller_header(&header::TE), Some(None));
    let connection: Option<&[u8]> = match (sends_te, persistence) {
        (true, Persistence::Close) => Some(b"TE, close"),
        (true, Persistence::Persistent) => Some(b"TE"),
        (true, Persistence::KeepAlive) => Some(b"TE, keep-alive"),
        (false, Persistence::Close) => Some(b"close"),
        (false, Persistence::Persistent) => None,
        (false, Persistence::KeepAlive) => Some(b"keep-alive"),
    };
    add_default(header::CONNECTION, connection);
    let referer = route.referer.and_then(|from| referer_value(from, &request.url));
    add_default(header::REFERER, referer.as_ref().map(HeaderValue::as_bytes));
    let mut length = [0u8; 20];
    match route.framing.field {
        FramingField::None => {}
        FramingField::ContentLength(n) => {
            add_default(header::CONTENT_LENGTH, Some(h1::format_decimal(&mut length, n)))
        }
        FramingField::Chunked => add_default(header::TRANSFER_ENCODING, Some(b"chunked")),
    }
    add_default(header::COOKIE, route.cookie.map(HeaderValue::as_bytes));
    if route.absolute_form {
        if let Some(credentials) = route.proxy_authorization {
            h1::write_field(dst, &header::PROXY_AUTHORIZATION, credentials.as_bytes());
        }
    }
    h1::end_head(dst);
}

/// `host[:port]`, the port only when it is not the scheme's default: exactly the URL's
/// own serialization of that part (no userinfo, and no CR, LF or NUL), so nothing needs
/// formatting or checking.
fn host_value(url: &Url) -> Option<&str> {
    url.host_str()?;
    Some(&url[Position::BeforeHost..Position::AfterPort])
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
