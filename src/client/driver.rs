//! The exchange over a connection: one short async function per phase (send head, await
//! 100, send body, read head), each doing the I/O the sans-IO [`Exchange`] asks for and
//! telling it what happened. (The body phase is `body_reader::next_body_event`, shared
//! with streamed bodies, and `collect::read_body`.) Every wait is bounded by the
//! request's deadline and by the connection's activity timeout.

use super::collect::Meter;
use super::deadline::{bounded, Deadline};
use super::exchange::{final_head_buffered, Exchange, Sent, Step};
use super::upload::Upload;
use crate::error::{Error, ErrorKind};
use crate::h1::ResponseHead;
use crate::io::{Wire, Written};
use std::io;
use std::time::Duration;

/// Sends the request and returns the final response head: the phases in the order the
/// exchange asks for them.
pub(crate) async fn send_and_read_head(
    conn: &mut Wire,
    exchange: &mut Exchange,
    mut upload: Option<&mut Upload>,
    meter: &mut Meter<'_, '_>,
    deadline: &Deadline,
) -> Result<ResponseHead, Error> {
    let mut step = exchange.start();
    loop {
        step = match step {
            Step::WriteHead => send_head(conn, exchange, meter, deadline).await?,
            Step::AwaitContinue(wait) => await_continue(conn, exchange, wait, deadline).await?,
            Step::SendBody => send_body(conn, exchange, upload.as_deref_mut(), meter, deadline).await?,
            Step::ReadHead => read_head(conn, exchange, deadline).await?,
            Step::Head(head) => return Ok(head),
        };
    }
}

/// Writes the head (with the body, when it goes along).
async fn send_head(
    conn: &mut Wire,
    exchange: &mut Exchange,
    meter: &mut Meter<'_, '_>,
    deadline: &Deadline,
) -> Result<Step, Error> {
    let sent = write(conn, exchange.head_bytes(), deadline).await?;
    if exchange.body_inline() {
        meter.sent(exchange.inline_body_len());
    }
    Ok(exchange.head_written(sent))
}

/// Reads heads for at most `wait`: a `100 Continue` (or silence) sends the body, a final
/// answer (417, 401, 413, ...) ends the request's sending.
async fn await_continue(
    conn: &mut Wire,
    exchange: &mut Exchange,
    wait: Duration,
    deadline: &Deadline,
) -> Result<Step, Error> {
    let waited = tokio::time::timeout(wait, read_head(conn, exchange, deadline)).await;
    match waited {
        Ok(step) => step,
        Err(_) => Ok(exchange.continue_timed_out()),
    }
}

/// Writes the body after the head: the one in memory, or the upload chunk by chunk.
async fn send_body(
    conn: &mut Wire,
    exchange: &mut Exchange,
    upload: Option<&mut Upload>,
    meter: &mut Meter<'_, '_>,
    deadline: &Deadline,
) -> Result<Step, Error> {
    let sent = match upload {
        Some(upload) => send_upload(conn, exchange, upload, meter, deadline).await?,
        None => {
            let sent = write(conn, exchange.body(), deadline).await?;
            meter.sent(exchange.body().len());
            sent
        }
    };
    Ok(exchange.body_written(sent))
}

/// Sends a streamed body through the exchange's encoder (chunked, or held to its declared
/// length); a failing source is a 596.
async fn send_upload(
    conn: &mut Wire,
    exchange: &mut Exchange,
    upload: &mut Upload,
    meter: &mut Meter<'_, '_>,
    deadline: &Deadline,
) -> Result<Sent, Error> {
    loop {
        let chunk = bounded!(deadline, upload.next_chunk()).map_err(send_failed)?;
        let chunk =
            chunk.map_err(|cause| Error::new(ErrorKind::Send, "read the request body").with_source(cause))?;
        let Some(chunk) = chunk else { break };
        let sent = write(conn, exchange.encode(&chunk)?, deadline).await?;
        meter.sent(chunk.len());
        if sent == Sent::AnsweredEarly {
            return Ok(sent);
        }
    }
    let end = exchange.finish_body()?;
    if end.is_empty() {
        return Ok(Sent::All);
    }
    write(conn, end, deadline).await
}

/// Reads until the exchange has its next step: a final head (interim ones skipped), or,
/// while waiting for `100 Continue`, the go-ahead.
async fn read_head(conn: &mut Wire, exchange: &mut Exchange, deadline: &Deadline) -> Result<Step, Error> {
    loop {
        if let Some(step) = exchange.read_head(conn.buffer())? {
            return Ok(step);
        }
        if exchange.read_result(bounded!(deadline, conn.fill()))? == 0 {
            return Err(exchange.closed(conn.buffer()));
        }
    }
}

/// Writes part of the request, watching for the server's final answer meanwhile.
async fn write(conn: &mut Wire, data: &[u8], deadline: &Deadline) -> Result<Sent, Error> {
    let written = bounded!(deadline, conn.write_watching(data, final_head_buffered));
    match written.map_err(send_failed)?.map_err(send_failed)? {
        Written::Complete => Ok(Sent::All),
        Written::Interrupted => Ok(Sent::AnsweredEarly),
    }
}

/// Sending failed, or the deadline struck while it went on (596).
fn send_failed(cause: io::Error) -> Error {
    Error::new(ErrorKind::Send, "send request").with_source(cause)
}
