//! Name resolution: the system resolver, or the caller's hook; a static override map
//! (curl's `--resolve`); and an optional cache with a TTL and a bound on its entries.
//! AnyEvent::HTTP leaves DNS caching to the user; this is the answer.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The future a [`Resolve`] hook returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// A resolver hook: host name and port to addresses, tried in the order given (with
/// Happy Eyeballs between IPv6 and IPv4). Any `Fn(String, u16) -> impl Future<Output =
/// io::Result<Vec<SocketAddr>>>` closure is one:
///
/// ```
/// use std::net::SocketAddr;
/// let client = courier::Client::builder()
///     .resolver(|host: String, port: u16| async move {
///         // e.g. ask a DNS-over-HTTPS service, or a service registry
///         let address: SocketAddr = ([127, 0, 0, 1], port).into();
///         Ok(vec![address])
///     })
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`; an error (or no address) becomes a 595 response.
    fn resolve(&self, host: String, port: u16) -> ResolveFuture;
}

impl<F, Fut> Resolve for F
where
    F: Fn(String, u16) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    fn resolve(&self, host: String, port: u16) -> ResolveFuture {
        Box::pin(self(host, port))
    }
}

/// How a client resolves names. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Dns {
    /// Fixed answers, checked first: (lower-case host, port) → addresses.
    overrides: Arc<HashMap<(String, u16), Vec<SocketAddr>>>,
    /// The caller's resolver; the system's when `None`.
    resolver: Option<Arc<dyn Resolve>>,
    cache: Option<Arc<Cache>>,
}

impl Dns {
    pub(crate) fn with_override(mut self, host: &str, port: u16, addresses: Vec<SocketAddr>) -> Self {
        Arc::make_mut(&mut self.overrides).insert((host.to_ascii_lowercase(), port), addresses);
        self
    }

    pub(crate) fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    pub(crate) fn with_cache(mut self, ttl: Duration, max_entries: usize) -> Self {
        self.cache = Some(Arc::new(Cache::new(ttl, max_entries)));
        self
    }

    /// The addresses to try for `host:port`, in order.
    pub(crate) async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        // An IP literal needs no resolver (and no cache entry).
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let key = (host.to_ascii_lowercase(), port);
        if let Some(addresses) = self.overrides.get(&key) {
            return Ok(addresses.clone());
        }
        if let Some(hit) = self.cache.as_ref().and_then(|cache| cache.get(&key, Instant::now())) {
            return Ok(hit);
        }
        let addresses = match &self.resolver {
            Some(resolver) => resolver.resolve(host.to_owned(), port).await?,
            None => tokio::net::lookup_host((host, port)).await?.collect(),
        };
        if addresses.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no addresses for {host}")));
        }
        if let Some(cache) = &self.cache {
            cache.put(key, addresses.clone(), Instant::now());
        }
        Ok(addresses)
    }
}

/// (lower-case host, port) → when resolved, and the addresses.
type Entries = HashMap<(String, u16), (Instant, Vec<SocketAddr>)>;

/// Answers kept for `ttl`, at most `max_entries` of them: when full, expired entries go
/// first, then the oldest.
struct Cache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<Entries>,
}

impl Cache {
    fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, entries: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key: &(String, u16), now: Instant) -> Option<Vec<SocketAddr>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((stored, addresses)) if now.duration_since(*stored) < self.ttl => Some(addresses.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: (String, u16), addresses: Vec<SocketAddr>, now: Instant) {
        if self.max_entries == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, (stored, _)| now.duration_since(*stored) < self.ttl);
            if entries.len() >= self.max_entries {
                let oldest =
                    entries.iter().min_by_key(|(_, (stored, _))| *stored).map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (now, addresses));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Happy Eyeballs order (RFC 8305 §4): alternate address families, starting with the
/// first family the resolver returned.
pub(crate) fn interleave(addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addresses.first() else { return addresses };
    let first_is_v6 = first.is_ipv6();
    let (mut preferred, mut other): (Vec<_>, Vec<_>) =
        addresses.into_iter().partition(|address| address.is_ipv6() == first_is_v6);
    let mut ordered = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    while !preferred.is_empty() || !other.is_empty() {
        ordered.extend(preferred.pop());
        ordered.extend(other.pop());
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_cache_honours_its_ttl_and_its_bound() {
        let cache = Cache::new(Duration::from_secs(10), 2);
        let start = Instant::now();
        let key = |host: &str| (host.to_owned(), 80);
        cache.put(key("a"), vec![addr("10.0.0.1:80")], start);
        assert_eq!(cache.get(&key("a"), start + Duration::from_secs(9)), Some(vec![addr("10.0.0.1:80")]));
        assert_eq!(cache.get(&key("a"), start + Duration::from_secs(10)), None, "expired at the TTL");
        assert_eq!(cache.len(), 0, "an expired entry is dropped when seen");

        // Full: the oldest goes.
        cache.put(key("a"), vec![addr("10.0.0.1:80")], start);
        cache.put(key("b"), vec![addr("10.0.0.2:80")], start + Duration::from_secs(1));
        cache.put(key("c"), vec![addr("10.0.0.3:80")], start + Duration::from_secs(2));
        assert_eq!(cache.len(), 2);
        let now = start + Duration::from_secs(3);
        assert_eq!(cache.get(&key("a"), now), None);
        assert!(cache.get(&key("b"), now).is_some() && cache.get(&key("c"), now).is_some());

        // Full of expired entries: they all go before anything fresh.
        let later = start + Duration::from_secs(60);
        cache.put(key("d"), vec![addr("10.0.0.4:80")], later);
        assert_eq!(cache.len(), 1);
        assert!(Cache::new(Duration::from_secs(1), 0).get(&key("x"), later).is_none());
    }

    #[test]
    fn families_alternate_starting_with_the_first() {
        let ordered = interleave(vec![
            addr("[::1]:80"),
            addr("[::2]:80"),
            addr("[::3]:80"),
            addr("10.0.0.1:80"),
            addr("10.0.0.2:80"),
        ]);
        let expected = ["[::1]:80", "10.0.0.1:80", "[::2]:80", "10.0.0.2:80", "[::3]:80"].map(addr);
        assert_eq!(ordered, expected);
        assert_eq!(
            interleave(vec![addr("10.0.0.1:80"), addr("[::1]:80")]),
            [addr("10.0.0.1:80"), addr("[::1]:80")]
        );
        assert!(interleave(Vec::new()).is_empty());
    }
}
