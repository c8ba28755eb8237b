//! Body framing: how long a message body is, decided in one function per RFC 9112 §6.3.

use super::outgoing::has_body;
use super::ProtocolError;
use http::header::{HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Version};

/// How a message's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// No body at all, whatever the headers say (HEAD, 1xx, 204, 304, no-body requests).
    Empty,
    /// Exactly this many bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked`, possibly with trailers.
    Chunked,
    /// The body runs until the peer closes the connection (responses only).
    CloseDelimited,
}

impl BodyMode {
    /// True when no body bytes can follow the head.
    pub fn is_empty(self) -> bool {
        matches!(self, Self::Empty | Self::Length(0))
    }
}

/// Which side of the exchange a head belongs to; responses need their request's method.
#[derive(Debug, Clone, Copy)]
pub enum MessageKind<'a> {
    /// A request head received by a server.
    Request,
    /// A response head, with the method of the request it answers.
    Response {
        /// The request's method (HEAD and CONNECT change the rules).
        request_method: &'a Method,
        /// The response's status code.
        status: u16,
    },
}

/// Decides the body framing of a message from its head, following RFC 9112 §6.3.
///
/// Where the RFC lets a recipient guess (Content-Length beside Transfer-Encoding, an unknown
/// transfer coding on a response) we refuse instead: a guess is how request smuggling and
/// response splitting start.
pub fn body_mode(
    kind: MessageKind<'_>,
    version: Version,
    headers: &HeaderMap,
) -> Result<BodyMode, ProtocolError> {
    // Step 1: responses to HEAD, and 1xx, 204 and 304 responses, end at the head.
    // Step 2: a 2xx response to CONNECT turns the connection into a tunnel; no body.
    // (One rule for both directions: `has_body`.)
    if let MessageKind::Response { request_method, status } = kind {
        if !has_body(request_method, status) {
            return Ok(BodyMode::Empty);
        }
    }

    let fields = FramingFields::gather(headers);
    let has_transfer_encoding = fields.transfer_encoding_lines > 0;
    let content_length = fields.content_length?;

    // Step 3: Transfer-Encoding with Content-Length. The RFC lets TE win; we refuse.
    if has_transfer_encoding && content_length.is_some() {
        return Err(ProtocolError::ContentLengthWithTransferEncoding);
    }

    // Step 4: Transfer-Encoding. Only a lone final `chunked` is framing we can trust;
    // HTTP/1.0 has no transfer codings at all (RFC 9112 §6.1).
    if has_transfer_encoding {
        if version == Version::HTTP_10 {
            return Err(ProtocolError::TransferEncodingInHttp10);
        }
        return if fields.only_chunked() {
            Ok(BodyMode::Chunked)
        } else {
            Err(ProtocolError::UnsupportedTransferEncoding)
        };
    }

    // Steps 5 and 6: a valid Content-Length (invalid ones already failed above).
    if let Some(length) = content_length {
        return Ok(BodyMode::Length(length));
    }

    // Step 7: a request with neither has no body.
    // Step 8: a response with neither runs until the connection closes.
    Ok(match kind {
        MessageKind::Request => BodyMode::Empty,
        MessageKind::Response { .. } => BodyMode::CloseDelimited,
    })
}

/// The framing fields of a head, read in one pass over its fields: a `HeaderMap` lookup
/// hashes the name, and most heads carry only a handful of fields.
struct FramingFields {
    /// The Content-Length, if any: every value (and every comma-separated element) must
    /// be the same plain decimal number. The first error found, in field order.
    content_length: Result<Option<u64>, ProtocolError>,
    /// Transfer-Encoding lines, and the non-empty codings over all of them (empty list
    /// elements are allowed by the list syntax, RFC 9110 §5.6.1, and ignored).
    transfer_encoding_lines: usize,
    transfer_codings: usize,
    /// The first coding is `chunked`.
    first_coding_chunked: bool,
}

impl FramingFields {
    fn gather(headers: &HeaderMap) -> Self {
        let mut fields = Self {
            content_length: Ok(None),
            transfer_encoding_lines: 0,
            transfer_codings: 0,
            first_coding_chunked: false,
        };
        for (name, value) in headers {
            if name == CONTENT_LENGTH {
                fields.add_content_length(value);
            } else if name == TRANSFER_ENCODING {
                fields.transfer_encoding_lines += 1;
                for coding in value.as_bytes().split(|&b| b == b',').map(trim_ows) {
                    if !coding.is_empty() {
                        fields.transfer_codings += 1;
                        if fields.transfer_codings == 1 {
                            fields.first_coding_chunked = coding.eq_ignore_ascii_case(b"chunked");
                        }
                    }
                }
            }
        }
        fields
    }

    fn add_content_length(&mut self, value: &HeaderValue) {
        let Ok(found) = &mut self.content_length else { return };
        for element in value.as_bytes().split(|&b| b == b',') {
            let length = match parse_decimal(trim_ows(element)) {
                Ok(length) => length,
                Err(error) => return self.content_length = Err(error),
            };
            match *found {
                Some(previous) if previous != length => {
                    return self.content_length = Err(ProtocolError::ConflictingContentLength)
                }
                _ => *found = Some(length),
            }
        }
    }

    /// True when the Transfer-Encoding list, over all its lines, is exactly `chunked`.
    fn only_chunked(&self) -> bool {
        self.transfer_codings == 1 && self.first_coding_chunked
    }
}

fn parse_decimal(digits: &[u8]) -> Result<u64, ProtocolError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ProtocolError::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |acc, &digit| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(digit - b'0')))
            .ok_or(ProtocolError::InvalidContentLength)
    })
}

/// True when a comma-separated header list (over all of `values`) has `token`, compared
/// case-insensitively (e.g. `close` in `Connection: keep-alive, Close`).
pub fn list_has_token<'v>(values: impl IntoIterator<Item = &'v HeaderValue>, token: &str) -> bool {
    values.into_iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| trim_ows(item).eq_ignore_ascii_case(token.as_bytes()))
    })
}

pub(super) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn response(status: u16, fields: &[(&'static str, &'static str)]) -> Result<BodyMode, ProtocolError> {
        let kind = MessageKind::Response { request_method: &Method::GET, status };
        body_mode(kind, Version::HTTP_11, &headers(fields))
    }

    fn request(fields: &[(&'static str, &'static str)]) -> Result<BodyMode, ProtocolError> {
        body_mode(MessageKind::Request, Version::HTTP_11, &headers(fields))
    }

    #[test]
    fn no_body_statuses_and_methods_ignore_framing_headers() {
        for status in [100, 101, 199, 204, 304] {
            assert_eq!(response(status, &[("content-length", "10")]), Ok(BodyMode::Empty));
        }
        let head = MessageKind::Response { request_method: &Method::HEAD, status: 200 };
        let cl = headers(&[("content-length", "10")]);
        assert_eq!(body_mode(head, Version::HTTP_11, &cl), Ok(BodyMode::Empty));
        let connect = MessageKind::Response { request_method: &Method::CONNECT, status: 200 };
        assert_eq!(body_mode(connect, Version::HTTP_11, &cl), Ok(BodyMode::Empty));
    }

    #[test]
    fn content_length_forms() {
        assert_eq!(response(200, &[("content-length", "42")]), Ok(BodyMode::Length(42)));
        assert_eq!(response(200, &[("content-length", "0")]), Ok(BodyMode::Length(0)));
        assert_eq!(response(200, &[("content-length", "7, 7")]), Ok(BodyMode::Length(7)));
        let twice = [("content-length", "7"), ("content-length", "7")];
        assert_eq!(response(200, &twice), Ok(BodyMode::Length(7)));
        assert_eq!(
            response(200, &[("content-length", "18446744073709551615")]),
            Ok(BodyMode::Length(u64::MAX))
        );
    }

    #[test]
    fn bad_content_lengths_are_errors() {
        for bad in ["", "abc", "-1", "+5", "5a", "0x10", "1 2", "18446744073709551616", ","] {
            assert_eq!(
                response(200, &[("content-length", bad)]),
                Err(ProtocolError::InvalidContentLength),
                "{bad:?}"
            );
        }
        let differing = [("content-length", "5"), ("content-length", "6")];
        assert_eq!(response(200, &differing), Err(ProtocolError::ConflictingContentLength));
        assert_eq!(
            response(200, &[("content-length", "5, 6")]),
            Err(ProtocolError::ConflictingContentLength)
        );
    }

    #[test]
    fn transfer_encoding_forms() {
        assert_eq!(response(200, &[("transfer-encoding", "chunked")]), Ok(BodyMode::Chunked));
        assert_eq!(response(200, &[("transfer-encoding", "Chunked")]), Ok(BodyMode::Chunked));
        assert_eq!(response(200, &[("transfer-encoding", " chunked , ")]), Ok(BodyMode::Chunked));
        assert_eq!(request(&[("transfer-encoding", "chunked")]), Ok(BodyMode::Chunked));
    }

    #[test]
    fn untrustworthy_transfer_encodings_are_errors() {
        use ProtocolError::*;
        for bad in
            ["gzip", "chunked, gzip", "gzip, chunked", "chunked, chunked", "xchunked", "chunked;a=b", ""]
        {
            assert_eq!(
                response(200, &[("transfer-encoding", bad)]),
                Err(UnsupportedTransferEncoding),
                "{bad:?}"
            );
        }
        let split = [("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")];
        assert_eq!(response(200, &split), Err(UnsupportedTransferEncoding));
        let both = [("transfer-encoding", "chunked"), ("content-length", "3")];
        assert_eq!(response(200, &both), Err(ContentLengthWithTransferEncoding));
        assert_eq!(request(&both), Err(ContentLengthWithTransferEncoding));
        let kind = MessageKind::Response { request_method: &Method::GET, status: 200 };
        let te = headers(&[("transfer-encoding", "chunked")]);
        assert_eq!(body_mode(kind, Version::HTTP_10, &te), Err(TransferEncodingInHttp10));
    }

    #[test]
    fn absent_framing_differs_for_requests_and_responses() {
        assert_eq!(request(&[]), Ok(BodyMode::Empty));
        assert_eq!(response(200, &[]), Ok(BodyMode::CloseDelimited));
    }
}
