//! Writes request lines, status lines and header fields into a byte buffer.
//!
//! Names and values arrive as `http` types, which already refuse CR, LF, NUL and other
//! control bytes, so nothing written here can split a head.

use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

/// Appends `METHOD target HTTP/1.1`, the header fields and the blank line to `dst`.
///
/// `target` must be a valid request target (the caller builds it from a parsed URL).
pub fn write_request_head<'a>(
    dst: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) {
    write_request_line(dst, method, target);
    write_fields(dst, headers);
}

/// Appends `METHOD target HTTP/1.1` and its line end: the start of a request head whose
/// fields the caller writes with [`write_field`], then [`end_head`].
pub fn write_request_line(dst: &mut Vec<u8>, method: &Method, target: &str) {
    debug_assert!(!target.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()));
    dst.extend_from_slice(method.as_str().as_bytes());
    dst.push(b' ');
    dst.extend_from_slice(target.as_bytes());
    dst.extend_from_slice(b" HTTP/1.1\r\n");
}

/// Appends one `name: value` field. `value` must be a valid field value: the bytes of a
/// `HeaderValue`, or text that comes from a parsed URL (which cannot hold CR, LF or NUL).
pub fn write_field(dst: &mut Vec<u8>, name: &HeaderName, value: &[u8]) {
    debug_assert!(!value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0));
    dst.extend_from_slice(name.as_str().as_bytes());
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// `n` in decimal, written into `buffer` (20 bytes hold any u64): a Content-Length
/// without a `HeaderValue` (which would allocate) or a formatter.
pub fn format_decimal(buffer: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[start..];
        }
    }
}

/// Appends the blank line that ends a head.
pub fn end_head(dst: &mut Vec<u8>) {
    dst.extend_from_slice(b"\r\n");
}

/// Appends `HTTP/1.x status reason`, the header fields and the blank line to `dst`.
///
/// A reason phrase with control characters is replaced by the status's canonical one,
/// so a handler's text can never break the status line.
pub fn write_response_head<'a>(
    dst: &mut Vec<u8>,
    version: Version,
    status: StatusCode,
    reason: &str,
    headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) {
    write_status_line(dst, version, status, reason);
    write_fields(dst, headers);
}

/// Appends `HTTP/1.x status reason` and its line end: the start of a response head whose
/// fields the caller writes with [`write_field`], then [`end_head`]. A reason phrase with
/// control characters is replaced by the status's canonical one.
pub fn write_status_line(dst: &mut Vec<u8>, version: Version, status: StatusCode, reason: &str) {
    let version = if version == Version::HTTP_10 { "HTTP/1.0 " } else { "HTTP/1.1 " };
    dst.extend_from_slice(version.as_bytes());
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.push(b' ');
    let reason = if reason.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        status.canonical_reason().unwrap_or("")
    } else {
        reason
    };
    dst.extend_from_slice(reason.as_bytes());
    dst.extend_from_slice(b"\r\n");
}

fn write_fields<'a>(dst: &mut Vec<u8>, headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>) {
    for (name, value) in headers {
        write_field(dst, name, value.as_bytes());
    }
    end_head(dst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::{parse_request_head, parse_response_head};
    use http::HeaderMap;

    #[test]
    fn request_head_bytes_are_exact_and_parse_back() {
        let fields = [
            (HeaderName::from_static("host"), HeaderValue::from_static("example.test")),
            (HeaderName::from_static("x-a"), HeaderValue::from_static("1")),
        ];
        let mut out = Vec::new();
        write_request_head(&mut out, &Method::GET, "/p?q=1", fields.iter().map(|(n, v)| (n, v)));
        assert_eq!(out, b"GET /p?q=1 HTTP/1.1\r\nhost: example.test\r\nx-a: 1\r\n\r\n");
        let (head, len) = parse_request_head(&out).unwrap().unwrap();
        assert_eq!(len, out.len());
        assert_eq!(head.target, "/p?q=1");
        assert_eq!(head.headers["x-a"], "1");
    }

    #[test]
    fn response_head_bytes_are_exact_and_parse_back() {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", HeaderValue::from_static("0"));
        let mut out = Vec::new();
        write_response_head(&mut out, Version::HTTP_11, StatusCode::NOT_FOUND, "Nope", &headers);
        assert_eq!(out, b"HTTP/1.1 404 Nope\r\ncontent-length: 0\r\n\r\n");
        let (head, _) = parse_response_head(&out).unwrap().unwrap();
        assert_eq!(head.reason, "Nope");
    }

    #[test]
    fn lengths_are_written_in_decimal() {
        for n in [0, 7, 10, 13, 1_000, 65_536, u64::MAX] {
            let mut buffer = [0u8; 20];
            assert_eq!(format_decimal(&mut buffer, n), n.to_string().as_bytes());
        }
    }

    #[test]
    fn control_characters_in_a_reason_fall_back_to_the_canonical_one() {
        let mut out = Vec::new();
        let empty = HeaderMap::new();
        write_response_head(&mut out, Version::HTTP_10, StatusCode::OK, "x\r\nEvil: 1", &empty);
        assert_eq!(out, b"HTTP/1.0 200 OK\r\n\r\n");
    }
}
