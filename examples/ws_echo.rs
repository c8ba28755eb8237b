//! A WebSocket echo server: every text and binary message comes back as it was sent.
//!
//! ```text
//! cargo run --example ws_echo                      # 127.0.0.1 on a free port
//! cargo run --example ws_echo -- --port 9001 --route
//! ```
//!
//! The first line printed is `listening on ws://HOST:PORT` (flushed, so a script can read
//! the port). By default each accepted TCP connection goes through
//! `WebSocketServer::establish` (any path is accepted); with `--route` the bundled HTTP
//! server answers, and its `/` route (any path walks up to it) upgrades the request with
//! `WebSocketServer::upgrade`. Messages may be up to 64 MiB (the Autobahn suite sends 16 MiB).
//!
//! Usage: `ws_echo [--host H] [--port P] [--route]` (defaults: 127.0.0.1, a free port).

use courier::server::{Request, Server};
use courier::ws::{Connection, Message, WebSocketServer};
use std::io::Write;

const USAGE: &str = "usage: ws_echo [--host H] [--port P] [--route]";
const MAX_MESSAGE: usize = 64 << 20;

struct Options {
    host: String,
    port: u16,
    route: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options { host: "127.0.0.1".into(), port: 0, route: false };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--route" => options.route = true,
            "--host" => options.host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let port = args.next().ok_or("--port needs a value")?;
                options.port = port.parse().map_err(|_| format!("--port: not a port number: {port}"))?;
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    Ok(Some(options))
}

/// Echoes until the client closes (or breaks the protocol, which closes with its code).
async fn echo(mut connection: Connection) {
    while let Some(message) = connection.recv().await {
        if let Message::Text(_) | Message::Binary(_) = message {
            if connection.send(message).await.is_err() {
                break;
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(message) => {
            eprintln!("ws_echo: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let ws = WebSocketServer::new().max_message_size(MAX_MESSAGE).max_frame_size(MAX_MESSAGE);
    if options.route {
        let server = Server::builder()
            .host(options.host.clone())
            .port(options.port)
            .route("", move |request: Request| {
                let ws = ws.clone();
                async move { ws.upgrade(&request, |connection, ()| echo(connection)) }
            })
            .start()
            .await?;
        announce(&options.host, server.local_addr().port());
        std::future::pending::<()>().await;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind((options.host.as_str(), options.port)).await?;
    announce(&options.host, listener.local_addr()?.port());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let ws = ws.clone();
        tokio::spawn(async move {
            match ws.establish(stream).await {
                Ok((connection, ())) => echo(connection).await,
                Err(error) => eprintln!("ws_echo: {error}"),
            }
        });
    }
}

fn announce(host: &str, port: u16) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on ws://{host}:{port}");
    let _ = out.flush();
}
