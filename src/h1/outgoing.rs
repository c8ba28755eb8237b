//! Outgoing rules for both roles: does the connection persist, may a response carry a body,
//! how is an outgoing body framed (and its [`Encoder`]), and the two fixed messages
//! (`100 Continue` and a proxy's CONNECT request).
//!
//! Incoming framing is [`body_mode`](super::body_mode)'s job; this is the sending side of
//! the same rules, so a client upload and a server reply are framed by one decision.

use super::encode::{encode_chunk, LAST_CHUNK};
use super::write::{format_decimal, write_field};
use super::BodyMode;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Version};
use std::fmt;

/// The Connection tokens that decide persistence, gathered over all Connection fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionTokens {
    /// `close`: the sender ends the connection after this message.
    pub close: bool,
    /// `keep-alive`: an HTTP/1.0 sender asks to persist.
    pub keep_alive: bool,
}

impl ConnectionTokens {
    /// Adds the tokens of one Connection field value (a comma-separated list; tokens are
    /// compared case-insensitively). For a caller that walks a head's fields once itself.
    pub fn add(&mut self, value: &HeaderValue) {
        for token in value.as_bytes().split(|&b| b == b',') {
            let token = super::framing::trim_ows(token);
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }

    /// The tokens of every Connection field in `headers`.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut tokens = Self::default();
        for value in headers.get_all(header::CONNECTION) {
            tokens.add(value);
        }
        tokens
    }
}

/// Whether a connection may carry another message after this one, judged from the
/// message's version and Connection tokens (RFC 9112 §9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// It persists: HTTP/1.1 without `close`, or HTTP/1.0 with `keep-alive`.
    Yes,
    /// The message said `Connection: close`.
    SaidClose,
    /// An HTTP/1.0 message without `keep-alive`: 1.0 closes by default.
    Http10,
}

/// The persistence rule, the same for requests a server reads and responses a client
/// reads: HTTP/1.1 persists unless told `close`; HTTP/1.0 only when told `keep-alive`.
/// `close` wins over `keep-alive`.
pub fn keep_alive(version: Version, tokens: ConnectionTokens) -> KeepAlive {
    if tokens.close {
        KeepAlive::SaidClose
    } else if version == Version::HTTP_10 && !tokens.keep_alive {
        KeepAlive::Http10
    } else {
        KeepAlive::Yes
    }
}

/// True when a response to `request_method` with `status` may carry a body: not one to
/// HEAD, not 1xx, 204 or 304, and not a 2xx to CONNECT, which makes the connection a
/// tunnel (RFC 9112 §6.3, steps 1 and 2).
pub fn has_body(request_method: &Method, status: u16) -> bool {
    !(*request_method == Method::HEAD
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (*request_method == Method::CONNECT && (200..300).contains(&status)))
}

/// The message about to be sent, with what its framing depends on.
#[derive(Debug, Clone, Copy)]
pub enum Outgoing<'a> {
    /// A request (client).
    Request {
        /// Its method: POST, PUT and PATCH state `Content-Length: 0` for an empty body.
        method: &'a Method,
    },
    /// A reply to a request (server).
    Response {
        /// The request's method (HEAD and CONNECT change the rules).
        request_method: &'a Method,
        /// The request's version: an HTTP/1.0 client cannot read chunked bodies.
        request_version: Version,
        /// The reply's status.
        status: u16,
    },
}

/// The framing field a head states for its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingField {
    /// No framing field (no body, a close-delimited one, or one only the sender's own
    /// fields describe, as a 304's).
    None,
    /// `Content-Length: n`.
    ContentLength(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl FramingField {
    /// Appends the field (if any) to a head being written.
    pub fn write(&self, dst: &mut Vec<u8>) {
        match *self {
            Self::None => {}
            Self::ContentLength(length) => {
                write_field(dst, &header::CONTENT_LENGTH, format_decimal(&mut [0; 20], length));
            }
            Self::Chunked => write_field(dst, &header::TRANSFER_ENCODING, b"chunked"),
        }
    }
}

/// How an outgoing message's body goes on the wire, and what its head says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// What the body bytes are framed as (what [`encoder`](Self::encoder) does). `Empty`
    /// for a reply to HEAD even when [`field`](Self::field) states a length: that reply
    /// states the length a GET would get and sends none of it.
    pub mode: BodyMode,
    /// The framing field to write in the head.
    pub field: FramingField,
}

impl Framing {
    /// The encoder for this body.
    pub fn encoder(&self) -> Encoder {
        Encoder::new(self.mode)
    }

    /// True when the connection must end after this message: its body ends with it.
    pub fn closes(&self) -> bool {
        self.mode == BodyMode::CloseDelimited
    }

    /// Appends the framing field (if any) to a head being written.
    pub fn write_field(&self, dst: &mut Vec<u8>) {
        self.field.write(dst);
    }
}

/// Decides how an outgoing body is framed.
///
/// `complete`: the whole body is at hand, this many bytes (a body in memory). `declared`:
/// a body produced while it is sent, whose length is known up front (a file, a handler's
/// own Content-Length). Neither: a streamed body of unknown length.
///
/// - A request with a complete body states its length; an empty one states
///   `Content-Length: 0` only for POST, PUT and PATCH, whose semantics anticipate a body
///   (RFC 9110 §8.6). A streamed request goes with its declared length, else chunked.
/// - A reply that may not carry a body (see [`has_body`]) is `Empty`. Its head states no
///   length (RFC 9110 §8.6: none in 1xx and 204; a 2xx to CONNECT has no framing fields,
///   §9.3.6), except a reply to HEAD, which states the length a GET would get (the
///   complete body's, else the declared one), and a 304, which may repeat a declared one.
/// - A reply with a body: the complete length, else the declared one, else chunked for an
///   HTTP/1.1 client, else (HTTP/1.0 has no chunked coding) close-delimited.
pub fn framing(message: Outgoing<'_>, complete: Option<u64>, declared: Option<u64>) -> Framing {
    let length =
        |length| Framing { mode: BodyMode::Length(length), field: FramingField::ContentLength(length) };
    match message {
        Outgoing::Request { method } => match (complete, declared) {
            (Some(0), _) if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {
                Framing { mode: BodyMode::Empty, field: FramingField::None }
            }
            (Some(n), _) | (None, Some(n)) => length(n),
            (None, None) => Framing { mode: BodyMode::Chunked, field: FramingField::Chunked },
        },
        Outgoing::Response { request_method, request_version, status } => {
            if !has_body(request_method, status) {
                // A reply to HEAD states what a GET would get: nothing for 1xx, 204; a 304
                // only what its sender declared (the length the 200 would have).
                let head = *request_method == Method::HEAD && has_body(&Method::GET, status);
                let stated = match (head, complete) {
                    (false, _) if status == 304 => declared,
                    (false, _) => None,
                    (true, Some(n)) if n > 0 || declared.is_none() => Some(n),
                    (true, _) => declared,
                };
                let field = stated.map_or(FramingField::None, FramingField::ContentLength);
                return Framing { mode: BodyMode::Empty, field };
            }
            match complete.or(declared) {
                Some(n) => length(n),
                None if request_version == Version::HTTP_11 => {
                    Framing { mode: BodyMode::Chunked, field: FramingField::Chunked }
                }
                None => Framing { mode: BodyMode::CloseDelimited, field: FramingField::None },
            }
        }
    }
}

/// Why an outgoing body does not match its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// More bytes than the declared Content-Length.
    TooLong {
        /// The length the head stated.
        declared: u64,
    },
    /// The body ended before its declared Content-Length.
    TooShort {
        /// The bytes that were sent.
        sent: u64,
        /// The length the head stated.
        declared: u64,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { declared } => write!(f, "the body is longer than its declared {declared} bytes"),
            Self::TooShort { sent, declared } => {
                write!(f, "the body ended after {sent} of its declared {declared} bytes")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Frames an outgoing body piece by piece, and holds it to its framing: a body longer or
/// shorter than its Content-Length would desynchronise the peer, so it is an error.
#[derive(Debug, Clone)]
pub struct Encoder {
    mode: BodyMode,
    /// Payload bytes taken so far.
    sent: u64,
}

impl Encoder {
    /// An encoder for a body framed as `mode`.
    pub fn new(mode: BodyMode) -> Self {
        Self { mode, sent: 0 }
    }

    /// Appends `data`, framed, to `dst`: as it is for a length or close-delimited body, as
    /// one chunk for a chunked body (empty data appends nothing: an empty chunk would end
    /// the body), and not at all for an `Empty` one (a reply to HEAD, a 204: their bodies
    /// are never sent). Data beyond a declared length is refused and nothing is appended.
    pub fn encode(&mut self, dst: &mut Vec<u8>, data: &[u8]) -> Result<(), EncodeError> {
        let len = data.len() as u64;
        match self.mode {
            BodyMode::Empty => return Ok(()),
            BodyMode::Length(declared) if self.sent.saturating_add(len) > declared => {
                return Err(EncodeError::TooLong { declared });
            }
            BodyMode::Length(_) | BodyMode::CloseDelimited => dst.extend_from_slice(data),
            BodyMode::Chunked => encode_chunk(dst, data),
        }
        self.sent += len;
        Ok(())
    }

    /// Ends the body: appends the last chunk of a chunked body; a length body must have
    /// reached its length.
    pub fn finish(&mut self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.mode {
            BodyMode::Length(declared) if self.sent != declared => {
                Err(EncodeError::TooShort { sent: self.sent, declared })
            }
            BodyMode::Chunked => {
                dst.extend_from_slice(LAST_CHUNK);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Payload bytes encoded so far (framing not counted).
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// The interim response that tells a client waiting on `Expect: 100-continue` to send its
/// body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Appends `HTTP/1.1 100 Continue` and its blank line.
pub fn write_continue(dst: &mut Vec<u8>) {
    dst.extend_from_slice(CONTINUE);
}

/// Appends the CONNECT request that asks an HTTP proxy for a tunnel to `authority`
/// (`host:port`, IPv6 literals in brackets: from a parsed URL, so it holds no spaces or
/// controls), with the proxy's credentials if given. The only request a proxy sees for an
/// https URL: nothing of the origin request goes into it.
pub fn write_connect_request(dst: &mut Vec<u8>, authority: &str, proxy_authorization: Option<&HeaderValue>) {
    debug_assert!(!authority.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()));
    dst.extend_from_slice(b"CONNECT ");
    dst.extend_from_slice(authority.as_bytes());
    dst.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    dst.extend_from_slice(authority.as_bytes());
    dst.extend_from_slice(b"\r\n");
    if let Some(value) = proxy_authorization {
        dst.extend_from_slice(b"Proxy-Authorization: ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::{
        body_mode, parse_request_head, parse_response_head, BodyDecoder, BodyEvent, MessageKind,
    };
    use bytes::BytesMut;

    fn tokens(values: &[&'static str]) -> ConnectionTokens {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::CONNECTION, HeaderValue::from_static(value));
        }
        ConnectionTokens::of(&headers)
    }

    #[test]
    fn persistence_follows_version_and_tokens() {
        use KeepAlive::*;
        let v11 = Version::HTTP_11;
        let v10 = Version::HTTP_10;
        assert_eq!(keep_alive(v11, tokens(&[])), Yes);
        assert_eq!(keep_alive(v11, tokens(&["Close"])), SaidClose);
        assert_eq!(keep_alive(v11, tokens(&["TE, close"])), SaidClose);
        assert_eq!(keep_alive(v11, tokens(&["keep-alive", " close "])), SaidClose);
        assert_eq!(keep_alive(v11, tokens(&["closed"])), Yes);
        assert_eq!(keep_alive(v10, tokens(&[])), Http10);
        assert_eq!(keep_alive(v10, tokens(&["Keep-Alive"])), Yes);
        assert_eq!(keep_alive(v10, tokens(&["keep-alive, close"])), SaidClose);
    }

    #[test]
    fn which_responses_have_bodies() {
        for status in [100, 101, 199, 204, 304] {
            assert!(!has_body(&Method::GET, status), "{status}");
        }
        for status in [200, 201, 205, 299, 300, 404, 500] {
            assert!(has_body(&Method::GET, status), "{status}");
        }
        assert!(!has_body(&Method::HEAD, 200));
        assert!(!has_body(&Method::CONNECT, 200));
        assert!(has_body(&Method::CONNECT, 407));
    }

    fn request(method: &Method, complete: Option<u64>, declared: Option<u64>) -> Framing {
        framing(Outgoing::Request { method }, complete, declared)
    }

    fn reply(
        method: &Method,
        version: Version,
        status: u16,
        complete: Option<u64>,
        declared: Option<u64>,
    ) -> Framing {
        framing(
            Outgoing::Response { request_method: method, request_version: version, status },
            complete,
            declared,
        )
    }

    fn of(mode: BodyMode, field: FramingField) -> Framing {
        Framing { mode, field }
    }

    #[test]
    fn request_framing() {
        use BodyMode::*;
        use FramingField::{Chunked as Te, ContentLength as Cl};
        assert_eq!(request(&Method::GET, Some(0), None), of(Empty, FramingField::None));
        assert_eq!(request(&Method::DELETE, Some(0), None), of(Empty, FramingField::None));
        for method in [Method::POST, Method::PUT, Method::PATCH] {
            assert_eq!(request(&method, Some(0), None), of(Length(0), Cl(0)), "{method}");
        }
        assert_eq!(request(&Method::GET, Some(5), None), of(Length(5), Cl(5)));
        assert_eq!(request(&Method::POST, None, Some(7)), of(Length(7), Cl(7)));
        assert_eq!(request(&Method::GET, None, Some(0)), of(Length(0), Cl(0)));
        assert_eq!(request(&Method::POST, None, None), of(Chunked, Te));
    }

    #[test]
    fn reply_framing() {
        use BodyMode::*;
        use FramingField::{Chunked as Te, ContentLength as Cl, None as No};
        let (get, head, connect) = (Method::GET, Method::HEAD, Method::CONNECT);
        let (v11, v10) = (Version::HTTP_11, Version::HTTP_10);
        assert_eq!(reply(&get, v11, 200, Some(13), None), of(Length(13), Cl(13)));
        assert_eq!(reply(&get, v11, 200, Some(0), Some(99)), of(Length(0), Cl(0)), "complete beats declared");
        assert_eq!(reply(&get, v11, 200, None, Some(99)), of(Length(99), Cl(99)));
        assert_eq!(reply(&get, v11, 200, None, None), of(Chunked, Te));
        assert_eq!(reply(&get, v10, 200, None, None), of(CloseDelimited, No));
        assert!(reply(&get, v10, 200, None, None).closes());
        assert_eq!(reply(&get, v10, 200, None, Some(4)), of(Length(4), Cl(4)));
        for status in [100, 204, 304] {
            assert_eq!(reply(&get, v11, status, Some(5), None), of(Empty, No), "{status}");
        }
        assert_eq!(reply(&get, v11, 304, Some(0), Some(42)), of(Empty, Cl(42)), "a 304 repeats the length");
        assert_eq!(reply(&get, v11, 204, Some(0), Some(42)), of(Empty, No), "a 204 states none");
        assert_eq!(reply(&connect, v11, 200, Some(5), None), of(Empty, No));
        assert_eq!(reply(&connect, v11, 407, Some(5), None), of(Length(5), Cl(5)));
        // HEAD states what a GET would get, and sends nothing.
        assert_eq!(reply(&head, v11, 200, Some(42), None), of(Empty, Cl(42)));
        assert_eq!(reply(&head, v11, 200, Some(0), Some(42)), of(Empty, Cl(42)));
        assert_eq!(reply(&head, v11, 200, Some(0), None), of(Empty, Cl(0)));
        assert_eq!(reply(&head, v11, 200, None, Some(7)), of(Empty, Cl(7)));
        assert_eq!(reply(&head, v11, 200, None, None), of(Empty, No));
        assert_eq!(reply(&head, v11, 204, Some(3), None), of(Empty, No));
    }

    #[test]
    fn framing_fields_are_written_exactly() {
        let mut dst = Vec::new();
        request(&Method::POST, Some(0), None).write_field(&mut dst);
        request(&Method::POST, None, None).write_field(&mut dst);
        request(&Method::GET, Some(0), None).write_field(&mut dst);
        assert_eq!(dst, b"content-length: 0\r\ntransfer-encoding: chunked\r\n");
    }

    /// Encodes `pieces`, then decodes the result whole and one byte at a time with the
    /// incoming decoder for `mode`: both must give back the pieces' bytes.
    fn round_trip(mode: BodyMode, pieces: &[&[u8]]) -> Vec<u8> {
        let mut encoder = Encoder::new(mode);
        let mut wire = Vec::new();
        for piece in pieces {
            encoder.encode(&mut wire, piece).unwrap();
        }
        encoder.finish(&mut wire).unwrap();
        assert_eq!(encoder.sent(), pieces.iter().map(|piece| piece.len() as u64).sum::<u64>());
        let decode = |chunks: Vec<&[u8]>| {
            let mut decoder = BodyDecoder::new(mode);
            let mut buf = BytesMut::new();
            let mut body = Vec::new();
            for chunk in chunks {
                buf.extend_from_slice(chunk);
                while let Some(event) = decoder.decode(&mut buf).unwrap() {
                    match event {
                        BodyEvent::Data(data) => body.extend_from_slice(&data),
                        BodyEvent::End(_) => return (body, buf.len()),
                    }
                }
            }
            decoder.decode_eof().unwrap();
            (body, buf.len())
        };
        let whole = decode(vec![&wire[..]]);
        let bytewise = decode(wire.chunks(1).collect());
        assert_eq!(whole, bytewise, "whole and byte-at-a-time disagree");
        assert_eq!(whole.1, 0, "nothing left over");
        whole.0
    }

    #[test]
    fn encoded_bodies_decode_back() {
        let pieces: &[&[u8]] = &[b"hello ", b"", b"wor", b"ld"];
        assert_eq!(round_trip(BodyMode::Chunked, pieces), b"hello world");
        assert_eq!(round_trip(BodyMode::Length(11), pieces), b"hello world");
        assert_eq!(round_trip(BodyMode::CloseDelimited, pieces), b"hello world");
        assert_eq!(round_trip(BodyMode::Length(0), &[]), b"");
        let mut wire = Vec::new();
        let mut chunked = Encoder::new(BodyMode::Chunked);
        chunked.encode(&mut wire, b"abc").unwrap();
        chunked.finish(&mut wire).unwrap();
        assert_eq!(wire, b"3\r\nabc\r\n0\r\n\r\n");
    }

    #[test]
    fn an_empty_body_sends_nothing() {
        let mut wire = Vec::new();
        let mut empty = Encoder::new(BodyMode::Empty);
        empty.encode(&mut wire, b"never sent").unwrap();
        empty.finish(&mut wire).unwrap();
        assert!(wire.is_empty());
    }

    #[test]
    fn a_body_must_match_its_declared_length() {
        let mut wire = Vec::new();
        let mut encoder = Encoder::new(BodyMode::Length(5));
        encoder.encode(&mut wire, b"abc").unwrap();
        assert_eq!(encoder.encode(&mut wire, b"def"), Err(EncodeError::TooLong { declared: 5 }));
        assert_eq!(wire, b"abc", "refused data is not appended");
        assert_eq!(encoder.finish(&mut wire), Err(EncodeError::TooShort { sent: 3, declared: 5 }));
        encoder.encode(&mut wire, b"de").unwrap();
        assert_eq!(encoder.finish(&mut wire), Ok(()));
        assert_eq!(
            EncodeError::TooLong { declared: 5 }.to_string(),
            "the body is longer than its declared 5 bytes"
        );
        assert_eq!(
            EncodeError::TooShort { sent: 3, declared: 5 }.to_string(),
            "the body ended after 3 of its declared 5 bytes"
        );
    }

    #[test]
    fn the_fixed_messages_are_exact_and_parse_back() {
        let mut dst = Vec::new();
        write_continue(&mut dst);
        assert_eq!(dst, b"HTTP/1.1 100 Continue\r\n\r\n");
        for piece in [dst.len(), 1] {
            // Whole, and one byte at a time: complete only with the last byte.
            let mut fed = Vec::new();
            let mut head = None;
            for bytes in dst.chunks(piece) {
                assert!(head.is_none());
                fed.extend_from_slice(bytes);
                head = parse_response_head(&fed).unwrap();
            }
            let (head, len) = head.unwrap();
            assert_eq!((head.status.as_u16(), len), (100, dst.len()));
        }

        let mut dst = Vec::new();
        let credentials = HeaderValue::from_static("Basic dXNlcjpzM2NyM3Q=");
        write_connect_request(&mut dst, "192.0.2.1:8443", Some(&credentials));
        assert_eq!(
            dst,
            b"CONNECT 192.0.2.1:8443 HTTP/1.1\r\nHost: 192.0.2.1:8443\r\n\
              Proxy-Authorization: Basic dXNlcjpzM2NyM3Q=\r\n\r\n"
        );
        let (head, len) = parse_request_head(&dst).unwrap().unwrap();
        assert_eq!((head.method, head.target.as_str(), len), (Method::CONNECT, "192.0.2.1:8443", dst.len()));
        assert_eq!(body_mode(MessageKind::Request, head.version, &head.headers), Ok(BodyMode::Empty));
        let mut bare = Vec::new();
        write_connect_request(&mut bare, "[::1]:443", None);
        assert_eq!(bare, b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
    }
}
