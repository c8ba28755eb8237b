//! The main loop: one request from URL to Response. Per hop: a pooled or new connection,
//! the exchange (sent and its head read by `driver.rs`, decided by `exchange`), then the
//! redirect, the retry (the retry policy) or the body. One deadline, set at the start,
//! bounds every hop and retry.

use super::body_reader::{BodyReader, StreamedBody};
use super::collect::{self, Collect, Meter};
use super::connect::{self, ConnectPlan};
use super::deadline::{bounded, Deadline};
use super::decompress::Decoder;
use super::driver;
use super::events::{ConnectionEvent, EventKind};
use super::exchange::{self, Exchange, Outcome, Plan, INLINE_BODY_LIMIT};
use super::exclusive::Exclusive;
use super::options::Options;
use super::pool::{PoolKey, TlsTag};
use super::prepared::PreparedRequest;
use super::proxy::{ProxyScheme, ProxyServer};
use super::redirect;
use super::request_head::{self, Persistence, Route};
use super::response::{BodyHandle, Response};
use super::retry::Attempts;
use super::target::Target;
use super::Config;
use crate::error::{Error, ErrorKind};
use crate::h1::BodyMode;
use crate::io::{with_timeout, Wire};
use http::header;
use http::StatusCode;
use std::time::Duration;
use url::Url;

/// How much of a redirect response's body is kept with the hop (or of a response that is
/// retried); the rest is not read.
const REDIRECT_BODY_LIMIT: usize = 64 * 1024;

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
pub(crate) async fn run(
    request: &mut PreparedRequest,
    options: &mut Options<'_>,
    config: &Config,
) -> Response {
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
        // Boxed: whoever polls `send()` would otherwise move the hop's state around.
        let hop = Box::pin(hop(
            request,
            target,
            referer.as_ref(),
            options,
            config,
            follow_redirects,
            first_proxy.as_ref(),
            &deadline,
            &mut attempts,
        ))
        .await;
        // What the attempt ended in and the pause before the next one; the response is
        // dropped before the pause, so the wait does not hold it.
        let (status, pause) = match hop {
            // A failure before any head (595, 596) may be retried here; a status the server
            // gave was considered by the exchange, before any callback saw it.
            Hop::Final(response) => match attempts.pause_after(request, &response, &deadline) {
                Some(pause) if response.is_error() => (response.status(), pause),
                _ => return with_redirect_chain(response, hops),
            },
            Hop::Retry(response, pause) => (response.status(), pause),
            Hop::Redirect(hop, location) => {
                let next = redirect::next_request(request, hop.status(), &location);
                hops.push(hop);
                match next {
                    Ok(next) => {
                        target = next.target();
                        referer = Some(std::mem::replace(request, next).url);
                    }
                    Err((url, error)) => return with_redirect_chain(Response::from_error(url, error), hops),
                }
                continue;
            }
        };
        back_off(config, request, options.session_id.as_ref(), &attempts, status, pause).await;
        target = request.target();
    }
}

/// Announces a retry (a `Backoff` connection event, and `tracing`), then pauses. The pause
/// ends before the deadline: the policy does not choose one that would not.
async fn back_off(
    config: &Config,
    request: &PreparedRequest,
    session: Option<&String>,
    attempts: &Attempts,
    status: StatusCode,
    pause: Duration,
) {
    let kind = EventKind::Backoff { status: status.as_u16(), retry: attempts.retries(), pause };
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

/// One hop: a pooled or fresh connection, the exchange up to the final head, then the
/// retry, the redirect or the delivery of the response; the connection goes back to the
/// pool only after a clean, complete exchange.
#[allow(clippy::too_many_arguments)]
async fn hop(
    request: &PreparedRequest,
    target: Target,
    referer: Option<&Url>,
    options: &mut Options<'_>,
    config: &Config,
    follow_redirects: bool,
    first_proxy: Option<&ProxyServer>,
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
    let Target { scheme, host, port } = target;
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
    // (A block: what only the head needs is gone before the first wait.)
    let mut exchange = {
        let plan = Plan::new(request, upload.as_ref().map(|upload| upload.length), persistent);
        let cookie = jar_cookie(request, options);
        let route = Route {
            absolute_form,
            proxy_authorization: proxy_authorization.as_ref(),
            cookie: cookie.as_ref(),
            framing: plan.framing,
            referer,
            accept_encoding: decoding,
        };
        let mut head = Vec::with_capacity(256 + request.body.len().min(INLINE_BODY_LIMIT));
        request_head::write(request, &config.user_agent, persistence, &route, &mut head);
        Exchange::new(plan, head, request.body.clone())
    };

    // The activity timeout counts while the request waits for a slot, too, and so does
    // the deadline.
    let waited = bounded!(
        deadline,
        with_timeout(options.timeout, async { Ok(config.pool.acquire(&key, persistent).await) })
    );
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
    let mut meter = Meter::new(options.on_progress.as_mut(), send_total);
    let (mut conn, head) = loop {
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
                let target = Target { scheme: key.scheme.clone(), host: key.host.clone(), port: key.port };
                // Boxed: connecting (resolution, Happy Eyeballs, proxies, TLS) is the largest
                // state in this future, and a reused connection never needs it.
                match bounded!(deadline, Box::pin(connect::connect(&target, &plan))) {
                    Ok(Ok((io, address))) => {
                        lease.opened(address);
                        (Wire::new(io, options.read_buffer_size, options.timeout), false)
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
        match driver::send_and_read_head(&mut conn, &mut exchange, upload.as_mut(), &mut meter, deadline)
            .await
        {
            Ok(head) => break (conn, head),
            // A cached connection the server closed meanwhile fails exactly like this:
            // nothing came back. Then an idempotent request is sent once more.
            Err(error) if exchange.retry_stale(&error, reused, conn.bytes_read() == read_before) => {
                drop(conn);
                lease.retrying();
            }
            Err(error) => return Hop::Final(Response::from_error(url, error)),
        }
    };

    // Every response that got this far sets its cookies, redirect hops included.
    #[cfg(feature = "cookies")]
    if let Some(jar) = &options.cookie_jar {
        jar.store_from(&request.url, &head.headers);
    }
    let progress = meter.progress;
    let mut response = Response::from_head(url, head);
    let mode = match exchange.body_mode() {
        Ok(mode) => mode,
        Err(error) => return Hop::Final(response.fail(error)),
    };
    // The retry policy decides on the head, before any callback sees it.
    let pause = attempts.pause_after(request, &response, deadline);
    let outcome = exchange::after_head(
        response.status(),
        response.headers(),
        pause,
        follow_redirects,
        upload.is_some(),
    );
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return Hop::Final(response.fail(error)),
    };
    let (collect, content) = match outcome {
        // A retried response and a redirect hop are read in part (so that the connection
        // can be reused) and never reach the callbacks.
        Outcome::Retry(_) | Outcome::Redirect(_) => (Collect::Keep(REDIRECT_BODY_LIMIT), None),
        Outcome::Deliver => match deliver(&mut response, mode, options, decoding) {
            Err(error) => return Hop::Final(response.fail(error)),
            Ok(Delivery::Handle) => {
                lease.hand_over();
                let (io, buffered) = conn.into_parts();
                response.body_handle = Some(Exclusive::new(Box::new(BodyHandle::new(io, buffered.freeze()))));
                return Hop::Final(response);
            }
            // The caller reads the body (`Response::chunk`), with the deadline still on.
            Ok(Delivery::Stream(content)) => {
                let body =
                    StreamedBody { content, deadline: *deadline, max_body_size: options.max_body_size };
                let reader = BodyReader::new(conn, exchange, lease, body);
                response.body_reader = Some(Exclusive::new(Box::new(reader)));
                return Hop::Final(response);
            }
            Ok(Delivery::Read(content)) => (Collect::UpTo(options.max_body_size), content),
        },
    };
    let delivering = matches!(collect, Collect::UpTo(_));
    let mut meter = Meter::resume(options.on_progress.as_mut().filter(|_| delivering), progress);
    if let (true, BodyMode::Length(length)) = (delivering, mode) {
        meter.progress.receive_total = Some(length);
    }
    let on_body = options.on_body.as_mut().filter(|_| delivering);
    let meter = delivering.then_some(&mut meter);
    let body = collect::read_body(
        &mut conn,
        &mut exchange,
        &mut response,
        on_body,
        collect,
        meter,
        content,
        deadline,
    );
    let body = body.await;
    if let Ok(complete) = body {
        lease.release(conn, exchange.close_reason(complete));
    }
    match (outcome, body) {
        (Outcome::Retry(pause), _) => Hop::Retry(response, pause),
        (_, Err(error)) => Hop::Final(response.fail(error)),
        (Outcome::Redirect(location), Ok(_)) => Hop::Redirect(response, location),
        (Outcome::Deliver, Ok(_)) => Hop::Final(response),
    }
}

/// How the final response's body is delivered.
enum Delivery {
    /// The connection itself goes to the caller (`want_body_handle`).
    Handle,
    /// The caller reads the body (`send_streaming`), decoded through this if given.
    Stream(Option<Decoder>),
    /// It is read now (through `on_body`, or collected), decoded through this if given.
    Read(Option<Decoder>),
}

/// Prepares the final response: the content decoder, then `on_header`; says how its body
/// is delivered.
fn deliver(
    response: &mut Response,
    mode: BodyMode,
    options: &mut Options<'_>,
    decoding: bool,
) -> Result<Delivery, Error> {
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
        content = Decoder::for_response(&mut response.headers)?;
    }
    if let Some(on_header) = options.on_header.as_mut() {
        if !on_header(response) {
            return Err(Error::new(ErrorKind::Aborted, "request cancelled by on_header"));
        }
    }
    Ok(if handed_over {
        Delivery::Handle
    } else if options.stream_body && !mode.is_empty() {
        Delivery::Stream(content)
    } else {
        Delivery::Read(content)
    })
}

/// The jar's Cookie header for this hop's URL, if a jar is in use.
fn jar_cookie(request: &PreparedRequest, options: &Options<'_>) -> Option<http::HeaderValue> {
    #[cfg(feature = "cookies")]
    if let Some(jar) = &options.cookie_jar {
        return jar.header_for(&request.url);
    }
    let _ = (request, options);
    None
}

/// True when this hop asks for compressed content and decodes it: `decompress(true)`, and
/// the caller has neither set nor removed Accept-Encoding (then the body is theirs to decode).
fn wants_decoding(request: &PreparedRequest, options: &Options<'_>) -> bool {
    #[cfg(feature = "decompress")]
    return options.decompress && request.caller_header(&header::ACCEPT_ENCODING).is_none();
    #[cfg(not(feature = "decompress"))]
    {
        let _ = (request, options);
        false
    }
}

/// The pool's TLS tag for this request: its TLS mode for https, none for http.
fn tls_tag(target: &Target, options: &Options<'_>) -> Option<TlsTag> {
    #[cfg(feature = "tls")]
    if target.scheme == "https" {
        return Some(TlsTag::of(&options.tls));
    }
    let _ = (target, options);
    None
}
