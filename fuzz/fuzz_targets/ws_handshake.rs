#![no_main]
//! `WebSocketServer::establish` on an in-memory duplex stream whose client side writes
//! the fuzz bytes and then shuts down. A completed handshake goes on to read messages
//! (any frames after the head), so the framing and close logic is fuzzed too. No panic,
//! and everything finishes well within the handshake/close timeouts.

use courier::ws::WebSocketServer;
use courier_http_fuzz::runtime;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (mut client, server_side) = tokio::io::duplex(64 * 1024);
        let ws = WebSocketServer::new()
            .handshake_timeout(Duration::from_millis(200))
            .close_timeout(Duration::from_millis(100))
            .write_timeout(Duration::from_millis(200))
            .max_message_size(1 << 20)
            .max_frame_size(1 << 20);
        let input = data.to_vec();
        // The client: write everything, shut down, and drain what the server says (a
        // full duplex buffer must not stall the server).
        let peer = tokio::spawn(async move {
            let (mut read, mut write) = tokio::io::split(&mut client);
            let writing = async {
                let _ = write.write_all(&input).await;
                let _ = write.shutdown().await;
            };
            let reading = async {
                let mut sink = Vec::new();
                let _ = read.read_to_end(&mut sink).await;
                sink
            };
            tokio::join!(writing, reading).1
        });
        let serve = async {
            if let Ok((mut conn, ())) = ws.establish(server_side).await {
                let mut messages = 0;
                while conn.recv().await.is_some() {
                    messages += 1;
                    assert!(messages <= data.len(), "more messages than input bytes");
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), serve).await.is_err() {
            panic!("establish/recv did not finish within 5 s");
        }
        let reply = tokio::time::timeout(Duration::from_secs(5), peer)
            .await
            .expect("the server side did not close the stream within 5 s")
            .expect("peer task");
        if !reply.is_empty() {
            assert!(reply.starts_with(b"HTTP/1.1 "), "not an HTTP reply: {:?}", String::from_utf8_lossy(&reply[..reply.len().min(100)]));
        }
    });
});
