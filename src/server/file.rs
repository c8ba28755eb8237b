//! Files: serving a file or a directory with HEAD, conditional requests and ranges.
//!
//! [`serve_file`] is POEx's `sendfile` done right: validators (ETag, Last-Modified),
//! conditional requests in the order of RFC 9110 §13.2.2, byte ranges (single and
//! multipart) and a body streamed `block_size` bytes at a time with an exact
//! Content-Length. [`StaticFiles`] (and its shortcut [`serve_dir`]) maps request paths
//! under a root directory so that nothing outside it can be reached.

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

/// Serves the files under `root`: a ready handler for [`ServerBuilder::route`] or
/// [`ServerBuilder::handler`], the shortcut for `StaticFiles::new(root).handler()`.
///
/// See [`StaticFiles`] for how paths are mapped and what is refused.
///
/// ```no_run
/// use courier::server::{serve_dir, Server};
/// # async fn demo() -> std::io::Result<()> {
/// // Every path not answered by another handler is looked up under ./public.
/// let server = Server::builder().route("/", serve_dir("./public")).start().await?;
/// # drop(server); Ok(()) }
/// ```
///
/// [`ServerBuilder::route`]: super::ServerBuilder::route
/// [`ServerBuilder::handler`]: super::ServerBuilder::handler
pub fn serve_dir(
    root: impl Into<PathBuf>,
) -> impl Fn(Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Clone + Send + Sync + 'static {
    StaticFiles::new(root).handler()
}

/// A directory served over HTTP, with path traversal made impossible.
///
/// The request path (after the [mount prefix](Self::mount), if any) is percent-decoded
/// and split into segments; empty and `.` segments are skipped. A path that is badly
/// encoded or not UTF-8 once decoded, or has a `..` segment (also encoded, `%2e%2e`), a
/// backslash, a NUL or a segment that is not a plain file name, gets 400. The file is then
/// resolved with symlinks followed and must still be under the (resolved) root: a
/// symlink pointing out of the root gets 404. So do hidden files (a segment starting with
/// `.`) unless [`dotfiles`](Self::dotfiles) allows them.
///
/// A directory is served by its index file (`index.html`; see [`index`](Self::index)),
/// after a 301 to the path with a trailing slash so relative links work; without an index
/// it is 404. Only GET and HEAD are allowed (others get 405 with `Allow: GET, HEAD`);
/// the file itself is answered as by [`serve_file_with`].
///
/// ```no_run
/// use courier::server::{FileOptions, Server, StaticFiles};
/// # async fn demo() -> std::io::Result<()> {
/// let assets = StaticFiles::new("./assets")
///     .mount("/static")
///     .options(FileOptions::new().block_size(16 * 1024));
/// // GET /static/css/site.css serves ./assets/css/site.css.
/// let server = Server::builder().route("/static", assets.handler()).start().await?;
/// # drop(server); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    /// "" or a prefix like "/static" (leading slash, no trailing one).
    mount: String,
    index: Option<String>,
    dotfiles: bool,
    options: FileOptions,
}

/// Why a request path cannot name a file under the root.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// Badly encoded or a traversal attempt: 400.
    BadPath,
    /// Hidden, too long, outside the mount: 404.
    NotFound,
}

impl StaticFiles {
    /// Serves the files under `root`, mounted at `/`, with `index.html` as the index.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            mount: String::new(),
            index: Some("index.html".into()),
            dotfiles: false,
            options: FileOptions::default(),
        }
    }

    /// Serves the root at `prefix` (e.g. `/static`): `/static/a.css` is `root/a.css`.
    /// Paths outside the prefix get 404.
    pub fn mount(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        self.mount = if trimmed.is_empty() { String::new() } else { format!("/{trimmed}") };
        self
    }

    /// The file that answers for a directory (default `index.html`); it must be a plain
    /// file name.
    pub fn index(mut self, file_name: impl Into<String>) -> Self {
        self.index = Some(file_name.into());
        self
    }

    /// Directories have no index: they are always 404.
    pub fn without_index(mut self) -> Self {
        self.index = None;
        self
    }

    /// Whether hidden files and directories (names starting with `.`, like `.git` or
    /// `.env`) are served; default no (404).
    pub fn dotfiles(mut self, serve: bool) -> Self {
        self.dotfiles = serve;
        self
    }

    /// Block size and range limit for the files served.
    pub fn options(mut self, options: FileOptions) -> Self {
        self.options = options;
        self
    }

    /// Answers one request.
    ///
    /// ```no_run
    /// use courier::server::{Reply, Request, StaticFiles};
    /// # async fn handler(req: Request) -> Reply {
    /// let files = StaticFiles::new("./public");
    /// let reply = files.serve(&req).await;
    /// if reply.status() == 404 { Reply::html("<h1>custom not found</h1>").with_status(404) } else { reply }
    /// # }
    /// ```
    pub async fn serve(&self, request: &Request) -> Reply {
        let method = request.method();
        if *method != Method::GET && *method != Method::HEAD {
            return Reply::error(405, "only GET and HEAD are allowed here").with_header("allow", "GET, HEAD");
        }
        let raw = request.path();
        let segments = match self.segments(raw) {
            Ok(segments) => segments,
            Err(Refused::BadPath) => return Reply::error(400, "invalid file path"),
            Err(Refused::NotFound) => return not_found(),
        };
        let Ok(root) = tokio::fs::canonicalize(&self.root).await else { return not_found() };
        let candidate = segments.iter().fold(root.clone(), |path, segment| path.join(segment));
        let resolved = match inside(&root, &candidate).await {
            Ok(resolved) => resolved,
            Err(reply) => return reply,
        };
        let metadata = match tokio::fs::metadata(&resolved).await {
            Ok(metadata) => metadata,
            Err(error) => return io_reply(&error),
        };
        if !metadata.is_dir() {
            // "/file.txt/" names a directory that is not there.
            return if raw.ends_with('/') { not_found() } else { self.file(request, &resolved).await };
        }
        let Some(index) = self.index.as_deref().filter(|name| is_file_name(name)) else { return not_found() };
        let index_path = match inside(&root, &resolved.join(index)).await {
            Ok(path) => path,
            Err(reply) => return reply,
        };
        if !tokio::fs::metadata(&index_path).await.is_ok_and(|metadata| metadata.is_file()) {
            return not_found();
        }
        if !raw.ends_with('/') {
            // Built from the checked segments, never from the raw path: "//evil.example"
            // must not become a protocol-relative Location.
            let mut location = self.mount.clone();
            for segment in &segments {
                location.push('/');
                location.push_str(&encode_segment(segment));
            }
            location.push('/');
            if let Some(query) = request.query() {
                location.push('?');
                location.push_str(query);
            }
            return Reply::redirect(301, &location);
        }
        self.file(request, &index_path).await
    }

    /// This directory as a handler for [`ServerBuilder::route`] or
    /// [`ServerBuilder::handler`] (cheap to clone; shares one configuration).
    ///
    /// ```no_run
    /// use courier::server::{Server, StaticFiles};
    /// # async fn demo() -> std::io::Result<()> {
    /// let site = StaticFiles::new("./site").without_index().dotfiles(false);
    /// let server = Server::builder().handler("", site.handler()).start().await?;
    /// # drop(server); Ok(()) }
    /// ```
    ///
    /// [`ServerBuilder::route`]: super::ServerBuilder::route
    /// [`ServerBuilder::handler`]: super::ServerBuilder::handler
    pub fn handler(
        self,
    ) -> impl Fn(Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Clone + Send + Sync + 'static {
        let files = Arc::new(self);
        move |request: Request| {
            let files = files.clone();
            Box::pin(async move { files.serve(&request).await })
        }
    }

    async fn file(&self, request: &Request, path: &Path) -> Reply {
        serve_file_with(request, path, &self.options).await
    }

    /// The decoded, checked path segments of a raw (percent-encoded) request path.
    fn segments(&self, raw: &str) -> Result<Vec<String>, Refused> {
        let rest = raw.strip_prefix(self.mount.as_str()).ok_or(Refused::NotFound)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            // "/staticky" is not under "/static"; "*" is not a path at all.
            return Err(Refused::NotFound);
        }
        let decoded = percent_decode(rest).ok_or(Refused::BadPath)?;
        let decoded = String::from_utf8(decoded).map_err(|_| Refused::BadPath)?;
        if decoded.contains(['\0', '\\']) {
            return Err(Refused::BadPath);
        }
        let mut segments = Vec::new();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => continue,
                ".." => return Err(Refused::BadPath),
                _ if !is_file_name(segment) => return Err(Refused::BadPath),
                // Longer than any file system allows: it cannot exist.
                _ if segment.len() > 255 => return Err(Refused::NotFound),
                _ if segment.starts_with('.') && !self.dotfiles => return Err(Refused::NotFound),
                _ => segments.push(segment.to_owned()),
            }
        }
        Ok(segments)
    }
}

/// `path` with symlinks resolved, if it exists and is under `root` (already resolved).
async fn inside(root: &Path, path: &Path) -> Result<PathBuf, Reply> {
    let resolved = tokio::fs::canonicalize(path).await.map_err(|error| io_reply(&error))?;
    if resolved.starts_with(root) {
        Ok(resolved)
    } else {
        Err(not_found())
    }
}

/// True for one plain path component: not empty, `.`, `..`, a root, a drive prefix.
fn is_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!((components.next(), components.next()), (Some(Component::Normal(only)), None) if only == name)
}

/// Decodes `%XY` escapes; `None` when one is malformed.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let high = (hex[0] as char).to_digit(16)?;
            let low = (hex[1] as char).to_digit(16)?;
            decoded.push((high * 16 + low) as u8);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    Some(decoded)
}

/// Percent-encodes a path segment for a Location header.
fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for &byte in segment.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
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

/// A file's validators.
struct Validators {
    /// The opaque part of the strong ETag (without quotes).
    etag: Option<String>,
    /// Last-Modified, whole seconds, never in the future.
    last_modified: Option<SystemTime>,
    /// Whether Last-Modified is a strong validator (the file was not modified within the
    /// second it names, RFC 9110 §8.8.2.2).
    strong_date: bool,
}

impl Validators {
    fn new(size: u64, modified: Option<SystemTime>) -> Self {
        let Some(modified) = modified else {
            return Self { etag: None, last_modified: None, strong_date: false };
        };
        let etag = match modified.duration_since(UNIX_EPOCH) {
            Ok(after) => format!("{size:x}-{:x}", after.as_nanos()),
            Err(before) => format!("{size:x}-n{:x}", before.duration().as_nanos()),
        };
        let now = SystemTime::now();
        let last_modified = whole_seconds(modified.min(now));
        let strong_date = modified.checked_add(Duration::from_secs(1)).is_some_and(|later| later <= now);
        Self { etag: Some(etag), last_modified: Some(last_modified), strong_date }
    }

    /// Adds ETag and Last-Modified.
    fn apply(&self, mut reply: Reply) -> Reply {
        if let Some(etag) = &self.etag {
            reply = reply.with_header("etag", &format!("\"{etag}\""));
        }
        if let Some(modified) = self.last_modified {
            reply = reply.with_header("last-modified", &crate::format_date(modified));
        }
        reply
    }

    fn matches(&self, tags: &EntityTags, strong: bool) -> bool {
        match tags {
            EntityTags::Any => true,
            EntityTags::List(list) => self
                .etag
                .as_ref()
                .is_some_and(|etag| list.iter().any(|(weak, tag)| tag == etag && !(strong && *weak))),
        }
    }

    /// True when the file was modified after `date` (seconds compared).
    fn modified_after(&self, date: SystemTime) -> Option<bool> {
        self.last_modified.map(|modified| modified > date)
    }
}

/// `time` truncated to whole seconds (as HTTP dates carry them).
fn whole_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after.as_secs()),
        // Before 1970: round towards the past, as the formatted date does.
        Err(before) => {
            let before = before.duration();
            let whole = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            UNIX_EPOCH.checked_sub(Duration::from_secs(whole)).unwrap_or(time)
        }
    }
}

enum Precondition {
    Proceed,
    Failed,
    NotModified,
}

/// RFC 9110 §13.2.2, steps 1 to 4.
fn preconditions(request: &Request, validators: &Validators, get_or_head: bool) -> Precondition {
    if let Some(value) = request.header("if-match") {
        // An unparsable If-Match matches nothing: failing is the safe answer.
        let matched = parse_entity_tags(&value).is_some_and(|tags| validators.matches(&tags, true));
        if !matched {
            return Precondition::Failed;
        }
    } else if let Some(date) = request.header("if-unmodified-since").and_then(|v| crate::parse_date(&v)) {
        if validators.modified_after(date) == Some(true) {
            return Precondition::Failed;
        }
    }
    if let Some(value) = request.header("if-none-match") {
        // An unparsable If-None-Match is ignored (the full reply is always correct).
        if parse_entity_tags(&value).is_some_and(|tags| validators.matches(&tags, false)) {
            return if get_or_head { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if get_or_head {
        if let Some(date) = request.header("if-modified-since").and_then(|v| crate::parse_date(&v)) {
            if validators.modified_after(date) == Some(false) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// A parsed If-Match / If-None-Match value.
enum EntityTags {
    Any,
    /// (weak, opaque tag without quotes)
    List(Vec<(bool, String)>),
}

/// `*` or a comma-separated list of entity tags; `None` if malformed.
fn parse_entity_tags(value: &str) -> Option<EntityTags> {
    let value = value.trim_matches([' ', '\t']);
    if value == "*" {
        return Some(EntityTags::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (tag, after) = parse_entity_tag(rest)?;
        tags.push(tag);
        rest = after.trim_start_matches([' ', '\t']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
    (!tags.is_empty()).then_some(EntityTags::List(tags))
}

/// One entity tag at the start of `text`, and what follows it.
fn parse_entity_tag(text: &str) -> Option<((bool, String), &str)> {
    let (weak, quoted) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let inner = quoted.strip_prefix('"')?;
    let end = inner.find('"')?;
    Some(((weak, inner[..end].to_owned()), &inner[end + 1..]))
}

/// An inclusive byte range, resolved against the file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteRange {
    start: u64,
    end: u64,
}

impl ByteRange {
    fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.end)
    }
}

enum Ranges {
    /// No (usable) Range: send the whole file.
    Whole,
    /// A valid Range of which nothing is within the file: 416.
    Unsatisfiable,
    /// What to send, merged and non-empty.
    Some(Vec<ByteRange>),
}

/// One `range-spec` of a Range header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}

/// The ranges to send for a GET of a non-empty file (RFC 9110 §14.2 and §13.1.5).
fn requested_ranges(request: &Request, validators: &Validators, size: u64, max_ranges: usize) -> Ranges {
    let Some(range) = request.header("range") else { return Ranges::Whole };
    if let Some(if_range) = request.header("if-range") {
        if !if_range_matches(if_range.trim(), validators) {
            return Ranges::Whole;
        }
    }
    let Some(specs) = parse_range(&range) else { return Ranges::Whole };
    if specs.len() > max_ranges {
        return Ranges::Whole;
    }
    let ranges = resolve_ranges(&specs, size);
    if ranges.is_empty() {
        Ranges::Unsatisfiable
    } else {
        Ranges::Some(ranges)
    }
}

/// If-Range: a strong ETag that matches exactly, or the exact Last-Modified date when
/// that is a strong validator.
fn if_range_matches(value: &str, validators: &Validators) -> bool {
    if value.starts_with('"') || value.starts_with("W/") {
        return match parse_entity_tag(value) {
            Some(((false, tag), rest)) if rest.trim().is_empty() => validators.etag.as_deref() == Some(&tag),
            _ => false,
        };
    }
    match (crate::parse_date(value), validators.last_modified) {
        (Some(date), Some(modified)) => validators.strong_date && date == modified,
        _ => false,
    }
}

/// `bytes=...` into its range specs; `None` when malformed or in another unit.
fn parse_range(value: &str) -> Option<Vec<RangeSpec>> {
    let (unit, set) = value.trim_matches([' ', '\t']).split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let number = |digits: &str| -> Option<u64> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Too many digits for u64 is still a number: past the end of any file.
        Some(digits.parse().unwrap_or(u64::MAX))
    };
    let mut specs = Vec::new();
    for item in set.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() {
            continue;
        }
        let (first, last) = item.split_once('-')?;
        let spec = match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => RangeSpec::Suffix(number(last)?),
            (false, true) => RangeSpec::From(number(first)?),
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                if last < first {
                    return None;
                }
                RangeSpec::FromTo(first, last)
            }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// The satisfiable specs as ranges within `size` bytes (`size > 0`). When any overlap or
/// touch, all are sorted and merged; otherwise they keep the order they were asked in.
fn resolve_ranges(specs: &[RangeSpec], size: u64) -> Vec<ByteRange> {
    let last = size - 1;
    let mut ranges: Vec<ByteRange> = specs
        .iter()
        .filter_map(|spec| match *spec {
            RangeSpec::FromTo(start, end) if start < size => Some(ByteRange { start, end: end.min(last) }),
            RangeSpec::From(start) if start < size => Some(ByteRange { start, end: last }),
            RangeSpec::Suffix(length) if length > 0 => {
                Some(ByteRange { start: size - length.min(size), end: last })
            }
            _ => None,
        })
        .collect();
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|range| range.start);
    let touching = sorted.windows(2).any(|pair| pair[1].start <= pair[0].end.saturating_add(1));
    if touching {
        ranges.clear();
        for range in sorted {
            match ranges.last_mut() {
                Some(previous) if range.start <= previous.end.saturating_add(1) => {
                    previous.end = previous.end.max(range.end);
                }
                _ => ranges.push(range),
            }
        }
    }
    ranges
}

/// A multipart boundary nobody can predict (so no file can be made to contain it).
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let mut hasher = state.build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let first = hasher.finish();
    let mut hasher = state.build_hasher();
    hasher.write_u64(first);
    if let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(since.as_nanos());
    }
    format!("courier-{first:016x}{:016x}", hasher.finish())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers_parse() {
        use RangeSpec::*;
        assert_eq!(parse_range("bytes=0-4"), Some(vec![FromTo(0, 4)]));
        assert_eq!(parse_range("Bytes= 1-, -3 ,, 5-5"), Some(vec![From(1), Suffix(3), FromTo(5, 5)]));
        assert_eq!(parse_range("bytes=0-99999999999999999999999"), Some(vec![FromTo(0, u64::MAX)]));
        for invalid in
            ["bytes=", "bytes=5-2", "bytes=-", "bytes=a-b", "items=0-1", "0-4", "bytes=1-2-3", "bytes=+1-2"]
        {
            assert_eq!(parse_range(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn ranges_resolve_and_merge() {
        use RangeSpec::*;
        let range = |start, end| ByteRange { start, end };
        assert_eq!(resolve_ranges(&[FromTo(20, 100)], 26), [range(20, 25)]);
        assert_eq!(resolve_ranges(&[Suffix(100)], 26), [range(0, 25)]);
        assert_eq!(resolve_ranges(&[Suffix(0), From(26)], 26), []);
        assert_eq!(resolve_ranges(&[FromTo(10, 12), FromTo(0, 2)], 26), [range(10, 12), range(0, 2)]);
        assert_eq!(
            resolve_ranges(&[FromTo(10, 12), FromTo(0, 4), FromTo(3, 8)], 26),
            [range(0, 8), range(10, 12)]
        );
        assert_eq!(resolve_ranges(&[FromTo(0, 2), FromTo(3, 5)], 26), [range(0, 5)]);
        assert_eq!(resolve_ranges(&[From(0), From(0), Suffix(1)], 26), [range(0, 25)]);
    }

    #[test]
    fn entity_tags_parse() {
        let Some(EntityTags::List(tags)) = parse_entity_tags(r#" "a", W/"b",,"c,d" "#) else { panic!() };
        assert_eq!(tags, [(false, "a".into()), (true, "b".into()), (false, "c,d".into())]);
        assert!(matches!(parse_entity_tags("*"), Some(EntityTags::Any)));
        for invalid in ["", "a", r#""a"b"#, r#"*, "a""#, r#""open"#] {
            assert!(parse_entity_tags(invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn paths_decode_into_checked_segments() {
        let files = StaticFiles::new("/srv").mount("/static/");
        let ok = |path: &str| files.segments(path);
        assert_eq!(ok("/static/a/./b%20c//d.txt"), Ok(vec!["a".into(), "b c".into(), "d.txt".into()]));
        assert_eq!(ok("/static"), Ok(vec![]));
        assert_eq!(ok("/staticky/a"), Err(Refused::NotFound));
        assert_eq!(ok("/a"), Err(Refused::NotFound));
        assert_eq!(ok("/static/.env"), Err(Refused::NotFound));
        for bad in [
            "/static/..",
            "/static/%2e%2e/x",
            "/static/..%2fx",
            "/static/a\\b",
            "/static/%00",
            "/static/%zz",
            "/static/%e9",
        ] {
            assert_eq!(ok(bad), Err(Refused::BadPath), "{bad}");
        }
        assert_eq!(encode_segment("a b/%é"), "a%20b%2F%25%C3%A9");
    }
}
