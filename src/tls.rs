//! TLS settings shared by the client and the server: the client's verification modes,
//! server configs from PEM files, and the one crypto provider both use.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// How the client checks the server's certificate for https URLs.
///
/// `High` is the default: a deliberate departure from AnyEvent::HTTP, whose default is the
/// unverified `low`.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use courier::tls::Tls;
/// // Trust only a test CA (e.g. for a loopback server with a generated certificate).
/// let tls = Tls::with_roots_pem("tests/ca.pem")?;
/// let res = courier::get("https://localhost:8443/").tls(tls).send().await;
/// // Or take the page no matter what (AnyEvent::HTTP's "low"): no certificate checks at all.
/// let res = courier::get("https://127.0.0.1:8443/").tls(Tls::Low).send().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Tls {
    /// Verify the chain against the Mozilla root store (webpki-roots) and the host name.
    #[default]
    High,
    /// No verification at all (AnyEvent::HTTP's `low`): encryption without authentication.
    Low,
    /// A caller-built rustls config: extra or private roots, client certificates, ...
    Custom(Arc<ClientConfig>),
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::High => f.write_str("Tls::High"),
            Self::Low => f.write_str("Tls::Low"),
            Self::Custom(config) => write!(f, "Tls::Custom({:p})", Arc::as_ptr(config)),
        }
    }
}

impl Tls {
    /// Verifies against exactly these root certificates (and the host name).
    pub fn with_roots(roots: impl IntoIterator<Item = CertificateDer<'static>>) -> io::Result<Self> {
        let mut store = RootCertStore::empty();
        for root in roots {
            store.add(root).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(Self::Custom(Arc::new(client_config(store)?)))
    }

    /// Verifies against the certificates in a PEM file (curl's `--cacert`).
    pub fn with_roots_pem(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::with_roots(load_certs(path)?)
    }

    /// The rustls config this mode connects with.
    pub(crate) fn client_config(&self) -> io::Result<Arc<ClientConfig>> {
        static HIGH: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        static LOW: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        // A config that cannot be built (a process-wide provider without TLS 1.2/1.3) is an
        // error for the request (596), never a silent fall back to less checking.
        fn cached(
            cell: &OnceLock<Arc<ClientConfig>>,
            build: fn() -> io::Result<ClientConfig>,
        ) -> io::Result<Arc<ClientConfig>> {
            if let Some(config) = cell.get() {
                return Ok(config.clone());
            }
            let config = Arc::new(build()?);
            Ok(cell.get_or_init(|| config).clone())
        }
        match self {
            Self::High => cached(&HIGH, || {
                client_config(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
            }),
            Self::Low => cached(&LOW, unverified_config),
            Self::Custom(config) => Ok(config.clone()),
        }
    }
}

/// The rustls crypto provider courier builds every config with, client and server: the
/// application's process-wide default if it installed one before courier's first TLS
/// use (`CryptoProvider::install_default`, e.g. aws-lc-rs for post-quantum key
/// exchange), else ring (no cmake, no aws-lc build). Build [`Tls::Custom`] configs with
/// it too, so they agree with courier's own.
///
/// ```
/// let config = rustls::ClientConfig::builder_with_provider(courier::tls::provider())
///     .with_safe_default_protocol_versions()
///     .unwrap()
///     .with_root_certificates(rustls::RootCertStore::empty())
///     .with_no_client_auth();
/// let tls = courier::tls::Tls::Custom(std::sync::Arc::new(config));
/// # drop(tls);
/// ```
///
/// The ring provider comes from `rustls::crypto::ring::default_provider`, which rustls
/// 0.23.48 deprecates because ring has no post-quantum key exchange. It is the only
/// constructor of that provider, and ring is the choice that keeps the build free of a
/// C toolchain beyond `cc`, so the one call says so instead of copying rustls' internals;
/// applications that want post-quantum groups install their provider, and courier uses it.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| match CryptoProvider::get_default() {
            Some(installed) => installed.clone(),
            #[allow(deprecated)] // see above: ring's provider, deliberately
            None => Arc::new(rustls::crypto::ring::default_provider()),
        })
        .clone()
}

/// We speak HTTP/1.1 only; saying so stops servers from choosing h2.
const ALPN_HTTP11: &[u8] = b"http/1.1";

fn client_config(roots: RootCertStore) -> io::Result<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(config)
}

fn unverified_config() -> io::Result<ClientConfig> {
    let mut config = client_config(RootCertStore::empty())?;
    config.dangerous().set_certificate_verifier(Arc::new(NoVerification(provider())));
    Ok(config)
}

/// `Tls::Low`: accepts any certificate for any name. The handshake signatures are still
/// checked, so the peer must hold the key of the certificate it shows.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Every certificate in a PEM file, in order.
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no certificates", path.display()),
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// A server config for a certificate chain and its key, speaking HTTP/1.1.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use courier::server::{Reply, Server};
/// let tls = courier::tls::server_config_from_pem("cert.pem", "key.pem")?;
/// let server = Server::builder().tls(tls).route("", |_req| async { Reply::text("secure") }).start().await?;
/// println!("{}", server.url("/")); // https://127.0.0.1:PORT/
/// # Ok(()) }
/// ```
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// [`server_config`] from PEM files (the serve example's `--tls-cert` / `--tls-key`).
pub fn server_config_from_pem(
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> io::Result<Arc<ServerConfig>> {
    server_config(load_certs(cert)?, load_key(key)?)
}
