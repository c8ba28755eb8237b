//! Content decoding of responses (feature `decompress`): gzip, deflate, brotli and zstd,
//! decoded chunk by chunk as the body arrives, under three caps. The layering and the caps
//! are in `decoder.rs`; each codec has a file of its own (`gzip.rs` has deflate too: both
//! are flate2's inflate).
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
mod brotli;
#[cfg(feature = "decompress")]
mod decoder;
#[cfg(feature = "decompress")]
mod gzip;
#[cfg(feature = "decompress")]
mod zstd;

#[cfg(feature = "decompress")]
pub(crate) use decoder::Decoder;

#[cfg(not(feature = "decompress"))]
pub(crate) use disabled::Decoder;

/// Fixtures shared with tests/decompress.rs (encoders, CLI-made samples).
#[cfg(all(test, feature = "decompress"))]
#[path = "../../../tests/support/codecs.rs"]
mod codecs;

#[cfg(all(test, feature = "decompress"))]
mod tests;

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
