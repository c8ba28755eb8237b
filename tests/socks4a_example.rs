//! The socks4a example (the seed's tcp_connect hook speaking SOCKS4a) against a scripted
//! SOCKS4a proxy that relays to a scripted origin. `cargo test` builds the example first.

mod support;
use support::*;

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one NUL-terminated field.
async fn read_field(stream: &mut TcpStream) -> Vec<u8> {
    let mut field = Vec::new();
    loop {
        let byte = stream.read_u8().await.expect("a request byte");
        if byte == 0 {
            return field;
        }
        field.push(byte);
    }
}

#[tokio::test]
async fn the_hook_speaks_socks4a_and_the_request_goes_through() {
    within(async {
        let origin = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nfrom origin\n").await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(None));
        let seen = asked.clone();
        let origin_addr = origin.addr;
        tokio::spawn(async move {
            let (mut client, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 8];
            client.read_exact(&mut head).await.unwrap();
            let user = read_field(&mut client).await;
            let host = read_field(&mut client).await;
            *seen.lock().unwrap() = Some((head, user, host));
            // SOCKS4a: the proxy resolves the name; here every name is the origin.
            let mut upstream = TcpStream::connect(origin_addr).await.unwrap();
            client.write_all(&[0, 0x5a, 0, 0, 0, 0, 0, 0]).await.unwrap();
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });

        let binary = example_binary("socks4a");
        let args =
            vec![proxy_addr.to_string(), "http://origin.test:8080/page".to_owned(), "alice".to_owned()];
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(binary).args(args).output().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200 OK\nfrom origin\n");

        let (head, user, host) = asked.lock().unwrap().clone().expect("the proxy was asked");
        assert_eq!(head, [4, 1, 0x1f, 0x90, 0, 0, 0, 1], "VN 4, CONNECT, port 8080, 0.0.0.1 (name follows)");
        assert_eq!(user, b"alice");
        assert_eq!(host, b"origin.test");
        let requests = origin.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].target, "/page");
        assert_eq!(requests[0].header("host"), Some("origin.test:8080"));
    })
    .await;
}
