//! The content decoder: one stage per coding (outermost first), each pulling from the one
//! before, under the size and ratio caps; the codecs themselves are in their own files.

use super::brotli::Brotli;
use super::gzip::{Deflate, Gzip};
use super::zstd::Zstd;
use super::{
    DECODED_CHUNK_SIZE, MAX_COMPRESSION_RATIO, MAX_CONTENT_CODINGS, MAX_DECODED_SIZE, MAX_ZSTD_WINDOW,
    RATIO_GRACE,
};
use crate::error::{Error, ErrorKind};
use bytes::{Buf, Bytes};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;
use std::fmt;

/// The caps a decoder enforces (the constants above; tests use smaller ones).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeLimits {
    pub(crate) max_decoded: u64,
    pub(crate) max_ratio: u64,
    pub(crate) ratio_grace: u64,
}

impl Default for DecodeLimits {
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
    pub(super) fn parse(token: &str) -> Option<Self> {
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
    limits: DecodeLimits,
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
        Ok(Some(Self::new(&codings, DecodeLimits::default())))
    }

    /// A decoder for `codings`, listed in the order they were applied.
    pub(crate) fn new(codings: &[Coding], limits: DecodeLimits) -> Self {
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
            format!("the response lists {count} content codings; at most {MAX_CONTENT_CODINGS} are decoded"),
        ));
    }
    Ok((!codings.is_empty()).then_some(codings))
}

/// The size and ratio caps, for a layer that has produced `produced` bytes so far.
fn check_limits(produced: u64, received: u64, limits: &DecodeLimits) -> Result<(), DecodeError> {
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
            Self::Brotli(codec) => codec.is_complete(),
            Self::Zstd(codec) => codec.is_complete(),
        }
    }
}

/// Moves bytes from `input` into `buffer` until it holds `n`; true once it does.
pub(super) fn gather(buffer: &mut Vec<u8>, input: &mut Bytes, n: usize) -> bool {
    let take = n.saturating_sub(buffer.len()).min(input.len());
    buffer.extend_from_slice(&input[..take]);
    input.advance(take);
    buffer.len() >= n
}
