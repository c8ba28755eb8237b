//! Measures memory while downloading 1 GiB from the bundled server: through `on_body` and
//! through `send_streaming`'s chunks. Prints the peak resident size above the baseline
//! (Linux: VmRSS and VmHWM from /proc/self/status). Run in release mode:
//!
//! ```text
//! cargo run --release --example bounded_memory [MIB]
//! ```

use courier::server::{Reply, Server};
use std::time::Instant;

/// Kilobytes of a /proc/self/status field (`VmRSS`, `VmHWM`); 0 where unavailable.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with(field))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mib: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1024);
    let total = mib * 1024 * 1024;
    let server = Server::builder()
        .route("/big", move |_req| async move {
            let (reply, mut body) = Reply::stream(200);
            tokio::spawn(async move {
                let chunk = courier::Bytes::from(vec![b'x'; 64 * 1024]);
                let mut sent = 0;
                while sent < total && body.send(chunk.clone()).await.is_ok() {
                    sent += chunk.len() as u64;
                }
            });
            reply.with_header("content-length", &total.to_string())
        })
        .start()
        .await
        .expect("start the server");
    let url = server.url("/big");

    let baseline = status_kib("VmRSS:");
    let started = Instant::now();
    let mut received = 0u64;
    let res = courier::get(&url)
        .on_body(|chunk, _| {
            received += chunk.len() as u64;
            true
        })
        .send()
        .await;
    let on_body_secs = started.elapsed().as_secs_f64();
    assert_eq!((res.status().as_u16(), received), (200, total), "{}", res.reason());

    let started = Instant::now();
    let mut res = courier::get(&url).send_streaming().await;
    let mut streamed = 0u64;
    while let Some(chunk) = res.chunk().await.expect("a chunk") {
        streamed += chunk.len() as u64;
    }
    let stream_secs = started.elapsed().as_secs_f64();
    assert_eq!(streamed, total);

    let peak = status_kib("VmHWM:");
    println!("downloaded {mib} MiB twice (on_body: {on_body_secs:.1} s, stream: {stream_secs:.1} s)");
    println!(
        "baseline RSS {} KiB, peak RSS {} KiB: {:.1} MiB above baseline (target: under 32 MiB)",
        baseline,
        peak,
        peak.saturating_sub(baseline) as f64 / 1024.0
    );
    server.shutdown().await;
}
