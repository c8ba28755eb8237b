//! The main loop: one request from URL to Response. Per hop: connect, send, read heads
//! (skipping 1xx), then follow the redirect, retry (the retry policy), or deliver the
//! body. One deadline, set at the start, bounds every hop and retry.

use super::body_stream::{BodyReader, StreamedBody};
use super::connect::{self, ConnectPlan};
use super::deadline::Deadline;
use super::decompress::Decoder;
use super::exclusive::Exclusive;
use super::pool::{Lease, PoolKey};
use super::redirect;
use super::request::{OnBody, OnProgress, Options, Progress, Request};
use super::request_head::{self, Persistence, Route};
use super::response::{BodyHandle, Response};
use super::retry::Attempts;
use super::upload::Upload;
use super::Config;
use super::{ConnectionEvent, EventKind, ProxyScheme};
use crate::error::{Error, ErrorKind};
use crate::h1::{self, limits::MAX_INTERIM_RESPONSES, BodyEvent, BodyMode, MessageKind, ResponseHead};
use crate::io::{with_timeout, Connection, ReadError, Written};
use bytes::{Bytes, BytesMut};
use http::header;
use http::{StatusCode, Version};
use std::time::Duration;
use url::Url;

/// How long to wait for `100 Continue` before sending the body anyway (curl waits 1 s too):
/// servers that ignore `Expect` must not stall the request.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Bodies up to this size go out in the same write as the head: one syscall, one packet.
const INLINE_BODY_LIMIT: usize = 64 * 1024;

/// How much of a redirect response's body is kept with the hop (or of a response that is
/// retried); the rest is not read.
const REDIRECT_BODY_LIMIT: usize = 64 * 1024;

/// How much body to reserve up front from a Content-Length: a peer's number must not
/// make us allocate gigabytes before a byte of it arrives.
const MAX_BODY_PREALLOCATION: u64 = 1024 * 1024;

/// What one hop ended with.
enum Hop {
    /// The response to hand to the caller.
    Final(Response),
    /// A redirect to follow: the hop's response and its Location.
    Redirect(Response, String),
    /// The retry policy sends the request again after the pause (a 503 or 429).
    Retry(Response, Duration),
}

/// The main loop: runs `request` through every redirect hop and retry and returns the final
/// response.
pub(crate) async fn run(mut request: Request, mut options: Options<'_>, config: &Config) -> Response {
    let deadline = Deadline::after(options.deadline);
    let mut attempts = Attempts::new(options.retry.take(), options.upload.is_none());
    let mut hops: Vec<Response> = Vec::new();
    let mut referer: Option<Url> = None;
    // A caller's Proxy-Authorization is for the proxy the request starts through; a hop
    // through another proxy (per-scheme rules) must not get it.
    let mut target = request.target();
    let first_proxy = options.proxy.server_for(&target).cloned();
    loop {
        let follow_redirects = hops.len() < options.recurse as usize;
        // Boxed: the hop's state machine is kilobytes, and whoever polls `send()` would
        // otherwise move all of it around.
        let hop = Box::pin(exchange(
            &request,
            target,
            referer.as_ref(),
            &mut options,
            config,
            follow_redirects,
            first_proxy.as_ref(),
            &deadline,
            &mut attempts,
        ))
        .await;
        let (hop, location) = match hop {
            // A failure before any head (595, 596) may be retried here; a status the server
            // gave was considered by the exchange, before any callback saw it.
            Hop::Final(response) => match attempts.pause_after(&request, &response, &deadline) {
                Some(pause) if response.is_error() => {
                    back_off(config, &request, options.session_id.as_ref(), &attempts, &response, pause)
                        .await;
                    target = request.target();
                    continue;
                }
                _ => return with_redirect_chain(response, hops),
            },
            Hop::Retry(response, pause) => {
                back_off(config, &request, options.session_id.as_ref(), &attempts, &response, pause).await;
                target = request.target();
                continue;
            }
            Hop::Redirect(hop, location) => (hop, location),
        };
        let next = redirect::next_request(&request, hop.status(), &location);
        hops.push(hop);
        match next {
            Ok(next) => {
                target = next.target();
                referer = Some(std::mem::replace(&mut request, next).url);
            }
            Err((url, error)) => return with_redirect_chain(Response::from_error(url, error), hops),
        }
    }
}

/// Announces a retry (a `Backoff` connection event, and `tracing`), then pauses. The pause
/// ends before the deadline: the policy does not choose one that would not.
async fn back_off(
    config: &Config,
    request: &Request,
    session: Option<&String>,
    attempts: &Attempts,
    response: &Response,
    pause: Duration,
) {
    let kind = EventKind::Backoff { status: response.status().as_u16(), retry: attempts.retries(), pause };
    config.pool.announce(|| {
        let target = request.target();
        ConnectionEvent::about(kind, &target.scheme, &target.host, target.port, session, 0)
    });
    tokio::time::sleep(pause).await;
}

/// Attaches the hops (collected oldest first) newest first, as AnyEvent::HTTP's `Redirect`
/// chain.
fn with_redirect_chain(mut response: Response, mut hops: Vec<Response>) -> Response {
    hops.reverse();
    response.redirects = hops;
    response
}

/// One hop: a pooled or fresh connection, the request, the final head, then body, retry
/// or redirect; the connection goes back to the pool only after a clean, complete response.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    request: &Request,
    target: connect::Target,
    referer: Option<&Url>,
    options: &mut Options<'_>,
    config: &Config,
    follow_redirects: bool,
    first_proxy: Option<&super::ProxyServer>,
    deadline: &Deadline,
    attempts: &mut Attempts,
) -> Hop {
    let url = request.url.as_str();
    let persistent = options.persistent.unwrap_or_else(|| request.is_idempotent());
    let via = options.proxy.server_for(&target).cloned();
    let keepalive = options.keepalive.unwrap_or(via.is_none());
    let persistence = match (persistent, keepalive) {
        (false, _) => Persistence::Close,
        (true, false) => Persistence::Persistent,
        (true, true) => Persistence::KeepAlive,
    };
    let tls = tls_tag(&target, options);
    let absolute_form =
        via.as_ref().is_some_and(|proxy| proxy.scheme() == ProxyScheme::Http) && target.scheme == "http";
    // The key takes the target's strings; a new connection rebuilds the target from it.
    let connect::Target { scheme, host, port } = target;
    let key = PoolKey {
        scheme,
        host,
        port,
        session: options.session_id.clone(),
        tls,
        proxy: via.clone(),
        runtime: super::pool::runtime_scope(),
    };
    // Proxy credentials (the proxy URL's, or the caller's Proxy-Authorization header) go
    // to the proxy only: in an absolute-form request, or on the CONNECT that opens a tunnel.
    let proxy_authorization =
        via.as_ref().and_then(|proxy| match request.caller_header(&header::PROXY_AUTHORIZATION) {
            Some(Some(value)) if Some(proxy) == first_proxy => Some(value.clone()),
            // remove_header("proxy-authorization") suppresses the proxy URL's credentials too.
            Some(None) => None,
            _ => proxy.authorization(),
        });
    let cookie = jar_cookie(request, options);
    let decoding = wants_decoding(request, options);
    // A streamed body is used once, by the first hop (later hops either drop the body or,
    // for 307/308, are not followed).
    let mut upload = options.upload.take();
    if let Some(upload) = upload.as_mut() {
        if let Err(cause) = upload.open().await {
            let error = Error::new(ErrorKind::InvalidRequest, "open the request body").with_source(cause);
            return Hop::Final(Response::from_error(url, error));
        }
    }
    let route = Route {
        absolute_form,
        proxy_authorization: proxy_authorization.as_ref(),
        cookie: cookie.as_ref(),
        streamed_body: upload.as_ref().map(|upload| upload.length),
        referer,
        accept_encoding: decoding,
    };
    // The activity timeout counts while the request waits for a slot, too, and so does
    // the deadline.
    let waiting = async { Ok(config.pool.acquire(&key, persistent).await) };
    let waited = deadline.bound(with_timeout(options.timeout, waiting)).await;
    let mut lease = match waited.and_then(|waited| waited) {
        Ok(lease) => lease,
        Err(cause) => {
            let error = Error::new(ErrorKind::Connect, "wait for a connection slot").with_source(cause);
            return Hop::Final(Response::from_error(url, error));
        }
    };

    let send_total = match &upload {
        Some(upload) => upload.length,
        None => Some(request.body.len() as u64),
    };
    let mut meter = Meter {
        on_progress: options.on_progress.as_mut(),
        progress: Progress { send_total, ..Progress::default() },
    };
    let mut retried = false;
    let (mut conn, head, fully_sent) = loop {
        let (mut conn, reused) = match lease.take_cached() {
            Some(conn) => (conn, true),
            None => {
                let plan = ConnectPlan {
                    timeout: options.timeout,
                    on_prepare: options.on_prepare.as_ref(),
                    connector: options.connector.as_ref(),
                    proxy: via.as_ref(),
                    proxy_authorization: proxy_authorization.as_ref(),
                    #[cfg(feature = "tls")]
                    tls: &options.tls,
                    dns: &config.dns,
                };
                let target =
                    connect::Target { scheme: key.scheme.clone(), host: key.host.clone(), port: key.port };
                // Boxed: connecting (resolution, Happy Eyeballs, proxies, TLS) is the largest
                // state in this future, and a reused connection never needs it.
                match deadline.bound(Box::pin(connect::connect(&target, &plan))).await {
                    Ok(Ok((io, address))) => {
                        lease.opened(address);
                        (Connection::new(io, options.read_buffer_size, options.timeout), false)
                    }
                    Ok(Err(error)) => return Hop::Final(Response::from_error(url, error)),
                    Err(expired) => {
                        let error = Error::new(ErrorKind::Connect, format!("connect to {target}"));
                        return Hop::Final(Response::from_error(url, error.with_source(expired)));
                    }
                }
            }
        };
        conn.configure(options.read_buffer_size, options.timeout);
        let read_before = conn.bytes_read();
        let sending =
            send_and_read_head(&mut conn, request, config, persistence, &route, upload.as_mut(), &mut meter);
        let sent = deadline.bound(sending).await;
        let sent = sent.unwrap_or_else(|expired| {
            // Which half of the exchange the deadline cut (both are 596).
            let all_sent = send_total.is_some_and(|total| meter.progress.sent >= total);
            let (kind, what) = if all_sent {
                (ErrorKind::ResponseHead, "read response head")
            } else {
                (ErrorKind::Send, "send request")
            };
            Err(Error::new(kind, what).with_source(expired))
        });
        match sent {
            Ok((head, fully_sent)) => break (conn, head, fully_sent),
            Err(error) => {
                // A cached connection the server closed meanwhile fails exactly like this:
                // nothing came back. Only then, and only for idempotent requests, try once more.
                let nothing_arrived = conn.bytes_read() == read_before;
                // A streamed body cannot be sent twice.
                let replayable = upload.is_none();
                if reused
                    && !retried
                    && replayable
                    && request.is_idempotent()
                    && nothing_arrived
                    && !error.is_timeout()
                {
                    retried = true;
                    drop(conn);
                    lease.retrying();
                    continue;
                }
                return Hop::Final(Response::from_error(url, error));
            }
        }
    };

    let kind = MessageKind::Response { request_method: &request.method, status: head.status.as_u16() };
    let framing = h1::body_mode(kind, head.version, &head.headers);
    // Every response that got this far sets its cookies, redirect hops included.
    #[cfg(feature = "cookies")]
    if let Some(jar) = &options.cookie_jar {
        jar.store_from(&request.url, &head.headers);
    }
    let mut response = Response::from_head(url, head);
    let mode = match framing {
        Ok(mode) => mode,
        Err(cause) => {
            let error = Error::new(ErrorKind::ResponseHead, "invalid response framing").with_source(cause);
            return Hop::Final(response.fail(error));
        }
    };
    let reuse = Reuse { persistent, fully_sent, mode };

    // The retry policy decides on the head, before any callback sees it: a retried
    // response is, like a redirect hop, read (in part) so its connection can be reused,
    // and then dropped.
    if let Some(pause) = attempts.pause_after(request, &response, deadline) {
        let collect = Collect::Keep(REDIRECT_BODY_LIMIT);
        let body = read_body(&mut conn, &mut response, mode, None, collect, None, None, deadline);
        if let Ok(complete) = body.await {
            reuse.release(lease, conn, request, &response, complete);
        }
        return Hop::Retry(response, pause);
    }

    // 307 and 308 would need the body again: with a streamed one, the 3xx is the answer.
    let keeps_body = matches!(response.status().as_u16(), 307 | 308);
    if follow_redirects && redirect::is_redirect(response.status()) && !(upload.is_some() && keeps_body) {
        match redirect::location(response.headers()) {
            Err(error) => return Hop::Final(response.fail(error)),
            Ok(Some(location)) => {
                let body = read_body(
                    &mut conn,
                    &mut response,
                    mode,
                    None,
                    Collect::Keep(REDIRECT_BODY_LIMIT),
                    None,
                    None,
                    deadline,
                );
                return match body.await {
                    Ok(complete) => {
                        reuse.release(lease, conn, request, &response, complete);
                        Hop::Redirect(response, location)
                    }
                    Err(error) => Hop::Final(response.fail(error)),
                };
            }
            // A 3xx without Location is an ordinary response.
            Ok(None) => {}
        }
    }

    let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let handed_over = options.want_body_handle && (!mode.is_empty() || switched);
    // Content decoding: only a body that is read here (not a redirect hop's, not a handed
    // over connection), and not a range (a piece of an encoded body cannot be decoded alone).
    let mut content = None;
    if decoding
        && !mode.is_empty()
        && !handed_over
        && !switched
        && response.status() != StatusCode::PARTIAL_CONTENT
    {
        match Decoder::for_response(&mut response.headers) {
            Ok(decoder) => content = decoder,
            Err(error) => return Hop::Final(response.fail(error)),
        }
    }

    if let Some(on_header) = options.on_header.as_mut() {
        if !on_header(&response) {
            return Hop::Final(
                response.fail(Error::new(ErrorKind::Aborted, "request cancelled by on_header")),
            );
        }
    }
    if handed_over {
        lease.hand_over();
        let (io, buffered) = conn.into_parts();
        response.body_handle = Some(Exclusive::new(BodyHandle::new(io, buffered.freeze())));
        return Hop::Final(response);
    }
    // A streamed response returns now; its body is read by the caller (`Response::chunk`).
    if options.stream_body && !mode.is_empty() {
        let body = StreamedBody {
            blocker: reuse.blocker(request, &response),
            content,
            deadline: *deadline,
            max_body_size: options.max_body_size,
        };
        response.body_reader = Some(Exclusive::new(Box::new(BodyReader::new(conn, mode, lease, body))));
        return Hop::Final(response);
    }
    if let BodyMode::Length(length) = mode {
        meter.progress.receive_total = Some(length);
    }
    let on_body = options.on_body.as_mut();
    let collect = Collect::UpTo(options.max_body_size);
    let body =
        read_body(&mut conn, &mut response, mode, on_body, collect, Some(&mut meter), content, deadline);
    match body.await {
        Ok(complete) => {
            reuse.release(lease, conn, request, &response, complete);
            Hop::Final(response)
        }
        Err(error) => Hop::Final(response.fail(error)),
    }
}

/// The jar's Cookie header for this hop's URL, if a jar is in use.
fn jar_cookie(request: &Request, options: &Options<'_>) -> Option<http::HeaderValue> {
    #[cfg(feature = "cookies")]
    if let Some(jar) = &options.cookie_jar {
        return jar.header_for(&request.url);
    }
    let _ = (request, options);
    None
}

/// True when this hop asks for compressed content and decodes it: `decompress(true)`, and
/// the caller has neither set nor removed Accept-Encoding (then the body is theirs to decode).
fn wants_decoding(request: &Request, options: &Options<'_>) -> bool {
    #[cfg(feature = "decompress")]
    return options.decompress && request.caller_header(&header::ACCEPT_ENCODING).is_none();
    #[cfg(not(feature = "decompress"))]
    {
        let _ = (request, options);
        false
    }
}

/// The pool's TLS tag for this request: its TLS mode for https, none for http.
fn tls_tag(target: &connect::Target, options: &Options<'_>) -> Option<super::TlsTag> {
    #[cfg(feature = "tls")]
    if target.scheme == "https" {
        return Some(options.tls.pool_tag());
    }
    let _ = (target, options);
    None
}

/// What decides whether a connection may serve another request after this one.
struct Reuse {
    /// The request asked for a persistent connection.
    persistent: bool,
    /// The whole request went out (a server may answer before the body is sent).
    fully_sent: bool,
    mode: BodyMode,
}

impl Reuse {
    /// Returns the connection to the pool if it can serve another request, else closes it
    /// and tells the observer why. `complete`: the body was read to its end.
    fn release(
        &self,
        lease: Lease,
        conn: Connection,
        request: &Request,
        response: &Response,
        complete: bool,
    ) {
        let blocker =
            if complete { self.blocker(request, response) } else { Some("the body was not read to its end") };
        release_connection(lease, conn, blocker);
    }

    /// Why the connection cannot be reused once the body has been read to its end, or `None`
    /// when it can (RFC 9112 §9.3: HTTP/1.1 persists unless told `close`; HTTP/1.0 only
    /// when told `keep-alive`).
    fn blocker(&self, request: &Request, response: &Response) -> Option<&'static str> {
        let says = |token: &str| h1::list_has_token(response.headers().get_all(header::CONNECTION), token);
        if !self.persistent {
            Some("the request was not persistent")
        } else if caller_closes(request) {
            Some("the request said Connection: close")
        } else if !self.fully_sent {
            Some("the server answered before the request was sent")
        } else if says("close") {
            Some("the server said Connection: close")
        } else if response.version() == Some(Version::HTTP_10) && !says("keep-alive") {
            Some("HTTP/1.0 response without keep-alive")
        } else if self.mode == BodyMode::CloseDelimited {
            Some("the body ended with the connection")
        } else if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            Some("switched protocols")
        } else {
            None
        }
    }
}

/// Checks a connection back in, or closes it saying why. Bytes after the response mean the
/// server said more than it framed: those must never be read as the next response.
pub(crate) fn release_connection(lease: Lease, conn: Connection, blocker: Option<&'static str>) {
    match blocker {
        None if conn.has_unread_bytes() => lease.close(conn, "bytes after the response"),
        None => lease.check_in(conn),
        Some(reason) => lease.close(conn, reason),
    }
}

/// True when the caller's own Connection header asks to close.
fn caller_closes(request: &Request) -> bool {
    request.headers.iter().any(|(name, value)| {
        name == header::CONNECTION && value.as_ref().is_some_and(|value| h1::list_has_token([value], "close"))
    })
}

/// Writes the request and returns the final response head, honouring `Expect: 100-continue`,
/// and whether the whole request went out (a server may answer before the body is sent).
async fn send_and_read_head(
    conn: &mut Connection,
    request: &Request,
    config: &Config,
    persistence: Persistence,
    route: &Route<'_>,
    upload: Option<&mut Upload>,
    meter: &mut Meter<'_, '_>,
) -> Result<(ResponseHead, bool), Error> {
    let mut out = Vec::with_capacity(256 + request.body.len().min(INLINE_BODY_LIMIT));
    request_head::write(request, &config.user_agent, persistence, route, &mut out);
    let body = &request.body;
    let wait_for_go_ahead = (upload.is_some() || !body.is_empty()) && expects_continue(request);
    let mut interim_seen = 0;
    let written = if upload.is_none() && !wait_for_go_ahead && body.len() <= INLINE_BODY_LIMIT {
        out.extend_from_slice(body);
        let written = conn.write_request(&out).await.map_err(send_error)?;
        meter.sent(body.len());
        written
    } else {
        // The head first; then, after a 100 Continue if asked for, the body.
        match conn.write_request(&out).await.map_err(send_error)? {
            Written::ResponseArrived => Written::ResponseArrived,
            Written::Complete => {
                if wait_for_go_ahead {
                    if let Some(head) = wait_for_continue(conn, request, &mut interim_seen).await? {
                        return Ok((head, false));
                    }
                }
                match upload {
                    Some(upload) => send_upload(conn, upload, meter).await?,
                    None => {
                        let written = conn.write_request(body).await.map_err(send_error)?;
                        meter.sent(body.len());
                        written
                    }
                }
            }
        }
    };
    let head = loop {
        if let Some(head) = read_final_head(conn, request, false, &mut interim_seen).await? {
            break head;
        }
    };
    Ok((head, written == Written::Complete))
}

/// Waits up to [`CONTINUE_WAIT`] for `100 Continue`; `Some(head)` when the server gave its
/// final answer instead (e.g. 417, 401, 413): then the body is not sent.
async fn wait_for_continue(
    conn: &mut Connection,
    request: &Request,
    interim_seen: &mut usize,
) -> Result<Option<ResponseHead>, Error> {
    match tokio::time::timeout(CONTINUE_WAIT, read_final_head(conn, request, true, interim_seen)).await {
        // 100 Continue, or no answer in time: send the body.
        Ok(Ok(None)) | Err(_) => Ok(None),
        Ok(Ok(Some(head))) => Ok(Some(head)),
        Ok(Err(error)) => Err(error),
    }
}

/// Sends a streamed body: chunked, or with its declared length, which it must match
/// exactly (a mismatch would desynchronise the server). Failures are 596.
async fn send_upload(
    conn: &mut Connection,
    upload: &mut Upload,
    meter: &mut Meter<'_, '_>,
) -> Result<Written, Error> {
    let failed = |what: String| Error::new(ErrorKind::Send, what);
    let chunked = upload.length.is_none();
    let mut sent = 0u64;
    let mut framed = Vec::new();
    while let Some(chunk) = upload
        .next_chunk()
        .await
        .map_err(|cause| failed("read the request body".into()).with_source(cause))?
    {
        sent += chunk.len() as u64;
        if let Some(length) = upload.length.filter(|&length| sent > length) {
            return Err(failed(format!("the request body is longer than its declared {length} bytes")));
        }
        let written = if chunked {
            framed.clear();
            h1::encode_chunk(&mut framed, &chunk);
            conn.write_request(&framed).await
        } else {
            conn.write_request(&chunk).await
        }
        .map_err(send_error)?;
        meter.sent(chunk.len());
        if written == Written::ResponseArrived {
            return Ok(written);
        }
    }
    if let Some(length) = upload.length.filter(|&length| sent != length) {
        return Err(failed(format!("the request body ended after {sent} of its declared {length} bytes")));
    }
    if chunked {
        return conn.write_request(h1::LAST_CHUNK).await.map_err(send_error);
    }
    Ok(Written::Complete)
}

/// Reads heads until a final one, skipping interim 1xx responses. With `stop_at_continue`,
/// a `100 Continue` returns `Ok(None)`. A 101 is final only if the request asked to upgrade.
async fn read_final_head(
    conn: &mut Connection,
    request: &Request,
    stop_at_continue: bool,
    interim_seen: &mut usize,
) -> Result<Option<ResponseHead>, Error> {
    loop {
        let head = conn.read_response_head().await.map_err(head_error)?;
        let status = head.status.as_u16();
        if status >= 200 {
            return Ok(Some(head));
        }
        if status == 101 {
            if matches!(request.caller_header(&header::UPGRADE), Some(Some(_))) {
                return Ok(Some(head));
            }
            return Err(Error::new(
                ErrorKind::ResponseHead,
                "101 Switching Protocols without an Upgrade request",
            ));
        }
        *interim_seen += 1;
        if *interim_seen > MAX_INTERIM_RESPONSES {
            return Err(Error::new(ErrorKind::ResponseHead, "too many interim (1xx) responses"));
        }
        if status == 100 && stop_at_continue {
            return Ok(None);
        }
    }
}

fn expects_continue(request: &Request) -> bool {
    matches!(request.caller_header(&header::EXPECT), Some(Some(value)) if value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads the body into `response` (or through `on_body`), keeping at most `keep` bytes,
/// decoding it through `content` if given, each read bounded by the deadline. `Ok(true)`
/// when the body was read to its end, `Ok(false)` when it was cut at `keep`.
#[allow(clippy::too_many_arguments)]
async fn read_body(
    conn: &mut Connection,
    response: &mut Response,
    mode: BodyMode,
    on_body: Option<&mut OnBody<'_>>,
    collect: Collect,
    mut meter: Option<&mut Meter<'_, '_>>,
    mut content: Option<Decoder>,
    deadline: &Deadline,
) -> Result<bool, Error> {
    let mut decoder = h1::BodyDecoder::new(mode);
    let mut sink = BodySink { on_body, collected: BodyCollector::new(mode), collect };
    let outcome = loop {
        let event = deadline.bound(conn.read_body_event(&mut decoder)).await;
        match event.unwrap_or_else(|expired| Err(ReadError::Io(expired))) {
            Ok(BodyEvent::Data(data)) => {
                if let Some(meter) = meter.as_mut() {
                    meter.received(data.len());
                }
                let flow = match content.as_mut() {
                    None => sink.take(data, response),
                    Some(content) => {
                        content.push(data);
                        sink.take_decoded(content, response)
                    }
                };
                match flow {
                    Ok(true) => {}
                    Ok(false) => break Ok(false),
                    Err(error) => break Err(error),
                }
            }
            Ok(BodyEvent::End(trailers)) => {
                response.trailers = trailers;
                if let Some(content) = content.as_mut() {
                    content.finish();
                    // The wire body is complete whatever the decoded one does.
                    if let Err(error) = sink.take_decoded(content, response) {
                        break Err(error);
                    }
                }
                break Ok(true);
            }
            Err(error) => break Err(body_error(error)),
        }
    };
    response.body = sink.collected.finish();
    outcome
}

/// How much of a body the collector takes (bodies given to `on_body` are not collected).
#[derive(Clone, Copy)]
enum Collect {
    /// A redirect hop: keep the first N bytes and stop reading (the connection is not
    /// reused, so the unread rest can be left behind).
    Keep(usize),
    /// The final response: all of it, but past N bytes the response fails (597) rather
    /// than exhausting memory.
    UpTo(u64),
}

/// Where body pieces go: `on_body`, or the collector.
struct BodySink<'c, 'a> {
    on_body: Option<&'c mut OnBody<'a>>,
    collected: BodyCollector,
    collect: Collect,
}

impl BodySink<'_, '_> {
    /// Takes one piece; `Ok(false)` when the body was cut at `keep`.
    fn take(&mut self, data: Bytes, response: &Response) -> Result<bool, Error> {
        match self.on_body.as_mut() {
            Some(on_body) => {
                if !on_body(&data, response) {
                    return Err(Error::new(ErrorKind::Aborted, "request cancelled by on_body"));
                }
            }
            None => {
                let total = self.collected.len() + data.len();
                match self.collect {
                    Collect::Keep(keep) if total > keep => {
                        self.collected.push(data.slice(..keep - self.collected.len()));
                        return Ok(false);
                    }
                    Collect::UpTo(limit) if total as u64 > limit => {
                        let message = format!(
                            "the response body is larger than {limit} bytes (max_body_size); \
                             stream it with on_body or send_streaming"
                        );
                        return Err(Error::new(ErrorKind::ResponseBody, message));
                    }
                    _ => self.collected.push(data),
                }
            }
        }
        Ok(true)
    }

    /// Takes every chunk `content` can decode from what it has been fed so far.
    fn take_decoded(&mut self, content: &mut Decoder, response: &Response) -> Result<bool, Error> {
        while let Some(chunk) = content.next_chunk()? {
            if !self.take(chunk, response)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Counts bytes for the progress callback.
struct Meter<'c, 'a> {
    on_progress: Option<&'c mut OnProgress<'a>>,
    progress: Progress,
}

impl Meter<'_, '_> {
    fn sent(&mut self, bytes: usize) {
        self.progress.sent += bytes as u64;
        self.report();
    }

    fn received(&mut self, bytes: usize) {
        self.progress.received += bytes as u64;
        self.report();
    }

    fn report(&mut self) {
        if let Some(callback) = self.on_progress.as_mut() {
            callback(self.progress);
        }
    }
}

/// Collects body pieces, without copying when the body arrives in one piece.
enum BodyCollector {
    One(Bytes),
    Many(BytesMut),
}

impl BodyCollector {
    fn new(mode: BodyMode) -> Self {
        match mode {
            BodyMode::Length(length) if length > 0 => {
                Self::Many(BytesMut::with_capacity(length.min(MAX_BODY_PREALLOCATION) as usize))
            }
            _ => Self::One(Bytes::new()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::One(bytes) => bytes.len(),
            Self::Many(bytes) => bytes.len(),
        }
    }

    fn push(&mut self, data: Bytes) {
        match self {
            Self::One(first) if first.is_empty() => *first = data,
            Self::One(first) => {
                let mut many = BytesMut::with_capacity(first.len() + data.len());
                many.extend_from_slice(first);
                many.extend_from_slice(&data);
                *self = Self::Many(many);
            }
            Self::Many(many) => many.extend_from_slice(&data),
        }
    }

    fn finish(self) -> Bytes {
        match self {
            Self::One(bytes) => bytes,
            Self::Many(bytes) => bytes.freeze(),
        }
    }
}

fn send_error(cause: std::io::Error) -> Error {
    Error::new(ErrorKind::Send, "send request").with_source(cause)
}

fn head_error(error: ReadError) -> Error {
    let kind = ErrorKind::ResponseHead;
    match error {
        ReadError::Io(cause) => Error::new(kind, "read response head").with_source(cause),
        ReadError::Protocol(cause) => Error::new(kind, "invalid response head").with_source(cause),
        ReadError::Closed { partial: false } => {
            Error::new(kind, "connection closed before the response head")
        }
        ReadError::Closed { partial: true } => {
            Error::new(kind, "connection closed in the middle of the response head")
        }
    }
}

pub(crate) fn body_error(error: ReadError) -> Error {
    let kind = ErrorKind::ResponseBody;
    match error {
        ReadError::Io(cause) => Error::new(kind, "read response body").with_source(cause),
        ReadError::Protocol(cause) => Error::new(kind, "invalid response body").with_source(cause),
        ReadError::Closed { .. } => Error::new(kind, "connection closed during the response body"),
    }
}
