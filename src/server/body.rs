//! A request body on the wire: the connection loop reads it, handlers ask for it.
//!
//! The connection loop owns the socket. A handler that wants the next piece of the body
//! sends a demand (a one-shot slot for the answer) through a channel; the loop, which
//! polls the handler and the demands together, reads the piece from the socket and
//! answers. So the socket is never shared or locked, `100 Continue` goes out only when a
//! handler first asks for the body, and a handler that never reads it costs nothing.
//! (hyper's dispatcher works the same way.)

use super::{BodyError, Request};
use crate::h1::{BodyDecoder, BodyEvent, ProtocolError};
use crate::io::{ReadError, Wire};
use bytes::Bytes;
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

/// The next piece of a body, `None` at its end.
pub(crate) type Piece = Result<Option<Bytes>, BodyError>;

/// A handler's request for the next piece: where to put the answer.
type Demand = oneshot::Sender<Piece>;

/// The handler's side of a body: asks the connection loop for pieces.
#[derive(Debug)]
pub(crate) struct BodyReader {
    demands: mpsc::Sender<Demand>,
    /// The answer slot of a read that was cancelled after its demand went out: the loop
    /// may already have put a piece in it (or will), so the next read waits on it rather
    /// than making a new demand. (A dropped slot would drop its piece with it.)
    pending: std::sync::Mutex<Option<oneshot::Receiver<Piece>>>,
}

impl BodyReader {
    fn new(demands: mpsc::Sender<Demand>) -> Self {
        Self { demands, pending: std::sync::Mutex::new(None) }
    }

    /// The next piece. `Ok(None)` also once the loop has stopped serving the body: the
    /// handler returned its reply, and the server drained what was left.
    ///
    /// Cancel-safe: a read dropped while it waits leaves its answer for the next read.
    pub(crate) async fn next(&self) -> Piece {
        let answered = match self.take_pending() {
            Some(answered) => answered,
            None => {
                let (answer, answered) = oneshot::channel();
                if self.demands.send(answer).await.is_err() {
                    return Ok(None);
                }
                answered
            }
        };
        let mut waiting = Waiting { reader: self, answered: Some(answered) };
        let answer = match &mut waiting.answered {
            Some(answered) => answered.await,
            None => Ok(Ok(None)),
        };
        waiting.answered = None;
        answer.unwrap_or(Ok(None))
    }

    fn take_pending(&self) -> Option<oneshot::Receiver<Piece>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

/// A read waiting for its answer; dropped before the answer was taken (a cancelled
/// read), it hands the answer slot back to the reader.
struct Waiting<'r> {
    reader: &'r BodyReader,
    answered: Option<oneshot::Receiver<Piece>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(answered) = self.answered.take() {
            *self.reader.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(answered);
        }
    }
}

/// The connection loop's side of a body: the demands to answer, and the reading.
pub(crate) struct IncomingBody {
    demands: mpsc::Receiver<Demand>,
    reading: Reading,
}

/// Where reading the body stands.
struct Reading {
    decoder: BodyDecoder,
    /// The client sent `Expect: 100-continue` and has not been told to go ahead yet.
    send_continue: bool,
    /// The `100 Continue` was being written when its read was cancelled (the handler
    /// finished first): part of it may be on the wire, so no reply may follow it.
    continue_cut: bool,
    /// A piece read for a demand whose answer slot is gone (a cancelled read keeps its
    /// slot for the next read, see `BodyReader::pending`, so only a reader dropped whole):
    /// the next demand, or the server's drain, gets it, so no byte of the body is lost.
    unclaimed: Option<Piece>,
    /// How reading ended: `Some(Ok(()))` at the end of the body, `Some(Err(_))` after a
    /// failure, which every later read repeats.
    ended: Option<Result<(), BodyError>>,
}

impl IncomingBody {
    /// The loop's side and the handler's side of a body framed by `decoder`.
    pub(crate) fn new(decoder: BodyDecoder, send_continue: bool) -> (Self, BodyReader) {
        // One demand at a time is all a reader makes: it waits for each answer.
        let (demands_in, demands) = mpsc::channel(1);
        let reading = Reading { decoder, send_continue, continue_cut: false, unclaimed: None, ended: None };
        (Self { demands, reading }, BodyReader::new(demands_in))
    }

    /// True once the body was read to its end without a failure.
    pub(crate) fn is_complete(&self) -> bool {
        matches!(self.reading.ended, Some(Ok(())))
    }

    /// True once reading failed (too large, malformed, closed): the connection must not
    /// carry another request.
    pub(crate) fn failed(&self) -> bool {
        matches!(self.reading.ended, Some(Err(_)))
    }

    /// True when a `100 Continue` was cut short mid-write: the connection can carry no reply.
    pub(crate) fn continue_cut_short(&self) -> bool {
        self.reading.continue_cut
    }

    /// True when the client still waits for `100 Continue`: nobody asked for the body.
    pub(crate) fn continue_pending(&self) -> bool {
        self.reading.send_continue
    }

    /// Reads the next piece (see `Reading::next`): the server's own drain, once the
    /// handler is done.
    pub(crate) async fn read_piece(&mut self, conn: &mut Wire, request: &Request) -> Piece {
        self.reading.next(conn, request).await
    }

    /// Runs `dispatch` (the handlers) to its end while answering its demands for pieces.
    /// The socket read for a demand runs alongside the handler, so a handler with its own
    /// timeout around a body read still sees it fire.
    pub(crate) async fn serve_while<F: Future>(
        &mut self,
        conn: &mut Wire,
        request: &Request,
        dispatch: F,
    ) -> F::Output {
        let Self { demands, reading } = self;
        let mut dispatch = std::pin::pin!(dispatch);
        let mut waiting: Option<Demand> = None;
        let mut readers_left = true;
        loop {
            tokio::select! {
                biased;
                output = &mut dispatch => return output,
                demand = demands.recv(), if waiting.is_none() && readers_left => match demand {
                    Some(demand) => waiting = Some(demand),
                    None => readers_left = false,
                },
                // Cancel-safe: what a cancelled read took from the socket stays in the
                // connection's buffer, and the decoder only moves on a complete event.
                piece = reading.next(conn, request), if waiting.is_some() => {
                    if let Some(demand) = waiting.take() {
                        // A reader that gave up leaves its piece for the next demand.
                        if let Err(piece) = demand.send(piece) {
                            reading.unclaimed = Some(piece);
                        }
                    }
                }
            }
        }
    }
}

impl Reading {
    /// Reads the next piece from the socket (sending `100 Continue` first if the client
    /// waits for it), and notes it in the request's record: the body limit, the log's
    /// copy, the end and its trailers, or the failure.
    async fn next(&mut self, conn: &mut Wire, request: &Request) -> Piece {
        if let Some(piece) = self.unclaimed.take() {
            return piece;
        }
        match &self.ended {
            Some(Ok(())) => return Ok(None),
            Some(Err(error)) => return Err(error.clone()),
            None => {}
        }
        if self.send_continue {
            // (Marked while it is written: a write cut short leaves the wire unusable.)
            self.continue_cut = true;
            conn.write_all(crate::h1::CONTINUE).await.map_err(|_| self.fail(BodyError::Closed))?;
            (self.send_continue, self.continue_cut) = (false, false);
        }
        match conn.read_body_event(&mut self.decoder).await {
            Ok(BodyEvent::Data(data)) => match request.note_piece(&data) {
                Ok(()) => Ok(Some(data)),
                Err(error) => Err(self.fail(error)),
            },
            Ok(BodyEvent::End(trailers)) => {
                request.note_end(trailers);
                self.ended = Some(Ok(()));
                Ok(None)
            }
            // The client closed before the end of the body: not a framing error.
            Err(ReadError::Protocol(ProtocolError::UnexpectedEof)) => Err(self.fail(BodyError::Closed)),
            Err(ReadError::Protocol(cause)) => Err(self.fail(BodyError::Malformed(cause))),
            Err(ReadError::Io(cause)) if cause.kind() == std::io::ErrorKind::TimedOut => {
                Err(self.fail(BodyError::TimedOut))
            }
            Err(_) => Err(self.fail(BodyError::Closed)),
        }
    }

    /// Ends reading with `error`: the rest of the stream cannot be trusted.
    fn fail(&mut self, error: BodyError) -> BodyError {
        self.ended = Some(Err(error.clone()));
        error
    }
}
