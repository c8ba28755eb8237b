//! The HTTP client: `Client`, its builder and defaults, and the request path behind it.

mod body_stream;
mod connect;
#[cfg(feature = "cookies")]
mod cookies;
mod decompress;
mod dns;
mod download;
mod events;
mod multipart;
mod pool;
mod proxy;
mod redirect;
mod request;
mod request_head;
mod response;
mod run;
mod upload;

pub use body_stream::BodyAsyncRead;
pub use connect::{ConnectFuture, Connector, Target};
#[cfg(feature = "cookies")]
pub use cookies::{CookieJar, MAX_COOKIES_PER_DOMAIN, MAX_COOKIE_HEADER, MAX_COOKIE_SIZE};
#[cfg(feature = "decompress")]
pub use decompress::{
    DECODED_CHUNK_SIZE, MAX_COMPRESSION_RATIO, MAX_CONTENT_CODINGS, MAX_DECODED_SIZE, MAX_ZSTD_WINDOW,
    RATIO_GRACE,
};
pub use dns::{Resolve, ResolveFuture};
pub use download::{Download, DownloadFailed, Downloaded, DEFAULT_DOWNLOAD_ATTEMPTS};
pub use events::{ConnectionEvent, EventKind};
pub use multipart::Multipart;
pub(crate) use pool::TlsTag;
pub use pool::{HostStats, PoolStats};
pub use proxy::{default_proxy, set_proxy, Proxy, ProxyScheme, ProxyServer};
pub use request::{IntoUrl, Progress, RequestBuilder, RequestGuard, UrlArg};
pub use response::{BodyHandle, Response};

use crate::error::{Error, ErrorKind};
use bytes::Bytes;
use events::Observer;
use http::HeaderValue;
use pool::Pool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The seed's `$MAX_RECURSE`: redirects followed by default.
pub const DEFAULT_MAX_RECURSE: u32 = 10;
/// The seed's `$TIMEOUT`: the default activity timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The default User-Agent header value.
pub const DEFAULT_USER_AGENT: &str = concat!("courier/", env!("CARGO_PKG_VERSION"));
/// Bytes asked of the socket per read unless a request says otherwise.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 16 * 1024;
/// Largest response body collected in memory by default (`send()` without `on_body`);
/// past it the response is a 597. Stream larger bodies (`on_body`, `send_streaming`,
/// `Download`), which have no such limit.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 1 << 30;
/// The seed's `$MAX_PER_HOST`: most connections per host (per pool key).
pub const DEFAULT_MAX_PER_HOST: usize = 4;
/// The seed's `$PERSISTENT_TIMEOUT`: how long an idle connection is kept.
pub const DEFAULT_PERSISTENT_TIMEOUT: Duration = Duration::from_secs(3);

/// An HTTP client: defaults shared by the requests made through it. Cheap to clone.
///
/// The free functions [`get`](crate::get), [`post`](crate::post), … use a process-wide
/// default client; make your own to change the defaults.
///
/// ```
/// use std::time::Duration;
/// let client = courier::Client::builder()
///     .timeout(Duration::from_secs(30))
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
    /// A client with the seed's defaults (10 redirects, 300 s activity timeout).
    pub fn new() -> Self {
        Self::builder().build().unwrap_or_else(|_| unreachable!("the default user agent is valid"))
    }

    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            timeout: DEFAULT_TIMEOUT,
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

    /// Connections in use by a request right now (the seed's `$ACTIVE`): open or being
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

    /// A request with any method (`Method::PATCH` or `"PATCH"`).
    pub fn request(&self, method: impl AsRef<str>, url: impl IntoUrl) -> RequestBuilder<'static> {
        RequestBuilder::new(self.clone(), method.as_ref(), url.into_url_arg())
    }

    /// A GET request.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("GET", url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder<'static> {
        self.request("HEAD", url)
    }

    /// A POST request with `body`.
    pub fn post(&self, url: impl IntoUrl, body: impl Into<Bytes>) -> RequestBuilder<'static> {
        self.request("POST", url).body(body)
    }
}

/// Configures a [`Client`].
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    timeout: Duration,
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
            .field("max_recurse", &self.max_recurse)
            .field("user_agent", &self.user_agent)
            .field("max_per_host", &self.max_per_host)
            .field("persistent_timeout", &self.persistent_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The default activity timeout (seed: `$TIMEOUT`, 300 s): connect, and every read and
    /// write, must make progress within it. A step that can finish at once always does,
    /// so even a zero timeout fails only the steps that have to wait. `Duration::MAX`
    /// means no timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The default number of redirects to follow (seed: `$MAX_RECURSE`, 10).
    pub fn max_recurse(mut self, redirects: u32) -> Self {
        self.max_recurse = redirects;
        self
    }

    /// The default User-Agent (seed: `$USERAGENT`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The most bytes asked of the socket per read (seed: `handle_params` `max_read_size`;
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

    /// Most connections per host (seed: `$MAX_PER_HOST`, 4). Requests beyond it wait in a
    /// first-come, first-served queue. Counted per pool key: scheme, host, port and
    /// session id each get their own connections.
    pub fn max_per_host(mut self, connections: usize) -> Self {
        self.max_per_host = connections.max(1);
        self
    }

    /// How long an idle persistent connection is kept (seed: `$PERSISTENT_TIMEOUT`, 3 s).
    /// Zero keeps none: every request opens a new connection.
    pub fn persistent_timeout(mut self, timeout: Duration) -> Self {
        self.persistent_timeout = timeout;
        self
    }

    /// Calls `observer` for every connection event: connect, reuse, retry, idle, close.
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

    /// The proxy for this client's requests (seed: `proxy`); without it, the global
    /// default applies ([`set_proxy`], else the environment).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// A cookie jar used by every request of this client (seed: `cookie_jar`).
    #[cfg(feature = "cookies")]
    pub fn cookie_jar(mut self, jar: &CookieJar) -> Self {
        self.cookie_jar = Some(jar.clone());
        self
    }

    /// How https servers are verified by default (seed: `tls_ctx`); `Tls::High` unless set.
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
