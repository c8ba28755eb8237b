//! Scripted raw-TCP servers for integration tests: exact bytes in, exact bytes out,
//! connections counted, everything on 127.0.0.1 and under a timeout.
#![allow(dead_code)] // each test binary uses a different part of the kit

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long any one test may run before it counts as hung.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `future` under [`TEST_TIMEOUT`]; a hang fails the test instead of blocking CI.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, future).await.expect("test timed out: something hung")
}

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The head exactly as sent, through the blank line.
    pub head: String,
    /// The request line's method.
    pub method: String,
    /// The request line's target.
    pub target: String,
    /// Header fields in order, names lowercased, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body (as framed by Content-Length; none otherwise).
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// One accepted connection, handed to the script.
pub struct Peer {
    pub stream: TcpStream,
    /// 0 for the server's first connection, 1 for the second, ...
    pub index: usize,
    pub peer_addr: SocketAddr,
    buffered: Vec<u8>,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Peer {
    /// Reads one request head (and its Content-Length body). `None` if the client closed
    /// first. The request is also recorded on the server.
    pub async fn read_request(&mut self) -> Option<Received> {
        let head_end = loop {
            if let Some(at) = find(&self.buffered, b"\r\n\r\n") {
                break at + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).into_owned();
        self.buffered.drain(..head_end);
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_owned();
        let target = request_line.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter(|line| !line.is_empty())
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut received = Received { head, method, target, headers, body: Vec::new() };
        // A client waiting for 100-continue sends no body yet: the script reads it later.
        if received.header("expect").is_none_or(|e| !e.eq_ignore_ascii_case("100-continue")) {
            received.body = self.read_exact(length).await;
        }
        self.log.lock().unwrap().push(received.clone());
        Some(received)
    }

    /// Reads exactly `len` bytes (fewer if the client closes).
    pub async fn read_exact(&mut self, len: usize) -> Vec<u8> {
        while self.buffered.len() < len {
            if !self.fill().await {
                break;
            }
        }
        let take = len.min(self.buffered.len());
        self.buffered.drain(..take).collect()
    }

    /// Reads until the client closes; returns everything not yet consumed.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buffered)
    }

    /// Writes bytes verbatim (errors ignored: the client may already be gone).
    pub async fn write(&mut self, bytes: impl AsRef<[u8]>) {
        let _ = self.stream.write_all(bytes.as_ref()).await;
        let _ = self.stream.flush().await;
    }

    /// Keeps the connection open, reading and discarding, until the client closes it.
    pub async fn hold(mut self) {
        self.read_to_end().await;
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buffered.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A listener on 127.0.0.1 that runs a script for every connection it accepts.
pub struct Scripted {
    pub addr: SocketAddr,
    connects: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    /// Starts a server on `127.0.0.1:0` whose connections each run `script`.
    pub async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(Peer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::start_on("127.0.0.1:0", script).await
    }

    /// Like [`start`](Self::start) on a given address (e.g. `127.0.0.2:0`).
    pub async fn start_on<F, Fut>(address: &str, script: F) -> Self
    where
        F: Fn(Peer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(address).await.expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let connects = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let task = {
            let (connects, log) = (connects.clone(), log.clone());
            tokio::spawn(async move {
                while let Ok((stream, peer_addr)) = listener.accept().await {
                    let index = connects.fetch_add(1, Ordering::SeqCst);
                    let peer = Peer { stream, index, peer_addr, buffered: Vec::new(), log: log.clone() };
                    tokio::spawn(script(peer));
                }
            })
        };
        Self { addr, connects, log, task }
    }

    /// A server that answers every request on every connection with `response`, then closes.
    pub async fn respond(response: impl Into<Vec<u8>>) -> Self {
        let response = Arc::new(response.into());
        Self::start(move |mut peer| {
            let response = response.clone();
            async move {
                if peer.read_request().await.is_some() {
                    peer.write(&*response).await;
                }
            }
        })
        .await
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }

    /// Requests received so far, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// The Connection header courier sends by default for `method`: persistent (with the
/// HTTP/1.0 keep-alive token) for idempotent methods, `close` for the others. TE is listed
/// because courier sends `TE: trailers`, a hop-by-hop field.
pub fn default_connection(method: &str) -> &'static str {
    match method {
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE" => "TE, keep-alive",
        _ => "TE, close",
    }
}
