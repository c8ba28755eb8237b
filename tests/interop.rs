//! Interop with real third-party servers on loopback (nginx, Python's http.server).
//!
//! Ignored by plain `cargo test`: `scripts/interop.sh` (run by `.ci/run`) starts the servers,
//! sets `COURIER_INTEROP_*` to their base URLs and runs these with `--ignored`.

mod support;
use support::within;

fn base(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run scripts/interop.sh"))
}

fn nginx(path: &str) -> String {
    format!("{}{path}", base("COURIER_INTEROP_NGINX"))
}

fn python(path: &str) -> String {
    format!("{}{path}", base("COURIER_INTEROP_PYTHON"))
}

/// nginx's plain-HTTP URL with `localhost` for the host.
fn nginx_by_name(path: &str) -> String {
    let url = nginx(path).replace("//127.0.0.1:", "//localhost:");
    assert!(url.starts_with("http://localhost:"), "{url}");
    url
}

/// nginx's TLS URL (`https://localhost:PORT`).
#[cfg(feature = "tls")]
fn nginx_tls(path: &str) -> String {
    format!("{}{path}", base("COURIER_INTEROP_NGINX_TLS"))
}

/// Trusts the CA the script made with openssl (not in webpki's roots).
#[cfg(feature = "tls")]
fn trust_ca() -> courier::tls::Tls {
    courier::tls::Tls::with_roots_pem(base("COURIER_INTEROP_CA")).expect("the script's CA PEM file")
}

/// nginx's `/hello.txt`, answered.
#[track_caller]
fn assert_hello(res: &courier::Response) {
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
}

/// The 1 MiB pattern file the script writes: byte i is i % 251.
fn big_pattern() -> Vec<u8> {
    (0..1usize << 20).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_serves_a_small_file() {
    let res = within(courier::get(nginx("/hello.txt")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.version(), Some(courier::Version::HTTP_11));
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    assert_eq!(res.header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(res.header("content-length").as_deref(), Some("17"));
    assert!(res.header("server").is_some_and(|s| s.starts_with("nginx")));
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_big_file_collected_and_streamed_in_small_reads() {
    let res = within(courier::get(nginx("/big.bin")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().as_ref() == big_pattern().as_slice(), "collected body differs");

    let mut streamed = Vec::new();
    let mut pieces = 0;
    let res = within(
        courier::get(nginx("/big.bin"))
            .read_buffer_size(1000)
            .on_body(|chunk, _| {
                pieces += 1;
                streamed.extend_from_slice(chunk);
                true
            })
            .send(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert!(res.body().is_empty());
    assert!(streamed == big_pattern(), "streamed body differs");
    assert!(pieces >= (1 << 20) / 1000, "reads were capped at 1000 bytes: {pieces} pieces");
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_head_has_length_but_no_body() {
    let res = within(courier::head(nginx("/big.bin")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.header("content-length").as_deref(), Some("1048576"));
    assert!(res.body().is_empty());
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_errors_are_real_statuses() {
    let res = within(courier::get(nginx("/missing")).send()).await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(!res.is_error());
    let res = within(courier::post(nginx("/hello.txt")).body("x=1").send()).await;
    assert_eq!(res.status().as_u16(), 405);
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_redirect_chains_are_followed() {
    let res = within(courier::get(nginx("/redirect-chain")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    assert_eq!(res.url(), nginx("/hello.txt"));
    let hops: Vec<u16> = res.redirects().iter().map(|hop| hop.status().as_u16()).collect();
    assert_eq!(hops, [301, 302], "newest first");
    assert_eq!(res.redirects()[1].url(), nginx("/redirect-chain"));

    // nginx's own directory redirect carries an absolute Location.
    let res = within(courier::get(nginx("/dir")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.url(), nginx("/dir/"));
    assert_eq!(res.body().as_ref(), b"<p>index</p>\n");

    // 303 turns the POST into a GET that nginx serves.
    let res = within(courier::post(nginx("/see-other")).body("payload").send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
}

#[tokio::test]
#[ignore = "needs nginx: run scripts/interop.sh"]
async fn nginx_answers_expect_continue() {
    let res = within(
        courier::request("PUT", nginx("/hello.txt"))
            .header("expect", "100-continue")
            .body(vec![b'x'; 10_000])
            .send(),
    )
    .await;
    // Static files refuse PUT; what matters is a clean final status, not a hang or a 59x.
    assert_eq!(res.status().as_u16(), 405, "{}", res.reason());
}

#[tokio::test]
#[ignore = "needs python3: run scripts/interop.sh"]
async fn python_http_server_speaks_http10() {
    let res = within(courier::get(python("/hello.txt")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.version(), Some(courier::Version::HTTP_10));
    assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    let res = within(courier::get(python("/big.bin")).read_buffer_size(4096).send()).await;
    assert!(res.body().as_ref() == big_pattern().as_slice());
    let res = within(courier::get(python("/dir")).send()).await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.redirects()[0].status().as_u16(), 301);
    assert_eq!(res.body().as_ref(), b"<p>index</p>\n");
}

/// nginx serving TLS on loopback with a leaf for `localhost` and `127.0.0.1` signed by a CA
/// the script made with openssl (`COURIER_INTEROP_CA`, not in webpki's roots).
#[cfg(feature = "tls")]
mod nginx_tls {
    use super::{big_pattern, nginx_tls, trust_ca, within};
    use courier::tls::Tls;
    use courier::{Client, ErrorKind, EventKind};
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    #[ignore = "needs nginx with TLS: run scripts/interop.sh"]
    async fn nginx_tls_serves_a_small_file() {
        let res = within(courier::get(nginx_tls("/hello.txt")).tls(trust_ca()).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.version(), Some(courier::Version::HTTP_11));
        assert_eq!(res.body().as_ref(), b"hello from nginx\n");
        assert_eq!(res.header("content-length").as_deref(), Some("17"));
        assert_eq!(res.url(), nginx_tls("/hello.txt"));

        // The leaf's IP SAN: the same over https://127.0.0.1 (no SNI).
        let by_ip = nginx_tls("/hello.txt").replace("//localhost:", "//127.0.0.1:");
        let res = within(courier::get(&by_ip).tls(trust_ca()).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    }

    #[tokio::test]
    #[ignore = "needs nginx with TLS: run scripts/interop.sh"]
    async fn nginx_tls_big_file_is_intact() {
        let res = within(courier::get(nginx_tls("/big.bin")).tls(trust_ca()).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.header("content-length").as_deref(), Some("1048576"));
        assert!(res.body().as_ref() == big_pattern().as_slice(), "collected body differs");

        let mut streamed = Vec::new();
        let res = within(
            courier::get(nginx_tls("/big.bin"))
                .tls(trust_ca())
                .read_buffer_size(1000)
                .on_body(|chunk, _| {
                    streamed.extend_from_slice(chunk);
                    true
                })
                .send(),
        )
        .await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(streamed == big_pattern(), "streamed body differs");
    }

    #[tokio::test]
    #[ignore = "needs nginx with TLS: run scripts/interop.sh"]
    async fn nginx_tls_default_high_mode_is_596_unknown_issuer() {
        let url = nginx_tls("/hello.txt");
        let res = within(courier::get(&url).send()).await;
        assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::Tls));
        let target = url.trim_start_matches("https://").trim_end_matches("/hello.txt");
        assert_eq!(
            res.reason(),
            format!("TLS handshake with {target}: invalid peer certificate: UnknownIssuer")
        );
        assert!(res.body().is_empty());
    }

    #[tokio::test]
    #[ignore = "needs nginx with TLS: run scripts/interop.sh"]
    async fn nginx_tls_low_mode_takes_the_page() {
        let res = within(courier::get(nginx_tls("/hello.txt")).tls(Tls::Low).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.body().as_ref(), b"hello from nginx\n");
    }

    #[tokio::test]
    #[ignore = "needs nginx with TLS: run scripts/interop.sh"]
    async fn nginx_tls_redirect_stays_https() {
        let res = within(courier::get(nginx_tls("/redirect")).tls(trust_ca()).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.body().as_ref(), b"hello from nginx\n");
        assert_eq!(res.url(), nginx_tls("/hello.txt"));
        assert_eq!(res.redirects().len(), 1);
        assert_eq!(res.redirects()[0].status().as_u16(), 301);
    }

    #[tokio::test]
    #[ignore = "needs nginx with TLS: run scripts/interop.sh"]
    async fn nginx_tls_keep_alive_reuses_one_connection() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let client = Client::builder()
            .on_connection_event(move |event| sink.lock().unwrap().push(event.kind))
            .build()
            .unwrap();
        let tls = trust_ca();
        for _ in 0..3 {
            let res = within(client.get(nginx_tls("/hello.txt")).tls(tls.clone()).send()).await;
            assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
            assert_eq!(res.body().as_ref(), b"hello from nginx\n");
        }
        let events = events.lock().unwrap().clone();
        let count = |kind: EventKind| events.iter().filter(|k| **k == kind).count();
        assert_eq!((count(EventKind::Connect), count(EventKind::Reuse)), (1, 2), "{events:?}");
    }
}

/// Real proxies on loopback: tinyproxy (an HTTP proxy: absolute-form for http URLs, CONNECT
/// for https) and dante (a SOCKS 4 and 5 server, no authentication), both in front of the
/// script's nginx. The proxies are explicit (`.proxy(Proxy::new(..))`): proxies from the
/// environment never take loopback targets, explicit ones do.
mod proxies {
    #[cfg(feature = "socks")]
    use super::nginx_by_name;
    use super::{assert_hello, base, nginx, within};
    use courier::Proxy;

    /// `COURIER_INTEROP_TINYPROXY`: `http://127.0.0.1:PORT`.
    fn tinyproxy() -> Proxy {
        Proxy::new(&base("COURIER_INTEROP_TINYPROXY")).expect("tinyproxy's URL")
    }

    /// `COURIER_INTEROP_DANTE` (`socks5://127.0.0.1:PORT`) with another SOCKS scheme.
    #[cfg(feature = "socks")]
    fn dante(scheme: &str) -> Proxy {
        let url = base("COURIER_INTEROP_DANTE");
        let address = url.split_once("://").map_or(url.as_str(), |(_, address)| address);
        Proxy::new(&format!("{scheme}://{address}")).expect("dante's URL")
    }

    #[cfg(any(feature = "tls", feature = "socks"))]
    #[track_caller]
    fn assert_595(res: &courier::Response) -> String {
        assert_eq!(res.status().as_u16(), 595, "{}", res.reason());
        assert_eq!(res.error().map(|e| e.kind()), Some(courier::ErrorKind::Connect), "{}", res.reason());
        res.reason().to_owned()
    }

    #[tokio::test]
    #[ignore = "needs tinyproxy and nginx: run scripts/interop.sh"]
    async fn tinyproxy_forwards_http_in_absolute_form() {
        let res = within(courier::get(nginx("/hello.txt")).proxy(tinyproxy()).send()).await;
        assert_hello(&res);
        assert_eq!(res.header("content-length").as_deref(), Some("17"));
        // tinyproxy says it was there; nginx's own headers come through.
        assert!(res.header("via").is_some_and(|via| via.contains("tinyproxy")), "{:?}", res.headers());
        assert!(res.header("server").is_some_and(|s| s.starts_with("nginx")));

        // A big body, and nginx's 404 relayed as a real status.
        let res = within(courier::get(nginx("/big.bin")).proxy(tinyproxy()).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(res.body().as_ref() == super::big_pattern().as_slice(), "body differs");
        let res = within(courier::get(nginx("/missing")).proxy(tinyproxy()).send()).await;
        assert_eq!(res.status().as_u16(), 404, "{}", res.reason());
        // Redirects are followed through the proxy.
        let res = within(courier::get(nginx("/redirect-chain")).proxy(tinyproxy()).send()).await;
        assert_hello(&res);
        assert_eq!(res.redirects().len(), 2);
    }

    #[cfg(feature = "tls")]
    mod tls {
        use super::{assert_595, assert_hello, tinyproxy, within};
        use crate::{base, nginx_tls, trust_ca};
        use courier::tls::Tls;

        #[tokio::test]
        #[ignore = "needs tinyproxy and nginx with TLS: run scripts/interop.sh"]
        async fn tinyproxy_tunnels_https_with_connect() {
            let res =
                within(courier::get(nginx_tls("/hello.txt")).tls(trust_ca()).proxy(tinyproxy()).send()).await;
            assert_hello(&res);
            // No Via: tinyproxy cannot touch what goes through the tunnel.
            assert_eq!(res.header("via"), None);
            let by_ip = nginx_tls("/hello.txt").replace("//localhost:", "//127.0.0.1:");
            let res = within(courier::get(by_ip).tls(trust_ca()).proxy(tinyproxy()).send()).await;
            assert_hello(&res);
            // The certificate is checked against the origin through the tunnel too.
            let res = within(courier::get(nginx_tls("/hello.txt")).proxy(tinyproxy()).send()).await;
            assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
            assert!(res.reason().contains("UnknownIssuer"), "{}", res.reason());
        }

        #[tokio::test]
        #[ignore = "needs tinyproxy and nginx: run scripts/interop.sh"]
        async fn tinyproxy_refuses_connect_to_other_ports_with_403() {
            // The script allows CONNECT to nginx's TLS port only: its plain port is refused.
            let plain = base("COURIER_INTEROP_NGINX").replace("http://", "https://");
            let res =
                within(courier::get(format!("{plain}/hello.txt")).tls(Tls::Low).proxy(tinyproxy()).send())
                    .await;
            let reason = assert_595(&res);
            assert!(reason.contains("CONNECT refused: 403"), "{reason}");
        }

        #[cfg(feature = "socks")]
        #[tokio::test]
        #[ignore = "needs dante and nginx with TLS: run scripts/interop.sh"]
        async fn dante_carries_https() {
            for scheme in ["socks5h", "socks5", "socks4"] {
                let res = within(
                    courier::get(nginx_tls("/hello.txt")).tls(trust_ca()).proxy(super::dante(scheme)).send(),
                )
                .await;
                assert_hello(&res);
            }
        }
    }

    #[cfg(feature = "socks")]
    #[tokio::test]
    #[ignore = "needs dante and nginx: run scripts/interop.sh"]
    async fn dante_socks5_socks5h_and_socks4() {
        for scheme in ["socks5", "socks5h", "socks4"] {
            for url in [nginx("/hello.txt"), nginx_by_name("/hello.txt")] {
                let res = within(courier::get(&url).proxy(dante(scheme)).send()).await;
                assert_hello(&res);
                assert_eq!(res.header("via"), None, "{scheme} {url}");
            }
        }
        let res = within(courier::get(nginx("/big.bin")).proxy(dante("socks5h")).send()).await;
        assert!(res.body().as_ref() == super::big_pattern().as_slice(), "body differs");
    }

    #[cfg(feature = "socks")]
    #[tokio::test]
    #[ignore = "needs dante and nginx: run scripts/interop.sh"]
    async fn dante_refusals_are_595() {
        // dante has no SOCKS4a: it reads 0.0.0.1 as the destination and refuses (91).
        let res = within(courier::get(nginx_by_name("/hello.txt")).proxy(dante("socks4a")).send()).await;
        assert_595(&res);
        // Its rules allow 127.0.0.1 only as a destination.
        let elsewhere = nginx("/hello.txt").replace("//127.0.0.1:", "//127.0.0.2:");
        for scheme in ["socks5", "socks5h", "socks4"] {
            let res = within(courier::get(&elsewhere).proxy(dante(scheme)).send()).await;
            let reason = assert_595(&res);
            assert!(reason.starts_with("SOCKS proxy "), "{scheme}: {reason}");
        }
    }
}

/// SOCKS4a from a real implementation (dante has none): OpenSSH's dynamic forwarding,
/// `ssh -N -D`, logged in to a private sshd on loopback. `COURIER_INTEROP_SSH_SOCKS` is its
/// `127.0.0.1:PORT`. With 4a and 5h the URL's host name goes to ssh unresolved and ssh's side
/// (sshd) resolves it; the URLs here say `localhost`, never an address.
mod socks4a_ssh {
    #[cfg(feature = "socks")]
    use super::assert_hello;
    use super::{base, nginx_by_name, within};

    /// `ssh -D`'s SOCKS port under `scheme`.
    #[cfg(feature = "socks")]
    fn ssh_socks(scheme: &str) -> courier::Proxy {
        courier::Proxy::new(&format!("{scheme}://{}", base("COURIER_INTEROP_SSH_SOCKS")))
            .expect("ssh -D's address")
    }

    #[cfg(feature = "socks")]
    #[tokio::test]
    #[ignore = "needs sshd, ssh -D and nginx: run scripts/interop.sh"]
    async fn ssh_socks4a_resolves_the_name_on_its_side() {
        let url = nginx_by_name("/hello.txt");
        let res = within(courier::get(&url).proxy(ssh_socks("socks4a")).send()).await;
        assert_hello(&res);
        assert_eq!(res.header("content-length").as_deref(), Some("17"));
        assert!(res.header("server").is_some_and(|s| s.starts_with("nginx")), "{:?}", res.headers());
        assert_eq!(res.header("via"), None);
        assert_eq!(res.url(), url);
        // Redirects by name stay on the proxy and come out right.
        let res =
            within(courier::get(nginx_by_name("/redirect-chain")).proxy(ssh_socks("socks4a")).send()).await;
        assert_hello(&res);
        assert_eq!(res.redirects().len(), 2);
    }

    #[cfg(feature = "socks")]
    #[tokio::test]
    #[ignore = "needs sshd, ssh -D and nginx: run scripts/interop.sh"]
    async fn ssh_socks5h_carries_the_name_too() {
        let res = within(courier::get(nginx_by_name("/hello.txt")).proxy(ssh_socks("socks5h")).send()).await;
        assert_hello(&res);
        let res = within(courier::get(nginx_by_name("/big.bin")).proxy(ssh_socks("socks5h")).send()).await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(res.body().as_ref() == super::big_pattern().as_slice(), "body differs");
    }

    #[cfg(all(feature = "socks", feature = "tls"))]
    #[tokio::test]
    #[ignore = "needs sshd, ssh -D and nginx with TLS: run scripts/interop.sh"]
    async fn ssh_socks4a_carries_https_by_name() {
        use crate::{nginx_tls, trust_ca};
        let url = nginx_tls("/hello.txt");
        assert!(url.starts_with("https://localhost:"), "{url}");
        let res = within(courier::get(&url).tls(trust_ca()).proxy(ssh_socks("socks4a")).send()).await;
        assert_hello(&res);
        assert_eq!(res.url(), url);
        // The certificate is still checked against the origin's name through the proxy.
        let res = within(courier::get(&url).proxy(ssh_socks("socks4a")).send()).await;
        assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
        assert!(res.reason().contains("UnknownIssuer"), "{}", res.reason());
    }

    #[tokio::test]
    #[ignore = "needs sshd, ssh -D and nginx: run scripts/interop.sh"]
    async fn the_socks4a_example_goes_through_ssh() {
        let args = [base("COURIER_INTEROP_SSH_SOCKS"), nginx_by_name("/hello.txt")];
        let binary = super::support::example_binary("socks4a");
        let out = within(tokio::task::spawn_blocking(move || {
            std::process::Command::new(binary).args(args).output().expect("the example runs")
        }))
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{:?}: {stderr}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200 OK\nhello from nginx\n", "stderr: {stderr}");
    }
}

/// Resumable downloads (`courier::Download`) against nginx serving the 1 MiB pattern file:
/// a partial copy whose mtime is nginx's Last-Modified resumes with one 206; a complete copy
/// is a 416; a copy older than nginx's file is a 412 and starts over.
///
/// Each test has its own `Client`: the default client's pool is shared by every test's
/// runtime, and a connection opened on a runtime that shuts down mid-transfer fails (597).
mod download_resume {
    use super::{big_pattern, nginx, within};
    use courier::{Client, Download, Progress};
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    const TOTAL: u64 = 1 << 20;

    /// A unique temp file, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        /// Holds `bytes` with the modification time `modified`.
        fn with(name: &str, bytes: &[u8], modified: SystemTime) -> Self {
            let path = std::env::temp_dir().join(format!("courier-interop-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).unwrap();
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(modified).unwrap();
            Self(path)
        }

        fn path(&self) -> &Path {
            &self.0
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

    /// nginx's Last-Modified for big.bin, from a HEAD.
    async fn last_modified(client: &Client) -> SystemTime {
        let res = client.head(nginx("/big.bin")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        let date = res.header("last-modified").expect("nginx sends Last-Modified");
        courier::parse_date(&date).expect("an HTTP date")
    }

    fn recorder() -> (Arc<Mutex<Vec<Progress>>>, impl FnMut(Progress) + Send + 'static) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        (seen, move |progress| recorded.lock().unwrap().push(progress))
    }

    /// Downloads nginx's big.bin to `file` with `client`, retrying at once.
    fn big_download(client: &Client, file: &TempFile) -> Download {
        Download::new(nginx("/big.bin"), file.path()).client(client).retry_pause(Duration::ZERO)
    }

    #[track_caller]
    fn assert_big_pattern(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes == big_pattern(), "the file differs: {} bytes", bytes.len());
    }

    #[tokio::test]
    #[ignore = "needs nginx: run scripts/interop.sh"]
    async fn nginx_resumes_a_partial_file_with_one_206() {
        within(async {
            let client = Client::new();
            let modified = last_modified(&client).await;
            let file = TempFile::with("resume.bin", &big_pattern()[..300_000], modified);
            let (seen, callback) = recorder();
            let done = big_download(&client, &file)
                .on_progress(callback)
                .run()
                .await
                .expect("the download completes");
            assert_eq!((done.bytes, done.attempts, done.already_complete), (TOTAL, 1, false));
            assert_big_pattern(file.path());
            assert_eq!(file.modified(), modified);
            // Only the rest came over the wire: a 206 from 300,000 (a 200 would count from 0,
            // a read buffer at a time).
            let seen = seen.lock().unwrap().clone();
            assert!(seen[0].received > 300_000, "first report {:?}", seen[0]);
            assert!(seen.windows(2).all(|w| w[0].received < w[1].received));
            assert_eq!(seen.last().map(|p| (p.received, p.receive_total)), Some((TOTAL, Some(TOTAL))));
        })
        .await
    }

    #[tokio::test]
    #[ignore = "needs nginx: run scripts/interop.sh"]
    async fn nginx_416_means_the_file_is_already_complete() {
        within(async {
            let client = Client::new();
            let modified = last_modified(&client).await;
            let file = TempFile::with("complete.bin", &big_pattern(), modified);
            let done = big_download(&client, &file).run().await.expect("nothing to download");
            assert_eq!((done.bytes, done.attempts, done.already_complete), (TOTAL, 1, true));
            assert_big_pattern(file.path());
            assert_eq!(file.modified(), modified);
        })
        .await
    }

    #[tokio::test]
    #[ignore = "needs nginx: run scripts/interop.sh"]
    async fn nginx_412_for_an_older_partial_file_starts_over() {
        within(async {
            let client = Client::new();
            let modified = last_modified(&client).await;
            let older = modified - Duration::from_secs(3600);
            // Bytes that are not the pattern: they must all be replaced.
            let file = TempFile::with("older.bin", &vec![0xEE; 300_000], older);
            let (seen, callback) = recorder();
            let done = big_download(&client, &file)
                .on_progress(callback)
                .run()
                .await
                .expect("the download completes");
            assert_eq!((done.bytes, done.attempts, done.already_complete), (TOTAL, 2, false));
            assert_big_pattern(file.path());
            assert_eq!(file.modified(), modified);
            let seen = seen.lock().unwrap().clone();
            assert!(seen[0].received <= courier::DEFAULT_READ_BUFFER_SIZE as u64, "{:?}", seen[0]);
        })
        .await
    }
}
