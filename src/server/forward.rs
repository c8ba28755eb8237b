//! Forwarding: requests nothing else answered go to a real upstream through courier's
//! client, and each exchange is recorded (see [`Recording`]).

use super::{Reply, Request, Server, ServerBuilder, DEFAULT_RECORD_LIMIT};
use crate::Client;
use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, Method, StatusCode};
use std::collections::VecDeque;
use std::sync::Mutex;

/// One request that was forwarded, and the upstream's response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exchange {
    /// The request's method.
    pub method: Method,
    /// The request's target as sent (`/users?page=2`).
    pub target: String,
    /// The request's header fields, as they arrived.
    pub request_headers: HeaderMap,
    /// The request's body.
    pub request_body: Bytes,
    /// The upstream's status.
    pub status: StatusCode,
    /// The upstream's header fields, hop-by-hop fields left out.
    pub response_headers: HeaderMap,
    /// The upstream's body, as sent (still content-encoded, if it was).
    pub response_body: Bytes,
}

impl Exchange {
    /// The upstream's response as a reply: its status, headers and body. Date is the
    /// server's own, and the server's default headers (Server, Cache-Control, Expires)
    /// are left out unless the upstream sent them.
    pub(crate) fn reply(&self) -> Reply {
        let mut reply = Reply::new(self.status.as_u16()).with_body(self.response_body.clone());
        for default in [header::SERVER, header::CACHE_CONTROL, header::EXPIRES] {
            if !self.response_headers.contains_key(&default) {
                reply = reply.without_header(default.as_str());
            }
        }
        for (name, value) in &self.response_headers {
            if name != header::DATE {
                reply.headers.append(name.clone(), value.clone());
            }
        }
        reply
    }
}

/// Exchanges recorded by a forwarding server ([`ServerBuilder::forward_to`]), oldest
/// first: save them with `save` (feature `json`) and mount them as mocks with
/// [`Server::replay`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    pub(crate) exchanges: Vec<Exchange>,
}

impl Recording {
    /// The exchanges, oldest first.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }
}

/// Sends requests upstream and records what came back.
pub(crate) struct Forwarder {
    /// The upstream's origin and path prefix, without a trailing `/`.
    base: String,
    client: Client,
    recorded: Mutex<VecDeque<Exchange>>,
}

impl Forwarder {
    fn new(upstream: &str) -> Self {
        let parsed = url::Url::parse(upstream).ok().filter(|url| matches!(url.scheme(), "http" | "https"));
        let Some(mut url) = parsed else { panic!("forward_to: {upstream:?} is not an http or https URL") };
        url.set_query(None);
        url.set_fragment(None);
        // The client's own choices would change what the upstream sees: no redirects
        // followed (the caller's client sees them), no proxy from the environment.
        let client = Client::builder().max_recurse(0).proxy(crate::Proxy::none()).build();
        Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
            client: client.unwrap_or_default(),
            recorded: Mutex::default(),
        }
    }

    /// Forwards `request` (method, target, end-to-end headers, body) and relays the
    /// response; 502 if the upstream could not be reached or answered badly.
    pub(crate) async fn forward(&self, request: &Request) -> Reply {
        let body = match request.body().await {
            Ok(body) => body,
            Err(error) => return error.into(),
        };
        if !request.target().starts_with('/') {
            return Reply::error(400, "only origin-form targets are forwarded");
        }
        let url = format!("{}{}", self.base, request.target());
        let mut outgoing = self.client.request(request.method().as_str(), url.as_str()).body(body.clone());
        let skip = hop_by_hop(request.headers());
        for (name, value) in request.headers() {
            // Host names the upstream, the client frames the body, and the body is read
            // already: no 100-continue.
            if ![header::HOST, header::CONTENT_LENGTH, header::EXPECT].contains(name) && !skip(name) {
                outgoing = outgoing.header(name.as_str(), value.as_bytes());
            }
        }
        // Without the client's defaults the upstream sees what arrived. (TE: trailers
        // would invite trailers, which a relayed reply could not carry.)
        outgoing = outgoing.remove_header(header::TE.as_str());
        if !request.headers().contains_key(header::USER_AGENT) {
            outgoing = outgoing.remove_header(header::USER_AGENT.as_str());
        }
        let response = outgoing.send().await;
        if response.is_error() {
            return Reply::error(502, &format!("forwarding to {} failed: {}", self.base, response.reason()));
        }
        let skip = hop_by_hop(response.headers());
        let mut response_headers = HeaderMap::new();
        for (name, value) in response.headers() {
            // Content-Length stays: the server writes its own for a body, and keeps this
            // one for a reply to HEAD, which has no body to count.
            if !skip(name) {
                response_headers.append(name.clone(), value.clone());
            }
        }
        let exchange = Exchange {
            method: request.method().clone(),
            target: request.target().to_owned(),
            request_headers: request.headers().clone(),
            request_body: body,
            status: response.status(),
            response_headers,
            response_body: response.body().clone(),
        };
        let reply = exchange.reply();
        let mut recorded = self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if recorded.len() == DEFAULT_RECORD_LIMIT {
            recorded.pop_front();
        }
        recorded.push_back(exchange);
        reply
    }

    fn recording(&self) -> Recording {
        let recorded = self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Recording { exchanges: recorded.iter().cloned().collect() }
    }
}

/// The hop-by-hop fields of a message (RFC 9110 §7.6.1): the fixed ones and those its
/// Connection header names. They concern one connection, so they are not passed on.
pub(crate) fn hop_by_hop(headers: &HeaderMap) -> impl Fn(&HeaderName) -> bool + '_ {
    const FIXED: [&str; 9] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    move |name: &HeaderName| {
        FIXED.contains(&name.as_str())
            || headers
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|value| value.split(',').any(|token| token.trim().eq_ignore_ascii_case(name.as_str())))
    }
}

impl ServerBuilder {
    /// Record mode: requests that no mock or handler answers are sent to `upstream` with
    /// courier's client (method, target, end-to-end headers, body) instead of getting a
    /// 404, the response is relayed, and each exchange is recorded for
    /// [`Server::recording`] (the last 10,000). An unreachable upstream gives 502.
    ///
    /// # Panics
    ///
    /// If `upstream` is not an `http` or `https` URL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{Reply, Server};
    /// let upstream = Server::builder().route("/hello", |_req| async { Reply::text("hi") }).start().await?;
    /// let proxy = Server::builder().forward_to(&upstream.url("/")).start().await?;
    /// assert_eq!(courier::get(proxy.url("/hello")).send().await.text(), "hi");
    /// let recording = proxy.recording();
    /// assert_eq!((recording.exchanges()[0].target.as_str(), &recording.exchanges()[0].response_body[..]), ("/hello", &b"hi"[..]));
    /// # Ok(()) }
    /// ```
    pub fn forward_to(mut self, upstream: &str) -> Self {
        self.router.set_forward(Forwarder::new(upstream));
        self
    }
}

impl Server {
    /// What forwarding recorded so far ([`ServerBuilder::forward_to`]); empty otherwise.
    pub fn recording(&self) -> Recording {
        self.shared.router().forward().map(|forward| forward.recording()).unwrap_or_default()
    }
}
