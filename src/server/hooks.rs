//! The special handlers (POEx) and connection events (HTTPD): connect, disconnect, before
//! and after each request, chunk flushed, and errors.

use super::{Reply, Request};
use http::StatusCode;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// A connection, as hooks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Unique per server, from 1.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The server's address for this connection.
    pub local: SocketAddr,
}

/// What went out for a request, for `post_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The status sent.
    pub status: StatusCode,
    /// Body bytes written (0 for HEAD).
    pub body_bytes: u64,
}

/// An error the server met, for `on_error`.
#[non_exhaustive]
// Built only on the error path, so the size of the reply it carries does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ServerError {
    /// A socket failed (never sent to the client).
    Network {
        /// The connection it happened on.
        connection: ConnectionInfo,
        /// What failed.
        error: std::io::Error,
    },
    /// The server is about to answer a bad request with an error reply; the hook may
    /// change the reply before it is sent.
    Http {
        /// The connection it happened on.
        connection: ConnectionInfo,
        /// The reply about to be sent (e.g. 400, 408, 413, 414, 431, 500, 501).
        reply: Reply,
    },
}

impl fmt::Debug for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network { connection, error } => {
                f.debug_struct("Network").field("connection", connection).field("error", error).finish()
            }
            Self::Http { connection, reply } => f
                .debug_struct("Http")
                .field("connection", connection)
                .field("status", &reply.status())
                .finish(),
        }
    }
}

type Callback<T> = Option<Arc<dyn Fn(&T) + Send + Sync>>;
type PostRequest = Option<Arc<dyn Fn(&Request, &Sent) + Send + Sync>>;
type ChunkFlushed = Option<Arc<dyn Fn(&Request, usize) + Send + Sync>>;
type OnError = Option<Arc<dyn Fn(&mut ServerError) + Send + Sync>>;

/// The hooks a server was built with.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_connect: Callback<ConnectionInfo>,
    pub(crate) on_disconnect: Callback<ConnectionInfo>,
    pub(crate) pre_request: Callback<Request>,
    pub(crate) post_request: PostRequest,
    pub(crate) on_chunk_flushed: ChunkFlushed,
    pub(crate) on_error: OnError,
}
