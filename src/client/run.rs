//! The main loop: one request from URL to Response. Per hop: connect, send, read heads
//! (skipping 1xx), then either follow the redirect or deliver the body.

use super::connect::{self, ConnectPlan};
use super::redirect;
use super::request::{OnBody, Options, Request};
use super::request_head;
use super::response::{BodyHandle, Response};
use super::Config;
use crate::error::{Error, ErrorKind};
use crate::h1::{self, limits::MAX_INTERIM_RESPONSES, BodyEvent, BodyMode, MessageKind, ResponseHead};
use crate::io::{Connection, ReadError};
use bytes::{Bytes, BytesMut};
use http::header;
use std::time::Duration;
use url::Url;

/// How long to wait for `100 Continue` before sending the body anyway (curl waits 1 s too):
/// servers that ignore `Expect` must not stall the request.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Bodies up to this size go out in the same write as the head: one syscall, one packet.
const INLINE_BODY_LIMIT: usize = 64 * 1024;

/// How much of a redirect response's body is kept with the hop; the rest is not read.
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
}

/// The main loop: runs `request` through every redirect hop and returns the final response.
pub(crate) async fn run(mut request: Request, mut options: Options<'_>, config: &Config) -> Response {
    let mut hops: Vec<Response> = Vec::new();
    let mut referer: Option<Url> = None;
    loop {
        let follow_redirects = hops.len() < options.recurse as usize;
        let (hop, location) =
            match exchange(&request, referer.as_ref(), &mut options, config, follow_redirects).await {
                Hop::Final(response) => return with_redirect_chain(response, hops),
                Hop::Redirect(hop, location) => (hop, location),
            };
        let next = redirect::next_request(&request, hop.status(), &location);
        hops.push(hop);
        match next {
            Ok(next) => referer = Some(std::mem::replace(&mut request, next).url),
            Err((url, error)) => return with_redirect_chain(Response::from_error(url, error), hops),
        }
    }
}

/// Attaches the hops (collected oldest first) newest first, as the seed's `Redirect` chain.
fn with_redirect_chain(mut response: Response, mut hops: Vec<Response>) -> Response {
    hops.reverse();
    response.redirects = hops;
    response
}

/// One hop: a fresh connection, the request, the final head, then body or redirect.
async fn exchange(
    request: &Request,
    referer: Option<&Url>,
    options: &mut Options<'_>,
    config: &Config,
    follow_redirects: bool,
) -> Hop {
    let url = request.url.as_str();
    let plan = ConnectPlan {
        timeout: options.timeout,
        on_prepare: options.on_prepare.as_ref(),
        connector: options.connector.as_ref(),
    };
    let io = match connect::connect(&request.target(), &plan).await {
        Ok(io) => io,
        Err(error) => return Hop::Final(Response::from_error(url, error)),
    };
    let mut conn = Connection::new(io, options.read_buffer_size, options.timeout);
    let head = match send_and_read_head(&mut conn, request, referer, config).await {
        Ok(head) => head,
        Err(error) => return Hop::Final(Response::from_error(url, error)),
    };
    let kind = MessageKind::Response { request_method: &request.method, status: head.status.as_u16() };
    let framing = h1::body_mode(kind, head.version, &head.headers);
    let mut response = Response::from_head(url, head);
    let mode = match framing {
        Ok(mode) => mode,
        Err(cause) => {
            let error = Error::new(ErrorKind::ResponseHead, "invalid response framing").with_source(cause);
            return Hop::Final(response.fail(error));
        }
    };

    if follow_redirects && redirect::is_redirect(response.status()) {
        match redirect::location(response.headers()) {
            Err(error) => return Hop::Final(response.fail(error)),
            Ok(Some(location)) => {
                return match read_body(&mut conn, &mut response, mode, None, REDIRECT_BODY_LIMIT).await {
                    Ok(()) => Hop::Redirect(response, location),
                    Err(error) => Hop::Final(response.fail(error)),
                };
            }
            // A 3xx without Location is an ordinary response.
            Ok(None) => {}
        }
    }

    if let Some(on_header) = options.on_header.as_mut() {
        if !on_header(&response) {
            return Hop::Final(
                response.fail(Error::new(ErrorKind::Aborted, "request cancelled by on_header")),
            );
        }
    }
    let switched = response.status() == http::StatusCode::SWITCHING_PROTOCOLS;
    if options.want_body_handle && (!mode.is_empty() || switched) {
        let (io, buffered) = conn.into_parts();
        response.body_handle = Some(BodyHandle::new(io, buffered.freeze()));
        return Hop::Final(response);
    }
    match read_body(&mut conn, &mut response, mode, options.on_body.as_mut(), usize::MAX).await {
        Ok(()) => Hop::Final(response),
        Err(error) => Hop::Final(response.fail(error)),
    }
}

/// Writes the request and returns the final response head, honouring `Expect: 100-continue`.
async fn send_and_read_head(
    conn: &mut Connection,
    request: &Request,
    referer: Option<&Url>,
    config: &Config,
) -> Result<ResponseHead, Error> {
    let mut out = Vec::with_capacity(256 + request.body.len().min(INLINE_BODY_LIMIT));
    request_head::write(request, referer, &config.user_agent, &mut out);
    let body = &request.body;
    let mut interim_seen = 0;
    if !body.is_empty() && expects_continue(request) {
        conn.write_all(&out).await.map_err(send_error)?;
        let waited =
            tokio::time::timeout(CONTINUE_WAIT, read_final_head(conn, request, true, &mut interim_seen))
                .await;
        match waited {
            // 100 Continue, or no answer in time: send the body.
            Ok(Ok(None)) | Err(_) => {}
            // The server answered without wanting the body (e.g. 417, 401, 413).
            Ok(Ok(Some(head))) => return Ok(head),
            Ok(Err(error)) => return Err(error),
        }
        conn.write_all(body).await.map_err(send_error)?;
    } else if body.len() <= INLINE_BODY_LIMIT {
        out.extend_from_slice(body);
        conn.write_all(&out).await.map_err(send_error)?;
    } else {
        conn.write_all(&out).await.map_err(send_error)?;
        conn.write_all(body).await.map_err(send_error)?;
    }
    let head = read_final_head(conn, request, false, &mut interim_seen).await?;
    Ok(head.unwrap_or_else(|| unreachable!("only stops at 100 when asked to")))
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

/// Reads the body into `response` (or through `on_body`), keeping at most `keep` bytes.
async fn read_body(
    conn: &mut Connection,
    response: &mut Response,
    mode: BodyMode,
    mut on_body: Option<&mut OnBody<'_>>,
    keep: usize,
) -> Result<(), Error> {
    let mut decoder = h1::BodyDecoder::new(mode);
    let mut collected = BodyCollector::new(mode);
    let outcome = loop {
        match conn.read_body_event(&mut decoder).await {
            Ok(BodyEvent::Data(data)) => match on_body.as_mut() {
                Some(on_body) => {
                    if !on_body(&data, response) {
                        break Err(Error::new(ErrorKind::Aborted, "request cancelled by on_body"));
                    }
                }
                None => {
                    if collected.len() + data.len() > keep {
                        // Only redirect hops set a limit; their connection is not reused,
                        // so the unread rest of the body can simply be left behind.
                        collected.push(data.slice(..keep - collected.len()));
                        break Ok(());
                    }
                    collected.push(data);
                }
            },
            Ok(BodyEvent::End(trailers)) => {
                response.trailers = trailers;
                break Ok(());
            }
            Err(error) => break Err(body_error(error)),
        }
    };
    response.body = collected.finish();
    outcome
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

fn body_error(error: ReadError) -> Error {
    let kind = ErrorKind::ResponseBody;
    match error {
        ReadError::Io(cause) => Error::new(kind, "read response body").with_source(cause),
        ReadError::Protocol(cause) => Error::new(kind, "invalid response body").with_source(cause),
        ReadError::Closed { .. } => Error::new(kind, "connection closed during the response body"),
    }
}
