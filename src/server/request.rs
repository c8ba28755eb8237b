//! A request as a handler sees it: head, peer, and a body read lazily from the connection.

use super::body::BodyReader;
use super::limits::ServerLimits;
use crate::h1::{ProtocolError, RequestHead};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Version};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};

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
    limits: ServerLimits,
    /// How many body bytes the request log keeps a copy of (the server's
    /// `record_body_limit`; 0 with the log off). Bounded, so a logged upload read with
    /// `chunk()` still streams in bounded memory.
    log_limit: usize,
    /// Asks the connection loop for body pieces; `None` for a request without a body.
    body: Option<BodyReader>,
    /// Everything read of the body so far (collected bodies and streamed chunks alike).
    received: StdMutex<Received>,
}

#[derive(Default)]
struct Received {
    /// What `body()` returns: every piece read for it (not those `chunk()` returned).
    bytes: BytesMut,
    /// How much of `bytes` `chunk()` has handed out: a body collected before the handler
    /// ran (a mock's body matcher reads it) is still the start of what `chunk()` returns.
    chunked: usize,
    /// The request log's copy: the first `log_limit` bytes of the body, however read.
    logged: BytesMut,
    /// Every body byte read so far, kept or not (the body limit counts these).
    total: u64,
    complete: bool,
    /// The handler returned before the body was read to its end, and the server drained
    /// (read and discarded) body bytes or left them unread: a later reader can no longer
    /// get the whole body.
    cut_off: bool,
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
        body: Option<BodyReader>,
    ) -> Self {
        let has_body = body.is_some();
        let inner = Inner {
            head,
            peer: connection.peer,
            connection_id: connection.id,
            index,
            limits: shared.limits.clone(),
            log_limit: shared.record_body_limit(),
            body,
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
    /// The connection serves the body while the handler runs. A read after the handler
    /// returned (from a task it spawned) of a body the handler had not read to its end
    /// fails with [`BodyError::Closed`]: the server has read and discarded the rest (or
    /// closed the connection on it). Once the handler has read all of it, later reads end.
    ///
    /// A piece is held nowhere once returned, so an upload read this way streams in
    /// bounded memory, and a later [`body`](Self::body) returns only the rest. (The
    /// request log keeps its own copy of at most the server's `record_body_limit` bytes.)
    /// What [`body`](Self::body) collected already (a mock's body matcher reads the body
    /// before the routes run) comes first.
    pub async fn chunk(&self) -> Result<Option<Bytes>, BodyError> {
        {
            let mut received = self.received();
            if received.chunked < received.bytes.len() {
                let collected = Bytes::copy_from_slice(&received.bytes[received.chunked..]);
                received.chunked = received.bytes.len();
                return Ok(Some(collected));
            }
        }
        self.next_piece(false).await
    }

    /// The next piece of the body, kept for [`body`](Self::body) when `keep`.
    pub(crate) async fn next_piece(&self, keep: bool) -> Result<Option<Bytes>, BodyError> {
        let Some(reader) = &self.inner.body else { return Ok(None) };
        let piece: Option<Bytes> = reader.next().await?;
        if piece.is_none() && self.received().cut_off {
            // Not the end of the body: the end of the handler's turn to read it.
            return Err(BodyError::Closed);
        }
        if let (true, Some(data)) = (keep, &piece) {
            self.received().bytes.extend_from_slice(data);
        }
        Ok(piece)
    }

    /// Notes a piece the connection loop read: it counts towards the body limit, and the
    /// log keeps a copy of it as far as its budget allows.
    pub(crate) fn note_piece(&self, data: &Bytes) -> Result<(), BodyError> {
        let mut received = self.received();
        received.total += data.len() as u64;
        if received.total > self.inner.limits.max_body_size {
            return Err(BodyError::TooLarge);
        }
        let room = self.inner.log_limit.saturating_sub(received.logged.len());
        received.logged.extend_from_slice(&data[..room.min(data.len())]);
        Ok(())
    }

    /// Notes that body bytes the handler left were drained or abandoned by the server.
    pub(crate) fn note_cut_off(&self) {
        self.received().cut_off = true;
    }

    /// Notes the end of the body, with its trailers.
    pub(crate) fn note_end(&self, trailers: HeaderMap) {
        let mut received = self.received();
        received.complete = true;
        received.trailers = trailers;
    }

    /// The whole body (read now if it has not been). Bounded by the server's body limit.
    /// Read after the handler returned, see [`chunk`](Self::chunk).
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

    pub(crate) fn limits(&self) -> &ServerLimits {
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
