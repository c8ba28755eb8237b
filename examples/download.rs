//! A resumable download: the seed's download example, done carefully.
//!
//! ```text
//! cargo run --example download -- URL FILE [--attempts N]
//! ```
//!
//! Run it again after an interruption and it continues where it stopped (`Range`), checks
//! that the file did not change on the server meanwhile (`If-Range` / `If-Unmodified-Since`),
//! starts over when it did, and retries transient failures with growing pauses. On a
//! terminal it shows a progress bar. Exit status: 0 done, 1 permanent failure, 2 usage,
//! 3 retryable failure (attempts ran out: run it again later).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, file, attempts) = match args.as_slice() {
        [url, file] => (url, file, courier::DEFAULT_DOWNLOAD_ATTEMPTS),
        [url, file, flag, n] if flag == "--attempts" => match n.parse() {
            Ok(n) => (url, file, n),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let mut download = courier::Download::new(url.as_str(), file.as_str()).max_attempts(attempts);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    if let Some(bar) = bar.clone() {
        download = download.on_progress(move |progress| {
            if let Some(total) = progress.receive_total {
                bar.set_length(total);
            }
            bar.set_position(progress.received);
        });
    }
    let outcome = download.run().await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match outcome {
        Ok(done) if done.already_complete => {
            println!("{file}: already complete ({} bytes)", done.bytes);
            ExitCode::SUCCESS
        }
        Ok(done) => {
            println!("{file}: {} bytes in {} attempt(s)", done.bytes, done.attempts);
            ExitCode::SUCCESS
        }
        Err(failed) => {
            eprintln!("download: {failed}");
            ExitCode::from(if failed.retryable { 3 } else { 1 })
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: download URL FILE [--attempts N]");
    ExitCode::from(2)
}
