//! A buffered async connection: the only code that drives the `h1` codec over a socket.

use crate::h1::{self, BodyDecoder, BodyEvent, ProtocolError, ResponseHead};
use bytes::{Buf, BufMut, BytesMut};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A byte stream courier can speak HTTP over: a TCP stream, a TLS stream, or whatever a
/// custom [`Connector`](crate::Connector) returns.
///
/// Implemented for every `AsyncRead + AsyncWrite + Send + Unpin + 'static` type.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Why reading a head or body from the connection stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The socket failed or the activity timeout ran out.
    Io(io::Error),
    /// The peer sent bytes that are not valid HTTP/1.1.
    Protocol(ProtocolError),
    /// The peer closed the connection before a complete head (`partial`: some bytes came).
    Closed { partial: bool },
}

impl From<ProtocolError> for ReadError {
    fn from(error: ProtocolError) -> Self {
        Self::Protocol(error)
    }
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// One connection with its read buffer and activity timeout.
pub(crate) struct Connection {
    io: Box<dyn Transport>,
    /// Bytes read but not yet consumed: the rest of a head, body bytes, or what follows.
    read_buf: BytesMut,
    /// How much to ask the socket for per read (the seed's `max_read_size`).
    read_size: usize,
    /// Each read and write must make progress within this (the seed's activity timeout).
    timeout: Duration,
}

impl Connection {
    pub(crate) fn new(io: Box<dyn Transport>, read_size: usize, timeout: Duration) -> Self {
        Self { io, read_buf: BytesMut::with_capacity(read_size), read_size, timeout }
    }

    /// Reads once more into the buffer; `Ok(0)` means the peer closed its side.
    async fn read_more(&mut self) -> io::Result<usize> {
        self.read_buf.reserve(self.read_size);
        let mut limited = (&mut self.read_buf).limit(self.read_size);
        with_timeout(self.timeout, self.io.read_buf(&mut limited)).await
    }

    /// Writes all of `data`; the timeout restarts with every successful write.
    pub(crate) async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let written = with_timeout(self.timeout, self.io.write(data)).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[written..];
        }
        with_timeout(self.timeout, self.io.flush()).await
    }

    /// Reads the next response head (interim 1xx heads included).
    pub(crate) async fn read_response_head(&mut self) -> Result<ResponseHead, ReadError> {
        loop {
            if let Some((head, len)) = h1::parse_response_head(&self.read_buf)? {
                self.read_buf.advance(len);
                return Ok(head);
            }
            if self.read_more().await? == 0 {
                return Err(ReadError::Closed { partial: !self.read_buf.is_empty() });
            }
        }
    }

    /// Reads until the decoder yields the next body event; end of stream ends a
    /// close-delimited body and is an error for any other.
    pub(crate) async fn read_body_event(
        &mut self,
        decoder: &mut BodyDecoder,
    ) -> Result<BodyEvent, ReadError> {
        loop {
            if let Some(event) = decoder.decode(&mut self.read_buf)? {
                return Ok(event);
            }
            if self.read_more().await? == 0 {
                decoder.decode_eof()?;
                if let Some(event) = decoder.decode(&mut self.read_buf)? {
                    return Ok(event);
                }
            }
        }
    }

    /// Gives up the connection: the stream and any bytes read but not yet consumed.
    pub(crate) fn into_parts(self) -> (Box<dyn Transport>, BytesMut) {
        (self.io, self.read_buf)
    }
}

/// Runs one I/O step under the activity timeout, turning expiry into `TimedOut`.
pub(crate) async fn with_timeout<T>(
    limit: Duration,
    step: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(limit, step).await {
        Ok(outcome) => outcome,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out after {} of inactivity", describe_duration(limit)),
        )),
    }
}

/// "300 s", "1.5 s", "250 ms": short and exact enough for an error message.
fn describe_duration(duration: Duration) -> String {
    if duration.as_millis() < 1000 {
        format!("{} ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}
