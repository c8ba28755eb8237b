//! The README's side-by-side with reqwest, run for real: GET + JSON + `?`, a deadline, a
//! retry and default headers, against a bundled server on loopback that answers 503
//! once and wants an API key. `scripts/fresh_dependent.sh` builds this file as the
//! `main.rs` of a new crate that depends on courier, with the newest dependencies.
//!
//! ```sh
//! cargo run --example day_one
//! ```

use courier::http::{HeaderMap, HeaderValue};
use courier::server::{Reply, Server};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(serde::Deserialize)]
struct Ip {
    origin: String,
}

/// The README's courier column, line for line.
async fn fetch_ip(url: &str) -> Result<Ip, courier::Error> {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static("k3y"));
    let client = courier::Client::builder()
        .default_headers(headers)
        .deadline(Duration::from_secs(10))
        .retry(courier::Retry::new())
        .build()?;
    let ip: Ip = client.get(url).try_send().await?.error_for_status()?.json().await?;
    Ok(ip)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = Server::builder()
        .route("/ip", move |request| {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    Reply::text("warming up").with_status(503)
                } else if request.header("x-api-key").as_deref() != Some("k3y") {
                    Reply::text("who are you?").with_status(401)
                } else {
                    Reply::json_text(r#"{"origin":"127.0.0.1"}"#)
                }
            }
        })
        .start()
        .await?;

    let ip = fetch_ip(&server.url("/ip")).await?;
    println!("origin {} after {} requests (the 503 was retried)", ip.origin, calls.load(Ordering::SeqCst));
    assert_eq!((ip.origin.as_str(), calls.load(Ordering::SeqCst)), ("127.0.0.1", 2));
    server.shutdown().await;
    Ok(())
}
