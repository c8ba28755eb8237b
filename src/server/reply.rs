//! Replies: status, headers and a body that is complete, streamed, or a scripted fault.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, StatusCode};
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a handler answers. Build one with a helper and adjust it with the `with_*` methods.
///
/// ```
/// use courier::server::Reply;
/// let reply = Reply::text("hello\n").with_status(201).with_header("x-id", "7");
/// assert_eq!(reply.status().as_u16(), 201);
/// ```
pub struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) reason: Option<String>,
    pub(crate) headers: HeaderMap,
    /// Default headers (Server, Cache-Control, Expires, Date) the handler asked to leave out.
    pub(crate) removed: Vec<HeaderName>,
    pub(crate) body: Body,
    pub(crate) fault: Option<Fault>,
    /// After this 101 the connection leaves HTTP (a WebSocket upgrade).
    pub(crate) upgrade: Option<Upgrade>,
}

/// A route's hand-over of its connection: once the 101 is out, called with the stream,
/// the bytes read past the request (they belong to the new protocol), and the server's
/// shutdown signal; the connection lives as long as the future it returns.
pub(crate) type Upgrade = Box<
    dyn FnOnce(
            Box<dyn crate::io::Transport>,
            Vec<u8>,
            tokio::sync::watch::Receiver<bool>,
        ) -> BoxFuture<'static, ()>
        + Send,
>;

pub(crate) enum Body {
    Full(Bytes),
    /// Chunks from a [`BodySender`]; each is acknowledged once written to the socket.
    Stream(mpsc::Receiver<(Bytes, oneshot::Sender<()>)>),
}

/// A misbehaviour to script into a reply, for testing clients (the test kit).
///
/// Faults work on every kind of reply: complete, streamed ([`Reply::stream`]) and files
/// ([`serve_file`](super::serve_file)), over plain TCP and TLS alike. Those that cut or
/// replace the reply close the connection after it; `DelayHead` and `Trickle` send a
/// correct reply and keep the connection as usual (a reply that says `Connection: close`
/// still closes it). A reply cut short is logged with no status.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use courier::server::{Fault, Reply, Server};
/// let server = Server::builder()
///     .route("/cut", |_req| async { Reply::text("hello world").with_fault(Fault::CloseAfterBody(5)) })
///     .start()
///     .await?;
/// let res = courier::get(server.url("/cut")).send().await;
/// assert_eq!(res.status().as_u16(), 597); // the body ended after "hello"
/// # server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long before sending anything, then send the reply as usual.
    DelayHead(Duration),
    /// Send the whole reply `bytes` at a time, pausing `every` between pieces.
    Trickle {
        /// Bytes per piece.
        bytes: usize,
        /// Pause between pieces.
        every: Duration,
    },
    /// Send only the first N bytes of the reply (head, framing and body alike), then
    /// close the connection.
    CloseAfter(usize),
    /// Send the head and the first N bytes of the body (its payload: chunk framing does
    /// not count), then close. A shorter body goes out whole, then the connection closes.
    CloseAfterBody(u64),
    /// Like `CloseAfterBody`, but end with a reset (RST) instead of a FIN.
    ResetAfterBody(u64),
    /// Reset the connection (RST) instead of answering.
    Reset,
    /// Never answer; keep the connection open until the client gives up, the activity
    /// timeout passes, or the server shuts down.
    Stall,
    /// Send exactly these bytes instead of the reply (any malformed response), then close.
    Raw(Bytes),
    /// Announce this Content-Length whatever the body's real length, then close after it.
    WrongContentLength(u64),
}

impl Fault {
    /// The connection closes after this fault (all but the two that send a correct reply).
    pub(crate) fn ends_connection(&self) -> bool {
        !matches!(self, Self::DelayHead(_) | Self::Trickle { .. })
    }

    /// A complete reply goes out, right or wrong (what the request log records as sent):
    /// `head` bytes of head, then `body` bytes of body when its length is known (a
    /// streamed body's is not).
    pub(crate) fn completes(&self, head: u64, body: Option<u64>) -> bool {
        match self {
            Self::DelayHead(_) | Self::Trickle { .. } | Self::WrongContentLength(_) => true,
            Self::CloseAfter(limit) => body.is_some_and(|body| head + body <= *limit as u64),
            Self::CloseAfterBody(limit) => body.is_some_and(|body| body <= *limit),
            Self::ResetAfterBody(_) | Self::Reset | Self::Stall | Self::Raw(_) => false,
        }
    }
}

// Content types as constants: `HeaderValue::from_static` checks its text byte by byte
// when it runs; in a `const` that check happens once, at compile time.
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

impl Reply {
    /// An empty reply with `status` (any 100..=999; invalid numbers become 500).
    pub fn new(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reason: None,
            headers: HeaderMap::new(),
            removed: Vec::new(),
            body: Body::Full(Bytes::new()),
            fault: None,
            upgrade: None,
        }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<String>) -> Self {
        Self::with_type(TEXT_PLAIN, body.into())
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<String>) -> Self {
        Self::with_type(TEXT_HTML, body.into())
    }

    /// 200 with `value` serialized as an `application/json` body (feature `json`). A
    /// value that cannot be serialized (a map with non-string keys, say) gives a 500 that
    /// says why.
    ///
    /// ```
    /// use courier::server::Reply;
    /// let reply = Reply::json(&serde_json::json!({"id": 7, "name": "ada"}));
    /// assert_eq!(reply.body_bytes().unwrap(), r#"{"id":7,"name":"ada"}"#);
    /// assert_eq!(reply.headers()["content-type"], "application/json");
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::with_type(APPLICATION_JSON, body),
            Err(error) => Self::error(500, &format!("the reply could not be serialized as JSON: {error}")),
        }
    }

    /// 200 with JSON text already serialized, sent as given (`application/json`).
    ///
    /// ```
    /// use courier::server::Reply;
    /// let reply = Reply::json_text(r#"{"ok":true}"#);
    /// assert_eq!(reply.body_bytes().unwrap(), r#"{"ok":true}"#);
    /// ```
    pub fn json_text(body: impl Into<String>) -> Self {
        Self::with_type(APPLICATION_JSON, body.into())
    }

    /// 200 with `body` and the given content type.
    pub fn bytes(content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut reply = Self::new(200).with_body(body);
        if let Ok(value) = HeaderValue::from_str(content_type) {
            reply.headers.insert(CONTENT_TYPE, value);
        }
        reply
    }

    fn with_type(content_type: HeaderValue, body: impl Into<Bytes>) -> Self {
        let mut reply = Self::new(200).with_body(body);
        reply.headers.insert(CONTENT_TYPE, content_type);
        reply
    }

    /// A redirect (`status` 301, 302, 303, 307 or 308) to `location`, with a short body.
    pub fn redirect(status: u16, location: &str) -> Self {
        let mut reply = Self::text(format!("see {location}\n")).with_status(status);
        match HeaderValue::from_str(location) {
            Ok(value) => {
                reply.headers.insert(LOCATION, value);
                reply
            }
            Err(_) => Self::error(500, "invalid redirect location"),
        }
    }

    /// An error page: `status` with a short text body saying `message`.
    pub fn error(status: u16, message: &str) -> Self {
        let reply = Self::new(status);
        let reason = reply.status.canonical_reason().unwrap_or("Error");
        let body = format!("{} {reason}: {message}\n", reply.status.as_u16());
        Self::text(body).with_status(status)
    }

    /// 404 Not Found.
    pub fn not_found() -> Self {
        Self::error(404, "no handler for this path")
    }

    /// A reply whose body is streamed: send chunks through the returned [`BodySender`]
    /// (after returning the reply from the handler). Chunked unless a Content-Length
    /// header is set; each `send` waits until the chunk is written (back-pressure). With
    /// a Content-Length, nothing beyond it is sent: the `send` that overruns it goes out
    /// cut to the length and fails ([`StreamClosed`]), and the connection closes.
    pub fn stream(status: u16) -> (Self, BodySender) {
        let (sender, receiver) = mpsc::channel(1);
        let mut reply = Self::new(status);
        reply.body = Body::Stream(receiver);
        (reply, BodySender { sender })
    }

    /// Bytes sent verbatim instead of a reply (then the connection closes): any malformed
    /// response a client should cope with.
    pub fn raw(bytes: impl Into<Bytes>) -> Self {
        Self::new(200).with_fault(Fault::Raw(bytes.into()))
    }

    /// A 101 that hands the connection to `upgrade` once written (WebSocket routes).
    #[cfg(feature = "ws")]
    pub(crate) fn switching_protocols(headers: HeaderMap, upgrade: Upgrade) -> Self {
        let mut reply = Self::new(101);
        reply.headers = headers;
        reply.upgrade = Some(upgrade);
        reply
    }

    /// The same reply with another status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self
    }

    /// The same reply with a custom reason phrase.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a header (repeatable). Invalid names or values are dropped.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            self.headers.append(name, value);
        }
        self
    }

    /// Leaves out a default header (Server, Cache-Control, Expires) and any set before.
    pub fn without_header(mut self, name: &str) -> Self {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            self.headers.remove(&name);
            self.removed.push(name);
        }
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Full(body.into());
        self
    }

    /// Scripts a fault into this reply (the test kit).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers set so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body, when it is complete (not streamed).
    pub fn body_bytes(&self) -> Option<&Bytes> {
        match &self.body {
            Body::Full(bytes) => Some(bytes),
            Body::Stream(_) => None,
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("streamed", &matches!(self.body, Body::Stream(_)))
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

impl From<super::BodyError> for Reply {
    /// The reply a handler usually wants when the body cannot be read: 413, 400 or 408.
    fn from(error: super::BodyError) -> Self {
        use super::BodyError::*;
        let status = match error {
            TooLarge => 413,
            Malformed(_) => 400,
            TimedOut => 408,
            Closed => 400,
            InvalidJson(_) => 400,
        };
        Self::error(status, &error.to_string())
    }
}

/// Sends the chunks of a streamed reply (see [`Reply::stream`]).
pub struct BodySender {
    sender: mpsc::Sender<(Bytes, oneshot::Sender<()>)>,
}

/// The client went away (or the reply was abandoned) before the chunk was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamClosed;

impl fmt::Display for StreamClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the client is gone")
    }
}

impl std::error::Error for StreamClosed {}

impl BodySender {
    /// Sends one chunk and waits until it has been written to the socket. Empty chunks
    /// are skipped. Dropping the sender ends the body.
    pub async fn send(&mut self, chunk: impl Into<Bytes>) -> Result<(), StreamClosed> {
        let chunk = chunk.into();
        if chunk.is_empty() {
            return Ok(());
        }
        let (written, flushed) = oneshot::channel();
        self.sender.send((chunk, written)).await.map_err(|_| StreamClosed)?;
        flushed.await.map_err(|_| StreamClosed)
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodySender").finish_non_exhaustive()
    }
}
