//! The codec's size limits, in one place so that client, server and docs agree.

/// Largest accepted message head (start line plus header fields), in bytes.
///
/// Large enough for real-world cookies and redirects; small enough that a hostile peer
/// cannot make us buffer without bound before we have parsed anything.
pub const MAX_HEAD_SIZE: usize = 64 * 1024;

/// Most header fields accepted in one head (and in one trailer section).
pub const MAX_HEADERS: usize = 100;

/// Largest accepted trailer section after a chunked body, in bytes.
pub const MAX_TRAILER_SIZE: usize = 16 * 1024;

/// Largest chunk extension accepted on one chunk-size line, in bytes.
///
/// Extensions carry no meaning for us; they are skipped, but never without bound.
pub const MAX_CHUNK_EXTENSION_LINE: usize = 4 * 1024;

/// Most digits in one chunk size, leading zeros included.
///
/// Sixteen hex digits hold any 64-bit size; the rest can only be zeros, and a line of
/// endless zeros would keep a connection busy without a byte of body.
pub const MAX_CHUNK_SIZE_DIGITS: usize = 64;

/// Most chunk-extension bytes accepted over a whole body.
///
/// Without a total, a peer could send endless one-byte chunks each with a 4 KiB extension
/// and make us burn CPU for very little body.
pub const MAX_CHUNK_EXTENSIONS_TOTAL: usize = 16 * 1024;

/// Most interim (1xx) responses accepted before the final one.
pub const MAX_INTERIM_RESPONSES: usize = 32;
