//! Raw WebSocket client pieces for the ws test suites: the handshake request, hand-built
//! (masked or not) frames, and reading the server's frames.
#![allow(dead_code)] // each suite uses a different part

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn handshake_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

pub const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// A frame with the given first byte (FIN, RSV and opcode bits), masked unless `masked`
/// is false.
pub fn raw_frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut bytes = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => bytes.push(mask_bit | len as u8),
        len @ 126..=65535 => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        bytes.extend_from_slice(&KEY);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

/// Reads one server frame (servers never mask): FIN+opcode byte and payload.
pub async fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.expect("a frame head");
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => u64::from(stream.read_u16().await.unwrap()),
        127 => stream.read_u64().await.unwrap(),
        len => u64::from(len),
    };
    assert!(len <= 16 << 20, "an absurd frame from the server: {len}");
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x0f, payload)
}

/// Opens a raw WebSocket on `addr` (the 101 read and checked), with `early` bytes sent in
/// the same write as the handshake.
pub async fn raw_websocket(addr: SocketAddr, path: &str, early: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut bytes = handshake_request(path, "").into_bytes();
    bytes.extend_from_slice(early);
    stream.write_all(&bytes).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"), "{}", String::from_utf8_lossy(&head));
    stream
}

pub fn close_code(payload: &[u8]) -> u16 {
    assert!(payload.len() >= 2, "a close frame with a code: {payload:?}");
    u16::from_be_bytes([payload[0], payload[1]])
}
