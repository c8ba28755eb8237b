#![cfg(all(feature = "ws", feature = "server"))]
//! Hostile WebSocket clients against `courier::ws`: frames a polite client never sends
//! (unmasked, oversized or fragmented control frames, bad UTF-8, bad close codes, absurd
//! declared lengths, reserved bits and opcodes), ping floods both ways, a slow oversized
//! message, and handshake floods. Raw sockets with hand-built frames throughout.
//!
//! The server must answer each protocol violation with the right close code (1002, 1007,
//! 1009), then close; it must never panic, hang, or allocate what a peer merely declares.

mod support;

use courier::server::{Request, Server};
use courier::ws::{Connection, EstablishError, Finish, Message, WebSocketServer};
use std::net::SocketAddr;
use std::time::Duration;
use support::within;
use support::ws_frames::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

/// What one server-side connection saw: every message `recv` returned, then the finish.
#[derive(Debug)]
struct Session {
    messages: Vec<Message>,
    finish: Finish,
}

/// Receives until the connection finishes; echoes text and binary.
async fn run_session(mut connection: Connection) -> Session {
    let mut messages = Vec::new();
    while let Some(message) = connection.recv().await {
        if let Message::Text(_) | Message::Binary(_) = &message {
            let _ = connection.send(message.clone()).await;
        }
        messages.push(message);
    }
    Session { messages, finish: connection.finish().expect("finished after recv returned None") }
}

/// A listener whose every accepted connection is established with `ws` and run as a
/// session; each session's outcome (or the handshake error) arrives on the channel.
async fn listen(
    ws: WebSocketServer,
) -> (SocketAddr, mpsc::UnboundedReceiver<Result<Session, EstablishError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (ws, tx) = (ws.clone(), tx.clone());
            tokio::spawn(async move {
                let outcome = match ws.establish(stream).await {
                    Ok((connection, ())) => Ok(run_session(connection).await),
                    Err(error) => Err(error),
                };
                let _ = tx.send(outcome);
            });
        }
    });
    (addr, rx)
}

async fn next_session(rx: &mut mpsc::UnboundedReceiver<Result<Session, EstablishError>>) -> Session {
    match rx.recv().await.expect("listener gone") {
        Ok(session) => session,
        Err(error) => panic!("handshake failed: {error}"),
    }
}

// ---------------------------------------------------------------------------------------
// Raw frames
// ---------------------------------------------------------------------------------------

/// A complete (FIN) masked frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(0x80 | opcode, payload, true)
}

/// A non-final masked frame (a fragment).
fn fragment(opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(opcode, payload, true)
}

/// Only the head of a masked frame declaring a 64-bit `length` (no payload follows).
fn declared_head(first: u8, length: u64) -> Vec<u8> {
    let mut bytes = vec![first, 0x80 | 127];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&KEY);
    bytes
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// Expects the server's Close frame (any data frames before it are skipped) and then the
/// end of the connection; the close code.
async fn close_then_eof(stream: &mut TcpStream) -> u16 {
    let code = loop {
        let (opcode, payload) = read_frame(stream).await;
        if opcode == 0x8 {
            break close_code(&payload);
        }
        assert!(matches!(opcode, 0x1 | 0x2 | 0xA), "unexpected opcode {opcode:#x} before the close");
    };
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "nothing after the close frame: {rest:?}");
    code
}

/// Sends `bytes` on a fresh WebSocket; expects a Close with `code`, the end of the
/// connection, and a server-side finish with the same code (the server failed it).
async fn violation(
    addr: SocketAddr,
    sessions: &mut mpsc::UnboundedReceiver<Result<Session, EstablishError>>,
    bytes: &[u8],
    code: u16,
) -> Session {
    let session = wire_violation(addr, sessions, bytes, code).await;
    assert!(!session.finish.by_peer && !session.finish.clean, "{:?}", session.finish);
    assert!(session.finish.error.is_some());
    session
}

/// [`violation`] on the wire only: the Close with `code`, the end of the connection, and
/// the server-side finish's code.
async fn wire_violation(
    addr: SocketAddr,
    sessions: &mut mpsc::UnboundedReceiver<Result<Session, EstablishError>>,
    bytes: &[u8],
    code: u16,
) -> Session {
    let mut stream = raw_websocket(addr, "/", &[]).await;
    let _ = stream.write_all(bytes).await;
    let got = close_then_eof(&mut stream).await;
    assert_eq!(got, code, "for {:02x?}", &bytes[..bytes.len().min(24)]);
    let session = next_session(sessions).await;
    assert_eq!(session.finish.code, code, "{:?}", session.finish);
    session
}

// ---------------------------------------------------------------------------------------
// Framing violations: 1002
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unmasked_client_frames_get_1002() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        for (opcode, payload) in
            [(0x1, &b"hello"[..]), (0x2, &b"\x00\x01"[..]), (0x9, &b"p"[..]), (0x8, &[0x03, 0xe8][..])]
        {
            let session =
                violation(addr, &mut sessions, &raw_frame(0x80 | opcode, payload, false), 1002).await;
            assert!(session.messages.is_empty(), "nothing from an unmasked frame reaches recv");
        }
        // A good frame first, then an unmasked one: the first arrives, the second fails.
        let mut bytes = frame(0x1, b"fine");
        bytes.extend(raw_frame(0x81, b"bad", false));
        let session = violation(addr, &mut sessions, &bytes, 1002).await;
        assert_eq!(session.messages, [Message::Text("fine".into())]);
    })
    .await;
}

#[tokio::test]
async fn oversized_and_fragmented_control_frames_get_1002() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        // 126-byte ping, pong and close payloads (the 16-bit length form).
        for opcode in [0x9, 0xA, 0x8] {
            let mut payload = vec![b'p'; 126];
            if opcode == 0x8 {
                payload[..2].copy_from_slice(&1000u16.to_be_bytes());
            }
            let session = violation(addr, &mut sessions, &frame(opcode, &payload), 1002).await;
            assert!(session.messages.is_empty());
        }
        // 125 bytes is fine: the ping comes through and is answered.
        let mut stream = raw_websocket(addr, "/", &frame(0x9, &[b'q'; 125])).await;
        let (opcode, payload) = read_frame(&mut stream).await;
        assert_eq!((opcode, payload), (0xA, vec![b'q'; 125]));
        stream.write_all(&frame(0x8, &close_payload(1000, b""))).await.unwrap();
        assert_eq!(close_then_eof(&mut stream).await, 1000);
        let session = next_session(&mut sessions).await;
        assert_eq!(session.messages, [Message::Ping(vec![b'q'; 125].into())]);
        assert_eq!((session.finish.code, session.finish.by_peer, session.finish.clean), (1000, true, true));
        // A ping, pong or close without FIN (a fragmented control frame).
        for opcode in [0x9, 0xA, 0x8] {
            let payload = if opcode == 0x8 { close_payload(1000, b"") } else { b"frag".to_vec() };
            let mut bytes = fragment(opcode, &payload);
            bytes.extend(raw_frame(0x80, b"ment", true));
            violation(addr, &mut sessions, &bytes, 1002).await;
        }
        // A control frame in the middle of a fragmented message is allowed; a fragmented
        // one there is not.
        let mut bytes = fragment(0x1, b"a");
        bytes.extend(fragment(0x9, b"p"));
        bytes.extend(raw_frame(0x80, b"b", true));
        violation(addr, &mut sessions, &bytes, 1002).await;
    })
    .await;
}

#[tokio::test]
async fn reserved_bits_opcodes_and_continuation_errors_get_1002() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("RSV1 without an extension", raw_frame(0x80 | 0x40 | 0x1, b"x", true)),
            ("RSV2", raw_frame(0x80 | 0x20 | 0x2, b"x", true)),
            ("RSV3 on a ping", raw_frame(0x80 | 0x10 | 0x9, b"x", true)),
            ("reserved data opcode 0x3", frame(0x3, b"x")),
            ("reserved data opcode 0x7", frame(0x7, b"x")),
            ("reserved control opcode 0xB", frame(0xB, b"x")),
            ("reserved control opcode 0xF", frame(0xF, b"x")),
            ("continuation with nothing to continue", frame(0x0, b"x")),
            ("a new text frame inside a fragmented message", {
                let mut bytes = fragment(0x1, b"a");
                bytes.extend(frame(0x1, b"b"));
                bytes
            }),
            ("a new binary fragment inside a fragmented message", {
                let mut bytes = fragment(0x2, b"a");
                bytes.extend(fragment(0x2, b"b"));
                bytes
            }),
        ];
        for (name, bytes) in cases {
            eprintln!("case: {name}");
            let session = violation(addr, &mut sessions, &bytes, 1002).await;
            assert!(session.messages.is_empty(), "{name}: {:?}", session.messages);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// UTF-8: 1007
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_utf8_text_gets_1007_also_across_fragments() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        let whole: Vec<(&str, Vec<u8>)> = vec![
            ("lone continuation byte", frame(0x1, b"ok \x80")),
            ("0xff", frame(0x1, b"\xff")),
            ("overlong slash", frame(0x1, b"\xc0\xaf")),
            ("surrogate", frame(0x1, b"\xed\xa0\x80")),
            ("beyond U+10FFFF", frame(0x1, b"\xf4\x90\x80\x80")),
            ("truncated at the end", frame(0x1, b"abc\xe2\x82")),
            ("split, bad continuation", {
                let mut bytes = fragment(0x1, b"\xe2\x82");
                bytes.extend(raw_frame(0x80, b"\x28", true));
                bytes
            }),
            ("split, bad first fragment", {
                let mut bytes = fragment(0x1, b"\xff");
                bytes.extend(raw_frame(0x80, b"fine", true));
                bytes
            }),
            ("split, truncated at the end", {
                let mut bytes = fragment(0x1, b"ok");
                bytes.extend(fragment(0x0, b"\xf0\x9f"));
                bytes.extend(raw_frame(0x80, b"", true));
                bytes
            }),
        ];
        for (name, bytes) in whole {
            eprintln!("case: {name}");
            let session = violation(addr, &mut sessions, &bytes, 1007).await;
            assert!(session.messages.is_empty(), "{name}: {:?}", session.messages);
        }
        // A code point split across three fragments is fine.
        let mut bytes = fragment(0x1, b"\xe2");
        bytes.extend(fragment(0x0, b"\x82"));
        bytes.extend(raw_frame(0x80, b"\xac!", true));
        let mut stream = raw_websocket(addr, "/", &bytes).await;
        let (opcode, payload) = read_frame(&mut stream).await;
        assert_eq!((opcode, payload), (0x1, "€!".as_bytes().to_vec()), "echoed");
        stream.write_all(&frame(0x8, &close_payload(1000, b""))).await.unwrap();
        assert_eq!(close_then_eof(&mut stream).await, 1000);
        assert_eq!(next_session(&mut sessions).await.messages, [Message::Text("€!".into())]);
        // Binary messages are not UTF-8 checked.
        let mut stream = raw_websocket(addr, "/", &frame(0x2, b"\xff\xfe")).await;
        assert_eq!(read_frame(&mut stream).await, (0x2, b"\xff\xfe".to_vec()));
        stream.write_all(&frame(0x8, &close_payload(1000, b""))).await.unwrap();
        assert_eq!(close_then_eof(&mut stream).await, 1000);
        next_session(&mut sessions).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Close frames
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_close_codes_and_payloads_get_1002() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        for code in [0u16, 1, 999, 1004, 1005, 1006, 1016, 1015, 1100, 2000, 2999, 5000, 65535] {
            eprintln!("code {code}");
            let session =
                wire_violation(addr, &mut sessions, &frame(0x8, &close_payload(code, b"")), 1002).await;
            assert!(session.messages.is_empty());
        }
        // A 1-byte close payload.
        wire_violation(addr, &mut sessions, &frame(0x8, &[0x03]), 1002).await;
        // Allowed codes are echoed: a clean close by the peer.
        for code in [1000u16, 1001, 1003, 1007, 1011, 3000, 4999] {
            let mut stream = raw_websocket(addr, "/", &frame(0x8, &close_payload(code, b"bye"))).await;
            assert_eq!(close_then_eof(&mut stream).await, code);
            let session = next_session(&mut sessions).await;
            assert_eq!(
                (
                    session.finish.code,
                    session.finish.reason.as_str(),
                    session.finish.by_peer,
                    session.finish.clean
                ),
                (code, "bye", true, true)
            );
        }
        // An empty close payload is allowed (no code: 1005 for the server, an empty echo).
        let mut stream = raw_websocket(addr, "/", &frame(0x8, b"")).await;
        let (opcode, _payload) = read_frame(&mut stream).await;
        assert_eq!(opcode, 0x8);
        let session = next_session(&mut sessions).await;
        assert_eq!((session.finish.code, session.finish.by_peer, session.finish.clean), (1005, true, true));
    })
    .await;
}

/// The wire is right (Close 1002, then EOF), but the server-side `Finish` describes a clean
/// close started by the client (`by_peer: true, clean: true, error: None`, reason
/// "Protocol violation"), as if the client had sent 1002. The client sent an invalid code
/// and the server failed the connection: `by_peer` and `clean` should be false and
/// `error` should say why, as for every other violation.
#[tokio::test]
async fn an_invalid_close_code_is_reported_as_the_servers_failure() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        for payload in [close_payload(0, b""), close_payload(1005, b""), vec![0x03]] {
            violation(addr, &mut sessions, &frame(0x8, &payload), 1002).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_close_reason_that_is_not_utf8_is_refused() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        let session =
            violation(addr, &mut sessions, &frame(0x8, &close_payload(1000, b"\xff\xfe")), 1007).await;
        assert!(session.messages.is_empty());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Declared lengths
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_declared_length_of_2_pow_63_minus_1_gets_1009_at_once() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        for first in [0x82u8, 0x81, 0x02] {
            let mut stream = raw_websocket(addr, "/", &declared_head(first, (1u64 << 63) - 1)).await;
            // No payload is sent: a server that waited for (or allocated) it would hang.
            let code = tokio::time::timeout(Duration::from_secs(5), close_then_eof(&mut stream))
                .await
                .expect("the server answers from the head alone");
            assert_eq!(code, 1009);
            let session = next_session(&mut sessions).await;
            assert_eq!(session.finish.code, 1009);
        }
        // Just over the frame limit, declared in the 64-bit form.
        let mut stream = raw_websocket(addr, "/", &declared_head(0x82, (16 << 20) + 1)).await;
        assert_eq!(close_then_eof(&mut stream).await, 1009);
        next_session(&mut sessions).await;
    })
    .await;
}

#[tokio::test]
async fn the_frame_limit_has_a_ceiling_so_no_frame_head_can_ask_for_all_memory() {
    within(async {
        // Asked for "no limit", the server still refuses a frame over 1 GiB from its head
        // (tungstenite would reserve the whole length first: 2^40 bytes aborts the process).
        let (addr, mut sessions) = listen(WebSocketServer::new().max_frame_size(usize::MAX)).await;
        for length in [(1u64 << 30) + 1, 1 << 40, (1 << 63) - 1] {
            let mut stream = raw_websocket(addr, "/", &declared_head(0x82, length)).await;
            assert_eq!(close_then_eof(&mut stream).await, 1009, "{length:#x}");
            assert_eq!(next_session(&mut sessions).await.finish.code, 1009);
        }
    })
    .await;
}

#[tokio::test]
async fn a_declared_length_with_the_top_bit_set_is_refused() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        for length in [1u64 << 63, u64::MAX] {
            let mut stream = raw_websocket(addr, "/", &declared_head(0x82, length)).await;
            // RFC 6455 §5.2 says the top bit must be 0 (1002 would fit too); the length is
            // checked against the frame limit first, which refuses it just as promptly.
            let code = close_then_eof(&mut stream).await;
            assert_eq!(code, 1009, "{length:#x}");
            let session = next_session(&mut sessions).await;
            assert_eq!(session.finish.code, 1009);
        }
    })
    .await;
}

#[tokio::test]
async fn a_slow_oversized_message_is_cut_at_the_message_limit() {
    within(async {
        const LIMIT: usize = 64 * 1024;
        const PIECE: usize = 16 * 1024;
        let (addr, mut sessions) = listen(WebSocketServer::new().max_message_size(LIMIT)).await;
        // A 100 MiB message in 16 KiB fragments, one every 2 ms.
        let stream = raw_websocket(addr, "/", &[]).await;
        let (mut reader, mut writer) = stream.into_split();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let writer_task = tokio::spawn(async move {
            let total = 100 << 20;
            let mut sent = 0usize;
            let piece = vec![b'z'; PIECE];
            while sent < total {
                let first = if sent == 0 { 0x02 } else { 0x00 };
                let fin = if sent + PIECE >= total { 0x80 } else { 0 };
                if stop_rx.try_recv().is_ok()
                    || writer.write_all(&raw_frame(first | fin, &piece, true)).await.is_err()
                {
                    break;
                }
                sent += PIECE;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            sent
        });
        let mut head = [0u8; 2];
        reader.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0] & 0x0f, 0x8, "a close frame");
        let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
        reader.read_exact(&mut payload).await.unwrap();
        assert_eq!(close_code(&payload), 1009, "{}", String::from_utf8_lossy(&payload[2..]));
        let _ = stop_tx.send(());
        let sent = writer_task.await.unwrap();
        // Cut after ~5 fragments; whatever was in flight when the close arrived is a few
        // more, nowhere near the 100 MiB (6400 fragments) declared.
        assert!(sent < 100 * PIECE, "{sent} bytes went out before the cut");
        let session = next_session(&mut sessions).await;
        assert_eq!(session.finish.code, 1009);
        assert!(session.messages.is_empty());

        // A single frame declaring more than the message limit: 1009 from the head.
        let mut stream = raw_websocket(addr, "/", &declared_head(0x82, 100 << 20)).await;
        let code = close_then_eof(&mut stream).await;
        assert_eq!(code, 1009);
        next_session(&mut sessions).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Ping floods
// ---------------------------------------------------------------------------------------

const PINGS: usize = 10_000;

#[tokio::test]
async fn a_ping_flood_while_the_server_does_not_read_is_answered_once_it_reads() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut connection, ()) = WebSocketServer::new().establish(stream).await.unwrap();
            // Not reading until the client has sent everything.
            go_rx.await.unwrap();
            let mut pings = 0usize;
            let mut last = None;
            while let Some(message) = connection.recv().await {
                if let Message::Ping(data) = message {
                    pings += 1;
                    last = Some(data);
                }
            }
            (pings, last, connection.finish().unwrap())
        });
        let stream = raw_websocket(addr, "/", &[]).await;
        let (mut reader, mut writer) = stream.into_split();
        let mut flood = Vec::new();
        for i in 0..PINGS {
            flood.extend(frame(0x9, format!("{i:05}").as_bytes()));
        }
        flood.extend(frame(0x8, &close_payload(1000, b"done")));
        // The whole flood goes out although the server reads nothing yet (the kernel's
        // buffers take it; the server process holds nothing for it).
        writer.write_all(&flood).await.unwrap();
        go_tx.send(()).unwrap();
        // Now the client reads: pongs (tungstenite keeps at most one pending, so some may
        // be merged), then the close echo.
        let mut pongs = 0usize;
        let mut last_pong = Vec::new();
        let code = loop {
            let mut head = [0u8; 2];
            reader.read_exact(&mut head).await.unwrap();
            let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
            reader.read_exact(&mut payload).await.unwrap();
            match head[0] & 0x0f {
                0xA => {
                    pongs += 1;
                    last_pong = payload;
                }
                0x8 => break close_code(&payload),
                other => panic!("unexpected opcode {other:#x}"),
            }
        };
        assert_eq!(code, 1000);
        assert!((1..=PINGS).contains(&pongs), "{pongs} pongs");
        assert_eq!(last_pong, format!("{:05}", PINGS - 1).into_bytes(), "the last ping is answered");
        let (pings, last, finish) = server.await.unwrap();
        assert_eq!(pings, PINGS, "every ping reaches recv");
        assert_eq!(last.as_deref(), Some(format!("{:05}", PINGS - 1).as_bytes()));
        assert_eq!((finish.code, finish.by_peer, finish.clean), (1000, true, true));
    })
    .await;
}

/// A connected pair whose server side has a tiny send buffer and whose client side has a
/// tiny receive buffer, so a client that does not read stalls the server's writes fast.
#[cfg(unix)]
async fn choked_pair() -> (TcpStream, TcpStream) {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let (client, accepted) = tokio::join!(socket.connect(addr), listener.accept());
    let (server, _) = accepted.unwrap();
    let server = server.into_std().unwrap();
    let server = tokio::net::TcpSocket::from_std_stream(server);
    server.set_send_buffer_size(4096).unwrap();
    // SAFETY: the descriptor comes straight from a socket we own and give up here.
    let std = unsafe { std::net::TcpStream::from_raw_fd(server.into_raw_fd()) };
    std.set_nonblocking(true).unwrap();
    (client.unwrap(), TcpStream::from_std(std).unwrap())
}

#[cfg(unix)]
#[tokio::test]
async fn a_client_that_never_reads_cannot_make_the_server_buffer_pongs() {
    within(async {
        let (client, server_stream) = choked_pair().await;
        let ws = WebSocketServer::new()
            .write_timeout(Duration::from_millis(300))
            .close_timeout(Duration::from_millis(300));
        let server = tokio::spawn(async move {
            let (mut connection, ()) = ws.establish(server_stream).await.unwrap();
            let mut pings = 0usize;
            while let Some(message) = connection.recv().await {
                assert!(matches!(message, Message::Ping(_)), "{message:?}");
                pings += 1;
            }
            (pings, connection.finish().unwrap())
        });
        let (mut reader, mut writer) = client.into_split();
        writer.write_all(handshake_request("/", "").as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(reader.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "));
        // 10,000 pings with 125-byte payloads (1.3 MB of pongs owed), and the client
        // never reads. The writer runs on its own: once the server stops reading, it may
        // block, and that is the client's problem.
        let flood = tokio::spawn(async move {
            let ping = frame(0x9, &[b'p'; 125]);
            for _ in 0..PINGS {
                if writer.write_all(&ping).await.is_err() {
                    break;
                }
            }
            writer
        });
        let (pings, finish) = server.await.unwrap();
        // The server answered pings while it could, then a pong could not be written
        // within the write timeout: the connection ended, abnormally, without a close
        // handshake and without queueing the remaining pongs.
        assert!(pings < PINGS, "the server kept receiving while owing {pings} pongs");
        assert_eq!(finish.code, 1006, "{finish:?}");
        assert!(!finish.clean);
        assert!(finish.error.as_deref().is_some_and(|e| e.contains("could not answer a ping")), "{finish:?}");
        flood.abort();
        drop(reader);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Early data through a bundled-server route
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn violations_in_early_data_through_a_route_upgrade() {
    within(async {
        let (tx, mut sessions) = mpsc::unbounded_channel::<Result<Session, EstablishError>>();
        let ws = WebSocketServer::new();
        let server = Server::builder()
            .host("127.0.0.1")
            .route("/ws", move |request: Request| {
                let (ws, tx) = (ws.clone(), tx.clone());
                async move {
                    ws.upgrade(&request, move |connection, ()| async move {
                        let _ = tx.send(Ok(run_session(connection).await));
                    })
                }
            })
            .start()
            .await
            .unwrap();
        let addr = server.local_addr();
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (raw_frame(0x81, b"unmasked", false), 1002),
            (frame(0x9, &[0u8; 126]), 1002),
            (frame(0x1, b"\xff"), 1007),
            (frame(0x8, &close_payload(1005, b"")), 1002),
            (declared_head(0x82, (1u64 << 63) - 1), 1009),
        ];
        for (early, code) in cases {
            // The bad frame rides in the same write as the handshake.
            let mut stream = raw_websocket(addr, "/ws", &early).await;
            assert_eq!(close_then_eof(&mut stream).await, code);
            let session = next_session(&mut sessions).await;
            assert_eq!(session.finish.code, code);
        }
        // The server is fine afterwards: a plain request is answered.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 404 "), "{}", String::from_utf8_lossy(&answer));
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Handshake floods
// ---------------------------------------------------------------------------------------

/// Sends `request` on a fresh connection; the status of the answer, after which the
/// server must have closed.
async fn handshake_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 "), "{text:?}");
    assert!(!text.contains("101 Switching"), "{text}");
    text[9..12].parse().unwrap()
}

#[tokio::test]
async fn a_thousand_invalid_handshakes_each_get_400_and_a_close() {
    within(async {
        let (addr, mut sessions) = listen(WebSocketServer::new()).await;
        let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let version = "Sec-WebSocket-Version: 13\r\n";
        let up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        let invalid: Vec<String> = vec![
            format!("GET / HTTP/1.1\r\nHost: a\r\n{up}{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\n{up}Sec-WebSocket-Key: short\r\n{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\n{up}Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\n{up}{key}{key}{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n{key}{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n{key}{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n{key}{version}\r\n"),
            format!("POST / HTTP/1.1\r\nHost: a\r\n{up}{key}{version}\r\n"),
            format!("GET / HTTP/1.0\r\nHost: a\r\n{up}{key}{version}\r\n"),
            format!("GET / HTTP/1.1\r\n{up}{key}{version}\r\n"),
            format!("GET / HTTP/1.1\r\nHost: a\r\n{up}{key}{version}Content-Length: 5\r\n\r\nhello"),
            format!("GET / HTTP/1.1\r\nHost: a\r\n{up}{key}{version}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            "GARBAGE\r\n\r\n".into(),
            "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n".into(),
        ];
        // Each shape once, to find out which ones the server refuses with what.
        let mut statuses = Vec::new();
        for request in &invalid {
            statuses.push(handshake_status(addr, request.as_bytes()).await);
        }
        for (request, status) in invalid.iter().zip(&statuses) {
            assert_eq!(*status, 400, "{request:?}");
        }
        // Then 1000 of them in sequence.
        for i in 0..1000 {
            let request = &invalid[i % invalid.len()];
            assert_eq!(handshake_status(addr, request.as_bytes()).await, 400, "#{i}: {request:?}");
        }
        // Each was reported as a rejection (none got through as a connection).
        let mut rejected = 0;
        while rejected < invalid.len() + 1000 {
            match sessions.recv().await.unwrap() {
                Err(EstablishError::Rejected(rejection)) => {
                    assert_eq!(rejection.status(), 400);
                    rejected += 1;
                }
                Err(other) => panic!("expected a rejection, got {other}"),
                Ok(session) => panic!("an invalid handshake was accepted: {session:?}"),
            }
        }
        // A version other than 13 gets 426 (with the version we speak).
        let request = format!("GET / HTTP/1.1\r\nHost: a\r\n{up}{key}Sec-WebSocket-Version: 8\r\n\r\n");
        assert_eq!(handshake_status(addr, request.as_bytes()).await, 426);
        // And a valid handshake still works.
        let mut stream = raw_websocket(addr, "/", &frame(0x1, b"still here")).await;
        assert_eq!(read_frame(&mut stream).await, (0x1, b"still here".to_vec()));
    })
    .await;
}

#[tokio::test]
async fn a_handshake_that_never_ends_is_408_or_431() {
    within(async {
        let (addr, mut sessions) =
            listen(WebSocketServer::new().handshake_timeout(Duration::from_millis(300))).await;
        // A head growing past the head limit: 400 (malformed request: head too large).
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        request.extend(format!("x-more: {}\r\n", "m".repeat(1014)).repeat(66).into_bytes());
        let _ = stream.write_all(&request).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(matches!(sessions.recv().await.unwrap(), Err(EstablishError::Rejected(_))));
        // A head that stops arriving: 408 after the handshake timeout.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        assert!(matches!(sessions.recv().await.unwrap(), Err(EstablishError::TimedOut)));
    })
    .await;
}
