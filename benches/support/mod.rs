//! The benchmarks' server: a minimal HTTP/1.1 keep-alive responder on its own thread and
//! runtime, so the client under test has the bench thread to itself.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The reply to every request except `/big/N`: 13 bytes of body.
pub const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";

/// Starts the server on 127.0.0.1 and returns its address. `GET /big/N` gets N bytes.
pub fn start() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        });
    });
    rx.recv().unwrap()
}

async fn serve(mut stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let filler = vec![b'x'; 64 * 1024];
    loop {
        let mut chunk = [0u8; 4096];
        let Ok(read) = stream.read(&mut chunk).await else { return };
        if read == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..read]);
        // Answer every complete head (requests here have no bodies; pipelining is fine).
        let mut out = Vec::new();
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            let size = std::str::from_utf8(&head)
                .ok()
                .and_then(|h| h.strip_prefix("GET /big/"))
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok());
            match size {
                None => out.extend_from_slice(HELLO),
                Some(size) => {
                    out.extend_from_slice(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n").as_bytes(),
                    );
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                    let mut left = size;
                    while left > 0 {
                        let n = left.min(filler.len());
                        if stream.write_all(&filler[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                }
            }
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
}
