//! The servers: a minimal raw HTTP/1.1 keep-alive server that every client scenario talks
//! to (so the ratios compare clients, not servers), and for wrk a hyper server and
//! courier's bundled server answering the same 13 bytes.

use crate::util;
use bytes::{Buf, BytesMut};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The answer to every request but the downloads.
pub const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
pub const HELLO_BODY_LEN: usize = 13;

/// `GET /big` answers this many bytes; `GET /bytes/N` answers N.
pub const BIG: u64 = 256 << 20;

/// The reused buffer the downloads are written from.
const CHUNK: usize = 256 << 10;

/// Longest request head accepted (a client sending more is cut off).
const MAX_HEAD: usize = 64 << 10;

/// A raw server running on its own thread: the port it listens on (on 127.0.0.1 and, with
/// several hosts, on 127.0.0.2 … 127.0.0.N too) and how many connections it accepted.
pub struct RawServer {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
}

impl RawServer {
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The address of host `i` (0-based): 127.0.0.(i + 1).
pub fn host_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, (i + 1) as u8)
}

/// Starts the raw server on a new thread with its own current-thread runtime, pinned to
/// `cpu`; listens on `hosts` loopback addresses (1..=250) with one port. Runs until the
/// process exits.
pub fn spawn_raw(hosts: usize, port: u16, cpu: Option<usize>) -> RawServer {
    assert!((1..=250).contains(&hosts), "1..=250 hosts");
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let counter = accepted.clone();
    std::thread::Builder::new()
        .name("raw-server".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                util::pin_to_cpu(cpu);
            }
            let rt = util::runtime();
            rt.block_on(async move {
                let listeners = match bind_all(hosts, port) {
                    Ok(listeners) => listeners,
                    Err(error) => {
                        let _ = tx.send(Err(error));
                        return;
                    }
                };
                let port = listeners[0].local_addr().map(|a| a.port()).unwrap_or(0);
                let _ = tx.send(Ok(port));
                let mut tasks = tokio::task::JoinSet::new();
                for listener in listeners {
                    tasks.spawn(accept_loop(listener, counter.clone()));
                }
                while tasks.join_next().await.is_some() {}
            });
        })
        .expect("a server thread");
    match rx.recv() {
        Ok(Ok(port)) => RawServer { port, accepted },
        Ok(Err(error)) => panic!("raw server: cannot listen: {error}"),
        Err(_) => panic!("raw server thread died"),
    }
}

/// Binds 127.0.0.1..=127.0.0.`hosts` on one port (port 0: a free one, retried a few times
/// when another address has it taken).
fn bind_all(hosts: usize, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut last_error = None;
    for _attempt in 0..20 {
        match try_bind_all(hosts, port) {
            Ok(listeners) => return Ok(listeners),
            Err(error) if port == 0 => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("bind failed")))
}

fn try_bind_all(hosts: usize, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let first = listen(SocketAddr::from((host_ip(0), port)))?;
    let port = first.local_addr()?.port();
    let mut listeners = vec![first];
    for i in 1..hosts {
        listeners.push(listen(SocketAddr::from((host_ip(i), port)))?);
    }
    Ok(listeners)
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream));
            }
            // Out of file descriptors and the like: back off a little, keep serving.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

fn big_buffer() -> &'static [u8] {
    static BUF: OnceLock<Vec<u8>> = OnceLock::new();
    BUF.get_or_init(|| vec![b'x'; CHUNK])
}

/// Answers every complete request head in the buffer, in order (pipelining-safe); only the
/// request line's path is looked at. Requests are assumed to carry no body.
async fn serve_connection(mut stream: TcpStream) {
    let mut input = BytesMut::with_capacity(8 << 10);
    let mut output: Vec<u8> = Vec::with_capacity(8 << 10);
    loop {
        match stream.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Some(end) = find_head_end(&input) {
            let size = download_size(&input[..end]);
            input.advance(end + 4);
            match size {
                None => output.extend_from_slice(HELLO),
                Some(size) => {
                    // Flush what is queued, then the download from the reused buffer.
                    if !output.is_empty() {
                        if stream.write_all(&output).await.is_err() {
                            return;
                        }
                        output.clear();
                    }
                    if send_download(&mut stream, size).await.is_err() {
                        return;
                    }
                }
            }
        }
        if input.len() > MAX_HEAD {
            return;
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
    }
}

fn find_head_end(input: &[u8]) -> Option<usize> {
    input.windows(4).position(|w| w == b"\r\n\r\n")
}

/// `GET /big` and `GET /bytes/N`: the body size; anything else is the 13-byte answer.
fn download_size(head: &[u8]) -> Option<u64> {
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let mut parts = head[..line_end].split(|&b| b == b' ');
    let _method = parts.next()?;
    let path = std::str::from_utf8(parts.next()?).ok()?;
    if path == "/big" {
        Some(BIG)
    } else {
        path.strip_prefix("/bytes/")?.parse().ok()
    }
}

async fn send_download(stream: &mut TcpStream, size: u64) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let buf = big_buffer();
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        stream.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}

/// Prints `listening on http://127.0.0.1:P` (flushed) so a script can read the port.
pub fn announce(port: u16) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://127.0.0.1:{port}");
    let _ = out.flush();
}

/// `peers server`: the raw server as its own process (for callgrind, so only the client
/// is counted). Serves for at most `max_time`.
pub fn run_raw_process(port: u16, hosts: usize, max_time: Duration) {
    let server = spawn_raw(hosts, port, None);
    announce(server.port);
    std::thread::sleep(max_time);
    eprintln!("raw server: {} connections accepted; time limit reached, exiting", server.accepted());
}

/// `peers hyper-server`: hyper 1's HTTP/1.1 server on a current-thread runtime.
pub fn run_hyper_process(port: u16, max_time: Duration) {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let rt = util::runtime();
    rt.block_on(async move {
        let listener = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).expect("hyper-server: listen");
        announce(listener.local_addr().expect("local addr").port());
        let serve = async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
                        let mut res =
                            hyper::Response::new(Full::new(bytes::Bytes::from_static(b"Hello, World!")));
                        res.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
                        );
                        Ok::<_, std::convert::Infallible>(res)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        let _ = tokio::time::timeout(max_time, serve).await;
    });
}

/// `peers courier-server`: courier's bundled server answering `Reply::text`. The request
/// recorder (a test-kit feature) is off; `max_requests` is the per-connection request cap
/// (courier's default is 100, which makes wrk reconnect).
pub fn run_courier_process(port: u16, max_requests: Option<usize>, max_time: Duration) {
    use courier::server::{Reply, Server};

    let rt = util::runtime();
    rt.block_on(async move {
        let mut builder = Server::builder()
            .host("127.0.0.1")
            .port(port)
            .backlog(1024)
            .record_limit(0)
            .route("", |_req| async { Reply::text("Hello, World!") });
        if let Some(max) = max_requests {
            builder = builder.max_requests_per_connection(max);
        }
        let server = builder.start().await.expect("courier-server: start");
        announce(server.port());
        tokio::time::sleep(max_time).await;
        server.shutdown().await;
    });
}
