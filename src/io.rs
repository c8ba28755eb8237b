//! A buffered async connection: the only code that drives the `h1` codec over a socket.

use crate::h1::{self, BodyDecoder, BodyEvent, ProtocolError};
use bytes::{Buf, BufMut, BytesMut};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A byte stream courier can speak HTTP over: a TCP stream, a TLS stream, or whatever a
/// custom [`Connector`](crate::Connector) returns.
///
/// Implemented for every `AsyncRead + AsyncWrite + Send + Unpin + 'static` type. It is
/// `Any` so that the concrete stream can be recovered (e.g. to reset a TCP connection).
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + std::any::Any {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// A head parser from `h1`: a head and its length, or `None` for "need more bytes".
pub(crate) type HeadParser<H> = fn(&[u8]) -> Result<Option<(H, usize)>, ProtocolError>;

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

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(error) => write!(f, "{error}"),
            Self::Protocol(error) => write!(f, "{error}"),
            Self::Closed { partial: false } => f.write_str("connection closed before an answer"),
            Self::Closed { partial: true } => f.write_str("connection closed in the middle of an answer"),
        }
    }
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

/// How a watched write ended (see [`Wire::write_watching`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Every byte went out.
    Complete,
    /// What the watcher waits for arrived before the write was done (a client: the
    /// server's final answer during an upload): stop writing and read it.
    Interrupted,
}

/// What a connection's first read asks for. Reads double from here while they come back
/// full, so a large body reaches `read_size` reads within a few reads. Starting small
/// keeps a connection that only ever sees short messages small: a buffer of
/// `read_size` (16 KiB by default) costs a whole page of memory per connection for a
/// 50-byte reply, and a thousand pooled connections hold a thousand of them.
const FIRST_READ: usize = 2 * 1024;

/// What an idle connection's peer did meanwhile (see [`Wire::poll_idle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdleCheck {
    /// Nothing: the connection can carry the next request.
    Usable,
    /// The peer closed it (or it failed).
    Closed,
    /// The peer sent bytes nobody asked for: they must never be read as a response.
    UnaskedBytes,
}

/// The wire: one connection's byte stream with its read buffer and activity timeout, which
/// both roles speak `h1` over. (Called a wire, not a connection, so that it is not taken
/// for `ws::Connection`, a WebSocket session.)
pub(crate) struct Wire {
    io: Box<dyn Transport>,
    /// Bytes read but not yet consumed: the rest of a head, body bytes, or what follows.
    read_buf: BytesMut,
    /// The most to ask the socket for per read (AnyEvent::HTTP's `max_read_size`).
    read_size: usize,
    /// What the next read asks for: from `FIRST_READ`, doubled after each read that
    /// filled it, up to `read_size` (see `FIRST_READ`).
    next_read: usize,
    /// Each read and write must make progress within this (AnyEvent::HTTP's activity timeout).
    timeout: Duration,
    /// Bytes ever read from the peer: a retry is safe only if none arrived for a request.
    bytes_read: u64,
}

impl Wire {
    pub(crate) fn new(io: Box<dyn Transport>, read_size: usize, timeout: Duration) -> Self {
        let next_read = FIRST_READ.min(read_size);
        Self {
            io,
            read_buf: BytesMut::with_capacity(next_read),
            read_size,
            next_read,
            timeout,
            bytes_read: 0,
        }
    }

    /// Applies a request's settings to a connection that may have served another request.
    pub(crate) fn configure(&mut self, read_size: usize, timeout: Duration) {
        self.read_size = read_size;
        self.next_read = self.next_read.min(read_size);
        self.timeout = timeout;
    }

    /// Bytes ever read from the peer.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// True when bytes beyond the current message are waiting: a client's reused
    /// connection must start clean (leftover bytes would be read as the next response);
    /// a server's holds the next, pipelined request.
    pub(crate) fn has_unread_bytes(&self) -> bool {
        !self.read_buf.is_empty()
    }

    /// The bytes read but not consumed yet (the server peeks at a head it refuses).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn unread(&self) -> &[u8] {
        &self.read_buf
    }

    /// True when the peer has sent bytes nobody has read, checked without waiting. The
    /// byte used to check is consumed: call this only on a connection whose input is
    /// about to be discarded (a server closing it).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) async fn peer_sent_more(&mut self) -> bool {
        poll_fn(|cx| Poll::Ready(self.poll_idle(cx) == IdleCheck::UnaskedBytes)).await
    }

    /// Checks an idle connection without writing to it: still usable only if the peer has
    /// neither closed it nor sent anything. Registers `cx` to be woken when that changes.
    pub(crate) fn poll_idle(&mut self, cx: &mut Context<'_>) -> IdleCheck {
        if !self.read_buf.is_empty() {
            return IdleCheck::UnaskedBytes;
        }
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        match Pin::new(&mut self.io).poll_read(cx, &mut probe) {
            Poll::Pending => IdleCheck::Usable,
            Poll::Ready(Ok(())) if !probe.filled().is_empty() => IdleCheck::UnaskedBytes,
            Poll::Ready(_) => IdleCheck::Closed,
        }
    }

    /// Reads once more into the buffer; `Ok(0)` means the peer closed its side.
    async fn read_more(&mut self) -> io::Result<usize> {
        let timeout = self.timeout;
        with_timeout(timeout, self.read_once()).await
    }

    /// One read, without the activity timeout (the caller bounds the wait).
    async fn read_once(&mut self) -> io::Result<usize> {
        let want = self.next_read;
        self.read_buf.reserve(want);
        let mut limited = (&mut self.read_buf).limit(want);
        let read = self.io.read_buf(&mut limited).await?;
        self.bytes_read += read as u64;
        if read == want {
            // More was probably waiting: ask for more next time.
            self.next_read = (want * 2).min(self.read_size);
        }
        Ok(read)
    }

    /// Writes `data` under the activity timeout, watching the input while the socket will
    /// not take more: what the peer sent is buffered, and once `stop` sees what it waits
    /// for at the start of the buffer, the write ends early. A write error with an
    /// answer (or any input) waiting is that answer, not the error: a peer may answer and
    /// close before reading all we send. (The client passes "a final response head": a
    /// server that refuses an upload with 413 is heard instead of becoming a 596.)
    pub(crate) async fn write_watching(
        &mut self,
        data: &[u8],
        stop: fn(&[u8]) -> bool,
    ) -> io::Result<Written> {
        let timeout = self.timeout;
        // The activity timer starts only if the socket does not take everything at once
        // (most writes finish in their first poll, and a timer costs more than the write).
        let mut idle = std::pin::pin!(None::<tokio::time::Sleep>);
        let mut remaining = data;
        poll_fn(|cx| loop {
            if remaining.is_empty() {
                return Pin::new(&mut self.io).poll_flush(cx).map_ok(|()| Written::Complete);
            }
            match Pin::new(&mut self.io).poll_write(cx, remaining) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => {
                    remaining = &remaining[written..];
                    if let Some(timer) = idle.as_mut().as_pin_mut() {
                        timer.reset(deadline_after(timeout));
                    }
                }
                Poll::Ready(Err(error)) => {
                    let answered = self.poll_input(cx, stop) || !self.read_buf.is_empty();
                    return Poll::Ready(if answered { Ok(Written::Interrupted) } else { Err(error) });
                }
                Poll::Pending => {
                    if self.poll_input(cx, stop) {
                        return Poll::Ready(Ok(Written::Interrupted));
                    }
                    if idle.is_none() {
                        idle.set(Some(tokio::time::sleep_until(deadline_after(timeout))));
                    }
                    if idle.as_mut().as_pin_mut().is_some_and(|timer| timer.poll(cx).is_ready()) {
                        return Poll::Ready(Err(timed_out(timeout)));
                    }
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// Buffers what the peer has sent (without waiting, and at most a head's worth); true
    /// once `stop` sees what it waits for.
    fn poll_input(&mut self, cx: &mut Context<'_>, stop: fn(&[u8]) -> bool) -> bool {
        let mut chunk = [0u8; 4096];
        while self.read_buf.len() < h1::limits::MAX_HEAD_SIZE {
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.bytes_read += buf.filled().len() as u64;
                    self.read_buf.extend_from_slice(buf.filled());
                }
                _ => break,
            }
        }
        stop(&self.read_buf)
    }

    /// Reads once more into the buffer, under the activity timeout; `Ok(0)` means the peer
    /// closed its side. For a sans-IO machine fed from [`buffer`](Self::buffer). The same
    /// as `read_more`, in a future a third its size: it is awaited inside every request's
    /// state, which is moved as a whole.
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        let timeout = self.timeout;
        let read = std::pin::pin!(self.read_once());
        until(read, || deadline_after(timeout)).await.unwrap_or_else(|| Err(timed_out(timeout)))
    }

    /// The bytes read but not consumed: a sans-IO machine takes what it can from them.
    pub(crate) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Reads until `parse` finds a complete head at the start of the buffer, then consumes
    /// it (a request head; a proxy's answer to CONNECT).
    pub(crate) async fn read_head<H>(&mut self, parse: HeadParser<H>) -> Result<H, ReadError> {
        loop {
            if let Some((head, len)) = parse(&self.read_buf)? {
                self.read_buf.advance(len);
                return Ok(head);
            }
            if self.read_more().await? == 0 {
                return Err(ReadError::Closed { partial: !self.read_buf.is_empty() });
            }
        }
    }

    /// Resets a TCP connection (RST instead of FIN): the test kit's `Fault::Reset`. The
    /// stream is closed at once; later writes go nowhere.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn reset(&mut self) {
        let io = self.detach();
        if let Some(tcp) = tcp_under(&*io) {
            // Linger 0 makes close send RST; the drop right after closes it.
            let _ = socket_linger_zero(tcp);
        }
    }

    /// Reads and discards until the peer closes or the activity timeout runs out.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) async fn discard_until_closed(&mut self) {
        self.read_buf.clear();
        while let Ok(read) = self.read_more().await {
            if read == 0 {
                break;
            }
            self.read_buf.clear();
        }
    }

    /// Reads and discards until the peer closes, sends nothing for `quiet`, or `total`
    /// has passed (a server's lingering close).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) async fn discard_until_quiet(&mut self, quiet: Duration, total: Duration) {
        self.read_buf.clear();
        let end = deadline_after(total);
        loop {
            let wait = deadline_after(quiet).min(end);
            match tokio::time::timeout_at(wait, self.read_once()).await {
                Ok(Ok(read)) if read > 0 => self.read_buf.clear(),
                _ => break,
            }
        }
    }

    /// Forgets the bytes read but not consumed (a refused request's).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn discard_buffered(&mut self) {
        self.read_buf.clear();
    }

    /// Waits until at least one byte is buffered; `Ok(false)` when the peer closed first.
    /// (The server's idle keep-alive wait: nothing may be consumed yet.) No activity
    /// timeout: the caller's idle timeout bounds it, and one timer per wait is enough.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) async fn wait_for_data(&mut self) -> io::Result<bool> {
        Ok(!self.read_buf.is_empty() || self.read_once().await? > 0)
    }

    /// Writes all of `data` under the activity timeout (server replies: nothing to watch
    /// for while writing, unlike a client's upload).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
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

    /// Shuts down the write side (a clean FIN), ignoring errors: the peer may be gone.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) async fn shutdown(&mut self) {
        let _ = with_timeout(self.timeout, self.io.shutdown()).await;
    }

    /// Reads until the decoder yields the next body event; end of stream ends a
    /// close-delimited body and is an error for any other.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
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

    /// Hands the stream and the unconsumed bytes to a new owner (a protocol upgrade),
    /// leaving a closed placeholder behind.
    #[cfg(feature = "server")]
    pub(crate) fn take_parts(&mut self) -> (Box<dyn Transport>, BytesMut) {
        (self.detach(), std::mem::take(&mut self.read_buf))
    }

    /// Takes the stream out, leaving a closed placeholder (later I/O goes nowhere).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    fn detach(&mut self) -> Box<dyn Transport> {
        let placeholder: Box<dyn Transport> = Box::new(tokio::io::duplex(1).0);
        std::mem::replace(&mut self.io, placeholder)
    }

    /// Gives up the connection: the stream and any bytes read but not yet consumed.
    pub(crate) fn into_parts(self) -> (Box<dyn Transport>, BytesMut) {
        (self.io, self.read_buf)
    }
}

/// The TCP socket a transport runs on: the stream itself, or the one under a TLS stream
/// (a reset must reach the socket whatever protocol runs over it).
fn tcp_under(io: &dyn Transport) -> Option<&tokio::net::TcpStream> {
    let io: &dyn std::any::Any = io;
    if let Some(tcp) = io.downcast_ref::<tokio::net::TcpStream>() {
        return Some(tcp);
    }
    #[cfg(feature = "tls")]
    {
        if let Some(tls) = io.downcast_ref::<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>() {
            return Some(tls.get_ref().0);
        }
        if let Some(tls) = io.downcast_ref::<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>() {
            return Some(tls.get_ref().0);
        }
    }
    None
}

#[allow(deprecated)] // set_linger is deprecated only because a non-zero linger blocks on drop
fn socket_linger_zero(tcp: &tokio::net::TcpStream) -> io::Result<()> {
    tcp.set_linger(Some(Duration::ZERO))
}

/// Runs one I/O step under the activity timeout, turning expiry into `TimedOut`.
pub(crate) async fn with_timeout<T>(
    limit: Duration,
    step: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match within(limit, step).await {
        Ok(outcome) => outcome,
        Err(_) => Err(timed_out(limit)),
    }
}

/// `step`, or `None` if it is not done by the instant `at` gives. The timer is made only
/// when the first poll finds the step not ready (so `at` is not even computed for a ready
/// step), and the step is pinned by the caller: this future adds only the timer to it.
pub(crate) async fn until<F: Future>(
    mut step: Pin<&mut F>,
    at: impl FnOnce() -> tokio::time::Instant,
) -> Option<F::Output> {
    let mut timer = std::pin::pin!(None::<tokio::time::Sleep>);
    let mut at = Some(at);
    poll_fn(|cx| {
        if let Poll::Ready(output) = step.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if let Some(at) = at.take() {
            timer.set(Some(tokio::time::sleep_until(at())));
        }
        match timer.as_mut().as_pin_mut() {
            Some(timer) => timer.poll(cx).map(|()| None),
            None => Poll::Pending,
        }
    })
    .await
}

/// `limit` from now. Saturating: `Duration::MAX`, the usual way to say "no timeout", must
/// not overflow (tokio's own `sleep` saturates the same way).
pub(crate) fn deadline_after(limit: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(limit).unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// `future`'s output, or `Err(Elapsed)` if it takes longer than `limit`. A future that is
/// ready at once (most writes, reads of buffered bytes) never starts a timer: timers are
/// the most expensive part of a short step.
pub(crate) async fn within<F: Future>(
    limit: Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut future = std::pin::pin!(future);
    if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        return Ok(output);
    }
    tokio::time::timeout(limit, future).await
}

fn timed_out(limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("timed out after {} of inactivity", describe_duration(limit)),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Reads once per call until `total` bytes have arrived; the size of each read.
    async fn read_sizes(read_size: usize, total: usize) -> Vec<usize> {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        theirs.write_all(&vec![7u8; total]).await.unwrap();
        let mut conn = Wire::new(Box::new(ours), read_size, Duration::from_secs(5));
        let mut sizes = Vec::new();
        while (conn.bytes_read() as usize) < total {
            sizes.push(conn.read_once().await.unwrap());
        }
        assert_eq!(conn.read_buf.len(), total);
        sizes
    }

    #[tokio::test]
    async fn reads_start_small_and_double_while_they_come_back_full() {
        assert_eq!(read_sizes(16 * 1024, 100).await, [100]);
        assert_eq!(read_sizes(16 * 1024, 20_000).await, [2048, 4096, 8192, 5664]);
        assert_eq!(read_sizes(16 * 1024, 40_000).await, [2048, 4096, 8192, 16384, 9280]);
        // Never more than read_size, even from the start.
        assert_eq!(read_sizes(3000, 10_000).await, [2048, 3000, 3000, 1952]);
        assert_eq!(read_sizes(1000, 2500).await, [1000, 1000, 500]);
    }
}
