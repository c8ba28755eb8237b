//! The table: each scenario run for courier, reqwest and hyper-util in one process,
//! alternating clients round by round, against one raw server on the other CPU.

use crate::clients::{Kind, Peer, RawDownloader, RAW_READ_SIZE};
use crate::server::{self, RawServer, HELLO_BODY_LEN};
use crate::util::{self, Args};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Longest a single round (or warm-up) may take before the run is abandoned.
const ROUND_LIMIT: Duration = Duration::from_secs(120);

/// The pool size every scenario uses: courier's default per-host limit.
const PER_HOST: usize = courier::DEFAULT_MAX_PER_HOST;

/// How requests are issued in one round.
#[derive(Clone, Copy)]
enum Load {
    /// One task, one request after the other.
    Sequential,
    /// `tasks` tasks splitting the requests; with `gate`, reqwest and hyper requests wait
    /// on a `Semaphore(gate)` (courier queues on its own per-host limit instead).
    Parallel { tasks: usize, gate: Option<usize> },
}

struct Scenario {
    key: &'static str,
    title: &'static str,
    load: Load,
}

const REQUEST_SCENARIOS: [Scenario; 3] = [
    Scenario { key: "seq", title: "sequential GETs on one connection", load: Load::Sequential },
    Scenario {
        key: "4x4",
        title: "4 in flight over 4 connections",
        load: Load::Parallel { tasks: 4, gate: None },
    },
    Scenario {
        key: "64on4",
        title: "64 tasks sharing 4 connections",
        load: Load::Parallel { tasks: 64, gate: Some(PER_HOST) },
    },
];

const ALL_KEYS: [&str; 5] = ["seq", "4x4", "64on4", "download", "rss"];

struct Row {
    client: &'static str,
    values: Vec<f64>,
    /// The client thread's CPU time per unit of work, per round (empty: not measured).
    cpu: Vec<f64>,
    conns: usize,
}

pub fn compare(args: &Args) -> Result<(), String> {
    let quick = args.flag("quick");
    let rounds: usize = args.num("rounds", if quick { 3 } else { 7 })?;
    let n: usize = args.num("n", if quick { 2_000 } else { 20_000 })?;
    let download_mib: u64 = args.num("download-mib", if quick { 64 } else { 256 })?;
    let rss_rounds: usize = args.num("rss-rounds", if quick { 1 } else { 3 })?;
    let rss_requests: usize = args.num("rss-requests", 1_000)?;
    let rss_hosts: usize = args.num("rss-hosts", 250)?;
    let wanted: Vec<String> = match args.str("scenarios") {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => ALL_KEYS.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(bad) = wanted.iter().find(|k| !ALL_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown scenario {bad:?} (known: {})", ALL_KEYS.join(",")));
    }
    if rounds == 0 || n == 0 || !(1..=250).contains(&rss_hosts) {
        return Err("--rounds and --n must be positive, --rss-hosts 1..=250".into());
    }
    let want = |key: &str| wanted.iter().any(|k| k == key);

    util::raise_nofile();
    let pinned_client = util::pin_to_cpu(0);
    let hosts = if want("rss") { rss_hosts } else { 1 };
    let server = server::spawn_raw(hosts, 0, Some(1));
    println!(
        "peers compare: {} round(s), {n} requests per round, download {download_mib} MiB; client on CPU 0{}, \
         raw server on CPU 1 (port {}, {hosts} address(es)); current-thread runtimes",
        rounds,
        if pinned_client { "" } else { " (NOT pinned)" },
        server.port,
    );

    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned();
    println!("loadavg at start: {} (anything else busy on these 2 CPUs skews the figures)\n", loadavg());
    let rt = util::runtime();
    let mut failures = Vec::new();
    rt.block_on(async {
        for scenario in &REQUEST_SCENARIOS {
            if !want(scenario.key) {
                continue;
            }
            if let Err(error) = request_scenario(&server, scenario, rounds, n).await {
                failures.push(format!("{}: {error}", scenario.key));
            }
        }
        if want("download") {
            if let Err(error) = download_scenario(&server, rounds, download_mib << 20).await {
                failures.push(format!("download: {error}"));
            }
        }
    });
    drop(rt);
    if want("rss") {
        if let Err(error) = rss_scenario(&server, rss_rounds, rss_requests, rss_hosts) {
            failures.push(format!("rss: {error}"));
        }
    }
    println!("loadavg at end: {}", loadavg());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

async fn request_scenario(
    server: &RawServer,
    scenario: &Scenario,
    rounds: usize,
    n: usize,
) -> Result<(), String> {
    let url: Arc<str> = format!("http://127.0.0.1:{}/", server.port).into();
    let peers: Vec<(Kind, Peer)> = Kind::ALL.iter().map(|&k| (k, Peer::new(k, PER_HOST))).collect();
    let mut rows: Vec<Row> =
        Kind::ALL.iter().map(|k| Row { client: k.name(), values: vec![], cpu: vec![], conns: 0 }).collect();
    let warmup = (n / 10).max(scenario_tasks(scenario.load) * 4);
    for (i, (kind, peer)) in peers.iter().enumerate() {
        let before = server.accepted();
        timed(run_load(peer, *kind, &url, warmup, scenario.load))
            .await
            .map_err(|e| format!("warm-up: {e}"))?;
        rows[i].conns += server.accepted() - before;
    }
    for _round in 0..rounds {
        for (i, (kind, peer)) in peers.iter().enumerate() {
            let before = server.accepted();
            let cpu = util::thread_cpu_secs();
            let start = Instant::now();
            timed(run_load(peer, *kind, &url, n, scenario.load)).await?;
            let secs = start.elapsed().as_secs_f64();
            let cpu = util::thread_cpu_secs() - cpu;
            rows[i].conns += server.accepted() - before;
            rows[i].values.push(n as f64 / secs);
            rows[i].cpu.push(cpu * 1e6 / n as f64);
        }
    }
    let title = format!("{}: {} ({rounds} rounds x {n} GETs)", scenario.key, scenario.title);
    report(scenario.key, &title, "req/s", "cpu_us_per_req", &rows, &[("hyper", "ratio_vs_hyper")]);
    Ok(())
}

fn scenario_tasks(load: Load) -> usize {
    match load {
        Load::Sequential => 1,
        Load::Parallel { tasks, .. } => tasks,
    }
}

async fn timed<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(ROUND_LIMIT, work).await.map_err(|_| format!("round took over {ROUND_LIMIT:?}"))?
}

async fn run_load(peer: &Peer, kind: Kind, url: &Arc<str>, n: usize, load: Load) -> Result<(), String> {
    match load {
        Load::Sequential => {
            for _ in 0..n {
                check_len(peer.get(url).await?)?;
            }
            Ok(())
        }
        Load::Parallel { tasks, gate } => {
            let gate =
                gate.filter(|_| kind != Kind::Courier).map(|permits| Arc::new(Semaphore::new(permits)));
            let mut set = tokio::task::JoinSet::new();
            for t in 0..tasks {
                let share = n / tasks + usize::from(t < n % tasks);
                let (peer, url, gate) = (peer.clone(), url.clone(), gate.clone());
                set.spawn(async move {
                    for _ in 0..share {
                        let _permit = match &gate {
                            Some(gate) => Some(gate.acquire().await.map_err(|e| e.to_string())?),
                            None => None,
                        };
                        check_len(peer.get(&url).await?)?;
                    }
                    Ok::<(), String>(())
                });
            }
            while let Some(joined) = set.join_next().await {
                joined.map_err(|e| format!("task: {e}"))??;
            }
            Ok(())
        }
    }
}

fn check_len(len: usize) -> Result<(), String> {
    if len == HELLO_BODY_LEN {
        Ok(())
    } else {
        Err(format!("body of {len} bytes, expected {HELLO_BODY_LEN}"))
    }
}

async fn download_scenario(server: &RawServer, rounds: usize, size: u64) -> Result<(), String> {
    let path = if size == server::BIG { "/big".to_string() } else { format!("/bytes/{size}") };
    let url = format!("http://127.0.0.1:{}{path}", server.port);
    let addr = std::net::SocketAddr::from((server::host_ip(0), server.port));
    let peers: Vec<Peer> = Kind::ALL.iter().map(|&k| Peer::new(k, PER_HOST)).collect();
    let mut raw = RawDownloader::new(addr);
    let mut rows: Vec<Row> = std::iter::once("raw")
        .chain(Kind::ALL.iter().map(|k| k.name()))
        .map(|client| Row { client, values: vec![], cpu: vec![], conns: 0 })
        .collect();
    let warm_path = "/bytes/16777216";
    let warm_url = format!("http://127.0.0.1:{}{warm_path}", server.port);
    for round in 0..=rounds {
        let warm = round == 0;
        for (i, row) in rows.iter_mut().enumerate() {
            let before = server.accepted();
            let cpu = util::thread_cpu_secs();
            let start = Instant::now();
            let got = if i == 0 {
                timed(raw.download(if warm { warm_path } else { &path })).await?
            } else {
                timed(peers[i - 1].download(if warm { &warm_url } else { &url })).await?
            };
            let secs = start.elapsed().as_secs_f64();
            let cpu = util::thread_cpu_secs() - cpu;
            row.conns += server.accepted() - before;
            let expected = if warm { 16 << 20 } else { size };
            if got != expected {
                return Err(format!("{}: {got} bytes, expected {expected}", row.client));
            }
            if !warm {
                row.values.push(size as f64 / 1e6 / secs);
                row.cpu.push(cpu * 1e3 / (size as f64 / 1e9));
            }
        }
    }
    let title = format!(
        "download: {} MiB streamed, chunk by chunk ({rounds} rounds; raw = TcpStream read loop, {} KiB reads)",
        size >> 20,
        RAW_READ_SIZE >> 10
    );
    report(
        "download",
        &title,
        "MB/s",
        "cpu_ms_per_GB",
        &rows,
        &[("hyper", "ratio_vs_hyper"), ("raw", "ratio_vs_raw")],
    );
    Ok(())
}

/// Peak RSS: each client in a fresh child process (`peers rss`), several times, alternating.
fn rss_scenario(server: &RawServer, rounds: usize, requests: usize, hosts: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let clients = ["none", "courier", "reqwest", "hyper"];
    let mut rows: Vec<Row> =
        clients.iter().map(|&client| Row { client, values: vec![], cpu: vec![], conns: 0 }).collect();
    let mut bases: Vec<Vec<f64>> = vec![vec![]; clients.len()];
    for _round in 0..rounds {
        for (i, client) in clients.iter().enumerate() {
            let before = server.accepted();
            let output = std::process::Command::new(&exe)
                .args(["rss", "--client", client, "--port", &server.port.to_string()])
                .args(["--hosts", &hosts.to_string(), "--n", &requests.to_string()])
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| format!("spawning the child: {e}"))?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                return Err(format!("child for {client} failed ({}): {stdout}", output.status));
            }
            let field = |name: &str| -> Option<f64> {
                stdout
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            };
            let (Some(hwm), Some(base)) = (field("hwm_kb"), field("base_kb")) else {
                return Err(format!("child for {client} printed no figures: {stdout}"));
            };
            rows[i].values.push(hwm / 1024.0);
            bases[i].push(base / 1024.0);
            rows[i].conns += server.accepted() - before;
        }
    }
    let title = format!(
        "rss: {requests} concurrent GETs over {hosts} hosts, peak RSS (VmHWM) of a fresh process \
         ({rounds} round(s); none = runtime only; base = VmHWM at the child's start)"
    );
    report("rss", &title, "MB", "", &rows, &[("hyper", "ratio_vs_hyper")]);
    let none = util::median(&rows[0].values);
    for (i, row) in rows.iter().enumerate().skip(1) {
        let peak = util::median(&row.values);
        println!(
            "  {:<8} base {:>6.1} MB, peak - none {:>6.1} MB ({:.1} KB per request)",
            row.client,
            util::median(&bases[i]),
            peak - none,
            (peak - none) * 1024.0 / requests as f64
        );
    }
    println!();
    Ok(())
}

/// Prints the table and one `RESULT` line per client.
fn report(key: &str, title: &str, unit: &str, cpu_label: &str, rows: &[Row], ratios: &[(&str, &str)]) {
    let with_cpu = !cpu_label.is_empty();
    let cpu_medians: Vec<f64> = rows.iter().map(|r| util::median(&r.cpu)).collect();
    let medians: Vec<f64> = rows.iter().map(|r| util::median(&r.values)).collect();
    let reference = |name: &str| rows.iter().position(|r| r.client == name).map(|i| medians[i]);
    let mut out = String::new();
    let _ = writeln!(out, "== {title} ==");
    let _ = write!(out, "  {:<8} {:>12} {:>12} {:>12}", "client", format!("median {unit}"), "min", "max");
    for (name, _) in ratios {
        let _ = write!(out, " {:>9}", format!("vs {name}"));
    }
    let _ = write!(out, " {:>6}", "conns");
    if with_cpu {
        let _ = write!(out, " {:>14}", cpu_label);
    }
    let _ = writeln!(out);
    for (i, (row, median)) in rows.iter().zip(&medians).enumerate() {
        let _ = write!(
            out,
            "  {:<8} {:>12.1} {:>12.1} {:>12.1}",
            row.client,
            median,
            util::min(&row.values),
            util::max(&row.values)
        );
        for (name, _) in ratios {
            let ratio = reference(name).map(|r| median / r).unwrap_or(f64::NAN);
            let _ = write!(out, " {:>8.3}x", ratio);
        }
        let _ = write!(out, " {:>6}", row.conns);
        if with_cpu {
            let _ = write!(out, " {:>14.2}", cpu_medians[i]);
        }
        let _ = writeln!(out);
    }
    for (i, (row, median)) in rows.iter().zip(&medians).enumerate() {
        let _ = write!(
            out,
            "RESULT scenario={key} client={} unit={unit} median={median:.1} min={:.1} max={:.1} rounds={}",
            row.client,
            util::min(&row.values),
            util::max(&row.values),
            row.values.len()
        );
        for (name, label) in ratios {
            let ratio = reference(name).map(|r| median / r).unwrap_or(f64::NAN);
            let _ = write!(out, " {label}={ratio:.3}");
        }
        let _ = write!(out, " conns={}", row.conns);
        if with_cpu {
            let _ = write!(out, " {cpu_label}={:.2}", cpu_medians[i]);
        }
        let _ = writeln!(out);
    }
    if std::env::var_os("PEERS_VERBOSE").is_some() {
        for row in rows {
            let values: Vec<String> = row.values.iter().map(|v| format!("{v:.0}")).collect();
            let _ = writeln!(out, "ROUNDS scenario={key} client={} values={}", row.client, values.join(","));
        }
    }
    println!("{out}");
}

/// `peers rss`: the child of the RSS scenario; prints `hwm_kb=… base_kb=…`.
pub fn rss_child(args: &Args) -> Result<(), String> {
    let client = args.str("client").ok_or("--client NAME (none, courier, reqwest, hyper)")?;
    let port: u16 = args.num("port", 0)?;
    let hosts: usize = args.num("hosts", 250)?;
    let n: usize = args.num("n", 1_000)?;
    if port == 0 || !(1..=250).contains(&hosts) {
        return Err("--port P (the raw server's) and --hosts 1..=250 are needed".into());
    }
    // The process before the runtime and the client exist.
    let base = util::proc_status_kb("VmHWM");
    util::raise_nofile();
    util::pin_to_cpu(0);
    let kind = if client == "none" { None } else { Some(Kind::parse(client).ok_or("unknown client")?) };
    let rt = util::runtime();
    let ok = rt.block_on(async {
        let Some(kind) = kind else { return Ok(0) };
        let peer = Peer::new(kind, PER_HOST);
        let urls: Vec<Arc<str>> =
            (0..hosts).map(|h| format!("http://{}:{port}/", server::host_ip(h)).into()).collect();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            peer.spawn_get(&mut set, urls[i % hosts].clone());
        }
        let mut ok = 0;
        let work = async {
            while let Some(joined) = set.join_next().await {
                check_len(joined.map_err(|e| format!("task: {e}"))??)?;
                ok += 1;
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(ROUND_LIMIT, work).await.map_err(|_| "timed out".to_string())??;
        Ok::<usize, String>(ok)
    })?;
    let hwm = util::proc_status_kb("VmHWM");
    println!("RSS client={client} ok={ok} hwm_kb={hwm} base_kb={base}");
    Ok(())
}

/// `peers loop`: N sequential GETs on one connection, for callgrind.
pub fn run_loop(args: &Args) -> Result<(), String> {
    let client = args.str("client").ok_or("--client NAME (courier, reqwest, hyper)")?;
    let kind = Kind::parse(client).ok_or("unknown client")?;
    let n: usize = args.num("n", 10_000)?;
    let external: u16 = args.num("port", 0)?;
    let server = if external == 0 {
        util::pin_to_cpu(0);
        Some(server::spawn_raw(1, 0, Some(1)))
    } else {
        None
    };
    let port = server.as_ref().map_or(external, |s| s.port);
    let url: Arc<str> = format!("http://127.0.0.1:{port}/").into();
    let rt = util::runtime();
    let secs = rt.block_on(async {
        let peer = Peer::new(kind, PER_HOST);
        // One request first: connecting is in every run's count, so it cancels out.
        check_len(peer.get(&url).await?)?;
        let start = Instant::now();
        if args.flag("parsed") {
            let parsed = crate::clients::Parsed::new(&url)?;
            timed(async {
                for _ in 0..n {
                    check_len(peer.get_parsed(&parsed).await?)?;
                }
                Ok(())
            })
            .await?;
        } else {
            timed(run_load(&peer, kind, &url, n, Load::Sequential)).await?;
        }
        Ok::<f64, String>(start.elapsed().as_secs_f64())
    })?;
    let conns = server.as_ref().map_or("n/a (external server)".to_string(), |s| s.accepted().to_string());
    println!("LOOP client={client} n={n} secs={secs:.3} req_per_s={:.0} conns={conns}", n as f64 / secs);
    Ok(())
}
