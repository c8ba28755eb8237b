//! The one public error type, its kinds, and the single mapping from kind to 595..599.

use http::StatusCode;
use std::error::Error as StdError;
use std::fmt;

/// What went wrong, by phase of the request; decides the pseudo-status.
///
/// ```
/// use courier::ErrorKind;
/// assert_eq!(ErrorKind::Connect.status(), Some(595));
/// assert_eq!(ErrorKind::ResponseBody.status(), Some(597));
/// assert_eq!(ErrorKind::Status.status(), None); // the server's own status instead
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL could not be parsed, or has no host (599).
    InvalidUrl,
    /// The URL's scheme is not http (or https, with TLS), also after a redirect (599).
    UnsupportedScheme,
    /// The method, a header name or a header value is invalid (CR, LF, NUL, non-token) (599).
    InvalidRequest,
    /// Name resolution, connecting, `on_prepare` or the connector hook failed, or no
    /// connection was ready before the deadline (595).
    Connect,
    /// The TLS handshake failed: bad certificate (unknown issuer, wrong name, expired),
    /// protocol mismatch, or the peer is not speaking TLS (596).
    Tls,
    /// Writing the request failed (596).
    Send,
    /// The status line or headers were missing, malformed, too large, or framed ambiguously (596).
    ResponseHead,
    /// The body was malformed, cut short or could not be read (597).
    ResponseBody,
    /// `on_header` or `on_body` returned `false` (598).
    Aborted,
    /// A redirect could not be followed (conflicting or unparsable Location) (599).
    Redirect,
    /// Anything else, e.g. no tokio runtime to run on (599).
    Other,
    /// The server answered with a 4xx or 5xx status, turned into an error by
    /// [`Response::error_for_status`](crate::Response::error_for_status). The request
    /// itself worked, so there is no pseudo-status: [`Error::status`] is the server's.
    Status,
    /// The body arrived but is not what the caller asked for, e.g. not valid JSON for
    /// [`Response::json`](crate::Response::json) (599 as an [`Error::status`]).
    Decode,
}

impl ErrorKind {
    /// The pseudo-status for this kind: the one place where 595..599 are assigned. `None`
    /// for [`Status`](Self::Status), whose status is the server's.
    pub fn status(self) -> Option<u16> {
        match self {
            Self::Connect => Some(595),
            Self::Tls | Self::Send | Self::ResponseHead => Some(596),
            Self::ResponseBody => Some(597),
            Self::Aborted => Some(598),
            Self::InvalidUrl
            | Self::UnsupportedScheme
            | Self::InvalidRequest
            | Self::Redirect
            | Self::Other
            | Self::Decode => Some(599),
            Self::Status => None,
        }
    }
}

/// Why a request failed: a kind, a message saying what we were doing, and the cause.
///
/// A failed request still yields a [`Response`](crate::Response) whose status is
/// [`ErrorKind::status`] and whose reason is this error's `Display` text. The bridges to
/// `Result` ([`RequestBuilder::try_send`](crate::RequestBuilder::try_send),
/// [`Response::error_for_status`](crate::Response::error_for_status)) hand it over as
/// the `Err`, so `?` works:
///
/// ```no_run
/// # async fn demo() -> Result<(), courier::Error> {
/// match courier::get("http://127.0.0.1:8080/").try_send().await?.error_for_status() {
///     Ok(res) => println!("{}", res.text()),
///     Err(error) if error.status() == 404 => println!("not there"),
///     Err(error) if error.is_timeout() => println!("too slow: {error}"),
///     Err(error) => return Err(error),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    /// The server's status, for a [`ErrorKind::Status`] error.
    http_status: Option<StatusCode>,
    context: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
    /// The URL of the request, once the error has left the request path (boxed: errors
    /// live inside every `Response`, and most responses have none).
    url: Option<Box<str>>,
}

impl Error {
    /// An error of `kind`; `context` says what was being done, e.g. "connect to 127.0.0.1:80".
    pub(crate) fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Self { kind, http_status: None, context: context.into(), source: None, url: None }
    }

    /// A 4xx or 5xx answer as an error: its status, reason and URL.
    pub(crate) fn from_status(status: StatusCode, reason: &str, url: &str) -> Self {
        let mut error = Self::new(ErrorKind::Status, format!("{url} answered {} {reason}", status.as_u16()));
        error.http_status = Some(status);
        error.with_url(url)
    }

    /// Attaches the underlying cause (an I/O error, a protocol error).
    pub(crate) fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Records the request's URL (kept if one was recorded already).
    pub(crate) fn with_url(mut self, url: &str) -> Self {
        if self.url.is_none() {
            self.url = Some(url.into());
        }
        self
    }

    /// The kind, which decides the pseudo-status.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status this error stands for: the pseudo-status (595..=599) of a failed
    /// request, or the server's 4xx/5xx for an [`ErrorKind::Status`] error. Compare it
    /// with a number: `error.status() == 404`.
    pub fn status(&self) -> StatusCode {
        self.http_status
            .or_else(|| self.kind.status().and_then(|code| StatusCode::from_u16(code).ok()))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The URL of the request that failed (after redirects, without credentials), when
    /// the error came from a request; `None` for e.g. a [`ClientBuilder`](crate::ClientBuilder)
    /// error.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// True when a time bound ran out, in any phase: the activity
    /// [`timeout`](crate::RequestBuilder::timeout) or the overall
    /// [`deadline`](crate::RequestBuilder::deadline).
    pub fn is_timeout(&self) -> bool {
        let mut cause: Option<&(dyn StdError + 'static)> = self.source();
        while let Some(error) = cause {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return true;
                }
            }
            cause = error.source();
        }
        false
    }

    /// True for an [`ErrorKind::Status`] error: the server answered 4xx or 5xx.
    pub fn is_status(&self) -> bool {
        self.kind == ErrorKind::Status
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.context),
            None => f.write_str(&self.context),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_context_and_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out after 2s");
        let error = Error::new(ErrorKind::ResponseHead, "read response head").with_source(io);
        assert_eq!(error.to_string(), "read response head: timed out after 2s");
        assert!(error.is_timeout());
        assert_eq!(error.status(), 596);
        assert_eq!(error.url(), None);
        assert!(!Error::new(ErrorKind::Other, "x").is_timeout());
    }

    #[test]
    fn a_status_error_carries_the_servers_status_and_the_url() {
        let error = Error::from_status(StatusCode::NOT_FOUND, "Not Found", "http://h/x");
        assert_eq!(error.status(), 404);
        assert_eq!(error.kind(), ErrorKind::Status);
        assert_eq!(error.url(), Some("http://h/x"));
        assert_eq!(error.to_string(), "http://h/x answered 404 Not Found");
        assert!(error.is_status() && !error.is_timeout());
        // The first URL recorded stays.
        assert_eq!(error.with_url("http://other/").url(), Some("http://h/x"));
    }
}
