//! Connection events: what the pool did, for `fetch -v`, logs and tests.

use super::pool::PoolKey;
use std::fmt;
use std::sync::Arc;

/// Receives every [`ConnectionEvent`] of a client (see
/// [`ClientBuilder::on_connection_event`](crate::ClientBuilder::on_connection_event)).
pub(crate) type Observer = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// What happened to a connection.
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
        let host = if key.host.contains(':') { format!("[{}]", key.host) } else { key.host.clone() };
        Self {
            kind,
            id,
            target: format!("{}://{host}:{}", key.scheme, key.port),
            session: key.session.clone(),
            address: None,
        }
    }
}

impl fmt::Display for ConnectionEvent {
    /// `connect #1 http://localhost:8080 at 127.0.0.1:8080`,
    /// `close #1 http://localhost:8080 (idle timeout)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, reason) = match self.kind {
            EventKind::Connect => ("connect", None),
            EventKind::Reuse => ("reuse", None),
            EventKind::Retry => ("retry", None),
            EventKind::Idle => ("idle", None),
            EventKind::Close(reason) => ("close", Some(reason)),
        };
        write!(f, "{what} #{} {}", self.id, self.target)?;
        if let Some(address) = self.address {
            write!(f, " at {address}")?;
        }
        if let Some(session) = &self.session {
            write!(f, " session={session}")?;
        }
        if let Some(reason) = reason {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}
