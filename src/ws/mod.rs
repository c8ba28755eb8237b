//! WebSocket server (RFC 6455, AnyEvent::WebSocket::Server): our handshake
//! with a hook, tokio-tungstenite's framing, on raw sockets or from bundled-server routes.
//!
//! Two ways to establish a connection:
//!
//! - [`WebSocketServer::establish`] on an accepted stream (TCP, TLS for wss, anything
//!   `AsyncRead + AsyncWrite`): reads the handshake request, answers it, and yields the
//!   [`Connection`] plus whatever the handshake hook returned.
//! - [`WebSocketServer::upgrade`] inside a bundled-server route: the route answers with the
//!   101 and the connection is handed to the function you give (feature `server`).
//!
//! ```no_run
//! use courier::ws::{Message, WebSocketServer};
//! # async fn run() -> std::io::Result<()> {
//! let ws = WebSocketServer::new();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let ws = ws.clone();
//!     tokio::spawn(async move {
//!         let Ok((mut connection, ())) = ws.establish(stream).await else { return };
//!         while let Some(message) = connection.recv().await {
//!             if let Message::Text(_) | Message::Binary(_) = message {
//!                 let _ = connection.send(message).await; // echo
//!             }
//!         }
//!     });
//! }
//! # }
//! ```

mod connection;
mod handshake;
#[cfg(feature = "server")]
mod upgrade;

pub use connection::{Connection, Finish, Message, Receiver, SendError, Sender};
pub use handshake::{HandshakeRequest, HandshakeResponse, Rejection};

use crate::io::{self, ReadError};
use http::HeaderMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Largest message by default (WebSocket peers mostly send small messages; raise it with
/// [`WebSocketServer::max_message_size`] for bulk transfers).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// Largest single frame by default.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;

/// The highest [`WebSocketServer::max_frame_size`]. tungstenite reserves a frame's whole
/// announced length before its payload arrives, so without a ceiling one 14-byte frame
/// header from a client could ask for more memory than the machine has, and a failed
/// allocation aborts the process.
pub const MAX_FRAME_SIZE_LIMIT: usize = 1 << 30;

/// Bytes asked of the socket per read while reading the handshake.
const HANDSHAKE_READ_SIZE: usize = 4096;

/// The handshake hook: sees the request, may change the 101, and returns the values the
/// caller gets with the connection, or a rejection.
type Hook<T> = dyn Fn(&HandshakeRequest, &mut HandshakeResponse) -> Result<T, Rejection> + Send + Sync;

/// Sizes and timeouts of a WebSocket server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
    pub(crate) read_buffer_size: usize,
    /// The whole handshake request must arrive within this.
    pub(crate) handshake_timeout: Duration,
    /// After our Close frame, how long the client has to answer (and the linger bound).
    pub(crate) close_timeout: Duration,
    /// How long a send may wait for the client to take the bytes.
    pub(crate) write_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            read_buffer_size: 32 * 1024,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// Accepts WebSocket connections. Cheap to clone; `T` is what the handshake hook returns
/// (AnyEvent::WebSocket::Server's `@other_results`).
///
/// AnyEvent::WebSocket::Server's handshake example — `/YYYY/MM` parsed in the hook, a subprotocol chosen,
/// an invalid month refused:
///
/// ```
/// use courier::ws::{Rejection, WebSocketServer};
/// let ws = WebSocketServer::with_handshake(|request, response| {
///     let mut parts = request.path().trim_start_matches('/').splitn(2, '/');
///     let year: u16 = parts.next().and_then(|y| y.parse().ok()).ok_or_else(|| Rejection::new("invalid format"))?;
///     let month: u8 = parts.next().and_then(|m| m.parse().ok()).ok_or_else(|| Rejection::new("invalid format"))?;
///     if !(1..=12).contains(&month) {
///         return Err(Rejection::new("invalid month"));
///     }
///     response.set_subprotocol("mytest");
///     Ok((year, month))
/// });
/// # let _: WebSocketServer<(u16, u8)> = ws;
/// ```
pub struct WebSocketServer<T = ()> {
    hook: Arc<Hook<T>>,
    limits: SessionLimits,
}

impl<T> Clone for WebSocketServer<T> {
    fn clone(&self) -> Self {
        Self { hook: self.hook.clone(), limits: self.limits }
    }
}

impl<T> fmt::Debug for WebSocketServer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketServer").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Default for WebSocketServer<()> {
    fn default() -> Self {
        Self::new()
    }
}

impl WebSocketServer<()> {
    /// A server that accepts every valid handshake.
    pub fn new() -> Self {
        Self::with_handshake(|_, _| Ok(()))
    }
}

impl<T> WebSocketServer<T> {
    /// A server whose `hook` sees each valid handshake request and the default 101: it may
    /// choose a subprotocol or add headers, return values for the caller, or refuse with
    /// a [`Rejection`] (400 unless it says otherwise). Requests that are not valid
    /// handshakes never reach it (400, or 426 for a version other than 13).
    pub fn with_handshake(
        hook: impl Fn(&HandshakeRequest, &mut HandshakeResponse) -> Result<T, Rejection> + Send + Sync + 'static,
    ) -> Self {
        Self { hook: Arc::new(hook), limits: SessionLimits::default() }
    }

    /// Largest message accepted (default 16 MiB); a larger one fails the connection with
    /// close code 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits.max_message_size = bytes;
        self
    }

    /// Largest frame accepted (default 16 MiB, at most [`MAX_FRAME_SIZE_LIMIT`], 1 GiB); a
    /// larger one fails with 1009. Larger messages still arrive, as fragments.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.limits.max_frame_size = bytes.min(MAX_FRAME_SIZE_LIMIT);
        self
    }

    /// How long the handshake request may take to arrive (default 10 s; then 408).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.limits.handshake_timeout = timeout;
        self
    }

    /// How long the client has to answer our Close frame before the socket is closed
    /// anyway (default 5 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.limits.close_timeout = timeout;
        self
    }

    /// How long a send may wait for a client that does not read (default 60 s).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.limits.write_timeout = timeout;
        self
    }

    /// Performs the server handshake on an accepted stream (plain TCP, or a TLS stream for
    /// wss) and yields the connection with what the handshake hook returned.
    ///
    /// An invalid or rejected handshake is answered (400, 426, or the hook's rejection)
    /// and the stream closed; the error says what was sent.
    pub async fn establish<S>(&self, stream: S) -> Result<(Connection, T), EstablishError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let timeout = self.limits.handshake_timeout;
        let mut conn = io::Wire::new(Box::new(stream), HANDSHAKE_READ_SIZE, timeout);
        let head = match tokio::time::timeout(timeout, conn.read_head(crate::h1::parse_request_head)).await {
            Ok(Ok(head)) => head,
            Ok(Err(ReadError::Protocol(cause))) => {
                return Err(refuse(&mut conn, Rejection::new(format!("malformed request: {cause}"))).await)
            }
            Ok(Err(ReadError::Io(error))) if error.kind() != std::io::ErrorKind::TimedOut => {
                return Err(EstablishError::Io(error))
            }
            Ok(Err(ReadError::Closed { .. })) => return Err(EstablishError::Closed),
            // The whole head is late, or the client went quiet in the middle of it.
            Ok(Err(ReadError::Io(_))) | Err(_) => {
                let _ = refuse(&mut conn, Rejection::new("handshake timed out").with_status(408)).await;
                return Err(EstablishError::TimedOut);
            }
        };
        let accepted = match self.accept(head) {
            Ok(accepted) => accepted,
            Err(rejection) => return Err(refuse(&mut conn, rejection).await),
        };
        conn.write_all(&handshake::switching_protocols(&accepted.headers))
            .await
            .map_err(EstablishError::Io)?;
        let (io, leftover) = conn.into_parts();
        let connection =
            Connection::open(io, leftover.to_vec(), accepted.subprotocol, self.limits, None).await;
        Ok((connection, accepted.extra))
    }

    /// Validates a handshake request and runs the hook: the 101's headers, or the refusal.
    /// Both ways to establish a connection go through here.
    fn accept(&self, head: crate::h1::RequestHead) -> Result<Accepted<T>, Rejection> {
        let key = handshake::validate(&head)?;
        let request = HandshakeRequest::new(head);
        let mut response = HandshakeResponse::default();
        let extra = (self.hook)(&request, &mut response)?;
        let subprotocol = response.subprotocol().map(str::to_owned);
        Ok(Accepted { headers: response.into_headers(&key), subprotocol, extra })
    }
}

/// A handshake that passed validation and the hook.
struct Accepted<T> {
    headers: HeaderMap,
    subprotocol: Option<String>,
    extra: T,
}

/// Answers a refused handshake and closes; the error to return.
async fn refuse(conn: &mut io::Wire, rejection: Rejection) -> EstablishError {
    match conn.write_all(&rejection.to_bytes()).await {
        Ok(()) => {
            conn.shutdown().await;
            EstablishError::Rejected(rejection)
        }
        Err(error) => EstablishError::Io(error),
    }
}

/// Why [`WebSocketServer::establish`] did not yield a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum EstablishError {
    /// The request was not a valid handshake, or the hook refused it; this reply was sent
    /// and the stream closed.
    Rejected(Rejection),
    /// The handshake request did not arrive in time (408 was sent).
    TimedOut,
    /// The client closed the connection before a complete request.
    Closed,
    /// The socket failed.
    Io(std::io::Error),
}

impl fmt::Display for EstablishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(rejection) => write!(f, "WebSocket handshake refused: {rejection}"),
            Self::TimedOut => f.write_str("WebSocket handshake timed out"),
            Self::Closed => f.write_str("connection closed before the WebSocket handshake"),
            Self::Io(error) => write!(f, "WebSocket handshake failed: {error}"),
        }
    }
}

impl std::error::Error for EstablishError {}
