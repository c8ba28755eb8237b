//! A request as a handler sees it: head, peer, and a body read lazily from the connection.

use super::limits::Limits;
use crate::h1::{BodyDecoder, BodyEvent, ProtocolError, RequestHead};
use crate::io::{Connection, ReadError};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Version};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};

/// The connection while a request is being served: handlers read the body through it, so
/// `100 Continue` goes out only when a handler actually wants the body.
pub(crate) struct Wire {
    pub(crate) conn: Connection,
    /// The current request's body, while any of it is left to read.
    pub(crate) body: Option<IncomingBody>,
}

/// What is left of a request body on the wire.
pub(crate) struct IncomingBody {
    pub(crate) decoder: BodyDecoder,
    /// The client sent `Expect: 100-continue` and has not been told to go ahead yet.
    pub(crate) send_continue: bool,
}

pub(crate) type SharedWire = Arc<tokio::sync::Mutex<Wire>>;

/// Locks the connection: at once when nobody holds it (the usual case, one step of one
/// request at a time), else in turn. `try_lock` is one atomic update; `lock().await`
/// builds and polls a queueing future every time. Waiters are never overtaken:
/// `try_lock` fails while any are queued.
pub(crate) async fn lock_wire(wire: &SharedWire) -> tokio::sync::MutexGuard<'_, Wire> {
    match wire.try_lock() {
        Ok(guard) => guard,
        Err(_) => wire.lock().await,
    }
}

/// An HTTP request received by the bundled server. Cheap to clone; clones share the body.
///
/// ```no_run
/// # async fn handler(req: courier::server::Request) -> courier::server::Reply {
/// let name = req.query_param("name").unwrap_or_else(|| "world".into());
/// let body = req.body().await.unwrap_or_default();
/// courier::server::Reply::text(format!("hello {name}, you sent {} bytes", body.len()))
/// # }
/// ```
#[derive(Clone)]
pub struct Request {
    inner: Arc<Inner>,
}

struct Inner {
    head: RequestHead,
    peer: SocketAddr,
    connection_id: u64,
    index: usize,
    limits: Limits,
    /// How many body bytes the request log keeps a copy of (the server's
    /// `record_body_limit`; 0 with the log off). Bounded, so a logged upload read with
    /// `chunk()` still streams in bounded memory.
    log_limit: usize,
    wire: SharedWire,
    /// Everything read of the body so far (collected bodies and streamed chunks alike).
    received: StdMutex<Received>,
}

#[derive(Default)]
struct Received {
    /// What `body()` returns: every piece read for it (not those `chunk()` returned).
    bytes: BytesMut,
    /// The request log's copy: the first `log_limit` bytes of the body, however read.
    logged: BytesMut,
    /// Every body byte read so far, kept or not (the body limit counts these).
    total: u64,
    complete: bool,
    /// Reading failed (too large, malformed, closed): the connection must not carry more.
    failed: bool,
    trailers: HeaderMap,
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the server's body limit (reply 413).
    TooLarge,
    /// The body's framing is broken (reply 400).
    Malformed(ProtocolError),
    /// The client stalled past the timeout (reply 408).
    TimedOut,
    /// The connection failed or closed mid-body.
    Closed,
    /// The body is not the JSON asked for ([`Request::json`]); what the parser said.
    InvalidJson(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("request body too large"),
            Self::Malformed(cause) => write!(f, "malformed request body: {cause}"),
            Self::TimedOut => f.write_str("timed out reading the request body"),
            Self::Closed => f.write_str("connection closed during the request body"),
            Self::InvalidJson(why) => write!(f, "the body is not the JSON expected: {why}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl Request {
    pub(crate) fn new(
        head: RequestHead,
        connection: &super::ConnectionInfo,
        index: usize,
        shared: &super::Shared,
        wire: SharedWire,
        has_body: bool,
    ) -> Self {
        let inner = Inner {
            head,
            peer: connection.peer,
            connection_id: connection.id,
            index,
            limits: shared.limits.clone(),
            log_limit: shared.record_body_limit(),
            wire,
            // A request without a body has all of it from the start.
            received: StdMutex::new(Received { complete: !has_body, ..Received::default() }),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The parsed head (a WebSocket upgrade checks it as a handshake).
    #[cfg(feature = "ws")]
    pub(crate) fn head(&self) -> &RequestHead {
        &self.inner.head
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.inner.head.method
    }

    /// The request target exactly as sent (`/a/b?c=d`).
    pub fn target(&self) -> &str {
        &self.inner.head.target
    }

    /// The path part of the target, still percent-encoded (`/a/b`); `*` for `OPTIONS *`.
    pub fn path(&self) -> &str {
        self.inner.head.split_target().0
    }

    /// The query string without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.inner.head.split_target().1
    }

    /// The query's parameters, decoded (`+` is a space; `&` and `;` both separate pairs).
    pub fn query_params(&self) -> Vec<(String, String)> {
        self.query().map(super::form::parse_urlencoded).unwrap_or_default()
    }

    /// The first query parameter called `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params().into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.inner.head.version
    }

    /// The header fields (names lowercased, repeats kept).
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.head.headers
    }

    /// One header as text; repeats joined with `", "`; `None` if absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// The id of the connection this request came on (unique per server, from 1).
    pub fn connection_id(&self) -> u64 {
        self.inner.connection_id
    }

    /// This request's position on its connection: 0 for the first, 1 for the next, ...
    pub fn index_on_connection(&self) -> usize {
        self.inner.index
    }

    /// The next piece of the body, `None` at its end. Sends `100 Continue` first if the
    /// client asked for it.
    ///
    /// A piece is held nowhere once returned, so an upload read this way streams in
    /// bounded memory, and a later [`body`](Self::body) returns only the rest. (The
    /// request log keeps its own copy of at most the server's `record_body_limit` bytes.)
    pub async fn chunk(&self) -> Result<Option<Bytes>, BodyError> {
        self.next_piece(false).await
    }

    /// The next piece of the body, kept for [`body`](Self::body) when `keep`.
    pub(crate) async fn next_piece(&self, keep: bool) -> Result<Option<Bytes>, BodyError> {
        let mut wire = lock_wire(&self.inner.wire).await;
        let Wire { conn, body } = &mut *wire;
        let Some(incoming) = body.as_mut() else { return Ok(None) };
        if incoming.send_continue {
            incoming.send_continue = false;
            conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.map_err(|_| BodyError::Closed)?;
        }
        let outcome = match conn.read_body_event(&mut incoming.decoder).await {
            Ok(BodyEvent::Data(data)) => {
                let mut received = self.received();
                received.total += data.len() as u64;
                if received.total > self.inner.limits.max_body_size {
                    Err(BodyError::TooLarge)
                } else {
                    if keep {
                        received.bytes.extend_from_slice(&data);
                    }
                    let room = self.inner.log_limit.saturating_sub(received.logged.len());
                    received.logged.extend_from_slice(&data[..room.min(data.len())]);
                    Ok(Some(data))
                }
            }
            Ok(BodyEvent::End(trailers)) => {
                *body = None;
                let mut received = self.received();
                received.complete = true;
                received.trailers = trailers;
                Ok(None)
            }
            Err(ReadError::Protocol(cause)) => Err(BodyError::Malformed(cause)),
            Err(ReadError::Io(cause)) if cause.kind() == std::io::ErrorKind::TimedOut => {
                Err(BodyError::TimedOut)
            }
            Err(_) => Err(BodyError::Closed),
        };
        if outcome.is_err() {
            self.received().failed = true;
        }
        outcome
    }

    /// True once reading the body failed.
    pub(crate) fn body_failed(&self) -> bool {
        self.received().failed
    }

    /// The whole body (read now if it has not been). Bounded by the server's body limit.
    pub async fn body(&self) -> Result<Bytes, BodyError> {
        while self.next_piece(true).await?.is_some() {}
        Ok(self.received().bytes.clone().freeze())
    }

    /// The body parsed as JSON into `T` (feature `json`). The error converts into a 400
    /// reply, so a handler can use `?`.
    ///
    /// ```no_run
    /// # async fn handler(req: courier::server::Request) -> Result<courier::server::Reply, courier::server::BodyError> {
    /// let user: serde_json::Value = req.json().await?;
    /// Ok(courier::server::Reply::text(format!("hello {}", user["name"])).with_status(201))
    /// # }
    /// ```
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, BodyError> {
        let body = self.body().await?;
        serde_json::from_slice(&body).map_err(|error| BodyError::InvalidJson(error.to_string()))
    }

    /// The body as text (invalid UTF-8 reads as U+FFFD).
    pub async fn text(&self) -> Result<String, BodyError> {
        Ok(String::from_utf8_lossy(&self.body().await?).into_owned())
    }

    /// Trailer fields of a chunked body, once it has been read to the end.
    pub fn trailers(&self) -> HeaderMap {
        self.received().trailers.clone()
    }

    /// The body bytes read so far, and whether that is all of it (for the test kit).
    pub(crate) fn received_body(&self) -> (Bytes, bool) {
        let received = self.received();
        (received.bytes.clone().freeze(), received.complete)
    }

    /// The request log's copy of the body, how many body bytes arrived in all, and whether
    /// that is the whole body.
    pub(crate) fn logged_body(&self) -> (Bytes, u64, bool) {
        let received = self.received();
        (Bytes::copy_from_slice(&received.logged), received.total, received.complete)
    }

    /// How many body bytes have been read so far, kept or not.
    pub(crate) fn body_bytes_read(&self) -> u64 {
        self.received().total
    }

    /// True while some of the body is still on the wire.
    pub(crate) async fn has_body_left(&self) -> bool {
        lock_wire(&self.inner.wire).await.body.is_some()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.inner.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", self.method())
            .field("target", &self.target())
            .field("version", &self.version())
            .field("peer", &self.inner.peer)
            .field("connection_id", &self.inner.connection_id)
            .finish_non_exhaustive()
    }
}
