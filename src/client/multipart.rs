//! `multipart/form-data` request bodies (RFC 7578): text fields and files, the files
//! streamed from disk while the request is sent, with a Content-Length known up front.

use bytes::Bytes;
use futures_util::Stream;
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

/// Bytes read from a file per chunk while the body is sent.
const FILE_CHUNK: usize = 64 * 1024;

/// A `multipart/form-data` body: build it, then pass it to
/// [`RequestBuilder::multipart`](crate::RequestBuilder::multipart).
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let form = courier::Multipart::new()
///     .text("title", "holiday")
///     .file("photo", "/tmp/IMG_0042.jpg", Some("beach.jpg"), Some("image/jpeg"))
///     .await?;
/// let res = courier::post("http://127.0.0.1:8080/upload").multipart(form).send().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Multipart {
    boundary: String,
    parts: Vec<Part>,
}

#[derive(Debug)]
struct Part {
    /// The boundary line and the part's header fields, up to the blank line.
    head: Bytes,
    body: PartBody,
}

#[derive(Debug)]
enum PartBody {
    Bytes(Bytes),
    /// Read while sending; the size was taken when the part was added.
    File {
        path: PathBuf,
        size: u64,
    },
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form with a fresh random boundary.
    pub fn new() -> Self {
        Self { boundary: random_boundary(), parts: Vec::new() }
    }

    /// A text field.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Self {
        let head = self.part_head(name, None, None);
        self.parts.push(Part { head, body: PartBody::Bytes(Bytes::from(value.into())) });
        self
    }

    /// A file part from memory, with its file name and content type.
    pub fn bytes(mut self, name: &str, file_name: &str, content_type: &str, data: impl Into<Bytes>) -> Self {
        let head = self.part_head(name, Some(file_name), Some(content_type));
        self.parts.push(Part { head, body: PartBody::Bytes(data.into()) });
        self
    }

    /// A file part read from `path` while the request is sent (never held in memory
    /// whole), sent as `file_name` (`None`: the path's last component) with
    /// `content_type` (`None`: `application/octet-stream`). Fails if the file cannot be
    /// examined now; a file that changes size before it is sent makes the request fail
    /// (596).
    pub async fn file(
        mut self,
        name: &str,
        path: impl AsRef<Path>,
        file_name: Option<&str>,
        content_type: Option<&str>,
    ) -> io::Result<Self> {
        let path = path.as_ref();
        let size = tokio::fs::metadata(path).await?.len();
        let file_name = match file_name {
            Some(file_name) => file_name.to_owned(),
            None => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        let content_type = content_type.unwrap_or("application/octet-stream");
        let head = self.part_head(name, Some(&file_name), Some(content_type));
        self.parts.push(Part { head, body: PartBody::File { path: path.to_owned(), size } });
        Ok(self)
    }

    /// The Content-Type of the body, with its boundary.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's exact length in bytes.
    pub fn length(&self) -> u64 {
        let parts: u64 = self
            .parts
            .iter()
            .map(|part| {
                let body = match &part.body {
                    PartBody::Bytes(bytes) => bytes.len() as u64,
                    PartBody::File { size, .. } => *size,
                };
                part.head.len() as u64 + body + 2
            })
            .sum();
        parts + self.closing().len() as u64
    }

    /// The body as chunks: each part's head, its data (files read chunk by chunk), then
    /// the closing boundary.
    pub(crate) fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let closing = Bytes::from(self.closing());
        let mut pieces: Vec<Piece> = Vec::with_capacity(self.parts.len() * 3 + 1);
        for part in self.parts {
            pieces.push(Piece::Bytes(part.head));
            pieces.push(match part.body {
                PartBody::Bytes(bytes) => Piece::Bytes(bytes),
                PartBody::File { path, .. } => Piece::File(path),
            });
            pieces.push(Piece::Bytes(Bytes::from_static(b"\r\n")));
        }
        pieces.push(Piece::Bytes(closing));
        pieces.reverse();
        let state = Sending { pieces, open: None };
        futures_util::stream::unfold(state, |mut state| async move {
            let chunk = state.next().await?;
            Some((chunk, state))
        })
    }

    /// `--boundary\r\nContent-Disposition: form-data; name="…"[; filename="…"]\r\n[Content-Type]\r\n\r\n`.
    fn part_head(&self, name: &str, file_name: Option<&str>, content_type: Option<&str>) -> Bytes {
        let mut head =
            format!("--{}\r\nContent-Disposition: form-data; name=\"{}\"", self.boundary, escape(name));
        if let Some(file_name) = file_name {
            head.push_str(&format!("; filename=\"{}\"", escape(file_name)));
        }
        head.push_str("\r\n");
        if let Some(content_type) = content_type.filter(|t| !t.bytes().any(|b| b.is_ascii_control())) {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        Bytes::from(head)
    }

    fn closing(&self) -> String {
        format!("--{}--\r\n", self.boundary)
    }
}

/// What is left to send, last piece first.
enum Piece {
    Bytes(Bytes),
    File(PathBuf),
}

struct Sending {
    pieces: Vec<Piece>,
    /// The file being read, if any.
    open: Option<tokio::fs::File>,
}

impl Sending {
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if let Some(file) = self.open.as_mut() {
                let mut chunk = vec![0u8; FILE_CHUNK];
                match file.read(&mut chunk).await {
                    Ok(0) => self.open = None,
                    Ok(read) => {
                        chunk.truncate(read);
                        return Some(Ok(Bytes::from(chunk)));
                    }
                    Err(error) => return Some(Err(error)),
                }
                continue;
            }
            match self.pieces.pop()? {
                Piece::Bytes(bytes) => return Some(Ok(bytes)),
                Piece::File(path) => match tokio::fs::File::open(&path).await {
                    Ok(file) => self.open = Some(file),
                    Err(error) => return Some(Err(error)),
                },
            }
        }
    }
}

/// A field or file name inside quotes: `"`, CR and LF percent-encoded, as browsers do
/// (the WHATWG HTML multipart encoding).
fn escape(name: &str) -> String {
    name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

/// 32 hex digits, unpredictable enough that no part's content contains the boundary by
/// chance (std's random hasher keys, mixed with the time and a counter).
fn random_boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut digits = String::from("courier-");
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        hasher.write_u128(now.as_nanos());
        digits.push_str(&format!("{:016x}", hasher.finish()));
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn the_stream_is_exactly_as_long_as_announced() {
        let dir = std::env::temp_dir().join(format!("courier-multipart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.bin");
        std::fs::write(&path, vec![7u8; 150_000]).unwrap();
        let form = Multipart::new()
            .text("a\"b", "1")
            .bytes("f", "x.txt", "text/plain", "hi")
            .file("big", &path, None, None)
            .await
            .unwrap()
            .file("named", &path, Some("report.csv"), Some("text/csv"))
            .await
            .unwrap();
        let boundary = form.boundary.clone();
        let length = form.length();
        let chunks: Vec<Bytes> = form.into_stream().map(|chunk| chunk.unwrap()).collect().await;
        let body = chunks.concat();
        assert_eq!(body.len() as u64, length);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"a%22b\"\r\n\r\n1\r\n"
        )));
        assert!(text.contains(
            "name=\"big\"; filename=\"data.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ));
        assert!(text.contains("name=\"named\"; filename=\"report.csv\"\r\nContent-Type: text/csv\r\n\r\n"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(random_boundary(), random_boundary());
        assert_eq!(random_boundary().len(), "courier-".len() + 32);
    }
}
