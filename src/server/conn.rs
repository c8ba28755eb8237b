//! One connection's main loop: read a head, enforce the limits, dispatch, write the reply,
//! and decide whether the connection carries another request.

use super::body::IncomingBody;
use super::hooks::{ConnectionInfo, Sent, ServerError};
use super::request::BodyError;
use super::write::write_reply;
use super::{Reply, Request, Shared};
use crate::h1::{self, BodyDecoder, BodyMode, MessageKind, ProtocolError, RequestHead};
use crate::io::{ReadError, Wire};
use futures_util::FutureExt;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Version};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// What a connection's reply buffer holds between replies: enough for a usual head (a
/// larger reply grows it for its own write, and leaves it small again).
const OUT_CAPACITY: usize = 512;

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
    // The loop owns the connection: handlers get body bytes from it through a channel
    // (see `body.rs`), never the socket itself.
    let mut conn = Wire::new(transport, READ_SIZE, shared.limits.activity_timeout);
    // Reply heads are written into this one buffer, request after request.
    let mut out = Vec::with_capacity(OUT_CAPACITY);
    let mut index = 0;
    // One subscription for the connection's life (not one per request).
    let mut shutdown = shared.shutdown.subscribe();
    // One idle timer for the connection's life, pushed forward before each wait: moving a
    // registered tokio timer later is one atomic update, while registering a new timer
    // (and removing it after) takes the timer driver's lock every request.
    let mut idle_timer = std::pin::pin!(tokio::time::sleep(wait_limit(&shared, 0)));
    loop {
        match serve_one(&mut conn, &mut out, &info, &shared, index, &mut shutdown, idle_timer.as_mut()).await
        {
            Next::KeepAlive => index += 1,
            Next::Close { linger } => {
                close(&mut conn, linger).await;
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
    conn: &mut Wire,
    out: &mut Vec<u8>,
    info: &ConnectionInfo,
    shared: &Arc<Shared>,
    index: usize,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    idle_timer: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Next {
    let limits = &shared.limits;
    let head = match next_head(conn, out, info, shared, index, shutdown, idle_timer).await {
        Ok(head) => head,
        Err(next) => return next,
    };

    let fields = RequestFields::gather(&head.headers);
    let mode = match check_head(&head, &fields, shared) {
        Ok(mode) => mode,
        Err((status, message)) => {
            let head_request = head.method == Method::HEAD;
            let body_follows = h1::body_mode(MessageKind::Request, head.version, &head.headers)
                .map_or(true, |mode| !mode.is_empty());
            let refusal = Refusal { status, message, head_request, body_follows };
            return Box::pin(reject(conn, out, info, shared, refusal)).await;
        }
    };
    // Most requests have no body: no channel, nothing to serve while the handler runs.
    let (mut incoming, reader) = match mode {
        Some((mode, send_continue)) => {
            let (incoming, reader) = IncomingBody::new(BodyDecoder::new(mode), send_continue);
            (Some(incoming), Some(reader))
        }
        None => (None, None),
    };

    let method = head.method.clone();
    let version = head.version;
    let client_keeps_alive = fields.keep_alive(version);
    let request = Request::new(head, info, index, shared, reader);
    // In the log from now on (its body and status follow before the reply is written).
    let entry = shared.recorder().begin(&request);
    if let Some(hook) = &shared.hooks.pre_request {
        hook(&request);
    }

    let router = shared.router();
    let mut dispatch = std::pin::pin!(AssertUnwindSafe(router.dispatch(request.clone())).catch_unwind());
    // (Boxed: serving a body while the handler runs is a large future most requests never
    // need, and every request's state would carry and copy it.)
    let dispatched = match &mut incoming {
        Some(body) => Box::pin(body.serve_while(conn, &request, dispatch.as_mut())).await,
        None => dispatch.await,
    };
    let mut reply = match dispatched {
        Ok(reply) => reply,
        // A panicking handler gets a 500 (which on_error may rewrite); the connection and
        // the server carry on.
        Err(_) => http_error(info, shared, Reply::error(500, "the handler failed")),
    };
    if let Some(upgrade) = reply.upgrade.take() {
        return Box::pin(hand_over(conn, reply, upgrade, &request, entry, info, shared)).await;
    }
    // A 1xx is never a final answer (nor a 101 without a hand-over): a client would take
    // the next reply for this request's.
    if reply.status.is_informational() {
        reply =
            http_error(info, shared, Reply::error(500, "a handler answered with an interim (1xx) status"));
    }

    let mut keep_alive = shared.keep_alive
        && client_keeps_alive
        && index + 1 < limits.max_requests_per_connection
        && !*shared.shutdown.borrow();
    // A body the handler left unread: read and discard a bounded amount to keep the
    // connection, unless the client still waits for 100 Continue (then it may never send).
    let mut body_left = false;
    if let Some(body) = &mut incoming {
        match Box::pin(finish_body(conn, body, &request)).await {
            Leftover::None => {}
            Leftover::Abandoned => (keep_alive, body_left) = (false, true),
            // The body turned out malformed (or too large) while draining it: the
            // request as a whole is refused, whatever the handler answered.
            Leftover::Refused(status, message) => {
                reply = http_error(info, shared, Reply::error(status, &message));
                (keep_alive, body_left) = (false, true);
            }
            Leftover::Broken => {
                shared.recorder().answer(entry, &request, None);
                return Next::Close { linger: false };
            }
        }
    }
    // Late readers (a task the handler spawned) are answered from now on: the end of a
    // body the handler read whole, else `BodyError::Closed`.
    drop(incoming);

    // The log has the whole request before any byte of the reply goes out: a client that
    // has read the reply finds its request there.
    let log = |status| shared.recorder().answer(entry, &request, status);
    let written =
        write_reply(conn, out, reply, &method, version, &mut keep_alive, shared, Some(&request), log).await;
    if !matches!(written, Ok(Some(_))) {
        shared.recorder().unsent(entry);
    }
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

/// The wait for the next request and its head: the head, or how the connection goes on
/// (closed while idle, or a refusal of a head that is late, too large or malformed).
async fn next_head(
    conn: &mut Wire,
    out: &mut Vec<u8>,
    info: &ConnectionInfo,
    shared: &Arc<Shared>,
    index: usize,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    mut idle_timer: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Result<RequestHead, Next> {
    let limits = &shared.limits;
    if *shutdown.borrow_and_update() {
        return Err(Next::Close { linger: false });
    }
    // Between requests the connection may idle (a pipelined request is already buffered:
    // no wait). Shutdown ends the wait at once.
    if !conn.has_unread_bytes() {
        idle_timer.as_mut().reset(crate::io::deadline_after(wait_limit(shared, index)));
        tokio::select! {
            biased;
            waited = conn.wait_for_data() => {
                if !matches!(waited, Ok(true)) {
                    return Err(Next::Close { linger: false });
                }
            }
            _ = idle_timer => return Err(Next::Close { linger: false }),
            _ = shutdown.changed() => return Err(Next::Close { linger: false }),
        }
    }
    // From its first byte, the whole head must arrive within the request timeout
    // (slowloris gets 408, on every request of a keep-alive connection).
    let read = match crate::io::within(limits.request_timeout, conn.read_head(h1::parse_request_head)).await {
        Ok(Ok(head)) => Ok(head),
        Ok(Err(ReadError::Protocol(ProtocolError::HeadTooLarge | ProtocolError::TooManyHeaders))) => {
            Err((431, "request head too large".to_owned()))
        }
        Ok(Err(ReadError::Protocol(ProtocolError::UnsupportedVersion))) => {
            Err((505, "only HTTP/1.x is served here".to_owned()))
        }
        Ok(Err(ReadError::Protocol(cause))) => Err((400, cause.to_string())),
        Ok(Err(ReadError::Closed { .. } | ReadError::Io(_))) => return Err(Next::Close { linger: false }),
        Err(_) => Err((408, "request head timed out".to_owned())),
    };
    match read {
        Ok(head) => Ok(head),
        Err((status, message)) => {
            // The head did not parse, but a HEAD request still gets no body (after the
            // empty lines the parser skips before a request line, RFC 9112 §2.2).
            let unread = conn.unread();
            let start = unread.iter().position(|&byte| byte != b'\r' && byte != b'\n');
            let head_request = start.is_some_and(|start| unread[start..].starts_with(b"HEAD "));
            let refusal = Refusal { status, message, head_request, body_follows: false };
            Err(Box::pin(reject(conn, out, info, shared, refusal)).await)
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
    conn: &mut Wire,
    mut reply: Reply,
    upgrade: super::reply::Upgrade,
    request: &Request,
    entry: Option<super::record::Entry>,
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
    shared.recorder().answer(entry, request, Some(reply.status));
    let written = conn.write_all(&head).await;
    if let Err(error) = written {
        shared.recorder().unsent(entry);
        if let Some(hook) = &shared.hooks.on_error {
            hook(&mut ServerError::Network { connection: info.clone(), error });
        }
        return Next::Close { linger: false };
    }
    if let Some(hook) = &shared.hooks.post_request {
        hook(request, &Sent { status: reply.status, body_bytes: 0 });
    }
    let (io, leftover) = conn.take_parts();
    Next::Upgraded(upgrade(io, leftover.to_vec(), shared.shutdown.subscribe()))
}

/// Checks a head against the limits and framing rules: the body's framing and whether the
/// client waits for `100 Continue` (`None`: no body), or the error reply's status and
/// message.
fn check_head(
    head: &RequestHead,
    fields: &RequestFields<'_>,
    shared: &Shared,
) -> Result<Option<(BodyMode, bool)>, (u16, String)> {
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
        Expectation::None => false,
        Expectation::Continue => head.version == Version::HTTP_11 && !mode.is_empty(),
        Expectation::Other => return Err((417, "only Expect: 100-continue is supported".into())),
    };
    Ok((!mode.is_empty()).then_some((mode, send_continue)))
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

/// What a request's Expect fields ask for. Expect is a list, possibly over several fields:
/// one element we do not know (`100-continue, foo`) is enough for a 417.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expectation {
    None,
    Continue,
    Other,
}

impl Expectation {
    /// Adds one Expect field's elements.
    fn and(self, value: &HeaderValue) -> Self {
        let elements = value.as_bytes().split(|&byte| byte == b',').map(<[u8]>::trim_ascii);
        elements.filter(|element| !element.is_empty()).fold(self, |so_far, element| {
            match (so_far, element.eq_ignore_ascii_case(b"100-continue")) {
                (Self::Other, _) | (_, false) => Self::Other,
                (_, true) => Self::Continue,
            }
        })
    }
}

/// The request fields the server's checks read, gathered in one pass over the head: a
/// `HeaderMap` lookup hashes the name, and most requests carry a handful of fields.
struct RequestFields<'a> {
    hosts: usize,
    /// The first Host value.
    host: Option<&'a HeaderValue>,
    /// What the Expect fields ask, all of them together.
    expect: Expectation,
    /// The Connection tokens (`close`, `keep-alive`) of all Connection fields.
    connection: h1::ConnectionTokens,
}

impl<'a> RequestFields<'a> {
    fn gather(headers: &'a HeaderMap) -> Self {
        let mut fields = Self {
            hosts: 0,
            host: None,
            expect: Expectation::None,
            connection: h1::ConnectionTokens::default(),
        };
        for (name, value) in headers {
            if name == header::HOST {
                fields.hosts += 1;
                fields.host.get_or_insert(value);
            } else if name == header::EXPECT {
                fields.expect = fields.expect.and(value);
            } else if name == header::CONNECTION {
                fields.connection.add(value);
            }
        }
        fields
    }

    /// Whether the client lets the connection persist (the rule both roles share).
    fn keep_alive(&self, version: Version) -> bool {
        h1::keep_alive(version, self.connection) == h1::KeepAlive::Yes
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
    /// A `100 Continue` was cut short mid-write: no reply can follow it on this
    /// connection, which just closes.
    Broken,
}

/// Reads what the handler left of the body, up to the drain limit. Body bytes it drains,
/// or leaves on the wire, no task the handler spawned can get any more: their reads fail
/// from now on rather than end early (`Request::note_cut_off`).
async fn finish_body(conn: &mut Wire, body: &mut IncomingBody, request: &Request) -> Leftover {
    let leftover = drain_body(conn, body, request).await;
    if !matches!(leftover, Leftover::None) {
        request.note_cut_off();
    }
    leftover
}

/// [`finish_body`]'s reading.
async fn drain_body(conn: &mut Wire, body: &mut IncomingBody, request: &Request) -> Leftover {
    if body.continue_cut_short() {
        return Leftover::Broken;
    }
    if body.failed() {
        // After a body error (too large, malformed) the rest of the stream cannot be trusted.
        return Leftover::Abandoned;
    }
    if body.is_complete() {
        return Leftover::None;
    }
    if body.continue_pending() {
        return Leftover::Abandoned;
    }
    let limit = request.limits().max_drain;
    let drain = async {
        let mut drained = 0u64;
        loop {
            match body.read_piece(conn, request).await {
                Ok(None) => return Leftover::None,
                Ok(Some(piece)) => {
                    request.note_cut_off();
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

/// A request the connection loop refuses itself, and what its refusal must respect.
struct Refusal {
    status: u16,
    message: String,
    /// It was a HEAD request (as far as can be told): the refusal has no body.
    head_request: bool,
    /// It announced a body, which the client may still be sending.
    body_follows: bool,
}

/// Answers a request that cannot be served, then closes (the rest of what the client
/// sent cannot be trusted to be framed correctly). A refusal of a HEAD request has no
/// body, like any other reply to HEAD.
async fn reject(
    conn: &mut Wire,
    out: &mut Vec<u8>,
    info: &ConnectionInfo,
    shared: &Shared,
    refusal: Refusal,
) -> Next {
    let Refusal { status, message, head_request, body_follows } = refusal;
    let reply = http_error(info, shared, Reply::error(status, &message));
    let method = if head_request { Method::HEAD } else { Method::GET };
    let mut keep_alive = false;
    let written =
        write_reply(conn, out, reply, &method, Version::HTTP_11, &mut keep_alive, shared, None, |_| {}).await;
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
async fn close(conn: &mut Wire, linger: bool) {
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
