//! Scripted raw-TCP servers for integration tests: exact bytes in, exact bytes out,
//! connections counted, everything on 127.0.0.1 and under a timeout.
//!
//! Every suite includes the support the same way, `mod support;`, and names what it
//! uses: `support::within`, `support::raw_http::*` (a raw client for the server suites),
//! `support::ws_frames::*` (raw WebSocket frames), `support::codecs::*` (compressed
//! fixtures).
#![allow(dead_code)] // each test binary uses a different part of the kit

#[cfg(feature = "decompress")]
pub mod codecs;
pub mod raw_http;
pub mod ws_frames;

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

// ---------------------------------------------------------------------------------------
// Pool-test kit: keep-alive servers that count open and closed connections
// ---------------------------------------------------------------------------------------

impl Peer {
    /// Bytes read from the client but not consumed by a request (e.g. a partial request
    /// left when the client closed).
    pub fn unconsumed(&self) -> &[u8] {
        &self.buffered
    }

    /// Closes the connection with a TCP reset (RST) instead of a normal close (FIN).
    pub fn reset(self) {
        #[allow(deprecated)] // zero linger never blocks; `set_zero_linger` needs a newer tokio
        let _ = self.stream.set_linger(Some(Duration::ZERO));
        drop(self);
    }
}

/// Server-side connection counts: open now, most open at once, closed, requests read.
/// Scripts call [`enter`](Self::enter) per connection; tests wait on the counts.
#[derive(Default)]
pub struct ConnTracker {
    open: AtomicUsize,
    max_open: AtomicUsize,
    closed: AtomicUsize,
    requests: AtomicUsize,
    /// Connections the client closed while part of a request was still unread.
    stray: AtomicUsize,
    changed: tokio::sync::Notify,
}

/// One open server-side connection; dropping it counts the connection as closed.
pub struct OpenConnection(Arc<ConnTracker>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.closed.fetch_add(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

impl ConnTracker {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Counts a newly accepted connection as open until the returned guard drops.
    pub fn enter(self: &Arc<Self>) -> OpenConnection {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_open.fetch_max(open, Ordering::SeqCst);
        self.changed.notify_waiters();
        OpenConnection(self.clone())
    }

    /// Counts one request read.
    pub fn request_seen(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    fn stray_bytes(&self) {
        self.stray.fetch_add(1, Ordering::SeqCst);
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    pub fn max_open(&self) -> usize {
        self.max_open.load(Ordering::SeqCst)
    }

    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn stray(&self) -> usize {
        self.stray.load(Ordering::SeqCst)
    }

    /// Waits until `condition` holds (no timeout of its own: run under [`within`]).
    pub async fn wait_for(&self, condition: impl Fn(&Self) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if condition(self) {
                return;
            }
            changed.await;
        }
    }

    pub async fn wait_closed(&self, count: usize) {
        self.wait_for(|t| t.closed() >= count).await;
    }

    pub async fn wait_requests(&self, count: usize) {
        self.wait_for(|t| t.requests() >= count).await;
    }

    pub async fn wait_open(&self, count: usize) {
        self.wait_for(|t| t.open() >= count).await;
    }
}

/// What a [`KeepAlive`] server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Write these bytes and go on serving the connection.
    Send(String),
    /// Write these bytes (maybe none), then close the connection (FIN).
    SendThenClose(String),
    /// Write these bytes (maybe none), then reset the connection (RST).
    SendThenReset(String),
    /// Answer nothing; keep reading until the client closes.
    Silent,
}

impl From<String> for Reply {
    fn from(bytes: String) -> Self {
        Reply::Send(bytes)
    }
}

/// A keep-alive server: answers requests in a loop on each connection until the client
/// closes it (or the reply says to close), counting connections in `conns`.
pub struct KeepAlive {
    pub server: Scripted,
    pub conns: Arc<ConnTracker>,
}

impl KeepAlive {
    /// On `127.0.0.1:0`.
    pub async fn start<F, R>(answer: F) -> Self
    where
        F: Fn(&Received) -> R + Send + Sync + 'static,
        R: Into<Reply>,
    {
        Self::start_on("127.0.0.1:0", answer).await
    }

    /// On `address` (e.g. `127.0.0.7:0`).
    pub async fn start_on<F, R>(address: &str, answer: F) -> Self
    where
        F: Fn(&Received) -> R + Send + Sync + 'static,
        R: Into<Reply>,
    {
        let conns = ConnTracker::new();
        let answer = Arc::new(answer);
        let tracker = conns.clone();
        let server = Scripted::start_on(address, move |mut peer| {
            let (answer, tracker) = (answer.clone(), tracker.clone());
            async move {
                let _open = tracker.enter();
                loop {
                    let Some(request) = peer.read_request().await else {
                        if !peer.unconsumed().is_empty() {
                            tracker.stray_bytes();
                        }
                        return;
                    };
                    tracker.request_seen();
                    match answer(&request).into() {
                        Reply::Send(bytes) => peer.write(bytes).await,
                        Reply::SendThenClose(bytes) => {
                            peer.write(bytes).await;
                            return;
                        }
                        Reply::SendThenReset(bytes) => {
                            peer.write(bytes).await;
                            peer.reset();
                            return;
                        }
                        Reply::Silent => {}
                    }
                }
            }
        })
        .await;
        Self { server, conns }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Connections accepted so far.
    pub fn connects(&self) -> usize {
        self.server.connects()
    }

    /// Requests received so far, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.server.requests()
    }
}

/// A gate scripts can wait at until the test opens it.
#[derive(Clone)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Gate {
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    pub async fn wait(&self) {
        let mut opened = self.0.subscribe();
        let _ = opened.wait_for(|open| *open).await;
    }
}

/// Polls `condition` every 5 ms for up to 5 s; true as soon as it holds. For state that
/// settles asynchronously (a cancelled task's cleanup); assert on the result.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts a failure courier reported itself: `status`, error `kind`, no body; returns the
/// reason for further checks.
#[track_caller]
pub fn assert_failure(res: &courier::Response, status: u16, kind: courier::ErrorKind) -> String {
    assert_eq!(res.status().as_u16(), status, "{}", res.reason());
    assert_eq!(res.error().map(|e| e.kind()), Some(kind), "{}", res.reason());
    assert!(res.body().is_empty());
    res.reason().to_owned()
}

/// An example's binary, which `cargo test` builds next to the test binaries
/// (`<target>/debug/deps/TEST-HASH` -> `<target>/debug/examples/NAME`).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir =
        exe.parent().and_then(|deps| deps.parent()).expect("the test binary sits in <target>/debug/deps");
    let path = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} does not exist: run the tests via `cargo test` (which builds the examples), \
         or `cargo build --example {name}` first",
        path.display()
    );
    path
}
