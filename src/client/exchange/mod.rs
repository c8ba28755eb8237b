//! One request and its response on one connection, as a sans-IO state machine: it is told
//! what the connection did (bytes read, a write done, the `100 Continue` wait over) and
//! says what to do next. No I/O and no tokio here; `driver.rs` drives it over a socket.
//!
//! ```text
//!              start; restart once (retry_stale)
//!                  │
//!                  ▼
//!              SendHead ──── head written, body with it (or none) ──────────┐
//!               │      │                                                    │
//!   head written,      head written, body after it                          │
//!   Expect: 100        │                                                    │
//!               ▼      ▼                                                    ▼
//!      AwaitContinue ─► SendBody ── body written, or answered early ──► ReadHead ◄─┐
//!         │   100, or CONTINUE_WAIT                                         │  1xx: skip
//!         │   without one                                                   ├──────┘
//!         └── final head (the body is never sent) ────────────────────┐     │ final head
//!                                                                     ▼     ▼
//!                                                                     Body ── decode ──► Done
//! ```
//!
//! The final head is where the hop decides ([`after_head`]): retry it (the retry policy),
//! follow a redirect, or deliver it. Failures say which phase they struck in
//! ([`Exchange::read_error`], [`Exchange::write_error`], [`Exchange::expired`]), and a
//! failure on a reused connection before any byte came back may restart the exchange
//! once on a new one ([`Exchange::retry_stale`]).

#[cfg(test)]
mod tests;

use super::events::CloseReason;
use super::prepared::PreparedRequest;
use super::redirect;
use crate::error::{Error, ErrorKind};
use crate::h1::limits::MAX_INTERIM_RESPONSES;
use crate::h1::{
    self, BodyDecoder, BodyEvent, BodyMode, ConnectionTokens, EncodeError, Encoder, Framing, KeepAlive,
    MessageKind, ProtocolError, ResponseHead,
};
use bytes::{Buf, Bytes, BytesMut};
use http::{header, HeaderMap, Method, StatusCode};
use std::io;
use std::time::Duration;

/// How long to wait for `100 Continue` before sending the body anyway (curl waits 1 s too):
/// servers that ignore `Expect` must not stall the request.
pub(crate) const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Bodies up to this size go out in the same write as the head: one syscall, one packet.
pub(crate) const INLINE_BODY_LIMIT: usize = 64 * 1024;

/// Where the exchange is (see the diagram above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// The head is to be written (with the body, when that is small and not held back).
    SendHead,
    /// The head went out with `Expect: 100-continue`: heads are read for at most
    /// [`CONTINUE_WAIT`]. A 100 (or silence) sends the body; a final head ends the sending.
    AwaitContinue,
    /// The body is to be written after the head: from memory, or streamed through the
    /// encoder.
    SendBody,
    /// The request is out, or the server answered before it was: heads are read, interim
    /// (1xx) ones skipped.
    ReadHead,
    /// The final head is in; its body is read.
    Body,
    /// The body has ended, or its head could not be framed.
    Done,
}

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Write [`head_bytes`](Exchange::head_bytes), then call
    /// [`head_written`](Exchange::head_written).
    WriteHead,
    /// Feed read bytes to [`read_head`](Exchange::read_head) for at most this long, then
    /// call [`continue_timed_out`](Exchange::continue_timed_out).
    AwaitContinue(Duration),
    /// Write the body (from memory, or each upload chunk through
    /// [`encode`](Exchange::encode)), then call [`body_written`](Exchange::body_written).
    SendBody,
    /// Feed read bytes to [`read_head`](Exchange::read_head) until it returns a step.
    ReadHead,
    /// The final head: decide what to do with it ([`after_head`]), then read its body
    /// with [`decode`](Exchange::decode).
    Head(ResponseHead),
}

/// How a write of the request went: all of it, or the server gave its final answer first
/// (e.g. a 413 while an upload was going out), which ends the sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    All,
    AnsweredEarly,
}

/// What the exchange needs to know about its request, fixed for its whole life.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The request's method: HEAD and CONNECT change the response's framing.
    pub(crate) method: Method,
    /// The caller asked to upgrade (`Upgrade` set): only then is a 101 a final answer.
    pub(crate) upgrade: bool,
    /// Send the body only after `100 Continue` (or [`CONTINUE_WAIT`]).
    pub(crate) expect_continue: bool,
    /// The request asked for a persistent connection.
    pub(crate) persistent: bool,
    /// The caller's own Connection header says `close`.
    pub(crate) caller_closes: bool,
    /// A failure on a reused connection before any response byte may be retried: the
    /// method is idempotent and the body can be sent again (RFC 9112 §9.3.1).
    pub(crate) retry_stale: bool,
    /// The body is streamed by the driver (an upload), not `body`.
    pub(crate) streamed: bool,
    /// How the body is framed (its Content-Length or chunked).
    pub(crate) framing: Framing,
}

impl Plan {
    /// The plan for `request`, with a streamed body of `upload` length when it has one
    /// (`Some(None)`: unknown, so chunked).
    pub(crate) fn new(request: &PreparedRequest, upload: Option<Option<u64>>, persistent: bool) -> Self {
        let complete = upload.is_none().then_some(request.body.len() as u64);
        let framing =
            h1::framing(h1::Outgoing::Request { method: &request.method }, complete, upload.flatten());
        let has_body = upload.is_some() || !request.body.is_empty();
        Self {
            method: request.method.clone(),
            upgrade: matches!(request.caller_header(&header::UPGRADE), Some(Some(_))),
            expect_continue: has_body && expects_continue(request),
            persistent,
            caller_closes: caller_closes(request),
            retry_stale: upload.is_none() && request.is_idempotent(),
            streamed: upload.is_some(),
            framing,
        }
    }
}

/// One exchange: see the module's documentation.
#[derive(Debug)]
pub(crate) struct Exchange {
    state: State,
    plan: Plan,
    /// The head, and the body when it goes out with it.
    head: Vec<u8>,
    /// A body in memory that goes out after the head (too large to go with it, or held
    /// back for `100 Continue`).
    body: Bytes,
    /// The length of the body that went with the head (for `on_progress`).
    inline_body: usize,
    /// Frames a streamed body, and holds it to its declared length.
    encoder: Encoder,
    /// The framed bytes of the last upload chunk (reused: one allocation per upload).
    framed: Vec<u8>,
    /// Interim (1xx) responses skipped so far (at most [`MAX_INTERIM_RESPONSES`]).
    interim: usize,
    /// The whole request went out before the final head (else the connection cannot be
    /// reused: the rest of the request would be read as the next one).
    fully_sent: bool,
    /// The stale-connection retry was used (it is used once).
    restarted: bool,
    /// The final head's framing, or why it has none that can be trusted.
    mode: Result<BodyMode, ProtocolError>,
    /// What the final head says about persistence.
    keep_alive: KeepAlive,
    /// The final head is a 101: the connection speaks something else now.
    switched: bool,
    decoder: BodyDecoder,
}

impl Exchange {
    /// An exchange that sends `head` (the request head, already written), then `body` as
    /// `plan` says: with the head when small, else after it.
    pub(crate) fn new(plan: Plan, mut head: Vec<u8>, body: Bytes) -> Self {
        let inline = !plan.streamed && !plan.expect_continue && body.len() <= INLINE_BODY_LIMIT;
        let inline_body = if inline { body.len() } else { 0 };
        let body = if inline {
            head.extend_from_slice(&body);
            Bytes::new()
        } else {
            body
        };
        let encoder = plan.framing.encoder();
        Self {
            state: State::SendHead,
            plan,
            head,
            body,
            inline_body,
            encoder,
            framed: Vec::new(),
            interim: 0,
            fully_sent: false,
            restarted: false,
            mode: Ok(BodyMode::Empty),
            keep_alive: KeepAlive::Yes,
            switched: false,
            decoder: BodyDecoder::new(BodyMode::Empty),
        }
    }

    /// The first step.
    pub(crate) fn start(&self) -> Step {
        Step::WriteHead
    }

    /// The bytes of the head (and of a body that goes with it).
    pub(crate) fn head_bytes(&self) -> &[u8] {
        &self.head
    }

    /// True when the body went out with the head.
    pub(crate) fn body_inline(&self) -> bool {
        !self.plan.streamed && self.body.is_empty()
    }

    /// The length of the body that went with the head.
    pub(crate) fn inline_body_len(&self) -> usize {
        self.inline_body
    }

    /// The body to write after the head, when it is in memory.
    pub(crate) fn body(&self) -> &Bytes {
        &self.body
    }

    /// The head (and any body with it) has been written.
    pub(crate) fn head_written(&mut self, sent: Sent) -> Step {
        if sent == Sent::AnsweredEarly || self.body_inline() {
            return self.request_sent(sent);
        }
        if self.plan.expect_continue {
            self.state = State::AwaitContinue;
            return Step::AwaitContinue(CONTINUE_WAIT);
        }
        self.state = State::SendBody;
        Step::SendBody
    }

    /// No `100 Continue` came in time: send the body anyway.
    pub(crate) fn continue_timed_out(&mut self) -> Step {
        debug_assert_eq!(self.state, State::AwaitContinue);
        self.state = State::SendBody;
        Step::SendBody
    }

    /// Frames one chunk of a streamed body: the bytes to write. A chunk past the declared
    /// length is refused (596): it would desynchronise the server.
    pub(crate) fn encode(&mut self, chunk: &[u8]) -> Result<&[u8], Error> {
        self.framed.clear();
        self.encoder.encode(&mut self.framed, chunk).map_err(upload_error)?;
        Ok(&self.framed)
    }

    /// Ends a streamed body: the bytes that end it (the last chunk; nothing for a length),
    /// or a 596 when it fell short of its declared length.
    pub(crate) fn finish_body(&mut self) -> Result<&[u8], Error> {
        self.framed.clear();
        self.encoder.finish(&mut self.framed).map_err(upload_error)?;
        Ok(&self.framed)
    }

    /// The body has been written (or the server answered while it was).
    pub(crate) fn body_written(&mut self, sent: Sent) -> Step {
        self.request_sent(sent)
    }

    fn request_sent(&mut self, sent: Sent) -> Step {
        self.fully_sent = sent == Sent::All;
        self.state = State::ReadHead;
        Step::ReadHead
    }

    /// Takes heads from the start of `buf`: interim ones are skipped (a `100 Continue`
    /// while waiting for one sends the body), the final one is returned. `Ok(None)`: read
    /// more. A 101 is final only when the request asked to upgrade.
    pub(crate) fn read_head(&mut self, buf: &mut BytesMut) -> Result<Option<Step>, Error> {
        debug_assert!(matches!(self.state, State::AwaitContinue | State::ReadHead));
        loop {
            if buf.is_empty() {
                return Ok(None);
            }
            let Some((head, len)) = h1::parse_response_head(buf).map_err(invalid_head)? else {
                return Ok(None);
            };
            buf.advance(len);
            let status = head.status.as_u16();
            if status >= 200 || (status == 101 && self.plan.upgrade) {
                return Ok(Some(self.final_head(head)));
            }
            if status == 101 {
                return Err(Error::new(
                    ErrorKind::ResponseHead,
                    "101 Switching Protocols without an Upgrade request",
                ));
            }
            self.interim += 1;
            if self.interim > MAX_INTERIM_RESPONSES {
                return Err(Error::new(ErrorKind::ResponseHead, "too many interim (1xx) responses"));
            }
            if status == 100 && self.state == State::AwaitContinue {
                self.state = State::SendBody;
                return Ok(Some(Step::SendBody));
            }
        }
    }

    /// The final head: its framing and what it says about persistence. A final answer
    /// while waiting for `100 Continue` means the body is never sent.
    fn final_head(&mut self, head: ResponseHead) -> Step {
        if self.state == State::AwaitContinue {
            self.fully_sent = false;
        }
        let status = head.status.as_u16();
        let kind = MessageKind::Response { request_method: &self.plan.method, status };
        self.mode = h1::body_mode(kind, head.version, &head.headers);
        self.keep_alive = h1::keep_alive(head.version, ConnectionTokens::of(&head.headers));
        self.switched = head.status == StatusCode::SWITCHING_PROTOCOLS;
        match self.mode {
            Ok(mode) => {
                self.decoder = BodyDecoder::new(mode);
                self.state = State::Body;
            }
            Err(_) => self.state = State::Done,
        }
        Step::Head(head)
    }

    /// The final head's body framing; a 596 when the head's framing fields cannot be
    /// trusted (then nothing more is read).
    pub(crate) fn body_mode(&self) -> Result<BodyMode, Error> {
        self.mode.map_err(|cause| {
            Error::new(ErrorKind::ResponseHead, "invalid response framing").with_source(cause)
        })
    }

    /// The next body event from `buf`; `Ok(None)`: read more (or, at end of stream, call
    /// [`decode_eof`](Self::decode_eof)). Bytes after the body stay in `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BodyEvent>, Error> {
        let event = self.decoder.decode(buf).map_err(invalid_body)?;
        if let Some(BodyEvent::End(_)) = event {
            self.state = State::Done;
        }
        Ok(event)
    }

    /// The peer closed the connection: that ends a close-delimited body (call
    /// [`decode`](Self::decode) once more for the end) and is a 597 for any other.
    pub(crate) fn decode_eof(&mut self) -> Result<(), Error> {
        self.decoder.decode_eof().map_err(invalid_body)
    }

    /// Why the connection cannot carry another request after this exchange, `None` when
    /// it can: only after a clean, complete exchange (`complete`: the body was read to its
    /// end). RFC 9112 §9.3: HTTP/1.1 persists unless told `close`; HTTP/1.0 only when
    /// told `keep-alive`.
    pub(crate) fn close_reason(&self, complete: bool) -> Option<CloseReason> {
        if !complete {
            return Some(CloseReason::BodyNotRead);
        }
        if !self.plan.persistent {
            Some(CloseReason::NotPersistent)
        } else if self.plan.caller_closes {
            Some(CloseReason::RequestSaidClose)
        } else if !self.fully_sent {
            Some(CloseReason::AnsweredEarly)
        } else if self.keep_alive == KeepAlive::SaidClose {
            Some(CloseReason::ServerSaidClose)
        } else if self.keep_alive == KeepAlive::Http10 {
            Some(CloseReason::Http10)
        } else if self.mode == Ok(BodyMode::CloseDelimited) {
            Some(CloseReason::CloseDelimited)
        } else if self.switched {
            Some(CloseReason::SwitchedProtocols)
        } else {
            None
        }
    }

    /// A failure on a reused connection before any response byte arrived (it was probably
    /// closed by the server while idle): when the request may be repeated and this has not
    /// happened before, the exchange starts over (on a new connection) and this is true.
    pub(crate) fn retry_stale(&mut self, error: &Error, reused: bool, nothing_arrived: bool) -> bool {
        if !(reused && nothing_arrived && self.plan.retry_stale && !self.restarted) || error.is_timeout() {
            return false;
        }
        self.restarted = true;
        self.interim = 0;
        self.fully_sent = false;
        self.state = State::SendHead;
        true
    }

    /// A read failed (596 while heads are read, 597 in the body).
    pub(crate) fn read_error(&self, cause: io::Error) -> Error {
        match self.state {
            State::Body | State::Done => {
                Error::new(ErrorKind::ResponseBody, "read response body").with_source(cause)
            }
            _ => Error::new(ErrorKind::ResponseHead, "read response head").with_source(cause),
        }
    }

    /// What a read bounded by the deadline gave (the outer result is the deadline's, the
    /// inner the read's): the bytes read (`0`: the peer closed), or the error of the phase
    /// the exchange is in.
    pub(crate) fn read_result(&self, read: io::Result<io::Result<usize>>) -> Result<usize, Error> {
        read.map_err(|expired| self.expired(expired))?.map_err(|cause| self.read_error(cause))
    }

    /// A write failed (596).
    pub(crate) fn write_error(&self, cause: io::Error) -> Error {
        Error::new(ErrorKind::Send, "send request").with_source(cause)
    }

    /// The peer closed the connection while heads were read (596).
    pub(crate) fn closed(&self, buf: &BytesMut) -> Error {
        let what = if buf.is_empty() {
            "connection closed before the response head"
        } else {
            "connection closed in the middle of the response head"
        };
        Error::new(ErrorKind::ResponseHead, what)
    }

    /// The deadline struck: the phase it struck in decides the status (596 while the
    /// request goes out or its head is read, 597 in the body).
    pub(crate) fn expired(&self, cause: io::Error) -> Error {
        match self.state {
            State::SendHead | State::AwaitContinue | State::SendBody => self.write_error(cause),
            State::ReadHead | State::Body | State::Done => self.read_error(cause),
        }
    }
}

/// True when `buf` starts with a complete final (non-1xx) response head: the server's
/// answer, which ends a request's sending early.
pub(crate) fn final_head_buffered(buf: &[u8]) -> bool {
    matches!(h1::parse_response_head(buf), Ok(Some((head, _))) if head.status.as_u16() >= 200)
}

/// What a hop does with its final head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The retry policy sends the request again after this pause (a 503 or 429): the
    /// response is read in part (so its connection can be reused) and dropped.
    Retry(Duration),
    /// Follow this Location: the response is kept as a hop of the redirect chain.
    Redirect(String),
    /// This is the response: its callbacks run and its body is read.
    Deliver,
}

/// The hop's decision on a final head (`status`, `headers`): the retry policy's `pause`
/// first (a response it retries is never seen by callbacks), then redirects (when still
/// followed; 307 and 308 would need the body again, so with a streamed one the 3xx is the
/// answer), else deliver. A redirect with a broken Location is an error; one without a
/// Location is delivered.
pub(crate) fn after_head(
    status: StatusCode,
    headers: &HeaderMap,
    pause: Option<Duration>,
    follow_redirects: bool,
    streamed_body: bool,
) -> Result<Outcome, Error> {
    if let Some(pause) = pause {
        return Ok(Outcome::Retry(pause));
    }
    let keeps_body = matches!(status.as_u16(), 307 | 308);
    if follow_redirects && redirect::is_redirect(status) && !(streamed_body && keeps_body) {
        if let Some(location) = redirect::location(headers)? {
            return Ok(Outcome::Redirect(location));
        }
    }
    Ok(Outcome::Deliver)
}

/// True when the caller's own Connection header asks to close.
fn caller_closes(request: &PreparedRequest) -> bool {
    let mut tokens = ConnectionTokens::default();
    for (name, value) in &request.headers {
        if let (true, Some(value)) = (name == header::CONNECTION, value) {
            tokens.add(value);
        }
    }
    tokens.close
}

fn expects_continue(request: &PreparedRequest) -> bool {
    matches!(request.caller_header(&header::EXPECT), Some(Some(value)) if value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

fn invalid_head(cause: ProtocolError) -> Error {
    Error::new(ErrorKind::ResponseHead, "invalid response head").with_source(cause)
}

fn invalid_body(cause: ProtocolError) -> Error {
    Error::new(ErrorKind::ResponseBody, "invalid response body").with_source(cause)
}

/// A streamed body that does not match its declared length (596).
fn upload_error(error: EncodeError) -> Error {
    let what = match error {
        EncodeError::TooLong { declared } => {
            format!("the request body is longer than its declared {declared} bytes")
        }
        EncodeError::TooShort { sent, declared } => {
            format!("the request body ended after {sent} of its declared {declared} bytes")
        }
    };
    Error::new(ErrorKind::Send, what)
}
