//! Content decoding of responses (feature `decompress`): gzip, deflate, brotli and zstd,
//! decoded chunk by chunk as the body arrives, under three caps.
//!
//! A [`Decoder`] is push-style: it is fed the body's (compressed) bytes as they arrive and
//! yields decoded chunks of at most [`DECODED_CHUNK_SIZE`] bytes, so memory stays bounded
//! whatever the body decodes to: one output chunk, each codec's window (32 KiB for
//! gzip/deflate, at most 16 MiB for brotli, at most [`MAX_ZSTD_WINDOW`] for zstd) and at
//! most one zstd block (128 KiB) of input.
//!
//! The rules (the same for `send()`, `on_body` and `send_streaming()`):
//!
//! - Decoding is asked for with `decompress(true)` (client or request). Then
//!   `Accept-Encoding: gzip, deflate, br, zstd` goes out, unless the caller set or removed
//!   Accept-Encoding: then nothing is added and bodies are left as they arrive.
//! - Only a response with a body is decoded: not HEAD, 1xx, 204, 304 or an empty body; not
//!   a 206 (a range of an encoded representation cannot be decoded on its own); not a
//!   redirect hop's body; not a `want_body_handle` connection.
//! - `Content-Encoding` lists codings in the order they were applied; they are undone in
//!   reverse. `identity` is skipped. `x-gzip` is gzip. At most [`MAX_CONTENT_CODINGS`] are
//!   decoded; more is a 597. A coding we do not know (e.g. `compress`) leaves the whole body
//!   raw, with its headers as sent (as reqwest does).
//! - A decoded response loses `Content-Encoding` and `Content-Length` (they described the
//!   bytes on the wire, not the body the caller gets), as in reqwest and browsers' fetch.
//! - Caps, each a 597 (`ErrorKind::ResponseBody`) that stops reading at once (a
//!   connection whose body was not read to its end is closed): decoded size over
//!   [`MAX_DECODED_SIZE`]; decoded size over [`MAX_COMPRESSION_RATIO`] times the
//!   compressed bytes received, once past [`RATIO_GRACE`]; a zstd window over
//!   [`MAX_ZSTD_WINDOW`]. Both size caps also apply to each intermediate layer of stacked
//!   codings. `on_progress` counts the compressed bytes, as they arrive.
//! - Corrupt data, a bad checksum (gzip CRC-32 and size, zlib Adler-32, zstd XXH64) or a
//!   body that ends before its compressed stream does is a 597.
//! - `deflate` is the zlib format (RFC 9110 §8.4.1.2); raw deflate is accepted too, told
//!   apart by the zlib header's check bits. Concatenated gzip members and zstd frames are
//!   decoded in turn; other bytes after the end of the compressed data are ignored (as
//!   curl and browsers do).
//!
//! Without the feature, [`Decoder`] is an empty type that is never built.

/// What `decompress(true)` sends as Accept-Encoding.
pub(crate) const ACCEPT_ENCODING: &[u8] = b"gzip, deflate, br, zstd";

/// Largest decoded body, in bytes (1 GiB): more is a 597.
#[cfg(feature = "decompress")]
pub const MAX_DECODED_SIZE: u64 = 1 << 30;

/// Largest accepted ratio of decoded bytes to compressed bytes received, once the decoded
/// body is past [`RATIO_GRACE`]: more is a 597 (a decompression bomb).
#[cfg(feature = "decompress")]
pub const MAX_COMPRESSION_RATIO: u64 = 100;

/// Decoded bytes allowed before [`MAX_COMPRESSION_RATIO`] applies (1 MiB): small, very
/// repetitive bodies legitimately compress far better than 100:1.
#[cfg(feature = "decompress")]
pub const RATIO_GRACE: u64 = 1 << 20;

/// Most content codings decoded for one response (e.g. `gzip, br`): more is a 597.
#[cfg(feature = "decompress")]
pub const MAX_CONTENT_CODINGS: usize = 2;

/// Largest zstd window accepted (8 MiB, as RFC 9659 lets HTTP decoders require): a larger
/// one is a 597. The window is memory the decoder must hold.
#[cfg(feature = "decompress")]
pub const MAX_ZSTD_WINDOW: u64 = 8 << 20;

/// Largest decoded chunk handed on (to `on_body`, the collector or `chunk()`).
#[cfg(feature = "decompress")]
pub const DECODED_CHUNK_SIZE: usize = 64 * 1024;

#[cfg(feature = "decompress")]
pub(crate) use enabled::Decoder;

#[cfg(not(feature = "decompress"))]
pub(crate) use disabled::Decoder;

/// Fixtures shared with tests/decompress.rs (encoders, CLI-made samples).
#[cfg(all(test, feature = "decompress"))]
#[path = "../../tests/support/codecs.rs"]
mod codecs;

#[cfg(not(feature = "decompress"))]
mod disabled {
    use crate::error::Error;
    use bytes::Bytes;
    use http::HeaderMap;

    /// Without the `decompress` feature nothing is decoded: this type has no values.
    pub(crate) enum Decoder {}

    impl Decoder {
        pub(crate) fn for_response(headers: &mut HeaderMap) -> Result<Option<Self>, Error> {
            let _ = headers;
            Ok(None)
        }

        pub(crate) fn push(&mut self, _input: Bytes) {
            match *self {}
        }

        pub(crate) fn finish(&mut self) {
            match *self {}
        }

        pub(crate) fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
            match *self {}
        }
    }
}

#[cfg(feature = "decompress")]
mod enabled {
    use super::*;
    use crate::error::{Error, ErrorKind};
    use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
    use bytes::{Buf, Bytes};
    use flate2::{Crc, Decompress, FlushDecompress, Status};
    use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
    use http::HeaderMap;
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
    use std::fmt;
    use std::io::Read;

    /// The caps a decoder enforces (the constants above; tests use smaller ones).
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Limits {
        pub(crate) max_decoded: u64,
        pub(crate) max_ratio: u64,
        pub(crate) ratio_grace: u64,
    }

    impl Default for Limits {
        fn default() -> Self {
            Self { max_decoded: MAX_DECODED_SIZE, max_ratio: MAX_COMPRESSION_RATIO, ratio_grace: RATIO_GRACE }
        }
    }

    /// A content coding we decode.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Coding {
        Gzip,
        Deflate,
        Brotli,
        Zstd,
    }

    impl Coding {
        /// The coding for a Content-Encoding token (case-insensitive); `None` if unknown.
        fn parse(token: &str) -> Option<Self> {
            let is = |name: &str| token.eq_ignore_ascii_case(name);
            if is("gzip") || is("x-gzip") {
                Some(Self::Gzip)
            } else if is("deflate") {
                Some(Self::Deflate)
            } else if is("br") {
                Some(Self::Brotli)
            } else if is("zstd") {
                Some(Self::Zstd)
            } else {
                None
            }
        }

        fn name(self) -> &'static str {
            match self {
                Self::Gzip => "gzip",
                Self::Deflate => "deflate",
                Self::Brotli => "br",
                Self::Zstd => "zstd",
            }
        }
    }

    /// Why decoding failed; the source of the 597 error.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum DecodeError {
        /// The data is not valid for its coding.
        Corrupt(String),
        /// The body ended before the compressed stream did.
        Truncated,
        /// The decoded body is over the size cap.
        TooLarge(u64),
        /// The decoded body is over the ratio cap.
        Ratio(u64),
        /// The zstd frame asks for a window over [`MAX_ZSTD_WINDOW`].
        Window(u64),
    }

    impl fmt::Display for DecodeError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Corrupt(what) => f.write_str(what),
                Self::Truncated => f.write_str("the body ended before the compressed data did"),
                Self::TooLarge(limit) => write!(f, "the decoded body is larger than {limit} bytes"),
                Self::Ratio(ratio) => write!(
                    f,
                    "the body decodes to more than {ratio} times its compressed size (a decompression bomb?)"
                ),
                Self::Window(window) => {
                    write!(f, "the zstd window of {window} bytes is over the {MAX_ZSTD_WINDOW}-byte limit")
                }
            }
        }
    }

    impl std::error::Error for DecodeError {}

    /// One layer of the body's codings, with the input it has not consumed yet.
    struct Stage {
        coding: Coding,
        codec: Codec,
        input: Bytes,
        /// Some input has arrived (an empty body is nothing to decode, whatever its coding).
        seen_input: bool,
        /// Its input ended and everything has been decoded and checked.
        exhausted: bool,
        /// Bytes this layer has produced so far.
        produced: u64,
    }

    /// Decodes a response body: fed the body as it arrives ([`push`](Self::push), then
    /// [`finish`](Self::finish) at its end), it yields decoded chunks through
    /// [`next_chunk`](Self::next_chunk).
    pub(crate) struct Decoder {
        /// The layers, outermost first: `stages[0]` decodes the bytes on the wire, i.e. the
        /// coding listed last in Content-Encoding.
        stages: Vec<Stage>,
        scratch: Box<[u8]>,
        /// Compressed bytes received so far.
        received: u64,
        /// The body has ended: no more `push`.
        ended: bool,
        limits: Limits,
    }

    impl Decoder {
        /// The decoder for a response with these headers, or `None` when there is nothing we
        /// can decode (no Content-Encoding, only `identity`, or a coding we do not know):
        /// then the body and headers are left as they are. When a decoder is returned,
        /// Content-Encoding and Content-Length are removed from `headers`. More than
        /// [`MAX_CONTENT_CODINGS`] codings is a 597 error.
        pub(crate) fn for_response(headers: &mut HeaderMap) -> Result<Option<Self>, Error> {
            let Some(codings) = codings(headers)? else { return Ok(None) };
            headers.remove(CONTENT_ENCODING);
            headers.remove(CONTENT_LENGTH);
            Ok(Some(Self::new(&codings, Limits::default())))
        }

        /// A decoder for `codings`, listed in the order they were applied.
        pub(crate) fn new(codings: &[Coding], limits: Limits) -> Self {
            let stages = codings
                .iter()
                .rev()
                .map(|&coding| Stage {
                    coding,
                    codec: Codec::new(coding),
                    input: Bytes::new(),
                    seen_input: false,
                    exhausted: false,
                    produced: 0,
                })
                .collect();
            Self {
                stages,
                scratch: vec![0; DECODED_CHUNK_SIZE].into_boxed_slice(),
                received: 0,
                ended: false,
                limits,
            }
        }

        /// Feeds the next piece of the body. Call [`next_chunk`](Self::next_chunk) until it
        /// returns `None` before pushing more.
        pub(crate) fn push(&mut self, input: Bytes) {
            debug_assert!(!self.ended && self.stages[0].input.is_empty());
            self.received += input.len() as u64;
            let first = &mut self.stages[0];
            first.seen_input |= !input.is_empty();
            if first.input.is_empty() {
                first.input = input;
            } else {
                // Not reached when callers drain first; kept correct anyway.
                let mut joined = Vec::with_capacity(first.input.len() + input.len());
                joined.extend_from_slice(&first.input);
                joined.extend_from_slice(&input);
                first.input = joined.into();
            }
        }

        /// The body has ended: [`next_chunk`](Self::next_chunk) now yields the rest, then
        /// checks that the compressed data ended too.
        pub(crate) fn finish(&mut self) {
            self.ended = true;
        }

        /// The next decoded chunk; `None` when more input is needed (or, after
        /// [`finish`](Self::finish), at the end). Errors are 597s.
        pub(crate) fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
            let last = self.stages.len() - 1;
            self.pull(last).map_err(|(coding, cause)| {
                Error::new(ErrorKind::ResponseBody, format!("decode the {} response body", coding.name()))
                    .with_source(cause)
            })
        }

        /// The next output of layer `i`, pulling input from the layer before it as needed.
        fn pull(&mut self, i: usize) -> Result<Option<Bytes>, (Coding, DecodeError)> {
            loop {
                let ended = if i == 0 { self.ended } else { self.stages[i - 1].exhausted };
                let stage = &mut self.stages[i];
                if stage.exhausted {
                    return Ok(None);
                }
                let coding = stage.coding;
                let fail = |cause| (coding, cause);
                let produced = if stage.seen_input {
                    stage.codec.step(&mut stage.input, &mut self.scratch).map_err(fail)?
                } else {
                    0
                };
                if produced > 0 {
                    stage.produced += produced as u64;
                    check_limits(stage.produced, self.received, &self.limits).map_err(fail)?;
                    return Ok(Some(Bytes::copy_from_slice(&self.scratch[..produced])));
                }
                // Nothing produced: the layer's input is used up.
                if ended {
                    if stage.seen_input && !stage.codec.is_complete() {
                        return Err(fail(DecodeError::Truncated));
                    }
                    stage.exhausted = true;
                    return Ok(None);
                }
                if i == 0 {
                    return Ok(None);
                }
                match self.pull(i - 1)? {
                    Some(input) => {
                        let stage = &mut self.stages[i];
                        stage.seen_input = true;
                        stage.input = input;
                    }
                    // The layer before needs more input too, unless it just ended (then
                    // loop once more to check this layer's end).
                    None if !self.stages[i - 1].exhausted => return Ok(None),
                    None => {}
                }
            }
        }
    }

    /// The codings listed by Content-Encoding (all its fields, in order), without `identity`;
    /// `None` when there are none or one is unknown; an error when there are too many.
    pub(crate) fn codings(headers: &HeaderMap) -> Result<Option<Vec<Coding>>, Error> {
        let mut codings = Vec::new();
        let mut count = 0usize;
        for value in headers.get_all(CONTENT_ENCODING) {
            let Ok(text) = value.to_str() else { return Ok(None) };
            for token in text.split(',').map(str::trim) {
                if token.is_empty() || token.eq_ignore_ascii_case("identity") {
                    continue;
                }
                let Some(coding) = Coding::parse(token) else { return Ok(None) };
                count += 1;
                if codings.len() < MAX_CONTENT_CODINGS {
                    codings.push(coding);
                }
            }
        }
        if count > MAX_CONTENT_CODINGS {
            return Err(Error::new(
                ErrorKind::ResponseBody,
                format!(
                    "the response lists {count} content codings; at most {MAX_CONTENT_CODINGS} are decoded"
                ),
            ));
        }
        Ok((!codings.is_empty()).then_some(codings))
    }

    /// The size and ratio caps, for a layer that has produced `produced` bytes so far.
    fn check_limits(produced: u64, received: u64, limits: &Limits) -> Result<(), DecodeError> {
        if produced > limits.max_decoded {
            return Err(DecodeError::TooLarge(limits.max_decoded));
        }
        if produced > limits.ratio_grace && produced > received.saturating_mul(limits.max_ratio) {
            return Err(DecodeError::Ratio(limits.max_ratio));
        }
        Ok(())
    }

    /// One coding's decoder.
    enum Codec {
        Gzip(Box<Gzip>),
        Deflate(Box<Deflate>),
        Brotli(Box<Brotli>),
        Zstd(Box<Zstd>),
    }

    impl Codec {
        fn new(coding: Coding) -> Self {
            match coding {
                Coding::Gzip => Self::Gzip(Box::default()),
                Coding::Deflate => Self::Deflate(Box::default()),
                Coding::Brotli => Self::Brotli(Box::default()),
                Coding::Zstd => Self::Zstd(Box::default()),
            }
        }

        /// Decodes from `input` (advancing it) into `out`; returns how many bytes it wrote.
        /// `0` means that `input` is used up and more is needed (or the data has ended).
        fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
            match self {
                Self::Gzip(codec) => codec.step(input, out),
                Self::Deflate(codec) => codec.step(input, out),
                Self::Brotli(codec) => codec.step(input, out),
                Self::Zstd(codec) => codec.step(input, out),
            }
        }

        /// The compressed data has ended cleanly (so the body may end here).
        fn is_complete(&self) -> bool {
            match self {
                Self::Gzip(codec) => codec.is_complete(),
                Self::Deflate(codec) => codec.is_complete(),
                Self::Brotli(codec) => codec.done,
                Self::Zstd(codec) => codec.is_complete(),
            }
        }
    }

    /// Moves bytes from `input` into `buffer` until it holds `n`; true once it does.
    fn gather(buffer: &mut Vec<u8>, input: &mut Bytes, n: usize) -> bool {
        let take = n.saturating_sub(buffer.len()).min(input.len());
        buffer.extend_from_slice(&input[..take]);
        input.advance(take);
        buffer.len() >= n
    }

    /// Runs `inflate` over `input` into `out`: `(written, ended)`; `written == 0` and not
    /// ended means that `input` is used up.
    fn inflate_step(
        inflate: &mut Decompress,
        input: &mut Bytes,
        out: &mut [u8],
        what: &str,
    ) -> Result<(usize, bool), DecodeError> {
        loop {
            let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress(input, out, FlushDecompress::None)
                .map_err(|cause| DecodeError::Corrupt(format!("invalid {what} data: {cause}")))?;
            let consumed = (inflate.total_in() - in_before) as usize;
            let written = (inflate.total_out() - out_before) as usize;
            input.advance(consumed);
            if status == Status::StreamEnd {
                return Ok((written, true));
            }
            if written > 0 {
                return Ok((written, false));
            }
            if consumed == 0 {
                if input.is_empty() {
                    return Ok((0, false));
                }
                return Err(DecodeError::Corrupt(format!("invalid {what} data: no progress")));
            }
        }
    }

    const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
    const GZIP_FHCRC: u8 = 0x02;
    const GZIP_FEXTRA: u8 = 0x04;
    const GZIP_FNAME: u8 = 0x08;
    const GZIP_FCOMMENT: u8 = 0x10;
    const GZIP_RESERVED: u8 = 0xe0;

    /// Where a gzip decoder is (RFC 1952): members one after another, each a header, a
    /// raw deflate stream and an 8-byte trailer (CRC-32 and size of the member's data).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum GzipState {
        /// The fixed 10 bytes of a member header.
        Fixed,
        /// FEXTRA's 2-byte length.
        ExtraLength,
        /// Skipping FEXTRA's bytes.
        Extra(usize),
        /// Skipping a NUL-terminated FNAME.
        Name,
        /// Skipping a NUL-terminated FCOMMENT.
        Comment,
        /// Skipping the 2-byte header CRC.
        HeaderCrc,
        Body,
        Trailer,
        /// A member ended; another may follow (`1f 8b`).
        MemberEnd,
        /// Bytes after the last member: ignored.
        Garbage,
    }

    struct Gzip {
        state: GzipState,
        flags: u8,
        buffer: Vec<u8>,
        inflate: Decompress,
        crc: Crc,
    }

    impl Default for Gzip {
        fn default() -> Self {
            Self {
                state: GzipState::Fixed,
                flags: 0,
                buffer: Vec::with_capacity(10),
                inflate: Decompress::new(false),
                crc: Crc::new(),
            }
        }
    }

    impl Gzip {
        fn is_complete(&self) -> bool {
            match self.state {
                GzipState::Garbage => true,
                // A lone 0x1f after a member is not the start of another one.
                GzipState::MemberEnd => self.buffer.len() < 2,
                _ => false,
            }
        }

        /// The state after the header field `after` (each present only if its flag is set).
        fn next_header_field(&self, after: GzipState) -> GzipState {
            let order = [
                (GzipState::ExtraLength, GZIP_FEXTRA),
                (GzipState::Name, GZIP_FNAME),
                (GzipState::Comment, GZIP_FCOMMENT),
                (GzipState::HeaderCrc, GZIP_FHCRC),
            ];
            let start = match after {
                GzipState::Fixed => 0,
                GzipState::ExtraLength | GzipState::Extra(_) => 1,
                GzipState::Name => 2,
                GzipState::Comment => 3,
                _ => 4,
            };
            order[start..]
                .iter()
                .find(|(_, flag)| self.flags & flag != 0)
                .map_or(GzipState::Body, |(state, _)| *state)
        }

        /// Skips through a NUL byte; true once it has been passed.
        fn skip_through_nul(input: &mut Bytes) -> bool {
            match input.iter().position(|&b| b == 0) {
                Some(at) => {
                    input.advance(at + 1);
                    true
                }
                None => {
                    input.advance(input.len());
                    false
                }
            }
        }

        fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
            let corrupt = |what: &str| Err(DecodeError::Corrupt(format!("invalid gzip data: {what}")));
            loop {
                if input.is_empty() && self.state != GzipState::Body {
                    return Ok(0);
                }
                match self.state {
                    GzipState::Fixed => {
                        if !gather(&mut self.buffer, input, 10) {
                            continue;
                        }
                        if self.buffer[..2] != GZIP_MAGIC {
                            return corrupt("not a gzip header");
                        }
                        if self.buffer[2] != 8 {
                            return corrupt("unknown compression method");
                        }
                        self.flags = self.buffer[3];
                        if self.flags & GZIP_RESERVED != 0 {
                            return corrupt("reserved header flags set");
                        }
                        self.buffer.clear();
                        self.state = self.next_header_field(GzipState::Fixed);
                    }
                    GzipState::ExtraLength => {
                        if gather(&mut self.buffer, input, 2) {
                            let length = u16::from_le_bytes([self.buffer[0], self.buffer[1]]) as usize;
                            self.buffer.clear();
                            self.state = GzipState::Extra(length);
                        }
                    }
                    GzipState::Extra(left) => {
                        let skip = left.min(input.len());
                        input.advance(skip);
                        self.state = match left - skip {
                            0 => self.next_header_field(GzipState::Extra(0)),
                            left => GzipState::Extra(left),
                        };
                    }
                    GzipState::Name | GzipState::Comment => {
                        if Self::skip_through_nul(input) {
                            self.state = self.next_header_field(self.state);
                        }
                    }
                    GzipState::HeaderCrc => {
                        if gather(&mut self.buffer, input, 2) {
                            self.buffer.clear();
                            self.state = GzipState::Body;
                        }
                    }
                    GzipState::Body => {
                        let (written, ended) = inflate_step(&mut self.inflate, input, out, "gzip")?;
                        self.crc.update(&out[..written]);
                        if ended {
                            self.state = GzipState::Trailer;
                        }
                        if written > 0 || !ended {
                            return Ok(written);
                        }
                    }
                    GzipState::Trailer => {
                        if !gather(&mut self.buffer, input, 8) {
                            continue;
                        }
                        let word = |at: usize| {
                            u32::from_le_bytes([
                                self.buffer[at],
                                self.buffer[at + 1],
                                self.buffer[at + 2],
                                self.buffer[at + 3],
                            ])
                        };
                        if word(0) != self.crc.sum() {
                            return corrupt("CRC-32 mismatch");
                        }
                        if word(4) != self.crc.amount() {
                            return corrupt("size mismatch");
                        }
                        self.buffer.clear();
                        self.state = GzipState::MemberEnd;
                    }
                    GzipState::MemberEnd => {
                        gather(&mut self.buffer, input, 2);
                        if self.buffer[..] == GZIP_MAGIC {
                            // Another member: its first two bytes are already gathered.
                            self.inflate = Decompress::new(false);
                            self.crc = Crc::new();
                            self.state = GzipState::Fixed;
                        } else if self.buffer[..] != GZIP_MAGIC[..self.buffer.len()] {
                            self.buffer.clear();
                            self.state = GzipState::Garbage;
                        }
                    }
                    GzipState::Garbage => input.advance(input.len()),
                }
            }
        }
    }

    /// `deflate`: zlib (RFC 1950), or raw deflate (RFC 1951) when the first two bytes are
    /// not a zlib header.
    #[derive(Default)]
    struct Deflate {
        /// The first two bytes, until we know which format this is.
        sniffed: Vec<u8>,
        inflate: Option<Decompress>,
        done: bool,
    }

    impl Deflate {
        fn is_complete(&self) -> bool {
            self.done
        }

        /// True when `cmf`, `flg` start a zlib stream: deflate method, a window of at most
        /// 32 KiB, and the check bits.
        fn is_zlib_header(cmf: u8, flg: u8) -> bool {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
        }

        fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
            if self.done {
                input.advance(input.len());
                return Ok(0);
            }
            let inflate = match &mut self.inflate {
                Some(inflate) => inflate,
                None => {
                    if !gather(&mut self.sniffed, input, 2) {
                        return Ok(0);
                    }
                    let zlib = Self::is_zlib_header(self.sniffed[0], self.sniffed[1]);
                    let inflate = self.inflate.insert(Decompress::new(zlib));
                    // Put the two sniffed bytes back in front of the rest.
                    let mut joined = std::mem::take(&mut self.sniffed);
                    joined.extend_from_slice(input);
                    *input = joined.into();
                    inflate
                }
            };
            let (written, ended) = inflate_step(inflate, input, out, "deflate")?;
            if ended {
                self.done = true;
                if written == 0 {
                    input.advance(input.len());
                }
            }
            Ok(written)
        }
    }

    type BrotliDecoderState = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

    /// `br` (RFC 7932), without the large-window extension (so a window of at most 16 MiB).
    struct Brotli {
        state: BrotliDecoderState,
        done: bool,
    }

    impl Default for Brotli {
        fn default() -> Self {
            let state = BrotliDecoderState::new_strict(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            );
            Self { state, done: false }
        }
    }

    impl Brotli {
        fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
            loop {
                if self.done {
                    input.advance(input.len());
                    return Ok(0);
                }
                let (mut available_in, mut input_offset) = (input.len(), 0);
                let (mut available_out, mut output_offset, mut total_out) = (out.len(), 0, 0);
                let result = BrotliDecompressStream(
                    &mut available_in,
                    &mut input_offset,
                    input,
                    &mut available_out,
                    &mut output_offset,
                    out,
                    &mut total_out,
                    &mut self.state,
                );
                input.advance(input_offset);
                match result {
                    BrotliResult::ResultSuccess => {
                        self.done = true;
                        if output_offset > 0 {
                            return Ok(output_offset);
                        }
                    }
                    BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput if output_offset > 0 => {
                        return Ok(output_offset);
                    }
                    BrotliResult::NeedsMoreInput if input.is_empty() => return Ok(0),
                    BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => {
                        if input_offset == 0 {
                            return Err(DecodeError::Corrupt("invalid br data: no progress".into()));
                        }
                    }
                    BrotliResult::ResultFailure => {
                        let code = self.state.error_code as i32;
                        return Err(DecodeError::Corrupt(format!("invalid br data (error {code})")));
                    }
                }
            }
        }
    }

    const ZSTD_MAGIC: u32 = 0xfd2f_b528;
    const ZSTD_SKIPPABLE_MAGIC: u32 = 0x184d_2a50;
    const ZSTD_SKIPPABLE_MASK: u32 = 0xffff_fff0;
    /// The largest block a zstd frame may hold (RFC 8878 §3.1.1.2.3).
    const ZSTD_MAX_BLOCK: usize = 128 * 1024;

    /// Where a zstd decoder is (RFC 8878): frames one after another, each a header, blocks,
    /// and an optional checksum. We frame the blocks ourselves, so that ruzstd only ever
    /// sees whole blocks (at most 128 KiB each).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum ZstdState {
        /// The 4-byte magic number of the next frame.
        Magic,
        /// A skippable frame's 4-byte size.
        SkippableSize,
        /// Skipping a skippable frame.
        Skip(u64),
        /// The frame header (`needed` bytes, magic included, once the descriptor is known).
        Header,
        /// A block's 3-byte header.
        BlockHeader,
        /// A block's content (plus the checksum after the last block).
        Block { last: bool },
        /// Handing out what the block decoded.
        Drain { last: bool },
        /// Bytes after the last frame: ignored.
        Garbage,
    }

    struct Zstd {
        state: ZstdState,
        buffer: Vec<u8>,
        /// How many bytes `buffer` must hold for the current state.
        needed: usize,
        checksum: bool,
        frames: usize,
        decoder: FrameDecoder,
    }

    impl Default for Zstd {
        fn default() -> Self {
            Self {
                state: ZstdState::Magic,
                buffer: Vec::new(),
                needed: 4,
                checksum: false,
                frames: 0,
                decoder: FrameDecoder::new(),
            }
        }
    }

    impl Zstd {
        fn is_complete(&self) -> bool {
            match self.state {
                ZstdState::Garbage => true,
                // A partial magic number after a frame is not the start of another one.
                ZstdState::Magic => self.frames > 0,
                _ => false,
            }
        }

        fn corrupt(what: impl fmt::Display) -> DecodeError {
            DecodeError::Corrupt(format!("invalid zstd data: {what}"))
        }

        /// The frame header's size (magic included), from its descriptor byte.
        fn header_size(descriptor: u8) -> usize {
            let single_segment = descriptor & 0x20 != 0;
            let window = usize::from(!single_segment);
            let dictionary = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
            let content_size = match descriptor >> 6 {
                0 => usize::from(single_segment),
                1 => 2,
                2 => 4,
                _ => 8,
            };
            5 + window + dictionary + content_size
        }

        /// The window the frame asks for (RFC 8878 §3.1.1.1.2), from its whole header.
        fn window_size(header: &[u8]) -> u64 {
            let descriptor = header[4];
            if descriptor & 0x20 == 0 {
                let byte = header[5];
                let log = 10 + u64::from(byte >> 3);
                let base = 1u64 << log;
                return base + (base / 8) * u64::from(byte & 0x07);
            }
            // Single segment: the window is the content size, the header's last field.
            let dictionary = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
            let field = &header[5 + dictionary..];
            let mut bytes = [0u8; 8];
            bytes[..field.len()].copy_from_slice(field);
            let size = u64::from_le_bytes(bytes);
            if field.len() == 2 {
                size + 256
            } else {
                size
            }
        }

        fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
            loop {
                if let ZstdState::Drain { last } = self.state {
                    let written = self.decoder.read(out).map_err(Self::corrupt)?;
                    if written > 0 {
                        return Ok(written);
                    }
                    if last {
                        self.end_frame()?;
                    } else {
                        self.state = ZstdState::BlockHeader;
                        self.needed = 3;
                    }
                    continue;
                }
                if let ZstdState::Garbage = self.state {
                    input.advance(input.len());
                    return Ok(0);
                }
                if let ZstdState::Skip(left) = self.state {
                    if input.is_empty() {
                        return Ok(0);
                    }
                    let skip = left.min(input.len() as u64);
                    input.advance(skip as usize);
                    self.state = match left - skip {
                        0 => ZstdState::Magic,
                        left => ZstdState::Skip(left),
                    };
                    continue;
                }
                // Every other state works on `needed` gathered bytes (an empty block needs
                // no more than its header).
                if self.buffer.len() < self.needed {
                    if input.is_empty() {
                        return Ok(0);
                    }
                    gather(&mut self.buffer, input, self.needed);
                    continue;
                }
                match self.state {
                    ZstdState::Magic => {
                        let magic = u32::from_le_bytes([
                            self.buffer[0],
                            self.buffer[1],
                            self.buffer[2],
                            self.buffer[3],
                        ]);
                        if magic == ZSTD_MAGIC {
                            self.state = ZstdState::Header;
                            self.needed = 5;
                        } else if magic & ZSTD_SKIPPABLE_MASK == ZSTD_SKIPPABLE_MAGIC {
                            self.state = ZstdState::SkippableSize;
                            self.needed = 8;
                        } else if self.frames > 0 {
                            self.buffer.clear();
                            self.state = ZstdState::Garbage;
                        } else {
                            return Err(Self::corrupt("not a zstd frame"));
                        }
                    }
                    ZstdState::SkippableSize => {
                        let size = u32::from_le_bytes([
                            self.buffer[4],
                            self.buffer[5],
                            self.buffer[6],
                            self.buffer[7],
                        ]);
                        self.buffer.clear();
                        self.needed = 4;
                        self.state = ZstdState::Skip(u64::from(size));
                    }
                    ZstdState::Header if self.buffer.len() == 5 => {
                        let descriptor = self.buffer[4];
                        if descriptor & 0x08 != 0 {
                            return Err(Self::corrupt("reserved frame header bit set"));
                        }
                        self.needed = Self::header_size(descriptor);
                        self.checksum = descriptor & 0x04 != 0;
                    }
                    ZstdState::Header => {
                        let window = Self::window_size(&self.buffer);
                        if window > MAX_ZSTD_WINDOW {
                            return Err(DecodeError::Window(window));
                        }
                        self.decoder.init(&self.buffer[..]).map_err(Self::corrupt)?;
                        self.buffer.clear();
                        self.state = ZstdState::BlockHeader;
                        self.needed = 3;
                    }
                    ZstdState::BlockHeader => {
                        let header = u32::from_le_bytes([self.buffer[0], self.buffer[1], self.buffer[2], 0]);
                        let last = header & 1 != 0;
                        let size = (header >> 3) as usize;
                        let content = match (header >> 1) & 0x03 {
                            0 | 2 => size,
                            1 => 1,
                            _ => return Err(Self::corrupt("reserved block type")),
                        };
                        if size > ZSTD_MAX_BLOCK {
                            return Err(Self::corrupt("block larger than 128 KiB"));
                        }
                        let checksum = if last && self.checksum { 4 } else { 0 };
                        self.needed = 3 + content + checksum;
                        self.state = ZstdState::Block { last };
                    }
                    ZstdState::Block { last } => {
                        self.decoder
                            .decode_blocks(&self.buffer[..], BlockDecodingStrategy::UptoBlocks(1))
                            .map_err(Self::corrupt)?;
                        self.buffer.clear();
                        self.state = ZstdState::Drain { last };
                    }
                    ZstdState::Skip(_) | ZstdState::Drain { .. } | ZstdState::Garbage => {}
                }
            }
        }

        /// The frame's last block has been handed out: check its checksum, then expect
        /// another frame (or the end).
        fn end_frame(&mut self) -> Result<(), DecodeError> {
            if self.checksum {
                let sent = self.decoder.get_checksum_from_data();
                if sent.is_none() || sent != self.decoder.get_calculated_checksum() {
                    return Err(Self::corrupt("checksum mismatch"));
                }
            }
            self.frames += 1;
            self.state = ZstdState::Magic;
            self.needed = 4;
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::Write;

        use crate::client::decompress::codecs::*;

        /// Decodes `input` fed in pieces of `piece` bytes, collecting the output.
        fn decode_in_pieces(
            codings: &[Coding],
            limits: Limits,
            input: &[u8],
            piece: usize,
        ) -> Result<Vec<u8>, Error> {
            let mut decoder = Decoder::new(codings, limits);
            let mut out = Vec::new();
            for chunk in input.chunks(piece.max(1)) {
                decoder.push(Bytes::copy_from_slice(chunk));
                while let Some(chunk) = decoder.next_chunk()? {
                    assert!(chunk.len() <= DECODED_CHUNK_SIZE);
                    out.extend_from_slice(&chunk);
                }
            }
            decoder.finish();
            while let Some(chunk) = decoder.next_chunk()? {
                out.extend_from_slice(&chunk);
            }
            Ok(out)
        }

        /// Decodes whole and one byte at a time, and asserts that both agree.
        fn decode(codings: &[Coding], input: &[u8]) -> Result<Vec<u8>, String> {
            let whole = decode_in_pieces(codings, Limits::default(), input, input.len());
            let bytewise = decode_in_pieces(codings, Limits::default(), input, 1);
            match (whole, bytewise) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "whole and byte-by-byte decoding differ");
                    Ok(a)
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string());
                    Err(a.to_string())
                }
                (a, b) => panic!("whole: {a:?}, byte by byte: {b:?}"),
            }
        }

        #[test]
        fn each_coding_decodes_whole_and_byte_by_byte() {
            let data = sample(3000);
            assert_eq!(decode(&[Coding::Gzip], &gzip(&data)).unwrap(), data);
            assert_eq!(decode(&[Coding::Deflate], &zlib(&data)).unwrap(), data);
            assert_eq!(decode(&[Coding::Deflate], &raw_deflate(&data)).unwrap(), data);
            assert_eq!(decode(&[Coding::Zstd], &zstd(&data)).unwrap(), data);
            assert_eq!(decode(&[Coding::Brotli], BROTLI_SAMPLE_20).unwrap(), sample(20));
            assert_eq!(decode(&[Coding::Zstd], ZSTD_CLI_SAMPLE_20).unwrap(), sample(20));
            let mut bad_checksum = ZSTD_CLI_SAMPLE_20.to_vec();
            let at = bad_checksum.len() - 1;
            bad_checksum[at] ^= 1;
            assert_eq!(
                decode(&[Coding::Zstd], &bad_checksum).unwrap_err(),
                "decode the zstd response body: invalid zstd data: checksum mismatch"
            );
        }

        #[test]
        fn stacked_codings_are_undone_in_reverse() {
            let data = sample(500);
            assert_eq!(decode(&[Coding::Gzip, Coding::Gzip], &gzip(&gzip(&data))).unwrap(), data);
            assert_eq!(decode(&[Coding::Deflate, Coding::Zstd], &zstd(&zlib(&data))).unwrap(), data);
            assert_eq!(decode(&[Coding::Brotli, Coding::Gzip], &gzip(BROTLI_SAMPLE_20)).unwrap(), sample(20));
        }

        #[test]
        fn gzip_members_and_zstd_frames_follow_each_other_and_trailing_bytes_are_ignored() {
            let (a, b) = (sample(10), sample(30));
            let joined = [a.clone(), b.clone()].concat();
            assert_eq!(decode(&[Coding::Gzip], &[gzip(&a), gzip(&b)].concat()).unwrap(), joined);
            assert_eq!(decode(&[Coding::Zstd], &[zstd(&a), zstd(&b)].concat()).unwrap(), joined);
            // A skippable frame between two frames.
            let skippable = [&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0][..], b"abc"].concat();
            assert_eq!(decode(&[Coding::Zstd], &[zstd(&a), skippable, zstd(&b)].concat()).unwrap(), joined);
            for trailing in [&b"\0\0\0\0"[..], b"\n", b"\x1f", b"garbage after the end"] {
                assert_eq!(decode(&[Coding::Gzip], &[&gzip(&a)[..], trailing].concat()).unwrap(), a);
                assert_eq!(decode(&[Coding::Deflate], &[&zlib(&a)[..], trailing].concat()).unwrap(), a);
                assert_eq!(decode(&[Coding::Zstd], &[&zstd(&a)[..], trailing].concat()).unwrap(), a);
                assert_eq!(
                    decode(&[Coding::Brotli], &[BROTLI_SAMPLE_20, trailing].concat()).unwrap(),
                    sample(20)
                );
            }
        }

        #[test]
        fn gzip_header_fields_are_skipped() {
            let data = sample(40);
            let mut encoder = flate2::GzBuilder::new()
                .filename("name.txt")
                .comment("a comment")
                .extra(vec![1, 2, 3, 4, 5])
                .write(Vec::new(), flate2::Compression::best());
            encoder.write_all(&data).unwrap();
            let mut encoded = encoder.finish().unwrap();
            assert_eq!(decode(&[Coding::Gzip], &encoded).unwrap(), data);
            // FHCRC: two more bytes after the header (we skip them).
            encoded[3] |= GZIP_FHCRC;
            let header_end = 10 + 2 + 5 + "name.txt".len() + 1 + "a comment".len() + 1;
            encoded.splice(header_end..header_end, [0xaa, 0xbb]);
            assert_eq!(decode(&[Coding::Gzip], &encoded).unwrap(), data);
        }

        #[test]
        fn corrupt_or_truncated_data_is_an_error() {
            let data = sample(200);
            let gz = gzip(&data);
            let mut bad_crc = gz.clone();
            let at = bad_crc.len() - 8;
            bad_crc[at] ^= 1;
            assert_eq!(
                decode(&[Coding::Gzip], &bad_crc).unwrap_err(),
                "decode the gzip response body: invalid gzip data: CRC-32 mismatch"
            );
            assert!(decode(&[Coding::Gzip], b"not gzip at all").unwrap_err().contains("not a gzip header"));
            for encoded in [gz.clone(), zlib(&data), zstd(&data), BROTLI_SAMPLE_20.to_vec()] {
                for cut in [1, encoded.len() / 2, encoded.len() - 1] {
                    for coding in [Coding::Gzip, Coding::Deflate, Coding::Zstd, Coding::Brotli] {
                        // Truncated, or not that coding at all: never a success.
                        assert!(decode(&[coding], &encoded[..cut]).is_err());
                    }
                }
            }
            assert_eq!(
                decode(&[Coding::Gzip], &gz[..gz.len() - 3]).unwrap_err(),
                "decode the gzip response body: the body ended before the compressed data did"
            );
            let mut flipped = zlib(&data);
            let at = flipped.len() / 2;
            flipped[at] ^= 0x55;
            assert!(decode(&[Coding::Deflate], &flipped).is_err());
            let mut zst = zstd(&data);
            let at = zst.len() - 1;
            zst[at] ^= 0x55;
            assert!(decode(&[Coding::Zstd], &zst).is_err());
        }

        #[test]
        fn an_empty_body_is_nothing_to_decode() {
            for coding in [Coding::Gzip, Coding::Deflate, Coding::Zstd, Coding::Brotli] {
                assert_eq!(decode(&[coding], b"").unwrap(), b"");
                assert_eq!(decode(&[coding, coding], b"").unwrap(), b"");
            }
        }

        #[test]
        fn the_size_cap_holds() {
            let data = sample(2000); // 96 000 bytes
            let limits = Limits { max_decoded: 50_000, ..Limits::default() };
            for (coding, encoded) in [(Coding::Gzip, gzip(&data)), (Coding::Zstd, zstd(&data))] {
                let error = decode_in_pieces(&[coding], limits, &encoded, 1000).unwrap_err();
                assert_eq!(error.kind(), ErrorKind::ResponseBody);
                assert!(
                    error.to_string().ends_with("the decoded body is larger than 50000 bytes"),
                    "{error}"
                );
            }
            let limits = Limits { max_decoded: data.len() as u64, ..Limits::default() };
            assert_eq!(decode_in_pieces(&[Coding::Gzip], limits, &gzip(&data), 1000).unwrap(), data);
        }

        #[test]
        fn the_ratio_cap_stops_a_bomb_early() {
            let zeros = vec![0u8; 64 << 20];
            let bomb = gzip(&zeros);
            assert!(bomb.len() < 100 * 1024, "{}", bomb.len());
            let mut decoder = Decoder::new(&[Coding::Gzip], Limits::default());
            let mut decoded = 0u64;
            let mut error = None;
            'feed: for piece in bomb.chunks(16 * 1024) {
                decoder.push(Bytes::copy_from_slice(piece));
                loop {
                    match decoder.next_chunk() {
                        Ok(Some(chunk)) => decoded += chunk.len() as u64,
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break 'feed;
                        }
                    }
                }
            }
            let error = error.expect("the bomb was decoded");
            assert!(error.to_string().contains("more than 100 times its compressed size"), "{error}");
            // It stopped at the grace (1 MiB) or 100 times the first piece, whichever is more.
            assert!(decoded <= 2 << 20, "{decoded}");
            // Stacked, the inner layer's output counts too.
            let double = gzip(&bomb);
            let error = decode_in_pieces(&[Coding::Gzip, Coding::Gzip], Limits::default(), &double, 4096)
                .unwrap_err();
            assert!(error.to_string().contains("decompression bomb"), "{error}");
        }

        #[test]
        fn a_large_zstd_window_is_refused() {
            // Frame header: magic, descriptor (no single segment, no checksum), window byte
            // 0x58 = 2^(10 + 11) = 2 MiB (accepted), 0x70 = 2^24 = 16 MiB (refused).
            let ok = decode(&[Coding::Zstd], &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00, 0x00]);
            assert_eq!(ok.unwrap(), b"");
            let refused = decode(&[Coding::Zstd], &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x70, 0x01, 0x00, 0x00]);
            assert!(refused.unwrap_err().contains("zstd window of 16777216 bytes"));
        }

        #[test]
        fn codings_are_read_from_every_content_encoding_field() {
            let headers = |values: &[&str]| {
                let mut map = HeaderMap::new();
                for value in values {
                    map.append(CONTENT_ENCODING, value.parse().unwrap());
                }
                map
            };
            let read = |values: &[&str]| codings(&headers(values)).map_err(|e| e.to_string());
            assert_eq!(read(&[]), Ok(None));
            assert_eq!(read(&["identity"]), Ok(None));
            assert_eq!(read(&["GZIP"]), Ok(Some(vec![Coding::Gzip])));
            assert_eq!(read(&["x-gzip"]), Ok(Some(vec![Coding::Gzip])));
            assert_eq!(read(&["deflate, identity,br"]), Ok(Some(vec![Coding::Deflate, Coding::Brotli])));
            assert_eq!(read(&["gzip", "zstd"]), Ok(Some(vec![Coding::Gzip, Coding::Zstd])));
            assert_eq!(read(&["compress"]), Ok(None));
            assert_eq!(read(&["gzip, gzip, gzip, compress"]), Ok(None));
            assert_eq!(
                read(&["gzip, gzip", "gzip"]),
                Err("the response lists 3 content codings; at most 2 are decoded".into())
            );
            let mut map = headers(&["gzip"]);
            map.insert(CONTENT_LENGTH, "10".parse().unwrap());
            assert!(Decoder::for_response(&mut map).unwrap().is_some());
            assert!(map.is_empty());
            let mut map = headers(&["compress"]);
            map.insert(CONTENT_LENGTH, "10".parse().unwrap());
            assert!(Decoder::for_response(&mut map).unwrap().is_none());
            assert_eq!(map.len(), 2);
        }
    }
}
