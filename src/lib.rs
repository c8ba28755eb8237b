//! courier: an async HTTP/1.1 client for tokio that is correct on the wire and honest
//! about failure, with a bundled HTTP server and WebSocket server for loopback tests and
//! light serving.
//!
//! # Depending on it
//!
//! The package is `courier-http`; the library is `courier`:
//!
//! ```toml
//! [dependencies]
//! courier-http = "0.1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "json")]
//! # mod demo {
//! #[derive(serde::Deserialize)]
//! struct Ip { origin: String }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), courier::Error> {
//!     let ip: Ip = courier::get("http://127.0.0.1:8080/ip").try_send().await?.json().await?;
//!     println!("{}", ip.origin);
//!     Ok(())
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! # Failures are responses; `?` is one call away
//!
//! [`RequestBuilder::send`] never panics and never returns `Err`: every outcome is a
//! [`Response`]. When something goes wrong its status is one of AnyEvent::HTTP's
//! pseudo-statuses, its reason says what happened, and [`Response::error`] has the typed
//! [`Error`] (kind, source chain, [`is_timeout`](Error::is_timeout)):
//!
//! | status | meaning |
//! |---|---|
//! | 595 | connection setup failed (resolve, connect, connector hook), or no connection before the deadline |
//! | 596 | sending the request, or the status line / headers, failed |
//! | 597 | the body failed (malformed framing, cut short, timed out) |
//! | 598 | `on_header` or `on_body` returned `false` |
//! | 599 | anything else: bad URL, unsupported scheme, invalid header |
//!
//! The bridges to `Result`, for code that wants `?`:
//! - [`RequestBuilder::try_send`]: `Err` for 595..599, `Ok` for any response the server
//!   gave;
//! - [`Response::error_for_status`]: `Err` for 595..599 *and* for 4xx/5xx (an
//!   [`ErrorKind::Status`] error with the status, reason and URL);
//! - [`Response::bytes`] and [`Response::json`] (feature `json`): the body, or `Err`.
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
//!
//! let error = courier::get("ftp://example.test/file").try_send().await.unwrap_err();
//! assert_eq!((error.status().as_u16(), error.url()), (599, Some("ftp://example.test/file")));
//! # }
//! ```
//!
//! # Time bounds, retries, defaults
//!
//! ```no_run
//! # async fn demo() -> Result<(), courier::Error> {
//! use courier::http::{header, HeaderMap, HeaderValue};
//! use std::time::Duration;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t0ken"));
//! let client = courier::Client::builder()
//!     .default_headers(headers)                 // on every request
//!     .deadline(Duration::from_secs(10))        // the whole request, redirects and retries included
//!     .timeout(Duration::from_secs(3))          // each read, write and connect: NOT a total
//!     .retry(courier::Retry::new())             // idempotent requests on 595, 596, 503, 429
//!     .build()?;
//! let res = client.get("http://127.0.0.1:8080/items").try_send().await?.error_for_status()?;
//! # Ok(()) }
//! ```
//!
//! - [`timeout`](RequestBuilder::timeout) is the *activity* timeout (AnyEvent::HTTP's):
//!   each step must make progress within it; a trickling server never trips it.
//! - [`deadline`](RequestBuilder::deadline) bounds the whole request: 595 while waiting
//!   or connecting, 596 while sending or reading the head, 597 in the body.
//! - [`Retry`] is opt-in and bounded (attempts, each pause, all pauses, the deadline); its
//!   page says exactly what is retried.
//!
//! # Streaming and callbacks
//!
//! ```no_run
//! # async fn demo() -> Result<(), courier::Error> {
//! // The body after the head, in bounded memory.
//! let mut res = courier::get("http://127.0.0.1:8080/big").send_streaming().await;
//! while let Some(chunk) = res.chunk().await? {
//!     println!("{} bytes", chunk.len());
//! }
//! // AnyEvent::HTTP's style: callbacks, and a guard that cancels when dropped.
//! let guard = courier::get("http://127.0.0.1:8080/big")
//!     .on_header(|res| res.header("content-type").is_some_and(|t| t.starts_with("text/")))
//!     .on_body(|chunk, _res| { println!("{} bytes", chunk.len()); true })
//!     .spawn(|res| println!("done: {} {}", res.status().as_u16(), res.reason()));
//! drop(guard);
//! # Ok(()) }
//! ```
//!
//! # Map of the crate
//!
//! | where | what |
//! |---|---|
//! | [`get`], [`post`], [`put`], [`patch`], [`delete`], [`head`], [`request`] | requests on the process-wide [`default_client`] |
//! | [`Client`], [`ClientBuilder`] | your own defaults (timeouts, deadline, retry, default headers, proxy, TLS, cookies, DNS) and connection pool |
//! | [`RequestBuilder`] | one request: headers, bodies (`body`, `form`, `json`, `multipart`, streams, files), auth, callbacks |
//! | [`Response`] | status, reason, headers, body, redirect chain, the error; `bytes`/`json`/streaming |
//! | [`Error`], [`ErrorKind`] | why a request failed, and the 595..599 mapping |
//! | [`Retry`] | the retry policy |
//! | [`Download`] | resumable downloads to a file (Range, validators, retries) |
//! | [`Multipart`] | `multipart/form-data` bodies, files streamed from disk |
//! | [`Proxy`], [`set_proxy`] | HTTP and SOCKS proxies, the environment's settings |
//! | [`CookieJar`] | the cookie jar (feature `cookies`) |
//! | [`ConnectionEvent`] | what the pool did: connect, reuse, retry, idle, close, backoff |
//! | [`tls`] | certificate checking modes, server configs (feature `tls`) |
//! | [`server`] | the bundled HTTP server and test kit (feature `server`) |
//! | [`ws`] | the WebSocket server (feature `ws`) |
//! | [`http`] | the `http` crate, re-exported: `HeaderMap`, `header`, `Method`, `StatusCode` |
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tls` | on | https for the client and the server (rustls with ring) |
//! | `cookies` | on | [`CookieJar`] (cookie_store, psl) |
//! | `socks` | on | SOCKS 4, 4a, 5 and 5h proxies (tokio-socks) |
//! | `server` | on | [`server`]: the bundled server, forms, files, the test kit |
//! | `ws` | on | [`ws`]: the WebSocket server (tokio-tungstenite frames) |
//! | `decompress` | on | `decompress(true)`: gzip, deflate, brotli, zstd responses |
//! | `json` | on | [`RequestBuilder::json`], [`Response::json`] (serde, serde_json) |
//! | `tracing` | off | a `tracing` span per request and an event per [`ConnectionEvent`] |
//!
//! `default-features = false` is the plain-HTTP client (tokio, httparse, http, bytes, url,
//! futures-util, foldhash).
//!
//! # Names from AnyEvent::HTTP
//!
//! courier's behaviour comes from Perl's AnyEvent::HTTP; the docs use its names, defined
//! once here:
//!
//! | AnyEvent::HTTP | meaning | courier |
//! |---|---|---|
//! | pseudo-status 595..599 | a failure reported as a status | [`Response::status`], [`ErrorKind::status`] |
//! | `$TIMEOUT`, `timeout` | the *activity* timeout (300 s) | [`RequestBuilder::timeout`], [`ClientBuilder::timeout`] |
//! | `$MAX_RECURSE`, `recurse` | redirects followed (10) | [`RequestBuilder::recurse`], [`ClientBuilder::max_recurse`] |
//! | `$MAX_PER_HOST` | connections per host (4) | [`ClientBuilder::max_per_host`] |
//! | `$PERSISTENT_TIMEOUT` | how long an idle connection is kept (3 s) | [`ClientBuilder::persistent_timeout`] |
//! | `$ACTIVE` | connections in use | [`active`], [`Client::active`] |
//! | `$USERAGENT` | the default User-Agent | [`ClientBuilder::user_agent`] |
//! | `persistent`, `keepalive`, `sessionid` | connection reuse | [`RequestBuilder::persistent`], [`keepalive`](RequestBuilder::keepalive), [`session_id`](RequestBuilder::session_id) |
//! | `headers => { name => undef }` | suppress a default header | [`RequestBuilder::remove_header`] |
//! | `on_header`, `on_body` | streaming callbacks (false aborts: 598) | [`RequestBuilder::on_header`], [`on_body`](RequestBuilder::on_body) |
//! | `want_body_handle` | the raw connection after the head | [`RequestBuilder::want_body_handle`], [`BodyHandle`] |
//! | `on_prepare`, `tcp_connect` | socket tuning, custom connection setup | [`RequestBuilder::on_prepare`], [`Connector`] |
//! | `max_read_size` | bytes per read | [`RequestBuilder::read_buffer_size`] |
//! | `tls_ctx` (`low`, `high`) | certificate checking | [`tls::Tls`] (our default is `High`) |
//! | `proxy`, `set_proxy` | proxies | [`Proxy`], [`set_proxy`] |
//! | `cookie_jar`, `cookie_jar_expire` | cookies | [`CookieJar`] |
//! | `Redirect`, `OrigStatus`, `OrigReason`, `URL` | pseudo-headers of the response | [`Response::redirects`], [`orig_status`](Response::orig_status), [`orig_reason`](Response::orig_reason), [`url`](Response::url) |
//! | `http_request`'s callback, its guard | callback style, cancellation | [`RequestBuilder::spawn`], [`RequestGuard`] |
//! | `format_date`, `parse_date` | HTTP dates | [`format_date`], [`parse_date`] |
//!
//! The bundled server follows two Perl servers, and the WebSocket server a third; their
//! names in the docs:
//!
//! | Perl name | meaning | courier |
//! |---|---|---|
//! | AnyEvent::HTTPD's path handlers (`/test/bla.jpg` → `/test` → `""`) | the path walk | `server::ServerBuilder::route` |
//! | AnyEvent::HTTPD's `request` event | a hook before any handler | `server::ServerBuilder::request_hook` |
//! | AnyEvent::HTTPD's `request_timeout` | time for a request head to arrive | `server::ServerBuilder::request_timeout` |
//! | POEx::HTTP::Server's handlers (ordered regexes) | routing by pattern | `server::ServerBuilder::handler` |
//! | POEx::HTTP::Server's `pre_request`, `post_request`, `on_error`, `stream_request` | hooks | `server::ServerBuilder` hooks |
//! | POEx::HTTP::Server's `keepalive`, `keepalivetimeout`, `concurrency`, `sendfile` | connection limits, files | `max_requests_per_connection`, `idle_timeout`, `concurrency`, `server::serve_file` |
//! | AnyEvent::WebSocket::Server's `handshake`, `establish`, `establish_psgi` | the WebSocket handshake hook, on a stream, from a route | `ws::WebSocketServer` |

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

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
    default_client, default_proxy, set_proxy, BodyAsyncRead, BodyHandle, Client, ClientBuilder, CloseReason,
    ConnectFuture, ConnectionEvent, Connector, Download, DownloadFailed, Downloaded, EventKind, HostStats,
    IntoUrl, Multipart, PoolStats, Progress, Proxy, ProxyScheme, ProxyServer, RequestBuilder, RequestGuard,
    Resolve, ResolveFuture, Response, Target, UrlArg, DEFAULT_DOWNLOAD_ATTEMPTS, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_PER_HOST, DEFAULT_MAX_RECURSE, DEFAULT_PERSISTENT_TIMEOUT, DEFAULT_READ_BUFFER_SIZE,
    DEFAULT_TIMEOUT, DEFAULT_USER_AGENT,
};
pub use client::{
    BodyStream, Retry, DEFAULT_FIRST_PAUSE, DEFAULT_MAX_PAUSE, DEFAULT_MAX_RETRIES, DEFAULT_MAX_TOTAL_PAUSE,
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
/// The [`http`](https://docs.rs/http) crate, whose types courier uses: `HeaderMap`,
/// `header::*` names, `HeaderValue`, `Method`, `StatusCode`, `Version`. Use it instead
/// of a direct dependency, so the versions always match.
pub use http;
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
/// let res = courier::request("PROPFIND", "http://127.0.0.1:8080/dav/").send().await;
/// # }
/// ```
pub fn request(method: impl AsRef<str>, url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().request(method, url)
}

/// Connections of the [default client](default_client) in use right now
/// (AnyEvent::HTTP's `$ACTIVE`): open or being opened, not idle.
pub fn active() -> usize {
    default_client().active()
}

/// A GET request on the [default client](default_client).
///
/// ```no_run
/// # async fn demo() -> Result<(), courier::Error> {
/// let page = courier::get("http://127.0.0.1:8080/").try_send().await?.error_for_status()?;
/// println!("{}", page.text());
/// # Ok(()) }
/// ```
pub fn get(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().get(url)
}

/// A HEAD request on the [default client](default_client).
///
/// ```no_run
/// # async fn demo() {
/// let res = courier::head("http://127.0.0.1:8080/big.iso").send().await;
/// println!("{:?}", res.header("content-length"));
/// # }
/// ```
pub fn head(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().head(url)
}

/// A POST request on the [default client](default_client); give it a body with
/// [`body`](RequestBuilder::body), [`form`](RequestBuilder::form),
/// [`json`](RequestBuilder::json), … (without one it is sent with `Content-Length: 0`).
///
/// ```no_run
/// # async fn demo() -> Result<(), courier::Error> {
/// let res = courier::post("http://127.0.0.1:8080/notes").body("hello").try_send().await?;
/// # Ok(()) }
/// ```
pub fn post(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().post(url)
}

/// A PUT request on the [default client](default_client).
///
/// ```no_run
/// # async fn demo() -> Result<(), courier::Error> {
/// let res = courier::put("http://127.0.0.1:8080/notes/1").body("updated").try_send().await?;
/// # Ok(()) }
/// ```
pub fn put(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().put(url)
}

/// A PATCH request on the [default client](default_client).
///
/// ```no_run
/// # async fn demo() -> Result<(), courier::Error> {
/// let res = courier::patch("http://127.0.0.1:8080/notes/1").body("+1 line").try_send().await?;
/// # Ok(()) }
/// ```
pub fn patch(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().patch(url)
}

/// A DELETE request on the [default client](default_client).
///
/// ```no_run
/// # async fn demo() -> Result<(), courier::Error> {
/// let res = courier::delete("http://127.0.0.1:8080/notes/1").try_send().await?.error_for_status()?;
/// # Ok(()) }
/// ```
pub fn delete(url: impl IntoUrl) -> RequestBuilder<'static> {
    default_client().delete(url)
}
