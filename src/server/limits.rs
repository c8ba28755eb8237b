//! The server's limits and timeouts, with AnyEvent::HTTPD's and POEx::HTTP::Server's defaults.

use std::time::Duration;

/// The limits and timeouts applied to every connection and request; set through [`ServerBuilder`](super::ServerBuilder).
#[derive(Debug, Clone)]
pub(crate) struct ServerLimits {
    /// Longest accepted request target (414 beyond it).
    pub(crate) max_target_length: usize,
    /// Largest accepted request body (413 beyond it).
    pub(crate) max_body_size: u64,
    /// How long the whole head of a request may take to arrive (408 beyond it); HTTPD's
    /// `request_timeout`. Applies to every request of a keep-alive connection.
    pub(crate) request_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request; POEx's
    /// `keepalivetimeout`.
    pub(crate) idle_timeout: Duration,
    /// Each read or write must make progress within this; POEx's `timeout`.
    pub(crate) activity_timeout: Duration,
    /// Most requests served on one connection; POEx's `keepalive => N`.
    pub(crate) max_requests_per_connection: usize,
    /// How much of a body a handler left unread is read and discarded to keep the
    /// connection; beyond it the connection closes instead.
    pub(crate) max_drain: u64,
}

/// Default longest request target: 8 KiB, as most servers.
pub const DEFAULT_MAX_TARGET_LENGTH: usize = 8 * 1024;
/// Default largest request body: 16 MiB.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 16 * 1024 * 1024;
/// Default time for a request head to arrive (HTTPD's `request_timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default wait for the next request on a keep-alive connection (POEx's `keepalivetimeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default activity timeout for reads and writes (POEx's `timeout`).
pub const DEFAULT_ACTIVITY_TIMEOUT: Duration = Duration::from_secs(300);
/// Default most requests per connection (POEx's `keepalive` default).
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: usize = 100;
/// Default most unread body bytes drained to keep a connection.
pub const DEFAULT_MAX_DRAIN: u64 = 256 * 1024;

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_target_length: DEFAULT_MAX_TARGET_LENGTH,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            activity_timeout: DEFAULT_ACTIVITY_TIMEOUT,
            max_requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            max_drain: DEFAULT_MAX_DRAIN,
        }
    }
}
