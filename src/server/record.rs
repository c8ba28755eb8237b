//! The test kit's recorder: every request the server received, for assertions.

use super::Request;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

/// A request as the server received it, with what was sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The target exactly as sent.
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body bytes that arrived (read by a handler or drained by the server), as far as
    /// the log keeps them: see [`body_truncated`](Self::body_truncated).
    pub body: Bytes,
    /// How many body bytes arrived, kept or not.
    pub body_size: u64,
    /// Whether the body arrived completely.
    pub body_complete: bool,
    /// The connection it came on (from 1).
    pub connection_id: u64,
    /// Its position on that connection (from 0).
    pub index_on_connection: usize,
    /// The client's address.
    pub peer: SocketAddr,
    /// The status sent back; `None` if the reply could not be written.
    pub status: Option<StatusCode>,
}

impl RecordedRequest {
    /// One header as text (`None` if absent or not UTF-8).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// True when [`body`](Self::body) holds less than arrived: the log keeps at most the
    /// server's `record_body_limit` bytes of bodies, and drops the oldest bodies first.
    pub fn body_truncated(&self) -> bool {
        (self.body.len() as u64) < self.body_size
    }
}

/// Keeps the most recent requests: at most `limit` of them, and at most `body_limit`
/// bytes of their bodies (a long-running server must not hold every upload it saw).
/// Heads stay while bodies go: the oldest bodies are dropped first.
pub(crate) struct Recorder {
    limit: usize,
    body_limit: usize,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    requests: VecDeque<RecordedRequest>,
    /// The body bytes the log holds, at most `body_limit`.
    body_bytes: usize,
    /// Requests before this index hold no body (theirs were dropped, or had none): where
    /// the next eviction looks, so that evicting is not a scan of the whole log.
    first_body: usize,
}

impl Recorder {
    pub(crate) fn new(limit: usize, body_limit: usize) -> Self {
        Self { limit, body_limit, log: Mutex::default() }
    }

    /// How many body bytes one request may keep for the log (0 with the log off).
    pub(crate) fn body_limit(&self) -> usize {
        if self.enabled() {
            self.body_limit
        } else {
            0
        }
    }

    /// False with a limit of 0: nothing is recorded.
    pub(crate) fn enabled(&self) -> bool {
        self.limit > 0
    }

    pub(crate) fn record(&self, request: &Request, status: Option<StatusCode>) {
        if self.limit == 0 {
            return;
        }
        let (body, body_size, body_complete) = request.logged_body();
        let recorded = RecordedRequest {
            method: request.method().clone(),
            target: request.target().to_owned(),
            version: request.version(),
            headers: request.headers().clone(),
            body,
            body_size,
            body_complete,
            connection_id: request.connection_id(),
            index_on_connection: request.index_on_connection(),
            peer: request.peer_addr(),
            status,
        };
        let mut log = self.lock();
        if log.requests.len() == self.limit {
            if let Some(oldest) = log.requests.pop_front() {
                log.body_bytes -= oldest.body.len();
            }
            log.first_body = log.first_body.saturating_sub(1);
        }
        log.body_bytes += recorded.body.len();
        log.requests.push_back(recorded);
        // Over the byte budget: drop bodies, oldest first (the newest was cut to the
        // budget when it was read, so it alone always fits).
        while log.body_bytes > self.body_limit && log.first_body < log.requests.len() {
            let index = log.first_body;
            let dropped = std::mem::take(&mut log.requests[index].body);
            log.body_bytes -= dropped.len();
            log.first_body += 1;
        }
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        *self.lock() = Log::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
