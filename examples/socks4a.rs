//! The seed's SOCKS4a example, rebuilt: a custom connector (AnyEvent::HTTP's `tcp_connect`
//! hook) that speaks SOCKS4a itself, used for one request.
//!
//! ```text
//! cargo run --example socks4a -- PROXY_HOST:PORT URL [USER]
//! ```
//!
//! courier supports SOCKS proxies directly (`Proxy::new("socks4a://host:port")`); this
//! example shows the hook instead: the connector gets the request's target, makes the
//! connection however it likes, and hands back a stream that courier then treats exactly
//! like one of its own (TLS for https included).

use courier::Target;
use std::io;
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects to `target` through the SOCKS4a proxy at `proxy`: the proxy resolves the name.
async fn socks4a_connect(proxy: String, user: String, target: Target) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(&proxy).await?;
    // VN=4, CD=1 (connect), DSTPORT, DSTIP=0.0.0.1 (4a: "the name follows"), USERID, NUL,
    // host name, NUL.
    let mut request = vec![4, 1];
    request.extend_from_slice(&target.port.to_be_bytes());
    request.extend_from_slice(&[0, 0, 0, 1]);
    request.extend_from_slice(user.as_bytes());
    request.push(0);
    request.extend_from_slice(target.host.as_bytes());
    request.push(0);
    stream.write_all(&request).await?;
    let mut reply = [0u8; 8];
    stream.read_exact(&mut reply).await?;
    match reply[1] {
        0x5a => Ok(stream),
        code => Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("SOCKS4a proxy refused: code {code:#x}"),
        )),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (proxy, url, user) = match args.as_slice() {
        [proxy, url] => (proxy.clone(), url.clone(), String::new()),
        [proxy, url, user] => (proxy.clone(), url.clone(), user.clone()),
        _ => {
            eprintln!("usage: socks4a PROXY_HOST:PORT URL [USER]");
            return ExitCode::from(2);
        }
    };
    let res = courier::get(&url)
        .proxy(courier::Proxy::none()) // usually you do not want other proxies as well
        .connector(move |target: Target| socks4a_connect(proxy.clone(), user.clone(), target))
        .send()
        .await;
    if res.is_error() {
        eprintln!("socks4a: {} {}", res.status().as_u16(), res.reason());
        return ExitCode::from(1);
    }
    println!("{} {}", res.status().as_u16(), res.reason());
    print!("{}", res.text());
    ExitCode::SUCCESS
}
