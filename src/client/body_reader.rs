//! The unread rest of a streamed response (`send_streaming`): its connection, exchange
//! (how the body is framed, and whether the connection may be reused), decoders and pool
//! slot. The connection returns to the pool once the body's end has been read. Also the
//! body phase of every response ([`next_body_event`]), collected or streamed.

use super::deadline::{bounded, Deadline};
use super::decompress::Decoder;
use super::exchange::Exchange;
use super::pool::Lease;
use crate::error::Error;
use crate::h1::BodyEvent;
use crate::io::Wire;
use bytes::Bytes;
use http::HeaderMap;
use std::fmt;

/// The unread rest of a streamed response: its connection, decoders and pool slot.
pub(crate) struct BodyReader {
    /// The connection and its slot, until the body's end has been read: then they go back
    /// to the pool (or close), even while decoded chunks are still to be handed out.
    wire: Option<(Wire, Lease)>,
    /// The exchange in its body phase: it decodes the framing and knows whether the
    /// connection may be reused when the body ends cleanly.
    exchange: Exchange,
    /// The content decoder, for a compressed body that is being decoded.
    content: Option<Decoder>,
    /// The trailers, once the body's end has been read.
    pub(crate) trailers: Option<Box<HeaderMap>>,
    /// The request's deadline still bounds its body, read after `send_streaming` returned.
    deadline: Deadline,
    /// The request's `max_body_size`, for [`Response::bytes`](crate::Response::bytes),
    /// which collects the rest.
    max_body_size: u64,
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader").finish_non_exhaustive()
    }
}

/// What a streamed body keeps of its request: how the body is decoded, and its bounds.
pub(crate) struct StreamedBody {
    pub(crate) content: Option<Decoder>,
    pub(crate) deadline: Deadline,
    pub(crate) max_body_size: u64,
}

impl BodyReader {
    pub(crate) fn new(conn: Wire, exchange: Exchange, lease: Lease, body: StreamedBody) -> Self {
        let StreamedBody { content, deadline, max_body_size } = body;
        Self { wire: Some((conn, lease)), exchange, content, trailers: None, deadline, max_body_size }
    }

    /// The request's `max_body_size`.
    pub(crate) fn max_body_size(&self) -> u64 {
        self.max_body_size
    }

    /// The next piece of the body (decoded, if it is being decoded); `None` at its end.
    /// A failure is a 597 error.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if let Some(content) = self.content.as_mut() {
                if let Some(chunk) = content.next_chunk()? {
                    return Ok(Some(chunk));
                }
            }
            let Some((conn, _)) = self.wire.as_mut() else { return Ok(None) };
            match next_body_event(conn, &mut self.exchange, &self.deadline).await? {
                BodyEvent::Data(data) => match self.content.as_mut() {
                    Some(content) => content.push(data),
                    None => return Ok(Some(data)),
                },
                BodyEvent::End(trailers) => {
                    self.trailers = (!trailers.is_empty()).then(|| Box::new(trailers));
                    // The body ended cleanly: the connection goes back to the pool (or
                    // closes, saying why), before the last decoded chunks are handed out.
                    if let Some((conn, lease)) = self.wire.take() {
                        lease.release(conn, self.exchange.close_reason(true));
                    }
                    if let Some(content) = self.content.as_mut() {
                        content.finish();
                    }
                }
            }
        }
    }
}

/// The next event of the body, reading as needed (597 on failure).
pub(crate) async fn next_body_event(
    conn: &mut Wire,
    exchange: &mut Exchange,
    deadline: &Deadline,
) -> Result<BodyEvent, Error> {
    loop {
        if let Some(event) = exchange.decode(conn.buffer())? {
            return Ok(event);
        }
        if exchange.read_result(bounded!(deadline, conn.fill()))? == 0 {
            exchange.decode_eof()?;
            if let Some(event) = exchange.decode(conn.buffer())? {
                return Ok(event);
            }
        }
    }
}
