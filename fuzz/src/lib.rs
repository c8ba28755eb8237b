//! Loopback helpers shared by the fuzz targets: one current-thread runtime per process,
//! a scripted peer that answers any request with the fuzz bytes, and the bundled server.
//!
//! Everything binds 127.0.0.1 port 0 and is created once per process (libFuzzer runs the
//! target in a loop), so an iteration costs one connection, not a setup.

use courier::server::{Reply, Server};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// The process's runtime: current-thread, so an iteration is deterministic enough and
/// background tasks (the peer, the server, the pool's reaper) run only inside `block_on`.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
    })
}

/// A scripted HTTP peer: each connection gets its request head read, then the current
/// reply bytes written verbatim, then a close.
pub struct ScriptedPeer {
    reply: Arc<Mutex<Vec<u8>>>,
    addr: SocketAddr,
}

impl ScriptedPeer {
    /// Starts the peer on the shared runtime (once per process per call site).
    pub fn start() -> Self {
        let reply = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime().block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let shared = reply.clone();
        runtime().spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let bytes = shared.lock().unwrap().clone();
                tokio::spawn(answer(stream, bytes));
            }
        });
        Self { reply, addr }
    }

    /// The bytes the next connections are answered with.
    pub fn set_reply(&self, bytes: &[u8]) {
        let mut reply = self.reply.lock().unwrap();
        reply.clear();
        reply.extend_from_slice(bytes);
    }

    /// The peer's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn answer(mut stream: TcpStream, reply: Vec<u8>) {
    // Read the whole request head first: closing with unread input would send a RST,
    // which could reach the client before the reply bytes do.
    let mut head = Vec::with_capacity(1024);
    let read_head = async {
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(2), read_head).await.is_err() {
        return;
    }
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
    // Let the client read everything; a short linger, then drop.
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// The bundled server, started once: `/` answers "ok", `/echo` reads the body (and its
/// trailers), `/mp` parses a multipart form, `/form` parses any form.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let builder = Server::builder()
            .host("127.0.0.1")
            .port(0)
            .request_timeout(Duration::from_secs(1))
            .idle_timeout(Duration::from_secs(1))
            .record_limit(0)
            .route("/", |_req| async { Reply::text("ok") })
            .route("/echo", |req: courier::server::Request| async move {
                match req.body().await {
                    Ok(body) => Reply::bytes("application/octet-stream", body)
                        .with_header("x-trailers", &req.trailers().len().to_string()),
                    Err(error) => Reply::error(400, &error.to_string()),
                }
            })
            .route("/mp", |req: courier::server::Request| async move {
                match req.multipart().await {
                    Ok(parts) => {
                        let mut out = String::new();
                        for part in &parts {
                            out.push_str(&format!(
                                "{:?} {:?} {:?} {}\n",
                                part.name,
                                part.filename,
                                part.content_type,
                                part.data.len()
                            ));
                        }
                        Reply::text(out)
                    }
                    Err(error) => Reply::error(400, &error.to_string()),
                }
            })
            .route("/form", |req: courier::server::Request| async move {
                match req.params().await {
                    Ok(params) => Reply::text(format!("{}", params.len())),
                    Err(error) => Reply::error(400, &error.to_string()),
                }
            });
        runtime().block_on(builder.start()).expect("server start")
    })
}

/// Sends `bytes` on a fresh connection to `addr`, shuts down the write side and returns
/// everything the peer sent before closing. Panics if the peer does not close within
/// `limit` after our EOF (a hang).
pub async fn exchange(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.expect("connect to the server");
    let (mut reader, mut writer) = stream.into_split();
    let write = async {
        // The server may close early (a 4xx); a failed write is not our finding.
        let _ = writer.write_all(bytes).await;
        let _ = writer.shutdown().await;
    };
    let read = async {
        let mut reply = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
        reply
    };
    let both = async { tokio::join!(write, read).1 };
    match tokio::time::timeout(limit, both).await {
        Ok(reply) => reply,
        Err(_) => panic!("the server did not close the connection within {limit:?} after the client's EOF"),
    }
}

/// Every `every` calls, checks that the server still answers a normal request.
pub async fn check_server_alive(counter: &std::sync::atomic::AtomicU64, every: u64) {
    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if n % every != 0 {
        return;
    }
    let reply = exchange(
        server().local_addr(),
        b"GET / HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        reply.starts_with(b"HTTP/1.1 200 ") && reply.ends_with(b"ok"),
        "the server stopped answering normal requests: {:?}",
        String::from_utf8_lossy(&reply)
    );
}
