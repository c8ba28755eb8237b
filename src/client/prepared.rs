//! A request whose method, URL and headers have been checked ([`PreparedRequest`]), and
//! the URL argument ([`IntoUrl`]): everything validation decides before a byte is written.

use super::target::Target;
use crate::error::{Error, ErrorKind};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method};
use url::Url;

/// A request whose URL, method and headers have been checked: what one hop sends. A
/// redirect makes the next one (`redirect::next_request`).
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// Caller headers in order; `None` suppresses a default header of that name.
    pub(crate) headers: Vec<(HeaderName, Option<HeaderValue>)>,
    pub(crate) body: Bytes,
}

impl PreparedRequest {
    /// Checks everything the caller gave before a byte is written: all failures are 599.
    /// The client's `defaults` go first, except those the caller set or removed.
    pub(crate) fn validate(
        method: Result<Method, String>,
        url: &UrlArg,
        headers: Vec<(String, Option<Vec<u8>>)>,
        defaults: &HeaderMap,
        body: Bytes,
    ) -> Result<Self, Error> {
        let invalid = |what: String| Error::new(ErrorKind::InvalidRequest, what);
        let method = method.map_err(|method| invalid(format!("invalid method {method:?}")))?;
        let mut url = match url {
            UrlArg::Text(text) => parse_url(text)?,
            UrlArg::Parsed(url) => {
                check_scheme(url)?;
                url.clone()
            }
        };
        // `user:password@` becomes Basic auth (unless the caller set or removed
        // Authorization) and leaves the URL, so it shows nowhere: not in the Response, a
        // Referer, a redirect or an error message.
        let userinfo = take_credentials(&mut url);
        let mentioned = |name: &str| headers.iter().any(|(given, _)| given.eq_ignore_ascii_case(name));
        // The URL's credentials are more specific than a client-wide Authorization.
        let skip_default =
            |name: &HeaderName| mentioned(name.as_str()) || (userinfo.is_some() && name == AUTHORIZATION);
        let mut checked = Vec::with_capacity(defaults.len() + headers.len());
        for (name, value) in defaults {
            if !skip_default(name) {
                checked.push((name.clone(), Some(value.clone())));
            }
        }
        for (name, value) in headers {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("invalid header name {name:?}")))?;
            let value = match value {
                Some(value) => Some(HeaderValue::from_bytes(&value).map_err(|_| {
                    invalid(format!("invalid value for header {name:?} (control characters)"))
                })?),
                None => None,
            };
            checked.push((header_name, value));
        }
        if let Some((user, password)) = userinfo {
            if !checked.iter().any(|(name, _)| name == AUTHORIZATION) {
                let value = HeaderValue::from_str(&basic_credentials(&user, &password))
                    .map_err(|_| invalid("the URL's credentials are not a valid header value".into()))?;
                checked.push((AUTHORIZATION, Some(value)));
            }
        }
        let request = Self { method, url, headers: checked, body };
        request.check_framing_headers()?;
        Ok(request)
    }

    /// Content-Length and Transfer-Encoding describe the body we send; a caller value
    /// that disagrees with it would desynchronise the server, so it is refused.
    fn check_framing_headers(&self) -> Result<(), Error> {
        if self.caller_header(&TRANSFER_ENCODING).is_some() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "transfer-encoding is set by courier, not by the caller",
            ));
        }
        if let Some(Some(length)) = self.caller_header(&CONTENT_LENGTH) {
            if length.as_bytes() != self.body.len().to_string().as_bytes() {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    format!("content-length {length:?} does not match the {}-byte body", self.body.len()),
                ));
            }
        }
        Ok(())
    }

    /// The caller's setting for a header: `None` not mentioned, `Some(None)` suppressed,
    /// `Some(Some(value))` set (the first value when set more than once).
    pub(crate) fn caller_header(&self, name: &HeaderName) -> Option<Option<&HeaderValue>> {
        self.headers.iter().find(|(existing, _)| existing == name).map(|(_, value)| value.as_ref())
    }

    /// Drops every caller header named in `names`.
    pub(crate) fn drop_headers(&mut self, names: &[HeaderName]) {
        self.headers.retain(|(name, value)| value.is_none() || !names.contains(name));
    }

    /// GET, HEAD, PUT, DELETE, OPTIONS and TRACE: repeating them does no more harm than
    /// sending them once (RFC 9110 §9.2.2), so they may be retried.
    pub(crate) fn is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
        )
    }

    /// Where to connect for this request.
    pub(crate) fn target(&self) -> Target {
        // The URL's own serialization (no formatting work); IPv6 literals lose the brackets.
        let host = self.url.host_str().unwrap_or("");
        let host = host.strip_prefix('[').and_then(|bare| bare.strip_suffix(']')).unwrap_or(host);
        Target {
            scheme: self.url.scheme().to_owned(),
            host: host.to_owned(),
            port: self.url.port_or_known_default().unwrap_or(80),
        }
    }
}

/// A request's URL: text, parsed when the request is sent, or an already parsed [`Url`],
/// which skips the parsing (worth it for a URL requested again and again).
///
/// ```no_run
/// # async fn demo() {
/// let url = courier::Url::parse("http://127.0.0.1:8080/health").unwrap();
/// for _ in 0..3 {
///     let res = courier::get(&url).send().await; // no parsing per request
///     println!("{}", res.status());
/// }
/// let res = courier::get("http://127.0.0.1:8080/").send().await; // text works too
/// # }
/// ```
pub trait IntoUrl {
    #[doc(hidden)]
    fn into_url_arg(self) -> UrlArg;
}

/// What an [`IntoUrl`] turns into (not used directly).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum UrlArg {
    /// Text to parse.
    Text(String),
    /// Parsed already.
    Parsed(Url),
}

impl UrlArg {
    /// The URL as a response reports it: normalised when it parses (as after a successful
    /// send), the caller's text when it does not (so a garbled URL is shown as given).
    /// Credentials never show: a password becomes `***`.
    pub(crate) fn for_display(self) -> String {
        let shown = match self {
            Self::Text(text) => Url::parse(&text).map_or(text, String::from),
            Self::Parsed(url) => url.into(),
        };
        super::proxy::redact(&shown)
    }
}

impl IntoUrl for &str {
    fn into_url_arg(self) -> UrlArg {
        UrlArg::Text(self.to_owned())
    }
}

impl IntoUrl for String {
    fn into_url_arg(self) -> UrlArg {
        UrlArg::Text(self)
    }
}

impl IntoUrl for &String {
    fn into_url_arg(self) -> UrlArg {
        UrlArg::Text(self.clone())
    }
}

impl IntoUrl for Url {
    fn into_url_arg(self) -> UrlArg {
        UrlArg::Parsed(self)
    }
}

impl IntoUrl for &Url {
    fn into_url_arg(self) -> UrlArg {
        UrlArg::Parsed(self.clone())
    }
}

/// Parses an absolute http URL; anything else is a 599 with a reason that says why.
pub(crate) fn parse_url(text: &str) -> Result<Url, Error> {
    let url = Url::parse(text).map_err(|cause| {
        Error::new(ErrorKind::InvalidUrl, format!("invalid URL {text:?}")).with_source(cause)
    })?;
    check_scheme(&url)?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::new(ErrorKind::InvalidUrl, format!("URL {text:?} has no host")));
    }
    Ok(url)
}

/// Only http and https (with the `tls` feature) URLs can be fetched, also after a redirect.
pub(crate) fn check_scheme(url: &Url) -> Result<(), Error> {
    match url.scheme() {
        "http" => Ok(()),
        #[cfg(feature = "tls")]
        "https" => Ok(()),
        #[cfg(not(feature = "tls"))]
        "https" => Err(Error::new(
            ErrorKind::UnsupportedScheme,
            "https URLs need the `tls` feature, which this build lacks",
        )),
        other => Err(Error::new(ErrorKind::UnsupportedScheme, format!("unsupported URL scheme {other:?}"))),
    }
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_credentials(user: &str, password: &str) -> String {
    format!("Basic {}", crate::base64::encode(format!("{user}:{password}").as_bytes()))
}

/// Removes `user:password@` from `url`; the percent-decoded pair, if there was one.
fn take_credentials(url: &mut Url) -> Option<(String, String)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let user = crate::percent::decode(url.username(), false);
    let password = crate::percent::decode(url.password().unwrap_or_default(), false);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some((user, password))
}
