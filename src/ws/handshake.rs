//! The opening handshake of RFC 6455 §4.2, sans-IO: check a request head, build the 101
//! (or the refusal) as bytes. Both ways to establish a connection share this code.

use crate::h1::{self, RequestHead};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use std::fmt;

/// The only protocol version RFC 6455 defines (§4.1); others get 426 naming it.
const SUPPORTED_VERSION: &str = "13";

/// A WebSocket handshake request as the handshake hook sees it: the target, the headers,
/// and the values a server usually decides on (Origin, offered subprotocols).
///
/// ```
/// # use courier::ws::{HandshakeRequest, HandshakeResponse, Rejection};
/// fn hook(request: &HandshakeRequest, response: &mut HandshakeResponse) -> Result<(), Rejection> {
///     if request.origin() != Some("http://127.0.0.1:8080") {
///         return Err(Rejection::new("unknown origin").with_status(403));
///     }
///     if request.subprotocols().contains(&"chat") {
///         response.set_subprotocol("chat");
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct HandshakeRequest {
    head: RequestHead,
}

impl HandshakeRequest {
    pub(crate) fn new(head: RequestHead) -> Self {
        Self { head }
    }

    /// The request method (always GET once the handshake is valid).
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The request target as sent, e.g. `/chat?room=1` (AnyEvent::WebSocket::Server's `resource_name`).
    pub fn target(&self) -> &str {
        &self.head.target
    }

    /// The target's path, e.g. `/chat`.
    pub fn path(&self) -> &str {
        self.head.split_target().0
    }

    /// The target's query without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.head.split_target().1
    }

    /// The decoded query parameters, in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        self.query().map(|query| crate::percent::decode_form(query).collect()).unwrap_or_default()
    }

    /// All header fields (names lowercase).
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The first value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)?.to_str().ok()
    }

    /// The `Origin` a browser sends (RFC 6455 §10.2): check it to refuse other sites.
    pub fn origin(&self) -> Option<&str> {
        self.header("origin")
    }

    /// The subprotocols the client offers, in its order of preference
    /// (`Sec-WebSocket-Protocol`, all fields, comma-separated).
    pub fn subprotocols(&self) -> Vec<&str> {
        list(&self.head.headers, header::SEC_WEBSOCKET_PROTOCOL)
    }

    /// The extensions the client offers (`Sec-WebSocket-Extensions`). None are accepted:
    /// the server answers without extensions, which RFC 6455 allows.
    pub fn extensions(&self) -> Vec<&str> {
        list(&self.head.headers, header::SEC_WEBSOCKET_EXTENSIONS)
    }
}

/// The values of every field `name`, split at commas and trimmed.
fn list(headers: &HeaderMap, name: HeaderName) -> Vec<&str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect()
}

/// The 101 the server is about to send. The handshake hook may choose a subprotocol and
/// add headers; the headers that make it a WebSocket handshake (Upgrade, Connection,
/// Sec-WebSocket-Accept) are always set by the server and cannot be changed.
#[derive(Debug, Clone, Default)]
pub struct HandshakeResponse {
    subprotocol: Option<String>,
    headers: HeaderMap,
}

impl HandshakeResponse {
    /// Chooses the subprotocol (`Sec-WebSocket-Protocol`). It should be one the client
    /// offered ([`HandshakeRequest::subprotocols`]): clients close the connection otherwise.
    pub fn set_subprotocol(&mut self, protocol: &str) -> &mut Self {
        self.subprotocol = Some(protocol.to_owned());
        self
    }

    /// The chosen subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Adds a header to the 101. Invalid names or values are ignored (like the bundled
    /// server's `Reply::with_header`), and so is `Sec-WebSocket-Extensions`: no extension
    /// is implemented.
    pub fn add_header(&mut self, name: &str, value: &str) -> &mut Self {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            self.headers.append(name, value);
        }
        self
    }

    /// The extra headers added so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The complete header block of the 101 for a request whose key is `key`.
    pub(crate) fn into_headers(self, key: &str) -> HeaderMap {
        let mut headers = self.headers;
        // Extensions are not implemented, so none may be announced.
        for name in [
            header::UPGRADE,
            header::CONNECTION,
            header::SEC_WEBSOCKET_ACCEPT,
            header::SEC_WEBSOCKET_EXTENSIONS,
        ] {
            headers.remove(name);
        }
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        if let Ok(accept) = HeaderValue::try_from(accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
        if let Some(protocol) = self.subprotocol.and_then(|p| HeaderValue::try_from(p).ok()) {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        headers
    }
}

/// The handshake hook's refusal: the status (400 unless changed), headers and body the
/// client gets instead of the 101.
///
/// ```
/// # use courier::ws::Rejection;
/// let rejection = Rejection::new("no such room").with_status(404).with_header("x-reason", "room");
/// assert_eq!(rejection.status(), 404);
/// assert_eq!(rejection.body(), "no such room");
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    status: StatusCode,
    // Boxed: a rejection travels in `Result`s, which stay small.
    headers: Box<HeaderMap>,
    body: String,
}

impl Rejection {
    /// A 400 with `body` as its text.
    pub fn new(body: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, headers: Box::default(), body: body.into() }
    }

    /// Another status (a 4xx or 5xx; anything else becomes 400, as a refusal must not
    /// look like success).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::BAD_REQUEST);
        self
    }

    /// Adds a header (invalid names or values are ignored).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            self.headers.append(name, value);
        }
        self
    }

    /// The status sent.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The body sent (as `text/plain`).
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The headers added with [`Rejection::with_header`].
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The complete refusal: the status line, headers with length and `Connection:
    /// close`, and the body.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut headers = HeaderMap::clone(&self.headers);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        let mut bytes = Vec::with_capacity(128 + self.body.len());
        let reason = self.status.canonical_reason().unwrap_or("");
        h1::write_response_head(&mut bytes, Version::HTTP_11, self.status, reason, &headers);
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body)
    }
}

/// Checks a request against RFC 6455 §4.2.1. The key on success; otherwise the refusal
/// (400, or 426 naming version 13 for another version).
pub(crate) fn validate(head: &RequestHead) -> Result<String, Rejection> {
    let headers = &head.headers;
    if head.method != Method::GET {
        return Err(Rejection::new("a WebSocket handshake must be a GET"));
    }
    if head.version != Version::HTTP_11 {
        return Err(Rejection::new("a WebSocket handshake needs HTTP/1.1"));
    }
    if headers.get_all(header::HOST).iter().count() != 1 {
        return Err(Rejection::new("a WebSocket handshake needs exactly one Host header"));
    }
    if !h1::list_has_token(headers.get_all(header::UPGRADE), "websocket") {
        return Err(Rejection::new("missing `Upgrade: websocket`"));
    }
    if !h1::list_has_token(headers.get_all(header::CONNECTION), "upgrade") {
        return Err(Rejection::new("missing `Connection: Upgrade`"));
    }
    // Bytes after the head are WebSocket frames: a body would be read as one.
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|length| length.as_bytes() != b"0");
    if has_body {
        return Err(Rejection::new("a WebSocket handshake has no body"));
    }
    let keys: Vec<&HeaderValue> = headers.get_all(header::SEC_WEBSOCKET_KEY).iter().collect();
    let key = match keys.as_slice() {
        [key] if crate::base64::decode(key.as_bytes()).is_some_and(|nonce| nonce.len() == 16) => key,
        _ => return Err(Rejection::new("Sec-WebSocket-Key must be one base64-encoded 16-byte value")),
    };
    let versions: Vec<&HeaderValue> = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter().collect();
    if !matches!(versions.as_slice(), [version] if version.as_bytes() == SUPPORTED_VERSION.as_bytes()) {
        return Err(Rejection::new("unsupported WebSocket version; this server speaks 13")
            .with_status(426)
            .with_header("sec-websocket-version", SUPPORTED_VERSION));
    }
    // The key is base64, hence visible ASCII.
    Ok(String::from_utf8_lossy(key.as_bytes()).into_owned())
}

/// The 101's bytes: status line and `headers`.
pub(crate) fn switching_protocols(headers: &HeaderMap) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    let status = StatusCode::SWITCHING_PROTOCOLS;
    h1::write_response_head(&mut bytes, Version::HTTP_11, status, "Switching Protocols", headers);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> RequestHead {
        let raw = raw.replace('\n', "\r\n") + "\r\n";
        h1::parse_request_head(raw.as_bytes()).unwrap().unwrap().0
    }

    const VALID: &str =
        "GET /chat?x=1 HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: keep-alive, Upgrade\n\
                         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n";

    #[test]
    fn the_rfc_sample_key_gets_the_rfc_accept_value() {
        let key = validate(&head(VALID)).unwrap();
        let headers = HandshakeResponse::default().into_headers(&key);
        assert_eq!(headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["connection"], "Upgrade");
        let bytes = switching_protocols(&headers);
        assert!(bytes.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"), "{bytes:?}");
    }

    #[test]
    fn invalid_handshakes_are_400_and_other_versions_426() {
        let cases = [
            (VALID.replace("GET", "POST"), 400),
            (VALID.replace("HTTP/1.1", "HTTP/1.0"), 400),
            (VALID.replace("Host: h\n", ""), 400),
            (VALID.replace("Upgrade: websocket\n", ""), 400),
            (VALID.replace("Upgrade: websocket", "Upgrade: h2c"), 400),
            (VALID.replace("keep-alive, Upgrade", "keep-alive"), 400),
            (VALID.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), 400),
            (VALID.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64 at all!!!!!!!"), 400),
            (VALID.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n", ""), 400),
            (VALID.to_string() + "Content-Length: 5\n", 400),
            (VALID.replace("Version: 13", "Version: 8"), 426),
            (VALID.replace("Sec-WebSocket-Version: 13\n", ""), 426),
        ];
        for (raw, status) in cases {
            let refusal = validate(&head(&raw)).unwrap_err();
            assert_eq!(refusal.status(), status, "{raw}");
            if status == 426 {
                assert_eq!(refusal.headers()["sec-websocket-version"], "13");
            }
        }
        // Tokens are case-insensitive and may share a field with others.
        let mixed = VALID.replace("Upgrade: websocket", "Upgrade: foo, WebSocket");
        assert!(validate(&head(&mixed)).is_ok());
    }

    #[test]
    fn offered_subprotocols_and_the_chosen_one() {
        let raw = VALID.to_string() + "Sec-WebSocket-Protocol: chat, superchat\nSec-WebSocket-Protocol: v2\n";
        let request = HandshakeRequest::new(head(&raw));
        assert_eq!(request.subprotocols(), ["chat", "superchat", "v2"]);
        assert_eq!((request.path(), request.query()), ("/chat", Some("x=1")));
        let mut response = HandshakeResponse::default();
        response.set_subprotocol("superchat").add_header("x-room", "7").add_header("bad name", "x");
        // The hook cannot break the handshake headers.
        response.add_header("upgrade", "h2c");
        let headers = response.into_headers("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(headers["sec-websocket-protocol"], "superchat");
        assert_eq!(headers["x-room"], "7");
        assert_eq!(headers.get_all("upgrade").iter().count(), 1);
        assert_eq!(headers["upgrade"], "websocket");
        assert!(!headers.contains_key("bad name"));
    }

    #[test]
    fn a_rejection_is_a_complete_closing_reply() {
        let bytes = Rejection::new("no").with_status(403).to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{text}");
        assert!(text.contains("content-length: 2\r\n") && text.contains("connection: close\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nno"), "{text}");
        assert_eq!(Rejection::new("x").with_status(200).status(), 400);
    }
}
