//! The one public error type, its kinds, and the single mapping from kind to 595..599.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, by phase of the request; decides the pseudo-status.
///
/// ```
/// use courier::ErrorKind;
/// assert_eq!(ErrorKind::Connect.status(), 595);
/// assert_eq!(ErrorKind::ResponseBody.status(), 597);
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
    /// Name resolution, connecting, `on_prepare` or the connector hook failed (595).
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
}

impl ErrorKind {
    /// The pseudo-status for this kind: the one place where 595..599 are assigned.
    pub fn status(self) -> u16 {
        match self {
            Self::Connect => 595,
            Self::Tls | Self::Send | Self::ResponseHead => 596,
            Self::ResponseBody => 597,
            Self::Aborted => 598,
            Self::InvalidUrl
            | Self::UnsupportedScheme
            | Self::InvalidRequest
            | Self::Redirect
            | Self::Other => 599,
        }
    }
}

/// Why a request failed: a kind, a message saying what we were doing, and the cause.
///
/// A failed request still yields a [`Response`](crate::Response) whose status is
/// [`ErrorKind::status`] and whose reason is this error's `Display` text.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    context: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Error {
    /// An error of `kind`; `context` says what was being done, e.g. "connect to 127.0.0.1:80".
    pub(crate) fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Self { kind, context: context.into(), source: None }
    }

    /// Attaches the underlying cause (an I/O error, a protocol error).
    pub(crate) fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind, which decides the pseudo-status.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The pseudo-status (595..=599) this error is reported with.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// True when the activity timeout ran out (in any phase).
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
        assert!(!Error::new(ErrorKind::Other, "x").is_timeout());
    }
}
