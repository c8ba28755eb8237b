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
    /// Whether the body arrived completely (true for a request without a body). A body
    /// the handler did not read is drained, and logged, up to the server's drain limit
    /// ([`DEFAULT_MAX_DRAIN`](super::DEFAULT_MAX_DRAIN), within 1 s); beyond it the
    /// connection closes, and the log holds what arrived with this `false`.
    pub body_complete: bool,
    /// The connection it came on (from 1).
    pub connection_id: u64,
    /// Its position on that connection (from 0).
    pub index_on_connection: usize,
    /// The client's address.
    pub peer: SocketAddr,
    /// The status of the reply; `None` while the request is being handled, and when no
    /// complete reply went out (a fault cut it, or writing it failed).
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

/// [`Server::wait_for_requests`](super::Server::wait_for_requests) ran out of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimedOut {
    /// How many answered requests were awaited.
    pub expected: usize,
    /// The answered requests the log held when time ran out.
    pub received: Vec<RecordedRequest>,
}

impl std::fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {} requests, {} arrived", self.expected, self.received.len())?;
        for (index, request) in self.received.iter().enumerate() {
            let separator = if index == 0 { ": " } else { ", " };
            write!(f, "{separator}{} {}", request.method, request.target)?;
        }
        Ok(())
    }
}

impl std::error::Error for WaitTimedOut {}

/// Where a request sits in the log, from its head to its answer (see [`Recorder::begin`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry(u64);

/// Keeps the most recent requests: at most `limit` of them, and at most `body_limit`
/// bytes of their bodies (a long-running server must not hold every upload it saw).
/// Heads stay while bodies go: the oldest bodies are dropped first.
///
/// A request enters the log when its head has been read ([`begin`](Self::begin)) and is
/// completed with its body and status once its reply is decided, before the reply is
/// written ([`answer`](Self::answer)). So a client that has seen a reply always finds its
/// request, body and status in the log.
pub(crate) struct Recorder {
    limit: usize,
    body_limit: usize,
    log: Mutex<Log>,
    /// Woken whenever a request is answered (`wait_answered`).
    answered: tokio::sync::Notify,
}

#[derive(Default)]
struct Log {
    requests: VecDeque<Slot>,
    /// The entry number of `requests[0]`: entries are numbered in arrival order, so an
    /// entry is found by subtraction (and is gone once it fell out of the log).
    first_entry: u64,
    /// The body bytes the log holds, at most `body_limit`.
    body_bytes: usize,
    /// Requests before this index hold no body (theirs were dropped, or had none yet):
    /// where the next eviction looks, so that evicting is not a scan of the whole log.
    first_body: usize,
    /// How many requests in the log are answered.
    answered: usize,
}

struct Slot {
    request: RecordedRequest,
    answered: bool,
}

impl Recorder {
    pub(crate) fn new(limit: usize, body_limit: usize) -> Self {
        Self { limit, body_limit, log: Mutex::default(), answered: tokio::sync::Notify::new() }
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

    /// Records a request whose head has just been read: no body yet, no status. `None`
    /// with the log off.
    pub(crate) fn begin(&self, request: &Request) -> Option<Entry> {
        if !self.enabled() {
            return None;
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
            status: None,
        };
        let mut log = self.lock();
        if log.requests.len() == self.limit {
            if let Some(oldest) = log.requests.pop_front() {
                log.body_bytes -= oldest.request.body.len();
                log.answered -= usize::from(oldest.answered);
            }
            log.first_entry += 1;
            log.first_body = log.first_body.saturating_sub(1);
        }
        log.requests.push_back(Slot { request: recorded, answered: false });
        Some(Entry(log.first_entry + log.requests.len() as u64 - 1))
    }

    /// Completes a request's record once its reply is decided: the body as far as it was
    /// read (or drained), and the status about to be sent (`None`: no complete reply goes
    /// out, e.g. a fault that cuts it).
    pub(crate) fn answer(&self, entry: Option<Entry>, request: &Request, status: Option<StatusCode>) {
        let Some(Entry(number)) = entry else { return };
        let (body, body_size, body_complete) = request.logged_body();
        let mut log = self.lock();
        let Some(index) = number.checked_sub(log.first_entry).map(|index| index as usize) else { return };
        let Some(slot) = log.requests.get_mut(index) else { return };
        let old = std::mem::replace(&mut slot.request.body, body);
        (slot.request.body_size, slot.request.body_complete, slot.request.status) =
            (body_size, body_complete, status);
        let newly_answered = !std::mem::replace(&mut slot.answered, true);
        let added = slot.request.body.len();
        log.body_bytes = log.body_bytes - old.len() + added;
        log.answered += usize::from(newly_answered);
        if added > 0 {
            log.first_body = log.first_body.min(index);
        }
        // Over the byte budget: drop bodies, oldest first (one body alone was cut to the
        // budget when it was read, so it always fits).
        while log.body_bytes > self.body_limit && log.first_body < log.requests.len() {
            let oldest = log.first_body;
            let dropped = std::mem::take(&mut log.requests[oldest].request.body);
            log.body_bytes -= dropped.len();
            log.first_body += 1;
        }
        drop(log);
        self.answered.notify_waiters();
    }

    /// Changes a recorded status after the fact: the reply could not be written.
    pub(crate) fn unsent(&self, entry: Option<Entry>) {
        let Some(Entry(number)) = entry else { return };
        let mut log = self.lock();
        let Some(index) = number.checked_sub(log.first_entry).map(|index| index as usize) else { return };
        if let Some(slot) = log.requests.get_mut(index) {
            slot.request.status = None;
        }
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().map(|slot| slot.request.clone()).collect()
    }

    /// The answered requests, once at least `count` of them are in the log.
    pub(crate) async fn wait_answered(&self, count: usize) -> Vec<RecordedRequest> {
        loop {
            let notified = self.answered.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.lock().answered >= count {
                return self.answered_requests();
            }
            notified.await;
        }
    }

    pub(crate) fn answered_requests(&self) -> Vec<RecordedRequest> {
        let log = self.lock();
        log.requests.iter().filter(|slot| slot.answered).map(|slot| slot.request.clone()).collect()
    }

    pub(crate) fn clear(&self) {
        let mut log = self.lock();
        let next = log.first_entry + log.requests.len() as u64;
        *log = Log { first_entry: next, ..Log::default() };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
