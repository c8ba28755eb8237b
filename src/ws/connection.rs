//! An established WebSocket connection: send and receive messages, close with a code, and
//! learn how it finished. tokio-tungstenite does the framing; this file decides what a
//! server does around it (close codes for errors, lingering close, shutdown).

use super::SessionLimits;
use crate::io::Transport;
use bytes::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

/// A close reason is at most 123 bytes: a control frame carries 125, two are the code.
const MAX_CLOSE_REASON: usize = 123;
/// The reason tungstenite puts in the Close frame it substitutes for an invalid one.
const TUNGSTENITE_PROTOCOL_VIOLATION: &str = "Protocol violation";
/// A ping's payload is at most 125 bytes (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// A message received from or sent to the client.
///
/// Pings are answered with a pong automatically; they are shown so a server can notice
/// them, not so it has to answer.
///
/// ```
/// use courier::ws::Message;
/// assert_eq!(Message::from("hi"), Message::Text("hi".into()));
/// assert_eq!(Message::from(vec![1u8, 2]).as_text(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message (always valid UTF-8: invalid text fails the connection with 1007).
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping from the client (already answered).
    Ping(Bytes),
    /// A pong from the client (the answer to [`Sender::ping`], or unsolicited).
    Pong(Bytes),
}

impl Message {
    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The payload's bytes, whatever the kind.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data,
        }
    }

    fn into_frame(self) -> WsMessage {
        match self {
            Self::Text(text) => WsMessage::Text(text.into()),
            Self::Binary(data) => WsMessage::Binary(data),
            Self::Ping(data) => WsMessage::Ping(data),
            Self::Pong(data) => WsMessage::Pong(data),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Self::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::Binary(data.into())
    }
}

/// How a connection finished (AnyEvent::WebSocket::Connection's `finish` event, with the close code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finish {
    /// The code of the first Close frame of the closing handshake: the client's when it
    /// closed first (1005 when its frame had no code), ours when we did (1001 on server
    /// shutdown, 1002/1007/1009 when the client broke the protocol), whether or not the
    /// handshake completed; 1006 when no Close frame was exchanged at all.
    pub code: u16,
    /// The reason that came with the code (may be empty).
    pub reason: String,
    /// True when the client started the closing handshake.
    pub by_peer: bool,
    /// True when both Close frames were exchanged before the socket closed.
    pub clean: bool,
    /// What went wrong, when the connection failed rather than closed.
    pub error: Option<String>,
}

impl Finish {
    fn abnormal(error: impl Into<String>) -> Self {
        Self { code: 1006, reason: String::new(), by_peer: false, clean: false, error: Some(error.into()) }
    }
}

/// Why a message could not be sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed.
    Closed,
    /// The client did not take the bytes within the write timeout. The message may still
    /// go out with a later write.
    TimedOut,
    /// The socket failed.
    Io(io::Error),
    /// The message cannot be sent as asked (a ping over 125 bytes, a reserved close code).
    Invalid(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("the WebSocket connection is closed"),
            Self::TimedOut => f.write_str("the client did not read in time"),
            Self::Io(error) => write!(f, "WebSocket write failed: {error}"),
            Self::Invalid(why) => write!(f, "invalid WebSocket message: {why}"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<WsError> for SendError {
    fn from(error: WsError) -> Self {
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => Self::Closed,
            WsError::Protocol(tokio_tungstenite::tungstenite::error::ProtocolError::SendAfterClosing) => {
                Self::Closed
            }
            WsError::Io(error) => Self::Io(error),
            other => Self::Invalid(other.to_string()),
        }
    }
}

type Socket = WebSocketStream<Box<dyn Transport>>;

/// What both halves share. The socket sits behind a plain mutex held only inside a poll
/// (never across an await), so the reader and a writer can run at once. Writers take
/// turns through `write_permit`: tokio-tungstenite keeps one waker for the write side, so
/// two tasks driving it at once could leave one of them never woken.
struct Shared {
    socket: Mutex<Socket>,
    write_permit: tokio::sync::Mutex<()>,
    /// Our Close frame, once sent: the client has `close_timeout` to answer it.
    close_sent: Mutex<Option<LocalClose>>,
    close_sent_changed: Notify,
    finish: watch::Sender<Option<Finish>>,
    limits: SessionLimits,
}

impl Shared {
    fn socket(&self) -> MutexGuard<'_, Socket> {
        // A panic while polling cannot leave the socket half-updated in a way the next
        // poll cannot handle: keep going rather than poisoning every later call.
        self.socket.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn local_close(&self) -> Option<LocalClose> {
        self.close_sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// When the client must have answered our Close frame (`None`: not sent, or no limit).
    fn close_deadline(&self) -> Option<Instant> {
        self.local_close().and_then(|sent| sent.at.checked_add(self.limits.close_timeout))
    }

    /// How a connection ends when our Close frame got no answer: with our code, unclean.
    fn unanswered(&self, why: &str) -> Finish {
        match self.local_close() {
            Some(ours) => Finish {
                code: ours.code,
                reason: ours.reason,
                by_peer: false,
                clean: false,
                error: Some(why.into()),
            },
            None => Finish::abnormal(why),
        }
    }

    /// Sends one frame and flushes it, within the write timeout (waiting for another
    /// writer counts).
    async fn send(&self, message: WsMessage) -> Result<(), SendError> {
        let write = async {
            let _permit = self.write_permit.lock().await;
            poll_fn(|cx| self.socket().poll_ready_unpin(cx)).await?;
            self.socket().start_send_unpin(message)?;
            poll_fn(|cx| self.socket().poll_flush_unpin(cx)).await
        };
        match tokio::time::timeout(self.limits.write_timeout, write).await {
            Ok(written) => written.map_err(SendError::from),
            Err(_) => Err(SendError::TimedOut),
        }
    }

    /// Writes out what tungstenite queued by itself (a pong), within the write timeout.
    /// When another writer is busy there is nothing to do: its flush carries the pong.
    async fn flush_queued(&self) -> Result<(), SendError> {
        let Ok(_permit) = self.write_permit.try_lock() else { return Ok(()) };
        let flush = poll_fn(|cx| self.socket().poll_flush_unpin(cx));
        match tokio::time::timeout(self.limits.write_timeout, flush).await {
            Ok(flushed) => flushed.map_err(SendError::from),
            Err(_) => Err(SendError::TimedOut),
        }
    }

    async fn close(&self, code: u16, reason: &str) -> Result<(), SendError> {
        if !CloseCode::from(code).is_allowed() {
            return Err(SendError::Invalid(format!("{code} is not a close code an endpoint may send")));
        }
        let reason = truncate(reason);
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.clone().into() };
        {
            let mut sent = self.close_sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            sent.get_or_insert(LocalClose { at: Instant::now(), code, reason });
        }
        self.close_sent_changed.notify_waiters();
        self.send(WsMessage::Close(Some(frame))).await
    }

    /// Closes our side of the socket (FIN), taking a writer's turn; bounded by the close
    /// timeout.
    async fn shutdown(&self) {
        let shutdown = async {
            let _permit = self.write_permit.lock().await;
            let _ = poll_fn(|cx| Pin::new(self.socket().get_mut()).poll_shutdown(cx)).await;
        };
        let _ = tokio::time::timeout(self.limits.close_timeout, shutdown).await;
    }

    fn finished(&self, finish: Finish) {
        self.finish.send_if_modified(|slot| {
            let first = slot.is_none();
            if first {
                *slot = Some(finish);
            }
            first
        });
    }
}

/// The Close frame we sent.
#[derive(Clone)]
struct LocalClose {
    at: Instant,
    code: u16,
    reason: String,
}

/// The longest prefix of `reason` that fits a Close frame, cut at a character boundary.
fn truncate(reason: &str) -> String {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// The close code a server sends when the client broke the rules (RFC 6455 §7.4.1);
/// `None` when the connection simply failed (nothing to tell the client).
fn close_code_for(error: &WsError) -> Option<u16> {
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    match error {
        // The client closed TCP without a Close frame: nobody left to tell (1006).
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Utf8(_) => Some(1007),
        WsError::Capacity(_) => Some(1009),
        WsError::Protocol(_) | WsError::AttackAttempt => Some(1002),
        _ => None,
    }
}

/// The sending half: cheap to clone, usable from any task while another task receives.
///
/// ```no_run
/// # async fn demo(connection: courier::ws::Connection) {
/// let (sender, mut receiver) = connection.split();
/// let ticker = tokio::spawn(async move {
///     for n in 0..3 {
///         if sender.send_text(format!("tick {n}")).await.is_err() {
///             break;
///         }
///     }
/// });
/// while let Some(message) = receiver.recv().await {
///     println!("client said {message:?}");
/// }
/// let _ = ticker.await;
/// # }
/// ```
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Sends a message (text, binary, ping or pong) and flushes it.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let message = message.into();
        if let Message::Ping(data) | Message::Pong(data) = &message {
            if data.len() > MAX_CONTROL_PAYLOAD {
                return Err(SendError::Invalid(format!(
                    "a control frame carries at most {MAX_CONTROL_PAYLOAD} bytes"
                )));
            }
        }
        self.shared.send(message.into_frame()).await
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), SendError> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send(Message::Binary(data.into())).await
    }

    /// Sends a ping (at most 125 bytes); the client's pong arrives as [`Message::Pong`].
    pub async fn ping(&self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send(Message::Ping(payload.into())).await
    }

    /// Starts the closing handshake with `code` (1000 for a normal close) and `reason`
    /// (cut to 123 bytes). The receiving half ends once the client answers, or after the
    /// close timeout. A code an endpoint may not send is refused (`SendError::Invalid`).
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), SendError> {
        self.shared.close(code, reason).await
    }

    /// How the connection finished, once it has.
    pub fn finish(&self) -> Option<Finish> {
        self.shared.finish.borrow().clone()
    }

    /// Waits until the connection has finished (the receiving half must be polled for
    /// the closing handshake to complete).
    pub async fn finished(&self) -> Finish {
        let mut watch = self.shared.finish.subscribe();
        let finish = match watch.wait_for(Option::is_some).await {
            Ok(finish) => finish.clone(),
            Err(_) => None,
        };
        finish.unwrap_or_else(|| Finish::abnormal("connection dropped"))
    }
}

/// The receiving half. Reading also answers pings and completes the closing handshake.
pub struct Receiver {
    shared: Arc<Shared>,
    /// The bundled server's shutdown signal: on shutdown, close with 1001.
    shutdown: Option<watch::Receiver<bool>>,
    /// The client's Close frame, once it came (the reply is sent on the next read), and
    /// when our reply must be out by.
    peer_close: Option<(Finish, Option<Instant>)>,
    done: bool,
}

impl Receiver {
    /// The next message; `None` once the connection has finished (see
    /// [`Receiver::finish`] for how).
    ///
    /// Cancel-safe for messages (none is lost if the future is dropped); dropping it while
    /// the connection is closing may skip the orderly end, as dropping the receiver does.
    pub async fn recv(&mut self) -> Option<Message> {
        while !self.done {
            let changed = self.shared.close_sent_changed.notified();
            let reply_deadline = self.peer_close.as_ref().and_then(|(_, deadline)| *deadline);
            let deadline = self.shared.close_deadline().into_iter().chain(reply_deadline).min();
            let read = poll_fn(|cx| self.shared.socket().poll_next_unpin(cx));
            let next = tokio::select! {
                next = read => next,
                () = going_away(&mut self.shutdown) => {
                    self.shutdown = None;
                    if self.shared.close(1001, "server shutting down").await.is_err() {
                        let finish = self.shared.unanswered("could not send the close frame");
                        self.end(finish).await;
                    }
                    continue;
                }
                () = changed => continue,
                () = sleep_until(deadline) => {
                    let finish = match self.peer_close.take() {
                        Some((theirs, _)) => Finish {
                            clean: false,
                            error: Some("the client did not take our close reply in time".into()),
                            ..theirs
                        },
                        None => self.shared.unanswered("the client did not answer the close frame in time"),
                    };
                    self.end(finish).await;
                    return None;
                }
            };
            match next {
                Some(Ok(WsMessage::Text(text))) => return Some(Message::Text(text.as_str().to_owned())),
                Some(Ok(WsMessage::Binary(data))) => return Some(Message::Binary(data)),
                Some(Ok(WsMessage::Ping(data))) => {
                    // tungstenite queued the pong; send it now rather than on the next read,
                    // which may be a long time coming.
                    if let Err(error) = self.shared.flush_queued().await {
                        self.end(Finish::abnormal(format!("could not answer a ping: {error}"))).await;
                    }
                    return Some(Message::Ping(data));
                }
                Some(Ok(WsMessage::Pong(data))) => return Some(Message::Pong(data)),
                Some(Ok(WsMessage::Close(frame))) => {
                    let limit = self.shared.limits.close_timeout;
                    self.peer_close = Some((self.closing(frame), Instant::now().checked_add(limit)));
                }
                Some(Ok(WsMessage::Frame(_))) => {}
                None => {
                    let finish = match self.peer_close.take() {
                        Some((finish, _)) => finish,
                        None => Finish::abnormal("connection closed"),
                    };
                    self.end(finish).await;
                }
                Some(Err(error)) => self.fail(error).await,
            }
        }
        None
    }

    /// Turns a Close frame into the finish it announces.
    fn closing(&self, frame: Option<CloseFrame>) -> Finish {
        // When we closed first, our code describes the handshake; the echo confirms it.
        if let Some(ours) = self.shared.local_close() {
            return Finish { code: ours.code, reason: ours.reason, by_peer: false, clean: true, error: None };
        }
        let (code, reason) = match frame {
            Some(frame) => (u16::from(frame.code), frame.reason.as_str().to_owned()),
            None => (1005, String::new()),
        };
        // tungstenite answers a Close frame with a code no endpoint may send (or a 1-byte
        // payload) itself, with 1002 "Protocol violation", and hands us that frame in place
        // of the client's: the client broke the protocol, it did not close cleanly.
        if code == 1002 && reason == TUNGSTENITE_PROTOCOL_VIOLATION {
            let error = Some("the client's Close frame was invalid".to_owned());
            return Finish { code, reason, by_peer: false, clean: false, error };
        }
        Finish { code, reason, by_peer: true, clean: true, error: None }
    }

    /// The client broke the protocol: tell it why with the matching close code, then
    /// close without dropping what it may still be sending.
    async fn fail(&mut self, error: WsError) {
        let description = error.to_string();
        let Some(code) = close_code_for(&error) else {
            self.end(Finish::abnormal(description)).await;
            return;
        };
        let _ = self.shared.close(code, &description).await;
        let finish = Finish {
            code,
            reason: truncate(&description),
            by_peer: false,
            clean: false,
            error: Some(description),
        };
        self.end(finish).await;
    }

    /// Records how the connection finished and closes the socket (FIN). After a failure
    /// the client may still be sending: a background task reads and discards until it
    /// closes too (bounded by the close timeout), because closing with unread bytes sends
    /// a reset, and a reset can destroy our Close frame before the client reads it.
    async fn end(&mut self, finish: Finish) {
        self.done = true;
        let clean = finish.clean;
        self.shared.finished(finish);
        self.shared.shutdown().await;
        if !clean {
            let shared = self.shared.clone();
            let limit = shared.limits.close_timeout;
            tokio::spawn(async move {
                let _ = tokio::time::timeout(limit, drain(&shared)).await;
            });
        }
    }

    /// How the connection finished, once [`Receiver::recv`] has returned `None`.
    pub fn finish(&self) -> Option<Finish> {
        self.shared.finish.borrow().clone()
    }

    /// The messages as a `Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Message> + Send + Unpin {
        Box::pin(futures_util::stream::unfold(self, |mut receiver| async move {
            let message = receiver.recv().await?;
            Some((message, receiver))
        }))
    }
}

impl Drop for Receiver {
    /// A receiver dropped before the end (its task ended, or the server's grace period ran
    /// out) still finishes the connection: waiters on `finished()` learn it, and the socket
    /// is closed even while `Sender` clones live on.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.shared.finished(self.shared.unanswered("the receiving half was dropped"));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            runtime.spawn(async move { shared.shutdown().await });
        }
    }
}

/// Reads and discards until the client closes its side (or the socket fails).
async fn drain(shared: &Shared) {
    let mut scratch = [0u8; 4096];
    loop {
        let mut buf = ReadBuf::new(&mut scratch);
        let read = poll_fn(|cx| Pin::new(shared.socket().get_mut()).poll_read(cx, &mut buf)).await;
        if read.is_err() || buf.filled().is_empty() {
            break;
        }
    }
}

/// Resolves when the server begins shutting down; never without a server.
async fn going_away(shutdown: &mut Option<watch::Receiver<bool>>) {
    match shutdown {
        Some(shutdown) => {
            if shutdown.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// An established WebSocket connection (AnyEvent::WebSocket::Connection).
///
/// ```no_run
/// # async fn echo(mut connection: courier::ws::Connection) {
/// use courier::ws::Message;
/// while let Some(message) = connection.recv().await {
///     if let Message::Text(_) | Message::Binary(_) = message {
///         if connection.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
/// println!("finished with code {:?}", connection.finish().map(|f| f.code));
/// # }
/// ```
pub struct Connection {
    sender: Sender,
    receiver: Receiver,
    subprotocol: Option<String>,
}

impl Connection {
    /// Wraps a stream whose handshake is done. `leftover` holds bytes the client sent
    /// after its handshake request (they are frames, read before the socket).
    pub(crate) async fn open(
        io: Box<dyn Transport>,
        leftover: Vec<u8>,
        subprotocol: Option<String>,
        limits: SessionLimits,
        shutdown: Option<watch::Receiver<bool>>,
    ) -> Self {
        let config = WebSocketConfig::default()
            .read_buffer_size(limits.read_buffer_size)
            .max_message_size(Some(limits.max_message_size))
            .max_frame_size(Some(limits.max_frame_size));
        let socket = WebSocketStream::from_partially_read(io, leftover, Role::Server, Some(config)).await;
        let shared = Arc::new(Shared {
            socket: Mutex::new(socket),
            write_permit: tokio::sync::Mutex::new(()),
            close_sent: Mutex::new(None),
            close_sent_changed: Notify::new(),
            finish: watch::channel(None).0,
            limits,
        });
        let receiver = Receiver { shared: shared.clone(), shutdown, peer_close: None, done: false };
        Self { sender: Sender { shared }, receiver, subprotocol }
    }

    /// The next message; `None` once the connection has finished.
    pub async fn recv(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }

    /// Sends a message (see [`Sender::send`]).
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.sender.send(message).await
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), SendError> {
        self.sender.send_text(text).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.sender.send_binary(data).await
    }

    /// Sends a ping (at most 125 bytes).
    pub async fn ping(&self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.sender.ping(payload).await
    }

    /// Closes with `code` and `reason`, waits for the client's answer (up to the close
    /// timeout; messages still arriving are discarded) and says how it finished. A code
    /// an endpoint may not send (1005, 1006, 1015, below 1000, …) is refused and the
    /// connection left as it was.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<Finish, SendError> {
        if let Err(SendError::Invalid(why)) = self.sender.close(code, reason).await {
            return Err(SendError::Invalid(why));
        }
        // Any other failure to send shows in how the connection ends (the close deadline
        // runs from now either way).
        while self.receiver.recv().await.is_some() {}
        Ok(self.receiver.finish().unwrap_or_else(|| Finish::abnormal("connection dropped")))
    }

    /// How the connection finished, once [`Connection::recv`] has returned `None`.
    pub fn finish(&self) -> Option<Finish> {
        self.receiver.finish()
    }

    /// The subprotocol chosen in the handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// A sending half for other tasks (the connection keeps its own).
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Splits into a sending half (cloneable) and the receiving half.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("subprotocol", &self.subprotocol).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_are_cut_at_a_character_boundary() {
        let long = "é".repeat(100);
        let cut = truncate(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.len() == 122, "{}", cut.len());
        assert_eq!(truncate("bye"), "bye");
    }

    #[test]
    fn protocol_errors_map_to_their_close_codes() {
        use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
        assert_eq!(close_code_for(&WsError::Utf8("bad".into())), Some(1007));
        let too_long = CapacityError::MessageTooLong { size: 2, max_size: 1 };
        assert_eq!(close_code_for(&WsError::Capacity(too_long)), Some(1009));
        assert_eq!(close_code_for(&WsError::Protocol(ProtocolError::UnmaskedFrameFromClient)), Some(1002));
        assert_eq!(close_code_for(&WsError::ConnectionClosed), None);
    }
}
