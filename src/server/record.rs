//! The test kit's recorder: every request the server received, for assertions.

use super::Request;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

/// A request as the server received it, with what was sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The target exactly as sent.
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body bytes that arrived (read by a handler or drained by the server).
    pub body: Bytes,
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
}

/// Keeps the most recent requests, up to a limit.
pub(crate) struct Recorder {
    limit: usize,
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, requests: Mutex::new(VecDeque::new()) }
    }

    /// False with a limit of 0: nothing is recorded.
    pub(crate) fn enabled(&self) -> bool {
        self.limit > 0
    }

    pub(crate) fn record(&self, request: &Request, status: Option<StatusCode>) {
        if self.limit == 0 {
            return;
        }
        let (body, body_complete) = request.received_body();
        let recorded = RecordedRequest {
            method: request.method().clone(),
            target: request.target().to_owned(),
            version: request.version(),
            headers: request.headers().clone(),
            body,
            body_complete,
            connection_id: request.connection_id(),
            index_on_connection: request.index_on_connection(),
            peer: request.peer_addr(),
            status,
        };
        let mut requests = self.lock();
        if requests.len() == self.limit {
            requests.pop_front();
        }
        requests.push_back(recorded);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
