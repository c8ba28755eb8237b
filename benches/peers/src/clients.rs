//! The three clients behind one face: a GET that reads the whole body, and a download that
//! streams the body chunk by chunk without keeping it. Plus the raw `TcpStream` baseline.

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long an idle pooled connection is kept, for every client: hyper-util's and reqwest's
/// default (courier's own default is 3 s, shorter than the other clients' rounds in
/// between, which would make it reconnect between rounds).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Courier,
    Reqwest,
    Hyper,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Courier, Kind::Reqwest, Kind::Hyper];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Courier => "courier",
            Kind::Reqwest => "reqwest",
            Kind::Hyper => "hyper",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "courier" => Some(Kind::Courier),
            "reqwest" => Some(Kind::Reqwest),
            "hyper" | "hyper-util" => Some(Kind::Hyper),
            _ => None,
        }
    }
}

type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>;

/// One client, configured alike: plain HTTP/1.1, keep-alive, no proxy, TCP_NODELAY, at most
/// `per_host` pooled idle connections per host (courier: at most `per_host` connections).
#[derive(Clone)]
pub enum Peer {
    Courier(courier::Client),
    Reqwest(reqwest::Client),
    Hyper(HyperClient),
}

impl Peer {
    pub fn new(kind: Kind, per_host: usize) -> Peer {
        match kind {
            Kind::Courier => Peer::Courier(
                courier::Client::builder()
                    .max_per_host(per_host)
                    .persistent_timeout(IDLE_TIMEOUT)
                    .proxy(courier::Proxy::none())
                    .build()
                    .expect("courier client"),
            ),
            Kind::Reqwest => Peer::Reqwest(
                reqwest::Client::builder()
                    .no_proxy()
                    .pool_max_idle_per_host(per_host)
                    .pool_idle_timeout(IDLE_TIMEOUT)
                    .tcp_nodelay(true)
                    .build()
                    .expect("reqwest client"),
            ),
            Kind::Hyper => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Peer::Hyper(
                    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                        .pool_max_idle_per_host(per_host)
                        .pool_idle_timeout(IDLE_TIMEOUT)
                        .build(connector),
                )
            }
        }
    }

    /// GET a URL each client has parsed once already (`loop --parsed`): courier and
    /// reqwest clone a `Url`, hyper clones a `Uri`. Measures the request without the
    /// per-request URL parsing that `get` includes for all three.
    pub async fn get_parsed(&self, parsed: &Parsed) -> Result<usize, String> {
        match self {
            Peer::Courier(client) => {
                let res = client.get(&parsed.url).send().await;
                if res.status() != 200 {
                    return Err(format!("courier: {} {:?}", res.status(), res.error()));
                }
                Ok(res.body().len())
            }
            Peer::Reqwest(client) => {
                let res =
                    client.get(parsed.reqwest.clone()).send().await.map_err(|e| format!("reqwest: {e:?}"))?;
                let body = res.bytes().await.map_err(|e| format!("reqwest body: {e:?}"))?;
                Ok(body.len())
            }
            Peer::Hyper(client) => {
                let res = client.get(parsed.uri.clone()).await.map_err(|e| format!("hyper: {e:?}"))?;
                let body = res.into_body().collect().await.map_err(|e| format!("hyper body: {e:?}"))?;
                Ok(body.to_bytes().len())
            }
        }
    }

    /// GET `url`, read the whole body; its length.
    pub async fn get(&self, url: &str) -> Result<usize, String> {
        match self {
            Peer::Courier(client) => courier_get(client, url).await,
            Peer::Reqwest(client) => reqwest_get(client, url).await,
            Peer::Hyper(client) => hyper_get(client, url).await,
        }
    }

    /// `get` as a task of its own, sized for this client's future alone. (The future of
    /// `get` is as large as the largest of the three, which would charge each client's
    /// peak RSS with another client's request state.)
    pub fn spawn_get(&self, set: &mut tokio::task::JoinSet<Result<usize, String>>, url: std::sync::Arc<str>) {
        match self {
            Peer::Courier(client) => {
                let client = client.clone();
                set.spawn(async move { courier_get(&client, &url).await })
            }
            Peer::Reqwest(client) => {
                let client = client.clone();
                set.spawn(async move { reqwest_get(&client, &url).await })
            }
            Peer::Hyper(client) => {
                let client = client.clone();
                set.spawn(async move { hyper_get(&client, &url).await })
            }
        };
    }

    /// GET `url` and stream the body, chunk by chunk, counting its bytes.
    pub async fn download(&self, url: &str) -> Result<u64, String> {
        let mut total = 0u64;
        match self {
            Peer::Courier(client) => {
                let mut res = client.get(url).send_streaming().await;
                if res.status() != 200 {
                    return Err(format!("courier: {} {:?}", res.status(), res.error()));
                }
                while let Some(chunk) = res.chunk().await.map_err(|e| format!("courier chunk: {e}"))? {
                    total += chunk.len() as u64;
                }
            }
            Peer::Reqwest(client) => {
                let mut res = client.get(url).send().await.map_err(|e| format!("reqwest: {e:?}"))?;
                if res.status() != 200 {
                    return Err(format!("reqwest: {}", res.status()));
                }
                while let Some(chunk) = res.chunk().await.map_err(|e| format!("reqwest chunk: {e:?}"))? {
                    total += chunk.len() as u64;
                }
            }
            Peer::Hyper(client) => {
                let uri: hyper::Uri = url.parse().map_err(|e| format!("hyper uri: {e}"))?;
                let res = client.get(uri).await.map_err(|e| format!("hyper: {e:?}"))?;
                if res.status() != 200 {
                    return Err(format!("hyper: {}", res.status()));
                }
                let mut body = res.into_body();
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| format!("hyper frame: {e:?}"))?;
                    if let Some(data) = frame.data_ref() {
                        total += data.len() as u64;
                    }
                }
            }
        }
        Ok(total)
    }
}

/// The baseline for downloads: one keep-alive `TcpStream`, a request written by hand, the
/// response read with a 64 KiB buffer until Content-Length bytes of body have arrived.
pub struct RawDownloader {
    addr: std::net::SocketAddr,
    stream: Option<TcpStream>,
    buf: BytesMut,
    pub connects: usize,
}

pub const RAW_READ_SIZE: usize = 64 << 10;

impl RawDownloader {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self { addr, stream: None, buf: BytesMut::with_capacity(RAW_READ_SIZE), connects: 0 }
    }

    pub async fn download(&mut self, path: &str) -> Result<u64, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await.map_err(|e| format!("raw connect: {e}"))?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
            self.connects += 1;
        }
        let stream = self.stream.as_mut().expect("connected");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("raw write: {e}"))?;
        self.buf.clear();
        // The head.
        let (head_len, content_length) = loop {
            if stream.read_buf(&mut self.buf).await.map_err(|e| format!("raw read: {e}"))? == 0 {
                return Err("raw: closed before the head".into());
            }
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).map_err(|_| "raw: bad head")?;
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<u64>().ok())?
                    })
                    .ok_or("raw: no content-length")?;
                break (end + 4, length);
            }
        };
        self.buf.advance(head_len);
        let mut got = self.buf.len() as u64;
        self.buf.clear();
        while got < content_length {
            self.buf.reserve(RAW_READ_SIZE);
            let n = stream.read_buf(&mut self.buf).await.map_err(|e| format!("raw read: {e}"))?;
            if n == 0 {
                return Err("raw: closed mid-body".into());
            }
            got += n as u64;
            self.buf.clear();
        }
        Ok(got)
    }
}

/// One URL parsed once for each client (see [`Peer::get_parsed`]).
pub struct Parsed {
    pub url: courier::Url,
    pub reqwest: reqwest::Url,
    pub uri: hyper::Uri,
}

impl Parsed {
    pub fn new(url: &str) -> Result<Self, String> {
        Ok(Self {
            url: courier::Url::parse(url).map_err(|e| e.to_string())?,
            reqwest: reqwest::Url::parse(url).map_err(|e| e.to_string())?,
            uri: url.parse().map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?,
        })
    }
}

async fn courier_get(client: &courier::Client, url: &str) -> Result<usize, String> {
    let res = client.get(url).send().await;
    if res.status() != 200 {
        return Err(format!("courier: {} {:?}", res.status(), res.error()));
    }
    Ok(res.body().len())
}

async fn reqwest_get(client: &reqwest::Client, url: &str) -> Result<usize, String> {
    let res = client.get(url).send().await.map_err(|e| format!("reqwest: {e:?}"))?;
    if res.status() != 200 {
        return Err(format!("reqwest: {}", res.status()));
    }
    let body = res.bytes().await.map_err(|e| format!("reqwest body: {e:?}"))?;
    Ok(body.len())
}

async fn hyper_get(client: &HyperClient, url: &str) -> Result<usize, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("hyper uri: {e}"))?;
    let res = client.get(uri).await.map_err(|e| format!("hyper: {e:?}"))?;
    if res.status() != 200 {
        return Err(format!("hyper: {}", res.status()));
    }
    let body = res.into_body().collect().await.map_err(|e| format!("hyper body: {e:?}"))?;
    Ok(body.to_bytes().len())
}
