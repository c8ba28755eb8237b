//! Redirects: which statuses are followed, where to, and what the next request keeps.

use super::prepared::{check_scheme, PreparedRequest};
use crate::error::{Error, ErrorKind};
use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, Method, StatusCode};

/// Credentials the caller set for one origin; never sent on to another (RFC 9110 §15.4).
/// (Proxy-Authorization belongs to the proxy, not the origin: the main loop keeps it only
/// while the hop goes through the same proxy.)
const CROSS_ORIGIN_STRIPPED: [HeaderName; 3] = [header::AUTHORIZATION, header::COOKIE, header::HOST];

/// Headers that describe a request body; dropped when a redirect drops the body.
const BODY_HEADERS: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
    header::EXPECT,
];

/// True for the statuses that redirect: 301, 302, 303, 307 and 308.
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The Location to follow, `None` when there is none. Repeated identical values are fine;
/// differing ones are refused rather than guessed between.
pub(crate) fn location(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let mut values = headers.get_all(header::LOCATION).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.any(|other| other != first) {
        return Err(Error::new(ErrorKind::Redirect, "conflicting Location headers"));
    }
    let text = std::str::from_utf8(first.as_bytes())
        .map_err(|_| Error::new(ErrorKind::Redirect, "Location is not valid UTF-8"))?;
    Ok(Some(text.trim().to_owned()))
}

/// The request for the next hop, or the URL that could not be followed and why.
///
/// 301 and 302 turn POST into GET; 303 turns everything but GET and HEAD into GET; both
/// drop the body and its headers. 307 and 308 keep method and body. A hop to another
/// origin drops the caller's Authorization, Cookie, Proxy-Authorization and Host.
pub(crate) fn next_request(
    current: &PreparedRequest,
    status: StatusCode,
    location: &str,
) -> Result<PreparedRequest, (String, Error)> {
    let mut url = current.url.join(location).map_err(|cause| {
        let error =
            Error::new(ErrorKind::Redirect, format!("invalid Location {location:?}")).with_source(cause);
        (current.url.to_string(), error)
    })?;
    // Credentials in a Location are never used or shown: not as Basic auth, not in the
    // next hop's URL (its Response, a Referer, an error message).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    check_scheme(&url).map_err(|error| (url.to_string(), error))?;
    // RFC 9110 §10.2.2: a Location without a fragment inherits the request's.
    if url.fragment().is_none() {
        url.set_fragment(current.url.fragment());
    }
    let mut next = current.clone();
    let becomes_get = match status.as_u16() {
        301 | 302 => current.method == Method::POST,
        303 => current.method != Method::GET && current.method != Method::HEAD,
        _ => false,
    };
    if becomes_get {
        next.method = Method::GET;
        next.body = Bytes::new();
        next.drop_headers(&BODY_HEADERS);
    }
    if url.origin() != current.url.origin() {
        next.drop_headers(&CROSS_ORIGIN_STRIPPED);
    }
    next.url = url;
    Ok(next)
}
