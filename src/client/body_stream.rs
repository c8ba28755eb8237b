//! A response body read after the head (`send_streaming`): the pull API and its `Stream`
//! and `AsyncRead` adapters. The connection returns to the pool once the body is read.
//! A compressed body (`decompress(true)`) is decoded here too, chunk by chunk.

use super::deadline::Deadline;
use super::decompress::Decoder;
use super::pool::Lease;
use super::run::{body_error, release_connection};
use super::Response;
use crate::error::Error;
use crate::h1::{BodyDecoder, BodyEvent, BodyMode};
use crate::io::{Connection, ReadError};
use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use futures_util::Stream;
use http::HeaderMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// The unread rest of a streamed response: its connection, decoders and pool slot.
pub(crate) struct BodyReader {
    /// The connection and its slot, until the body's end has been read: then they go back
    /// to the pool (or close), even while decoded chunks are still to be handed out.
    wire: Option<(Connection, Lease)>,
    decoder: BodyDecoder,
    /// Why the connection cannot be reused even when the body ends cleanly, if anything.
    blocker: Option<&'static str>,
    /// The content decoder, for a compressed body that is being decoded.
    content: Option<Decoder>,
    /// The trailers, once the body's end has been read.
    trailers: HeaderMap,
    /// The request's deadline still bounds its body, read after `send_streaming` returned.
    deadline: Deadline,
    /// The request's `max_body_size`, for [`Response::bytes`], which collects the rest.
    max_body_size: u64,
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader").finish_non_exhaustive()
    }
}

/// What a streamed body keeps of its request: how the connection may be reused, how the
/// body is decoded, and its bounds.
pub(crate) struct StreamedBody {
    pub(crate) blocker: Option<&'static str>,
    pub(crate) content: Option<Decoder>,
    pub(crate) deadline: Deadline,
    pub(crate) max_body_size: u64,
}

impl BodyReader {
    pub(crate) fn new(conn: Connection, mode: BodyMode, lease: Lease, body: StreamedBody) -> Self {
        let StreamedBody { blocker, content, deadline, max_body_size } = body;
        Self {
            wire: Some((conn, lease)),
            decoder: BodyDecoder::new(mode),
            blocker,
            content,
            trailers: HeaderMap::new(),
            deadline,
            max_body_size,
        }
    }

    /// The request's `max_body_size`.
    pub(crate) fn max_body_size(&self) -> u64 {
        self.max_body_size
    }

    /// The next piece of the body (decoded, if it is being decoded); `None` at its end.
    /// A failure is a 597 error.
    async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if let Some(content) = self.content.as_mut() {
                if let Some(chunk) = content.next_chunk()? {
                    return Ok(Some(chunk));
                }
            }
            let Some((conn, _)) = self.wire.as_mut() else { return Ok(None) };
            let event = self.deadline.bound(conn.read_body_event(&mut self.decoder)).await;
            match event.unwrap_or_else(|expired| Err(ReadError::Io(expired))).map_err(body_error)? {
                BodyEvent::Data(data) => match self.content.as_mut() {
                    Some(content) => content.push(data),
                    None => return Ok(Some(data)),
                },
                BodyEvent::End(trailers) => {
                    self.trailers = trailers;
                    // The body ended cleanly: the connection goes back to the pool (or
                    // closes, saying why), before the last decoded chunks are handed out.
                    if let Some((conn, lease)) = self.wire.take() {
                        release_connection(lease, conn, self.blocker);
                    }
                    if let Some(content) = self.content.as_mut() {
                        content.finish();
                    }
                }
            }
        }
    }
}

impl Response {
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
                    self.trailers = reader.into_inner().trailers;
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

    /// The rest of the body as a [`BodyStream`] of chunks (see [`chunk`](Self::chunk)):
    /// `Unpin` and `Send`, so `StreamExt::next` works on it directly.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let mut body = courier::get("http://127.0.0.1:8080/big").send_streaming().await.into_stream();
    /// while let Some(chunk) = body.next().await {
    ///     println!("{} bytes", chunk?.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> BodyStream {
        let chunks = futures_util::stream::unfold(Some(self), |state| async move {
            let mut response = state?;
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        });
        BodyStream { chunks: Box::pin(chunks) }
    }

    /// The rest of the body as an `AsyncRead` (errors become `io::Error`s).
    pub fn into_reader(self) -> BodyAsyncRead {
        BodyAsyncRead { state: ReadState::Idle(Box::new(self)), buffered: Bytes::new() }
    }
}

/// A streamed response body as a `Stream` of chunks; from [`Response::into_stream`].
/// It is `Unpin`, so it can be polled without pinning it first.
pub struct BodyStream {
    chunks: Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>,
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream").finish_non_exhaustive()
    }
}

/// A streamed response body as an [`AsyncRead`]; from [`Response::into_reader`].
pub struct BodyAsyncRead {
    state: ReadState,
    buffered: Bytes,
}

/// A pending `chunk()` call that owns the response while it runs.
type PendingChunk = BoxFuture<'static, (Box<Response>, Result<Option<Bytes>, Error>)>;

enum ReadState {
    Idle(Box<Response>),
    Reading(PendingChunk),
    Done,
}

impl fmt::Debug for BodyAsyncRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyAsyncRead").field("buffered", &self.buffered.len()).finish_non_exhaustive()
    }
}

impl AsyncRead for BodyAsyncRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.buffered.is_empty() {
                let take = self.buffered.len().min(buf.remaining());
                buf.put_slice(&self.buffered[..take]);
                self.buffered.advance(take);
                return Poll::Ready(Ok(()));
            }
            match std::mem::replace(&mut self.state, ReadState::Done) {
                ReadState::Done => return Poll::Ready(Ok(())),
                ReadState::Idle(mut response) => {
                    self.state = ReadState::Reading(Box::pin(async move {
                        let outcome = response.chunk().await;
                        (response, outcome)
                    }));
                }
                ReadState::Reading(mut reading) => match reading.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = ReadState::Reading(reading);
                        return Poll::Pending;
                    }
                    Poll::Ready((response, Ok(Some(chunk)))) => {
                        self.buffered = chunk;
                        self.state = ReadState::Idle(response);
                    }
                    Poll::Ready((_, Ok(None))) => return Poll::Ready(Ok(())),
                    Poll::Ready((_, Err(error))) => return Poll::Ready(Err(io::Error::other(error))),
                },
            }
        }
    }
}
