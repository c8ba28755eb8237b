//! Files: serving a file or a directory with HEAD, conditional requests and ranges.
//!
//! [`serve_file`] is POEx's `sendfile` done right: validators (ETag, Last-Modified),
//! conditional requests in the order of RFC 9110 §13.2.2, byte ranges (single and
//! multipart) and a body streamed `block_size` bytes at a time with an exact
//! Content-Length. [`StaticFiles`] (and its shortcut [`serve_dir`]) maps request paths
//! under a root directory so that nothing outside it can be reached.

mod conditional;
mod dir;
mod range;

use conditional::*;
pub use dir::{serve_dir, StaticFiles};
use range::*;

use super::{BodySender, Reply, Request};
use bytes::Bytes;
use http::Method;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How files are sent: block size and range limit.
///
/// ```
/// use courier::server::FileOptions;
/// let options = FileOptions::new().block_size(1400 * 4).max_ranges(4);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    block_size: usize,
    max_ranges: usize,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self { block_size: Self::DEFAULT_BLOCK_SIZE, max_ranges: Self::DEFAULT_MAX_RANGES }
    }
}

impl FileOptions {
    /// Bytes read from a file and sent per chunk by default: 7500, POEx's `blocksize`.
    pub const DEFAULT_BLOCK_SIZE: usize = 7500;

    /// Most ranges one request may ask for by default; a Range header listing more is
    /// ignored and the whole file is sent (as Apache's `MaxRanges` does).
    pub const DEFAULT_MAX_RANGES: usize = 16;

    /// The defaults: [`DEFAULT_BLOCK_SIZE`](Self::DEFAULT_BLOCK_SIZE) and
    /// [`DEFAULT_MAX_RANGES`](Self::DEFAULT_MAX_RANGES).
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes read and sent per chunk (at least 1). As POEx advises, a whole multiple of
    /// the path's MTU payload is a good choice.
    pub fn block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes.max(1);
        self
    }

    /// Most ranges a request may ask for (at least 1); a Range header listing more is
    /// ignored and the whole file is sent with 200. Overlapping and adjacent ranges are
    /// always merged, so a multipart reply never sends a byte twice.
    pub fn max_ranges(mut self, ranges: usize) -> Self {
        self.max_ranges = ranges.max(1);
        self
    }
}

/// Answers `request` with the file at `path`, with the default [`FileOptions`].
///
/// - 200 with Content-Type from the extension (`application/octet-stream` when unknown,
///   `; charset=utf-8` added to `text/*`), Content-Length, Last-Modified, a strong ETag
///   (`"<size hex>-<mtime nanoseconds hex>"`) and `Accept-Ranges: bytes`; HEAD gets the
///   same head and the file is not read.
/// - Conditional requests in RFC 9110 §13.2.2 order: If-Match, else If-Unmodified-Since
///   (412 when they fail); If-None-Match (304 for GET and HEAD, 412 otherwise), else
///   If-Modified-Since (GET and HEAD only; 304). A 304 carries ETag and Last-Modified.
/// - Range, for GET only, honoured when If-Range (an ETag or a date) matches: one range
///   gives 206 with Content-Range, several give 206 `multipart/byteranges`; overlapping
///   and adjacent ranges are merged; none satisfiable gives 416 with
///   `Content-Range: bytes */<size>`. A malformed Range, one in another unit, one for an
///   empty file, or one listing more than the [range limit](FileOptions::max_ranges), is
///   ignored (200).
/// - A missing file or a directory gives 404, a file that may not be read 403, any other
///   failure 500.
///
/// The method is not checked: a POST handler may answer with a file (ranges and 304
/// apply to GET and HEAD only). [`StaticFiles`] allows only GET and HEAD.
///
/// ```
/// use courier::server::{serve_file, Server};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("courier-doc-{}.txt", std::process::id()));
/// std::fs::write(&path, "hello, file")?;
/// let file = path.clone();
/// let server = Server::builder()
///     .route("/hello.txt", move |req| {
///         let file = file.clone();
///         async move { serve_file(&req, &file).await }
///     })
///     .start()
///     .await?;
/// let res = courier::get(server.url("/hello.txt")).header("range", "bytes=7-").send().await;
/// assert_eq!(res.status().as_u16(), 206);
/// assert_eq!(res.header("content-range").as_deref(), Some("bytes 7-10/11"));
/// assert_eq!(res.text(), "file");
/// server.shutdown().await;
/// std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
pub async fn serve_file(request: &Request, path: impl AsRef<Path>) -> Reply {
    serve_file_with(request, path, &FileOptions::default()).await
}

/// [`serve_file`] with explicit [`FileOptions`] (block size, range limit).
///
/// ```no_run
/// use courier::server::{serve_file_with, FileOptions, Server};
/// # async fn demo() -> std::io::Result<()> {
/// let options = FileOptions::new().block_size(64 * 1024);
/// let server = Server::builder()
///     .route("/big.iso", move |req| {
///         let options = options.clone();
///         async move { serve_file_with(&req, "/srv/big.iso", &options).await }
///     })
///     .start()
///     .await?;
/// # drop(server); Ok(()) }
/// ```
pub async fn serve_file_with(request: &Request, path: impl AsRef<Path>, options: &FileOptions) -> Reply {
    let path = path.as_ref();
    let (file, metadata) = match open_regular(path).await {
        Ok(opened) => opened,
        Err(reply) => return reply,
    };
    let size = metadata.len();
    let validators = Validators::new(size, metadata.modified().ok());
    let method = request.method();
    let get_or_head = *method == Method::GET || *method == Method::HEAD;

    match preconditions(request, &validators, get_or_head) {
        Precondition::Proceed => {}
        Precondition::Failed => {
            return validators.apply(Reply::error(412, "a precondition of the request failed"))
        }
        Precondition::NotModified => return validators.apply(headers_only(304)),
    }

    let content_type = content_type(path);
    let ranges = if *method == Method::GET && size > 0 {
        requested_ranges(request, &validators, size, options.max_ranges)
    } else {
        Ranges::Whole
    };
    let head_only = *method == Method::HEAD;
    match ranges {
        Ranges::Whole => {
            let reply = if head_only {
                headers_only(200)
            } else {
                stream(file, 200, vec![Piece::file(0, size)], options)
            };
            validators
                .apply(reply)
                .with_header("content-type", &content_type)
                .with_header("content-length", &size.to_string())
                .with_header("accept-ranges", "bytes")
        }
        Ranges::Unsatisfiable => validators
            .apply(Reply::error(416, "no requested range is within the file"))
            .with_header("content-range", &format!("bytes */{size}"))
            .with_header("accept-ranges", "bytes"),
        Ranges::Some(ranges) if ranges.len() == 1 => {
            let range = ranges[0];
            let reply = stream(file, 206, vec![Piece::file(range.start, range.len())], options);
            validators
                .apply(reply)
                .with_header("content-type", &content_type)
                .with_header("content-length", &range.len().to_string())
                .with_header("content-range", &range.content_range(size))
                .with_header("accept-ranges", "bytes")
        }
        Ranges::Some(ranges) => {
            let boundary = boundary();
            let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
            let mut separator = String::new();
            for range in &ranges {
                separator.push_str(&format!(
                    "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                    range.content_range(size)
                ));
                pieces.push(Piece::Bytes(Bytes::from(std::mem::take(&mut separator))));
                pieces.push(Piece::file(range.start, range.len()));
                separator.push_str("\r\n");
            }
            separator.push_str(&format!("--{boundary}--\r\n"));
            pieces.push(Piece::Bytes(Bytes::from(separator)));
            let length: u64 = pieces.iter().map(Piece::len).sum();
            let reply = stream(file, 206, pieces, options);
            validators
                .apply(reply)
                .with_header("content-type", &format!("multipart/byteranges; boundary={boundary}"))
                .with_header("content-length", &length.to_string())
                .with_header("accept-ranges", "bytes")
        }
    }
}

fn not_found() -> Reply {
    Reply::error(404, "no such file")
}

/// The reply for a failed file system call.
fn io_reply(error: &io::Error) -> Reply {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidInput => not_found(),
        io::ErrorKind::PermissionDenied => Reply::error(403, "the file may not be read"),
        _ => Reply::error(500, "the file cannot be read"),
    }
}

/// Opens `path` if it is a regular file (never a directory, FIFO or device: opening a
/// FIFO would block).
async fn open_regular(path: &Path) -> Result<(File, std::fs::Metadata), Reply> {
    let metadata = tokio::fs::metadata(path).await.map_err(|error| io_reply(&error))?;
    if !metadata.is_file() {
        return Err(not_found());
    }
    let file = File::open(path).await.map_err(|error| io_reply(&error))?;
    // The file may have been replaced in between: trust what was opened.
    let metadata = file.metadata().await.map_err(|error| io_reply(&error))?;
    if !metadata.is_file() {
        return Err(not_found());
    }
    Ok((file, metadata))
}

/// The Content-Type for a file name; text gets `charset=utf-8`.
fn content_type(path: &Path) -> String {
    match mime_guess::from_path(path).first() {
        Some(mime) if mime.type_() == mime_guess::mime::TEXT && mime.get_param("charset").is_none() => {
            format!("{mime}; charset=utf-8")
        }
        Some(mime) => mime.to_string(),
        None => "application/octet-stream".into(),
    }
}

/// A reply with a head and no body, and no framing header added by the connection (a
/// full empty body would get `Content-Length: 0`, wrong for HEAD and 304).
fn headers_only(status: u16) -> Reply {
    let (reply, sender) = Reply::stream(status);
    drop(sender);
    reply
}

/// Part of a streamed body: literal bytes, or a stretch of the file.
enum Piece {
    Bytes(Bytes),
    File { start: u64, length: u64 },
}

impl Piece {
    fn file(start: u64, length: u64) -> Self {
        Self::File { start, length }
    }

    fn len(&self) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::File { length, .. } => *length,
        }
    }
}

impl fmt::Debug for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "Bytes({})", bytes.len()),
            Self::File { start, length } => write!(f, "File({start}+{length})"),
        }
    }
}

/// A streamed reply whose body is `pieces`, read and sent by a task of its own.
fn stream(file: File, status: u16, pieces: Vec<Piece>, options: &FileOptions) -> Reply {
    let (reply, sender) = Reply::stream(status);
    if pieces.iter().any(|piece| piece.len() > 0) {
        tokio::spawn(pump(file, pieces, options.block_size, sender));
    }
    reply
}

/// Sends the pieces, the file's `block_size` bytes at a time. A read error or a file that
/// shrank ends the body early: the connection sees the short body and closes.
async fn pump(mut file: File, pieces: Vec<Piece>, block_size: usize, mut sender: BodySender) {
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => {
                if sender.send(bytes).await.is_err() {
                    return;
                }
            }
            Piece::File { start, length } => {
                if file.seek(io::SeekFrom::Start(start)).await.is_err() {
                    return;
                }
                let mut left = length;
                while left > 0 {
                    let want = usize::try_from(left).unwrap_or(usize::MAX).min(block_size);
                    let mut block = vec![0; want];
                    let mut filled = 0;
                    while filled < want {
                        match file.read(&mut block[filled..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => filled += read,
                        }
                    }
                    if filled == 0 {
                        return;
                    }
                    block.truncate(filled);
                    left -= filled as u64;
                    if sender.send(block).await.is_err() || filled < want {
                        return;
                    }
                }
            }
        }
    }
}
