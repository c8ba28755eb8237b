//! Resumable downloads: AnyEvent::HTTP's download example, done carefully, as a library function
//! (used by `examples/download.rs` and `fetch -C`).

use super::options::Progress;
use super::response::Response;
use super::Client;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Retry pauses double up to this (or the first pause, if longer).
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(30);

/// The pause after `pause`: doubled, up to `MAX_RETRY_PAUSE` or `first` if that is longer
/// (a pause never shrinks), saturating (`Duration::MAX` must not overflow).
fn next_pause(pause: Duration, first: Duration) -> Duration {
    pause.saturating_mul(2).min(MAX_RETRY_PAUSE.max(first))
}

/// A download to a file that resumes where an earlier attempt stopped.
///
/// Each attempt asks for the rest of the file (`Range: bytes=N-`) under a validator: the
/// ETag of an earlier attempt (`If-Range`), else the file's modification time, which is
/// set from the server's Last-Modified after every attempt (`If-Unmodified-Since`).
///
/// | answer | what happens |
/// |---|---|
/// | 206 | Content-Range must start at N; the rest is appended |
/// | 200 | the server sent the whole file: the partial one is truncated, and it starts over |
/// | 416 | the file is already complete |
/// | 412 | the file changed on the server: the partial one is deleted, and it starts over |
/// | 500, 503, 595..599 | try again after a pause (bounded attempts, growing pauses) |
/// | anything else | a permanent failure |
///
/// ```no_run
/// # async fn demo() {
/// match courier::Download::new("http://127.0.0.1:8080/big.iso", "/tmp/big.iso").run().await {
///     Ok(done) => println!("{} bytes in {} attempt(s)", done.bytes, done.attempts),
///     Err(failed) => eprintln!("download failed: {failed}"),
/// }
/// # }
/// ```
#[must_use = "a download does nothing until `.run().await`"]
pub struct Download {
    url: String,
    path: PathBuf,
    client: Client,
    max_attempts: u32,
    first_pause: Duration,
    on_progress: Option<Box<dyn FnMut(Progress) + Send>>,
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// The file's size.
    pub bytes: u64,
    /// Attempts made (1 when nothing had to be retried).
    pub attempts: u32,
    /// True when the last attempt found the file already complete (416).
    pub already_complete: bool,
}

/// Why a download gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadFailed {
    /// The last status seen (a server status or 595..599).
    pub status: u16,
    /// What went wrong.
    pub reason: String,
    /// True when the failure was worth retrying but the attempts ran out.
    pub retryable: bool,
    /// Attempts made.
    pub attempts: u32,
}

impl fmt::Display for DownloadFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (after {} attempt(s))", self.status, self.reason, self.attempts)
    }
}

impl std::error::Error for DownloadFailed {}

/// What one attempt ended with.
enum Attempt {
    Done {
        already_complete: bool,
    },
    /// Try again (after a pause unless `at_once`).
    Again {
        status: u16,
        reason: String,
        at_once: bool,
    },
    Fatal {
        status: u16,
        reason: String,
    },
}

/// Default most attempts.
pub const DEFAULT_DOWNLOAD_ATTEMPTS: u32 = 5;

impl Download {
    /// A download of `url` into `path` on the default client.
    pub fn new(url: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            path: path.into(),
            client: super::default_client().clone(),
            max_attempts: DEFAULT_DOWNLOAD_ATTEMPTS,
            first_pause: Duration::from_millis(500),
            on_progress: None,
        }
    }

    /// Uses this client (its proxy, TLS mode, timeouts, cookie jar, pool).
    pub fn client(mut self, client: &Client) -> Self {
        self.client = client.clone();
        self
    }

    /// Most attempts in all (default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The pause before the first retry; it doubles each time, up to 30 s or the first
    /// pause if that is longer (default 0.5 s).
    pub fn retry_pause(mut self, pause: Duration) -> Self {
        self.first_pause = pause;
        self
    }

    /// Called as bytes arrive: `received` counts the whole file (resumed bytes included),
    /// `receive_total` is its full size when known.
    pub fn on_progress(mut self, callback: impl FnMut(Progress) + Send + 'static) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    /// Runs attempts until the file is complete, a failure is permanent, or the attempts
    /// run out.
    pub async fn run(mut self) -> Result<Downloaded, DownloadFailed> {
        let mut etag: Option<String> = None;
        let mut pause = self.first_pause;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&mut etag).await {
                Attempt::Done { already_complete } => {
                    let bytes = tokio::fs::metadata(&self.path).await.map(|m| m.len()).unwrap_or(0);
                    return Ok(Downloaded { bytes, attempts, already_complete });
                }
                Attempt::Fatal { status, reason } => {
                    return Err(DownloadFailed { status, reason, retryable: false, attempts });
                }
                Attempt::Again { status, reason, .. } if attempts >= self.max_attempts => {
                    return Err(DownloadFailed { status, reason, retryable: true, attempts });
                }
                Attempt::Again { at_once: true, .. } => {}
                Attempt::Again { at_once: false, .. } => {
                    tokio::time::sleep(pause).await;
                    pause = next_pause(pause, self.first_pause);
                }
            }
        }
    }

    async fn attempt(&mut self, etag: &mut Option<String>) -> Attempt {
        let fatal = |reason: String| Attempt::Fatal { status: 599, reason };
        // The partial file, if any; the file itself is created only once bytes arrive, so
        // a failed download leaves nothing behind.
        let (offset, modified) = match tokio::fs::metadata(&self.path).await {
            Ok(metadata) => (metadata.len(), metadata.modified().ok()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => (0, None),
            Err(error) => return fatal(format!("inspect {}: {error}", self.path.display())),
        };
        let mut request = self.client.get(&self.url);
        // Range offsets count the bytes on the wire: a decoded body would not match them.
        #[cfg(feature = "decompress")]
        {
            request = request.decompress(false);
        }
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
            match (etag.as_deref(), modified) {
                // A strong ETag from an earlier attempt is the better validator.
                (Some(tag), _) if !tag.starts_with("W/") => request = request.header("if-range", tag),
                (_, Some(modified)) => {
                    request = request.header("if-unmodified-since", crate::format_date(modified));
                }
                _ => {}
            }
        }
        let mut response = request.send_streaming().await;
        let status = response.status().as_u16();
        // Only the file's own answers carry its validator (an error page's ETag is its own).
        if let (200 | 206, Some(tag)) = (status, response.header("etag")) {
            *etag = Some(tag.into_owned());
        }
        let start = match status {
            200 => 0,
            206 => match content_range_start(&response) {
                Some(start) if start == offset => offset,
                // Not what we asked for: start over rather than splice mismatched bytes.
                _ => return start_over(&self.path, "206 with an unexpected Content-Range").await,
            },
            // "Nothing from there on": complete, unless the server says its file is another
            // size (`bytes */TOTAL`), in which case ours is not its file.
            416 if offset > 0 => {
                return match unsatisfied_total(&response) {
                    Some(total) if total != offset => {
                        start_over(&self.path, "416 for a file of another size").await
                    }
                    _ => Attempt::Done { already_complete: true },
                };
            }
            412 => {
                return match tokio::fs::remove_file(&self.path).await {
                    Ok(()) => Attempt::Again {
                        status,
                        reason: "the file changed on the server".into(),
                        at_once: true,
                    },
                    Err(error) => fatal(format!("remove {}: {error}", self.path.display())),
                };
            }
            500 | 503 | 595..=599 => {
                return Attempt::Again { status, reason: response.reason().to_owned(), at_once: false };
            }
            _ => return Attempt::Fatal { status, reason: response.reason().to_owned() },
        };
        let mut file = match open_for_writing(&self.path, start).await {
            Ok(file) => file,
            Err(error) => return fatal(format!("write {}: {error}", self.path.display())),
        };
        let total = response.header("content-length").and_then(|l| l.parse::<u64>().ok()).map(|l| l + start);
        let mut received = start;
        let outcome = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(error) = file.write_all(&chunk).await {
                        break fatal(format!("write {}: {error}", self.path.display()));
                    }
                    received += chunk.len() as u64;
                    if let Some(callback) = self.on_progress.as_mut() {
                        callback(Progress { received, receive_total: total, ..Progress::default() });
                    }
                }
                Ok(None) => break Attempt::Done { already_complete: false },
                Err(error) => {
                    break Attempt::Again {
                        status: error.status().as_u16(),
                        reason: error.to_string(),
                        at_once: false,
                    };
                }
            }
        };
        let _ = file.flush().await;
        // The partial (or complete) file carries the server's modification time, which
        // the next attempt's If-Unmodified-Since relies on.
        if let Some(modified) = response.header("last-modified").and_then(|date| crate::parse_date(&date)) {
            set_modified(file, modified).await;
        }
        outcome
    }
}

/// The first byte position of a 206's `Content-Range: bytes START-END/TOTAL`.
fn content_range_start(response: &Response) -> Option<u64> {
    let range = response.header("content-range")?;
    let spec = range.trim().strip_prefix("bytes ")?;
    spec.split('-').next()?.trim().parse().ok()
}

/// Throws away the partial file and tries again at once. (It takes the path, not the
/// download: a `&Download` is not `Send`, its progress callback is not `Sync`.)
async fn start_over(path: &std::path::Path, reason: &str) -> Attempt {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Attempt::Again { status: 206, reason: reason.into(), at_once: true },
        Err(error) => Attempt::Fatal { status: 599, reason: format!("remove {}: {error}", path.display()) },
    }
}

/// The TOTAL of a 416's `Content-Range: bytes */TOTAL`.
fn unsatisfied_total(response: &Response) -> Option<u64> {
    response.header("content-range")?.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

/// Opens (creating) the file to write from `start`; from 0 it is truncated first.
async fn open_for_writing(path: &std::path::Path, start: u64) -> std::io::Result<tokio::fs::File> {
    let mut file = tokio::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).await?;
    if start == 0 {
        file.set_len(0).await?;
    }
    file.seek(std::io::SeekFrom::Start(start)).await?;
    Ok(file)
}

async fn set_modified(file: tokio::fs::File, modified: SystemTime) {
    let file = file.into_std().await;
    let _ = tokio::task::spawn_blocking(move || file.set_modified(modified)).await;
}

#[cfg(test)]
mod tests {
    use super::next_pause;
    use std::time::Duration;

    #[test]
    fn pauses_double_up_to_30_s_never_shrink_and_never_overflow() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        assert_eq!(next_pause(ms(500), ms(500)), secs(1));
        assert_eq!(next_pause(secs(20), ms(500)), secs(30));
        assert_eq!(next_pause(secs(60), secs(60)), secs(60));
        assert_eq!(next_pause(Duration::MAX, Duration::MAX), Duration::MAX);
        assert_eq!(next_pause(Duration::ZERO, Duration::ZERO), Duration::ZERO);
    }
}
