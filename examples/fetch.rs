//! A small curl for trying courier by hand.
//!
//! ```text
//! cargo run --example fetch -- [OPTIONS] URL...
//!   -X METHOD          request method (default GET, or POST with -d)
//!   -H 'Name: value'   add a header (repeatable); 'Name:' with no value suppresses a default
//!   -d DATA            request body; @FILE reads it from a file
//!   --json DATA        JSON body (@FILE too) with Content-Type and Accept application/json
//!   -F name=value      multipart/form-data field (repeatable); name=@FILE uploads a file
//!                      (streamed from disk)
//!   -o FILE            write the body to FILE instead of stdout
//!   -i                 print the status line and headers before the body
//!   -I                 HEAD request; prints the status line and headers
//!   --max-redirs N     follow at most N redirects (default 10)
//!   -m SECS            the most the whole transfer may take, as curl's --max-time
//!                      (courier's deadline: connect, redirects and body included)
//!   --activity-timeout SECS
//!                      each connect, read and write must progress within this
//!                      (courier's timeout; default 300)
//!   --parallel N       keep N requests in flight (default 1: one after another)
//!   -v                 print connection events (connect, reuse, retry, idle, close) to stderr
//!   -k, --insecure     https without certificate checks (courier's Tls::Low)
//!   --cacert PEM       https trusting exactly the CA certificates in PEM
//!   -x, --proxy URL    proxy: http://, socks4://, socks4a://, socks5://, socks5h://
//!                      (user:pass@ allowed); default from http_proxy/https_proxy/all_proxy
//!   --noproxy LIST     hosts that go direct (comma-separated; `*` for all)
//!   -c, --cookie-jar F cookie jar file: loaded if present, saved (session cookies
//!                      dropped) after the last URL
//!   --session ID       only reuse connections made under this session id
//!   -u, --user U:P     Basic auth (`user` alone: an empty password); kept from other origins
//!   --resolve H:P:ADDR use ADDR for host H on port P (repeatable; [v6] in brackets)
//!   --compressed       ask for gzip, deflate, br or zstd and decode the body
//!   -C, --continue     resume into the -o file: Range from its size, validated, retried
//!                      (exit 95..99 when a retryable failure outlasts the attempts)
//! ```
//!
//! Several URLs are fetched on one client, so persistent connections are reused between
//! them. Each `-o` goes with the URL in the same position, as in curl; URLs without one
//! print to stdout.
//!
//! Exit status: 0 when every final status is below 400, 1 for 400..=589, and `status - 500`
//! (95..=99) for courier's pseudo-statuses, with the reason on stderr. With several URLs,
//! the first failing URL decides.

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the command line asked for.
struct Args {
    method: Option<String>,
    headers: Vec<(String, Option<String>)>,
    data: Option<Vec<u8>>,
    /// `--json DATA`: a JSON body.
    json: Option<Vec<u8>>,
    /// `-F name=value` / `-F name=@file`: multipart fields, in order.
    form: Vec<(String, String)>,
    /// `--resolve host:port:addr`: fixed addresses.
    resolve: Vec<(String, u16, std::net::SocketAddr)>,
    /// `--compressed`: Accept-Encoding, and decoding.
    compressed: bool,
    outputs: Vec<String>,
    include_head: bool,
    head_only: bool,
    max_redirects: Option<u32>,
    timeout: Option<Duration>,
    deadline: Option<Duration>,
    parallel: usize,
    verbose: bool,
    /// `-k`: no certificate checks (`Tls::Low`).
    insecure: bool,
    /// `--cacert PEM`: trust exactly these roots.
    ca_file: Option<String>,
    /// `-x URL`: the proxy (else the environment's).
    proxy: Option<String>,
    /// `--noproxy LIST`: hosts that bypass the proxy (`*`: all).
    no_proxy: Option<String>,
    /// `-c FILE`: the cookie jar, loaded if present and saved afterwards.
    cookie_jar: Option<String>,
    /// `--session ID`: only connections made under this id are reused.
    session: Option<String>,
    /// `-u user:password`: Basic auth.
    user: Option<String>,
    /// `-C`: resume into the `-o` file (the library's `Download`).
    resume: bool,
    urls: Vec<String>,
}

const USAGE: &str = "usage: fetch [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE] [-o FILE]... [-i] [-I] \
                     [--max-redirs N] [-m SECS] [--activity-timeout SECS] [--parallel N] [-v] [-k] [--cacert PEM] [-x PROXY] [--noproxy LIST] [-c FILE] [--session ID] [-u USER:PASS] [--json DATA] [-F NAME=VALUE]... [--resolve HOST:PORT:ADDR]... [--compressed] [-C] URL...";

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        method: None,
        headers: Vec::new(),
        data: None,
        json: None,
        form: Vec::new(),
        resolve: Vec::new(),
        compressed: false,
        outputs: Vec::new(),
        include_head: false,
        head_only: false,
        max_redirects: None,
        timeout: None,
        deadline: None,
        parallel: 1,
        verbose: false,
        insecure: false,
        ca_file: None,
        proxy: None,
        no_proxy: None,
        cookie_jar: None,
        session: None,
        user: None,
        resume: false,
        urls: Vec::new(),
    };
    while let Some(arg) = argv.next() {
        let mut value = |flag: &str| argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-X" | "--request" => args.method = Some(value("-X")?),
            "-H" | "--header" => {
                let header = value("-H")?;
                let (name, rest) =
                    header.split_once(':').ok_or_else(|| format!("-H {header:?}: expected 'Name: value'"))?;
                let rest = rest.trim();
                // curl's convention: "Name:" with nothing after it removes a default header.
                let value = (!rest.is_empty()).then(|| rest.to_owned());
                args.headers.push((name.trim().to_owned(), value));
            }
            "-d" | "--data" => {
                let data = value("-d")?;
                args.data = Some(match data.strip_prefix('@') {
                    Some(path) => std::fs::read(path).map_err(|e| format!("-d @{path}: {e}"))?,
                    None => data.into_bytes(),
                });
            }
            "--json" => {
                let data = value("--json")?;
                args.json = Some(match data.strip_prefix('@') {
                    Some(path) => std::fs::read(path).map_err(|e| format!("--json @{path}: {e}"))?,
                    None => data.into_bytes(),
                });
            }
            "-F" | "--form" => {
                let field = value("-F")?;
                let (name, content) =
                    field.split_once('=').ok_or(format!("-F {field:?}: expected name=value"))?;
                args.form.push((name.to_owned(), content.to_owned()));
            }
            "--resolve" => {
                let entry = value("--resolve")?;
                args.resolve.push(
                    parse_resolve(&entry)
                        .ok_or(format!("--resolve {entry:?}: expected host:port:address"))?,
                );
            }
            "--compressed" => args.compressed = true,
            "-o" | "--output" => args.outputs.push(value("-o")?),
            "-i" | "--include" => args.include_head = true,
            "-I" | "--head" => args.head_only = true,
            "--max-redirs" => {
                let n = value("--max-redirs")?;
                args.max_redirects =
                    Some(n.parse().map_err(|_| format!("--max-redirs {n:?}: not a number"))?);
            }
            "-m" | "--max-time" => args.deadline = Some(seconds("-m", &value("-m")?)?),
            "--activity-timeout" => {
                args.timeout = Some(seconds("--activity-timeout", &value("--activity-timeout")?)?);
            }
            "--parallel" => {
                let n = value("--parallel")?;
                let parsed = n.parse().ok().filter(|&n: &usize| n > 0);
                args.parallel =
                    parsed.ok_or_else(|| format!("--parallel {n:?}: expected a positive number"))?;
            }
            "-v" | "--verbose" => args.verbose = true,
            "-k" | "--insecure" => args.insecure = true,
            "--cacert" => args.ca_file = Some(value("--cacert")?),
            "-x" | "--proxy" => args.proxy = Some(value("-x")?),
            "--noproxy" => args.no_proxy = Some(value("--noproxy")?),
            "-c" | "--cookie-jar" => args.cookie_jar = Some(value("-c")?),
            "--session" => args.session = Some(value("--session")?),
            "-u" | "--user" => args.user = Some(value("-u")?),
            "-C" | "--continue" => args.resume = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option {flag}\n{USAGE}"))
            }
            _ => args.urls.push(arg),
        }
    }
    if args.urls.is_empty() {
        return Err(USAGE.to_owned());
    }
    if args.outputs.len() > args.urls.len() {
        return Err(format!("{} -o options for {} URLs\n{USAGE}", args.outputs.len(), args.urls.len()));
    }
    Ok(args)
}

/// `SECS` as a duration of at least a millisecond (fractions allowed, as curl's).
fn seconds(flag: &str, secs: &str) -> Result<Duration, String> {
    let parsed = secs.parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok());
    match parsed {
        Some(duration) if duration >= Duration::from_millis(1) => Ok(duration),
        _ => Err(format!("{flag} {secs:?}: expected seconds, at least 0.001")),
    }
}

fn lock(sink: &Mutex<Sink>) -> std::sync::MutexGuard<'_, Sink> {
    sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `-C`: the resumable download into the URL's `-o` file.
async fn resume(client: &courier::Client, url: &str, output: Option<&String>) -> u8 {
    let Some(path) = output else {
        eprintln!("fetch: -C needs -o FILE for {url}");
        return 2;
    };
    match courier::Download::new(url, path).client(client).run().await {
        Ok(_) => 0,
        Err(failed) => {
            eprintln!("fetch: {failed}");
            match failed.status {
                status @ 595..=599 => (status - 500) as u8,
                _ => 1,
            }
        }
    }
}

/// Where one response's output goes.
enum Sink {
    /// Straight to stdout as it arrives.
    Stdout,
    /// To the `-o` file as it arrives (the head, if asked for, still goes to stdout).
    File(File),
    /// Collected, then printed whole (parallel runs).
    Buffer(Vec<u8>),
}

impl Sink {
    fn head(&mut self, text: &str) {
        match self {
            Self::Buffer(buffer) => buffer.extend_from_slice(text.as_bytes()),
            Self::Stdout | Self::File(_) => print!("{text}"),
        }
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Stdout => std::io::stdout().write_all(chunk),
            Self::File(file) => file.write_all(chunk),
            Self::Buffer(buffer) => {
                buffer.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Stdout => std::io::stdout().flush(),
            Self::File(mut file) => file.flush(),
            Self::Buffer(buffer) => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&buffer)?;
                stdout.flush()
            }
        }
    }
}

/// The status line and header fields, as curl -i prints them (except that repeats of one
/// name print together: the response keeps headers in a `HeaderMap`).
fn head_text(res: &courier::Response) -> String {
    let version = match res.version() {
        Some(courier::Version::HTTP_10) => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let mut text = format!("{version} {} {}\r\n", res.status().as_u16(), res.reason());
    for (name, value) in res.headers() {
        text.push_str(&format!("{name}: {}\r\n", String::from_utf8_lossy(value.as_bytes())));
    }
    text.push_str("\r\n");
    text
}

/// `host:port:address` (curl's `--resolve`); the address may be `[v6]`.
fn parse_resolve(entry: &str) -> Option<(String, u16, std::net::SocketAddr)> {
    let (host, rest) = entry.split_once(':')?;
    let (port, address) = rest.split_once(':')?;
    let port: u16 = port.parse().ok()?;
    let address = address.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = address.parse().ok()?;
    Some((host.to_owned(), port, (ip, port).into()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => Arc::new(args),
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut builder = courier::Client::builder();
    let proxy = match &args.proxy {
        Some(url) => match courier::Proxy::new(url) {
            Ok(proxy) => proxy,
            Err(e) => {
                eprintln!("fetch: -x: {e}");
                return ExitCode::from(2);
            }
        },
        None => courier::Proxy::from_env(),
    };
    builder = builder.proxy(match &args.no_proxy {
        Some(list) => proxy.with_no_proxy(list),
        None => proxy,
    });
    #[cfg(feature = "cookies")]
    let jar = match &args.cookie_jar {
        Some(path) => match courier::CookieJar::load_file(path) {
            Ok(jar) => {
                builder = builder.cookie_jar(&jar);
                Some((jar, path.clone()))
            }
            Err(e) => {
                eprintln!("fetch: -c {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    #[cfg(not(feature = "cookies"))]
    if args.cookie_jar.is_some() {
        eprintln!("fetch: -c needs courier's `cookies` feature");
        return ExitCode::from(2);
    }
    #[cfg(feature = "tls")]
    if args.insecure {
        builder = builder.tls(courier::tls::Tls::Low);
    } else if let Some(path) = &args.ca_file {
        match courier::tls::Tls::with_roots_pem(path) {
            Ok(tls) => builder = builder.tls(tls),
            Err(e) => {
                eprintln!("fetch: --cacert {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    #[cfg(not(feature = "tls"))]
    if args.insecure || args.ca_file.is_some() {
        eprintln!("fetch: -k and --cacert need courier's `tls` feature");
        return ExitCode::from(2);
    }
    if args.verbose {
        builder = builder.on_connection_event(|event| eprintln!("* {event}"));
    }
    for (host, port, address) in &args.resolve {
        builder = builder.resolve(host, *port, [*address]);
    }
    #[cfg(feature = "decompress")]
    {
        builder = builder.decompress(args.compressed);
    }
    #[cfg(not(feature = "decompress"))]
    if args.compressed {
        eprintln!("fetch: --compressed needs courier's `decompress` feature");
        return ExitCode::from(2);
    }
    let client = builder.build().unwrap_or_else(|_| unreachable!("the default user agent is valid"));

    // Fetch in URL order, keeping at most `--parallel` in flight; the first failing URL
    // (in URL order) decides the exit status.
    let mut codes = vec![0u8; args.urls.len()];
    let mut running = tokio::task::JoinSet::new();
    for index in 0..args.urls.len() {
        if running.len() == args.parallel {
            if let Some(Ok((done, code))) = running.join_next().await {
                codes[done] = code;
            }
        }
        let (client, args) = (client.clone(), args.clone());
        running.spawn(async move { (index, fetch_one(&client, &args, index).await) });
    }
    while let Some(joined) = running.join_next().await {
        if let Ok((done, code)) = joined {
            codes[done] = code;
        }
    }
    // The seed's advice: expire session cookies before saving a jar for later.
    #[cfg(feature = "cookies")]
    if let Some((jar, path)) = jar {
        jar.expire(true);
        if let Err(e) = jar.save_file(&path) {
            eprintln!("fetch: -c {path}: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::from(codes.into_iter().find(|&code| code != 0).unwrap_or(0))
}

/// Fetches `args.urls[index]`, writing its body to its `-o` file or stdout; returns the
/// exit code for it.
async fn fetch_one(client: &courier::Client, args: &Args, index: usize) -> u8 {
    let url = &args.urls[index];
    if args.resume {
        return resume(client, url, args.outputs.get(index)).await;
    }
    let sink = match args.outputs.get(index) {
        Some(path) => match File::create(path) {
            Ok(file) => Sink::File(file),
            Err(e) => {
                eprintln!("fetch: -o {path}: {e}");
                return 2;
            }
        },
        // With several requests in flight, a stdout response is printed whole when it is
        // done, so bodies never interleave.
        None if args.parallel > 1 => Sink::Buffer(Vec::new()),
        None => Sink::Stdout,
    };
    let has_body = args.data.is_some() || args.json.is_some() || !args.form.is_empty();
    let method = match (&args.method, args.head_only, has_body) {
        (Some(method), _, _) => method.clone(),
        (None, true, _) => "HEAD".to_owned(),
        (None, false, true) => "POST".to_owned(),
        (None, false, false) => "GET".to_owned(),
    };
    let mut request = client.request(&method, url);
    if let Some(session) = &args.session {
        request = request.session_id(session);
    }
    if let Some(user) = &args.user {
        let (name, password) = user.split_once(':').unwrap_or((user, ""));
        request = request.basic_auth(name, Some(password));
    }
    for (name, value) in &args.headers {
        request = match value {
            Some(value) => request.header(name, value),
            None => request.remove_header(name),
        };
    }
    if let Some(data) = args.data.clone() {
        request = request.body(data);
    }
    if let Some(json) = args.json.clone() {
        request = request
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(json);
    }
    if !args.form.is_empty() {
        let mut form = courier::Multipart::new();
        for (name, content) in &args.form {
            form = match content.strip_prefix('@') {
                // curl's `@FILE;type=TYPE;filename=NAME`.
                Some(spec) => match file_part(form, name, spec).await {
                    Ok(form) => form,
                    Err(e) => {
                        eprintln!("fetch: -F {name}=@{spec}: {e}");
                        return 2;
                    }
                },
                None => form.text(name, content.clone()),
            };
        }
        request = request.multipart(form);
    }
    if let Some(n) = args.max_redirects {
        request = request.recurse(n);
    }
    if let Some(timeout) = args.timeout {
        request = request.timeout(timeout);
    }
    if let Some(deadline) = args.deadline {
        request = request.deadline(deadline);
    }

    // The head goes out before the body when asked; the body streams to the sink as it
    // arrives, so large downloads never sit in memory.
    // Both callbacks write to the sink; a mutex lets them share it (uncontended).
    let show_head = args.include_head || args.head_only;
    let sink = Mutex::new(sink);
    let mut write_failed = None;
    let res = request
        .on_header(|res| {
            if show_head {
                lock(&sink).head(&head_text(res));
            }
            true
        })
        .on_body(|chunk, _res| match lock(&sink).write(chunk) {
            Ok(()) => true,
            Err(e) => {
                write_failed = Some(e);
                false
            }
        })
        .send()
        .await;
    let sink = sink.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(e) = sink.finish() {
        write_failed.get_or_insert(e);
    }

    let status = res.status().as_u16();
    if let Some(e) = write_failed {
        eprintln!("fetch: writing the body of {url} failed: {e}");
    }
    if res.is_error() {
        eprintln!("fetch: {status} {}", res.reason());
        if let Some(orig) = res.orig_status() {
            eprintln!(
                "fetch: (the server had answered {} {})",
                orig.as_u16(),
                res.orig_reason().unwrap_or("")
            );
        }
    }
    // 95..99 only for courier's own failures: a server may really answer 597.
    match status {
        595..=599 if res.is_error() => (status - 500) as u8,
        0..=399 => 0,
        _ => 1,
    }
}

/// Adds `-F name=@FILE[;type=TYPE][;filename=NAME]` to `form`, as curl reads it.
async fn file_part(form: courier::Multipart, name: &str, spec: &str) -> std::io::Result<courier::Multipart> {
    let mut parts = spec.split(';');
    let path = parts.next().unwrap_or_default();
    let (mut content_type, mut file_name) = (None, None);
    for part in parts {
        match part.split_once('=') {
            Some(("type", value)) => content_type = Some(value),
            Some(("filename", value)) => file_name = Some(value),
            _ => {}
        }
    }
    form.file(name, path, file_name, content_type).await
}
