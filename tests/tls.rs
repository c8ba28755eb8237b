#![cfg(all(feature = "tls", feature = "server"))]
//! HTTPS end to end with certificates made at test time (rcgen): verification modes, bad
//! certificates, SNI, pool separation by TLS mode, redirects across schemes, PEM files and
//! the server's handshake timeout.

mod support;
use support::{assert_failure, eventually, within};

use courier::server::{Reply, Server, ServerError};
use courier::tls::{self, Tls};
use courier::{Client, ErrorKind, EventKind, Response};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------
// Certificates, made once per test binary with rcgen
// ---------------------------------------------------------------------------------------

/// A server certificate and its key.
struct Leaf {
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

impl Leaf {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(self.key_der.clone()).unwrap()
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        tls::server_config(vec![self.cert.clone()], self.key()).unwrap()
    }
}

/// A test CA and the leaves the tests serve.
struct Pki {
    ca: CertificateDer<'static>,
    ca_pem: String,
    /// For `localhost` and `127.0.0.1` (an IP SAN), signed by the CA.
    good: Leaf,
    /// For `other.test` only, signed by the CA.
    wrong_name: Leaf,
    /// For `localhost` and `127.0.0.1`, signed by the CA, valid only in 2000.
    expired: Leaf,
    /// For `localhost` and `127.0.0.1`, signed by its own key.
    self_signed: Leaf,
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params.distinguished_name.push(DnType::CommonName, "courier test CA");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let signed = |params: CertificateParams| {
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            Leaf {
                cert: cert.der().clone(),
                cert_pem: cert.pem(),
                key_der: key.serialize_der(),
                key_pem: key.serialize_pem(),
            }
        };
        let good = signed(leaf_params(&["localhost", "127.0.0.1"]));
        let wrong_name = signed(leaf_params(&["other.test"]));
        let mut expired_params = leaf_params(&["localhost", "127.0.0.1"]);
        expired_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired = signed(expired_params);
        let self_signed = {
            let key = KeyPair::generate().unwrap();
            let cert = leaf_params(&["localhost", "127.0.0.1"]).self_signed(&key).unwrap();
            Leaf {
                cert: cert.der().clone(),
                cert_pem: cert.pem(),
                key_der: key.serialize_der(),
                key_pem: key.serialize_pem(),
            }
        };
        Pki { ca: ca_cert.der().clone(), ca_pem: ca_cert.pem(), good, wrong_name, expired, self_signed }
    })
}

/// Trusts exactly the test CA (a new rustls config, so a new pool identity, per call).
fn trust_ca() -> Tls {
    Tls::with_roots([pki().ca.clone()]).unwrap()
}

// ---------------------------------------------------------------------------------------
// Servers and small helpers
// ---------------------------------------------------------------------------------------

const BODY: &str = "hello over tls";

/// The bundled server with this TLS config: `/hello` answers [`BODY`].
async fn https_server(config: Arc<rustls::ServerConfig>) -> Server {
    Server::builder().tls(config).route("/hello", |_req| async { Reply::text(BODY) }).start().await.unwrap()
}

fn localhost(server: &Server, path: &str) -> String {
    format!("https://localhost:{}{path}", server.port())
}

fn loopback(server: &Server, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", server.port())
}

/// Asserts a 200 with exactly [`BODY`].
#[track_caller]
fn assert_hello(res: &Response) {
    assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, BODY), "{}", res.reason());
}

/// Asserts a 596 of kind `Tls` and returns its reason.
#[track_caller]
fn assert_tls_failure(res: &Response) -> String {
    assert_failure(res, 596, ErrorKind::Tls)
}

/// Network errors a server's `on_error` saw, as `io::ErrorKind` and text.
type SeenErrors = Arc<Mutex<Vec<(std::io::ErrorKind, String)>>>;

fn network_errors() -> (SeenErrors, impl Fn(&mut ServerError) + Send + Sync + 'static) {
    let seen: SeenErrors = Arc::default();
    let sink = seen.clone();
    let hook = move |error: &mut ServerError| {
        if let ServerError::Network { error, .. } = error {
            sink.lock().unwrap().push((error.kind(), error.to_string()));
        }
    };
    (seen, hook)
}

/// A fresh directory under the system temp dir for one test's files.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("courier-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Verification modes against a good certificate
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn trusted_ca_verifies_the_host_name_and_the_ip_san() {
    within(async {
        let server = https_server(pki().good.server_config()).await;
        assert!(server.url("/hello").starts_with("https://127.0.0.1:"));

        let res = courier::get(localhost(&server, "/hello")).tls(trust_ca()).send().await;
        assert_hello(&res);
        assert_eq!(res.url(), localhost(&server, "/hello"));

        let res = courier::get(loopback(&server, "/hello")).tls(trust_ca()).send().await;
        assert_hello(&res);
        let res = courier::get(server.url("/hello")).tls(trust_ca()).send().await;
        assert_hello(&res);
    })
    .await;
}

#[tokio::test]
async fn default_high_mode_rejects_an_unknown_issuer() {
    within(async {
        let server = https_server(pki().good.server_config()).await;
        let res = courier::get(localhost(&server, "/hello")).send().await;
        let reason = assert_tls_failure(&res);
        assert_eq!(
            reason,
            format!(
                "TLS handshake with localhost:{}: invalid peer certificate: UnknownIssuer",
                server.port()
            )
        );
        // The same through a client built with the default mode, and for the IP literal.
        let res = Client::new().get(loopback(&server, "/hello")).send().await;
        let reason = assert_tls_failure(&res);
        assert!(reason.ends_with("invalid peer certificate: UnknownIssuer"), "{reason}");
    })
    .await;
}

#[tokio::test]
async fn low_mode_takes_any_certificate() {
    within(async {
        let pki = pki();
        for leaf in [&pki.good, &pki.wrong_name, &pki.expired, &pki.self_signed] {
            let server = https_server(leaf.server_config()).await;
            assert_hello(&courier::get(localhost(&server, "/hello")).tls(Tls::Low).send().await);
            assert_hello(&courier::get(loopback(&server, "/hello")).tls(Tls::Low).send().await);
        }
        // A client whose default is Low.
        let server = https_server(pki.self_signed.server_config()).await;
        let client = Client::builder().tls(Tls::Low).build().unwrap();
        assert_hello(&client.get(localhost(&server, "/hello")).send().await);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Bad certificates: 596 with a reason that says which
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_name_is_596_with_the_name_mismatch() {
    within(async {
        let server = https_server(pki().wrong_name.server_config()).await;
        let res = courier::get(localhost(&server, "/hello")).tls(trust_ca()).send().await;
        let reason = assert_tls_failure(&res);
        assert_eq!(
            reason,
            format!(
                "TLS handshake with localhost:{}: invalid peer certificate: certificate not valid for \
                 name \"localhost\"; certificate is only valid for DnsName(\"other.test\")",
                server.port()
            )
        );
        let res = courier::get(loopback(&server, "/hello")).tls(trust_ca()).send().await;
        let reason = assert_tls_failure(&res);
        assert!(reason.contains("certificate not valid for name \"127.0.0.1\""), "{reason}");
    })
    .await;
}

#[tokio::test]
async fn expired_certificate_is_596_expired() {
    within(async {
        let server = https_server(pki().expired.server_config()).await;
        let res = courier::get(localhost(&server, "/hello")).tls(trust_ca()).send().await;
        let reason = assert_tls_failure(&res);
        let prefix = format!(
            "TLS handshake with localhost:{}: invalid peer certificate: certificate expired: ",
            server.port()
        );
        assert!(reason.starts_with(&prefix), "{reason}");
        // 2001-01-01T00:00:00Z is the end of its validity.
        assert!(reason.contains("but certificate is not valid after 978307200 "), "{reason}");
    })
    .await;
}

#[tokio::test]
async fn self_signed_leaf_is_596_unless_trusted_itself() {
    within(async {
        let leaf = &pki().self_signed;
        let server = https_server(leaf.server_config()).await;
        let res = courier::get(localhost(&server, "/hello")).send().await;
        let reason = assert_tls_failure(&res);
        assert!(reason.ends_with("invalid peer certificate: UnknownIssuer"), "{reason}");
        // Trusting the test CA does not help either.
        let res = courier::get(localhost(&server, "/hello")).tls(trust_ca()).send().await;
        let reason = assert_tls_failure(&res);
        assert!(reason.ends_with("invalid peer certificate: UnknownIssuer"), "{reason}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Scheme mismatches
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tls_to_a_plain_http_server_is_596() {
    within(async {
        let server =
            Server::builder().route("/hello", |_req| async { Reply::text(BODY) }).start().await.unwrap();
        assert!(server.url("/").starts_with("http://"));
        for tls in [Tls::Low, trust_ca(), Tls::High] {
            let res = courier::get(loopback(&server, "/hello")).tls(tls).send().await;
            // The server's 400 reply is not a TLS record.
            assert_eq!(
                assert_tls_failure(&res),
                format!(
                    "TLS handshake with 127.0.0.1:{}: received corrupt message of type InvalidContentType",
                    server.port()
                )
            );
        }
        // The server itself is fine afterwards.
        assert_hello(&courier::get(server.url("/hello")).send().await);
    })
    .await;
}

#[tokio::test]
async fn plain_http_to_a_tls_server_is_a_596_response_head_error() {
    within(async {
        let (seen, hook) = network_errors();
        let server = Server::builder()
            .tls(pki().good.server_config())
            .on_error(hook)
            .route("/hello", |_req| async { Reply::text(BODY) })
            .start()
            .await
            .unwrap();
        let url = format!("http://127.0.0.1:{}/hello", server.port());
        let res = courier::get(&url).send().await;
        assert_eq!(res.status().as_u16(), 596, "{}", res.reason());
        assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseHead), "{}", res.reason());
        // What came back was rustls's fatal alert record, not an HTTP status line: the
        // reason says so.
        assert_eq!(
            res.reason(),
            "invalid response head: malformed message head: the server answered with TLS: is this an https URL?"
        );
        assert!(eventually(|| !seen.lock().unwrap().is_empty()).await, "on_error saw no network error");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let expected =
            (std::io::ErrorKind::InvalidData, "received corrupt message of type InvalidContentType");
        assert_eq!((seen[0].0, seen[0].1.as_str()), expected);
        assert!(server.requests().is_empty());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// SNI
// ---------------------------------------------------------------------------------------

/// Serves one certificate to everyone and records the SNI each ClientHello carried.
#[derive(Debug)]
struct RecordSni {
    key: Arc<CertifiedKey>,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl ResolvesServerCert for RecordSni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.seen.lock().unwrap().push(hello.server_name().map(str::to_owned));
        Some(self.key.clone())
    }
}

#[tokio::test]
async fn sni_is_the_host_name_and_absent_for_ip_literals() {
    within(async {
        let provider = courier::tls::provider();
        let leaf = &pki().good;
        let key = CertifiedKey::from_der(vec![leaf.cert.clone()], leaf.key(), &provider).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let resolver = RecordSni { key: Arc::new(key), seen: seen.clone() };
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        let server = https_server(Arc::new(config)).await;

        assert_hello(&courier::get(localhost(&server, "/hello")).tls(trust_ca()).send().await);
        assert_eq!(*seen.lock().unwrap(), [Some("localhost".to_owned())]);

        assert_hello(&courier::get(loopback(&server, "/hello")).tls(trust_ca()).send().await);
        assert_eq!(*seen.lock().unwrap(), [Some("localhost".to_owned()), None]);

        // Low mode sends SNI the same way.
        assert_hello(&courier::get(localhost(&server, "/hello")).tls(Tls::Low).send().await);
        assert_hello(&courier::get(loopback(&server, "/hello")).tls(Tls::Low).send().await);
        assert_eq!(
            *seen.lock().unwrap(),
            [Some("localhost".to_owned()), None, Some("localhost".to_owned()), None]
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Pool: connections are never shared across TLS modes
// ---------------------------------------------------------------------------------------

/// Connection events a client reported: kind and connection id.
type Events = Arc<Mutex<Vec<(EventKind, u64)>>>;

/// A client with its own pool that records its connection events.
fn observed_client() -> (Client, Events) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let client = Client::builder()
        .on_connection_event(move |event| sink.lock().unwrap().push((event.kind, event.id)))
        .build()
        .unwrap();
    (client, events)
}

fn count(events: &Mutex<Vec<(EventKind, u64)>>, kind: EventKind) -> usize {
    events.lock().unwrap().iter().filter(|(k, _)| *k == kind).count()
}

#[tokio::test]
async fn pool_never_reuses_a_connection_across_tls_modes() {
    within(async {
        let connects = Arc::new(AtomicUsize::new(0));
        let counter = connects.clone();
        let server = Server::builder()
            .tls(pki().good.server_config())
            .on_connect(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .route("/hello", |_req| async { Reply::text(BODY) })
            .start()
            .await
            .unwrap();
        let (client, events) = observed_client();
        let url = localhost(&server, "/hello");

        // Low, then a custom config to the same host: two connections.
        assert_hello(&client.get(&url).tls(Tls::Low).send().await);
        let custom = trust_ca();
        assert_hello(&client.get(&url).tls(custom.clone()).send().await);
        assert_eq!(count(&events, EventKind::Connect), 2);
        assert_eq!(count(&events, EventKind::Reuse), 0);
        assert_eq!(connects.load(Ordering::SeqCst), 2);

        // The same custom config again (a clone of the same Arc): reused.
        assert_hello(&client.get(&url).tls(custom.clone()).send().await);
        assert_hello(&client.get(&url).tls(custom).send().await);
        assert_eq!(count(&events, EventKind::Connect), 2);
        assert_eq!(count(&events, EventKind::Reuse), 2);
        assert_eq!(connects.load(Ordering::SeqCst), 2);

        // An equal but separately built config is another identity: a new connection.
        assert_hello(&client.get(&url).tls(trust_ca()).send().await);
        assert_eq!(count(&events, EventKind::Connect), 3);

        // Low again reuses the Low connection.
        assert_hello(&client.get(&url).tls(Tls::Low).send().await);
        assert_eq!(count(&events, EventKind::Connect), 3);
        assert_eq!(count(&events, EventKind::Reuse), 3);
        assert_eq!(connects.load(Ordering::SeqCst), 3);
        assert_eq!(server.requests().len(), 6);
    })
    .await;
}

#[tokio::test]
async fn a_failed_high_handshake_does_not_spoil_a_low_connection() {
    within(async {
        let server = https_server(pki().good.server_config()).await;
        let (client, events) = observed_client();
        let url = localhost(&server, "/hello");
        assert_hello(&client.get(&url).tls(Tls::Low).send().await);
        // The idle Low connection must not be handed to a High request (which would then
        // skip verification): High connects anew and fails verification.
        assert_tls_failure(&client.get(&url).send().await);
        assert_eq!(count(&events, EventKind::Reuse), 0);
        assert_hello(&client.get(&url).tls(Tls::Low).send().await);
        assert_eq!(count(&events, EventKind::Reuse), 1);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Redirects across schemes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn redirects_between_http_and_https() {
    within(async {
        let landing = |name: &'static str| {
            move |req: courier::server::Request| async move {
                Reply::text(format!("{name} referer={}", req.header("referer").unwrap_or_else(|| "-".into())))
            }
        };
        let secure = Server::builder()
            .tls(pki().good.server_config())
            .route("/landing", landing("secure"))
            .start()
            .await
            .unwrap();
        let plain = Server::builder().route("/landing", landing("plain")).start().await.unwrap();
        let to_secure = localhost(&secure, "/landing");
        plain.add_route("/to-https", move |_req| {
            let to = to_secure.clone();
            async move { Reply::redirect(302, &to) }
        });
        let to_plain = plain.url("/landing");
        secure.add_route("/to-http", move |_req| {
            let to = to_plain.clone();
            async move { Reply::redirect(302, &to) }
        });

        // http -> https: the request's Tls applies to the https hop; Referer is sent.
        let res = courier::get(plain.url("/to-https")).tls(trust_ca()).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.text(), format!("secure referer={}", plain.url("/to-https")));
        assert_eq!(res.url(), localhost(&secure, "/landing"));
        assert_eq!(res.redirects().len(), 1);
        assert_eq!(res.redirects()[0].status().as_u16(), 302);

        // Without it, the default High mode refuses the https hop.
        let res = courier::get(plain.url("/to-https")).send().await;
        let reason = assert_tls_failure(&res);
        assert!(reason.ends_with("invalid peer certificate: UnknownIssuer"), "{reason}");

        // https -> http: followed, but without a Referer.
        let res = courier::get(localhost(&secure, "/to-http")).tls(trust_ca()).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert_eq!(res.text(), "plain referer=-");
        assert_eq!(res.url(), plain.url("/landing"));
        assert_eq!(res.redirects().len(), 1);
        let recorded = plain.requests();
        assert_eq!(recorded.last().unwrap().header("referer"), None);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// PEM files
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn pem_files_for_roots_and_server_configs() {
    within(async {
        let pki = pki();
        let dir = TempDir::new("pem");
        let ca = dir.write("ca.pem", &pki.ca_pem);
        let cert = dir.write("cert.pem", &pki.good.cert_pem);
        let key = dir.write("key.pem", &pki.good.key_pem);
        let other_key = dir.write("other-key.pem", &pki.wrong_name.key_pem);
        let garbage = dir.write("garbage.pem", "this is not PEM at all\n");
        let missing = dir.0.join("missing.pem");

        // The server from PEM files, the client trusting the CA from a PEM file.
        let server = https_server(tls::server_config_from_pem(&cert, &key).unwrap()).await;
        let trust = Tls::with_roots_pem(&ca).unwrap();
        assert_hello(&courier::get(localhost(&server, "/hello")).tls(trust.clone()).send().await);
        assert_hello(&courier::get(loopback(&server, "/hello")).tls(trust).send().await);

        // A chain file with the leaf and the CA also works as roots (both are trusted).
        let both = dir.write("both.pem", &format!("{}{}", pki.good.cert_pem, pki.ca_pem));
        assert_eq!(tls::load_certs(&both).unwrap(), [pki.good.cert.clone(), pki.ca.clone()]);
        assert_eq!(tls::load_certs(&ca).unwrap(), std::slice::from_ref(&pki.ca));

        // Files without certificates.
        for path in [&key, &garbage] {
            let error = tls::load_certs(path).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
            assert_eq!(error.to_string(), format!("{}: no certificates", path.display()));
            assert!(Tls::with_roots_pem(path).is_err());
            assert!(tls::server_config_from_pem(path, &key).is_err());
        }
        let error = tls::load_certs(&missing).unwrap_err();
        assert!(error.to_string().starts_with(&format!("{}: ", missing.display())), "{error}");
        assert!(Tls::with_roots_pem(&missing).is_err());

        // Bad key files: none in the file, garbage, missing, or not the certificate's key.
        for path in [&cert, &garbage, &missing] {
            let error = tls::load_key(path).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
            assert!(error.to_string().starts_with(&format!("{}: ", path.display())), "{error}");
            assert!(tls::server_config_from_pem(&cert, path).is_err());
        }
        assert_eq!(tls::load_key(&key).unwrap(), pki.good.key());
        let error = tls::server_config_from_pem(&cert, &other_key).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// The server's handshake is bounded by the request timeout
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn silent_client_is_dropped_after_the_request_timeout() {
    within(async {
        let (seen, hook) = network_errors();
        let server = Server::builder()
            .tls(pki().good.server_config())
            .request_timeout(Duration::from_millis(300))
            .on_error(hook)
            .route("/hello", |_req| async { Reply::text(BODY) })
            .start()
            .await
            .unwrap();

        // Connects and sends nothing: the server closes without a byte.
        let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(raw.read(&mut buf).await.unwrap(), 0, "expected EOF");

        // Sends the first bytes of a TLS record, then stalls: closed the same way.
        let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
        raw.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let read = raw.read(&mut buf).await;
        assert!(matches!(read, Ok(0)), "expected EOF, got {read:?}");

        assert!(eventually(|| seen.lock().unwrap().len() == 2).await);
        let seen = seen.lock().unwrap().clone();
        let expected = (std::io::ErrorKind::TimedOut, "TLS handshake timed out".to_owned());
        assert_eq!(seen, [expected.clone(), expected]);

        // A real client within the limit is still served.
        assert_hello(&courier::get(localhost(&server, "/hello")).tls(trust_ca()).send().await);
    })
    .await;
}
