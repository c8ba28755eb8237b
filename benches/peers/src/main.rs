//! `peers`: courier side by side with reqwest and hyper-util (see Cargo.toml).
//!
//! ```text
//! peers compare [--quick] [--rounds R] [--n N] [--download-mib M] [--scenarios seq,4x4,64on4,download,rss]
//!               [--rss-rounds R] [--rss-requests N] [--rss-hosts H]
//! peers loop --client courier|reqwest|hyper [--n N] [--port P] [--parsed]
//! peers rss --client none|courier|reqwest|hyper --port P [--hosts H] [--n N]
//! peers server [--port P] [--hosts H] [--max-seconds S]
//! peers hyper-server [--port P] [--max-seconds S]
//! peers courier-server [--port P] [--max-requests N] [--max-seconds S]
//! ```
//!
//! Servers print `listening on http://127.0.0.1:PORT` first (flushed); `--port 0` (the
//! default) takes a free port. Every server stops by itself after `--max-seconds`
//! (default 1800).

mod clients;
mod scenarios;
mod server;
mod util;

use util::Args;

const USAGE: &str = "usage: peers compare [--quick] [--rounds R] [--n N] [--download-mib M] \
[--scenarios seq,4x4,64on4,download,rss] [--rss-rounds R] [--rss-requests N] [--rss-hosts H]
       peers loop --client courier|reqwest|hyper [--n N] [--port P] [--parsed]
       peers rss --client none|courier|reqwest|hyper --port P [--hosts H] [--n N]
       peers server [--port P] [--hosts H] [--max-seconds S]
       peers hyper-server [--port P] [--max-seconds S]
       peers courier-server [--port P] [--max-requests N] [--max-seconds S]";

const DEFAULT_MAX_SECONDS: u64 = 1800;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let flags: &[&str] = match command.as_str() {
        "compare" => &["quick"],
        "loop" => &["parsed"],
        _ => &[],
    };
    let result = Args::parse(rest, flags).and_then(|args| match command.as_str() {
        "compare" => scenarios::compare(&args),
        "loop" => scenarios::run_loop(&args),
        "rss" => scenarios::rss_child(&args),
        "server" => {
            let hosts: usize = args.num("hosts", 1)?;
            if !(1..=250).contains(&hosts) {
                return Err("--hosts 1..=250".into());
            }
            server::run_raw_process(
                args.num("port", 0)?,
                hosts,
                args.seconds("max-seconds", DEFAULT_MAX_SECONDS)?,
            );
            Ok(())
        }
        "hyper-server" => {
            server::run_hyper_process(
                args.num("port", 0)?,
                args.seconds("max-seconds", DEFAULT_MAX_SECONDS)?,
            );
            Ok(())
        }
        "courier-server" => {
            let max_requests = match args.str("max-requests") {
                None => None,
                Some(_) => Some(args.num("max-requests", 0usize)?),
            };
            server::run_courier_process(
                args.num("port", 0)?,
                max_requests,
                args.seconds("max-seconds", DEFAULT_MAX_SECONDS)?,
            );
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    });
    if let Err(error) = result {
        eprintln!("peers {command}: {error}");
        std::process::exit(1);
    }
}
