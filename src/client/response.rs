//! The Response: status (real or 595..599), headers, body, redirect chain, the streamed
//! body's `chunk()`, and the body handle.

use super::body_reader::BodyReader;
use super::exclusive::Exclusive;
use crate::error::{Error, ErrorKind};
use crate::h1::ResponseHead;
use crate::io::Transport;
use bytes::{Buf, Bytes};
use http::{HeaderMap, StatusCode, Version};
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The outcome of a request: a real response, or a failure reported as a 595..599 status.
///
/// `send()` never returns `Err`: check [`status`](Self::status) (or [`error`](Self::error)).
/// To use `?` instead, see [`RequestBuilder::try_send`](crate::RequestBuilder::try_send)
/// and [`error_for_status`](Self::error_for_status).
///
/// It is `Send` and `Sync`: a response can be shared behind an `Arc` or a `&` across
/// tasks and threads.
///
/// ```no_run
/// # async fn demo() {
/// let res = courier::get("http://127.0.0.1:8080/").send().await;
/// if res.status().is_success() {
///     println!("{}", res.text());
/// } else {
///     eprintln!("{} {}", res.status().as_u16(), res.reason());
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) reason: String,
    pub(crate) version: Option<Version>,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    /// Boxed, as the error and the body handle are: most responses have none, and a
    /// `Response` is moved several times on its way to the caller (its size is copied).
    pub(crate) trailers: Option<Box<HeaderMap>>,
    pub(crate) redirects: Vec<Response>,
    pub(crate) orig: Option<(StatusCode, String)>,
    pub(crate) error: Option<Box<Error>>,
    pub(crate) body: Bytes,
    /// `Exclusive`: the connection inside is not `Sync`, and only `&mut self` reaches it.
    pub(crate) body_handle: Option<Exclusive<Box<BodyHandle>>>,
    /// The unread body of a streamed response (`send_streaming`). Boxed: it is half a
    /// kilobyte, and every response is moved several times on its way to the caller.
    pub(crate) body_reader: Option<Exclusive<Box<BodyReader>>>,
}

impl Response {
    /// A response for a request that failed before any head arrived.
    pub(crate) fn from_error(url: impl Into<String>, error: Error) -> Self {
        let url = url.into();
        let error = error.with_url(&url);
        Self {
            status: error.status(),
            reason: error.to_string(),
            version: None,
            url,
            headers: HeaderMap::new(),
            trailers: None,
            redirects: Vec::new(),
            orig: None,
            error: Some(Box::new(error)),
            body: Bytes::new(),
            body_handle: None,
            body_reader: None,
        }
    }

    /// A response built from a received head; the body comes later.
    pub(crate) fn from_head(url: impl Into<String>, head: ResponseHead) -> Self {
        Self {
            status: head.status,
            reason: head.reason,
            version: Some(head.version),
            url: url.into(),
            headers: head.headers,
            trailers: None,
            redirects: Vec::new(),
            orig: None,
            error: None,
            body: Bytes::new(),
            body_handle: None,
            body_reader: None,
        }
    }

    /// Turns a response whose head was good into a failure, keeping the head's status and
    /// reason as [`orig_status`](Self::orig_status) / [`orig_reason`](Self::orig_reason).
    pub(crate) fn fail(mut self, error: Error) -> Self {
        let error = error.with_url(&self.url);
        let status = std::mem::replace(&mut self.status, error.status());
        let reason = std::mem::replace(&mut self.reason, error.to_string());
        self.orig = Some((status, reason));
        self.error = Some(Box::new(error));
        self
    }

    /// The status: the server's, or 595..599 when the request failed.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase: the server's, or what went wrong for 595..599.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The HTTP version of the status line; `None` when no head arrived.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The URL this response came from, after redirects (AnyEvent::HTTP's `URL` pseudo-header).
    ///
    /// It is normalised (`http://h` reads `http://h/`), except for a URL that could not be
    /// parsed, which is shown as given. On a failed redirect this is the target that
    /// failed, e.g. an `ftp:` URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// All header fields, names lowercased; repeated fields are kept line by line.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header's value; a repeated header reads as its values joined with `", "`.
    ///
    /// Bytes that are not UTF-8 read as U+FFFD. For line-by-line access (e.g. each
    /// `set-cookie`) use [`header_all`](Self::header_all).
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self.headers.get_all(name).iter();
        let first = String::from_utf8_lossy(values.next()?.as_bytes());
        let mut joined: Option<String> = None;
        for value in values {
            let joined = joined.get_or_insert_with(|| first.to_string());
            joined.push_str(", ");
            joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        Some(joined.map_or(first, Cow::Owned))
    }

    /// Every value of one header, in the order received.
    pub fn header_all(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.headers.get_all(name).iter().map(|value| String::from_utf8_lossy(value.as_bytes())).collect()
    }

    /// Trailer fields sent after a chunked body (empty otherwise).
    pub fn trailers(&self) -> &HeaderMap {
        static NONE: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);
        self.trailers.as_deref().unwrap_or(&NONE)
    }

    /// The redirect responses that led here, newest first (AnyEvent::HTTP's `Redirect` chain).
    ///
    /// `redirects()[0]` is the response that redirected to this one. Each hop keeps its
    /// status, headers, URL and body.
    pub fn redirects(&self) -> &[Response] {
        &self.redirects
    }

    /// The server's status when the request failed after a good head (AnyEvent::HTTP's `OrigStatus`).
    pub fn orig_status(&self) -> Option<StatusCode> {
        self.orig.as_ref().map(|(status, _)| *status)
    }

    /// The server's reason when the request failed after a good head (AnyEvent::HTTP's `OrigReason`).
    pub fn orig_reason(&self) -> Option<&str> {
        self.orig.as_ref().map(|(_, reason)| reason.as_str())
    }

    /// Why the request failed, when the status is 595..599.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// True when the request failed (status 595..599).
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// The body. Empty when `on_body` consumed it or a body handle was asked for; on a
    /// failure, whatever arrived before it.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 reads as U+FFFD).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Takes the body out.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The raw connection, when `want_body_handle(true)` was asked for and a body follows.
    pub fn take_body_handle(&mut self) -> Option<BodyHandle> {
        self.body_handle.take().map(|handle| *handle.into_inner())
    }

    /// `Err` for a failed request (595..599: its [`Error`]) and for a 4xx or 5xx answer
    /// (an [`ErrorKind::Status`] error with the status, reason and URL); the response
    /// itself otherwise. The bridge from courier's "every outcome is a Response" to `?`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let res = courier::get("http://127.0.0.1:8080/missing").send().await.error_for_status();
    /// if let Err(error) = &res {
    ///     assert_eq!(error.status(), 404);
    ///     assert_eq!(error.url(), Some("http://127.0.0.1:8080/missing"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn error_for_status(self) -> Result<Self, Error> {
        let response = self.into_result()?;
        if response.status.is_client_error() || response.status.is_server_error() {
            return Err(Error::from_status(response.status, &response.reason, &response.url));
        }
        Ok(response)
    }

    /// `Err` with the error of a failed request (595..599), the response otherwise
    /// (whatever its status): what [`try_send`](crate::RequestBuilder::try_send) returns.
    pub(crate) fn into_result(mut self) -> Result<Self, Error> {
        match self.error.take() {
            Some(error) => Err(*error),
            None => Ok(self),
        }
    }

    /// The next piece of a body opened with
    /// [`send_streaming`](crate::RequestBuilder::send_streaming); `Ok(None)` at its end
    /// (then the connection goes back to the pool and [`trailers`](Self::trailers) are
    /// set). A failure is a 597 error; dropping the response early closes the connection.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let mut res = courier::get("http://127.0.0.1:8080/big").send_streaming().await;
    /// let mut total = 0;
    /// while let Some(chunk) = res.chunk().await? {
    ///     total += chunk.len();
    /// }
    /// println!("{} bytes", total);
    /// # Ok(()) }
    /// ```
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let Some(reader) = self.body_reader.as_mut() else { return Ok(None) };
        match reader.get_mut().next().await {
            Ok(Some(data)) => Ok(Some(data)),
            Ok(None) => {
                if let Some(reader) = self.body_reader.take() {
                    self.trailers = reader.into_inner().trailers.take();
                }
                Ok(None)
            }
            // Dropping the reader closes the connection (if it is still open).
            Err(error) => {
                self.body_reader = None;
                Err(error.with_url(&self.url))
            }
        }
    }

    /// True while some of a streamed body is still unread.
    pub fn has_more_body(&self) -> bool {
        self.body_reader.is_some()
    }

    /// The whole body. For a streamed response
    /// ([`send_streaming`](crate::RequestBuilder::send_streaming)) the rest is read now,
    /// up to the request's [`max_body_size`](crate::RequestBuilder::max_body_size)
    /// (597 beyond it). `Err` when the request failed (595..599) or reading the rest
    /// failed (597); a 4xx or 5xx body is returned like any other.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let bytes = courier::get("http://127.0.0.1:8080/logo.png").try_send().await?.bytes().await?;
    /// println!("{} bytes", bytes.len());
    /// # Ok(()) }
    /// ```
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let mut response = self.into_result()?;
        let Some(limit) = response.body_reader.as_mut().map(|reader| reader.get_mut().max_body_size()) else {
            return Ok(response.body);
        };
        let mut collected = bytes::BytesMut::from(std::mem::take(&mut response.body));
        while let Some(chunk) = response.chunk().await? {
            if (collected.len() + chunk.len()) as u64 > limit {
                let message = format!("the response body is larger than {limit} bytes (max_body_size)");
                return Err(Error::new(ErrorKind::ResponseBody, message).with_url(&response.url));
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(collected.freeze())
    }

    /// The body parsed as JSON into `T` (feature `json`). `Err` as for
    /// [`bytes`](Self::bytes), or an [`ErrorKind::Decode`] error when the body is not
    /// valid JSON for `T` (the serde_json error is its source). The status is not checked:
    /// chain [`error_for_status`](Self::error_for_status) first to refuse 4xx and 5xx.
    ///
    /// ```no_run
    /// #[derive(serde::Deserialize)]
    /// struct Ip { origin: String }
    ///
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let ip: Ip = courier::get("http://127.0.0.1:8080/ip").try_send().await?.json().await?;
    /// println!("{}", ip.origin);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.url.clone();
        let body = self.bytes().await?;
        serde_json::from_slice(&body).map_err(|cause| {
            Error::new(ErrorKind::Decode, "decode the JSON body").with_source(cause).with_url(&url)
        })
    }
}

/// The connection after the response head, for protocols that take over from HTTP
/// (AnyEvent::HTTP's `want_body_handle`).
///
/// Reading yields the body bytes exactly as sent (chunked framing included), starting with
/// any that courier had already read. The connection is never reused by courier.
pub struct BodyHandle {
    io: Box<dyn Transport>,
    buffered: Bytes,
}

impl BodyHandle {
    pub(crate) fn new(io: Box<dyn Transport>, buffered: Bytes) -> Self {
        Self { io, buffered }
    }

    /// Bytes already read from the connection that reading will return first.
    pub fn buffered(&self) -> &[u8] {
        &self.buffered
    }

    /// The stream and the bytes already read from it.
    pub fn into_parts(self) -> (Box<dyn Transport>, Bytes) {
        (self.io, self.buffered)
    }
}

impl fmt::Debug for BodyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyHandle").field("buffered", &self.buffered.len()).finish_non_exhaustive()
    }
}

impl AsyncRead for BodyHandle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.buffered.is_empty() {
            let take = self.buffered.len().min(buf.remaining());
            buf.put_slice(&self.buffered[..take]);
            self.buffered.advance(take);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for BodyHandle {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
