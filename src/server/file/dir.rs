//! Serving a directory: request paths mapped under a root so that nothing outside it can be reached.

use super::*;

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
/// [`ServerBuilder::route`]: crate::server::ServerBuilder::route
/// [`ServerBuilder::handler`]: crate::server::ServerBuilder::handler
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
pub(super) enum Refused {
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
    /// [`ServerBuilder::route`]: crate::server::ServerBuilder::route
    /// [`ServerBuilder::handler`]: crate::server::ServerBuilder::handler
    pub fn handler(
        self,
    ) -> impl Fn(Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Clone + Send + Sync + 'static {
        let files = Arc::new(self);
        move |request: Request| {
            let files = files.clone();
            Box::pin(async move { files.serve(&request).await })
        }
    }

    pub(super) async fn file(&self, request: &Request, path: &Path) -> Reply {
        serve_file_with(request, path, &self.options).await
    }

    /// The decoded, checked path segments of a raw (percent-encoded) request path.
    pub(super) fn segments(&self, raw: &str) -> Result<Vec<String>, Refused> {
        let rest = raw.strip_prefix(self.mount.as_str()).ok_or(Refused::NotFound)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            // "/staticky" is not under "/static"; "*" is not a path at all.
            return Err(Refused::NotFound);
        }
        let decoded = crate::percent::decode_strict(rest).ok_or(Refused::BadPath)?;
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
pub(super) async fn inside(root: &Path, path: &Path) -> Result<PathBuf, Reply> {
    let resolved = tokio::fs::canonicalize(path).await.map_err(|error| io_reply(&error))?;
    if resolved.starts_with(root) {
        Ok(resolved)
    } else {
        Err(not_found())
    }
}

/// True for one plain path component: not empty, `.`, `..`, a root, a drive prefix.
pub(super) fn is_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!((components.next(), components.next()), (Some(Component::Normal(only)), None) if only == name)
}

/// Percent-encodes a path segment for a Location header.
pub(super) fn encode_segment(segment: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
