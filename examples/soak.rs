//! A fault soak: the client against bundled servers on several loopback hosts that answer
//! with random faults (resets, early closes, stalls, slow trickles, malformed replies,
//! wrong lengths, late heads). At the end every request must have completed with a
//! success or a pseudo-status within its deadline, the pool must hold nothing, and file
//! descriptors must be back to where they started.
//!
//! ```text
//! cargo run --release --example soak                 # 3,000 requests over 8 hosts
//! cargo run --release --example soak -- --requests 20000 --hosts 16 --seed 7
//! ```
//!
//! Prints the counts by outcome and exits 1 on any hang or leak. Deterministic for a seed
//! (which fault each request meets), bounded in count and time, loopback only.

use courier::server::{Fault, Reply, Request, Server};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The client's activity timeout: a stalled reply ends in a pseudo-status after this.
const TIMEOUT: Duration = Duration::from_millis(400);
/// A request that has not completed after this counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(5);
/// Requests in flight at once.
const IN_FLIGHT: usize = 48;

struct Options {
    requests: usize,
    hosts: u8,
    seed: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options { requests: 3000, hosts: 8, seed: 1 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--requests" => options.requests = value()?.parse().map_err(|e| format!("--requests: {e}"))?,
            "--hosts" => options.hosts = value()?.parse().map_err(|e| format!("--hosts: {e}"))?,
            "--seed" => options.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            _ => {
                return Err(format!(
                    "unknown argument {arg}\nusage: soak [--requests N] [--hosts H] [--seed S]"
                ))
            }
        }
    }
    if options.hosts == 0 || options.hosts > 200 {
        return Err("--hosts must be 1..=200".into());
    }
    Ok(options)
}

/// xorshift64*: the fault for request `n` under `seed`, reproducibly.
fn random(seed: u64, n: u64) -> u64 {
    let mut x =
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n.wrapping_add(1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// The reply for a request whose query is `r=<random>`.
fn reply_for(request: Request) -> Reply {
    let roll: u64 = request.query_param("r").and_then(|r| r.parse().ok()).unwrap_or(0);
    let body = "x".repeat((roll % 2000) as usize);
    match roll % 12 {
        0 => Reply::text(body).with_fault(Fault::Reset),
        1 => Reply::text(body).with_fault(Fault::CloseAfter((roll % 60) as usize)),
        2 => Reply::text(body).with_fault(Fault::Stall),
        3 => Reply::text(body).with_fault(Fault::Trickle { bytes: 64, every: Duration::from_millis(1) }),
        4 => Reply::text(body).with_fault(Fault::Raw("HTTP/1.1 2x0 Nope\r\n\r\n".into())),
        5 => Reply::text(body).with_fault(Fault::WrongContentLength(roll % 5000)),
        6 => Reply::text(body).with_fault(Fault::DelayHead(Duration::from_millis(roll % 800))),
        7 => Reply::text(body)
            .with_fault(Fault::Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into())),
        _ => Reply::text(body),
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|dir| dir.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("soak: {message}");
            return ExitCode::from(2);
        }
    };
    let fds_before = open_fds();
    let rss_before = rss_kib();
    let started = Instant::now();

    let mut servers = Vec::new();
    for host in 1..=options.hosts {
        let server = Server::builder()
            .host(format!("127.0.0.{host}"))
            .record_limit(0)
            .route("", |request| async move { reply_for(request) })
            .start()
            .await;
        match server {
            Ok(server) => servers.push(server),
            Err(e) => {
                eprintln!("soak: cannot start a server on 127.0.0.{host}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let urls: Vec<String> = servers.iter().map(|server| server.url("/")).collect();
    let client = courier::Client::builder()
        .timeout(TIMEOUT)
        .proxy(courier::Proxy::none())
        .build()
        .expect("a valid client");

    // Two rounds of the same load: memory after the second must be where the first left
    // it (the first round grows the allocator's and runtime's caches once).
    let seed = options.seed;
    let mut outcomes: Vec<Option<u16>> = Vec::with_capacity(options.requests * 2);
    let mut rss_rounds = Vec::new();
    for round in 0..2u64 {
        let offset = round * options.requests as u64;
        let round_outcomes: Vec<Option<u16>> =
            futures_util::stream::iter(offset..offset + options.requests as u64)
                .map(|n| {
                    let roll = random(seed, n);
                    let url = format!("{}?r={roll}", urls[(roll % urls.len() as u64) as usize]);
                    let client = client.clone();
                    async move {
                        let request = client.get(url).send();
                        tokio::time::timeout(HANG_LIMIT, request).await.ok().map(|res| res.status().as_u16())
                    }
                })
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
        outcomes.extend(round_outcomes);
        rss_rounds.push(rss_kib());
    }

    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut hung = 0;
    let mut odd = 0;
    for outcome in &outcomes {
        let label = match outcome {
            None => {
                hung += 1;
                "hung".to_owned()
            }
            Some(200) => "200".to_owned(),
            Some(status @ 595..=599) => status.to_string(),
            Some(status) => {
                odd += 1;
                format!("{status} (unexpected)")
            }
        };
        *by_outcome.entry(label).or_default() += 1;
    }
    let stats = client.pool_stats();
    let busy = stats.active + stats.queued;

    drop(client);
    for server in servers {
        server.shutdown().await;
    }
    // Let the runtime drop what the closed client and servers left behind.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    let fds_after = open_fds();
    let rss_after = rss_kib();

    println!(
        "soak: 2 rounds of {} requests over {} hosts, seed {}, {:.1} s",
        options.requests,
        options.hosts,
        seed,
        started.elapsed().as_secs_f64()
    );
    for (outcome, count) in &by_outcome {
        println!("  {outcome:>16}: {count}");
    }
    println!("  pool after the run: {} active, {} queued, {} idle", stats.active, stats.queued, stats.idle);
    println!("  file descriptors: {fds_before} before, {fds_after} after");
    println!(
        "  RSS: {rss_before} KiB at start, {} KiB after round 1, {} KiB after round 2, {rss_after} KiB at the end",
        rss_rounds[0], rss_rounds[1]
    );
    let leaked_fds = fds_after.saturating_sub(fds_before);
    // Round 2 may not keep more than round 1 did (1 MiB of slack for allocator noise).
    let grew = rss_rounds[1].saturating_sub(rss_rounds[0]) > 1024;
    let failed = hung > 0 || odd > 0 || busy > 0 || leaked_fds > 0 || grew;
    println!(
        "soak: {}",
        if failed {
            format!("FAILED ({hung} hung, {odd} unexpected, {busy} slots held, {leaked_fds} fds leaked, memory grew: {grew})")
        } else {
            "ok".into()
        }
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
