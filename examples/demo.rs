//! The README's main command: starts a small HTTP server on loopback and shows the client
//! at work — a GET, a redirect chain, a streamed body, connection reuse, and an honest failure.
//!
//! Run with `cargo run --example demo`.

use courier::server::{Reply, Server};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The first download attempt of /big is cut off halfway (a scripted fault).
    let first_attempt = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let server = Server::builder()
        .route("/", |_req| async { Reply::text("hello from the demo server\n") })
        .route("/old", |_req| async { Reply::redirect(302, "/middle") })
        .route("/middle", |_req| async { Reply::redirect(301, "/new") })
        .route("/new", |_req| async { Reply::text("you found the new place\n") })
        .route("/stream", |_req| async { stream_pieces() })
        .route("/big", move |req| {
            let first = first_attempt.clone();
            async move { big_file(&req, &first) }
        })
        .route("/login", |_req| async {
            Reply::redirect(303, "/me").with_header("set-cookie", "session=demo42; Path=/")
        })
        .route("/me", |req| async move {
            let who = req.header("cookie").unwrap_or_else(|| "nobody".into());
            Reply::text(format!("you are: {who}\n"))
        })
        .start()
        .await
        .expect("start the bundled server on loopback");
    let base = server.url("");
    println!("bundled server listening on {base}\n");

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
    println!("  done: {} {}", res.status().as_u16(), res.reason());

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

    // 5. A cookie round trip: /login sets a cookie on a redirect hop; the jar sends it on.
    let jar = courier::CookieJar::new();
    let res = courier::get(format!("{base}/login")).cookie_jar(&jar).send().await;
    println!(
        "\nGET /login       -> {} via {} hop(s): {}",
        res.status().as_u16(),
        res.redirects().len(),
        res.text().trim_end()
    );
    println!("  the jar now holds {:?}", jar.cookies_for(&base));

    // 6. A resumable download: the first attempt is cut off, the second resumes with Range.
    let path = std::env::temp_dir().join(format!("courier-demo-{}.bin", std::process::id()));
    let mut next_report = 0;
    let done = courier::Download::new(format!("{base}/big"), &path)
        .retry_pause(Duration::from_millis(100))
        .on_progress(move |progress| {
            if progress.received >= next_report {
                println!("  {:>3}% of {} bytes", progress.received * 100 / BIG_FILE as u64, BIG_FILE);
                next_report += BIG_FILE as u64 / 4;
            }
        })
        .run()
        .await;
    match done {
        Ok(done) => println!("\nGET /big (resumable) -> {} bytes in {} attempts", done.bytes, done.attempts),
        Err(failed) => println!("\nGET /big (resumable) -> failed: {failed}"),
    }
    let intact = std::fs::read(&path).is_ok_and(|bytes| bytes == big_data());
    println!("  file intact: {intact}");
    let _ = std::fs::remove_file(&path);

    // 7. Failures are responses too: a 595 for a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("address").port();
    let res =
        courier::get(format!("http://127.0.0.1:{closed}/")).timeout(Duration::from_secs(2)).send().await;
    println!("\nGET closed port  -> {} {}", res.status().as_u16(), res.reason());

    let seen = server.requests().len();
    server.shutdown().await;
    println!("\nthe server recorded {seen} requests and shut down gracefully");
}

/// The size of the demo's download.
const BIG_FILE: usize = 200_000;

fn big_data() -> Vec<u8> {
    (0..BIG_FILE).map(|i| (i % 251) as u8).collect()
}

/// Serves the demo file with `Range: bytes=N-` support; the first attempt is cut off.
fn big_file(req: &courier::server::Request, first_attempt: &std::sync::atomic::AtomicBool) -> Reply {
    let data = big_data();
    let from: usize = req
        .header("range")
        .and_then(|range| range.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
        .filter(|&from| from < data.len())
        .unwrap_or(0);
    let mut reply =
        Reply::bytes("application/octet-stream", data[from..].to_vec()).with_header("etag", "\"demo-v1\"");
    if from > 0 {
        let range = format!("bytes {from}-{}/{}", data.len() - 1, data.len());
        reply = reply.with_status(206).with_header("content-range", &range);
    }
    if first_attempt.swap(false, Ordering::SeqCst) {
        reply = reply.with_fault(courier::server::Fault::CloseAfter(BIG_FILE / 2));
    }
    reply
}

/// A streamed reply: four pieces, 150 ms apart, sent chunked as they are produced.
fn stream_pieces() -> Reply {
    let (reply, mut body) = Reply::stream(200);
    tokio::spawn(async move {
        for i in 1..=4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if body.send(format!("piece {i} of 4\n")).await.is_err() {
                return;
            }
        }
    });
    reply.with_header("content-type", "text/plain")
}
