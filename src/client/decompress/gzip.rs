//! gzip (RFC 1952) and deflate (zlib, RFC 1950, or raw): both are flate2's inflate, with the
//! framing and checksums around it done here.

use super::decoder::{gather, DecodeError};
use bytes::{Buf, Bytes};
use flate2::{Crc, Decompress, FlushDecompress, Status};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
pub(super) const GZIP_FHCRC: u8 = 0x02;
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

pub(super) struct Gzip {
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
    pub(super) fn is_complete(&self) -> bool {
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

    pub(super) fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
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
pub(super) struct Deflate {
    /// The first two bytes, until we know which format this is.
    sniffed: Vec<u8>,
    inflate: Option<Decompress>,
    done: bool,
}

impl Deflate {
    pub(super) fn is_complete(&self) -> bool {
        self.done
    }

    /// True when `cmf`, `flg` start a zlib stream: deflate method, a window of at most
    /// 32 KiB, and the check bits.
    fn is_zlib_header(cmf: u8, flg: u8) -> bool {
        cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
    }

    pub(super) fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
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
