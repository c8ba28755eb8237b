//! Serves a directory over HTTP with the bundled server's file semantics: HEAD, ETag and
//! Last-Modified, conditional requests, byte ranges, directory index.html, and no way out
//! of the root.
//!
//! ```text
//! cargo run --example serve -- [--host H] [--port P] [--root DIR] [--tls-cert PEM --tls-key PEM]
//! ```
//!
//! The first line printed is `listening on http://H:P` (the real port when `--port 0`);
//! then it serves until the process is interrupted.

// Built only with the `server` feature (see `required-features` in Cargo.toml).
mod serve {
    use courier::server::{serve_dir, Server};
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::ExitCode;

    const USAGE: &str = "usage: serve [--host H] [--port P] [--root DIR] [--tls-cert PEM --tls-key PEM]\n\
         \n\
         Serves DIR (default .) on H:P (default 127.0.0.1:8000; port 0 picks a free one).";

    /// What the command line asked for.
    #[derive(Debug)]
    struct Args {
        host: String,
        port: u16,
        root: PathBuf,
        tls_cert: Option<String>,
        tls_key: Option<String>,
    }

    /// Parses the arguments; `Err` holds the message for a usage error.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
        let mut parsed = Args {
            host: "127.0.0.1".into(),
            port: 8000,
            root: PathBuf::from("."),
            tls_cert: None,
            tls_key: None,
        };
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(None);
            }
            // Both `--port 8080` and `--port=8080`.
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
                _ => (arg, None),
            };
            let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--host" => parsed.host = value()?,
                "--port" => {
                    let text = value()?;
                    parsed.port =
                        text.parse().map_err(|_| format!("--port: {text:?} is not a port number"))?;
                }
                "--root" => parsed.root = PathBuf::from(value()?),
                "--tls-cert" => parsed.tls_cert = Some(value()?),
                "--tls-key" => parsed.tls_key = Some(value()?),
                _ => return Err(format!("unknown argument {flag:?}")),
            }
        }
        Ok(Some(parsed))
    }

    pub async fn main() -> ExitCode {
        let args = match parse(std::env::args().skip(1)) {
            Ok(Some(args)) => args,
            Ok(None) => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Err(message) => {
                eprintln!("serve: {message}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        // No request log: it is the test kit's, and a long-running file server that
        // nobody inspects would only hold requests (and bodies) for nothing.
        let mut builder = Server::builder().host(&args.host).port(args.port).record_limit(0);
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => match courier::tls::server_config_from_pem(cert, key) {
                Ok(config) => builder = builder.tls(config),
                Err(error) => {
                    eprintln!("serve: TLS: {error}");
                    return ExitCode::from(2);
                }
            },
            (None, None) => {}
            _ => {
                eprintln!("serve: --tls-cert and --tls-key go together\n{USAGE}");
                return ExitCode::from(2);
            }
        }
        if !args.root.is_dir() {
            eprintln!("serve: --root {}: not a directory", args.root.display());
            return ExitCode::from(2);
        }
        let server = match builder.route("/", serve_dir(&args.root)).start().await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("serve: cannot listen on {}:{}: {error}", args.host, args.port);
                return ExitCode::from(1);
            }
        };
        let mut stdout = std::io::stdout();
        // The first line, flushed at once: scripts wait for it to learn the port.
        let _ = writeln!(stdout, "listening on {}", server.url(""));
        let _ = stdout.flush();
        // Serve until the process is interrupted (tokio's `signal` feature is not enabled,
        // so Ctrl-C simply ends the process).
        std::future::pending::<()>().await;
        drop(server);
        ExitCode::SUCCESS
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    serve::main().await
}
