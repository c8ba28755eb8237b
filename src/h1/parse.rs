//! The httparse bridge: bytes in, a parsed head and its length out, or `Ok(None)` for "need more".

use super::limits::{MAX_HEADERS, MAX_HEAD_SIZE};
use super::{ProtocolError, RequestHead, ResponseHead};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Version};
use std::mem::MaybeUninit;

/// Parses a response head from the start of `buf`.
///
/// Returns the head and the number of bytes it took, or `Ok(None)` when `buf` holds only
/// part of a head (read more and call again with the whole buffer).
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtocolError> {
    newer_minor_as_1_1(buf, StartLine::Response, parse_response_exactly)
}

/// [`parse_response_head`] for versions httparse knows (HTTP/1.0 and HTTP/1.1).
fn parse_response_exactly(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtocolError> {
    // Uninitialised slots: filling 100 empty headers first would cost more than parsing.
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let outcome = config.parse_response_with_uninit_headers(&mut parsed, buf, &mut slots);
    let outcome = complete_within_limit(outcome, buf.len()).map_err(|error| {
        // A TLS record (handshake 0x16 or alert 0x15, version 3.x) where a status line
        // should be: say so rather than "unsupported HTTP version".
        match (error, buf) {
            (ProtocolError::MalformedHead(_), [0x15 | 0x16, 0x03, ..]) => {
                ProtocolError::MalformedHead("the server answered with TLS: is this an https URL?")
            }
            _ => error,
        }
    });
    let Some(len) = outcome? else {
        return Ok(None);
    };
    let version = version_of(parsed.version)?;
    let status = parsed
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(ProtocolError::MalformedHead("invalid status code"))?;
    let head = ResponseHead {
        version,
        status,
        reason: parsed.reason.unwrap_or_default().to_owned(),
        headers: header_map(&buf[..len], parsed.headers)?,
    };
    Ok(Some((head, len)))
}

/// Parses a request head from the start of `buf`; same contract as [`parse_response_head`].
///
/// Stricter than a response head in one way: every line must end with CRLF. A bare LF is
/// refused, because servers and proxies that split lines differently can be made to see
/// `X: a\nContent-Length: 5` as one field or as two, and a disagreement about framing is a
/// smuggled request. (A client reading a response has no such second reader to disagree
/// with, so `parse_response_head` accepts bare LF, as RFC 9112 §2.2 allows.)
pub fn parse_request_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, ProtocolError> {
    newer_minor_as_1_1(buf, StartLine::Request, parse_request_exactly)
}

/// [`parse_request_head`] for versions httparse knows (HTTP/1.0 and HTTP/1.1).
fn parse_request_exactly(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, ProtocolError> {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let outcome = parsed.parse_with_uninit_headers(buf, &mut slots);
    let Some(len) = complete_within_limit(outcome, buf.len())? else {
        return Ok(None);
    };
    if has_bare_lf(&buf[..len]) {
        return Err(ProtocolError::MalformedHead("a line of the request head ends in LF without CR"));
    }
    let version = version_of(parsed.version)?;
    let method = parsed
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(ProtocolError::MalformedHead("invalid method"))?;
    let head = RequestHead {
        method,
        target: parsed.path.unwrap_or_default().to_owned(),
        version,
        headers: header_map(&buf[..len], parsed.headers)?,
    };
    Ok(Some((head, len)))
}

/// Turns httparse's outcome into "complete at N", "partial" or an error, enforcing the
/// head size limit whether the head is complete or still growing.
fn complete_within_limit(
    outcome: httparse::Result<usize>,
    buffered: usize,
) -> Result<Option<usize>, ProtocolError> {
    match outcome {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD_SIZE => Err(ProtocolError::HeadTooLarge),
        Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
        Ok(httparse::Status::Partial) if buffered >= MAX_HEAD_SIZE => Err(ProtocolError::HeadTooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(ProtocolError::TooManyHeaders),
        Err(other) => Err(ProtocolError::MalformedHead(describe(other))),
    }
}

fn describe(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token in the start line",
        httparse::Error::Version => UNSUPPORTED_VERSION,
        httparse::Error::TooManyHeaders => "too many header fields",
    }
}

/// True when a LF in `head` is not preceded by CR. One pass without early exit, so the
/// compiler can vectorise it: heads are short, and this runs for every request.
fn has_bare_lf(head: &[u8]) -> bool {
    let first = head.first() == Some(&b'\n');
    first
        | head
            .iter()
            .zip(&head[1..])
            .fold(false, |found, (&before, &byte)| found | (byte == b'\n' && before != b'\r'))
}

/// A head parser: the head and its length, `None` for "need more bytes".
type HeadParser<H> = fn(&[u8]) -> Result<Option<(H, usize)>, ProtocolError>;

/// Which start line a head begins with: where its HTTP-version is.
#[derive(Clone, Copy)]
enum StartLine {
    /// `method SP target SP HTTP-version`: the third word.
    Request,
    /// `HTTP-version SP status SP reason`: the first word.
    Response,
}

/// Parses with `parse`, reading `HTTP/1.2` to `HTTP/1.9` as HTTP/1.1 (RFC 9110 §2.5: a
/// later minor version of a major version we speak is handled as the latest we know),
/// and telling a later major version (`HTTP/2.0`) apart from garbage.
///
/// httparse knows only 1.0 and 1.1, so a later minor version is rewritten in a copy of
/// the head (the same length: lengths and offsets stay right). The copy is made only for
/// such rare heads; everything else costs nothing here.
fn newer_minor_as_1_1<H>(
    buf: &[u8],
    line: StartLine,
    parse: HeadParser<H>,
) -> Result<Option<(H, usize)>, ProtocolError> {
    let outcome = parse(buf);
    if !matches!(outcome, Err(ProtocolError::MalformedHead(UNSUPPORTED_VERSION))) {
        return outcome;
    }
    let Some(at) = version_offset(buf, line) else { return outcome };
    let version = &buf[at..buf.len().min(at + 8)];
    let digit = |index: usize| version.get(index).is_none_or(u8::is_ascii_digit);
    let ends_there = buf.get(at + 8).is_none_or(|&next| match line {
        StartLine::Request => next == b'\r' || next == b'\n',
        StartLine::Response => next == b' ',
    });
    if !(b"HTTP/".starts_with(&version[..version.len().min(5)]) && digit(5) && digit(7) && ends_there) {
        return outcome;
    }
    if version.get(6).is_some_and(|&dot| dot != b'.') {
        return outcome;
    }
    match version.get(5) {
        Some(b'1') => {}
        // Not all of it is here yet: it may still turn out well-formed, or not.
        _ if version.len() < 8 => return Ok(None),
        Some(b'2'..=b'9') => return Err(ProtocolError::UnsupportedVersion),
        _ => return outcome,
    }
    let mut copy = buf[..buf.len().min(MAX_HEAD_SIZE + 1)].to_vec();
    if let Some(minor) = copy.get_mut(at + 7) {
        *minor = b'1';
    }
    parse(&copy)
}

/// Where the HTTP-version starts in `buf`'s start line, if the line got that far. Empty
/// lines before the start line are skipped, as httparse skips them (RFC 9112 §2.2).
fn version_offset(buf: &[u8], line: StartLine) -> Option<usize> {
    let start = buf.iter().position(|&byte| byte != b'\r' && byte != b'\n')?;
    match line {
        StartLine::Response => Some(start),
        StartLine::Request => {
            let end = buf[start..]
                .iter()
                .position(|&byte| byte == b'\r' || byte == b'\n')
                .map_or(buf.len(), |end| start + end);
            let mut spaces = buf[start..end].iter().enumerate().filter(|&(_, &byte)| byte == b' ');
            let _method_end = spaces.next()?;
            spaces.next().map(|(at, _)| start + at + 1)
        }
    }
}

/// What httparse's version error becomes (and what `newer_minor_as_1_1` looks for).
const UNSUPPORTED_VERSION: &str = "unsupported HTTP version";

fn version_of(minor: Option<u8>) -> Result<Version, ProtocolError> {
    match minor {
        Some(0) => Ok(Version::HTTP_10),
        Some(1) => Ok(Version::HTTP_11),
        _ => Err(ProtocolError::MalformedHead(UNSUPPORTED_VERSION)),
    }
}

/// Copies httparse's borrowed fields into an owned `HeaderMap` (names lowercased).
///
/// `section` is the bytes the fields were parsed from. From three fields on, the values
/// share one copy of it: two allocations (the copy and its reference count) for a whole
/// head, not one per value (a typical response has ten). Fewer values are copied each,
/// and so are the values of a head over `SHARED_HEAD_LIMIT`: one value kept (a clone of
/// an ETag, say) keeps the whole copy alive, which must stay small.
/// Shared by heads and chunked trailers so both apply the same validation.
pub(super) fn header_map(
    section: &[u8],
    fields: &[httparse::Header<'_>],
) -> Result<HeaderMap, ProtocolError> {
    let share = fields.len() > 2 && section.len() <= SHARED_HEAD_LIMIT;
    let shared = share.then(|| Bytes::copy_from_slice(section));
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ProtocolError::MalformedHead("invalid header name"))?;
        let value = match (&shared, offset_in(section, field.value)) {
            (Some(shared), Some(start)) => {
                HeaderValue::from_maybe_shared(shared.slice(start..start + field.value.len()))
            }
            _ => HeaderValue::from_bytes(field.value),
        }
        .map_err(|_| ProtocolError::MalformedHead("invalid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The largest head whose values share one copy of it (see `header_map`).
const SHARED_HEAD_LIMIT: usize = 4 * 1024;

/// Where `part` starts within `whole`, if it is a non-empty slice of it (httparse's
/// fields are slices of the buffer they were parsed from).
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (!part.is_empty() && start.checked_add(part.len())? <= whole.len()).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::limits::MAX_HEAD_SIZE;

    /// Feeds `input` whole, then growing one byte at a time, and checks both agree.
    fn parse_both_ways(input: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtocolError> {
        both_ways(input, parse_response_head)
    }

    #[track_caller]
    fn assert_malformed<H: std::fmt::Debug>(
        input: &[u8],
        outcome: Result<Option<(H, usize)>, ProtocolError>,
    ) {
        assert!(
            matches!(outcome, Err(ProtocolError::MalformedHead(_))),
            "{:?} gave {outcome:?}",
            String::from_utf8_lossy(input)
        );
    }

    /// [`parse_both_ways`] for request heads.
    fn request_both_ways(input: &[u8]) -> Result<Option<(RequestHead, usize)>, ProtocolError> {
        both_ways(input, parse_request_head)
    }

    fn both_ways<H: PartialEq + std::fmt::Debug>(
        input: &[u8],
        parse: HeadParser<H>,
    ) -> Result<Option<(H, usize)>, ProtocolError> {
        let whole = parse(input);
        for end in 0..input.len() {
            match parse(&input[..end]) {
                Ok(None) => {}
                // A prefix may already be invalid; then the whole input must be too.
                Err(e) => {
                    assert_eq!(whole, Err(e), "prefix of {end} bytes failed differently");
                    return whole;
                }
                Ok(Some(early)) => {
                    assert_eq!(whole, Ok(Some(early)), "prefix of {end} bytes completed");
                    return whole;
                }
            }
        }
        whole
    }

    #[test]
    fn parses_a_response_head_and_reports_its_length() {
        let input =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\nX-Empty:\r\nX-A: 2\r\n\r\nbody";
        let (head, len) = parse_both_ways(input).unwrap().unwrap();
        assert_eq!(len, input.len() - 4);
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.reason, "OK");
        assert_eq!(head.headers["content-type"], "text/plain");
        let repeats: Vec<_> = head.headers.get_all("x-a").iter().collect();
        assert_eq!(repeats, ["1", "2"]);
        assert_eq!(head.headers["x-empty"], "");
        assert_eq!(head.headers.len(), 4);
    }

    #[test]
    fn values_are_the_same_whether_or_not_they_share_a_copy_of_the_head() {
        // Two fields (copied each), three (shared), three in a head over the limit (copied).
        let big = "b".repeat(SHARED_HEAD_LIMIT);
        for extra in ["", "X-C: 3\r\n", &format!("X-C: 3\r\nX-Big: {big}\r\n")] {
            let input = format!("HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B:  two words \r\n{extra}\r\n");
            let (head, len) = parse_response_head(input.as_bytes()).unwrap().unwrap();
            assert_eq!(len, input.len());
            assert_eq!(head.headers["x-a"], "1");
            assert_eq!(head.headers["x-b"], "two words");
            if !extra.is_empty() {
                assert_eq!(head.headers["x-c"], "3");
            }
            assert_eq!(
                head.headers.get("x-big").map(|v| v.len()),
                extra.contains("X-Big").then_some(big.len())
            );
        }
    }

    #[test]
    fn http10_and_missing_reason() {
        let (head, _) = parse_both_ways(b"HTTP/1.0 204 \r\n\r\n").unwrap().unwrap();
        assert_eq!(head.version, Version::HTTP_10);
        assert_eq!(head.status.as_u16(), 204);
        assert_eq!(head.reason, "");
    }

    #[test]
    fn rejects_bad_status_lines() {
        for bad in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        ] {
            assert_malformed(bad, parse_both_ways(bad));
        }
    }

    #[test]
    fn a_tls_record_instead_of_a_status_line_says_so() {
        let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46];
        assert_eq!(
            parse_response_head(&alert),
            Err(ProtocolError::MalformedHead("the server answered with TLS: is this an https URL?"))
        );
    }

    #[test]
    fn enforces_the_header_count_limit() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            input.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        let mut ok = input.clone();
        ok.extend_from_slice(b"\r\n");
        assert!(parse_response_head(&ok).unwrap().is_some());
        input.extend_from_slice(b"one-more: v\r\n\r\n");
        assert_eq!(parse_both_ways(&input), Err(ProtocolError::TooManyHeaders));
    }

    #[test]
    fn enforces_the_head_size_limit_complete_or_partial() {
        let mut input = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        input.resize(MAX_HEAD_SIZE + 10, b'a');
        assert_eq!(parse_response_head(&input), Err(ProtocolError::HeadTooLarge));
        input.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_response_head(&input), Err(ProtocolError::HeadTooLarge));
    }

    #[test]
    fn parses_a_request_head() {
        let input = b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        let mut found = None;
        for end in 0..=input.len() {
            if let Some(done) = parse_request_head(&input[..end]).unwrap() {
                found = Some((end, done));
                break;
            }
        }
        let (end, (head, len)) = found.unwrap();
        assert_eq!(end, len, "completes at exactly the end of the head");
        assert_eq!(len, input.len() - 3);
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.target, "/a?b=c");
        assert_eq!(head.headers["host"], "x");
    }

    #[test]
    fn a_bare_lf_in_a_request_head_is_refused() {
        let refused = ProtocolError::MalformedHead("a line of the request head ends in LF without CR");
        for input in [
            &b"GET / HTTP/1.1\nHost: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello",
            b"GET / HTTP/1.1\r\nHost: x\r\n\n",
            b"GET / HTTP/1.1\nHost: x\n\n",
            b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nX: a \nContent-Length: 5\r\n\r\n",
        ] {
            assert_eq!(request_both_ways(input), Err(refused), "{:?}", String::from_utf8_lossy(input));
        }
        // A leading empty CRLF line is still skipped (RFC 9112 §2.2).
        let (head, _) = request_both_ways(b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.target, "/");
    }

    #[test]
    fn a_response_head_may_end_its_lines_with_lf() {
        let (head, len) =
            parse_both_ways(b"HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nhi").unwrap().unwrap();
        assert_eq!((head.status.as_u16(), len), (200, 42));
        assert_eq!(head.headers["x-a"], "1");
        assert_eq!(head.headers["content-length"], "2");
    }

    #[test]
    fn later_minor_versions_are_read_as_http_1_1() {
        for minor in b'2'..=b'9' {
            let minor = minor as char;
            let request = format!("GET /v HTTP/1.{minor}\r\nHost: x\r\nX-A: 1\r\nX-B: 2\r\n\r\nNEXT");
            let (head, len) = request_both_ways(request.as_bytes()).unwrap().unwrap();
            assert_eq!(
                (head.version, head.target.as_str(), len),
                (Version::HTTP_11, "/v", request.len() - 4)
            );
            assert_eq!(head.headers["x-b"], "2");
            let response = format!("HTTP/1.{minor} 204 No Content\r\nX-A: 1\r\n\r\n");
            let (head, len) = parse_both_ways(response.as_bytes()).unwrap().unwrap();
            assert_eq!((head.version, head.status.as_u16(), len), (Version::HTTP_11, 204, response.len()));
        }
    }

    #[test]
    fn later_versions_after_empty_lines_are_found_where_httparse_reads_them() {
        let (head, _) = request_both_ways(b"\r\n\r\nGET /v HTTP/1.2\r\nHost: x\r\n\r\n").unwrap().unwrap();
        assert_eq!((head.version, head.target.as_str()), (Version::HTTP_11, "/v"));
        assert_eq!(request_both_ways(b"\r\nGET / HTTP/2.0\r\n\r\n"), Err(ProtocolError::UnsupportedVersion));
        let (head, _) = parse_both_ways(b"\r\nHTTP/1.3 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!((head.version, head.status.as_u16()), (Version::HTTP_11, 204));
        assert_eq!(parse_both_ways(b"\r\nHTTP/2.0 200 OK\r\n\r\n"), Err(ProtocolError::UnsupportedVersion));
    }

    #[test]
    fn later_major_versions_are_refused_as_such_and_garbage_stays_malformed() {
        for input in
            [&b"GET / HTTP/2.0\r\n\r\n"[..], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"GET / HTTP/3.1\r\n\r\n"]
        {
            assert_eq!(request_both_ways(input), Err(ProtocolError::UnsupportedVersion));
        }
        assert_eq!(parse_both_ways(b"HTTP/2.0 200 OK\r\n\r\n"), Err(ProtocolError::UnsupportedVersion));
        for input in [
            &b"GET / HTTP/1.10\r\n\r\n"[..],
            b"GET / HTTP/1.x\r\n\r\n",
            b"GET / HTTP/0.9\r\n\r\n",
            b"GET / HTTP/12.0\r\n\r\n",
            b"GET / HTTPS/1.1\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
        ] {
            assert_malformed(input, request_both_ways(input));
        }
    }
}
