//! courier: an async HTTP/1.1 client for tokio that is correct on the wire and honest
//! about failure.
//!
//! Every request yields a [`Response`], never an `Err` and never a panic. When something
//! goes wrong the status is one of the pseudo-statuses of Perl's AnyEvent::HTTP, and the
//! reason says what happened:
//!
//! | status | meaning |
//! |---|---|
//! | 595 | connection setup failed (resolve, connect, connector hook) |
//! | 596 | sending the request, or the status line / headers, failed |
//! | 597 | the body failed (malformed framing, cut short, timed out) |
//! | 598 | `on_header` or `on_body` returned `false` |
//! | 599 | anything else: bad URL, unsupported scheme, invalid header |
//!
//! ```no_run
//! # async fn demo() {
//! let res = courier::get("http://127.0.0.1:8080/").send().await;
//! match res.status().as_u16() {
//!     200..=299 => println!("{}", res.text()),
//!     595..=599 => eprintln!("failed: {}", res.reason()),
//!     status => eprintln!("server said {status} {}", res.reason()),
//! }
//! # }
//! ```
//!
//! Failures before any byte is sent are reported the same way, so they can be tested
//! without a network:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let res = courier::get("ftp://example.test/file").send().await;
//! assert_eq!(res.status().as_u16(), 599);
//! assert_eq!(res.error().unwrap().kind(), courier::ErrorKind::UnsupportedScheme);
//!
//! let res = courier::get("http://127.0.0.1:1/").header("x-evil", "a\r\nb").send().await;
//! assert_eq!(res.status().as_u16(), 599);
//! # }
//! ```
//!
//! Streaming, early rejection and the seed's callback style:
//!
//! ```no_run
//! # async fn demo() {
//! let guard = courier::get("http://127.0.0.1:8080/big")
//!     .on_header(|res| res.header("content-type").is_some_and(|t| t.starts_with("text/")))
//!     .on_body(|chunk, _res| { println!("{} bytes", chunk.len()); true })
//!     .spawn(|res| println!("done: {} {}", res.status().as_u16(), res.reason()));
//! drop(guard); // cancels the request
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod base64;
mod client;
mod date;
mod error;
#[doc(hidden)]
pub mod h1;
mod io;
mod percent;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "ws")]
pub mod ws;

pub use client::{
    default_client, default_proxy, set_proxy, BodyAsyncRead, BodyHandle, Client, ClientBuilder,
    ConnectFuture, ConnectionEvent, Connector, Download, DownloadFailed, Downloaded, EventKind, HostStats,
    IntoUrl, Multipart, PoolStats, Progress, Proxy, ProxyScheme, ProxyServer, RequestBuilder, RequestGuard,
    Resolve, ResolveFuture, Response, Target, UrlArg, DEFAULT_DOWNLOAD_ATTEMPTS, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_PER_HOST, DEFAULT_MAX_RECURSE, DEFAULT_PERSISTENT_TIMEOUT, DEFAULT_READ_BUFFER_SIZE,
    DEFAULT_TIMEOUT, DEFAULT_USER_AGENT,
};
#[cfg(feature = "cookies")]
pub use client::{CookieJar, MAX_COOKIES_PER_DOMAIN, MAX_COOKIE_HEADER, MAX_COOKIE_SIZE};
#[cfg(feature = "decompress")]
pub use client::{
    DECODED_CHUNK_SIZE, MAX_COMPRESSION_RATIO, MAX_CONTENT_CODINGS, MAX_DECODED_SIZE, MAX_ZSTD_WINDOW,
    RATIO_GRACE,
};
pub use date::{format_date, parse_date};
pub use error::{Error, ErrorKind};
pub use io::Transport;

pub use bytes::Bytes;
pub use http::{HeaderMap, Method, StatusCode, Version};
#[cfg(feature = "tls")]
pub use rustls;
pub use url::Url;

/// The README's Rust examples, compiled and run as doc tests so the README cannot rot.
#[cfg(all(doctest, feature = "server", feature = "ws", feature = "json"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// A request with any method on the [default client](default_client).
///
/// ```no_run
/// # async fn demo() {
/// let res = courier::request(courier::Method::DELETE, "http://127.0.0.1:8080/item/7").send().await;
/// # }
/// ```
pub fn request(method: impl AsRef<str>, url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().request(method, url)
}

/// Connections of the [default client](default_client) in use right now (the seed's
/// `$ACTIVE`): open or being opened, not idle.
pub fn active() -> usize {
    default_client().active()
}

/// A GET request on the [default client](default_client).
pub fn get(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().get(url)
}

/// A HEAD request on the [default client](default_client).
pub fn head(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().head(url)
}

/// A POST request with `body` on the [default client](default_client).
pub fn post(url: impl IntoUrl, body: impl Into<Bytes>) -> RequestBuilder<'static> {
    default_client().post(url, body)
}
