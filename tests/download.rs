#![cfg(feature = "server")]
//! Resumable downloads (`courier::Download`) against a scripted origin with its own Range and
//! validator logic (every byte and header under the test's control), and streamed file uploads.

mod support;
use support::*;

use courier::server::{Fault, Reply, Request, Server};
use courier::{Bytes, Client, Download, DownloadFailed, Downloaded, Progress};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------
// The origin: an in-memory file behind a route with its own Range and validator logic
// ---------------------------------------------------------------------------------------

/// The size of the first version of the file.
const SIZE: usize = 300_000;

/// The first version's Last-Modified.
const V1_SECS: u64 = 1_700_000_000;
const V1_DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
/// The second version's, ten minutes later.
const V2_SECS: u64 = 1_700_000_600;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Bytes with no short period (xorshift), so a splice at a wrong offset cannot go unseen.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// One version of the origin's file.
#[derive(Clone)]
struct Blob {
    bytes: Bytes,
    etag: Option<&'static str>,
    modified: SystemTime,
}

/// 300 KB, strong ETag `"v1"`, Last-Modified [`V1_DATE`].
fn v1() -> Blob {
    Blob { bytes: content(SIZE, 1).into(), etag: Some("\"v1\""), modified: at(V1_SECS) }
}

/// A changed file: other bytes, `len` long, ETag `"v2"`, modified ten minutes later.
fn v2(len: usize) -> Blob {
    Blob { bytes: content(len, 2).into(), etag: Some("\"v2\""), modified: at(V2_SECS) }
}

/// The validator and range headers of one request, as the origin received them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Seen {
    range: Option<String>,
    if_range: Option<String>,
    if_unmodified_since: Option<String>,
}

impl Seen {
    /// A request for the whole file: no Range, no validator.
    fn fresh() -> Self {
        Self::default()
    }

    /// `Range: bytes=FROM-` with `If-Range: ETAG`.
    fn if_range(from: usize, etag: &str) -> Self {
        Self { range: Some(format!("bytes={from}-")), if_range: Some(etag.into()), if_unmodified_since: None }
    }

    /// `Range: bytes=FROM-` with `If-Unmodified-Since: DATE`.
    fn unmodified_since(from: usize, date: &str) -> Self {
        Self { range: Some(format!("bytes={from}-")), if_range: None, if_unmodified_since: Some(date.into()) }
    }
}

/// What the origin does with one attempt (the script is consumed in order; `Serve` after).
#[derive(Clone)]
enum Step {
    /// The normal answer (200, 206, 412 or 416).
    Serve,
    /// The normal answer, cut after this many body bytes (the connection closes).
    Cut(usize),
    /// An error page with this status.
    Status(u16),
    /// An error page with this status that carries an ETag of its own (as a static error
    /// page behind nginx's `error_page` does).
    ErrorPageWithEtag(u16),
    /// 200 with the whole file whatever the request says.
    IgnoreRange,
    /// A 206 whose Content-Range starts at half the offset asked for (body to match).
    WrongContentRange,
    /// A 206 with the rest of the file but no Content-Range at all.
    NoContentRange,
    /// Replace the file with this version, then serve normally.
    ChangeTo(Blob),
}

struct State {
    blob: Blob,
    script: VecDeque<Step>,
    seen: Vec<Seen>,
    /// The status of each answer (a cut one included) and when its request arrived.
    answered: Vec<(u16, Instant)>,
}

struct Origin {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl Origin {
    async fn start(blob: Blob, script: Vec<Step>) -> Self {
        let state = Arc::new(Mutex::new(State {
            blob,
            script: script.into(),
            seen: Vec::new(),
            answered: Vec::new(),
        }));
        let shared = state.clone();
        let server = Server::builder()
            .route("/file.bin", move |req: Request| {
                let state = shared.clone();
                async move { answer(&mut state.lock().unwrap(), &req) }
            })
            .start()
            .await
            .expect("start the origin");
        Self { server, state }
    }

    fn url(&self) -> String {
        self.server.url("/file.bin")
    }

    /// Every request's Range and validators, in order (one per attempt).
    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn attempts(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }

    /// The status of every answer, in order.
    fn statuses(&self) -> Vec<u16> {
        self.state.lock().unwrap().answered.iter().map(|(status, _)| *status).collect()
    }

    /// The time between consecutive requests.
    fn gaps(&self) -> Vec<Duration> {
        let answered = &self.state.lock().unwrap().answered;
        answered.windows(2).map(|w| w[1].1 - w[0].1).collect()
    }

    /// The file changes on the server now.
    fn change(&self, blob: Blob) {
        self.state.lock().unwrap().blob = blob;
    }
}

fn answer(state: &mut State, req: &Request) -> Reply {
    let arrived = Instant::now();
    let reply = answer_step(state, req);
    state.answered.push((reply.status().as_u16(), arrived));
    reply
}

fn answer_step(state: &mut State, req: &Request) -> Reply {
    let seen = Seen {
        range: req.header("range"),
        if_range: req.header("if-range"),
        if_unmodified_since: req.header("if-unmodified-since"),
    };
    state.seen.push(seen.clone());
    let mut step = state.script.pop_front().unwrap_or(Step::Serve);
    if let Step::ChangeTo(blob) = step {
        state.blob = blob;
        step = Step::Serve;
    }
    let blob = &state.blob;
    match step {
        Step::Serve | Step::ChangeTo(_) => serve(blob, &seen),
        Step::Cut(keep) => cut(serve(blob, &seen), keep),
        Step::Status(status) => Reply::error(status, "scripted"),
        Step::ErrorPageWithEtag(status) => {
            Reply::error(status, "scripted").with_header("etag", "\"error-page\"")
        }
        Step::IgnoreRange => whole(blob),
        Step::WrongContentRange => partial(blob, requested_start(&seen).unwrap_or(0) / 2),
        Step::NoContentRange => {
            let start = requested_start(&seen).unwrap_or(0) as usize;
            validators(
                Reply::bytes("application/octet-stream", blob.bytes.slice(start..)).with_status(206),
                blob,
            )
        }
    }
}

/// RFC 9110 §13.2.2 order: If-Unmodified-Since, then Range under If-Range.
fn serve(blob: &Blob, seen: &Seen) -> Reply {
    let total = blob.bytes.len() as u64;
    if let Some(since) = seen.if_unmodified_since.as_deref().and_then(courier::parse_date) {
        if blob.modified > since {
            return validators(Reply::error(412, "the file changed"), blob);
        }
    }
    let Some(start) = requested_start(seen) else { return whole(blob) };
    if let Some(if_range) = seen.if_range.as_deref() {
        let matches = if if_range.starts_with('"') {
            blob.etag == Some(if_range) // strong comparison; a weak tag never matches
        } else if if_range.starts_with("W/") {
            false
        } else {
            courier::parse_date(if_range) == Some(blob.modified)
        };
        if !matches {
            return whole(blob);
        }
    }
    if start >= total {
        return Reply::new(416).with_header("content-range", &format!("bytes */{total}"));
    }
    partial(blob, start)
}

/// N of `bytes=N-` (other forms are ignored, as a server may).
fn requested_start(seen: &Seen) -> Option<u64> {
    seen.range.as_deref()?.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()
}

fn validators(mut reply: Reply, blob: &Blob) -> Reply {
    if let Some(etag) = blob.etag {
        reply = reply.with_header("etag", etag);
    }
    reply
        .with_header("last-modified", &courier::format_date(blob.modified))
        .with_header("accept-ranges", "bytes")
}

fn whole(blob: &Blob) -> Reply {
    validators(Reply::bytes("application/octet-stream", blob.bytes.clone()), blob)
}

fn partial(blob: &Blob, start: u64) -> Reply {
    let total = blob.bytes.len() as u64;
    let reply = Reply::bytes("application/octet-stream", blob.bytes.slice(start as usize..))
        .with_status(206)
        .with_header("content-range", &format!("bytes {start}-{}/{total}", total - 1));
    validators(reply, blob)
}

/// The same complete reply, closed after its head and `keep` body bytes. The head's length
/// is computed: the reply's own fields, plus what the server adds to a faulty reply (Date,
/// always 29 characters; Content-Length; `Connection: close`); the other defaults are left out.
fn cut(reply: Reply, keep: usize) -> Reply {
    let reply = reply.without_header("server").without_header("cache-control").without_header("expires");
    let body = reply.body_bytes().expect("a complete reply").len();
    assert!(keep < body, "cut after {keep} of {body} bytes");
    let status = reply.status();
    let mut head = format!("HTTP/1.1 {} {}\r\n", status.as_str(), status.canonical_reason().unwrap()).len();
    for (name, value) in reply.headers() {
        head += name.as_str().len() + 2 + value.len() + 2;
    }
    head += "date: ".len() + "Tue, 14 Nov 2023 22:13:20 GMT".len() + 2;
    head += format!("content-length: {body}\r\n").len();
    head += "connection: close\r\n".len() + 2;
    reply.with_fault(Fault::CloseAfter(head + keep))
}

// ---------------------------------------------------------------------------------------
// Files and helpers
// ---------------------------------------------------------------------------------------

/// A unique path under the temp directory, removed when dropped (also on failure).
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("courier-download-{}-{unique}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` and sets the file's modification time.
    fn write(&self, bytes: &[u8], modified: SystemTime) {
        std::fs::write(&self.0, bytes).unwrap();
        std::fs::File::options().write(true).open(&self.0).unwrap().set_modified(modified).unwrap();
    }

    fn read(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap_or_default()
    }

    fn modified(&self) -> SystemTime {
        std::fs::metadata(&self.0).unwrap().modified().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Compares file contents without printing 300 KB on failure.
#[track_caller]
fn assert_same(actual: &[u8], expected: &[u8]) {
    let first_difference = actual.iter().zip(expected).position(|(a, e)| a != e);
    assert!(
        actual == expected,
        "the file differs: {} bytes, expected {}; first difference at {first_difference:?}",
        actual.len(),
        expected.len()
    );
}

/// A download from `origin` into `file` on `client`, without pauses between attempts.
fn download(origin: &Origin, file: &TempFile, client: &Client) -> Download {
    Download::new(origin.url(), file.path()).client(client).retry_pause(Duration::ZERO)
}

/// `(bytes, attempts, already_complete)`, or the failure in the panic message.
#[track_caller]
fn done(result: Result<Downloaded, DownloadFailed>) -> (u64, u32, bool) {
    match result {
        Ok(done) => (done.bytes, done.attempts, done.already_complete),
        Err(failed) => panic!("the download failed: {failed:?}"),
    }
}

/// `(status, retryable, attempts)`.
#[track_caller]
fn failed(result: Result<Downloaded, DownloadFailed>) -> (u16, bool, u32) {
    match result {
        Ok(done) => panic!("the download should have failed: {done:?}"),
        Err(failed) => (failed.status, failed.retryable, failed.attempts),
    }
}

/// A progress callback and what it saw.
fn recorder() -> (Arc<Mutex<Vec<Progress>>>, impl FnMut(Progress) + Send + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    (seen, move |progress| recorded.lock().unwrap().push(progress))
}

// ---------------------------------------------------------------------------------------
// The test kit itself
// ---------------------------------------------------------------------------------------

/// The cut lands exactly after the head and the given body bytes (the tests below rely on
/// knowing how much each cut attempt delivered).
#[tokio::test]
async fn the_origin_cuts_exactly_after_the_bytes_it_is_told() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Cut(1234), Step::Cut(77)]).await;
        for (range, start, keep) in [("", 0usize, 1234usize), ("Range: bytes=5000-\r\n", 5000, 77)] {
            let mut tcp = tokio::net::TcpStream::connect(origin.server.local_addr()).await.unwrap();
            let request = format!("GET /file.bin HTTP/1.1\r\nHost: origin\r\n{range}\r\n");
            tcp.write_all(request.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            tcp.read_to_end(&mut raw).await.unwrap();
            let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_same(&raw[head_end..], &v1().bytes[start..start + keep]);
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Resuming
// ---------------------------------------------------------------------------------------

/// Issue 6: a download cut three times ends with the original bytes, each later attempt
/// asking for the rest of the partial file under the strong ETag.
#[tokio::test]
async fn an_interrupted_download_resumes_with_range_and_if_range_until_complete() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Cut(50_000), Step::Cut(70_000), Step::Cut(1)]).await;
        let file = TempFile::new("interrupted.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 4, false));
        assert_same(&file.read(), &v1().bytes);
        assert_eq!(
            origin.seen(),
            vec![
                Seen::fresh(),
                Seen::if_range(50_000, "\"v1\""),
                Seen::if_range(120_000, "\"v1\""),
                Seen::if_range(120_001, "\"v1\""),
            ]
        );
        assert_eq!(file.modified(), at(V1_SECS));
    })
    .await
}

/// A partial file from an earlier run carries the server's Last-Modified as its mtime; with
/// no ETag known yet the first attempt resumes under If-Unmodified-Since.
#[tokio::test]
async fn a_partial_file_from_an_earlier_run_resumes_under_if_unmodified_since() {
    within(async {
        let origin = Origin::start(v1(), vec![]).await;
        let file = TempFile::new("earlier-run.bin");
        file.write(&v1().bytes[..102_400], at(V1_SECS));
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 1, false));
        assert_eq!(origin.seen(), vec![Seen::unmodified_since(102_400, V1_DATE)]);
        assert_same(&file.read(), &v1().bytes);
    })
    .await
}

/// A weak ETag (or none) is no validator for If-Range: the resume uses the file's date.
#[tokio::test]
async fn a_weak_or_missing_etag_resumes_under_if_unmodified_since() {
    within(async {
        for etag in [Some("W/\"v1\""), None] {
            let blob = Blob { etag, ..v1() };
            let origin = Origin::start(blob.clone(), vec![Step::Cut(100_000)]).await;
            let file = TempFile::new("weak.bin");
            let result = download(&origin, &file, &Client::new()).run().await;
            assert_eq!(done(result), (SIZE as u64, 2, false), "etag {etag:?}");
            assert_eq!(origin.seen(), vec![Seen::fresh(), Seen::unmodified_since(100_000, V1_DATE)]);
            assert_same(&file.read(), &blob.bytes);
        }
    })
    .await
}

/// Issue 6: the file changed on the server between runs → 412 → the partial file goes and
/// the download starts over → the new bytes.
#[tokio::test]
async fn a_file_changed_between_runs_is_412_and_starts_over() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Cut(100_000)]).await;
        let file = TempFile::new("changed-412.bin");
        let client = Client::new();
        let result = download(&origin, &file, &client).max_attempts(1).run().await;
        assert_eq!(failed(result), (597, true, 1));
        assert_same(&file.read(), &v1().bytes[..100_000]);
        assert_eq!(file.modified(), at(V1_SECS), "the partial file carries Last-Modified");

        let new = v2(250_000);
        origin.change(new.clone());
        let result = download(&origin, &file, &client).run().await;
        assert_eq!(done(result), (250_000, 2, false));
        assert_eq!(
            origin.seen(),
            vec![Seen::fresh(), Seen::unmodified_since(100_000, V1_DATE), Seen::fresh()]
        );
        assert_same(&file.read(), &new.bytes);
        assert_eq!(file.modified(), at(V2_SECS));
    })
    .await
}

/// The file changed between attempts of one run: If-Range does not match, the server sends
/// the new file whole (200), and the longer partial file is truncated under it.
#[tokio::test]
async fn a_file_changed_between_attempts_fails_if_range_and_is_replaced() {
    within(async {
        let new = v2(80_000); // shorter than the 100 KB already written
        let origin = Origin::start(v1(), vec![Step::Cut(100_000), Step::ChangeTo(new.clone())]).await;
        let file = TempFile::new("changed-if-range.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (80_000, 2, false));
        assert_eq!(origin.seen(), vec![Seen::fresh(), Seen::if_range(100_000, "\"v1\"")]);
        assert_same(&file.read(), &new.bytes);
        assert_eq!(file.modified(), at(V2_SECS));
    })
    .await
}

/// Issue 6: a server that ignores Range answers 200 with the whole file: the partial file
/// is truncated and rewritten, never appended to.
#[tokio::test]
async fn a_server_ignoring_range_gets_the_file_rewritten_from_zero() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Cut(100_000), Step::IgnoreRange]).await;
        let file = TempFile::new("ignores-range.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 2, false));
        assert_eq!(origin.seen(), vec![Seen::fresh(), Seen::if_range(100_000, "\"v1\"")]);
        assert_same(&file.read(), &v1().bytes);

        // A partial file longer than the whole one: what is left beyond it must go too.
        let origin = Origin::start(v1(), vec![Step::IgnoreRange]).await;
        let file = TempFile::new("ignores-range-longer.bin");
        file.write(&vec![0xEE; 400_000], at(V1_SECS));
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 1, false));
        assert_eq!(origin.seen(), vec![Seen::unmodified_since(400_000, V1_DATE)]);
        assert_same(&file.read(), &v1().bytes);
    })
    .await
}

/// Issue 6: a complete file → 416 → success, and the file is left alone (same bytes, same
/// modification time to the nanosecond, which a rewrite from Last-Modified would lose).
#[tokio::test]
async fn an_already_complete_file_is_416_and_not_rewritten() {
    within(async {
        let origin = Origin::start(v1(), vec![]).await;
        let file = TempFile::new("complete.bin");
        let mtime = at(V1_SECS) + Duration::from_millis(500); // still V1_DATE in whole seconds
        file.write(&v1().bytes, mtime);
        let mtime = file.modified(); // as precise as the file system keeps it
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 1, true));
        assert_eq!(origin.seen(), vec![Seen::unmodified_since(SIZE, V1_DATE)]);
        assert_same(&file.read(), &v1().bytes);
        assert_eq!(file.modified(), mtime, "the complete file was touched");
    })
    .await
}

/// A 206 that does not start where asked (or does not say where) is not spliced in: the
/// file starts over from zero with a plain request.
#[tokio::test]
async fn a_206_at_the_wrong_offset_starts_over_from_zero() {
    within(async {
        for bad in [Step::WrongContentRange, Step::NoContentRange] {
            let origin = Origin::start(v1(), vec![Step::Cut(100_000), bad]).await;
            let file = TempFile::new("wrong-range.bin");
            let result = download(&origin, &file, &Client::new()).run().await;
            assert_eq!(done(result), (SIZE as u64, 3, false));
            assert_eq!(origin.seen(), vec![Seen::fresh(), Seen::if_range(100_000, "\"v1\""), Seen::fresh()]);
            assert_same(&file.read(), &v1().bytes);
        }
    })
    .await
}

/// A partial file longer than the whole one (the remote file shrank under a server that
/// ignores If-Unmodified-Since, or something appended to the local copy): the 416 says
/// `bytes */300000`, which does not describe the 305,000-byte file, so the file is not
/// complete. Whatever the download then does, it must not report success with a file that
/// differs from the server's.
#[tokio::test]
async fn a_416_for_a_file_longer_than_the_servers_is_not_already_complete() {
    within(async {
        let origin = Origin::start(v1(), vec![]).await;
        let file = TempFile::new("longer.bin");
        let mut longer = v1().bytes.to_vec();
        longer.extend_from_slice(&[0xEE; 5_000]);
        file.write(&longer, at(V1_SECS));
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(origin.seen()[0], Seen::unmodified_since(305_000, V1_DATE));
        assert_eq!(origin.statuses()[0], 416);
        if let Ok(done) = result {
            assert_eq!(
                (done.bytes, done.already_complete),
                (SIZE as u64, false),
                "a 416 with Content-Range `bytes */300000` was taken as completing a 305,000-byte file"
            );
            assert_same(&file.read(), &v1().bytes);
        }
    })
    .await
}

#[tokio::test]
async fn a_503_is_retried_and_keeps_the_partial_file() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Status(503)]).await;
        let file = TempFile::new("503-once.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 2, false));
        assert_eq!(origin.seen(), vec![Seen::fresh(), Seen::fresh()]);
        assert_same(&file.read(), &v1().bytes);

        // In the middle of a resume: the 503 (and a 500) change nothing on disk.
        let origin =
            Origin::start(v1(), vec![Step::Cut(100_000), Step::Status(503), Step::Status(500)]).await;
        let file = TempFile::new("503-resume.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 4, false));
        let resume = Seen::if_range(100_000, "\"v1\"");
        assert_eq!(origin.seen(), vec![Seen::fresh(), resume.clone(), resume.clone(), resume]);
        assert_same(&file.read(), &v1().bytes);
    })
    .await
}

/// The ETag on a 503 error page belongs to the error page, not to the file: the next
/// attempt still resumes (206) instead of failing If-Range and fetching the file again.
#[tokio::test]
async fn an_error_pages_etag_does_not_replace_the_files_validator() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Cut(100_000), Step::ErrorPageWithEtag(503)]).await;
        let file = TempFile::new("503-etag.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 3, false));
        assert_same(&file.read(), &v1().bytes);
        assert_eq!(
            origin.statuses(),
            [200, 503, 206],
            "the third attempt did not resume: {:?}",
            origin.seen()[2]
        );
    })
    .await
}

/// Pauses before retries start at `retry_pause` and double.
#[tokio::test]
async fn the_pauses_between_retries_grow() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Status(503), Step::Status(500)]).await;
        let file = TempFile::new("pauses.bin");
        let result =
            download(&origin, &file, &Client::new()).retry_pause(Duration::from_millis(100)).run().await;
        assert_eq!(done(result), (SIZE as u64, 3, false));
        let gaps = origin.gaps();
        assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
        assert!(gaps[1] >= Duration::from_millis(200), "{gaps:?}");
    })
    .await
}

#[tokio::test]
async fn a_404_is_a_permanent_failure_after_one_attempt() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Status(404)]).await;
        let file = TempFile::new("404.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(failed(result), (404, false, 1));
        assert_eq!(origin.attempts(), 1);
    })
    .await
}

#[tokio::test]
async fn a_server_always_503_exhausts_the_attempts() {
    within(async {
        let origin = Origin::start(v1(), vec![Step::Status(503); 10]).await;
        let file = TempFile::new("503-always.bin");
        let result = download(&origin, &file, &Client::new()).max_attempts(3).run().await;
        assert_eq!(failed(result), (503, true, 3));
        assert_eq!(origin.attempts(), 3);
    })
    .await
}

#[tokio::test]
async fn a_closed_port_is_595_after_every_attempt() {
    within(async {
        let url = format!("http://127.0.0.1:{}/file.bin", closed_port().await);
        let file = TempFile::new("closed-port.bin");
        let result = Download::new(url, file.path())
            .client(&Client::new())
            .max_attempts(3)
            .retry_pause(Duration::from_millis(1))
            .run()
            .await;
        assert_eq!(failed(result), (595, true, 3));
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Modification time and progress
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_finished_file_carries_the_origins_last_modified() {
    within(async {
        let origin = Origin::start(v1(), vec![]).await;
        let file = TempFile::new("mtime.bin");
        let result = download(&origin, &file, &Client::new()).run().await;
        assert_eq!(done(result), (SIZE as u64, 1, false));
        assert_eq!(origin.seen(), vec![Seen::fresh()]);
        assert_eq!(file.modified(), at(V1_SECS));
        assert_same(&file.read(), &v1().bytes);
    })
    .await
}

/// `received` counts the whole file: on a resumed run it starts above the partial size; it
/// never goes back across cut attempts; it ends at the total, which is the full size.
#[tokio::test]
async fn progress_counts_the_whole_file_across_runs_and_attempts() {
    within(async {
        let origin = Origin::start(v1(), vec![]).await;
        let file = TempFile::new("progress-resumed.bin");
        file.write(&v1().bytes[..102_400], at(V1_SECS));
        let (seen, callback) = recorder();
        let result = download(&origin, &file, &Client::new()).on_progress(callback).run().await;
        assert_eq!(done(result), (SIZE as u64, 1, false));
        let seen = seen.lock().unwrap().clone();
        assert!(seen[0].received > 102_400, "first report {:?}", seen[0]);
        assert!(seen.windows(2).all(|w| w[0].received < w[1].received), "not monotonic");
        assert_eq!(seen.last().unwrap().received, SIZE as u64);
        assert!(seen.iter().all(|p| p.receive_total == Some(SIZE as u64)), "{:?}", seen[0]);

        let origin = Origin::start(v1(), vec![Step::Cut(50_000), Step::Cut(70_000)]).await;
        let file = TempFile::new("progress-cut.bin");
        let (seen, callback) = recorder();
        let result = download(&origin, &file, &Client::new()).on_progress(callback).run().await;
        assert_eq!(done(result), (SIZE as u64, 3, false));
        let seen = seen.lock().unwrap().clone();
        let received: Vec<u64> = seen.iter().map(|p| p.received).collect();
        assert!(received.windows(2).all(|w| w[0] < w[1]), "not monotonic across attempts");
        assert!(received.contains(&50_000) && received.contains(&120_000), "the cuts were reported");
        assert_eq!(received.last(), Some(&(SIZE as u64)));
        assert!(seen.iter().all(|p| p.receive_total == Some(SIZE as u64)));
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Streamed uploads of files
// ---------------------------------------------------------------------------------------

/// Issue 6: a file streamed as a request body, with its length (Content-Length) and without
/// (a `tokio::fs::File` reader, chunked), arrives byte for byte.
#[tokio::test]
async fn files_upload_intact_with_and_without_a_known_length() {
    within(async {
        let received: Arc<Mutex<Vec<(String, Bytes)>>> = Arc::default();
        let store = received.clone();
        let server = Server::builder()
            .route("/upload", move |req: Request| {
                let store = store.clone();
                async move {
                    let framing = format!(
                        "te={};cl={}",
                        req.header("transfer-encoding").unwrap_or_default(),
                        req.header("content-length").unwrap_or_default()
                    );
                    match req.body().await {
                        Ok(body) => {
                            store.lock().unwrap().push((framing, body));
                            Reply::text("stored")
                        }
                        Err(error) => Reply::from(error),
                    }
                }
            })
            .start()
            .await
            .unwrap();
        let body = content(SIZE, 3);
        let file = TempFile::new("upload.bin");
        std::fs::write(file.path(), &body).unwrap();

        let res = courier::post(server.url("/upload")).body_file(file.path()).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        let reader = tokio::fs::File::open(file.path()).await.unwrap();
        let res = courier::post(server.url("/upload")).body_reader(reader, None).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        let reader = tokio::fs::File::open(file.path()).await.unwrap();
        let res = courier::request("PUT", server.url("/upload"))
            .body_reader(reader, Some(SIZE as u64))
            .send()
            .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());

        let received = received.lock().unwrap().clone();
        let framings: Vec<&str> = received.iter().map(|(framing, _)| framing.as_str()).collect();
        assert_eq!(framings, ["te=;cl=300000", "te=chunked;cl=", "te=;cl=300000"]);
        for (_, got) in &received {
            assert_same(got, &body);
        }
    })
    .await
}
