//! The bundled HTTP server: AnyEvent::HTTPD's path walk and POEx::HTTP::Server's ordered
//! handlers and hooks, on the same `h1` codec as the client, with a test kit.
//!
//! ```no_run
//! use courier::server::{Reply, Server};
//! # async fn demo() -> std::io::Result<()> {
//! let server = Server::builder()
//!     .route("/", |_req| async { Reply::html("<a href=\"/test\">test</a>") })
//!     .route("/test", |_req| async { Reply::text("test page\n") })
//!     .start()
//!     .await?;
//! let res = courier::get(server.url("/test")).send().await;
//! assert_eq!(res.text(), "test page\n");
//! assert_eq!(server.requests().len(), 1);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod blocking;
mod body;
mod conn;
mod file;
mod form;
mod forward;
mod hooks;
mod limits;
mod mock;
mod record;
mod replay;
mod reply;
mod request;
mod router;
mod write;

pub use blocking::BlockingServer;
pub use file::{serve_dir, serve_file, serve_file_with, FileOptions, StaticFiles};
pub use form::{FormError, FormLimits, Params, Part, DEFAULT_MAX_PARAMS, DEFAULT_MAX_PARTS};
pub use forward::{Exchange, Recording};
pub use hooks::{ConnectionInfo, Sent, ServerError};
pub use limits::{
    DEFAULT_ACTIVITY_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DRAIN,
    DEFAULT_MAX_REQUESTS_PER_CONNECTION, DEFAULT_MAX_TARGET_LENGTH, DEFAULT_REQUEST_TIMEOUT,
};
pub use mock::{
    when, MockBuilder, MockHandle, MockRequest, VerifyError, When, DEFAULT_MOCK_PRIORITY, MOCK_REQUEST_LIMIT,
};
pub use record::{RecordedRequest, WaitTimedOut};
pub use reply::{BodySender, Fault, Reply, StreamClosed};
pub use request::{BodyError, Request};
pub use router::{InvalidPattern, Outcome};

use hooks::Hooks;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use limits::ServerLimits;
use record::Recorder;
use router::Router;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Notify, Semaphore};

/// The default Server header value.
pub const DEFAULT_SERVER_HEADER: &str = concat!("courier/", env!("CARGO_PKG_VERSION"));

/// How many requests the test kit keeps by default (the oldest are dropped beyond it).
pub const DEFAULT_RECORD_LIMIT: usize = 10_000;

/// How many bytes of request bodies the test kit keeps by default, over all the requests
/// it keeps (the oldest bodies are dropped beyond it; their heads stay).
pub const DEFAULT_RECORD_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What every connection of a server shares.
pub(crate) struct Shared {
    /// Swapped whole when handlers change, so requests in flight keep theirs.
    router: RwLock<Arc<Router>>,
    pub(crate) hooks: Hooks,
    pub(crate) limits: ServerLimits,
    pub(crate) keep_alive: bool,
    pub(crate) allowed_methods: Option<Vec<Method>>,
    /// Added to every reply that does not set them (POEx's `headers`).
    pub(crate) headers: HeaderMap,
    pub(crate) server_header: HeaderValue,
    /// Wraps every accepted connection in TLS (HTTPD's `ssl`).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    recorder: Recorder,
    /// `true` once shutdown began: stop accepting, finish what is in flight.
    pub(crate) shutdown: watch::Sender<bool>,
    next_connection_id: AtomicU64,
    /// Open connections, and a wake-up for graceful shutdown when the count reaches zero.
    open_connections: AtomicUsize,
    all_closed: Notify,
}

impl Shared {
    pub(crate) fn router(&self) -> Arc<Router> {
        self.router.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn change_router<T>(&self, change: impl FnOnce(&mut Router) -> T) -> T {
        let mut slot = self.router.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut router = Router::clone(&slot);
        let outcome = change(&mut router);
        *slot = Arc::new(router);
        outcome
    }

    /// How many bytes of each request's body the log keeps (0 with the log off).
    pub(crate) fn record_body_limit(&self) -> usize {
        self.recorder.body_limit()
    }

    /// The test kit's request log.
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

/// Configures a [`Server`]: address, limits, handlers and hooks.
#[must_use]
pub struct ServerBuilder {
    host: String,
    port: u16,
    backlog: u32,
    limits: ServerLimits,
    keep_alive: bool,
    concurrency: Option<usize>,
    allowed_methods: Option<Vec<Method>>,
    headers: HeaderMap,
    server_header: HeaderValue,
    bind_retry: Option<(u32, Duration)>,
    record_limit: usize,
    record_body_limit: usize,
    router: Router,
    hooks: Hooks,
    /// The first invalid handler pattern, reported by `start`.
    invalid: Option<InvalidPattern>,
    /// Made up front so a handle can be taken before the server runs.
    shutdown: watch::Sender<bool>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            backlog: 128,
            limits: ServerLimits::default(),
            keep_alive: true,
            concurrency: None,
            allowed_methods: None,
            headers: HeaderMap::new(),
            server_header: HeaderValue::from_static(DEFAULT_SERVER_HEADER),
            bind_retry: None,
            record_limit: DEFAULT_RECORD_LIMIT,
            record_body_limit: DEFAULT_RECORD_BODY_LIMIT,
            router: Router::default(),
            hooks: Hooks::default(),
            invalid: None,
            shutdown: watch::channel(false).0,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ServerBuilder {
    /// The address to listen on (default `127.0.0.1`); a name is resolved.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port (default 0: a free port, see [`Server::port`]).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The listen backlog (default 128).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Serve HTTPS with this rustls config (HTTPD's `ssl`); see
    /// [`courier::tls::server_config_from_pem`](crate::tls::server_config_from_pem). The
    /// handshake must finish within the request timeout.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long a request head may take to arrive, on every request of a connection
    /// (default 60 s; HTTPD's `request_timeout`). Late heads get 408 and a close. A new
    /// connection may also wait this long for its first byte (later requests wait the
    /// idle timeout); from its first byte, a head has this long again to be complete.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_timeout = timeout;
        self
    }

    /// How long a keep-alive connection may wait for its next request (default 5 s; POEx's
    /// `keepalivetimeout`).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// Each read and write must make progress within this (default 300 s; POEx's `timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.activity_timeout = timeout;
        self
    }

    /// Most requests on one connection (default 100; POEx's `keepalive => N`).
    pub fn max_requests_per_connection(mut self, requests: usize) -> Self {
        self.limits.max_requests_per_connection = requests.max(1);
        self
    }

    /// Whether connections persist (HTTP/1.1, and HTTP/1.0 with keep-alive); default on.
    pub fn keep_alive(mut self, keep_alive: bool) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Most connections served at once (POEx's `concurrency`); more wait in the backlog.
    pub fn concurrency(mut self, connections: usize) -> Self {
        // (tokio's semaphore holds at most MAX_PERMITS: more is "no limit" in practice.)
        self.concurrency = Some(connections.clamp(1, Semaphore::MAX_PERMITS));
        self
    }

    /// Only these methods are served; others get 501 (HTTPD's `allowed_methods`).
    /// Default: every method.
    pub fn allowed_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.allowed_methods = Some(methods.into_iter().collect());
        self
    }

    /// A header added to every reply that does not set it (POEx's `headers`). Invalid
    /// names or values are ignored, and so are the framing fields (Content-Length,
    /// Transfer-Encoding, Connection): the server writes those for each reply, and a
    /// second one would make the reply ambiguous.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        use http::header::{CONNECTION, CONTENT_LENGTH, SERVER, TRANSFER_ENCODING};
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            if name == SERVER {
                self.server_header = value;
            } else if ![CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
                self.headers.append(name, value);
            }
        }
        self
    }

    /// Largest accepted request body (default 16 MiB); larger ones get 413.
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.limits.max_body_size = bytes;
        self
    }

    /// Longest accepted request target (default 8 KiB); longer ones get 414.
    pub fn max_target_length(mut self, bytes: usize) -> Self {
        self.limits.max_target_length = bytes;
        self
    }

    /// If binding fails, try again up to `attempts` more times, `delay` apart (POEx's `retry`).
    pub fn bind_retry(mut self, attempts: u32, delay: Duration) -> Self {
        self.bind_retry = Some((attempts, delay));
        self
    }

    /// How many requests the test kit keeps (default 10,000; 0 records nothing). A
    /// long-running server that nobody inspects should say 0.
    pub fn record_limit(mut self, requests: usize) -> Self {
        self.record_limit = requests;
        self
    }

    /// How many bytes of request bodies the test kit keeps, over all the requests it keeps
    /// (default 4 MiB). Heads are always kept; beyond this the oldest bodies are dropped,
    /// and a body alone larger than this keeps its first bytes.
    /// [`RecordedRequest::body_truncated`] tells when a body was cut.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{BodyError, Reply, Server};
    /// let server = Server::builder()
    ///     .record_body_limit(4)
    ///     .route("/up", |req| async move {
    ///         let body = req.body().await?;
    ///         Ok::<_, BodyError>(Reply::text(format!("{} bytes", body.len())))
    ///     })
    ///     .start()
    ///     .await?;
    /// let res = courier::request("POST", server.url("/up")).body("hello").send().await;
    /// assert_eq!(res.text(), "5 bytes");
    /// let recorded = &server.requests()[0];
    /// assert_eq!((&recorded.body[..], recorded.body_size, recorded.body_truncated()), (&b"hell"[..], 5, true));
    /// # server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn record_body_limit(mut self, bytes: usize) -> Self {
        self.record_body_limit = bytes;
        self
    }

    /// An HTTPD path handler: a request for `/test/bla.jpg` is offered to `/test/bla.jpg`,
    /// then `/test`, then `""`, until a handler answers (returns a reply, not `None`).
    pub fn route<F, Fut, O>(mut self, path: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: Into<Outcome>,
    {
        self.router.add_path(path, router::boxed(handler));
        self
    }

    /// A POEx handler: `pattern` is a regex matched against the path (unanchored unless it
    /// anchors; `""` matches everything), tried in the order added, after the path walk.
    /// An invalid pattern makes [`start`](Self::start) fail.
    pub fn handler<F, Fut, O>(mut self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: Into<Outcome>,
    {
        if let Err(invalid) = self.router.add_pattern(pattern, router::boxed(handler)) {
            self.invalid.get_or_insert(invalid);
        }
        self
    }

    /// Runs first for every request (HTTPD's `request` event): answer it, or pass it on.
    pub fn request_hook<F, Fut, O>(mut self, hook: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: Into<Outcome>,
    {
        self.router.set_request_hook(router::boxed(hook));
        self
    }

    /// The handler for CONNECT requests, the only code that sees them: without one,
    /// CONNECT gets 501. Its target is `host:port` (anything else was refused with 400).
    /// A 2xx reply goes out as a head alone, without Content-Length or a body (RFC 9110
    /// §9.3.6), and the connection closes after it: the server does not tunnel.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{Reply, Server};
    /// let server = Server::builder()
    ///     .connect_handler(|req| async move {
    ///         Reply::error(407, &format!("no tunnel to {}", req.target()))
    ///             .with_header("proxy-authenticate", "Basic realm=\"test\"")
    ///     })
    ///     .start()
    ///     .await?;
    /// # server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn connect_handler<F, Fut, O>(mut self, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: Into<Outcome>,
    {
        self.router.set_connect_handler(router::boxed(handler));
        self
    }

    /// Called when a client connects (HTTPD's `client_connected`, POEx's `on_connect`).
    pub fn on_connect(mut self, hook: impl Fn(&ConnectionInfo) + Send + Sync + 'static) -> Self {
        self.hooks.on_connect = Some(Arc::new(hook));
        self
    }

    /// Called when a connection closes (`client_disconnected`, `on_disconnect`).
    pub fn on_disconnect(mut self, hook: impl Fn(&ConnectionInfo) + Send + Sync + 'static) -> Self {
        self.hooks.on_disconnect = Some(Arc::new(hook));
        self
    }

    /// Called after a request head is read, before any handler (POEx's `pre_request`).
    pub fn pre_request(mut self, hook: impl Fn(&Request) + Send + Sync + 'static) -> Self {
        self.hooks.pre_request = Some(Arc::new(hook));
        self
    }

    /// Called after the reply has been written (POEx's `post_request`).
    pub fn post_request(mut self, hook: impl Fn(&Request, &Sent) + Send + Sync + 'static) -> Self {
        self.hooks.post_request = Some(Arc::new(hook));
        self
    }

    /// Called after each chunk of a streamed reply is written (POEx's `stream_request`).
    pub fn on_chunk_flushed(mut self, hook: impl Fn(&Request, usize) + Send + Sync + 'static) -> Self {
        self.hooks.on_chunk_flushed = Some(Arc::new(hook));
        self
    }

    /// Called on network errors and before error replies (POEx's `on_error`); an HTTP
    /// error's reply may be changed here.
    pub fn on_error(mut self, hook: impl Fn(&mut ServerError) + Send + Sync + 'static) -> Self {
        self.hooks.on_error = Some(Arc::new(hook));
        self
    }

    /// A handle that shuts the server down once it runs; take it before [`run`](Self::run)
    /// to stop a running server from a handler or another task.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{Reply, Server};
    /// let builder = Server::builder();
    /// let stop = builder.shutdown_handle();
    /// let builder = builder.route("/stop", move |_req| {
    ///     let stop = stop.clone();
    ///     async move {
    ///         stop.trigger();
    ///         Reply::text("bye")
    ///     }
    /// });
    /// # let stop = builder.shutdown_handle();
    /// # stop.trigger(); // this doc test stops at once instead of waiting for a request
    /// builder.run().await // returns after /stop was requested
    /// # }
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { shutdown: self.shutdown.clone() }
    }

    /// Binds and starts serving in the background; the [`Server`] handle tells the port.
    pub async fn start(self) -> io::Result<Server> {
        if let Some(invalid) = self.invalid {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, invalid));
        }
        let listener = self.bind().await?;
        let local_addr = listener.local_addr()?;
        let shutdown = self.shutdown;
        let shared = Arc::new(Shared {
            router: RwLock::new(Arc::new(self.router)),
            hooks: self.hooks,
            limits: self.limits,
            keep_alive: self.keep_alive,
            allowed_methods: self.allowed_methods,
            headers: self.headers,
            server_header: self.server_header,
            #[cfg(feature = "tls")]
            tls: self.tls.map(tokio_rustls::TlsAcceptor::from),
            recorder: Recorder::new(self.record_limit, self.record_body_limit),
            shutdown,
            next_connection_id: AtomicU64::new(0),
            open_connections: AtomicUsize::new(0),
            all_closed: Notify::new(),
        });
        let concurrency = self.concurrency.map(|limit| Arc::new(Semaphore::new(limit)));
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone(), concurrency));
        Ok(Server { shared, local_addr, accept_task })
    }

    /// Serves until [`Server::shutdown`] is triggered through a [`ShutdownHandle`] taken
    /// from inside (e.g. a handler), then finishes gracefully.
    pub async fn run(self) -> io::Result<()> {
        let server = self.start().await?;
        until_stopped(&mut server.shared.shutdown.subscribe()).await;
        server.shutdown().await;
        Ok(())
    }

    async fn bind(&self) -> io::Result<TcpListener> {
        let (attempts, delay) = self.bind_retry.unwrap_or((0, Duration::ZERO));
        let mut tries = 0;
        loop {
            match self.bind_once().await {
                Ok(listener) => return Ok(listener),
                Err(error) if tries >= attempts => return Err(error),
                Err(_) => {
                    tries += 1;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn bind_once(&self) -> io::Result<TcpListener> {
        let mut last =
            io::Error::new(io::ErrorKind::AddrNotAvailable, format!("no address for {}", self.host));
        for address in tokio::net::lookup_host((self.host.as_str(), self.port)).await? {
            let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            match socket.bind(address).and_then(|()| socket.listen(self.backlog)) {
                Ok(listener) => return Ok(listener),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

/// Resolves once shutdown has begun (the guard `wait_for` yields is dropped at once: it
/// is not `Send`).
async fn until_stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
}

/// Accepts connections until shutdown, each served by its own task.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, concurrency: Option<Arc<Semaphore>>) {
    let mut stopping = shared.shutdown.subscribe();
    loop {
        // With a concurrency limit, wait for a free place before accepting: the rest wait
        // in the kernel's backlog, as POEx's `concurrency` does.
        let permit = match &concurrency {
            Some(limit) => tokio::select! {
                permit = limit.clone().acquire_owned() => permit.ok(),
                _ = until_stopped(&mut stopping) => return,
            },
            None => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: back off briefly, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = until_stopped(&mut stopping) => return,
        };
        let id = shared.next_connection_id.fetch_add(1, Ordering::Relaxed) + 1;
        let local = stream.local_addr().unwrap_or(peer);
        let info = ConnectionInfo { id, peer, local };
        let open = OpenConnection::count(&shared, permit);
        let shared = shared.clone();
        tokio::spawn(async move {
            conn::serve(stream, info, shared).await;
            drop(open);
        });
    }
}

/// One open connection, counted (and holding its place under the concurrency limit) until
/// dropped: even a connection task that panics (a bug) must not leave graceful shutdown
/// waiting for it forever.
struct OpenConnection {
    shared: Arc<Shared>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl OpenConnection {
    fn count(shared: &Arc<Shared>, permit: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        shared.open_connections.fetch_add(1, Ordering::SeqCst);
        Self { shared: shared.clone(), _permit: permit }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if self.shared.open_connections.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.all_closed.notify_waiters();
        }
    }
}

/// A running server. Dropping it stops accepting (connections in flight finish), and
/// verifies its mocks: it panics with the report if one is not satisfied (see
/// [`verify`](Server::verify) and [`ServerBuilder::verify_on_drop`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use courier::server::{Reply, Server};
/// let server = Server::builder().handler("^/hello$", |_req| async { Reply::text("hi") }).start().await?;
/// let res = courier::get(server.url("/hello")).send().await;
/// assert_eq!(res.status().as_u16(), 200);
/// assert_eq!(res.text(), "hi");
/// let recorded = server.requests();
/// assert_eq!((recorded.len(), recorded[0].target.as_str()), (1, "/hello"));
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts configuring a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The IP address the server listens on, as text.
    pub fn host(&self) -> String {
        self.local_addr.ip().to_string()
    }

    /// `http://HOST:PORT{path}` (`https://` when serving TLS).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        match self.local_addr {
            SocketAddr::V6(address) => format!("{scheme}://[{}]:{}{path}", address.ip(), address.port()),
            SocketAddr::V4(address) => format!("{scheme}://{address}{path}"),
        }
    }

    /// True when the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.shared.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Every request received so far, oldest first (up to the record limit).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.all()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// Waits until `count` requests have been answered (their reply is decided: body and
    /// status are in the log), at most `timeout`, and returns the answered requests in
    /// order. For clients that do not wait for the reply themselves (a background job, a
    /// fire-and-forget call). On timeout, the error says what did arrive.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use courier::server::{Reply, Server};
    /// use std::time::Duration;
    /// let server = Server::builder().route("/ping", |_req| async { Reply::text("pong") }).start().await?;
    /// let _job = courier::get(server.url("/ping")).spawn(|_res| {}); // nobody awaits it
    /// let seen = server.wait_for_requests(1, Duration::from_secs(5)).await?;
    /// assert_eq!((seen[0].target.as_str(), seen[0].status.map(|s| s.as_u16())), ("/ping", Some(200)));
    /// # server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_requests(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitTimedOut> {
        let recorder = &self.shared.recorder;
        tokio::time::timeout(timeout, recorder.wait_answered(count))
            .await
            .map_err(|_| WaitTimedOut { expected: count, received: recorder.answered_requests() })
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::SeqCst)
    }

    /// Adds a POEx handler at the end (or replaces the one with the same pattern, in
    /// place). Affects requests that start afterwards.
    pub fn add_handler<F, Fut, O>(&self, pattern: &str, handler: F) -> Result<(), InvalidPattern>
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: Into<Outcome>,
    {
        let handler = router::boxed(handler);
        self.shared.change_router(|router| router.add_pattern(pattern, handler))
    }

    /// Removes the POEx handler registered with exactly `pattern`; false if there was none.
    pub fn remove_handler(&self, pattern: &str) -> bool {
        self.shared.change_router(|router| router.remove_pattern(pattern))
    }

    /// The POEx handler patterns, in the order they are tried.
    pub fn handler_patterns(&self) -> Vec<String> {
        self.shared.router().patterns()
    }

    /// Adds or replaces an HTTPD path handler.
    pub fn add_route<F, Fut, O>(&self, path: &str, handler: F)
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: Into<Outcome>,
    {
        let handler = router::boxed(handler);
        self.shared.change_router(|router| router.add_path(path, handler));
    }

    /// Removes an HTTPD path handler; false if there was none.
    pub fn remove_route(&self, path: &str) -> bool {
        self.shared.change_router(|router| router.remove_path(path))
    }

    /// A handle that can trigger shutdown from anywhere (e.g. inside a handler).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { shutdown: self.shared.shutdown.clone() }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let requests in flight
    /// finish, and return once every connection has closed. A head already arriving
    /// counts as in flight: it has the request timeout to be complete.
    pub async fn shutdown(self) {
        self.shared.shutdown.send_replace(true);
        loop {
            let closed = self.shared.all_closed.notified();
            if self.shared.open_connections.load(Ordering::SeqCst) == 0 {
                break;
            }
            closed.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        self.accept_task.abort();
        self.verify_mocks_on_drop();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

/// Triggers a server's graceful shutdown (see [`Server::shutdown_handle`]).
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    shutdown: watch::Sender<bool>,
}

impl ShutdownHandle {
    /// Begins shutdown: the server stops accepting and [`ServerBuilder::run`] returns once
    /// the connections in flight have finished.
    pub fn trigger(&self) {
        self.shutdown.send_replace(true);
    }
}
