//! Body decoding: Content-Length, chunked (with trailers) and close-delimited bodies.
//!
//! The decoder takes bytes from the caller's buffer and hands back body data without copying
//! (`BytesMut::split_to`). The chunked decoder is an explicit state machine with one small
//! function per state, so every byte the peer can send lands in exactly one match arm.

use super::limits::{
    MAX_CHUNK_EXTENSIONS_TOTAL, MAX_CHUNK_EXTENSION_LINE, MAX_CHUNK_SIZE_DIGITS, MAX_HEADERS,
    MAX_TRAILER_SIZE,
};
use super::parse::header_map;
use super::{BodyMode, ProtocolError};
use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

/// What the decoder found in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEvent {
    /// The next piece of body data.
    Data(Bytes),
    /// The body is complete; chunked trailers, if any, are in the map.
    End(HeaderMap),
}

/// Decodes one message body; create it from the [`BodyMode`] of the head.
#[derive(Debug)]
pub struct BodyDecoder {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Length {
        remaining: u64,
    },
    Chunked(Chunked),
    CloseDelimited,
    /// The end was reported; trailers are handed out once.
    Done(Option<HeaderMap>),
}

impl BodyDecoder {
    /// A decoder for a body framed as `mode`.
    pub fn new(mode: BodyMode) -> Self {
        let kind = match mode {
            BodyMode::Empty | BodyMode::Length(0) => Kind::Done(None),
            BodyMode::Length(remaining) => Kind::Length { remaining },
            BodyMode::Chunked => Kind::Chunked(Chunked::default()),
            BodyMode::CloseDelimited => Kind::CloseDelimited,
        };
        Self { kind }
    }

    /// Takes what it can from `buf`: `Ok(None)` means "read more, then call again".
    ///
    /// Bytes after the end of the body stay in `buf` (they belong to the next message).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BodyEvent>, ProtocolError> {
        match &mut self.kind {
            Kind::Done(trailers) => Ok(Some(BodyEvent::End(trailers.take().unwrap_or_default()))),
            Kind::Length { remaining } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= take as u64;
                if *remaining == 0 {
                    self.kind = Kind::Done(None);
                }
                Ok(Some(BodyEvent::Data(buf.split_to(take).freeze())))
            }
            Kind::CloseDelimited => {
                if buf.is_empty() {
                    return Ok(None);
                }
                Ok(Some(BodyEvent::Data(buf.split().freeze())))
            }
            Kind::Chunked(chunked) => match chunked.decode(buf)? {
                Some(ChunkedEvent::Data(data)) => Ok(Some(BodyEvent::Data(data))),
                Some(ChunkedEvent::End(trailers)) => {
                    self.kind = Kind::Done(None);
                    Ok(Some(BodyEvent::End(trailers)))
                }
                None => Ok(None),
            },
        }
    }

    /// The peer closed the connection: that ends a close-delimited body and is an error for
    /// any body whose end is still owed.
    pub fn decode_eof(&mut self) -> Result<(), ProtocolError> {
        match self.kind {
            Kind::CloseDelimited => {
                self.kind = Kind::Done(None);
                Ok(())
            }
            Kind::Done(_) => Ok(()),
            Kind::Length { .. } | Kind::Chunked(_) => Err(ProtocolError::UnexpectedEof),
        }
    }

    /// True once the end of the body has been decoded.
    pub fn is_done(&self) -> bool {
        matches!(self.kind, Kind::Done(_))
    }
}

enum ChunkedEvent {
    Data(Bytes),
    End(HeaderMap),
}

/// Where the chunked decoder is within `size [ext] CRLF data CRLF ... 0 CRLF trailers CRLF`.
///
/// The size line follows RFC 9112 §7.1.1 exactly:
/// `chunk-size *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ) CRLF`.
/// Whitespace is allowed only where the grammar has BWS: before `;` and around `=`, after
/// `;`, never before CRLF. Parsers that skip an extension "until CR" disagree with each
/// other about lines like `5;\r\n` or `5;a"b\r\n`, and a disagreement about where a chunk
/// starts is how bodies get smuggled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ChunkState {
    /// Reading the hex digits of a chunk size.
    #[default]
    Size,
    /// Spaces or tabs after the size digits: only `;` may follow.
    SizeWhitespace,
    /// After `;` (and any whitespace): an extension name must start.
    ExtensionStart,
    /// Inside an extension name (a token).
    ExtensionName,
    /// Whitespace after an extension name: `=` or the next `;` must follow.
    ExtensionNameWhitespace,
    /// After `=` (and any whitespace): a token or a quoted string must start.
    ExtensionValueStart,
    /// Inside an unquoted extension value (a token).
    ExtensionToken,
    /// Inside a quoted extension value.
    ExtensionQuoted,
    /// After a backslash in a quoted value: any visible byte, space or tab.
    ExtensionQuotedPair,
    /// After a closing quote: `;`, whitespace before `;`, or CR.
    ExtensionValueEnd,
    /// Whitespace after an extension value: only `;` may follow.
    ExtensionValueWhitespace,
    /// Saw CR after the size line; LF must follow.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// Chunk data done; CR must follow.
    DataCr,
    /// Saw CR after chunk data; LF must follow.
    DataLf,
    /// After the last chunk: trailer fields until an empty line.
    Trailers,
}

#[derive(Debug, Default)]
struct Chunked {
    state: ChunkState,
    /// The size being parsed, then the bytes left in the current chunk.
    size: u64,
    /// Digits on the size line so far (none is invalid; leading zeros count, so that a
    /// peer cannot send an endless line of them, which would be progress without bytes).
    size_digits: usize,
    /// Extension bytes on the current size line, for the per-line limit.
    extension_line: usize,
    /// Extension bytes over the whole body, for the per-body limit.
    extension_total: usize,
    /// The trailer section collected so far (including the final CRLF).
    trailers: Vec<u8>,
}

impl Chunked {
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkedEvent>, ProtocolError> {
        loop {
            if buf.is_empty() {
                return Ok(None);
            }
            if self.state == ChunkState::Data {
                return Ok(Some(ChunkedEvent::Data(self.data(buf))));
            }
            let byte = buf[0];
            buf.advance(1);
            self.state = match self.state {
                ChunkState::Size => self.size(byte)?,
                ChunkState::SizeLf => self.size_lf(byte)?,
                ChunkState::Data => unreachable!("handled above"),
                ChunkState::DataCr => Self::expect(byte, b'\r', ChunkState::DataLf)?,
                ChunkState::DataLf => {
                    self.size_digits = 0;
                    Self::expect(byte, b'\n', ChunkState::Size)?
                }
                ChunkState::Trailers => {
                    if let Some(trailers) = self.trailer(byte)? {
                        return Ok(Some(ChunkedEvent::End(trailers)));
                    }
                    ChunkState::Trailers
                }
                extension => self.extension(extension, byte)?,
            };
        }
    }

    fn size(&mut self, byte: u8) -> Result<ChunkState, ProtocolError> {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ if self.size_digits == 0 => return Err(ProtocolError::InvalidChunkSize),
            b'\n' => return Err(ProtocolError::InvalidChunkTerminator),
            b' ' | b'\t' | b';' => return self.extension(ChunkState::SizeWhitespace, byte),
            b'\r' => return Ok(ChunkState::SizeLf),
            _ => return Err(ProtocolError::InvalidChunkSize),
        };
        self.size_digits += 1;
        if self.size_digits > MAX_CHUNK_SIZE_DIGITS {
            return Err(ProtocolError::InvalidChunkSize);
        }
        self.size = self
            .size
            .checked_mul(16)
            .and_then(|size| size.checked_add(u64::from(digit)))
            .ok_or(ProtocolError::ChunkSizeOverflow)?;
        Ok(ChunkState::Size)
    }

    /// One byte of the size line after the digits: whitespace, an extension, or CR.
    fn extension(&mut self, state: ChunkState, byte: u8) -> Result<ChunkState, ProtocolError> {
        use ChunkState::*;
        if byte == b'\n' {
            // A bare LF is how parsers get desynchronised: never guess where the line ends.
            return Err(ProtocolError::InvalidChunkTerminator);
        }
        // (The CR that ends the line is not part of the extension.)
        self.extension_line += usize::from(byte != b'\r');
        self.extension_total += usize::from(byte != b'\r');
        if self.extension_line > MAX_CHUNK_EXTENSION_LINE || self.extension_total > MAX_CHUNK_EXTENSIONS_TOTAL
        {
            return Err(ProtocolError::ChunkExtensionTooLong);
        }
        let whitespace = byte == b' ' || byte == b'\t';
        let next = match (state, byte) {
            (SizeWhitespace | ExtensionValueWhitespace, _) if whitespace => state,
            (SizeWhitespace | ExtensionValueWhitespace | ExtensionValueEnd, b';') => ExtensionStart,
            (ExtensionStart, _) if whitespace => ExtensionStart,
            (ExtensionStart, _) if is_tchar(byte) => ExtensionName,
            (ExtensionName, _) if is_tchar(byte) => ExtensionName,
            (ExtensionName | ExtensionNameWhitespace, b';') => ExtensionStart,
            (ExtensionName | ExtensionNameWhitespace, b'=') => ExtensionValueStart,
            (ExtensionName | ExtensionNameWhitespace, _) if whitespace => ExtensionNameWhitespace,
            (ExtensionValueStart, _) if whitespace => ExtensionValueStart,
            (ExtensionValueStart, b'"') => ExtensionQuoted,
            (ExtensionValueStart | ExtensionToken, _) if is_tchar(byte) => ExtensionToken,
            (ExtensionToken, b';') => ExtensionStart,
            (ExtensionToken | ExtensionValueEnd, _) if whitespace => ExtensionValueWhitespace,
            (ExtensionQuoted, b'"') => ExtensionValueEnd,
            (ExtensionQuoted, b'\\') => ExtensionQuotedPair,
            (ExtensionQuoted, _) if is_qdtext(byte) => ExtensionQuoted,
            (ExtensionQuotedPair, _) if whitespace || (byte >= 0x21 && byte != 0x7f) => ExtensionQuoted,
            // The line may end after a complete extension (a name, or a name and value).
            (ExtensionName | ExtensionToken | ExtensionValueEnd, b'\r') => {
                self.extension_line = 0;
                SizeLf
            }
            // After the size, only an extension may follow its whitespace (`5 \r\n`, `5 5`).
            (SizeWhitespace, _) => return Err(ProtocolError::InvalidChunkSize),
            _ => return Err(ProtocolError::InvalidChunkExtension),
        };
        Ok(next)
    }

    fn size_lf(&mut self, byte: u8) -> Result<ChunkState, ProtocolError> {
        let next = if self.size == 0 { ChunkState::Trailers } else { ChunkState::Data };
        Self::expect(byte, b'\n', next)
    }

    fn data(&mut self, buf: &mut BytesMut) -> Bytes {
        let take = usize::try_from(self.size).map_or(buf.len(), |size| size.min(buf.len()));
        self.size -= take as u64;
        if self.size == 0 {
            self.state = ChunkState::DataCr;
        }
        buf.split_to(take).freeze()
    }

    fn expect(byte: u8, wanted: u8, next: ChunkState) -> Result<ChunkState, ProtocolError> {
        if byte == wanted {
            Ok(next)
        } else {
            Err(ProtocolError::InvalidChunkTerminator)
        }
    }

    /// Collects the trailer section; returns the parsed fields once the empty line arrives.
    fn trailer(&mut self, byte: u8) -> Result<Option<HeaderMap>, ProtocolError> {
        if byte == b'\n' && self.trailers.last() != Some(&b'\r') {
            return Err(ProtocolError::MalformedTrailers);
        }
        self.trailers.push(byte);
        if self.trailers.len() > MAX_TRAILER_SIZE {
            return Err(ProtocolError::TrailersTooLarge);
        }
        if self.trailers == b"\r\n" {
            return Ok(Some(HeaderMap::new()));
        }
        if !self.trailers.ends_with(b"\r\n\r\n") {
            return Ok(None);
        }
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::parse_headers(&self.trailers, &mut slots) {
            Ok(httparse::Status::Complete((_, fields))) => {
                header_map(&self.trailers, fields).map(Some).map_err(|_| ProtocolError::MalformedTrailers)
            }
            Err(httparse::Error::TooManyHeaders) => Err(ProtocolError::TooManyHeaders),
            _ => Err(ProtocolError::MalformedTrailers),
        }
    }
}

/// A token character (RFC 9110 §5.6.2): the bytes of names and unquoted values.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A byte allowed as is inside a quoted string (RFC 9110 §5.6.4): not `"`, `\\` or a
/// control other than tab.
fn is_qdtext(byte: u8) -> bool {
    byte == b'\t'
        || byte == b' '
        || byte == 0x21
        || (0x23..=0x5b).contains(&byte)
        || (0x5d..=0x7e).contains(&byte)
        || byte >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed whole, then fed one byte at a time, asserts both give the same
    /// outcome, and returns it: the body bytes and trailers, or the error.
    fn decode_both_ways(mode: BodyMode, input: &[u8]) -> Result<(Vec<u8>, HeaderMap, usize), ProtocolError> {
        let whole = run(mode, [input].into_iter());
        let bytewise = run(mode, input.chunks(1));
        assert_eq!(whole, bytewise, "whole and byte-at-a-time disagree");
        whole
    }

    /// Returns (body, trailers, input bytes left after the end of the body) or the error.
    fn run<'a>(
        mode: BodyMode,
        pieces: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(Vec<u8>, HeaderMap, usize), ProtocolError> {
        let pieces: Vec<&[u8]> = pieces.collect();
        let total: usize = pieces.iter().map(|piece| piece.len()).sum();
        let mut decoder = BodyDecoder::new(mode);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut body = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            fed += piece.len();
            while let Some(event) = decoder.decode(&mut buf)? {
                match event {
                    BodyEvent::Data(data) => body.extend_from_slice(&data),
                    BodyEvent::End(trailers) => return Ok((body, trailers, total - (fed - buf.len()))),
                }
            }
        }
        decoder.decode_eof()?;
        Ok((body, HeaderMap::new(), buf.len()))
    }

    #[test]
    fn content_length_stops_at_the_length_and_leaves_the_rest() {
        let (body, _, rest) = decode_both_ways(BodyMode::Length(5), b"helloNEXT").unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(rest, 4);
    }

    #[test]
    fn content_length_cut_short_is_an_error() {
        assert_eq!(decode_both_ways(BodyMode::Length(5), b"hel"), Err(ProtocolError::UnexpectedEof));
    }

    #[test]
    fn close_delimited_ends_at_eof() {
        let (body, _, _) = decode_both_ways(BodyMode::CloseDelimited, b"all of it").unwrap();
        assert_eq!(body, b"all of it");
    }

    #[test]
    fn empty_ends_immediately() {
        let (body, _, rest) = decode_both_ways(BodyMode::Empty, b"NEXT").unwrap();
        assert!(body.is_empty());
        assert_eq!(rest, 4);
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"5;name=value\r\nhello\r\n1A \t; x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 42\r\nX-B: 2\r\n\r\nNEXT";
        let (body, trailers, rest) = decode_both_ways(BodyMode::Chunked, input).unwrap();
        assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
        assert_eq!(trailers["x-sum"], "42");
        assert_eq!(trailers["x-b"], "2");
        assert_eq!(rest, 4);
    }

    #[test]
    fn chunked_without_trailers_and_with_leading_zeros() {
        let (body, trailers, rest) =
            decode_both_ways(BodyMode::Chunked, b"0003\r\nabc\r\n000\r\n\r\n").unwrap();
        assert_eq!(body, b"abc");
        assert!(trailers.is_empty());
        assert_eq!(rest, 0);
    }

    #[test]
    fn chunked_size_garbage_and_overflow() {
        use ProtocolError::*;
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"x\r\n", InvalidChunkSize),
            (b"\r\n", InvalidChunkSize),
            (b" 5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
            (b";ext\r\n", InvalidChunkSize),
            (b"-5\r\n", InvalidChunkSize),
            (b"0x5\r\n", InvalidChunkSize),
            (b"5 5\r\n", InvalidChunkSize),
            (b"10000000000000000\r\n", ChunkSizeOverflow),
            (b"fffffffffffffffff\r\n", ChunkSizeOverflow),
        ];
        // Leading zeros are allowed, up to the digit limit.
        let mut zeros = "0".repeat(MAX_CHUNK_SIZE_DIGITS - 1);
        zeros.push_str("5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(decode_both_ways(BodyMode::Chunked, zeros.as_bytes()).unwrap().0, b"hello");
        zeros.insert(0, '0');
        assert_eq!(decode_both_ways(BodyMode::Chunked, zeros.as_bytes()), Err(InvalidChunkSize));
        for (input, expected) in cases {
            assert_eq!(
                decode_both_ways(BodyMode::Chunked, input),
                Err(*expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn chunk_extensions_follow_the_grammar() {
        // Accepted: names, token and quoted values (escapes too), BWS around `;` and `=`.
        for line in [
            "5;a",
            "5;a=b",
            "5 ;a",
            "5\t; a",
            "5;a;b=c;d",
            "5;a ;b",
            "5;a = b",
            "5;a=\"\"",
            "5;a=\"x y;z=\\\"w\\\\\"",
            "5;a=\"q\" ;b",
            "5;name=!#$%&'*+-.^_`|~09AZaz",
            "5;a=\"\u{e9}\"",
        ] {
            let input = format!("{line}\r\nhello\r\n0\r\n\r\n");
            let (body, _, _) = decode_both_ways(BodyMode::Chunked, input.as_bytes())
                .unwrap_or_else(|error| panic!("{line:?} refused: {error}"));
            assert_eq!(body, b"hello", "{line:?}");
        }
        // Refused: whitespace with nothing after it, empty or non-token names, a value
        // without a name, unterminated or broken quotes, whitespace before CRLF.
        use ProtocolError::*;
        let cases: &[(&str, ProtocolError)] = &[
            ("5 ", InvalidChunkSize),
            ("5\t", InvalidChunkSize),
            ("5 \t ", InvalidChunkSize),
            ("5;", InvalidChunkExtension),
            ("5; ", InvalidChunkExtension),
            ("5;=x", InvalidChunkExtension),
            ("5;bad[=x", InvalidChunkExtension),
            ("5;a=", InvalidChunkExtension),
            ("5;a=b[", InvalidChunkExtension),
            ("5;a=\"open", InvalidChunkExtension),
            ("5;a=\"x\\", InvalidChunkExtension),
            ("5;a=\"x\"y", InvalidChunkExtension),
            ("5;a=\"x\u{7f}\"", InvalidChunkExtension),
            ("5;a ", InvalidChunkExtension),
            ("5;a=b ", InvalidChunkExtension),
            ("5;a b", InvalidChunkExtension),
            ("5;;a", InvalidChunkExtension),
            ("5;a\u{1}", InvalidChunkExtension),
        ];
        for (line, expected) in cases {
            let input = format!("{line}\r\nhello\r\n0\r\n\r\n");
            assert_eq!(decode_both_ways(BodyMode::Chunked, input.as_bytes()), Err(*expected), "{line:?}");
        }
    }

    #[test]
    fn chunked_bad_terminators() {
        use ProtocolError::*;
        let cases: &[&[u8]] = &[
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhello\rX0\r\n\r\n",
            b"5;a\nhello\r\n0\r\n\r\n",
            b"5\r\rhello",
        ];
        for input in cases {
            assert_eq!(
                decode_both_ways(BodyMode::Chunked, input),
                Err(InvalidChunkTerminator),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn chunked_cut_short_is_an_error() {
        for input in [&b"5\r\nhel"[..], b"5\r\nhello\r\n", b"0\r\n", b"0\r\nX-A: 1\r\n"] {
            assert_eq!(decode_both_ways(BodyMode::Chunked, input), Err(ProtocolError::UnexpectedEof));
        }
    }

    #[test]
    fn chunk_extension_limits() {
        // The extension is everything after the size digits: `;` and the name here.
        let mut line = b"1;".to_vec();
        line.resize(1 + MAX_CHUNK_EXTENSION_LINE, b'a');
        line.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert!(decode_both_ways(BodyMode::Chunked, &line).is_ok(), "exactly at the line limit");
        line.insert(3, b'a');
        assert_eq!(decode_both_ways(BodyMode::Chunked, &line), Err(ProtocolError::ChunkExtensionTooLong));

        // Many lines each under the per-line limit still hit the per-body total.
        let ext = "e".repeat(MAX_CHUNK_EXTENSION_LINE - 1);
        let mut body = String::new();
        for _ in 0..(MAX_CHUNK_EXTENSIONS_TOTAL / MAX_CHUNK_EXTENSION_LINE + 1) {
            body.push_str(&format!("1;{ext}\r\nx\r\n"));
        }
        body.push_str("0\r\n\r\n");
        assert_eq!(
            decode_both_ways(BodyMode::Chunked, body.as_bytes()),
            Err(ProtocolError::ChunkExtensionTooLong)
        );
    }

    #[test]
    fn trailer_limits_and_shape() {
        let mut big = b"0\r\nX-Big: ".to_vec();
        big.resize(MAX_TRAILER_SIZE + 10, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(decode_both_ways(BodyMode::Chunked, &big), Err(ProtocolError::TrailersTooLarge));
        assert_eq!(
            decode_both_ways(BodyMode::Chunked, b"0\r\nBad Name: x\r\n\r\n"),
            Err(ProtocolError::MalformedTrailers)
        );
        assert_eq!(
            decode_both_ways(BodyMode::Chunked, b"0\r\nX-A: 1\n\r\n"),
            Err(ProtocolError::MalformedTrailers)
        );
        let mut many = b"0\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("t{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(decode_both_ways(BodyMode::Chunked, &many), Err(ProtocolError::TooManyHeaders));
    }
}
