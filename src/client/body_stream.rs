//! A streamed response body (`send_streaming`) as a `Stream` ([`BodyStream`]) or an
//! `AsyncRead` ([`BodyAsyncRead`]), over [`Response::chunk`].

use super::response::Response;
use crate::error::Error;
use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use futures_util::Stream;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

impl Response {
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
