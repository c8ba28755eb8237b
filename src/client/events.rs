//! Connection events: what the pool did, for `fetch -v`, logs and tests.

use super::pool::PoolKey;
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
    Close(&'static str),
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
    pub(crate) fn new(kind: EventKind, key: &PoolKey, id: u64) -> Self {
        Self::about(kind, &key.scheme, &key.host, key.port, key.session.as_ref(), id)
    }

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

/// Hands an event to the observer and, with the `tracing` feature, to `tracing`; builds it
/// only if one of them listens (the pool reports several events per request).
pub(crate) fn announce(observer: Option<&Observer>, event: impl FnOnce() -> ConnectionEvent) {
    let traced = super::trace::connection_events_enabled();
    if observer.is_none() && !traced {
        return;
    }
    let event = event();
    if traced {
        super::trace::connection_event(&event);
    }
    if let Some(observer) = observer {
        observer(&event);
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
