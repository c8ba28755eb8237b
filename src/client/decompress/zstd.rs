//! zstd (RFC 8878): frames, skippable frames and checksums around ruzstd's block decoder,
//! with the window cap.

use super::decoder::{gather, DecodeError};
use super::MAX_ZSTD_WINDOW;
use bytes::{Buf, Bytes};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use std::fmt;
use std::io::Read;

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

pub(super) struct Zstd {
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
    pub(super) fn is_complete(&self) -> bool {
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

    pub(super) fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
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
                    let magic =
                        u32::from_le_bytes([self.buffer[0], self.buffer[1], self.buffer[2], self.buffer[3]]);
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
                    let size =
                        u32::from_le_bytes([self.buffer[4], self.buffer[5], self.buffer[6], self.buffer[7]]);
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
