//! One connection's main loop: read a head, enforce the limits, dispatch, write the reply,
//! and decide whether the connection carries another request.

use super::hooks::{ConnectionInfo, Sent, ServerError};
use super::reply::{Body, Fault};
use super::request::{lock_wire, BodyError, IncomingBody, SharedWire, Wire};
use super::{Reply, Request, Shared};
use crate::h1::{self, BodyDecoder, BodyMode, MessageKind, ProtocolError, RequestHead};
use crate::io::{Connection, ReadError};
use futures_util::FutureExt;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Version};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// Whether the connection carries another request after this one.
enum Next {
    KeepAlive,
    /// The connection ends. `linger`: the client is known to be sending still (a body we
    /// did not read, a refused upload), so it is drained before the close.
    Close {
        linger: bool,
    },
    /// The connection left HTTP (a 101 went out): run the new protocol's session.
    Upgraded(futures_util::future::BoxFuture<'static, ()>),
}

/// The main loop of one connection, from accept to close.
pub(crate) async fn serve(stream: TcpStream, info: ConnectionInfo, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    if let Some(hook) = &shared.hooks.on_connect {
        hook(&info);
    }
    let Some(transport) = secure(stream, &info, &shared).await else {
        if let Some(hook) = &shared.hooks.on_disconnect {
            hook(&info);
        }
        return;
    };
    let conn = Connection::new(transport, READ_SIZE, shared.limits.activity_timeout);
    let wire: SharedWire = Arc::new(tokio::sync::Mutex::new(Wire { conn, body: None }));
    let mut index = 0;
    // One subscription for the connection's life (not one per request).
    let mut shutdown = shared.shutdown.subscribe();
    // One idle timer for the connection's life, pushed forward before each wait: moving a
    // registered tokio timer later is one atomic update, while registering a new timer
    // (and removing it after) takes the timer driver's lock every request.
    let mut idle_timer = std::pin::pin!(tokio::time::sleep(wait_limit(&shared, 0)));
    loop {
        match serve_one(&wire, &info, &shared, index, &mut shutdown, idle_timer.as_mut()).await {
            Next::KeepAlive => index += 1,
            Next::Close { linger } => {
                close(&mut lock_wire(&wire).await.conn, linger).await;
                break;
            }
            // The session owns the socket now; the connection counts as open (and
            // graceful shutdown waits) until it ends.
            // A panicking session must not skip the bookkeeping below (or graceful shutdown
            // would wait for this connection forever).
            Next::Upgraded(session) => {
                let _ = AssertUnwindSafe(session).catch_unwind().await;
                break;
            }
        }
    }
    if let Some(hook) = &shared.hooks.on_disconnect {
        hook(&info);
    }
}

/// The connection's byte stream: TLS on top of TCP when the server has a TLS config (the
/// handshake must finish within the request timeout), else TCP itself. `None` when the
/// handshake failed (reported to `on_error` as a network error).
async fn secure(
    stream: TcpStream,
    info: &ConnectionInfo,
    shared: &Shared,
) -> Option<Box<dyn crate::io::Transport>> {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &shared.tls {
        let handshake = tokio::time::timeout(shared.limits.request_timeout, acceptor.accept(stream)).await;
        let error = match handshake {
            Ok(Ok(tls)) => return Some(Box::new(tls)),
            Ok(Err(error)) => error,
            Err(_) => std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"),
        };
        if let Some(hook) = &shared.hooks.on_error {
            hook(&mut ServerError::Network { connection: info.clone(), error });
        }
        return None;
    }
    let _ = (info, shared);
    Some(Box::new(stream))
}

/// Reads and answers one request.
async fn serve_one(
    wire: &SharedWire,
    info: &ConnectionInfo,
    shared: &Arc<Shared>,
    index: usize,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    mut idle_timer: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Next {
    let limits = &shared.limits;
    // One lock from the wait to the body's set-up (each lock of this async mutex costs).
    let (head, mut guard) = {
        let mut guard = lock_wire(wire).await;
        if *shutdown.borrow_and_update() {
            return Next::Close { linger: false };
        }
        // Between requests the connection may idle (a pipelined request is already
        // buffered: no wait). Shutdown ends the wait at once.
        if !guard.conn.has_unread_bytes() {
            idle_timer.as_mut().reset(crate::io::deadline_after(wait_limit(shared, index)));
            tokio::select! {
                biased;
                waited = guard.conn.wait_for_data() => {
                    if !matches!(waited, Ok(true)) {
                        return Next::Close { linger: false };
                    }
                }
                _ = idle_timer => return Next::Close { linger: false },
                _ = shutdown.changed() => return Next::Close { linger: false },
            }
        }
        // From its first byte, the whole head must arrive within the request timeout
        // (slowloris gets 408, on every request of a keep-alive connection).
        let refusal = match crate::io::within(limits.request_timeout, guard.conn.read_request_head()).await {
            Ok(Ok(head)) => Ok(head),
            Ok(Err(ReadError::Protocol(ProtocolError::HeadTooLarge | ProtocolError::TooManyHeaders))) => {
                Err((431, "request head too large".to_owned()))
            }
            Ok(Err(ReadError::Protocol(ProtocolError::UnsupportedVersion))) => {
                Err((505, "only HTTP/1.x is served here".to_owned()))
            }
            Ok(Err(ReadError::Protocol(cause))) => Err((400, cause.to_string())),
            Ok(Err(ReadError::Closed { .. } | ReadError::Io(_))) => return Next::Close { linger: false },
            Err(_) => Err((408, "request head timed out".to_owned())),
        };
        match refusal {
            Ok(head) => (head, guard),
            Err((status, message)) => {
                // The head did not parse, but a HEAD request still gets no body.
                let head_request = guard.conn.unread().starts_with(b"HEAD ");
                return reject(&mut guard.conn, info, shared, status, &message, head_request, false).await;
            }
        }
    };

    let fields = RequestFields::gather(&head.headers);
    let incoming = match check_head(&head, &fields, shared) {
        Ok(incoming) => incoming,
        Err((status, message)) => {
            let head_request = head.method == Method::HEAD;
            let body_follows = h1::body_mode(MessageKind::Request, head.version, &head.headers)
                .map_or(true, |mode| !mode.is_empty());
            return reject(&mut guard.conn, info, shared, status, &message, head_request, body_follows).await;
        }
    };
    let expects_continue = incoming.as_ref().is_some_and(|body| body.send_continue);
    let has_body = incoming.is_some();
    guard.body = incoming;
    drop(guard);

    let method = head.method.clone();
    let version = head.version;
    let client_keeps_alive = fields.keep_alive(version);
    let request = Request::new(head, info, index, shared, wire.clone());
    if let Some(hook) = &shared.hooks.pre_request {
        hook(&request);
    }

    let router = shared.router();
    let mut reply = match AssertUnwindSafe(router.dispatch(request.clone())).catch_unwind().await {
        Ok(reply) => reply,
        // A panicking handler gets a 500 (which on_error may rewrite); the connection and
        // the server carry on.
        Err(_) => http_error(info, shared, Reply::error(500, "the handler failed")),
    };
    if let Some(upgrade) = reply.upgrade.take() {
        return hand_over(wire, reply, upgrade, &request, info, shared).await;
    }

    let mut keep_alive = shared.keep_alive
        && client_keeps_alive
        && index + 1 < limits.max_requests_per_connection
        && !*shared.shutdown.borrow();
    // A body the handler left unread: read and discard a bounded amount to keep the
    // connection, unless the client still waits for 100 Continue (then it may never send).
    // (Most requests have no body: nothing to finish, no need to lock the connection.)
    let mut body_left = false;
    if has_body {
        match finish_body(&request, expects_continue).await {
            Leftover::None => {}
            Leftover::Abandoned => (keep_alive, body_left) = (false, true),
            // The body turned out malformed (or too large) while draining it: the
            // request as a whole is refused, whatever the handler answered.
            Leftover::Refused(status, message) => {
                reply = http_error(info, shared, Reply::error(status, &message));
                (keep_alive, body_left) = (false, true);
            }
        }
    }

    let mut guard = lock_wire(wire).await;
    let written =
        write_reply(&mut guard.conn, reply, &method, version, &mut keep_alive, shared, Some(&request)).await;
    drop(guard);
    shared.record(&request, written.as_ref().ok().and_then(|sent| sent.as_ref().map(|sent| sent.status)));
    match written {
        Ok(sent) => {
            if let (Some(hook), Some(sent)) = (&shared.hooks.post_request, sent) {
                hook(&request, &sent);
            }
            if keep_alive {
                Next::KeepAlive
            } else {
                Next::Close { linger: body_left }
            }
        }
        Err(error) => {
            if let Some(hook) = &shared.hooks.on_error {
                hook(&mut ServerError::Network { connection: info.clone(), error });
            }
            Next::Close { linger: false }
        }
    }
}

/// How long a connection may wait for request `index`: the first request gets the whole
/// request timeout, later ones the keep-alive idle timeout.
fn wait_limit(shared: &Shared, index: usize) -> std::time::Duration {
    if index == 0 {
        shared.limits.request_timeout
    } else {
        shared.limits.idle_timeout
    }
}

/// Sends a route's 101 and hands the connection to the new protocol. The upgrade
/// request has no body (the WebSocket handshake checks), so every byte after its head
/// belongs to the new protocol and goes with the socket.
async fn hand_over(
    wire: &SharedWire,
    mut reply: Reply,
    upgrade: super::reply::Upgrade,
    request: &Request,
    info: &ConnectionInfo,
    shared: &Arc<Shared>,
) -> Next {
    if !reply.headers.contains_key(header::DATE) {
        reply.headers.insert(header::DATE, crate::date::now_header_value());
    }
    if !reply.headers.contains_key(header::SERVER) {
        reply.headers.insert(header::SERVER, shared.server_header.clone());
    }
    // The hand-over happens whatever the handler did to the reply: it must say 101.
    reply.status = http::StatusCode::SWITCHING_PROTOCOLS;
    let mut head = Vec::with_capacity(256);
    h1::write_response_head(&mut head, Version::HTTP_11, reply.status, "Switching Protocols", &reply.headers);
    let mut guard = lock_wire(wire).await;
    let written = guard.conn.write_all(&head).await;
    shared.record(request, written.is_ok().then_some(reply.status));
    if let Err(error) = written {
        if let Some(hook) = &shared.hooks.on_error {
            hook(&mut ServerError::Network { connection: info.clone(), error });
        }
        return Next::Close { linger: false };
    }
    if let Some(hook) = &shared.hooks.post_request {
        hook(request, &Sent { status: reply.status, body_bytes: 0 });
    }
    let (io, leftover) = guard.conn.take_parts();
    Next::Upgraded(upgrade(io, leftover.to_vec(), shared.shutdown.subscribe()))
}

/// Checks a head against the limits and framing rules; the body to read, or the error
/// reply's status and message.
fn check_head(
    head: &RequestHead,
    fields: &RequestFields<'_>,
    shared: &Shared,
) -> Result<Option<IncomingBody>, (u16, String)> {
    let limits = &shared.limits;
    if head.target.len() > limits.max_target_length {
        return Err((414, format!("request target longer than {} bytes", limits.max_target_length)));
    }
    if (head.version == Version::HTTP_11 && fields.hosts == 0) || fields.hosts > 1 {
        return Err((400, "HTTP/1.1 requests need exactly one Host header".into()));
    }
    if fields.host.is_some_and(|host| !is_valid_host(host.as_bytes())) {
        return Err((400, "invalid Host header".into()));
    }
    if !is_valid_target(&head.method, &head.target) {
        let form = if head.method == Method::CONNECT { " (CONNECT needs host:port)" } else { "" };
        return Err((400, format!("invalid request target{form}")));
    }
    if let Some(allowed) = &shared.allowed_methods {
        if !allowed.contains(&head.method) {
            return Err((501, format!("method {} is not implemented here", head.method)));
        }
    }
    // Smuggling shapes (CL+TE, disguised TE, bad or conflicting CL) end here.
    let mode = h1::body_mode(MessageKind::Request, head.version, &head.headers)
        .map_err(|cause| (400, cause.to_string()))?;
    if let BodyMode::Length(length) = mode {
        if length > limits.max_body_size {
            return Err((413, format!("request body larger than {} bytes", limits.max_body_size)));
        }
    }
    let send_continue = match fields.expect {
        None => false,
        Some(value) if value.as_bytes().eq_ignore_ascii_case(b"100-continue") => {
            head.version == Version::HTTP_11 && !mode.is_empty()
        }
        Some(_) => return Err((417, "only Expect: 100-continue is supported".into())),
    };
    Ok((!mode.is_empty()).then(|| IncomingBody { decoder: BodyDecoder::new(mode), send_continue }))
}

/// A Host value is `uri-host [ ":" port ]` (RFC 9112 §3.2); no userinfo. An empty Host is
/// refused: it names no host, and nothing we serve has a target without one.
fn is_valid_host(value: &[u8]) -> bool {
    if value.is_empty() {
        return false;
    }
    // The usual shape (a name or IPv4 address, maybe a port) needs no URI parser.
    let (name, port) = match value.iter().position(|&b| b == b':') {
        Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
        None => (value, None),
    };
    let plain_name =
        !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let plain_port = port.is_none_or(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit));
    if plain_name && plain_port {
        return true;
    }
    if value.contains(&b'@') {
        return false;
    }
    let Ok(authority) = http::uri::Authority::try_from(value) else { return false };
    let port_ok = match authority.as_str().rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets; only a colon after `]` starts a port.
        Some((host, port)) if !host.starts_with('[') || host.ends_with(']') => {
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        }
        _ => true,
    };
    port_ok && !authority.host().is_empty()
}

/// The four request-target forms of RFC 9112 §3.2: origin (`/path`), absolute
/// (`http://host/path`), authority (CONNECT only, and CONNECT only that) and asterisk
/// (OPTIONS only). Every byte is visible ASCII: raw bytes over 0x7F and controls are not
/// URI characters, and readers that decode them differently disagree about the path.
fn is_valid_target(method: &Method, target: &str) -> bool {
    if !target.bytes().all(|byte| byte.is_ascii_graphic()) || target.contains('#') {
        return false;
    }
    if *method == Method::CONNECT {
        is_authority_form(target)
    } else if target.starts_with('/') {
        true
    } else if target == "*" {
        *method == Method::OPTIONS
    } else {
        target.parse::<http::Uri>().is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some())
    }
}

/// CONNECT's target: `host:port` with a port of 1 to 5 digits, the host a name, an IPv4
/// address or a bracketed IPv6 literal, and nothing else (no path, no userinfo).
fn is_authority_form(target: &str) -> bool {
    let Some((host, port)) = target.rsplit_once(':') else { return false };
    let port_ok = (1..=5).contains(&port.len()) && port.bytes().all(|byte| byte.is_ascii_digit());
    let host_ok = match host.strip_prefix('[') {
        Some(literal) => literal.strip_suffix(']').is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            !host.is_empty()
                && host.bytes().all(|byte| byte.is_ascii_alphanumeric() || b".-_".contains(&byte))
        }
    };
    port_ok && host_ok
}

/// The request fields the server's checks read, gathered in one pass over the head: a
/// `HeaderMap` lookup hashes the name, and most requests carry a handful of fields.
struct RequestFields<'a> {
    hosts: usize,
    /// The first Host value.
    host: Option<&'a HeaderValue>,
    /// The first Expect value.
    expect: Option<&'a HeaderValue>,
    /// Connection lists `close` / `keep-alive`.
    close: bool,
    keep_alive: bool,
}

impl<'a> RequestFields<'a> {
    fn gather(headers: &'a HeaderMap) -> Self {
        let mut fields = Self { hosts: 0, host: None, expect: None, close: false, keep_alive: false };
        for (name, value) in headers {
            if name == header::HOST {
                fields.hosts += 1;
                fields.host.get_or_insert(value);
            } else if name == header::EXPECT {
                fields.expect.get_or_insert(value);
            } else if name == header::CONNECTION {
                fields.close |= h1::list_has_token([value], "close");
                fields.keep_alive |= h1::list_has_token([value], "keep-alive");
            }
        }
        fields
    }

    /// HTTP/1.1 persists unless the client says `close`; HTTP/1.0 only if it says
    /// `keep-alive`.
    fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::HTTP_10 => self.keep_alive && !self.close,
            _ => !self.close,
        }
    }
}

/// What was left of a request body once the handler was done.
enum Leftover {
    /// Nothing: the connection can carry another request.
    None,
    /// Some of it is still on the wire (over the drain limit, or never asked for): the
    /// connection closes after the reply.
    Abandoned,
    /// Draining found the body broken: the request is refused with this status.
    Refused(u16, String),
}

/// Reads what the handler left of the body, up to the drain limit.
async fn finish_body(request: &Request, continue_pending: bool) -> Leftover {
    if request.body_failed() {
        // After a body error (too large, malformed) the rest of the stream cannot be trusted.
        return Leftover::Abandoned;
    }
    let (_, complete) = request.received_body();
    if complete || !request.has_body_left().await {
        return Leftover::None;
    }
    if continue_pending && request.body_bytes_read() == 0 {
        return Leftover::Abandoned;
    }
    let limit = request.limits().max_drain;
    let drain = async {
        let mut drained = 0u64;
        loop {
            match request.chunk().await {
                Ok(None) => return Leftover::None,
                Ok(Some(piece)) => {
                    drained += piece.len() as u64;
                    if drained > limit {
                        return Leftover::Abandoned;
                    }
                }
                Err(error @ BodyError::Malformed(_)) => return Leftover::Refused(400, error.to_string()),
                Err(error @ BodyError::TooLarge) => return Leftover::Refused(413, error.to_string()),
                Err(_) => return Leftover::Abandoned,
            }
        }
    };
    // Draining only saves a reconnect: a client slow to send a body nobody wants must not
    // hold the reply back for long.
    crate::io::within(DRAIN_TIME, drain).await.unwrap_or(Leftover::Abandoned)
}

/// The longest a body the handler left unread is drained before the reply (see
/// `finish_body`); beyond it, the connection closes after the reply instead.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Answers a request that cannot be served, then closes (the rest of what the client
/// sent cannot be trusted to be framed correctly). A refusal of a HEAD request has no
/// body, like any other reply to HEAD. `body_follows`: the refused request announced a
/// body, which the client may still be sending.
async fn reject(
    conn: &mut Connection,
    info: &ConnectionInfo,
    shared: &Shared,
    status: u16,
    message: &str,
    head_request: bool,
    body_follows: bool,
) -> Next {
    let reply = http_error(info, shared, Reply::error(status, message));
    let method = if head_request { Method::HEAD } else { Method::GET };
    let mut keep_alive = false;
    let written = write_reply(conn, reply, &method, Version::HTTP_11, &mut keep_alive, shared, None).await;
    // What is buffered is the refused request (and whatever followed it): read already,
    // so it cannot cause a reset. Whether more is coming decides the linger.
    conn.discard_buffered();
    Next::Close { linger: written.is_ok() && body_follows }
}

/// Ends a connection without destroying what was written to it. Closing a socket whose
/// receive side still holds unread bytes (or gets more) makes the kernel send a reset,
/// and a reset can discard replies the client has not read yet. So: FIN first, then, if
/// the client is still sending (`linger`, pipelined requests buffered, or bytes waiting
/// on the socket), read and discard until it closes, or goes quiet for `LINGER_QUIET`,
/// for at most `LINGER` (Apache's and nginx's lingering close). Once the client has
/// stopped sending, closing cannot reset anything. Graceful shutdown waits for this too:
/// a reply reset away is not a graceful end.
async fn close(conn: &mut Connection, linger: bool) {
    conn.shutdown().await;
    if linger || conn.has_unread_bytes() || conn.peer_sent_more().await {
        conn.discard_until_quiet(LINGER_QUIET, LINGER).await;
    }
}

/// How long a closing connection is read and discarded at most (see `close`).
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a closing connection's client may stay silent before it counts as done
/// sending (see `close`).
const LINGER_QUIET: std::time::Duration = std::time::Duration::from_millis(500);

/// Shows an error reply the server is about to send to `on_error`, which may change it.
fn http_error(info: &ConnectionInfo, shared: &Shared, reply: Reply) -> Reply {
    let Some(hook) = &shared.hooks.on_error else { return reply };
    let mut error = ServerError::Http { connection: info.clone(), reply };
    hook(&mut error);
    match error {
        ServerError::Http { reply, .. } => reply,
        ServerError::Network { .. } => Reply::error(500, "the error hook replaced the reply"),
    }
}

/// Writes a reply with the server's default headers and correct framing. May turn
/// `keep_alive` off (close-delimited bodies, faults).
async fn write_reply(
    conn: &mut Connection,
    mut reply: Reply,
    method: &Method,
    version: Version,
    keep_alive: &mut bool,
    shared: &Shared,
    request: Option<&Request>,
) -> std::io::Result<Option<Sent>> {
    let status = reply.status;
    if let Some(fault) = reply.fault.take() {
        *keep_alive = false;
        let sent = write_fault(conn, reply, fault, method, version, shared).await?;
        return Ok(sent.map(|body_bytes| Sent { status, body_bytes }));
    }
    // A 2xx to CONNECT would turn the connection into a tunnel: its head has no framing
    // fields and no body (RFC 9110 §9.3.6). We do not tunnel, so the connection ends.
    let tunnel = *method == Method::CONNECT && status.is_success();
    if tunnel {
        reply.headers.remove(header::CONTENT_LENGTH);
        reply.headers.remove(header::TRANSFER_ENCODING);
        *keep_alive = false;
    }
    let no_body =
        tunnel || *method == Method::HEAD || status.is_informational() || status == 204 || status == 304;
    let mut head = Vec::with_capacity(256);
    let body = std::mem::replace(&mut reply.body, Body::Full(bytes::Bytes::new()));
    let streamed_length = match &body {
        Body::Stream(_) => declared_length(&reply.headers),
        Body::Full(_) => None,
    };
    // The Content-Length the server states for a complete body.
    let mut content_length = None;
    match &body {
        // 1xx and 204 have no Content-Length (RFC 9110 §8.6); a 304 may only repeat the
        // length a 200 would have had, which only the handler knows.
        // An empty reply to HEAD may state the length a GET would get (the handler knows it).
        Body::Full(bytes) => {
            let head_states_length = *method == Method::HEAD
                && bytes.is_empty()
                && reply.headers.contains_key(header::CONTENT_LENGTH);
            if !(tunnel || status.is_informational() || status == 204 || status == 304 || head_states_length)
            {
                content_length = Some(bytes.len() as u64);
            }
        }
        Body::Stream(_) if no_body || streamed_length.is_some() => {}
        Body::Stream(_) if version == Version::HTTP_11 => {
            reply.headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        }
        // HTTP/1.0 has no chunked coding: the body ends with the connection.
        Body::Stream(_) => *keep_alive = false,
    }
    write_head(&mut head, &reply, content_length, version, keep_alive, shared);

    let mut body_bytes = 0u64;
    match body {
        Body::Full(bytes) => {
            if !no_body {
                head.extend_from_slice(&bytes);
                body_bytes = bytes.len() as u64;
            }
            conn.write_all(&head).await?;
        }
        Body::Stream(mut chunks) => {
            conn.write_all(&head).await?;
            if no_body {
                return Ok(Some(Sent { status, body_bytes }));
            }
            let chunked = reply.headers.contains_key(header::TRANSFER_ENCODING);
            let mut framed = Vec::new();
            while let Some((chunk, written)) = chunks.recv().await {
                framed.clear();
                if chunked {
                    h1::encode_chunk(&mut framed, &chunk);
                } else {
                    framed.extend_from_slice(&chunk);
                }
                conn.write_all(&framed).await?;
                body_bytes += chunk.len() as u64;
                let _ = written.send(());
                if let (Some(hook), Some(request)) = (&shared.hooks.on_chunk_flushed, request) {
                    hook(request, chunk.len());
                }
            }
            if chunked {
                conn.write_all(h1::LAST_CHUNK).await?;
            }
            // A stream that did not match its own Content-Length leaves the client unable
            // to find the next response: close.
            if streamed_length.is_some_and(|length| length != body_bytes) {
                *keep_alive = false;
            }
        }
    }
    Ok(Some(Sent { status, body_bytes }))
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
    content_length: Option<u64>,
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
        if content_length.is_some() && name == header::CONTENT_LENGTH {
            continue;
        }
        has_date |= name == header::DATE;
        has_server |= name == header::SERVER;
        has_cache_control |= name == header::CACHE_CONTROL;
        has_expires |= name == header::EXPIRES;
        h1::write_field(dst, name, value.as_bytes());
    }
    if let Some(length) = content_length {
        h1::write_field(dst, &header::CONTENT_LENGTH, h1::format_decimal(&mut [0; 20], length));
    }
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

/// Writes a scripted fault (the test kit); the connection closes afterwards. Returns the
/// bytes that went out, or `None` when no complete reply did (nothing counts as sent).
async fn write_fault(
    conn: &mut Connection,
    mut reply: Reply,
    fault: Fault,
    method: &Method,
    version: Version,
    shared: &Shared,
) -> std::io::Result<Option<u64>> {
    let full = |reply: &mut Reply, length: Option<u64>| {
        let body = match std::mem::replace(&mut reply.body, Body::Full(bytes::Bytes::new())) {
            Body::Full(bytes) => bytes,
            Body::Stream(_) => bytes::Bytes::new(),
        };
        let length = length.unwrap_or(body.len() as u64);
        let mut bytes = Vec::new();
        write_head(&mut bytes, reply, Some(length), version, &mut false, shared);
        if *method != Method::HEAD {
            bytes.extend_from_slice(&body);
        }
        bytes
    };
    match fault {
        Fault::DelayHead(delay) => {
            tokio::time::sleep(delay).await;
            let bytes = full(&mut reply, None);
            conn.write_all(&bytes).await?;
            Ok(Some(bytes.len() as u64))
        }
        Fault::Trickle { bytes: piece, every } => {
            let bytes = full(&mut reply, None);
            for part in bytes.chunks(piece.max(1)) {
                conn.write_all(part).await?;
                tokio::time::sleep(every).await;
            }
            Ok(Some(bytes.len() as u64))
        }
        Fault::CloseAfter(limit) => {
            let bytes = full(&mut reply, None);
            let sent = &bytes[..limit.min(bytes.len())];
            conn.write_all(sent).await?;
            Ok(None)
        }
        Fault::WrongContentLength(length) => {
            let bytes = full(&mut reply, Some(length));
            conn.write_all(&bytes).await?;
            Ok(Some(bytes.len() as u64))
        }
        Fault::Raw(bytes) => {
            conn.write_all(&bytes).await?;
            Ok(None)
        }
        Fault::Stall => {
            conn.discard_until_closed().await;
            Ok(None)
        }
        Fault::Reset => {
            conn.reset();
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by a scripted fault"))
        }
    }
}
