//! Opening connections: resolve, try each address in turn, `on_prepare`, or the caller's connector.

use super::dns::Dns;
use super::proxy::{self, ProxyScheme, ProxyServer};
use super::target::Target;
use crate::error::{Error, ErrorKind};
use crate::io::{with_timeout, Transport};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpSocket;

/// The future a [`Connector`] returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<Box<dyn Transport>>> + Send>>;

/// Full control over connection setup: AnyEvent::HTTP's `tcp_connect` hook.
///
/// The stream it returns is treated exactly like one courier opened itself. Any
/// `Fn(Target) -> impl Future<Output = io::Result<S>>` closure is a connector:
///
/// ```no_run
/// # async fn demo() {
/// use courier::Target;
/// let response = courier::get("http://example.test/")
///     .connector(|target: Target| async move {
///         // e.g. trace, pin an address, or speak a proxy protocol first
///         tokio::net::TcpStream::connect(("127.0.0.1", target.port)).await
///     })
///     .send()
///     .await;
/// # }
/// ```
pub trait Connector: Send + Sync + 'static {
    /// Opens a byte stream to `target`; an error becomes a 595 response.
    fn connect(&self, target: Target) -> ConnectFuture;
}

impl<F, Fut, S> Connector for F
where
    F: Fn(Target) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<S>> + Send + 'static,
    S: Transport,
{
    fn connect(&self, target: Target) -> ConnectFuture {
        let connecting = self(target);
        Box::pin(async move { connecting.await.map(|stream| Box::new(stream) as Box<dyn Transport>) })
    }
}

/// Tunes a socket before it connects (AnyEvent::HTTP's `on_prepare`), e.g. binds a local address.
pub(crate) type OnPrepare = Arc<dyn Fn(&TcpSocket) -> io::Result<()> + Send + Sync>;

/// How to open one connection; borrowed from the request's options.
pub(crate) struct ConnectPlan<'a> {
    pub(crate) timeout: Duration,
    pub(crate) on_prepare: Option<&'a OnPrepare>,
    pub(crate) connector: Option<&'a Arc<dyn Connector>>,
    /// The proxy to go through, if any.
    pub(crate) proxy: Option<&'a ProxyServer>,
    /// Credentials for an HTTP proxy's CONNECT.
    pub(crate) proxy_authorization: Option<&'a http::HeaderValue>,
    /// How to verify an https server.
    #[cfg(feature = "tls")]
    pub(crate) tls: &'a crate::tls::Tls,
    /// How names become addresses.
    pub(crate) dns: &'a Dns,
}

/// Happy Eyeballs (RFC 8305 §5): the next address is tried when the one before has not
/// connected within this, without giving up on it.
pub(crate) const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Opens a connection to `target`: the caller's connector if set, else TCP to each
/// resolved address in turn, the activity timeout applying to each attempt; then, for
/// https, the TLS handshake on top (the connector's stream is treated exactly like ours).
/// Also says which address the TCP connection went to (the proxy's, through a proxy),
/// when courier made it itself.
pub(crate) async fn connect(
    target: &Target,
    plan: &ConnectPlan<'_>,
) -> Result<(Box<dyn Transport>, Option<SocketAddr>), Error> {
    let (stream, address) = match plan.proxy {
        None => connect_stream(target, plan).await?,
        Some(proxy) => through_proxy(target, proxy, plan).await?,
    };
    #[cfg(feature = "tls")]
    if target.scheme == "https" {
        return Ok((tls_handshake(stream, target, plan).await?, address));
    }
    Ok((stream, address))
}

/// A stream to `target` through `proxy`: a connection to the proxy (made like any other,
/// connector included), then a CONNECT tunnel for https through an HTTP proxy, or a SOCKS
/// handshake. Plain http through an HTTP proxy uses the proxy connection as it is.
async fn through_proxy(
    target: &Target,
    proxy: &ProxyServer,
    plan: &ConnectPlan<'_>,
) -> Result<(Box<dyn Transport>, Option<SocketAddr>), Error> {
    let (stream, address) = connect_stream(&proxy.target(), plan).await?;
    let stream = match proxy.scheme() {
        ProxyScheme::Http if target.scheme == "https" => {
            proxy::connect_tunnel(stream, target, proxy, plan.proxy_authorization, plan.timeout).await?
        }
        ProxyScheme::Http => stream,
        #[cfg(feature = "socks")]
        _ => proxy::socks_handshake(stream, target, proxy, plan.timeout).await?,
        #[cfg(not(feature = "socks"))]
        _ => return Err(Error::new(ErrorKind::InvalidRequest, "SOCKS proxies need the `socks` feature")),
    };
    Ok((stream, address))
}

/// The TLS handshake; failures are 596 with rustls's reason (unknown issuer, wrong name,
/// expired, not TLS at all). SNI carries the host name, and nothing for an IP literal.
#[cfg(feature = "tls")]
async fn tls_handshake(
    stream: Box<dyn Transport>,
    target: &Target,
    plan: &ConnectPlan<'_>,
) -> Result<Box<dyn Transport>, Error> {
    let failed = |cause: io::Error| {
        Error::new(ErrorKind::Tls, format!("TLS handshake with {target}")).with_source(cause)
    };
    let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|_| {
        Error::new(ErrorKind::Tls, format!("{:?} is not a valid TLS server name", target.host))
    })?;
    let config = plan.tls.client_config().map_err(failed)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let stream = with_timeout(plan.timeout, connector.connect(name, stream)).await.map_err(failed)?;
    Ok(Box::new(stream))
}

async fn connect_stream(
    target: &Target,
    plan: &ConnectPlan<'_>,
) -> Result<(Box<dyn Transport>, Option<SocketAddr>), Error> {
    let failed =
        |context: String, cause: io::Error| Error::new(ErrorKind::Connect, context).with_source(cause);
    if let Some(connector) = plan.connector {
        return with_timeout(plan.timeout, connector.connect(target.clone()))
            .await
            .map(|stream| (stream, None))
            .map_err(|cause| failed(format!("connector for {target}"), cause));
    }
    let addresses = with_timeout(plan.timeout, plan.dns.lookup(&target.host, target.port))
        .await
        .map_err(|cause| failed(format!("resolve {}", target.host), cause))?;
    let addresses = super::dns::interleave(addresses);
    match race(&addresses, plan).await {
        Ok((stream, address)) => Ok((stream, Some(address))),
        Err(ConnectFailure::Prepare(cause)) => Err(failed("on_prepare".into(), cause)),
        Err(ConnectFailure::Connect(cause)) => {
            let context = match addresses.len() {
                0 | 1 => format!("connect to {target}"),
                n => format!("connect to {target} ({n} addresses tried)"),
            };
            Err(failed(context, cause))
        }
    }
}

/// Happy Eyeballs: starts with the first address, and starts the next one whenever the
/// attempts under way have all failed or the newest has been pending for the attempt
/// delay. The first connection wins; the others are dropped. Each attempt has the
/// activity timeout of its own.
async fn race(
    addresses: &[SocketAddr],
    plan: &ConnectPlan<'_>,
) -> Result<(Box<dyn Transport>, SocketAddr), ConnectFailure> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let mut attempts = FuturesUnordered::new();
    let mut remaining = addresses.iter();
    let mut last_failure = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    loop {
        if attempts.is_empty() {
            match remaining.next() {
                Some(&address) => attempts.push(attempt(address, plan)),
                None => return Err(ConnectFailure::Connect(last_failure)),
            }
        }
        let more = remaining.len() > 0;
        tokio::select! {
            Some(outcome) = attempts.next() => match outcome {
                Ok(connected) => return Ok(connected),
                // The caller's hook refused: no point trying other addresses.
                Err(ConnectFailure::Prepare(cause)) => return Err(ConnectFailure::Prepare(cause)),
                Err(ConnectFailure::Connect(cause)) => last_failure = cause,
            },
            () = tokio::time::sleep(CONNECTION_ATTEMPT_DELAY), if more => {
                if let Some(&address) = remaining.next() {
                    attempts.push(attempt(address, plan));
                }
            }
        }
    }
}

/// One attempt of the race, saying which address it was.
async fn attempt(
    address: SocketAddr,
    plan: &ConnectPlan<'_>,
) -> Result<(Box<dyn Transport>, SocketAddr), ConnectFailure> {
    connect_one(address, plan).await.map(|stream| (stream, address))
}

enum ConnectFailure {
    /// The caller's `on_prepare` refused: no point trying other addresses.
    Prepare(io::Error),
    Connect(io::Error),
}

async fn connect_one(
    address: SocketAddr,
    plan: &ConnectPlan<'_>,
) -> Result<Box<dyn Transport>, ConnectFailure> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }
        .map_err(ConnectFailure::Connect)?;
    if let Some(prepare) = plan.on_prepare {
        prepare(&socket).map_err(ConnectFailure::Prepare)?;
    }
    let stream =
        with_timeout(plan.timeout, socket.connect(address)).await.map_err(ConnectFailure::Connect)?;
    // Requests go out in one write, so Nagle only adds latency (and 40 ms stalls when a
    // large body follows the head in a second write).
    stream.set_nodelay(true).map_err(ConnectFailure::Connect)?;
    Ok(Box::new(stream))
}
