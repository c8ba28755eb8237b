//! Connection events: what the pool did and why a connection closed, for `fetch -v`, logs
//! and tests.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Receives every [`ConnectionEvent`] of a client (see
/// [`ClientBuilder::on_connection_event`](crate::ClientBuilder::on_connection_event)).
pub(crate) type Observer = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// What happened to a connection (or, for `Backoff`, to a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A new connection was opened.
    Connect,
    /// An idle connection was taken from the cache for a request.
    Reuse,
    /// A reused connection failed before any response byte; the request is retried on a
    /// new connection (once).
    Retry,
    /// The connection went back to the cache after a clean response.
    Idle,
    /// The connection was closed, with the reason.
    Close(CloseReason),
    /// The [retry policy](crate::Retry) sends a request again after `pause`, because
    /// its attempt ended in `status` (503, 429, 595 or 596). `retry` counts from 1. The
    /// event's `id` is 0: it is about the request, not one connection.
    Backoff {
        /// What the attempt ended in.
        status: u16,
        /// Which retry this is (1 for the first).
        retry: u32,
        /// The pause before it.
        pause: Duration,
    },
}

impl EventKind {
    /// `connect`, `reuse`, `retry`, `idle`, `close` or `backoff`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Reuse => "reuse",
            Self::Retry => "retry",
            Self::Idle => "idle",
            Self::Close(_) => "close",
            Self::Backoff { .. } => "backoff",
        }
    }
}

/// Why a connection was closed (the [`EventKind::Close`] event). Its `Display` is a short
/// sentence, as `fetch -v` shows it.
///
/// The first group is decided when a response ends (the exchange's reuse rule: a
/// connection is reused only after a clean, complete exchange), the second by the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The request was not persistent (`persistent(false)`, or a non-idempotent method by
    /// default), so it said `Connection: close`.
    NotPersistent,
    /// The caller's own Connection header said `close`.
    RequestSaidClose,
    /// The server gave its final answer before the request was sent in full (e.g. a 413
    /// during an upload): the rest of the request would be read as the next one.
    AnsweredEarly,
    /// The response said `Connection: close`.
    ServerSaidClose,
    /// An HTTP/1.0 response without `Connection: keep-alive`.
    Http10,
    /// The body was delimited by the connection's end.
    CloseDelimited,
    /// A `101 Switching Protocols`: the connection speaks another protocol now.
    SwitchedProtocols,
    /// The body was not read to its end (a redirect hop's or a retried response's body
    /// past its limit, or a failed read).
    BodyNotRead,
    /// The server sent bytes beyond the response it framed: they must never be read as
    /// the next response.
    BytesAfterResponse,
    /// A reused connection failed before any response byte; the request is retried on a
    /// new one.
    FailedBeforeResponse,
    /// The connection went to the caller (`want_body_handle`).
    HandedOver,
    /// The request ended without returning the connection (not reusable, failed or
    /// cancelled).
    NotReturned,
    /// It stayed idle longer than `persistent_timeout`.
    IdleTimeout,
    /// The peer closed it while it was idle.
    PeerClosedIdle,
    /// The peer sent bytes nobody asked for while it was idle.
    UnaskedBytes,
    /// A request that may not reuse connections needed its slot.
    SlotNeeded,
    /// The next request in the queue wanted a new connection, not this one.
    NextWantsNew,
}

impl CloseReason {
    /// The reason as text: the same as `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotPersistent => "the request was not persistent",
            Self::RequestSaidClose => "the request said Connection: close",
            Self::AnsweredEarly => "the server answered before the request was sent",
            Self::ServerSaidClose => "the server said Connection: close",
            Self::Http10 => "HTTP/1.0 response without keep-alive",
            Self::CloseDelimited => "the body ended with the connection",
            Self::SwitchedProtocols => "switched protocols",
            Self::BodyNotRead => "the body was not read to its end",
            Self::BytesAfterResponse => "bytes after the response",
            Self::FailedBeforeResponse => "failed before any response byte",
            Self::HandedOver => "handed to the caller",
            Self::NotReturned => "closed after its request (not reusable, failed or cancelled)",
            Self::IdleTimeout => "idle timeout",
            Self::PeerClosedIdle => "idle connection was closed by the peer",
            Self::UnaskedBytes => "idle connection received bytes nobody asked for",
            Self::SlotNeeded => "slot needed for a new connection",
            Self::NextWantsNew => "the next request in the queue wants a new connection",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the pool did with one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEvent {
    /// What happened.
    pub kind: EventKind,
    /// The connection's id, unique within its client.
    pub id: u64,
    /// `scheme://host:port` the connection goes to.
    pub target: String,
    /// The session id it was made under, if any.
    pub session: Option<String>,
    /// For `Connect`: the address the connection went to (which one Happy Eyeballs
    /// chose), when courier opened it itself (not through a custom connector).
    pub address: Option<std::net::SocketAddr>,
}

impl ConnectionEvent {
    /// An event about `scheme://host:port` (IPv6 literals in brackets).
    pub(crate) fn about(
        kind: EventKind,
        scheme: &str,
        host: &str,
        port: u16,
        session: Option<&String>,
        id: u64,
    ) -> Self {
        let target = if host.contains(':') {
            format!("{scheme}://[{host}]:{port}")
        } else {
            format!("{scheme}://{host}:{port}")
        };
        Self { kind, id, target, session: session.cloned(), address: None }
    }
}

impl fmt::Display for ConnectionEvent {
    /// `connect #1 http://localhost:8080 at 127.0.0.1:8080`,
    /// `close #1 http://localhost:8080 (idle timeout)`,
    /// `backoff #0 http://localhost:8080 (503, retry 1 in 250ms)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{} {}", self.kind.name(), self.id, self.target)?;
        if let Some(address) = self.address {
            write!(f, " at {address}")?;
        }
        if let Some(session) = &self.session {
            write!(f, " session={session}")?;
        }
        match self.kind {
            EventKind::Close(reason) => write!(f, " ({reason})"),
            EventKind::Backoff { status, retry, pause } => {
                write!(f, " ({status}, retry {retry} in {pause:?})")
            }
            _ => Ok(()),
        }
    }
}
