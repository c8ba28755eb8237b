//! The `fetch` example's command line: flags, output and exit codes, against scripted servers.
//! Plain `cargo test` builds the example first; `cargo test --test fetch_cli` alone may run a
//! stale binary.

mod support;
use support::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;

/// The `fetch` example binary.
fn fetch_binary() -> PathBuf {
    example_binary("fetch")
}

/// Runs `fetch ARGS...` on a blocking thread, so the scripted servers keep running.
async fn fetch(args: &[&str]) -> Output {
    let binary = fetch_binary();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the fetch example")
    })
    .await
    .expect("the blocking task")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit code; `None` (killed by a signal) fails the comparison loudly.
fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// A temp path unique to this process and `name`.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("courier-fetch-cli-{}-{name}", std::process::id()))
}

/// Removes the file when dropped, so a failing assertion does not leave it behind.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The head courier sends by default, with `extra` lines (each ending in CRLF) after Host.
fn default_head(method: &str, addr: SocketAddr, extra: &str, tail: &str) -> String {
    format!(
        "{method} / HTTP/1.1\r\nhost: {addr}\r\n{extra}user-agent: courier/{}\r\nte: trailers\r\n\
         connection: {}\r\n{tail}\r\n",
        env!("CARGO_PKG_VERSION"),
        default_connection(method)
    )
}

const OK_HELLO: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-B: b\r\nX-A: a\r\n\r\nhello";

#[tokio::test]
async fn plain_get_prints_exactly_the_body() {
    within(async {
        let server = Scripted::respond(OK_HELLO).await;
        let out = fetch(&[&server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"hello");
        assert_eq!(stderr(&out), "");
        let got = server.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].head, default_head("GET", server.addr, "", ""));
    })
    .await;
}

#[tokio::test]
async fn include_prints_status_line_and_headers_in_server_order_then_body() {
    within(async {
        let server = Scripted::respond(OK_HELLO).await;
        let out = fetch(&["-i", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(stdout(&out), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-b: b\r\nx-a: a\r\n\r\nhello");
        assert_eq!(server.requests()[0].method, "GET");
    })
    .await;
}

#[tokio::test]
async fn head_option_sends_head_and_prints_only_the_head() {
    within(async {
        let server = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: a\r\n\r\n").await;
        let out = fetch(&["-I", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(stdout(&out), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: a\r\n\r\n");
        let got = server.requests();
        assert_eq!(got.len(), 1);
        assert!(got[0].head.starts_with("HEAD / HTTP/1.1\r\n"), "{:?}", got[0].head);
        assert_eq!(got[0].head, default_head("HEAD", server.addr, "", ""));
    })
    .await;
}

#[tokio::test]
async fn method_headers_and_data_go_out_in_order() {
    within(async {
        let server = Scripted::respond(OK_HELLO).await;
        let out =
            fetch(&["-X", "PUT", "-H", "X-A: 1", "-H", "X-B: 2", "-d", "hello", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"hello");
        let got = server.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].method, "PUT");
        assert_eq!(
            got[0].head,
            default_head("PUT", server.addr, "x-a: 1\r\nx-b: 2\r\n", "content-length: 5\r\n")
        );
        assert_eq!(got[0].body, b"hello");
    })
    .await;
}

#[tokio::test]
async fn user_option_sends_basic_auth() {
    within(async {
        let server = Scripted::respond(OK_HELLO).await;
        let out = fetch(&["-u", "ada:s3:cret", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        let out = fetch(&["-u", "ada", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        let got = server.requests();
        // base64("ada:s3:cret") and base64("ada:"): the first colon splits.
        assert_eq!(got[0].header("authorization"), Some("Basic YWRhOnMzOmNyZXQ="));
        assert_eq!(got[1].header("authorization"), Some("Basic YWRhOg=="));
    })
    .await;
}

#[tokio::test]
async fn json_form_and_resolve_options() {
    within(async {
        let server = Scripted::respond(OK_HELLO).await;
        let out = fetch(&["--json", r#"{"a":1}"#, &server.url("/j")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));

        let file = temp_path("form-upload.txt");
        std::fs::write(&file, "file content\n").unwrap();
        let upload = format!("doc=@{}", file.display());
        let out = fetch(&["-F", "title=hi there", "-F", &upload, &server.url("/f")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));

        // A name only fetch's --resolve knows.
        let resolve = format!("fetch.test:{}:127.0.0.1", server.addr.port());
        let out =
            fetch(&["-v", "--resolve", &resolve, &format!("http://fetch.test:{}/r", server.addr.port())])
                .await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        // -v names the address the connection went to.
        let connect = format!("* connect #1 http://fetch.test:{0} at 127.0.0.1:{0}\n", server.addr.port());
        assert!(stderr(&out).starts_with(&connect), "{}", stderr(&out));

        let got = server.requests();
        assert_eq!((got[0].method.as_str(), got[0].body.as_slice()), ("POST", &br#"{"a":1}"#[..]));
        assert_eq!(got[0].header("content-type"), Some("application/json"));
        assert_eq!(got[0].header("accept"), Some("application/json"));

        let file_name = file.file_name().unwrap().to_str().unwrap();
        let content_type = got[1].header("content-type").unwrap().to_owned();
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhi there\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nfile content\n\r\n--{boundary}--\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&got[1].body), expected);
        assert_eq!(got[2].header("host"), Some(format!("fetch.test:{}", server.addr.port()).as_str()));

        let out = fetch(&["--resolve", "nonsense", "http://127.0.0.1:1/"]).await;
        assert_eq!(code(&out), Some(2));
        let _ = std::fs::remove_file(file);
    })
    .await;
}

#[cfg(feature = "decompress")]
#[tokio::test]
async fn compressed_option_asks_for_and_decodes_gzip() {
    use std::io::Write;
    within(async {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(b"decoded by fetch\n").unwrap();
        let body = gzip.finish().unwrap();
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", body.len())
                .into_bytes();
        response.extend_from_slice(&body);
        let server = Scripted::respond(response.clone()).await;
        let out = fetch(&["--compressed", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(stdout(&out), "decoded by fetch\n");
        assert_eq!(server.requests()[0].header("accept-encoding"), Some("gzip, deflate, br, zstd"));

        // Without the option: no Accept-Encoding, and the bytes as sent.
        let server = Scripted::respond(response).await;
        let out = fetch(&[&server.url("/")]).await;
        assert_eq!(out.stdout, body);
        assert_eq!(server.requests()[0].header("accept-encoding"), None);
    })
    .await;
}

#[tokio::test]
async fn data_from_file_sends_its_exact_bytes_as_a_post() {
    within(async {
        let file = TempFile(temp_path("data.bin"));
        let bytes: Vec<u8> = b"line one\r\nline two\n\0\xff@tail".to_vec();
        std::fs::write(&file.0, &bytes).unwrap();
        let server = Scripted::respond(OK_HELLO).await;
        let data = format!("@{}", file.0.display());
        let out = fetch(&["-d", &data, &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        let got = server.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].head,
            default_head("POST", server.addr, "", &format!("content-length: {}\r\n", bytes.len()))
        );
        assert_eq!(got[0].body, bytes);
    })
    .await;
}

#[tokio::test]
async fn empty_header_value_suppresses_the_default_user_agent() {
    within(async {
        let server = Scripted::respond(OK_HELLO).await;
        let out = fetch(&["-H", "User-Agent:", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        let got = server.requests();
        assert_eq!(got[0].header("user-agent"), None);
        assert_eq!(
            got[0].head,
            format!(
                "GET / HTTP/1.1\r\nhost: {}\r\nte: trailers\r\nconnection: TE, keep-alive\r\n\r\n",
                server.addr
            )
        );
    })
    .await;
}

#[tokio::test]
async fn output_option_writes_the_body_to_the_file_only() {
    within(async {
        let file = TempFile(temp_path("out.bin"));
        let server = Scripted::respond(OK_HELLO).await;
        let path = file.0.to_str().expect("a UTF-8 temp path").to_owned();
        let out = fetch(&["-o", &path, &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"");
        assert_eq!(std::fs::read(&file.0).unwrap(), b"hello");
    })
    .await;
}

#[tokio::test]
async fn client_and_server_errors_exit_1() {
    within(async {
        let not_found = Scripted::respond("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope").await;
        let out = fetch(&[&not_found.url("/")]).await;
        assert_eq!(code(&out), Some(1), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"nope");
        assert_eq!(stderr(&out), "");

        let broken =
            Scripted::respond("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n").await;
        let out = fetch(&[&broken.url("/")]).await;
        assert_eq!(code(&out), Some(1), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"");
    })
    .await;
}

#[tokio::test]
async fn a_real_5xx_status_in_the_pseudo_range_exits_1() {
    within(async {
        // A server may really answer 597; only courier's own failures map to 95..99.
        let server = Scripted::respond("HTTP/1.1 597 Whatever\r\nContent-Length: 2\r\n\r\nok").await;
        let out = fetch(&[&server.url("/")]).await;
        assert_eq!(code(&out), Some(1), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"ok");
        assert_eq!(stderr(&out), "");
    })
    .await;
}

#[tokio::test]
async fn connection_refused_exits_95_with_the_reason() {
    within(async {
        let port = closed_port().await;
        let out = fetch(&[&format!("http://127.0.0.1:{port}/")]).await;
        assert_eq!(code(&out), Some(95), "stderr: {}", stderr(&out));
        assert!(stderr(&out).starts_with("fetch: 595 "), "{}", stderr(&out));
        assert_eq!(out.stdout, b"");
    })
    .await;
}

#[tokio::test]
async fn unsupported_scheme_exits_99() {
    within(async {
        let out = fetch(&["ftp://x/"]).await;
        assert_eq!(code(&out), Some(99), "stderr: {}", stderr(&out));
        assert!(stderr(&out).starts_with("fetch: 599 "), "{}", stderr(&out));
        assert_eq!(out.stdout, b"");
    })
    .await;
}

#[tokio::test]
async fn body_cut_short_exits_97_and_names_the_original_status() {
    within(async {
        let server = Scripted::start(|mut peer| async move {
            if peer.read_request().await.is_some() {
                peer.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
            }
        })
        .await;
        let out = fetch(&[&server.url("/")]).await;
        assert_eq!(code(&out), Some(97), "stderr: {}", stderr(&out));
        // What arrived was already streamed out.
        assert_eq!(out.stdout, b"abc");
        let err = stderr(&out);
        assert!(err.starts_with("fetch: 597 "), "{err}");
        assert!(err.contains("fetch: (the server had answered 200 OK)\n"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn max_time_against_a_silent_server_exits_96() {
    within(async {
        let server = Scripted::start(|peer| peer.hold()).await;
        let out = fetch(&["-m", "0.3", &server.url("/")]).await;
        assert_eq!(code(&out), Some(96), "stderr: {}", stderr(&out));
        assert!(stderr(&out).starts_with("fetch: 596 "), "{}", stderr(&out));
        assert_eq!(out.stdout, b"");
        assert_eq!(server.connects(), 1);
    })
    .await;
}

#[tokio::test]
async fn max_time_is_a_total_deadline_even_while_bytes_keep_coming() {
    within(async {
        // One byte every 20 ms: the activity timeout never fires, the deadline does.
        let server = Scripted::start(|mut peer| async move {
            peer.read_request().await;
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n").await;
            for _ in 0..1000 {
                peer.write("x").await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        let out = fetch(&["-m", "0.3", "--activity-timeout", "5", &server.url("/")]).await;
        assert_eq!(code(&out), Some(97), "stderr: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("fetch: 597 "), "{err}");
        assert!(
            !out.stdout.is_empty() && out.stdout.len() < 1000,
            "part of the body came: {}",
            out.stdout.len()
        );
    })
    .await;
}

#[tokio::test]
async fn usage_errors_exit_2() {
    within(async {
        let usage = "usage: fetch [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE] [-o FILE]... [-i] [-I] \
                     [--max-redirs N] [-m SECS] [--activity-timeout SECS] [--parallel N] [-v] [-k] [--cacert PEM] [-x PROXY] [--noproxy LIST] [-c FILE] [--session ID] [-u USER:PASS] [--json DATA] [-F NAME=VALUE]... [--resolve HOST:PORT:ADDR]... [--compressed] [-C] URL...\n";
        let out = fetch(&[]).await;
        assert_eq!(code(&out), Some(2));
        assert_eq!(stderr(&out), usage);
        assert_eq!(out.stdout, b"");

        let out = fetch(&["--bogus", "http://127.0.0.1:1/"]).await;
        assert_eq!(code(&out), Some(2));
        assert_eq!(stderr(&out), format!("unknown option --bogus\n{usage}"));
        assert_eq!(out.stdout, b"");

        for bad in ["1e20", "0", "-1", "abc", "NaN", "0.0000001"] {
            let out = fetch(&["-m", bad, "http://127.0.0.1:1/"]).await;
            assert_eq!(code(&out), Some(2), "-m {bad}: {}", stderr(&out));
            assert_eq!(stderr(&out), format!("-m {bad:?}: expected seconds, at least 0.001\n"));
        }
    })
    .await;
}

/// A server whose `/` redirects to `/next` (with a body of its own) and whose `/next` answers.
async fn redirecting_server() -> Scripted {
    Scripted::start(|mut peer| async move {
        if let Some(request) = peer.read_request().await {
            let response = if request.target == "/" {
                "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 5\r\n\r\nmoved"
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\narrived"
            };
            peer.write(response).await;
        }
    })
    .await
}

#[tokio::test]
async fn max_redirs_0_returns_the_redirect_itself() {
    within(async {
        let server = redirecting_server().await;
        let out = fetch(&["--max-redirs", "0", &server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(out.stdout, b"moved");
        let got = server.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].target, "/");
    })
    .await;
}

#[tokio::test]
async fn redirects_are_followed_by_default() {
    within(async {
        let server = redirecting_server().await;
        let out = fetch(&[&server.url("/")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        // Only the final response's body is printed, not the redirect's.
        assert_eq!(out.stdout, b"arrived");
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets, ["/", "/next"]);
    })
    .await;
}

/// A keep-alive server: answers every request on a connection with its target as the body,
/// `404` for `/missing`, until the client closes.
async fn keep_alive_server() -> Scripted {
    Scripted::start(|mut peer| async move {
        while let Some(request) = peer.read_request().await {
            let (status, body) = match request.target.as_str() {
                "/missing" => ("404 Not Found", "no\n".to_owned()),
                target => ("200 OK", format!("{target}\n")),
            };
            peer.write(format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}", body.len())).await;
        }
    })
    .await
}

#[tokio::test]
async fn several_urls_share_one_connection_and_verbose_shows_it() {
    within(async {
        let server = keep_alive_server().await;
        let out = fetch(&["-v", &server.url("/one"), &server.url("/two"), &server.url("/three")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(stdout(&out), "/one\n/two\n/three\n");
        assert_eq!(server.connects(), 1);
        let target = format!("http://{}", server.addr);
        let events: Vec<String> = stderr(&out).lines().map(str::to_owned).collect();
        assert_eq!(
            events,
            [
                format!("* connect #1 {target} at {}", server.addr),
                format!("* idle #1 {target}"),
                format!("* reuse #1 {target}"),
                format!("* idle #1 {target}"),
                format!("* reuse #1 {target}"),
                format!("* idle #1 {target}"),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn each_output_goes_with_the_url_in_its_position() {
    within(async {
        let server = keep_alive_server().await;
        let file = TempFile(temp_path("first-of-two"));
        let path = file.0.to_str().unwrap().to_owned();
        let out = fetch(&["-o", &path, &server.url("/to-file"), &server.url("/to-stdout")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(std::fs::read(&file.0).unwrap(), b"/to-file\n");
        assert_eq!(stdout(&out), "/to-stdout\n");

        let out = fetch(&["-o", "a", "-o", "b", &server.url("/only-one")]).await;
        assert_eq!(code(&out), Some(2));
        assert!(stderr(&out).starts_with("2 -o options for 1 URLs\n"), "{}", stderr(&out));
    })
    .await;
}

#[tokio::test]
async fn parallel_keeps_several_in_flight_and_prints_each_body_whole() {
    within(async {
        let server = keep_alive_server().await;
        let urls: Vec<String> = (1..=6).map(|i| server.url(&format!("/{i}"))).collect();
        let mut args = vec!["--parallel", "3", "-i"];
        args.extend(urls.iter().map(String::as_str));
        let out = fetch(&args).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        // Each response is printed whole (head then body), in whatever order they finish.
        let mut printed: Vec<String> = stdout(&out)
            .split("HTTP/1.1 200 OK\r\ncontent-length: ")
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect();
        printed.sort();
        let expected: Vec<String> = (1..=6).map(|i| format!("3\r\n\r\n/{i}\n")).collect();
        assert_eq!(printed, expected);
        assert!(server.connects() <= 3, "{} connections for --parallel 3", server.connects());
        assert_eq!(server.requests().len(), 6);
    })
    .await;
}

#[tokio::test]
async fn the_first_failing_url_decides_the_exit_status() {
    within(async {
        let server = keep_alive_server().await;
        let refused = format!("http://127.0.0.1:{}/", closed_port().await);
        let out = fetch(&[&server.url("/fine"), &server.url("/missing"), &refused]).await;
        assert_eq!(code(&out), Some(1), "stderr: {}", stderr(&out));
        assert_eq!(stdout(&out), "/fine\nno\n");
        let out = fetch(&[&refused, &server.url("/missing")]).await;
        assert_eq!(code(&out), Some(95), "stderr: {}", stderr(&out));
    })
    .await;
}

#[tokio::test]
async fn parallel_must_be_a_positive_number() {
    within(async {
        for bad in ["0", "-2", "many"] {
            let out = fetch(&["--parallel", bad, "http://127.0.0.1:1/"]).await;
            assert_eq!(code(&out), Some(2), "--parallel {bad}");
            assert!(stderr(&out).starts_with(&format!("--parallel {bad:?}: expected a positive number")));
        }
    })
    .await;
}

#[cfg(all(feature = "tls", feature = "server"))]
#[tokio::test]
async fn https_with_insecure_and_cacert() {
    use courier::server::{Reply, Server};
    within(async {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let config = courier::tls::server_config(vec![cert.cert.der().clone()], key).unwrap();
        let server = Server::builder()
            .tls(config)
            .route("", |_req| async { Reply::text("secret\n") })
            .start()
            .await
            .unwrap();
        let url = format!("https://localhost:{}/", server.port());

        // Verified by default: a self-signed certificate is a TLS failure, exit 96 (596).
        let out = fetch(&[&url]).await;
        assert_eq!(code(&out), Some(96), "stderr: {}", stderr(&out));
        assert!(stderr(&out).starts_with("fetch: 596 TLS handshake with localhost:"), "{}", stderr(&out));

        let out = fetch(&["-k", &url]).await;
        assert_eq!((code(&out), stdout(&out).as_str()), (Some(0), "secret\n"), "stderr: {}", stderr(&out));

        let ca = TempFile(temp_path("ca.pem"));
        std::fs::write(&ca.0, cert.cert.pem()).unwrap();
        let out = fetch(&["--cacert", ca.0.to_str().unwrap(), &url]).await;
        assert_eq!((code(&out), stdout(&out).as_str()), (Some(0), "secret\n"), "stderr: {}", stderr(&out));

        let out = fetch(&["--cacert", "/nonexistent/ca.pem", &url]).await;
        assert_eq!(code(&out), Some(2));
        assert!(stderr(&out).starts_with("fetch: --cacert /nonexistent/ca.pem:"), "{}", stderr(&out));
    })
    .await;
}

#[tokio::test]
async fn proxy_option_sends_absolute_form_to_the_proxy_and_noproxy_bypasses_it() {
    within(async {
        let proxy = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nvia proxy").await;
        let proxy_url = format!("http://u:p@{}", proxy.addr);
        // The origin name is never resolved: the proxy gets the absolute-form request.
        let out = fetch(&["-x", &proxy_url, "http://origin.test:8080/x?y=1"]).await;
        assert_eq!((code(&out), stdout(&out).as_str()), (Some(0), "via proxy"), "stderr: {}", stderr(&out));
        let seen = proxy.requests();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].head.starts_with("GET http://origin.test:8080/x?y=1 HTTP/1.1\r\n"),
            "{}",
            seen[0].head
        );
        assert_eq!(seen[0].header("host"), Some("origin.test:8080"));
        assert_eq!(seen[0].header("proxy-authorization"), Some("Basic dTpw"));

        // --noproxy '*' goes direct: the proxy (now a closed port) is never contacted.
        let origin = Scripted::respond("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ndirect").await;
        let dead_proxy = format!("http://127.0.0.1:{}", closed_port().await);
        let out = fetch(&["-x", &dead_proxy, "--noproxy", "*", &origin.url("/")]).await;
        assert_eq!((code(&out), stdout(&out).as_str()), (Some(0), "direct"), "stderr: {}", stderr(&out));
        let out = fetch(&["-x", &dead_proxy, &origin.url("/")]).await;
        assert_eq!(code(&out), Some(95), "stderr: {}", stderr(&out));

        let out = fetch(&["-x", "ftp://127.0.0.1:21", &origin.url("/")]).await;
        assert_eq!(code(&out), Some(2));
        assert!(stderr(&out).starts_with("fetch: -x: invalid proxy URL"), "{}", stderr(&out));
    })
    .await;
}

#[cfg(feature = "cookies")]
#[tokio::test]
async fn cookie_jar_file_carries_cookies_between_urls_and_runs() {
    within(async {
        let server = Scripted::start(|mut peer| async move {
            while let Some(request) = peer.read_request().await {
                let cookie = request.header("cookie").unwrap_or("none").to_owned();
                let extra = if request.target == "/login" {
                    "Set-Cookie: sid=abc; Max-Age=3600\r\nSet-Cookie: tmp=1\r\n"
                } else {
                    ""
                };
                let body = format!("{} cookie={cookie}\n", request.target);
                peer.write(format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len()))
                    .await;
            }
        })
        .await;
        let jar = TempFile(temp_path("cookies.json"));
        let jar_path = jar.0.to_str().unwrap().to_owned();
        let out = fetch(&["-c", &jar_path, &server.url("/login"), &server.url("/me")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(stdout(&out), "/login cookie=none\n/me cookie=sid=abc; tmp=1\n");

        // Saved without the session cookie; a new run sends the persistent one.
        let saved = std::fs::read_to_string(&jar.0).unwrap();
        assert!(saved.contains("abc") && !saved.contains("tmp"), "{saved}");
        let out = fetch(&["-c", &jar_path, &server.url("/me")]).await;
        assert_eq!(
            (code(&out), stdout(&out).as_str()),
            (Some(0), "/me cookie=sid=abc\n"),
            "{}",
            stderr(&out)
        );

        std::fs::write(&jar.0, "not json").unwrap();
        let out = fetch(&["-c", &jar_path, &server.url("/me")]).await;
        assert_eq!(code(&out), Some(2));
        assert!(stderr(&out).starts_with(&format!("fetch: -c {jar_path}:")), "{}", stderr(&out));
    })
    .await;
}

#[tokio::test]
async fn continue_resumes_into_the_output_file() {
    within(async {
        let full: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let served = full.clone();
        let server = Scripted::start(move |mut peer| {
            let full = served.clone();
            async move {
                while let Some(request) = peer.read_request().await {
                    let from: usize = request
                        .header("range")
                        .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
                        .unwrap_or(0);
                    let (status, extra) = if from > 0 {
                        ("206 Partial Content", format!("Content-Range: bytes {from}-4999/5000\r\n"))
                    } else {
                        ("200 OK", String::new())
                    };
                    let body = &full[from..];
                    peer.write(format!("HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\n\r\n", body.len()))
                        .await;
                    peer.write(body).await;
                }
            }
        })
        .await;
        let file = TempFile(temp_path("resume.bin"));
        std::fs::write(&file.0, &full[..1234]).unwrap();
        let path = file.0.to_str().unwrap().to_owned();
        let out = fetch(&["-C", "-o", &path, &server.url("/file")]).await;
        assert_eq!(code(&out), Some(0), "stderr: {}", stderr(&out));
        assert!(std::fs::read(&file.0).unwrap() == full, "resumed file differs");
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].header("range"), Some("bytes=1234-"));

        let out = fetch(&["-C", &server.url("/file")]).await;
        assert_eq!(code(&out), Some(2));
        assert!(stderr(&out).starts_with("fetch: -C needs -o FILE"), "{}", stderr(&out));
    })
    .await;
}
