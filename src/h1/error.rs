//! The codec's error type: every way a peer's bytes can break HTTP/1.1 framing.

use std::fmt;

/// A protocol violation found while parsing a head or decoding a body.
///
/// Derives `PartialEq` so tests can `assert_eq!` on the exact failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The head grew past [`MAX_HEAD_SIZE`](super::limits::MAX_HEAD_SIZE).
    HeadTooLarge,
    /// More than [`MAX_HEADERS`](super::limits::MAX_HEADERS) header fields.
    TooManyHeaders,
    /// The start line or a header field is not valid HTTP/1.x (the text says which part).
    MalformedHead(&'static str),
    /// A well-formed HTTP version whose major number is not 1 (`HTTP/2.0`): this peer
    /// speaks another protocol (a server answers 505).
    UnsupportedVersion,
    /// Both Transfer-Encoding and Content-Length: a request-smuggling shape we refuse.
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message, which cannot carry it.
    TransferEncodingInHttp10,
    /// A transfer coding other than a single, final `chunked`.
    UnsupportedTransferEncoding,
    /// A Content-Length that is not a plain decimal number that fits in 64 bits.
    InvalidContentLength,
    /// Several Content-Length values that disagree.
    ConflictingContentLength,
    /// A chunk-size line that is not hex digits (optionally followed by extensions).
    InvalidChunkSize,
    /// A chunk size too large for 64 bits.
    ChunkSizeOverflow,
    /// A chunk line or chunk data not ended by exactly CRLF.
    InvalidChunkTerminator,
    /// A chunk extension that does not follow `;name[=token|"quoted"]` (RFC 9112 §7.1.1).
    InvalidChunkExtension,
    /// Chunk extensions over the per-line or per-body limit.
    ChunkExtensionTooLong,
    /// A trailer section over [`MAX_TRAILER_SIZE`](super::limits::MAX_TRAILER_SIZE).
    TrailersTooLarge,
    /// A trailer section that does not parse as header fields.
    MalformedTrailers,
    /// The connection ended before the body was complete.
    UnexpectedEof,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::HeadTooLarge => "message head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::MalformedHead(what) => return write!(f, "malformed message head: {what}"),
            Self::UnsupportedVersion => "unsupported HTTP major version",
            Self::ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding present",
            Self::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
            Self::UnsupportedTransferEncoding => "unsupported Transfer-Encoding (only chunked)",
            Self::InvalidContentLength => "invalid Content-Length",
            Self::ConflictingContentLength => "conflicting Content-Length values",
            Self::InvalidChunkSize => "invalid chunk size",
            Self::ChunkSizeOverflow => "chunk size overflows 64 bits",
            Self::InvalidChunkTerminator => "chunk line or data not terminated by CRLF",
            Self::InvalidChunkExtension => "malformed chunk extension",
            Self::ChunkExtensionTooLong => "chunk extensions too long",
            Self::TrailersTooLarge => "trailer section too large",
            Self::MalformedTrailers => "malformed trailer section",
            Self::UnexpectedEof => "connection closed before the body was complete",
        };
        f.write_str(text)
    }
}

impl std::error::Error for ProtocolError {}
