//! The request builder (AnyEvent::HTTP's `http_request` options), the client's request
//! constructors, and the spawn guard. Sending validates the request
//! ([`PreparedRequest`]) and hands it to the main loop.

use super::connect::Connector;
use super::options::{Options, Progress};
use super::prepared::{basic_credentials, IntoUrl, PreparedRequest, UrlArg};
use super::response::Response;
use super::retry::Retry;
use super::{run, trace, Client};
use crate::error::{Error, ErrorKind};
use bytes::Bytes;
use http::Method;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpSocket;

/// A request being configured; finish with [`send`](Self::send) (a [`Response`] always),
/// [`try_send`](Self::try_send) (a `Result`, for `?`) or [`spawn`](Self::spawn) (a
/// callback).
///
/// Nothing is checked until then: a bad URL, method or header becomes a 599 response.
///
/// The lifetime `'a` lets `on_header` and `on_body` borrow from the caller (a file, a
/// counter) when the request is awaited with `send`; `spawn` needs `'static` callbacks.
///
/// ```no_run
/// # async fn demo() {
/// use std::time::Duration;
/// let res = courier::post("http://127.0.0.1:8080/api")
///     .body(r#"{"a":1}"#)
///     .header("content-type", "application/json")
///     .remove_header("te")
///     .timeout(Duration::from_secs(30))
///     .deadline(Duration::from_secs(60))
///     .recurse(3)
///     .send()
///     .await;
/// println!("{} {}", res.status(), res.text());
/// # }
/// ```
#[must_use = "a request does nothing until `.send().await` or `.spawn(..)`"]
pub struct RequestBuilder<'a> {
    client: Client,
    /// The method, or the text that is not one (a 599 when sent).
    method: Result<Method, String>,
    url: UrlArg,
    /// Caller headers in order; `None` suppresses a default header of that name.
    headers: Vec<(String, Option<Vec<u8>>)>,
    body: Bytes,
    options: Options<'a>,
    /// A body helper that could not build the body (a value JSON cannot represent): the
    /// request fails with this when sent.
    invalid: Option<Error>,
}

impl<'a> RequestBuilder<'a> {
    pub(crate) fn new(client: Client, method: &str, url: UrlArg) -> Self {
        let config = client.config();
        let options = Options {
            timeout: config.timeout,
            deadline: config.deadline,
            retry: config.retry.clone(),
            recurse: config.max_recurse,
            read_buffer_size: config.read_buffer_size,
            max_body_size: config.max_body_size,
            on_header: None,
            on_body: None,
            want_body_handle: false,
            stream_body: false,
            upload: None,
            on_progress: None,
            on_prepare: None,
            connector: None,
            persistent: None,
            keepalive: None,
            session_id: None,
            proxy: config.proxy.clone().unwrap_or_else(super::default_proxy),
            #[cfg(feature = "cookies")]
            cookie_jar: config.cookie_jar.clone(),
            #[cfg(feature = "tls")]
            tls: config.tls.clone(),
            #[cfg(feature = "decompress")]
            decompress: config.decompress,
        };
        Self {
            client,
            method: Method::from_bytes(method.as_bytes()).map_err(|_| method.to_owned()),
            url,
            headers: Vec::new(),
            body: Bytes::new(),
            options,
            invalid: None,
        }
    }

    /// Adds a header field (repeatable). Replaces courier's default of the same name
    /// (User-Agent, TE, Referer, Connection, Host) and the client's
    /// [`default_headers`](crate::ClientBuilder::default_headers) of that name.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::get("http://127.0.0.1:8080/").header("accept", "text/html").send().await;
    /// # }
    /// ```
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        let name = name.as_ref();
        self.headers.retain(|(existing, value)| value.is_some() || !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), Some(value.as_ref().to_vec())));
        self
    }

    /// `Authorization: Basic` for `user` and `password` (RFC 7617). Replaces an
    /// Authorization set before and the URL's own `user:password@`. Like every
    /// Authorization header, it is not sent on a redirect to another origin.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::get("http://127.0.0.1:8080/private").basic_auth("ada", Some("s3cret")).send().await;
    /// # }
    /// ```
    pub fn basic_auth(self, user: impl AsRef<str>, password: Option<&str>) -> Self {
        let credentials = basic_credentials(user.as_ref(), password.unwrap_or_default());
        self.remove_header("authorization").header("authorization", credentials)
    }

    /// `Authorization: Bearer <token>` (RFC 6750). Not sent on a redirect to another
    /// origin.
    pub fn bearer_auth(self, token: impl AsRef<str>) -> Self {
        self.remove_header("authorization").header("authorization", format!("Bearer {}", token.as_ref()))
    }

    /// Suppresses a header: courier's default of that name is not sent, nor the client's
    /// default header, and any value set earlier with [`header`](Self::header) is dropped
    /// (AnyEvent::HTTP's `undef` header value).
    pub fn remove_header(mut self, name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        self.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), None));
        self
    }

    /// The request body, sent with a Content-Length. It stays in memory, so the request can
    /// be [retried](crate::Retry) and [cloned](Self::try_clone).
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::put("http://127.0.0.1:8080/notes/1").body("remember the milk").send().await;
    /// # }
    /// ```
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self.options.upload = None;
        self
    }

    /// An `application/x-www-form-urlencoded` body from `pairs` (WHATWG encoding: spaces
    /// become `+`). Sets Content-Type unless one was set.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::post("http://127.0.0.1:8080/login")
    ///     .form([("user", "ada"), ("note", "a&b c")]) // user=ada&note=a%26b+c
    ///     .send()
    ///     .await;
    /// # }
    /// ```
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut encoded = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            encoded.append_pair(name.as_ref(), value.as_ref());
        }
        self.content_type_unless_set("application/x-www-form-urlencoded").body(encoded.finish())
    }

    /// A JSON body serialized from `value`, with `Content-Type: application/json` unless
    /// one was set. A value JSON cannot represent (a map with non-string keys) makes the
    /// request a 599 when sent.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::post("http://127.0.0.1:8080/items")
    ///     .json(&serde_json::json!({"name": "lamp", "price": 12}))
    ///     .send()
    ///     .await;
    /// # }
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => self.content_type_unless_set("application/json").body(body),
            Err(cause) => {
                let error =
                    Error::new(ErrorKind::InvalidRequest, "serialize the JSON body").with_source(cause);
                self.invalid = Some(error);
                self
            }
        }
    }

    /// A `multipart/form-data` body ([`Multipart`](crate::Multipart)): text fields and
    /// files, the files streamed from disk while the request is sent, with its exact
    /// Content-Length. Sets Content-Type (with the boundary), replacing one set before.
    pub fn multipart(self, form: super::Multipart) -> Self {
        let content_type = form.content_type();
        let length = form.length();
        self.remove_header("content-type")
            .header("content-type", content_type)
            .body_stream(form.into_stream(), Some(length))
    }

    /// Adds `Content-Type: value` unless the caller set or removed one.
    fn content_type_unless_set(self, value: &str) -> Self {
        let set = self.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if set {
            self
        } else {
            self.header("content-type", value)
        }
    }

    /// A body produced while it is sent: chunks from `stream`. With `length` it goes out
    /// with that Content-Length (which it must match, else 596), without it chunked. A
    /// failing stream is a 596, and the connection is not reused. Such a body is sent once:
    /// the request is never retried, and a 307/308 redirect is returned, not followed.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let chunks = futures_util::stream::iter(["a", "b", "c"].map(|s| Ok(courier::Bytes::from(s))));
    /// let res = courier::post("http://127.0.0.1:8080/upload").body_stream(chunks, None).send().await;
    /// # }
    /// ```
    pub fn body_stream(
        mut self,
        stream: impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static,
        length: Option<u64>,
    ) -> Self {
        self.body = Bytes::new();
        self.options.upload = Some(super::upload::Upload::stream(stream, length));
        self
    }

    /// A body read from `reader` while it is sent (see [`body_stream`](Self::body_stream)).
    pub fn body_reader(
        mut self,
        reader: impl tokio::io::AsyncRead + Send + 'static,
        length: Option<u64>,
    ) -> Self {
        self.body = Bytes::new();
        self.options.upload = Some(super::upload::Upload::reader(reader, length));
        self
    }

    /// A body streamed from the file at `path`, with its size as Content-Length; a file
    /// that cannot be opened is a 599 before anything is sent.
    pub fn body_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.body = Bytes::new();
        self.options.upload = Some(super::upload::Upload::file(path.into()));
        self
    }

    /// The activity timeout (AnyEvent::HTTP's `timeout`): connecting, and every single
    /// read and write, must make progress within it. **It is not a bound on the whole
    /// request**: a server that sends one byte every few seconds keeps it alive forever.
    /// For that, use [`deadline`](Self::deadline). Default: the client's, 300 s. See
    /// [`ClientBuilder::timeout`](crate::ClientBuilder::timeout).
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use std::time::Duration;
    /// let res = courier::get("http://127.0.0.1:8080/").timeout(Duration::from_secs(5)).send().await;
    /// if res.error().is_some_and(|error| error.is_timeout()) {
    ///     eprintln!("no progress for 5 s: {}", res.reason());
    /// }
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// The overall deadline: the whole request (waiting for a pool slot, connecting,
    /// every redirect hop and retry, and the body) must be over within it, measured from
    /// `send`. Past it the request fails, with the status of the phase it was in: 595
    /// while waiting or connecting, 596 while sending or reading the head, 597 during the
    /// body (also for a body read later with [`send_streaming`](Self::send_streaming)).
    /// [`Error::is_timeout`](crate::Error::is_timeout) is true. The activity
    /// [`timeout`](Self::timeout) still applies to each step. Callbacks are not
    /// interrupted: the deadline is checked at each step of I/O. Default: the client's
    /// ([`ClientBuilder::deadline`](crate::ClientBuilder::deadline)), none unless set.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use std::time::Duration;
    /// let res = courier::get("http://127.0.0.1:8080/slow").deadline(Duration::from_secs(2)).send().await;
    /// if res.error().is_some_and(|error| error.is_timeout()) {
    ///     eprintln!("not done within 2 s: {} {}", res.status(), res.reason());
    /// }
    /// # }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }

    /// The retry policy for this request, replacing the client's
    /// ([`ClientBuilder::retry`](crate::ClientBuilder::retry)); [`Retry::none()`] turns
    /// retries off. What is retried, and when, is described at [`Retry`].
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::get("http://127.0.0.1:8080/flaky").retry(courier::Retry::new()).send().await;
    /// # }
    /// ```
    pub fn retry(mut self, policy: Retry) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// How many redirects to follow; 0 returns the first 3xx as the response. Default 10.
    pub fn recurse(mut self, redirects: u32) -> Self {
        self.options.recurse = redirects;
        self
    }

    /// The most bytes to ask the socket for per read (AnyEvent::HTTP's `max_read_size`); see
    /// [`ClientBuilder::read_buffer_size`](crate::ClientBuilder::read_buffer_size).
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.options.read_buffer_size = bytes.max(1);
        self
    }

    /// Largest response body collected in memory (default: the client's, 1 GiB); a larger
    /// one ends in 597. See [`ClientBuilder::max_body_size`](crate::ClientBuilder::max_body_size).
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.options.max_body_size = bytes;
        self
    }

    /// Called with the final response's head before its body is read; `false` aborts the
    /// request with 598. Not called for redirect hops or locally generated errors.
    pub fn on_header(mut self, callback: impl FnMut(&Response) -> bool + Send + 'a) -> Self {
        self.options.on_header = Some(Box::new(callback));
        self
    }

    /// Receives the final response's body piece by piece instead of collecting it;
    /// `false` aborts with 598. The response's `body()` is then empty.
    pub fn on_body(mut self, callback: impl FnMut(&Bytes, &Response) -> bool + Send + 'a) -> Self {
        self.options.on_body = Some(Box::new(callback));
        self
    }

    /// Called as the request body goes out and the final response body comes in, with the
    /// bytes done and the totals when known (for progress bars). Not called for bodies
    /// read with [`send_streaming`](Self::send_streaming): those count themselves.
    pub fn on_progress(mut self, callback: impl FnMut(Progress) + Send + 'a) -> Self {
        self.options.on_progress = Some(Box::new(callback));
        self
    }

    /// After the head, hand over the raw connection instead of reading the body
    /// (see [`Response::take_body_handle`]). No handle when the response has no body.
    pub fn want_body_handle(mut self, enable: bool) -> Self {
        self.options.want_body_handle = enable;
        self
    }

    /// Tunes each socket before it connects, e.g. `socket.bind(local_address)`. An error
    /// fails the request with 595.
    pub fn on_prepare(
        mut self,
        prepare: impl Fn(&TcpSocket) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.options.on_prepare = Some(Arc::new(prepare));
        self
    }

    /// Makes connections with `connector` instead of TCP (AnyEvent::HTTP's `tcp_connect`).
    pub fn connector(mut self, connector: impl Connector) -> Self {
        self.options.connector = Some(Arc::new(connector));
        self
    }

    /// Whether to reuse a cached connection and keep this one for later requests.
    /// Default: on for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), off for
    /// the others, because only idempotent requests may be retried when a reused connection
    /// turns out to have been closed by the server.
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.options.persistent = Some(persistent);
        self
    }

    /// With `persistent`, also ask HTTP/1.0 servers to keep the connection open
    /// (`Connection: keep-alive`). Default on, except through a proxy (HTTP/1.0 proxies
    /// cannot honour it meaningfully).
    pub fn keepalive(mut self, keepalive: bool) -> Self {
        self.options.keepalive = Some(keepalive);
        self
    }

    /// Cookies from `jar` are sent, and Set-Cookie answers (on every hop, redirects
    /// included) are stored in it (AnyEvent::HTTP's `cookie_jar`). A Cookie header set with
    /// [`header`](Self::header) is sent instead of the jar's.
    #[cfg(feature = "cookies")]
    pub fn cookie_jar(mut self, jar: &super::CookieJar) -> Self {
        self.options.cookie_jar = Some(jar.clone());
        self
    }

    /// The proxy for this request (AnyEvent::HTTP's `proxy`); `Proxy::none()` connects directly.
    pub fn proxy(mut self, proxy: super::Proxy) -> Self {
        self.options.proxy = proxy;
        self
    }

    /// Only connections made under the same session id are reused for this request
    /// (e.g. one per user, or per credentials).
    pub fn session_id(mut self, session: impl Into<String>) -> Self {
        self.options.session_id = Some(session.into());
        self
    }

    /// Ask for a compressed response and decode it (`Accept-Encoding: gzip, deflate, br,
    /// zstd`; default: the client's setting, off unless enabled). The rules and caps are
    /// those of [`ClientBuilder::decompress`](crate::ClientBuilder::decompress).
    #[cfg(feature = "decompress")]
    pub fn decompress(mut self, enable: bool) -> Self {
        self.options.decompress = enable;
        self
    }

    /// How the server's certificate is checked for https (AnyEvent::HTTP's `tls_ctx`): `Tls::High`
    /// (the client's default), `Tls::Low`, or a custom rustls config.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::Tls) -> Self {
        self.options.tls = tls;
        self
    }

    /// Sends the request and waits for the response. Never panics and never fails:
    /// failures come back as 595..599 responses. Dropping the future cancels the request.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let res = courier::get("http://127.0.0.1:8080/").send().await;
    /// match res.status().as_u16() {
    ///     200..=299 => println!("{}", res.text()),
    ///     595..=599 => eprintln!("failed: {}", res.reason()),
    ///     status => eprintln!("server said {status} {}", res.reason()),
    /// }
    /// # }
    /// ```
    pub fn send(self) -> impl Future<Output = Response> + Send + 'a {
        // The builder's fields are used where they are, in the future's own copy of the
        // builder: moving them out into locals would hold them twice in a state that is
        // moved as a whole (this future is what a caller's task holds).
        let mut this = self;
        async move {
            if let Some(error) = this.invalid.take() {
                return Response::from_error(this.url.for_display(), error);
            }
            let config = this.client.config();
            let body = std::mem::take(&mut this.body);
            let headers = std::mem::take(&mut this.headers);
            match PreparedRequest::validate(this.method, &this.url, headers, &config.default_headers, body) {
                Ok(mut request) => {
                    let span = trace::request_span(&request);
                    let run = run::run(&mut request, &mut this.options, config);
                    trace::in_span(span, run, |response: &Response| {
                        (response.status().as_u16(), response.reason(), response.redirects().len())
                    })
                    .await
                }
                Err(error) => Response::from_error(this.url.for_display(), error),
            }
        }
    }

    /// [`send`](Self::send) as a `Result`, for `?` chains: `Err` when the request failed
    /// (595..599, with the [`Error`] that says why), `Ok` with any response the server
    /// gave, 4xx and 5xx included (add [`Response::error_for_status`] to refuse those).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let text = courier::get("http://127.0.0.1:8080/").try_send().await?.error_for_status()?.text().into_owned();
    /// # Ok(()) }
    /// ```
    pub async fn try_send(self) -> Result<Response, Error> {
        self.send().await.into_result()
    }

    /// A copy of this request, to send it again; `None` when it cannot be copied: its body
    /// is a stream or a reader (sent once), or it has `on_header`, `on_body` or
    /// `on_progress` callbacks (`FnMut` closures cannot be copied). Bodies in memory and
    /// files ([`body_file`](Self::body_file), opened again) copy.
    ///
    /// ```
    /// let request = courier::get("http://127.0.0.1:8080/").header("x-trace", "1");
    /// let again = request.try_clone().expect("no streamed body, no callbacks");
    /// # drop((request, again));
    /// ```
    pub fn try_clone(&self) -> Option<Self> {
        Some(Self {
            client: self.client.clone(),
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            options: self.options.try_clone()?,
            invalid: self.invalid.as_ref().map(|error| Error::new(error.kind(), error.to_string())),
        })
    }

    /// Like [`send`](Self::send), but returns as soon as the final head has arrived: read
    /// the body with [`Response::chunk`], [`Response::into_stream`] or
    /// [`Response::into_reader`], in bounded memory. The connection goes back to the pool
    /// once the body has been read to its end; dropping the response earlier closes it.
    /// `on_body` is not called for a streamed body.
    pub async fn send_streaming(mut self) -> Response {
        self.options.stream_body = true;
        self.send().await
    }
}

impl RequestBuilder<'static> {
    /// Runs the request in the background and calls `callback` with the response (AnyEvent::HTTP's
    /// callback style). Dropping the returned guard cancels the request.
    ///
    /// Outside a tokio runtime the callback gets a 599 response at once.
    pub fn spawn(self, callback: impl FnOnce(Response) + Send + 'static) -> RequestGuard {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let task = runtime.spawn(async move { callback(self.send().await) });
                RequestGuard { task: Some(task) }
            }
            Err(_) => {
                let error = Error::new(ErrorKind::Other, "spawn needs a running tokio runtime");
                callback(Response::from_error(self.url.for_display(), error));
                RequestGuard { task: None }
            }
        }
    }
}

/// Keeps a [`spawn`](RequestBuilder::spawn)ed request alive; dropping it cancels the request
/// (its callback is then never called).
#[derive(Debug)]
#[must_use = "dropping the guard cancels the request; call `.detach()` to let it run"]
pub struct RequestGuard {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RequestGuard {
    /// Lets the request run to completion without a guard.
    pub fn detach(mut self) {
        self.task = None;
    }

    /// True once the callback has returned (or the request was cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|task| task.is_finished())
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The client's request constructors live beside the builder they return, so that the
/// builder depends on the client and not the other way round.
impl Client {
    /// A request with any method (`Method::PATCH` or `"PATCH"`).
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let client = courier::Client::new();
    /// let res = client.request("PROPFIND", "http://127.0.0.1:8080/dav/").send().await;
    /// # }
    /// ```
    pub fn request(&self, method: impl AsRef<str>, url: impl IntoUrl) -> RequestBuilder<'static> {
        RequestBuilder::new(self.clone(), method.as_ref(), url.into_url_arg())
    }

    /// A GET request.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let client = courier::Client::new();
    /// let res = client.get("http://127.0.0.1:8080/").try_send().await?;
    /// # Ok(()) }
    /// ```
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("GET", url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("HEAD", url)
    }

    /// A POST request; give it a body with [`body`](RequestBuilder::body),
    /// [`form`](RequestBuilder::form), [`json`](RequestBuilder::json), … (without one it
    /// is sent with `Content-Length: 0`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), courier::Error> {
    /// let client = courier::Client::new();
    /// let res = client.post("http://127.0.0.1:8080/login").form([("user", "ada")]).try_send().await?;
    /// # Ok(()) }
    /// ```
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("POST", url)
    }

    /// A PUT request (idempotent: persistent, and retried under a [`Retry`] policy).
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("PUT", url)
    }

    /// A PATCH request (not idempotent: never retried unless the policy says
    /// [`any_method`](Retry::any_method)).
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("PATCH", url)
    }

    /// A DELETE request (idempotent).
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("DELETE", url)
    }
}
