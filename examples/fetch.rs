//! A small curl for trying courier by hand.
//!
//! ```text
//! cargo run --example fetch -- [OPTIONS] URL
//!   -X METHOD          request method (default GET, or POST with -d)
//!   -H 'Name: value'   add a header (repeatable); 'Name:' with no value suppresses a default
//!   -d DATA            request body; @FILE reads it from a file
//!   -o FILE            write the body to FILE instead of stdout
//!   -i                 print the status line and headers before the body
//!   -I                 HEAD request; prints the status line and headers
//!   --max-redirs N     follow at most N redirects (default 10)
//!   -m SECS            activity timeout in seconds (default 300)
//! ```
//!
//! Exit status: 0 when the final status is below 400, 1 for 400..=589, and `status - 500`
//! (95..=99) for courier's pseudo-statuses, with the reason on stderr.

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// What the command line asked for.
struct Args {
    method: Option<String>,
    headers: Vec<(String, Option<String>)>,
    data: Option<Vec<u8>>,
    output: Option<String>,
    include_head: bool,
    head_only: bool,
    max_redirects: Option<u32>,
    timeout: Option<Duration>,
    url: String,
}

const USAGE: &str = "usage: fetch [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE] [-o FILE] [-i] [-I] \
                     [--max-redirs N] [-m SECS] URL";

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        method: None,
        headers: Vec::new(),
        data: None,
        output: None,
        include_head: false,
        head_only: false,
        max_redirects: None,
        timeout: None,
        url: String::new(),
    };
    let mut url = None;
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
            "-o" | "--output" => args.output = Some(value("-o")?),
            "-i" | "--include" => args.include_head = true,
            "-I" | "--head" => args.head_only = true,
            "--max-redirs" => {
                let n = value("--max-redirs")?;
                args.max_redirects =
                    Some(n.parse().map_err(|_| format!("--max-redirs {n:?}: not a number"))?);
            }
            "-m" | "--max-time" => {
                let secs = value("-m")?;
                let parsed = secs.parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok());
                match parsed {
                    Some(timeout) if timeout >= Duration::from_millis(1) => args.timeout = Some(timeout),
                    _ => return Err(format!("-m {secs:?}: expected seconds, at least 0.001")),
                }
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option {flag}\n{USAGE}"))
            }
            _ if url.is_some() => return Err(format!("only one URL, please\n{USAGE}")),
            _ => url = Some(arg),
        }
    }
    args.url = url.ok_or_else(|| USAGE.to_owned())?;
    Ok(args)
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut sink: Box<dyn Write + Send> = match &args.output {
        Some(path) => match File::create(path) {
            Ok(file) => Box::new(file),
            Err(e) => {
                eprintln!("fetch: -o {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => Box::new(std::io::stdout()),
    };
    let method = match (&args.method, args.head_only, &args.data) {
        (Some(method), _, _) => method.clone(),
        (None, true, _) => "HEAD".to_owned(),
        (None, false, Some(_)) => "POST".to_owned(),
        (None, false, None) => "GET".to_owned(),
    };
    let mut request = courier::request(&method, &args.url);
    for (name, value) in &args.headers {
        request = match value {
            Some(value) => request.header(name, value),
            None => request.remove_header(name),
        };
    }
    if let Some(data) = args.data.clone() {
        request = request.body(data);
    }
    if let Some(n) = args.max_redirects {
        request = request.recurse(n);
    }
    if let Some(timeout) = args.timeout {
        request = request.timeout(timeout);
    }

    // The head goes to stdout before the body when asked; the body streams to the sink
    // as it arrives, so large downloads never sit in memory.
    let show_head = args.include_head || args.head_only;
    let mut write_failed = None;
    let res = request
        .on_header(|res| {
            if show_head {
                print!("{}", head_text(res));
            }
            true
        })
        .on_body(|chunk, _res| match sink.write_all(chunk) {
            Ok(()) => true,
            Err(e) => {
                write_failed = Some(e);
                false
            }
        })
        .send()
        .await;
    let _ = sink.flush();

    let status = res.status().as_u16();
    if let Some(e) = write_failed {
        eprintln!("fetch: writing the body failed: {e}");
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
        595..=599 if res.is_error() => ExitCode::from((status - 500) as u8),
        0..=399 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}
