#![cfg(all(feature = "ws", feature = "server"))]
//! The WebSocket server end to end: both ways to establish a connection (raw sockets and
//! bundled-server routes, plain and TLS), the handshake hook and validation, messages,
//! pings, closing codes, limits and shutdown. Clients are tokio-tungstenite (written by
//! others) and raw sockets with hand-built frames (for what a polite client never sends).

mod support;

use courier::server::{Request, Server};
use courier::ws::{Connection, EstablishError, Finish, Message, Rejection, SendError, WebSocketServer};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use support::ws_frames::*;
use support::{example_binary, within};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

type Established<T> = Result<(Connection, T), EstablishError>;

/// A listener whose every accepted connection goes through `establish`; the outcomes
/// arrive on the channel for the test to drive.
async fn listen<T: Send + 'static>(
    ws: WebSocketServer<T>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Established<T>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (ws, tx) = (ws.clone(), tx.clone());
            tokio::spawn(async move {
                let _ = tx.send(ws.establish(stream).await);
            });
        }
    });
    (addr, rx)
}

/// The next established connection (panics on a refused one).
async fn accepted<T>(rx: &mut mpsc::UnboundedReceiver<Established<T>>) -> (Connection, T) {
    match rx.recv().await.expect("listener gone") {
        Ok(established) => established,
        Err(error) => panic!("handshake failed: {error}"),
    }
}

type Client = WebSocketStream<TcpStream>;

/// A tokio-tungstenite client connected to `path`, offering `protocols`.
async fn client(addr: SocketAddr, path: &str, protocols: &[&str]) -> (Client, http::HeaderMap) {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if !protocols.is_empty() {
        request.headers_mut().insert("sec-websocket-protocol", protocols.join(", ").parse().unwrap());
    }
    let stream = TcpStream::connect(addr).await.unwrap();
    // Big enough for the largest message the tests send.
    let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(64 << 20));
    let (client, response) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .expect("client handshake");
    (client, response.headers().clone())
}

/// The next data or close message the client sees (pings and pongs skipped).
async fn next_message<S: AsyncRead + AsyncWrite + Unpin>(client: &mut WebSocketStream<S>) -> WsMessage {
    loop {
        match client.next().await.expect("client stream ended").expect("client read") {
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            message => return message,
        }
    }
}

/// Serves `connection` as an echo until it finishes; returns how it finished.
async fn echo(mut connection: Connection) -> Finish {
    while let Some(message) = connection.recv().await {
        if let Message::Text(_) | Message::Binary(_) = message {
            if connection.send(message).await.is_err() {
                break;
            }
        }
    }
    connection.finish().expect("finished after recv returned None")
}

/// A finish's fields: code, reason, by peer, clean, error.
fn summary(finish: &Finish) -> (u16, &str, bool, bool, Option<&str>) {
    (finish.code, finish.reason.as_str(), finish.by_peer, finish.clean, finish.error.as_deref())
}

/// The HTTP response head (and whatever body fits in one read) a raw request gets.
async fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client frame: FIN set, masked unless `masked` is false.
fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    raw_frame(0x80 | opcode, payload, masked)
}

/// Expects the server's Close frame with `code`, then the end of the connection.
async fn expect_close(stream: &mut TcpStream, code: u16) {
    loop {
        let (opcode, payload) = read_frame(stream).await;
        if opcode == 0x8 {
            assert_eq!(
                close_code(&payload),
                code,
                "close reason: {}",
                String::from_utf8_lossy(&payload[2..])
            );
            break;
        }
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
}

// ---------------------------------------------------------------------------------------
// establish(stream)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn establish_echoes_text_and_binary_and_reports_the_clients_close() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let (mut client, headers) = client(addr, "/echo", &[]).await;
        assert!(!headers.contains_key("sec-websocket-protocol"));
        let (connection, ()) = accepted(&mut established).await;
        let server = tokio::spawn(echo(connection));

        client.send(WsMessage::text("héllo")).await.unwrap();
        assert_eq!(next_message(&mut client).await, WsMessage::text("héllo"));
        let all_bytes: Vec<u8> = (0..=255).collect();
        client.send(WsMessage::binary(all_bytes.clone())).await.unwrap();
        assert_eq!(next_message(&mut client).await, WsMessage::binary(all_bytes));
        client.send(WsMessage::text("")).await.unwrap();
        assert_eq!(next_message(&mut client).await, WsMessage::text(""));

        let frame = CloseFrame { code: CloseCode::Away, reason: "tab closed".into() };
        client.close(Some(frame)).await.unwrap();
        // The server answers with the same code, then closes the socket.
        match next_message(&mut client).await {
            WsMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(client.next().await.is_none());
        let finish = server.await.unwrap();
        assert_eq!(summary(&finish), (1001, "tab closed", true, true, None));
    })
    .await;
}

#[tokio::test]
async fn the_seed_handshake_example_parses_the_path_in_the_hook() {
    within(async {
        let ws = WebSocketServer::with_handshake(|request, response| {
            let invalid = || Rejection::new("invalid format");
            let mut parts = request.path().trim_start_matches('/').split('/');
            let year = parts
                .next()
                .filter(|y| y.len() == 4)
                .and_then(|y| y.parse::<u16>().ok())
                .ok_or_else(invalid)?;
            let month = parts
                .next()
                .filter(|m| m.len() == 2)
                .and_then(|m| m.parse::<u8>().ok())
                .ok_or_else(invalid)?;
            if !(1..=12).contains(&month) {
                return Err(Rejection::new("invalid month"));
            }
            response.set_subprotocol("mytest");
            Ok((year, month))
        });
        let (addr, mut established) = listen(ws).await;

        let (mut client, headers) = client(addr, "/2013/10", &["mytest"]).await;
        assert_eq!(headers["sec-websocket-protocol"], "mytest");
        let (connection, (year, month)) = accepted(&mut established).await;
        assert_eq!((year, month), (2013, 10));
        assert_eq!(connection.subprotocol(), Some("mytest"));
        connection.send_text(format!("You are accessing YEAR = {year}, MONTH = {month}")).await.unwrap();
        assert_eq!(
            next_message(&mut client).await,
            WsMessage::text("You are accessing YEAR = 2013, MONTH = 10")
        );

        for (path, body) in
            [("/2013/13", "invalid month"), ("/2013/00", "invalid month"), ("/hello", "invalid format")]
        {
            let answer = raw_exchange(addr, &handshake_request(path, "")).await;
            assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{path}: {answer}");
            assert!(answer.ends_with(&format!("\r\n\r\n{body}")), "{path}: {answer}");
            match established.recv().await.unwrap() {
                Err(EstablishError::Rejected(rejection)) => {
                    assert_eq!((rejection.status(), rejection.body()), (400, body));
                }
                other => panic!("{path}: expected a rejection, got {:?}", other.map(|(_, extra)| extra)),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_hook_sees_the_request_and_shapes_the_answer() {
    within(async {
        let ws = WebSocketServer::with_handshake(|request, response| {
            if request.origin() != Some("http://good.test") {
                return Err(Rejection::new("origin not allowed")
                    .with_status(403)
                    .with_header("x-why", "origin"));
            }
            let offered: Vec<String> = request.subprotocols().iter().map(|p| p.to_string()).collect();
            if let Some(chosen) = offered.iter().find(|p| p.as_str() == "v2") {
                response.set_subprotocol(chosen);
            }
            response.add_header("x-room", request.query_params().first().map_or("none", |(_, v)| v.as_str()));
            Ok((request.path().to_owned(), offered, request.header("x-token").map(str::to_owned)))
        });
        let (addr, mut established) = listen(ws).await;

        let mut request = format!("ws://{addr}/chat?room=7").into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("origin", "http://good.test".parse().unwrap());
        headers.insert("sec-websocket-protocol", "v1, v2".parse().unwrap());
        headers.insert("x-token", "t0k".parse().unwrap());
        let stream = TcpStream::connect(addr).await.unwrap();
        let (_client, response) = tokio_tungstenite::client_async(request, stream).await.unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["sec-websocket-protocol"], "v2");
        assert_eq!(response.headers()["x-room"], "7");
        let (connection, (path, offered, token)) = accepted(&mut established).await;
        assert_eq!(path, "/chat");
        assert_eq!(offered, ["v1", "v2"]);
        assert_eq!(token.as_deref(), Some("t0k"));
        assert_eq!(connection.subprotocol(), Some("v2"));

        let answer = raw_exchange(addr, &handshake_request("/chat", "Origin: http://evil.test\r\n")).await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        assert!(
            answer.contains("\r\nx-why: origin\r\n") && answer.ends_with("origin not allowed"),
            "{answer}"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_handshakes_are_refused_before_the_hook() {
    within(async {
        let ws =
            WebSocketServer::with_handshake(|_, _| -> Result<(), Rejection> { panic!("hook must not run") });
        let (addr, mut established) = listen(ws).await;
        let valid = handshake_request("/", "");
        let cases = [
            (valid.replacen("GET", "POST", 1), "400 Bad Request"),
            (valid.replacen("HTTP/1.1", "HTTP/1.0", 1), "400 Bad Request"),
            (valid.replace("Upgrade: websocket\r\n", ""), "400 Bad Request"),
            (valid.replace("Connection: Upgrade", "Connection: keep-alive"), "400 Bad Request"),
            (valid.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), "400 Bad Request"),
            (valid.replace("Version: 13", "Version: 8"), "426 Upgrade Required"),
            ("GARBAGE\r\n\r\n".to_string(), "400 Bad Request"),
        ];
        for (request, status) in cases {
            let answer = raw_exchange(addr, &request).await;
            assert!(answer.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{request:?}: {answer}");
            if status.starts_with("426") {
                assert!(answer.contains("\r\nsec-websocket-version: 13\r\n"), "{answer}");
            }
            assert!(matches!(established.recv().await.unwrap(), Err(EstablishError::Rejected(_))));
        }
    })
    .await;
}

#[tokio::test]
async fn a_slow_handshake_gets_408_and_a_vanished_client_is_closed() {
    within(async {
        let ws = WebSocketServer::new().handshake_timeout(Duration::from_millis(200));
        let (addr, mut established) = listen(ws).await;
        let answer = raw_exchange(addr, "GET / HTTP/1.1\r\nHost: x\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{answer}");
        assert!(matches!(established.recv().await.unwrap(), Err(EstablishError::TimedOut)));

        drop(TcpStream::connect(addr).await.unwrap());
        assert!(matches!(established.recv().await.unwrap(), Err(EstablishError::Closed)));
    })
    .await;
}

#[tokio::test]
async fn establish_works_over_tls_for_wss() {
    within(async {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let chain = vec![cert.cert.der().clone()];
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let acceptor =
            tokio_rustls::TlsAcceptor::from(courier::tls::server_config(chain.clone(), key).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(stream).await.unwrap();
            let (connection, ()) = WebSocketServer::new().establish(tls).await.unwrap();
            echo(connection).await
        });

        let mut roots = rustls::RootCertStore::empty();
        roots.add(chain[0].clone()).unwrap();
        let provider = courier::tls::provider();
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let url = format!("wss://localhost:{}/secure", addr.port());
        let (mut client, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
        client.send(WsMessage::text("over tls")).await.unwrap();
        assert_eq!(next_message(&mut client).await, WsMessage::text("over tls"));
        client.close(None).await.unwrap();
        let finish = server.await.unwrap();
        assert_eq!((finish.code, finish.by_peer, finish.clean), (1005, true, true));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Messages, pings, closing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn pings_are_answered_and_both_kinds_are_visible() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let (mut client, _) = client(addr, "/", &[]).await;
        let (mut connection, ()) = accepted(&mut established).await;

        // The client's ping: the server sees it and has already answered it.
        client.send(WsMessage::Ping("are you there".into())).await.unwrap();
        assert_eq!(connection.recv().await, Some(Message::Ping("are you there".into())));
        match client.next().await.unwrap().unwrap() {
            WsMessage::Pong(payload) => assert_eq!(&payload[..], b"are you there"),
            other => panic!("expected a pong, got {other:?}"),
        }

        // The server's ping: the client (tungstenite) answers; the pong arrives as a message.
        connection.ping("ours").await.unwrap();
        let client_task = tokio::spawn(async move {
            // Reading drives the client's automatic pong.
            let message = next_message(&mut client).await;
            (client, message)
        });
        assert_eq!(connection.recv().await, Some(Message::Pong("ours".into())));
        connection.send_text("done").await.unwrap();
        let (_client, message) = client_task.await.unwrap();
        assert_eq!(message, WsMessage::text("done"));

        let too_long = vec![0u8; 126];
        assert!(matches!(connection.ping(too_long).await, Err(SendError::Invalid(_))));
    })
    .await;
}

#[tokio::test]
async fn the_server_closes_with_its_code_and_learns_the_handshake_completed() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let (mut client, _) = client(addr, "/", &[]).await;
        let (connection, ()) = accepted(&mut established).await;
        let sender = connection.sender();
        assert!(matches!(sender.close(1005, "reserved").await, Err(SendError::Invalid(_))));

        let closing = tokio::spawn(async move {
            let mut connection = connection;
            // A code no endpoint may send is refused, and the connection is left as it was.
            assert!(matches!(connection.close(1006, "reserved").await, Err(SendError::Invalid(_))));
            connection.close(4000, "see you").await.unwrap()
        });
        match next_message(&mut client).await {
            WsMessage::Close(Some(frame)) => {
                assert_eq!((u16::from(frame.code), frame.reason.as_str()), (4000, "see you"));
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        // tungstenite answers the close on its next read; then the server closes the TCP.
        assert!(client.next().await.is_none());
        let finish = closing.await.unwrap();
        assert_eq!(summary(&finish), (4000, "see you", false, true, None));
        assert_eq!(sender.finished().await, finish);
        assert!(matches!(sender.send_text("late").await, Err(SendError::Closed)));
    })
    .await;
}

#[tokio::test]
async fn a_client_that_never_answers_the_close_is_dropped_after_the_close_timeout() {
    within(async {
        let ws = WebSocketServer::new().close_timeout(Duration::from_millis(300));
        let (addr, mut established) = listen(ws).await;
        let mut raw = raw_websocket(addr, "/", b"").await;
        let (connection, ()) = accepted(&mut established).await;
        let closing = tokio::spawn(async move {
            let mut connection = connection;
            connection.close(1000, "bye").await.unwrap()
        });
        let (opcode, payload) = read_frame(&mut raw).await;
        assert_eq!((opcode, close_code(&payload)), (0x8, 1000));
        // No close reply from us: the server gives up and closes the socket.
        let mut rest = Vec::new();
        raw.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        let finish = closing.await.unwrap();
        // Our code describes the close; unanswered, it was not clean.
        assert_eq!(
            summary(&finish),
            (1000, "bye", false, false, Some("the client did not answer the close frame in time"))
        );
    })
    .await;
}

#[tokio::test]
async fn split_halves_send_from_another_task_while_receiving() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let (mut client, _) = client(addr, "/", &[]).await;
        let (connection, ()) = accepted(&mut established).await;
        let (sender, mut receiver) = connection.split();
        let ticker = {
            let sender = sender.clone();
            tokio::spawn(async move {
                for n in 0..50 {
                    sender.send_text(format!("tick {n}")).await.unwrap();
                }
            })
        };
        for n in 0..50 {
            assert_eq!(next_message(&mut client).await, WsMessage::text(format!("tick {n}")));
        }
        ticker.await.unwrap();
        client.send(WsMessage::binary(vec![7u8; 10])).await.unwrap();
        assert_eq!(receiver.recv().await, Some(Message::Binary(vec![7u8; 10].into())));
        // The rest as a Stream: three messages, then the end at the client's close.
        for text in ["a", "b", "c"] {
            client.send(WsMessage::text(text)).await.unwrap();
        }
        client.close(None).await.unwrap();
        let messages: Vec<Message> = receiver.into_stream().collect().await;
        assert_eq!(messages, [Message::from("a"), Message::from("b"), Message::from("c")]);
        assert_eq!(sender.finished().await.code, 1005);
    })
    .await;
}

#[tokio::test]
async fn a_client_that_just_disconnects_finishes_with_1006() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let raw = raw_websocket(addr, "/", b"").await;
        let (connection, ()) = accepted(&mut established).await;
        let server = tokio::spawn(echo(connection));
        drop(raw); // FIN without a Close frame
        let finish = server.await.unwrap();
        assert_eq!((finish.code, finish.by_peer, finish.clean), (1006, false, false), "{finish:?}");
        assert!(finish.error.is_some());
    })
    .await;
}

#[tokio::test]
async fn dropping_the_receiver_finishes_the_connection_for_every_sender() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let mut raw = raw_websocket(addr, "/", b"").await;
        let (connection, ()) = accepted(&mut established).await;
        let (sender, receiver) = connection.split();
        let waiter = {
            let sender = sender.clone();
            tokio::spawn(async move { sender.finished().await })
        };
        drop(receiver);
        let finish = waiter.await.unwrap();
        assert_eq!((finish.code, finish.clean), (1006, false), "{finish:?}");
        // The socket closes although a sender is still alive.
        let mut rest = Vec::new();
        raw.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        assert!(sender.send_text("anyone?").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn concurrent_senders_and_pings_all_get_through() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let (mut client, _) = client(addr, "/", &[]).await;
        let (connection, ()) = accepted(&mut established).await;
        let (sender, mut receiver) = connection.split();
        // Four writers with 64 KiB messages fill the socket; the client pings meanwhile, so
        // the receiver's pong flush competes with them for the write side.
        let writers: Vec<_> = (0..4u8)
            .map(|id| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        sender.send_binary(vec![id; 64 * 1024]).await.unwrap();
                    }
                })
            })
            .collect();
        let reader = tokio::spawn(async move {
            let mut pongs = 0;
            while let Some(message) = receiver.recv().await {
                if let Message::Ping(_) = message {
                    pongs += 1;
                }
            }
            pongs
        });
        let mut counts = [0usize; 4];
        let mut pings_sent = 0;
        while counts.iter().sum::<usize>() < 200 {
            if pings_sent < 20 {
                client.send(WsMessage::Ping(vec![pings_sent].into())).await.unwrap();
                pings_sent += 1;
            }
            match client.next().await.unwrap().unwrap() {
                WsMessage::Binary(data) => counts[usize::from(data[0])] += 1,
                WsMessage::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(counts, [50; 4]);
        for writer in writers {
            writer.await.unwrap();
        }
        client.close(None).await.unwrap();
        while client.next().await.is_some() {}
        assert_eq!(reader.await.unwrap(), 20);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Protocol errors and limits (raw frames)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn protocol_errors_close_with_their_codes() {
    within(async {
        let ws = WebSocketServer::new().max_message_size(1024).max_frame_size(1024);
        let (addr, mut established) = listen(ws).await;
        let cases: [(&str, Vec<u8>, u16); 5] = [
            ("unmasked frame", frame(0x1, b"hi", false), 1002),
            ("reserved opcode", frame(0x3, b"", true), 1002),
            ("invalid UTF-8", frame(0x1, &[0x68, 0xc3, 0x28], true), 1007),
            ("frame over the limit", frame(0x2, &[0u8; 2000], true), 1009),
            ("reserved close code", frame(0x8, &1005u16.to_be_bytes(), true), 1002),
        ];
        for (what, bytes, code) in cases {
            let mut raw = raw_websocket(addr, "/", b"").await;
            let (connection, ()) = accepted(&mut established).await;
            let server = tokio::spawn(echo(connection));
            raw.write_all(&bytes).await.unwrap();
            expect_close(&mut raw, code).await;
            // The server lingers until the client closes too (so its Close frame is not
            // lost to a reset).
            drop(raw);
            let finish = server.await.unwrap();
            assert_eq!(finish.code, code, "{what}: {finish:?}");
            if code != 1002 || what != "reserved close code" {
                assert!(finish.error.is_some(), "{what}: {finish:?}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_huge_declared_length_is_refused_without_allocating_it() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let mut raw = raw_websocket(addr, "/", b"").await;
        let (connection, ()) = accepted(&mut established).await;
        let server = tokio::spawn(echo(connection));
        // A binary frame announcing 2^63 - 1 bytes, masked, with no payload behind it.
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        raw.write_all(&header).await.unwrap();
        expect_close(&mut raw, 1009).await;
        drop(raw);
        assert_eq!(server.await.unwrap().code, 1009);
    })
    .await;
}

#[tokio::test]
async fn messages_of_17_mib_pass_when_configured() {
    within(async {
        let ws = WebSocketServer::new().max_message_size(32 << 20).max_frame_size(32 << 20);
        let (addr, mut established) = listen(ws).await;
        let (mut client, _) = client(addr, "/", &[]).await;
        let (connection, ()) = accepted(&mut established).await;
        tokio::spawn(echo(connection));
        let big: Vec<u8> = (0..17u32 << 20).map(|i| (i % 251) as u8).collect();
        client.send(WsMessage::binary(big.clone())).await.unwrap();
        match next_message(&mut client).await {
            WsMessage::Binary(echoed) => assert!(echoed[..] == big[..], "echo differs"),
            other => panic!("expected the echo, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn fragmented_messages_are_reassembled() {
    within(async {
        let (addr, mut established) = listen(WebSocketServer::new()).await;
        let (connection, ()) = {
            let mut raw = raw_websocket(addr, "/", b"").await;
            let accepted = accepted(&mut established).await;
            // "hello " + "wor" + "ld" in three frames, a ping in the middle.
            let mut bytes = frame(0x1, b"hello ", true);
            bytes[0] &= 0x7f; // not FIN
            let mut middle = frame(0x0, b"wor", true);
            middle[0] &= 0x7f;
            bytes.extend(middle);
            bytes.extend(frame(0x9, b"p", true));
            bytes.extend(frame(0x0, b"ld", true));
            raw.write_all(&bytes).await.unwrap();
            tokio::spawn(async move {
                let _keep_open = raw;
                std::future::pending::<()>().await;
            });
            accepted
        };
        let mut connection = connection;
        assert_eq!(connection.recv().await, Some(Message::Ping("p".into())));
        assert_eq!(connection.recv().await, Some(Message::Text("hello world".into())));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Upgrade from a bundled-server route
// ---------------------------------------------------------------------------------------

/// A bundled server whose `/ws` route upgrades with `ws` and echoes; other paths are HTTP.
async fn route_server(ws: WebSocketServer) -> Server {
    Server::builder()
        .route("/ws", move |request: Request| {
            let ws = ws.clone();
            async move {
                ws.upgrade(&request, |connection, ()| async move {
                    echo(connection).await;
                })
            }
        })
        .route("/plain", |_request| async { courier::server::Reply::text("just http") })
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_route_upgrades_its_connection_and_keeps_early_frames() {
    within(async {
        let server = route_server(WebSocketServer::new()).await;
        let addr = server.local_addr();

        // The handshake and the first two frames in one write: nothing may be lost.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut bytes = handshake_request("/ws", "").into_bytes();
        bytes.extend(frame(0x1, b"early one", true));
        bytes.extend(frame(0x1, b"early two", true));
        stream.write_all(&bytes).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
        assert!(head.contains("\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{head}");
        assert!(
            head.contains("\r\nconnection: Upgrade\r\n") && head.contains("\r\nupgrade: websocket\r\n"),
            "{head}"
        );
        assert!(!head.contains("content-length") && !head.contains("transfer-encoding"), "{head}");
        assert_eq!(read_frame(&mut stream).await, (0x1, b"early one".to_vec()));
        assert_eq!(read_frame(&mut stream).await, (0x1, b"early two".to_vec()));

        // A tungstenite client too, and plain HTTP on the same server.
        let (mut client, _) = client(addr, "/ws", &[]).await;
        client.send(WsMessage::text("via route")).await.unwrap();
        assert_eq!(next_message(&mut client).await, WsMessage::text("via route"));
        let res = courier::get(server.url("/plain")).send().await;
        assert_eq!(res.text(), "just http");

        // Refusals come back as HTTP replies on a connection that stays HTTP.
        let refused = courier::get(server.url("/ws")).send().await;
        assert_eq!(refused.status(), 400);
        let answer =
            raw_exchange(addr, &handshake_request("/ws", "").replace("Version: 13", "Version: 7")).await;
        assert!(answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{answer}");
        assert!(answer.contains("\r\nsec-websocket-version: 13\r\n"), "{answer}");
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
        let recorded: Vec<u16> = server.requests().iter().map(|r| r.status.unwrap().as_u16()).collect();
        assert_eq!(recorded.iter().filter(|&&s| s == 101).count(), 2, "{recorded:?}");
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_route_websockets_with_1001() {
    within(async {
        let server = route_server(WebSocketServer::new()).await;
        let (mut client, _) = client(server.local_addr(), "/ws", &[]).await;
        client.send(WsMessage::text("before")).await.unwrap();
        assert_eq!(next_message(&mut client).await, WsMessage::text("before"));
        let shutdown = tokio::spawn(server.shutdown());
        match next_message(&mut client).await {
            WsMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("expected close 1001, got {other:?}"),
        }
        // tungstenite replies to the close on its next read; the server then finishes.
        assert!(client.next().await.is_none());
        shutdown.await.unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// The ws_echo example (Autobahn's peer)
// ---------------------------------------------------------------------------------------

/// Starts ws_echo with `args`; its first line names the URL.
async fn start_ws_echo(args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(example_binary("ws_echo"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout).read_line(&mut line).await.unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}"));
    (child, url.to_owned())
}

#[tokio::test]
async fn ws_echo_announces_its_url_and_echoes_in_both_modes() {
    within(async {
        for args in [&[][..], &["--route"][..]] {
            let (_child, url) = start_ws_echo(args).await;
            assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
            let (mut client, _) = tokio_tungstenite::connect_async(format!("{url}/any/path")).await.unwrap();
            client.send(WsMessage::text("ping?")).await.unwrap();
            assert_eq!(next_message(&mut client).await, WsMessage::text("ping?"));
            client.send(WsMessage::binary(vec![0u8, 255])).await.unwrap();
            assert_eq!(next_message(&mut client).await, WsMessage::binary(vec![0u8, 255]));
            client.close(None).await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_panicking_session_does_not_hold_up_shutdown() {
    within(async {
        let ws = WebSocketServer::new();
        let server = Server::builder()
            .route("/ws", move |request: Request| {
                let ws = ws.clone();
                async move {
                    ws.upgrade(&request, |_connection, ()| async move {
                        panic!("the session failed");
                    })
                }
            })
            .start()
            .await
            .unwrap();
        let (mut client, _) = client(server.local_addr(), "/ws", &[]).await;
        // The session's panic drops the connection; the client sees it end.
        while let Some(Ok(_)) = client.next().await {}
        server.shutdown().await;
    })
    .await;
}
