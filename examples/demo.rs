//! The README's main command: starts a small HTTP server on loopback and shows the client
//! at work — a GET, a redirect chain, a streamed body, connection reuse, and an honest failure.
//!
//! Run with `cargo run --example demo`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(serve(listener));
    println!("demo server listening on {base}\n");

    // 1. A plain GET.
    let res = courier::get(format!("{base}/")).send().await;
    println!("GET /            -> {} {} ({:?})", res.status().as_u16(), res.reason(), res.version().unwrap());
    println!("  content-type: {}", res.header("content-type").unwrap_or_default());
    println!("  body: {}", res.text().trim_end());

    // 2. A redirect chain: /old -> /middle -> /new, each hop kept as data.
    let res = courier::get(format!("{base}/old")).send().await;
    println!("\nGET /old         -> {} {}, final URL {}", res.status().as_u16(), res.reason(), res.url());
    for (i, hop) in res.redirects().iter().enumerate() {
        let location = hop.header("location").unwrap_or_default();
        println!("  hop -{}: {} {} -> {location}", i + 1, hop.status().as_u16(), hop.url());
    }
    println!("  body: {}", res.text().trim_end());

    // 3. A streamed body: chunks arrive through on_body as the server produces them.
    let started = std::time::Instant::now();
    let res = courier::get(format!("{base}/stream"))
        .on_header(move |res| {
            println!("\nGET /stream      -> {} (head after {:?})", res.status().as_u16(), started.elapsed());
            true
        })
        .on_body(move |chunk, _res| {
            let text = String::from_utf8_lossy(chunk);
            println!("  chunk at {:>4} ms: {}", started.elapsed().as_millis(), text.trim_end());
            true
        })
        .send()
        .await;
    println!(
        "  done: {} {}, trailer x-chunks = {:?}",
        res.status().as_u16(),
        res.reason(),
        res.trailers().get("x-chunks")
    );

    // 4. The pool: five requests on one client share one persistent connection.
    let connects = Arc::new(AtomicUsize::new(0));
    let counted = connects.clone();
    let client = courier::Client::builder()
        .on_connection_event(move |event| {
            if event.kind == courier::EventKind::Connect {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .expect("a valid client");
    for _ in 0..5 {
        let res = client.get(format!("{base}/")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    }
    let stats = client.pool_stats();
    println!(
        "\n5 requests, {} connection(s); now {} active, {} idle",
        connects.load(Ordering::SeqCst),
        stats.active,
        stats.idle
    );

    // 5. Failures are responses too: a 595 for a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("address").port();
    let res =
        courier::get(format!("http://127.0.0.1:{closed}/")).timeout(Duration::from_secs(2)).send().await;
    println!("\nGET closed port  -> {} {}", res.status().as_u16(), res.reason());
}

/// A minimal server for the demo (the bundled server replaces it once it exists).
async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(answer(stream));
    }
}

/// Answers requests on one connection until the client closes it (keep-alive).
async fn answer(mut stream: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let target = loop {
            match courier::h1::parse_request_head(&buf) {
                Ok(Some((head, len))) => {
                    buf.drain(..len);
                    break head.target;
                }
                Ok(None) => {}
                Err(_) => return,
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let reply = |status: &str, extra: &str, body: &str| {
            format!("HTTP/1.1 {status}\r\n{extra}content-length: {}\r\n\r\n{body}", body.len())
        };
        let response = match target.as_str() {
            "/" => reply("200 OK", "content-type: text/plain\r\n", "hello from the demo server\n"),
            "/old" => reply("302 Found", "location: /middle\r\n", "moved\n"),
            "/middle" => reply("301 Moved Permanently", "location: /new\r\n", "moved again\n"),
            "/new" => reply("200 OK", "content-type: text/plain\r\n", "you found the new place\n"),
            "/stream" => return stream_chunks(stream).await,
            _ => reply("404 Not Found", "", "no such page\n"),
        };
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Sends a chunked body one piece at a time, with trailers at the end.
async fn stream_chunks(mut stream: TcpStream) {
    let head =
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-chunks\r\nconnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for i in 1..=4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let piece = format!("piece {i} of 4\n");
        let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"0\r\nx-chunks: 4\r\n\r\n").await;
}
