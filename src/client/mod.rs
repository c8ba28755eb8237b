//! The HTTP client: `Client`, its builder and defaults, and the request path behind it.

mod body_reader;
mod body_stream;
mod collect;
mod connect;
#[cfg(feature = "cookies")]
mod cookies;
mod deadline;
mod decompress;
mod dns;
mod download;
mod driver;
mod events;
mod exchange;
mod exclusive;
mod multipart;
mod options;
mod pool;
mod prepared;
mod proxy;
mod redirect;
mod request;
mod request_head;
mod response;
mod retry;
mod run;
mod target;
mod trace;
mod upload;

pub use body_stream::{BodyAsyncRead, BodyStream};
pub use connect::{ConnectFuture, Connector};
#[cfg(feature = "cookies")]
pub use cookies::{CookieJar, MAX_COOKIES_PER_DOMAIN, MAX_COOKIE_HEADER, MAX_COOKIE_SIZE};
#[cfg(feature = "decompress")]
pub use decompress::{
    DECODED_CHUNK_SIZE, MAX_COMPRESSION_RATIO, MAX_CONTENT_CODINGS, MAX_DECODED_SIZE, MAX_ZSTD_WINDOW,
    RATIO_GRACE,
};
pub use dns::{Resolve, ResolveFuture};
pub use download::{Download, DownloadFailed, Downloaded, DEFAULT_DOWNLOAD_ATTEMPTS};
pub use events::{CloseReason, ConnectionEvent, EventKind};
pub use multipart::Multipart;
pub use options::Progress;
pub use pool::{HostStats, PoolStats};
pub use prepared::{IntoUrl, UrlArg};
pub use proxy::{default_proxy, set_proxy, Proxy, ProxyScheme, ProxyServer};
pub use request::{RequestBuilder, RequestGuard};
pub use response::{BodyHandle, Response};
pub use retry::{
    Retry, DEFAULT_FIRST_PAUSE, DEFAULT_MAX_PAUSE, DEFAULT_MAX_RETRIES, DEFAULT_MAX_TOTAL_PAUSE,
};
pub use target::Target;

use crate::error::{Error, ErrorKind};
use events::Observer;
use http::{HeaderMap, HeaderValue};
use pool::Pool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// AnyEvent::HTTP's `$MAX_RECURSE`: redirects followed by default.
pub const DEFAULT_MAX_RECURSE: u32 = 10;
/// AnyEvent::HTTP's `$TIMEOUT`: the default activity timeout (not a deadline).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The default User-Agent header value.
pub const DEFAULT_USER_AGENT: &str = concat!("courier/", env!("CARGO_PKG_VERSION"));
/// Bytes asked of the socket per read unless a request says otherwise.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 16 * 1024;
/// Largest response body collected in memory by default (`send()` without `on_body`);
/// past it the response is a 597. Stream larger bodies (`on_body`, `send_streaming`,
/// `Download`), which have no such limit.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 1 << 30;
/// AnyEvent::HTTP's `$MAX_PER_HOST`: most connections per host (per pool key).
pub const DEFAULT_MAX_PER_HOST: usize = 4;
/// AnyEvent::HTTP's `$PERSISTENT_TIMEOUT`: how long an idle connection is kept.
pub const DEFAULT_PERSISTENT_TIMEOUT: Duration = Duration::from_secs(3);

/// An HTTP client: defaults shared by the requests made through it, and its connection
/// pool. Cheap to clone (clones share the pool).
///
/// The free functions [`get`](crate::get), [`post`](crate::post), … use a process-wide
/// default client; make your own to change the defaults.
///
/// ```
/// use std::time::Duration;
/// let client = courier::Client::builder()
///     .timeout(Duration::from_secs(30))
///     .deadline(Duration::from_secs(120))
///     .retry(courier::Retry::new())
///     .user_agent("my-app/1.0")
///     .build()
///     .expect("a valid user agent");
/// let request = client.get("http://127.0.0.1:8080/");
/// # drop(request);
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    config: Arc<Config>,
}

/// Client-wide defaults and the connection pool; each request copies what it may override.
pub(crate) struct Config {
    pub(crate) timeout: Duration,
    /// The default overall deadline, if any.
    pub(crate) deadline: Option<Duration>,
    /// The default retry policy, if any.
    pub(crate) retry: Option<Retry>,
    /// Sent with every request unless it sets or removes a header of the same name.
    pub(crate) default_headers: HeaderMap,
    pub(crate) max_recurse: u32,
    pub(crate) user_agent: HeaderValue,
    pub(crate) read_buffer_size: usize,
    pub(crate) max_body_size: u64,
    pub(crate) pool: Pool,
    /// `None`: the global default ([`set_proxy`], else the environment) at request time.
    pub(crate) proxy: Option<Proxy>,
    #[cfg(feature = "cookies")]
    pub(crate) cookie_jar: Option<CookieJar>,
    #[cfg(feature = "tls")]
    pub(crate) tls: crate::tls::Tls,
    /// Ask for and decode compressed responses (`Accept-Encoding`).
    #[cfg(feature = "decompress")]
    pub(crate) decompress: bool,
    /// Name resolution: overrides, the resolver hook, the cache.
    pub(crate) dns: dns::Dns,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("max_recurse", &self.max_recurse)
            .field("user_agent", &self.user_agent)
            .field("read_buffer_size", &self.read_buffer_size)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client with AnyEvent::HTTP's defaults (10 redirects, 300 s activity timeout, 4
    /// connections per host), no deadline and no retries.
    pub fn new() -> Self {
        Self::builder().build().unwrap_or_else(|_| unreachable!("the default user agent is valid"))
    }

    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            timeout: DEFAULT_TIMEOUT,
            deadline: None,
            retry: None,
            default_headers: HeaderMap::new(),
            max_recurse: DEFAULT_MAX_RECURSE,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_per_host: DEFAULT_MAX_PER_HOST,
            persistent_timeout: DEFAULT_PERSISTENT_TIMEOUT,
            observer: None,
            proxy: None,
            #[cfg(feature = "cookies")]
            cookie_jar: None,
            #[cfg(feature = "tls")]
            tls: crate::tls::Tls::High,
            #[cfg(feature = "decompress")]
            decompress: false,
            dns: dns::Dns::default(),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Connections in use by a request right now (AnyEvent::HTTP's `$ACTIVE`): open or being
    /// opened, not idle. Useful for load-levelling.
    pub fn active(&self) -> usize {
        self.config.pool.stats().active
    }

    /// What the pool holds: active, idle and queued counts, overall and per key.
    ///
    /// ```
    /// let client = courier::Client::new();
    /// let stats = client.pool_stats();
    /// assert_eq!((stats.active, stats.idle, stats.queued), (0, 0, 0));
    /// ```
    pub fn pool_stats(&self) -> PoolStats {
        self.config.pool.stats()
    }
}

/// Configures a [`Client`].
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    timeout: Duration,
    deadline: Option<Duration>,
    retry: Option<Retry>,
    default_headers: HeaderMap,
    max_recurse: u32,
    user_agent: String,
    read_buffer_size: usize,
    max_body_size: u64,
    max_per_host: usize,
    persistent_timeout: Duration,
    observer: Option<Observer>,
    proxy: Option<Proxy>,
    #[cfg(feature = "cookies")]
    cookie_jar: Option<CookieJar>,
    #[cfg(feature = "tls")]
    tls: crate::tls::Tls,
    #[cfg(feature = "decompress")]
    decompress: bool,
    dns: dns::Dns,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("max_recurse", &self.max_recurse)
            .field("user_agent", &self.user_agent)
            .field("max_per_host", &self.max_per_host)
            .field("persistent_timeout", &self.persistent_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The default activity timeout (AnyEvent::HTTP's `$TIMEOUT`, 300 s): connecting, and
    /// every read and write, must make progress within it. It is **not** a bound on the
    /// whole request (a server trickling a byte at a time never trips it): that is
    /// [`deadline`](Self::deadline). A step that can finish at once always does, so even
    /// a zero timeout fails only the steps that have to wait. `Duration::MAX` means no
    /// timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The default overall deadline of every request: see
    /// [`RequestBuilder::deadline`]. None unless set.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = courier::Client::builder().deadline(Duration::from_secs(10)).build().unwrap();
    /// # drop(client);
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The retry policy of every request (off unless set): what is retried and when is
    /// described at [`Retry`]. A request can replace it with
    /// [`RequestBuilder::retry`].
    ///
    /// ```
    /// let client = courier::Client::builder().retry(courier::Retry::new().max_retries(3)).build().unwrap();
    /// # drop(client);
    /// ```
    pub fn retry(mut self, policy: Retry) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Header fields sent with every request, first, in this order. A request's own
    /// [`header`](RequestBuilder::header) or [`remove_header`](RequestBuilder::remove_header)
    /// of the same name replaces them (and they replace courier's defaults, such as
    /// User-Agent). Like any Authorization or Cookie header, they are dropped on a
    /// redirect to another origin.
    ///
    /// ```
    /// use courier::http::{header, HeaderMap, HeaderValue};
    /// let mut headers = HeaderMap::new();
    /// headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    /// let client = courier::Client::builder().default_headers(headers).build().unwrap();
    /// # drop(client);
    /// ```
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// The default number of redirects to follow (AnyEvent::HTTP's `$MAX_RECURSE`, 10).
    pub fn max_recurse(mut self, redirects: u32) -> Self {
        self.max_recurse = redirects;
        self
    }

    /// The default User-Agent (AnyEvent::HTTP's `$USERAGENT`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The most bytes asked of the socket per read (AnyEvent::HTTP's `max_read_size`;
    /// default 16 KiB). A connection's reads start at 2 KiB and double while they come
    /// back full, so short replies keep its buffer small.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(1);
        self
    }

    /// Largest response body collected in memory (default [`DEFAULT_MAX_BODY_SIZE`], 1 GiB):
    /// a larger one ends in 597 instead of exhausting memory. Bodies given to `on_body` or
    /// read with `send_streaming` are not collected and not limited.
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Most connections per host (AnyEvent::HTTP's `$MAX_PER_HOST`, 4). Requests beyond it wait in a
    /// first-come, first-served queue. Counted per pool key: scheme, host, port and
    /// session id each get their own connections.
    pub fn max_per_host(mut self, connections: usize) -> Self {
        self.max_per_host = connections.max(1);
        self
    }

    /// How long an idle persistent connection is kept (AnyEvent::HTTP's
    /// `$PERSISTENT_TIMEOUT`, 3 s).
    /// Zero keeps none: every request opens a new connection.
    pub fn persistent_timeout(mut self, timeout: Duration) -> Self {
        self.persistent_timeout = timeout;
        self
    }

    /// Calls `observer` for every connection event: connect, reuse, retry, idle, close,
    /// and the retry policy's backoff.
    ///
    /// ```
    /// let client = courier::Client::builder()
    ///     .on_connection_event(|event| eprintln!("{event}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn on_connection_event(
        mut self,
        observer: impl Fn(&ConnectionEvent) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(std::sync::Arc::new(observer));
        self
    }

    /// The proxy for this client's requests (AnyEvent::HTTP's `proxy`); without it, the global
    /// default applies ([`set_proxy`], else the environment).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// A cookie jar used by every request of this client (AnyEvent::HTTP's `cookie_jar`).
    #[cfg(feature = "cookies")]
    pub fn cookie_jar(mut self, jar: &CookieJar) -> Self {
        self.cookie_jar = Some(jar.clone());
        self
    }

    /// How https servers are verified by default (AnyEvent::HTTP's `tls_ctx`); `Tls::High`
    /// unless set.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::Tls) -> Self {
        self.tls = tls;
        self
    }

    /// Resolves names with `resolver` instead of the system resolver (overrides and the
    /// cache still apply first).
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.dns = self.dns.with_resolver(Arc::new(resolver));
        self
    }

    /// Fixed addresses for `host` on `port`, never resolved (curl's `--resolve`). TLS
    /// still checks the certificate against `host`.
    ///
    /// ```
    /// let client = courier::Client::builder()
    ///     .resolve("api.example.test", 443, [([127, 0, 0, 1], 8443).into()])
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn resolve(
        mut self,
        host: &str,
        port: u16,
        addresses: impl IntoIterator<Item = std::net::SocketAddr>,
    ) -> Self {
        self.dns = self.dns.with_override(host, port, addresses.into_iter().collect());
        self
    }

    /// Keeps resolver answers for `ttl`, at most `max_entries` of them (when full, expired
    /// ones go first, then the oldest). Off by default: the system's own caching applies.
    pub fn dns_cache(mut self, ttl: Duration, max_entries: usize) -> Self {
        self.dns = self.dns.with_cache(ttl, max_entries);
        self
    }

    /// Ask for compressed responses (`Accept-Encoding: gzip, deflate, br, zstd`) and
    /// decode them, for every request of this client (default off: it changes the wire).
    ///
    /// A decoded response loses its Content-Encoding and Content-Length headers. Bodies
    /// are decoded in bounded memory for `send()`, `on_body` and streaming alike. Over
    /// [`MAX_DECODED_SIZE`], past [`MAX_COMPRESSION_RATIO`] (after [`RATIO_GRACE`]), more
    /// than [`MAX_CONTENT_CODINGS`] codings, or corrupt data: 597. An unknown coding, a
    /// 206, or a request with its own Accept-Encoding header is left raw.
    #[cfg(feature = "decompress")]
    pub fn decompress(mut self, enable: bool) -> Self {
        self.decompress = enable;
        self
    }

    /// Builds the client; fails only for a User-Agent with control characters.
    pub fn build(self) -> Result<Client, Error> {
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::new(ErrorKind::InvalidRequest, "invalid user agent (control characters)"))?;
        let config = Config {
            timeout: self.timeout,
            deadline: self.deadline,
            retry: self.retry,
            default_headers: self.default_headers,
            max_recurse: self.max_recurse,
            user_agent,
            read_buffer_size: self.read_buffer_size,
            max_body_size: self.max_body_size,
            pool: Pool::new(self.max_per_host, self.persistent_timeout, self.observer),
            proxy: self.proxy,
            #[cfg(feature = "cookies")]
            cookie_jar: self.cookie_jar,
            #[cfg(feature = "tls")]
            tls: self.tls,
            #[cfg(feature = "decompress")]
            decompress: self.decompress,
            dns: self.dns,
        };
        Ok(Client { config: Arc::new(config) })
    }
}

/// The process-wide client behind [`get`](crate::get), [`post`](crate::post), ….
pub fn default_client() -> &'static Client {
    static DEFAULT: OnceLock<Client> = OnceLock::new();
    DEFAULT.get_or_init(Client::new)
}
