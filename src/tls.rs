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
/// // Or take the page no matter what (the seed's "low"): no certificate checks at all.
/// let res = courier::get("https://127.0.0.1:8443/").tls(Tls::Low).send().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Tls {
    /// Verify the chain against the Mozilla root store (webpki-roots) and the host name.
    #[default]
    High,
    /// No verification at all (the seed's `low`): encryption without authentication.
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
        Ok(match self {
            Self::High => match HIGH.get() {
                Some(config) => config.clone(),
                None => {
                    let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
                    HIGH.get_or_init(|| {
                        Arc::new(client_config(roots).unwrap_or_else(|_| unverified_config()))
                    })
                    .clone()
                }
            },
            Self::Low => LOW.get_or_init(|| Arc::new(unverified_config())).clone(),
            Self::Custom(config) => config.clone(),
        })
    }

    /// Identifies the mode for the connection pool: a connection made under one mode is
    /// never reused under another (custom configs by identity).
    pub(crate) fn pool_tag(&self) -> crate::client::TlsTag {
        match self {
            Self::High => crate::client::TlsTag::High,
            Self::Low => crate::client::TlsTag::Low,
            Self::Custom(config) => crate::client::TlsTag::Custom(Arc::as_ptr(config) as usize),
        }
    }
}

/// The provider both sides use: ring (no cmake, no aws-lc build).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
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

fn unverified_config() -> ClientConfig {
    let mut config = client_config(RootCertStore::empty()).unwrap_or_else(|_| {
        ClientConfig::builder().with_root_certificates(RootCertStore::empty()).with_no_client_auth()
    });
    config.dangerous().set_certificate_verifier(Arc::new(NoVerification(provider())));
    config
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
