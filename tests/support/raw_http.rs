//! A raw HTTP/1.1 client for the server suites: exact bytes out, exact bytes in, and a
//! small response parser (Content-Length, chunked, and close-delimited at EOF).
#![allow(dead_code)] // each suite uses a different part

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response as it came off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Every byte of the response, head and framed body.
    pub raw: Vec<u8>,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Header fields in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The body exactly as framed on the wire (chunk sizes included).
    pub wire_body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Connection: close` (any case).
    pub fn closes(&self) -> bool {
        self.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn find_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|at| at + from)
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find_from(haystack, needle, 0).is_some()
}

/// Parses one response from the start of `buf`: the response and the bytes it took, or
/// `None` while incomplete. `eof`: the peer closed, which ends a close-delimited body
/// (without it, a response with neither Content-Length nor chunked framing stays
/// incomplete).
pub fn parse_one(buf: &[u8], head_request: bool, eof: bool) -> Option<(RawResponse, usize)> {
    let head_end = find_from(buf, b"\r\n\r\n", 0)? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("a UTF-8 response head");
    let mut lines = head.split("\r\n");
    let mut status_line = lines.next().unwrap_or_default().splitn(3, ' ');
    let version = status_line.next().unwrap_or_default().to_owned();
    let status: u16 = status_line.next().and_then(|s| s.parse().ok()).expect("a numeric status");
    let reason = status_line.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header field");
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut res = RawResponse {
        raw: Vec::new(),
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
        wire_body: Vec::new(),
    };
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let end = if no_body {
        head_end
    } else if res.header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        let mut at = head_end;
        loop {
            let line_end = find_from(buf, b"\r\n", at)?;
            let line = std::str::from_utf8(&buf[at..line_end]).expect("a chunk size line");
            let size = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            at = line_end + 2;
            if size == 0 {
                // Trailer fields, until an empty line.
                loop {
                    let field_end = find_from(buf, b"\r\n", at)?;
                    let empty = field_end == at;
                    at = field_end + 2;
                    if empty {
                        break;
                    }
                }
                break at;
            }
            if buf.len() < at + size + 2 {
                return None;
            }
            res.body.extend_from_slice(&buf[at..at + size]);
            assert_eq!(&buf[at + size..at + size + 2], b"\r\n", "chunk data must end with CRLF");
            at += size + 2;
        }
    } else if let Some(length) = res.header("content-length") {
        let length: usize = length.parse().expect("a numeric content-length");
        if buf.len() < head_end + length {
            return None;
        }
        res.body = buf[head_end..head_end + length].to_vec();
        head_end + length
    } else {
        if !eof {
            return None;
        }
        res.body = buf[head_end..].to_vec();
        buf.len()
    };
    res.wire_body = buf[head_end..end].to_vec();
    res.raw = buf[..end].to_vec();
    Some((res, end))
}

/// A raw TCP client that writes exact bytes and parses what comes back.
pub struct RawClient {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
    /// Whether a response without Content-Length or chunked framing may end at EOF
    /// (false: such a response fails the read, for servers that always frame replies).
    close_delimited: bool,
}

impl RawClient {
    #[cfg(feature = "server")]
    pub async fn connect(server: &courier::server::Server) -> Self {
        Self::to(server.local_addr()).await
    }

    pub async fn to(addr: SocketAddr) -> Self {
        Self::over(TcpStream::connect(addr).await.expect("connect to the server"))
    }

    /// For a server that frames every reply: a close-delimited response is a failure.
    pub async fn framed(addr: SocketAddr) -> Self {
        Self { close_delimited: false, ..Self::to(addr).await }
    }

    /// With a small, fixed receive buffer: the server soon has to wait for the reader.
    pub async fn with_small_receive_buffer(addr: SocketAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        Self::over(socket.connect(addr).await.expect("connect to the server"))
    }

    /// Over a stream that is already connected.
    pub fn over(stream: TcpStream) -> Self {
        Self { stream, buf: Vec::new(), close_delimited: true }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).await.expect("write to the server");
    }

    /// Writes, ignoring errors (the server may already have answered and closed).
    pub async fn send_lossy(&mut self, bytes: impl AsRef<[u8]>) {
        let _ = self.stream.write_all(bytes.as_ref()).await;
    }

    /// Reads once more; false on EOF or error.
    pub async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    pub async fn response(&mut self) -> RawResponse {
        self.read_response(false).await
    }

    /// A response to HEAD: no body whatever the head says.
    pub async fn head_response(&mut self) -> RawResponse {
        self.read_response(true).await
    }

    pub async fn read_response(&mut self, head_request: bool) -> RawResponse {
        let mut eof = false;
        loop {
            if let Some((res, used)) = parse_one(&self.buf, head_request, eof && self.close_delimited) {
                self.buf.drain(..used);
                return res;
            }
            assert!(!eof, "the connection closed before a complete response: {:?}", lossy(&self.buf));
            eof = !self.fill().await;
        }
    }

    /// Only the head; the body stays to be read.
    pub async fn read_head(&mut self) -> RawResponse {
        loop {
            if let Some(at) = find_from(&self.buf, b"\r\n\r\n", 0) {
                let (res, used) = parse_one(&self.buf[..at + 4], true, false).expect("a response head");
                self.buf.drain(..used);
                return res;
            }
            assert!(self.fill().await, "the connection closed before a head: {:?}", lossy(&self.buf));
        }
    }

    pub async fn request(&mut self, bytes: impl AsRef<[u8]>) -> RawResponse {
        self.send(bytes).await;
        self.response().await
    }

    /// Exactly `n` bytes.
    pub async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "the connection closed after {:?}", lossy(&self.buf));
        }
        self.buf.drain(..n).collect()
    }

    /// Everything until the server closes (a reset counts as the end).
    pub async fn rest(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }

    /// Everything until the server closes, and how it closed: `Ok` at a clean EOF, `Err`
    /// with what came before a reset (or any other read error).
    pub async fn until_closed(&mut self) -> Result<Vec<u8>, (std::io::Error, Vec<u8>)> {
        let mut got = std::mem::take(&mut self.buf);
        let mut piece = vec![0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut piece).await {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&piece[..n]),
                Err(error) => return Err((error, got)),
            }
        }
    }

    /// The server closes without sending anything more.
    pub async fn assert_closed(&mut self) {
        let rest = self.rest().await;
        assert!(rest.is_empty(), "expected the server to close, got {:?}", lossy(&rest));
    }

    /// Nothing buffered and nothing waiting on the socket right now.
    pub fn nothing_pending(&self) -> bool {
        let mut probe = [0u8; 1];
        self.buf.is_empty()
            && matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// No byte arrives within `wait` (for "nothing is sent" checks; a correct server never
    /// sends, so this cannot flake).
    pub async fn silent_for(&mut self, wait: Duration) -> bool {
        self.buf.is_empty() && tokio::time::timeout(wait, self.fill()).await.is_err()
    }

    /// Writes `bytes` one at a time, `every` apart, until the server answers; then reads
    /// until it closes. Returns what the server sent and how many bytes went out.
    pub async fn trickle(&mut self, bytes: &[u8], every: Duration) -> (Vec<u8>, usize) {
        let (mut reader, mut writer) = self.stream.split();
        let mut got = std::mem::take(&mut self.buf);
        let mut piece = [0u8; 4096];
        let mut next = 0;
        let mut ticker = tokio::time::interval(every);
        loop {
            tokio::select! {
                read = reader.read(&mut piece) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&piece[..n]),
                },
                _ = ticker.tick(), if got.is_empty() && next < bytes.len() => {
                    let _ = writer.write_all(&bytes[next..next + 1]).await;
                    next += 1;
                }
            }
        }
        (got, next)
    }

    /// Closes with a TCP reset instead of a FIN.
    pub fn reset(self) {
        #[allow(deprecated)] // a zero linger never blocks
        let _ = self.stream.set_linger(Some(Duration::ZERO));
        drop(self);
    }
}

pub const HOST: &str = "courier.test";

pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n")
}

pub fn get_close(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n")
}

pub fn head(path: &str) -> String {
    format!("HEAD {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n")
}

pub fn post(path: &str, body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}
