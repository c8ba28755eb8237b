//! Writing a reply: its framing, the server's default headers, and the test kit's faults.

use super::hooks::Sent;
use super::reply::{Body, Fault};
use super::{Reply, Request, Shared};
use crate::h1::{self, BodyMode, FramingField, Outgoing};
use crate::io::Wire;
use http::header::{self, HeaderName};
use http::{HeaderMap, Method, Version};
use std::io;
use std::time::Duration;

/// Writes a reply with the server's default headers and correct framing, through its
/// fault if it has one. May turn `keep_alive` off (close-delimited bodies, faults, a
/// handler's `Connection: close`). `Ok(None)`: no complete reply went out (a fault).
/// `head` is the connection's reply buffer (empty; left empty). `log` is told, before the
/// first byte goes out, which status the request log should show: the reply's, or `None`
/// when a fault keeps a complete reply from going out.
#[allow(clippy::too_many_arguments)] // each is one thing the writer needs, passed as is
pub(super) async fn write_reply(
    conn: &mut Wire,
    head: &mut Vec<u8>,
    mut reply: Reply,
    method: &Method,
    version: Version,
    keep_alive: &mut bool,
    shared: &Shared,
    request: Option<&Request>,
    log: impl FnOnce(Option<http::StatusCode>),
) -> io::Result<Option<Sent>> {
    let status = reply.status;
    let fault = reply.fault.take();
    // Faults that replace the reply.
    match &fault {
        Some(Fault::Reset) => {
            log(None);
            conn.reset();
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset by a scripted fault"));
        }
        Some(Fault::Raw(bytes)) => {
            log(None);
            *keep_alive = false;
            conn.write_all(bytes).await?;
            return Ok(None);
        }
        Some(Fault::Stall) => {
            log(None);
            *keep_alive = false;
            stall(conn, shared).await;
            return Ok(None);
        }
        _ => {}
    }
    if fault.as_ref().is_some_and(Fault::ends_connection) {
        *keep_alive = false;
    }
    let body = std::mem::replace(&mut reply.body, Body::Full(bytes::Bytes::new()));
    // The framing is the server's, decided by the one rule both roles share: a handler's
    // Content-Length only declares a length where no complete body states it (a stream,
    // a reply to HEAD or a 304), and its Transfer-Encoding is never sent (`write_head`
    // leaves both out and writes the framing's field).
    let declared = match &body {
        Body::Stream(_) => declared_length(&reply.headers),
        Body::Full(bytes) if bytes.is_empty() && (*method == Method::HEAD || status == 304) => {
            declared_length(&reply.headers)
        }
        Body::Full(_) => None,
    };
    let complete = match &body {
        Body::Full(bytes) => Some(bytes.len() as u64),
        Body::Stream(_) => None,
    };
    let message =
        Outgoing::Response { request_method: method, request_version: version, status: status.as_u16() };
    let mut framing = h1::framing(message, complete, declared);
    if let Some(Fault::WrongContentLength(length)) = fault {
        // A length stated on purpose that the body does not keep: the bytes go as they are.
        framing.field = FramingField::ContentLength(length);
        if framing.mode != BodyMode::Empty {
            framing.mode = BodyMode::CloseDelimited;
        }
    }
    // A 2xx to CONNECT would make the connection a tunnel (no body, no framing fields:
    // the rule gives neither). We do not tunnel, so the connection ends.
    if framing.closes() || (*method == Method::CONNECT && status.is_success()) {
        *keep_alive = false;
    }
    write_head(head, &reply, framing.field, version, keep_alive, shared);
    let full_length = match (&body, framing.mode) {
        (_, BodyMode::Empty) => Some(0),
        (Body::Full(bytes), _) => Some(bytes.len() as u64),
        (Body::Stream(_), _) => None,
    };
    log(fault.as_ref().is_none_or(|fault| fault.completes(head.len() as u64, full_length)).then_some(status));
    if let Some(Fault::DelayHead(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    let written =
        write_framed(conn, head, body, framing.mode, fault.as_ref(), keep_alive, shared, request).await;
    // The buffer stays with the connection: empty, and small again after a large reply.
    head.clear();
    head.shrink_to(KEPT_CAPACITY);
    written.map(|sent| sent.map(|body_bytes| Sent { status, body_bytes }))
}

/// What a connection's reply buffer keeps between replies.
const KEPT_CAPACITY: usize = 4 * 1024;

/// Sends the head in `head` and the body framed as `mode`, through the fault; the body
/// bytes sent, or `None` when a fault cut the reply.
#[allow(clippy::too_many_arguments)]
async fn write_framed(
    conn: &mut Wire,
    head: &mut Vec<u8>,
    body: Body,
    mode: BodyMode,
    fault: Option<&Fault>,
    keep_alive: &mut bool,
    shared: &Shared,
    request: Option<&Request>,
) -> io::Result<Option<u64>> {
    let mut out = Output::new(conn, fault);
    let no_body = mode == BodyMode::Empty;
    match body {
        // The usual case: head and body in one write.
        Body::Full(bytes) if out.is_plain() => {
            if !no_body {
                head.extend_from_slice(&bytes);
                out.body_bytes = bytes.len() as u64;
            }
            out.conn.write_all(head).await?;
        }
        Body::Full(bytes) => {
            out.send(head, false).await?;
            if !no_body {
                out.send(&bytes, true).await?;
            }
        }
        Body::Stream(mut chunks) => {
            out.send(head, false).await?;
            if no_body {
                return Ok(out.finish().then_some(0));
            }
            let mut encoder = h1::Encoder::new(mode);
            let mut framed = Vec::new();
            while let Some((mut chunk, written)) = chunks.recv().await {
                // Never past the stream's own Content-Length: the client would read the
                // rest as the start of the next response. The stream ends there.
                let over = match mode {
                    BodyMode::Length(length) if encoder.sent() + chunk.len() as u64 > length => {
                        chunk.truncate((length - encoder.sent()) as usize);
                        *keep_alive = false;
                        true
                    }
                    _ => false,
                };
                if out.is_plain() {
                    // One write per piece: a chunk's size line, data and CRLF together.
                    framed.clear();
                    encoder.encode(&mut framed, &chunk).map_err(io::Error::other)?;
                    out.conn.write_all(&framed).await?;
                    out.body_bytes += chunk.len() as u64;
                } else {
                    out.chunk(&chunk, mode == BodyMode::Chunked).await?;
                }
                if out.cut || over {
                    break;
                }
                let _ = written.send(());
                if let (Some(hook), Some(request)) = (&shared.hooks.on_chunk_flushed, request) {
                    hook(request, chunk.len());
                }
            }
            if mode == BodyMode::Chunked {
                out.send(h1::LAST_CHUNK, false).await?;
            }
            // A stream shorter than its own Content-Length leaves the client unable to
            // find the next response: close.
            if matches!(mode, BodyMode::Length(length) if length != out.body_bytes) {
                *keep_alive = false;
            }
        }
    }
    let body_bytes = out.body_bytes;
    Ok(out.finish().then_some(body_bytes))
}

/// The `Fault::Stall` non-answer: hold the connection, reading nothing into anything,
/// until the client gives up, the activity timeout passes, or the server shuts down.
async fn stall(conn: &mut Wire, shared: &Shared) {
    let mut stopping = shared.shutdown.subscribe();
    tokio::select! {
        () = conn.discard_until_closed() => {}
        _ = stopping.wait_for(|stop| *stop) => {}
    }
}

/// A reply's bytes on their way to the socket, through a fault that paces or cuts them.
struct Output<'c> {
    conn: &'c mut Wire,
    /// `Trickle`: pieces of at most this many bytes, this far apart.
    trickle: Option<(usize, Duration)>,
    /// `CloseAfter`: bytes of the whole reply (head, framing, body) still to go.
    reply_budget: Option<u64>,
    /// `CloseAfterBody`, `ResetAfterBody`: body bytes still to go.
    body_budget: Option<u64>,
    /// `ResetAfterBody`: the connection ends with a reset, not a FIN.
    reset: bool,
    /// A budget ran out before the reply did: nothing more goes out.
    cut: bool,
    /// Body bytes written (the reply's payload, not its framing).
    body_bytes: u64,
}

impl<'c> Output<'c> {
    fn new(conn: &'c mut Wire, fault: Option<&Fault>) -> Self {
        let mut out = Self {
            conn,
            trickle: None,
            reply_budget: None,
            body_budget: None,
            reset: false,
            cut: false,
            body_bytes: 0,
        };
        match fault {
            Some(Fault::Trickle { bytes, every }) => out.trickle = Some(((*bytes).max(1), *every)),
            Some(Fault::CloseAfter(bytes)) => out.reply_budget = Some(*bytes as u64),
            Some(Fault::CloseAfterBody(bytes)) => out.body_budget = Some(*bytes),
            Some(Fault::ResetAfterBody(bytes)) => (out.body_budget, out.reset) = (Some(*bytes), true),
            _ => {}
        }
        out
    }

    /// No fault changes how the bytes go out.
    fn is_plain(&self) -> bool {
        self.trickle.is_none() && self.reply_budget.is_none() && self.body_budget.is_none()
    }

    /// Sends what the budgets allow of `bytes` (`payload`: body bytes, which the body
    /// budget counts), paced if trickling.
    async fn send(&mut self, bytes: &[u8], payload: bool) -> io::Result<()> {
        if self.cut || bytes.is_empty() {
            return Ok(());
        }
        let mut allowed = bytes.len() as u64;
        if let Some(left) = self.reply_budget {
            allowed = allowed.min(left);
        }
        if let (true, Some(left)) = (payload, self.body_budget) {
            allowed = allowed.min(left);
        }
        let sending = &bytes[..allowed as usize];
        match self.trickle {
            Some((piece, every)) => {
                for part in sending.chunks(piece) {
                    self.conn.write_all(part).await?;
                    tokio::time::sleep(every).await;
                }
            }
            None => self.conn.write_all(sending).await?,
        }
        if let Some(left) = &mut self.reply_budget {
            *left -= allowed;
        }
        if payload {
            self.body_bytes += allowed;
            if let Some(left) = &mut self.body_budget {
                *left -= allowed;
            }
        }
        self.cut = allowed < bytes.len() as u64;
        Ok(())
    }

    /// One piece of a streamed body: framed as a chunk when `chunked`. A cut lands inside
    /// the chunk's data, as a dropped connection would.
    async fn chunk(&mut self, data: &[u8], chunked: bool) -> io::Result<()> {
        if !chunked {
            return self.send(data, true).await;
        }
        let mut size_line = Vec::with_capacity(18);
        h1::chunk_size_line(&mut size_line, data.len());
        self.send(&size_line, false).await?;
        self.send(data, true).await?;
        self.send(b"\r\n", false).await
    }

    /// Ends the write (a reset for `ResetAfterBody`); true when the whole reply went out.
    fn finish(self) -> bool {
        if self.reset {
            self.conn.reset();
        }
        !(self.cut || self.reset)
    }
}

/// A Content-Length the handler set itself on a streamed reply.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Writes the status line and the fields: the reply's own (its Connection aside), then
/// Date, Server, the HTTPD cache defaults and the server's global headers unless the reply
/// set or removed them, then Connection. Straight into `dst`: a reply's map is not
/// touched (inserting the defaults into it cost more than the rest of the head).
/// `content_length`, when given, replaces any Content-Length the reply set. A reply whose
/// Connection says `close` (a handler may ask) turns `keep_alive` off.
fn write_head(
    dst: &mut Vec<u8>,
    reply: &Reply,
    framing: FramingField,
    version: Version,
    keep_alive: &mut bool,
    shared: &Shared,
) {
    let status = reply.status;
    let reason = reply.reason.as_deref().unwrap_or_else(|| status.canonical_reason().unwrap_or(""));
    // The status line names the highest version we speak (RFC 9110 §2.5), whatever the
    // request's; the framing already follows what the client understands.
    h1::write_status_line(dst, Version::HTTP_11, status, reason);
    // One pass notes which defaults the reply set itself (cheaper than a lookup each).
    let (mut has_date, mut has_server, mut has_cache_control, mut has_expires) = (false, false, false, false);
    for (name, value) in &reply.headers {
        if name == header::CONNECTION {
            if h1::list_has_token([value], "close") {
                *keep_alive = false;
            }
            continue;
        }
        // The framing fields are the server's (written below), never the handler's.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        has_date |= name == header::DATE;
        has_server |= name == header::SERVER;
        has_cache_control |= name == header::CACHE_CONTROL;
        has_expires |= name == header::EXPIRES;
        h1::write_field(dst, name, value.as_bytes());
    }
    framing.write(dst);
    // Date is mandatory (RFC 9110 §6.6.1 for an origin server with a clock): not removable.
    let removed = |name: &HeaderName| reply.removed.contains(name);
    let date = crate::date::now_header_value();
    if !has_date {
        h1::write_field(dst, &header::DATE, date.as_bytes());
    }
    if !(has_server || removed(&header::SERVER)) {
        h1::write_field(dst, &header::SERVER, shared.server_header.as_bytes());
    }
    if !(has_cache_control || removed(&header::CACHE_CONTROL)) {
        h1::write_field(dst, &header::CACHE_CONTROL, b"max-age=0");
    }
    if !(has_expires || removed(&header::EXPIRES)) {
        h1::write_field(dst, &header::EXPIRES, date.as_bytes());
    }
    for name in shared.headers.keys() {
        if !(reply.headers.contains_key(name) || removed(name)) {
            for value in shared.headers.get_all(name) {
                h1::write_field(dst, name, value.as_bytes());
            }
        }
    }
    if !*keep_alive {
        h1::write_field(dst, &header::CONNECTION, b"close");
    } else if version == Version::HTTP_10 {
        h1::write_field(dst, &header::CONNECTION, b"keep-alive");
    }
    h1::end_head(dst);
}
