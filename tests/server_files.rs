#![cfg(feature = "server")]
//! Static files from the bundled server: validators, HEAD, conditional requests, ranges,
//! block-sized streaming, directory indexes, mounts, and path traversal refused.

mod support;
use support::within;

use courier::server::{serve_dir, serve_file, FileOptions, Server, StaticFiles};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";
const SECRET: &str = "TOP SECRET";
/// letters.txt's mtime: 2023-11-14T22:13:20.123456789Z.
const MTIME_SECS: u64 = 1_700_000_000;
const MTIME_NANOS: u32 = 123_456_789;
const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
const BIG_SIZE: usize = 100_000;

/// letters.txt's ETag: size and mtime in nanoseconds, in hex.
fn letters_etag() -> String {
    let nanos = u128::from(MTIME_SECS) * 1_000_000_000 + u128::from(MTIME_NANOS);
    format!("\"{:x}-{nanos:x}\"", LETTERS.len())
}

fn big_content() -> Vec<u8> {
    (0..BIG_SIZE).map(|i| (i * 7 % 251) as u8).collect()
}

/// A temp directory: `public/` is served, `secret.txt` sits next to it. Removed on drop.
struct Site {
    base: PathBuf,
    root: PathBuf,
}

impl Site {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "courier-server-files-{}-{name}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let base = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("public");
        let site = Self { base, root };
        site.write("letters.txt", LETTERS.as_bytes());
        let letters = std::fs::File::options().write(true).open(site.root.join("letters.txt")).unwrap();
        letters.set_modified(UNIX_EPOCH + Duration::new(MTIME_SECS, MTIME_NANOS)).unwrap();
        site.write("big.bin", &big_content());
        site.write("empty.txt", b"");
        site.write("data.unknownext", b"x");
        site.write("image.png", b"not really a png");
        site.write("sp ace.txt", b"spaced");
        site.write(".hidden", b"hidden");
        site.write("docs/index.html", b"<h1>docs</h1>\n");
        site.write("nested/deep/style.css", b"body { color: red }\n");
        std::fs::write(site.base.join("secret.txt"), SECRET).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("letters.txt", site.root.join("link-in.txt")).unwrap();
            symlink("../secret.txt", site.root.join("link-out.txt")).unwrap();
            symlink("..", site.root.join("dir-out")).unwrap();
        }
        site
    }

    fn write(&self, relative: &str, content: &[u8]) {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A server with the whole root mounted at `/`.
    async fn serve(&self) -> Server {
        Server::builder().route("/", serve_dir(&self.root)).start().await.unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A response read off the wire byte for byte.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        let mut found = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = found.next().map(|(_, v)| v.as_str());
        assert!(found.next().is_none(), "{name} appears more than once");
        first
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
async fn raw(server: &Server, method: &str, target: &str, headers: &[(&str, &str)]) -> Raw {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let response = Raw { status, headers, body: bytes[head_end..].to_vec() };
    assert_eq!(response.header("transfer-encoding"), None, "files are never chunked");
    if method != "HEAD" && response.status != 304 {
        let length = response.header("content-length").expect("a Content-Length").parse::<usize>().unwrap();
        assert_eq!(length, response.body.len(), "Content-Length is exact");
    }
    response
}

async fn get(server: &Server, target: &str, headers: &[(&str, &str)]) -> Raw {
    raw(server, "GET", target, headers).await
}

/// The date `seconds` away from letters.txt's Last-Modified.
fn date_from_mtime(seconds: i64) -> String {
    courier::format_date(UNIX_EPOCH + Duration::from_secs(MTIME_SECS.checked_add_signed(seconds).unwrap()))
}

#[tokio::test]
async fn get_sends_the_exact_file_with_type_length_and_validators() {
    within(async {
        let site = Site::new("get");
        let server = site.serve().await;
        let res = courier::get(server.url("/letters.txt")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.body().as_ref(), LETTERS.as_bytes());
        assert_eq!(res.header("content-type").as_deref(), Some("text/plain; charset=utf-8"));
        assert_eq!(res.header("content-length").as_deref(), Some("26"));
        assert_eq!(res.header("etag").as_deref(), Some(letters_etag().as_str()));
        assert_eq!(res.header("last-modified").as_deref(), Some(LAST_MODIFIED));
        assert_eq!(res.header("accept-ranges").as_deref(), Some("bytes"));
        assert!(res.header("date").is_some());

        let res = get(&server, "/letters.txt", &[]).await;
        assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()));
        assert_eq!(res.header("content-length"), Some("26"));

        let types = [
            ("/nested/deep/style.css", "text/css; charset=utf-8"),
            ("/docs/index.html", "text/html; charset=utf-8"),
            ("/image.png", "image/png"),
            ("/data.unknownext", "application/octet-stream"),
            ("/empty.txt", "text/plain; charset=utf-8"),
        ];
        for (target, content_type) in types {
            let res = get(&server, target, &[]).await;
            assert_eq!(res.status, 200, "{target}");
            assert_eq!(res.header("content-type"), Some(content_type), "{target}");
            let on_disk = std::fs::read(site.root.join(&target[1..])).unwrap();
            assert_eq!(res.body, on_disk, "{target}");
        }
        let res = get(&server, "/sp%20ace.txt", &[]).await;
        assert_eq!((res.status, res.text().as_str()), (200, "spaced"));
        let res = get(&server, "/missing.txt", &[]).await;
        assert_eq!(res.status, 404);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn head_has_the_same_head_and_no_body() {
    within(async {
        let site = Site::new("head");
        let server = site.serve().await;
        let res = courier::head(server.url("/letters.txt")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(res.body().is_empty());
        assert_eq!(res.header("content-length").as_deref(), Some("26"));
        assert_eq!(res.header("content-type").as_deref(), Some("text/plain; charset=utf-8"));
        assert_eq!(res.header("etag").as_deref(), Some(letters_etag().as_str()));
        assert_eq!(res.header("last-modified").as_deref(), Some(LAST_MODIFIED));

        let res = raw(&server, "HEAD", "/big.bin", &[]).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-length"), Some("100000"));
        assert_eq!(res.header("accept-ranges"), Some("bytes"));
        assert!(res.body.is_empty(), "HEAD sends no body");
        // Range is for GET only.
        let res = raw(&server, "HEAD", "/letters.txt", &[("Range", "bytes=0-4")]).await;
        assert_eq!((res.status, res.header("content-length")), (200, Some("26")));
        assert!(res.body.is_empty());
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn if_none_match_and_if_modified_since_give_304() {
    within(async {
        let site = Site::new("304");
        let server = site.serve().await;
        let etag = letters_etag();
        let weak = format!("W/{etag}");
        let listed = format!("\"other\", {etag}");
        for value in [etag.as_str(), weak.as_str(), "*", listed.as_str()] {
            let res = get(&server, "/letters.txt", &[("If-None-Match", value)]).await;
            assert_eq!(res.status, 304, "If-None-Match: {value}");
            assert_eq!(res.header("etag"), Some(etag.as_str()));
            assert_eq!(res.header("last-modified"), Some(LAST_MODIFIED));
            assert_eq!(res.header("content-type"), None);
            assert_eq!(res.header("content-length"), None);
            assert!(res.body.is_empty());
        }
        let res = raw(&server, "HEAD", "/letters.txt", &[("If-None-Match", &etag)]).await;
        assert_eq!(res.status, 304);
        let res = get(&server, "/letters.txt", &[("If-None-Match", "\"other\"")]).await;
        assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()));

        for date in [LAST_MODIFIED.to_owned(), date_from_mtime(86_400)] {
            let res = get(&server, "/letters.txt", &[("If-Modified-Since", &date)]).await;
            assert_eq!(res.status, 304, "If-Modified-Since: {date}");
            assert_eq!(res.header("etag"), Some(etag.as_str()));
            assert!(res.body.is_empty());
        }
        for date in [date_from_mtime(-1), "yesterday".to_owned()] {
            let res = get(&server, "/letters.txt", &[("If-Modified-Since", &date)]).await;
            assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()), "{date}");
        }
        // If-None-Match wins over If-Modified-Since.
        let headers = [("If-None-Match", "\"other\""), ("If-Modified-Since", LAST_MODIFIED)];
        let res = get(&server, "/letters.txt", &headers).await;
        assert_eq!(res.status, 200);

        let res = courier::get(server.url("/letters.txt")).header("if-none-match", &etag).send().await;
        assert_eq!(res.status().as_u16(), 304, "{}", res.reason());
        assert!(res.body().is_empty());
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn if_match_and_if_unmodified_since_give_412() {
    within(async {
        let site = Site::new("412");
        let server = site.serve().await;
        let etag = letters_etag();
        let weak = format!("W/{etag}");
        let listed = format!("\"other\", {etag}");
        for value in ["\"other\"", weak.as_str(), "garbage"] {
            let res = get(&server, "/letters.txt", &[("If-Match", value)]).await;
            assert_eq!(res.status, 412, "If-Match: {value}");
            assert_eq!(res.header("etag"), Some(etag.as_str()));
            assert!(!res.text().contains(LETTERS));
        }
        for value in [etag.as_str(), "*", listed.as_str()] {
            let res = get(&server, "/letters.txt", &[("If-Match", value)]).await;
            assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()), "If-Match: {value}");
        }
        let res = get(&server, "/letters.txt", &[("If-Unmodified-Since", &date_from_mtime(-1))]).await;
        assert_eq!(res.status, 412);
        for date in [LAST_MODIFIED, "garbage"] {
            let res = get(&server, "/letters.txt", &[("If-Unmodified-Since", date)]).await;
            assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()), "{date}");
        }
        // If-Match takes precedence over If-Unmodified-Since.
        let old = date_from_mtime(-1);
        let res = get(&server, "/letters.txt", &[("If-Match", &etag), ("If-Unmodified-Since", &old)]).await;
        assert_eq!(res.status, 200);
        // Preconditions come before Range.
        let res = get(&server, "/letters.txt", &[("If-Match", "\"other\""), ("Range", "bytes=0-1")]).await;
        assert_eq!(res.status, 412);
        // A missing file is 404 whatever the conditions.
        let res = get(&server, "/missing.txt", &[("If-Match", "*")]).await;
        assert_eq!(res.status, 404);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn serve_file_answers_any_method_with_304_and_ranges_for_get_only() {
    within(async {
        let site = Site::new("direct");
        let letters = site.root.join("letters.txt");
        let docs = site.root.join("docs");
        let server = Server::builder()
            .route("/letters", move |req| {
                let letters = letters.clone();
                async move { serve_file(&req, &letters).await }
            })
            .route("/dir", move |req| {
                let docs = docs.clone();
                async move { serve_file(&req, &docs).await }
            })
            .route("/missing", |req| async move { serve_file(&req, "/definitely/not/here").await })
            .start()
            .await
            .unwrap();
        let res = raw(&server, "POST", "/letters", &[("Content-Length", "0")]).await;
        assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()));
        let etag = letters_etag();
        let res =
            raw(&server, "POST", "/letters", &[("Content-Length", "0"), ("If-None-Match", &etag)]).await;
        assert_eq!(res.status, 412, "If-None-Match on POST fails instead of 304");
        let headers = [("Content-Length", "0"), ("If-Modified-Since", LAST_MODIFIED), ("Range", "bytes=0-1")];
        let res = raw(&server, "POST", "/letters", &headers).await;
        assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()));
        let res = get(&server, "/letters", &[("Range", "bytes=0-1")]).await;
        assert_eq!((res.status, res.text().as_str()), (206, "ab"));
        assert_eq!(get(&server, "/dir", &[]).await.status, 404);
        assert_eq!(get(&server, "/missing", &[]).await.status, 404);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn single_ranges_give_206_with_content_range() {
    within(async {
        let site = Site::new("range");
        let server = site.serve().await;
        let cases = [
            ("bytes=0-4", "abcde", "bytes 0-4/26"),
            ("bytes=20-", "uvwxyz", "bytes 20-25/26"),
            ("bytes=-3", "xyz", "bytes 23-25/26"),
            ("bytes=25-25", "z", "bytes 25-25/26"),
            ("bytes=20-100", "uvwxyz", "bytes 20-25/26"),
            ("bytes=-100", LETTERS, "bytes 0-25/26"),
            ("BYTES=1-2", "bc", "bytes 1-2/26"),
            ("bytes=30-40, 2-3", "cd", "bytes 2-3/26"),
        ];
        for (range, body, content_range) in cases {
            let res = get(&server, "/letters.txt", &[("Range", range)]).await;
            assert_eq!(res.status, 206, "Range: {range}");
            assert_eq!(res.text(), body, "Range: {range}");
            assert_eq!(res.header("content-range"), Some(content_range), "Range: {range}");
            assert_eq!(res.header("content-type"), Some("text/plain; charset=utf-8"));
            assert_eq!(res.header("content-length"), Some(body.len().to_string().as_str()));
            assert_eq!(res.header("etag"), Some(letters_etag().as_str()));
        }
        let res = courier::get(server.url("/letters.txt")).header("range", "bytes=-3").send().await;
        assert_eq!(res.status().as_u16(), 206, "{}", res.reason());
        assert_eq!(res.text(), "xyz");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn multiple_ranges_give_an_exact_multipart_body() {
    within(async {
        let site = Site::new("multipart");
        let server = site.serve().await;
        let res = get(&server, "/letters.txt", &[("Range", "bytes=10-12, 0-2,-2")]).await;
        assert_eq!(res.status, 206);
        assert_eq!(res.header("content-range"), None);
        let content_type = res.header("content-type").unwrap();
        let boundary = content_type.strip_prefix("multipart/byteranges; boundary=").unwrap();
        assert!(!boundary.is_empty() && boundary.len() <= 70, "{boundary}");
        let part = |range: &str, data: &str| {
            let content_type = "Content-Type: text/plain; charset=utf-8";
            format!("--{boundary}\r\n{content_type}\r\nContent-Range: bytes {range}/26\r\n\r\n{data}\r\n")
        };
        // Disjoint ranges keep the order they were asked in.
        let end = format!("--{boundary}--\r\n");
        let expected = [part("10-12", "klm"), part("0-2", "abc"), part("24-25", "yz"), end].concat();
        assert_eq!(res.text(), expected);

        // Each reply gets a boundary of its own.
        let again = get(&server, "/letters.txt", &[("Range", "bytes=0-0,2-2")]).await;
        assert_ne!(again.header("content-type"), Some(content_type));

        // Parts of a large file cross block boundaries intact.
        let big = big_content();
        let res = get(&server, "/big.bin", &[("Range", "bytes=7000-15999,90000-")]).await;
        assert_eq!(res.status, 206);
        let boundary = res.header("content-type").unwrap().split("boundary=").nth(1).unwrap().to_owned();
        let mut expected = Vec::new();
        for (start, end) in [(7000, 15999), (90000, BIG_SIZE - 1)] {
            let range = format!("Content-Range: bytes {start}-{end}/{BIG_SIZE}");
            let head = format!("--{boundary}\r\nContent-Type: application/octet-stream\r\n{range}\r\n\r\n");
            expected.extend_from_slice(head.as_bytes());
            expected.extend_from_slice(&big[start..=end]);
            expected.extend_from_slice(b"\r\n");
        }
        expected.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        assert!(res.body == expected, "multipart body of big.bin differs");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn overlapping_and_adjacent_ranges_are_merged() {
    within(async {
        let site = Site::new("merge");
        let server = site.serve().await;
        let cases = [
            ("bytes=0-4,3-8", "abcdefghi", "bytes 0-8/26"),
            ("bytes=0-2,3-5", "abcdef", "bytes 0-5/26"),
            ("bytes=5-9,0-0,1-4", "abcdefghij", "bytes 0-9/26"),
            ("bytes=0-,0-,0-,-26", LETTERS, "bytes 0-25/26"),
        ];
        for (range, body, content_range) in cases {
            let res = get(&server, "/letters.txt", &[("Range", range)]).await;
            assert_eq!(res.status, 206, "Range: {range}");
            assert_eq!(res.text(), body, "Range: {range}");
            assert_eq!(res.header("content-range"), Some(content_range), "Range: {range}");
        }
        // Some merge, one stays apart: two parts, in ascending order.
        let res = get(&server, "/letters.txt", &[("Range", "bytes=20-21,0-1,1-2")]).await;
        let boundary = res.header("content-type").unwrap().split("boundary=").nth(1).unwrap().to_owned();
        let text = res.text();
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 2);
        let first = text.find("bytes 0-2/26\r\n\r\nabc\r\n").unwrap();
        let second = text.find("bytes 20-21/26\r\n\r\nuv\r\n").unwrap();
        assert!(first < second);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unsatisfiable_ranges_give_416() {
    within(async {
        let site = Site::new("416");
        let server = site.serve().await;
        for range in
            ["bytes=26-", "bytes=100-200", "bytes=-0", "bytes=26-30,40-", "bytes=99999999999999999999999-"]
        {
            let res = get(&server, "/letters.txt", &[("Range", range)]).await;
            assert_eq!(res.status, 416, "Range: {range}");
            assert_eq!(res.header("content-range"), Some("bytes */26"), "Range: {range}");
            assert!(!res.text().contains(LETTERS));
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn invalid_ranges_are_ignored() {
    within(async {
        let site = Site::new("invalid-range");
        let server = site.serve().await;
        for range in [
            "bytes=5-2",
            "items=0-1",
            "bytes=a-b",
            "bytes=",
            "0-4",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=0-1;x",
            "bytes = 1-2",
        ] {
            let res = get(&server, "/letters.txt", &[("Range", range)]).await;
            assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()), "Range: {range}");
            assert_eq!(res.header("content-range"), None);
        }
        // An empty file has no bytes to range over: the whole (empty) file.
        for range in ["bytes=0-", "bytes=-5", "bytes=3-4"] {
            let res = get(&server, "/empty.txt", &[("Range", range)]).await;
            assert_eq!((res.status, res.header("content-length")), (200, Some("0")), "Range: {range}");
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn if_range_that_does_not_match_gets_the_whole_file() {
    within(async {
        let site = Site::new("if-range");
        let server = site.serve().await;
        let etag = letters_etag();
        for if_range in [etag.as_str(), LAST_MODIFIED] {
            let res = get(&server, "/letters.txt", &[("If-Range", if_range), ("Range", "bytes=0-4")]).await;
            assert_eq!((res.status, res.text().as_str()), (206, "abcde"), "If-Range: {if_range}");
        }
        let weak = format!("W/{etag}");
        let earlier = date_from_mtime(-1);
        let later = date_from_mtime(1);
        for if_range in ["\"other\"", weak.as_str(), earlier.as_str(), later.as_str(), "garbage"] {
            let res = get(&server, "/letters.txt", &[("If-Range", if_range), ("Range", "bytes=0-4")]).await;
            assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()), "If-Range: {if_range}");
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_number_of_ranges_is_capped() {
    within(async {
        let site = Site::new("cap");
        let server = site.serve().await;
        let disjoint = |count: usize| {
            let specs: Vec<String> = (0..count).map(|i| format!("{0}-{0}", i * 10)).collect();
            format!("bytes={}", specs.join(","))
        };
        let res = get(&server, "/big.bin", &[("Range", &disjoint(FileOptions::DEFAULT_MAX_RANGES))]).await;
        assert_eq!(res.status, 206);
        assert_eq!(res.text().matches("Content-Range: bytes ").count(), 16);
        let res = get(&server, "/big.bin", &[("Range", &disjoint(17))]).await;
        assert_eq!((res.status, res.body.len()), (200, BIG_SIZE), "more than 16 ranges: ignored");
        let many = format!("bytes={}", vec!["0-"; 40].join(","));
        let res = get(&server, "/big.bin", &[("Range", &many)]).await;
        assert_eq!((res.status, res.body.len()), (200, BIG_SIZE));
        server.shutdown().await;

        let capped = StaticFiles::new(&site.root).options(FileOptions::new().max_ranges(2));
        let server = Server::builder().route("/", capped.handler()).start().await.unwrap();
        let res = get(&server, "/letters.txt", &[("Range", "bytes=0-0,2-2")]).await;
        assert_eq!(res.status, 206);
        let res = get(&server, "/letters.txt", &[("Range", "bytes=0-0,2-2,4-4")]).await;
        assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()));
        server.shutdown().await;
    })
    .await;
}

/// A server with `files` at `/` that records the size of every chunk it writes.
async fn recording(files: StaticFiles) -> (Server, Arc<Mutex<Vec<usize>>>) {
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let seen = chunks.clone();
    let server = Server::builder()
        .route("/", files.handler())
        .on_chunk_flushed(move |_req, size| seen.lock().unwrap().push(size))
        .start()
        .await
        .unwrap();
    (server, chunks)
}

#[tokio::test]
async fn large_files_stream_in_blocks_and_arrive_intact() {
    within(async {
        let site = Site::new("big");
        let big = big_content();
        let (server, chunks) = recording(StaticFiles::new(&site.root)).await;
        let res = get(&server, "/big.bin", &[]).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-length"), Some("100000"));
        assert!(res.body == big, "big.bin arrived changed");
        let mut expected = vec![FileOptions::DEFAULT_BLOCK_SIZE; BIG_SIZE / 7500];
        expected.push(BIG_SIZE % 7500);
        assert_eq!(*chunks.lock().unwrap(), expected);

        let res = courier::get(server.url("/big.bin")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(res.body().as_ref() == big.as_slice());

        chunks.lock().unwrap().clear();
        let res = get(&server, "/big.bin", &[("Range", "bytes=7000-15999")]).await;
        assert_eq!(res.status, 206);
        assert!(res.body == big[7000..16000]);
        assert_eq!(*chunks.lock().unwrap(), [7500, 1500]);
        server.shutdown().await;

        let (server, chunks) =
            recording(StaticFiles::new(&site.root).options(FileOptions::new().block_size(4096))).await;
        let res = get(&server, "/big.bin", &[]).await;
        assert!(res.body == big);
        let sizes = chunks.lock().unwrap().clone();
        assert_eq!(sizes.len(), BIG_SIZE.div_ceil(4096));
        assert!(sizes[..sizes.len() - 1].iter().all(|&size| size == 4096));
        server.shutdown().await;
    })
    .await;
}

/// Asserts that `target` is refused with `status` and leaks nothing from outside the root.
async fn assert_refused(server: &Server, target: &str, status: u16) {
    let res = get(server, target, &[]).await;
    assert_eq!(res.status, status, "{target}: {}", res.text());
    assert!(!res.text().contains(SECRET), "{target} leaked the secret");
}

#[tokio::test]
async fn path_traversal_is_refused() {
    within(async {
        let site = Site::new("traversal");
        let server = site.serve().await;
        for target in [
            "/../secret.txt",
            "/docs/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/.%2e/secret.txt",
            "/..%2fsecret.txt",
            "/..%2Fsecret.txt",
            "/a\\..\\secret.txt",
            "/..\\secret.txt",
            "/%5c..%5csecret.txt",
            "/%00",
            "/letters.txt%00.png",
            "/%zz",
            "/%e9",
            "http://127.0.0.1/../secret.txt",
        ] {
            assert_refused(&server, target, 400).await;
        }
        for target in ["//secret.txt", "/%2fsecret.txt", "/.hidden", "/*"] {
            assert_refused(&server, target, 404).await;
        }
        #[cfg(unix)]
        for target in ["/link-out.txt", "/dir-out/secret.txt"] {
            assert_refused(&server, target, 404).await;
        }
        let legit = [
            ("/nested/deep/style.css", "body { color: red }\n"),
            ("/nested/./deep//style.css", "body { color: red }\n"),
            ("/nested%2Fdeep/style.css", "body { color: red }\n"),
            ("/%6Cetters.txt", LETTERS),
        ];
        for (target, body) in legit {
            let res = get(&server, target, &[]).await;
            assert_eq!((res.status, res.text().as_str()), (200, body), "{target}");
        }
        #[cfg(unix)]
        {
            let res = get(&server, "/link-in.txt", &[]).await;
            assert_eq!((res.status, res.text().as_str()), (200, LETTERS), "a symlink within the root");
            // Out through a symlink and back in: what counts is where the file really is.
            let res = get(&server, "/dir-out/public/letters.txt", &[]).await;
            assert_eq!((res.status, res.text().as_str()), (200, LETTERS));
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn directories_are_served_by_their_index() {
    within(async {
        let site = Site::new("index");
        let server = site.serve().await;
        let res = get(&server, "/docs/", &[]).await;
        assert_eq!((res.status, res.text().as_str()), (200, "<h1>docs</h1>\n"));
        assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
        let res = raw(&server, "HEAD", "/docs/", &[]).await;
        assert_eq!((res.status, res.header("content-length")), (200, Some("14")));
        for (target, location) in [("/docs", "/docs/"), ("/docs?x=1", "/docs/?x=1"), ("//docs", "/docs/")] {
            let res = get(&server, target, &[]).await;
            assert_eq!((res.status, res.header("location")), (301, Some(location)), "{target}");
        }
        for target in ["/", "/nested", "/nested/", "/letters.txt/", "/missing/", "/docs/missing.html"] {
            assert_eq!(get(&server, target, &[]).await.status, 404, "{target}");
        }
        let res = courier::get(server.url("/docs")).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "<h1>docs</h1>\n"));
        assert_eq!(res.url(), server.url("/docs/"));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn mounts_dotfiles_index_names_and_methods() {
    within(async {
        let site = Site::new("mount");
        std::fs::write(site.root.join("docs/home.htm"), "home").unwrap();
        let statics = StaticFiles::new(&site.root).mount("/static").handler();
        let all = StaticFiles::new(&site.root).mount("/all/").dotfiles(true).without_index().handler();
        let home = StaticFiles::new(&site.root).mount("home").index("home.htm").handler();
        let server = Server::builder()
            .route("/static", statics.clone())
            .handler("^/staticky", statics)
            .handler("^/all(/|$)", all)
            .handler("^/home(/|$)", home)
            .start()
            .await
            .unwrap();
        let res = get(&server, "/static/letters.txt", &[]).await;
        assert_eq!((res.status, res.body.as_slice()), (200, LETTERS.as_bytes()));
        let res = get(&server, "/static/docs", &[]).await;
        assert_eq!((res.status, res.header("location")), (301, Some("/static/docs/")));
        let res = get(&server, "/static/docs/", &[]).await;
        assert_eq!((res.status, res.text().as_str()), (200, "<h1>docs</h1>\n"));
        for target in ["/static", "/static/", "/staticky/letters.txt", "/letters.txt", "/static/.hidden"] {
            assert_eq!(get(&server, target, &[]).await.status, 404, "{target}");
        }
        let res = raw(&server, "POST", "/static/letters.txt", &[("Content-Length", "0")]).await;
        assert_eq!((res.status, res.header("allow")), (405, Some("GET, HEAD")));
        let res = raw(&server, "DELETE", "/static/letters.txt", &[]).await;
        assert_eq!(res.status, 405);

        let res = get(&server, "/all/.hidden", &[]).await;
        assert_eq!((res.status, res.text().as_str()), (200, "hidden"));
        assert_eq!(get(&server, "/all/docs/", &[]).await.status, 404, "no index");
        assert_eq!(get(&server, "/all/../secret.txt", &[]).await.status, 400);

        let res = get(&server, "/home/docs/", &[]).await;
        assert_eq!((res.status, res.text().as_str()), (200, "home"));
        let res = get(&server, "/home/docs", &[]).await;
        assert_eq!((res.status, res.header("location")), (301, Some("/home/docs/")));
        server.shutdown().await;
    })
    .await;
}

#[test]
fn site_paths_are_under_the_temp_dir() {
    let site = Site::new("paths");
    assert!(site.root.starts_with(std::env::temp_dir()));
    assert!(Path::new(&site.base).join("secret.txt").exists());
    let base = site.base.clone();
    drop(site);
    assert!(!base.exists(), "the temp directory is removed");
}
