//! brotli (RFC 7932), through brotli-decompressor's streaming state.

use super::decoder::DecodeError;
use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use bytes::{Buf, Bytes};

type BrotliDecoderState = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

/// `br` (RFC 7932), without the large-window extension (so a window of at most 16 MiB).
pub(super) struct Brotli {
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
    pub(super) fn step(&mut self, input: &mut Bytes, out: &mut [u8]) -> Result<usize, DecodeError> {
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

impl Brotli {
    /// The compressed data has ended cleanly.
    pub(super) fn is_complete(&self) -> bool {
        self.done
    }
}
