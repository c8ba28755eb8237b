//! The cookie jar (AnyEvent::HTTP's `cookie_jar`): RFC 6265 rules via cookie_store, plus the
//! checks it leaves to us: public-suffix domains, Secure cookies over plain http, and bounds.

use cookie_store::{CookieStore, RawCookie};
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use url::Url;

/// Most cookies kept for one domain; further new ones are refused (a server cannot fill
/// the jar without bound).
pub const MAX_COOKIES_PER_DOMAIN: usize = 50;
/// Largest accepted Set-Cookie line (name, value and attributes), as browsers accept.
pub const MAX_COOKIE_SIZE: usize = 4096;
/// Largest Cookie header sent; cookies beyond it are left out of that request.
pub const MAX_COOKIE_HEADER: usize = 8 * 1024;

/// A cookie jar shared by the requests it is given to. Cheap to clone: clones share cookies.
///
/// ```
/// let jar = courier::CookieJar::new();
/// let request = courier::get("http://127.0.0.1:8080/login").cookie_jar(&jar);
/// # drop(request);
/// let mut saved = Vec::new();
/// jar.expire(true); // AnyEvent::HTTP's cookie_jar_expire: drop expired and session cookies
/// jar.save(&mut saved).unwrap();
/// let again = courier::CookieJar::load(&saved[..]).unwrap();
/// assert_eq!(again.len(), 0);
/// ```
#[derive(Clone, Default)]
pub struct CookieJar {
    store: Arc<Mutex<CookieStore>>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar").field("cookies", &self.len()).finish()
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many cookies the jar holds (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.lock().iter_any().count()
    }

    /// True when the jar holds no cookies.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `(name, value)` pairs a request to `url` would send, in the order sent.
    pub fn cookies_for(&self, url: &str) -> Vec<(String, String)> {
        let Ok(url) = Url::parse(url) else { return Vec::new() };
        ordered(&self.lock(), &url)
    }

    /// Removes expired cookies, and with `session_end` also session cookies (AnyEvent::HTTP's
    /// `cookie_jar_expire`). Call it with `true` before saving a jar for later.
    pub fn expire(&self, session_end: bool) {
        let mut store = self.lock();
        let doomed: Vec<(String, String, String)> = store
            .iter_any()
            .filter(|cookie| cookie.is_expired() || (session_end && !cookie.is_persistent()))
            .map(|cookie| {
                (String::from(&cookie.domain), String::from(&cookie.path), cookie.name().to_owned())
            })
            .collect();
        for (domain, path, name) in doomed {
            store.remove(&domain, &path, &name);
        }
    }

    /// Writes the persistent, unexpired cookies as JSON.
    pub fn save(&self, writer: &mut impl Write) -> io::Result<()> {
        cookie_store::serde::json::save(&self.lock(), writer).map_err(io::Error::other)
    }

    /// Reads a jar written by [`save`](Self::save); expired cookies are dropped.
    pub fn load(reader: impl BufRead) -> io::Result<Self> {
        let store = cookie_store::serde::json::load(reader)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Self { store: Arc::new(Mutex::new(store)) })
    }

    /// [`save`](Self::save) to a file (replacing it).
    pub fn save_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut file = io::BufWriter::new(std::fs::File::create(path)?);
        self.save(&mut file)?;
        file.flush()
    }

    /// [`load`](Self::load) from a file; an empty jar when the file does not exist.
    pub fn load_file(path: impl AsRef<Path>) -> io::Result<Self> {
        match std::fs::File::open(path) {
            Ok(file) => Self::load(io::BufReader::new(file)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Self::new()),
            Err(error) => Err(error),
        }
    }

    /// The Cookie header for a request to `url`, within [`MAX_COOKIE_HEADER`].
    pub(crate) fn header_for(&self, url: &Url) -> Option<HeaderValue> {
        let mut header = String::new();
        for (name, value) in ordered(&self.lock(), url) {
            let separator = if header.is_empty() { 0 } else { 2 };
            if header.len() + separator + name.len() + 1 + value.len() > MAX_COOKIE_HEADER {
                break;
            }
            if separator > 0 {
                header.push_str("; ");
            }
            header.push_str(&name);
            header.push('=');
            header.push_str(&value);
        }
        (!header.is_empty()).then(|| HeaderValue::from_str(&header).ok()).flatten()
    }

    /// Takes in the Set-Cookie lines of a response from `url`; the ones the rules refuse
    /// are dropped silently, as a browser does.
    pub(crate) fn store_from(&self, url: &Url, headers: &HeaderMap) {
        let mut store = self.lock();
        for line in headers.get_all(SET_COOKIE) {
            let Ok(text) = line.to_str() else { continue };
            if let Some(cookie) = acceptable(text, url, &store) {
                let _ = store.insert_raw(&cookie, url);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, CookieStore> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The cookies for `url` in the order RFC 6265 §5.4 asks for: longer paths first (then by
/// name, so the header is the same every time).
fn ordered(store: &CookieStore, url: &Url) -> Vec<(String, String)> {
    let mut cookies: Vec<(usize, String, String)> = store
        .matches(url)
        .into_iter()
        .map(|cookie| (String::from(&cookie.path).len(), cookie.name().to_owned(), cookie.value().to_owned()))
        .collect();
    cookies.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    cookies.into_iter().map(|(_, name, value)| (name, value)).collect()
}

/// Parses a Set-Cookie line and applies the checks cookie_store leaves to us.
fn acceptable(text: &str, url: &Url, store: &CookieStore) -> Option<RawCookie<'static>> {
    if text.len() > MAX_COOKIE_SIZE {
        return None;
    }
    let mut cookie = RawCookie::parse(text.to_owned()).ok()?;
    // A Secure cookie from a plain-http origin could overwrite one an https page relies on
    // (RFC 6265bis §5.7). Loopback counts as secure, as browsers treat localhost.
    if cookie.secure() == Some(true) && !is_secure_origin(url) {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    if let Some(domain) = cookie.domain().map(|d| d.trim_start_matches('.').to_ascii_lowercase()) {
        // A Domain that is a public suffix (`com`, `co.uk`, `github.io`) would reach every
        // site under it: refuse it, unless it is exactly this host (then host-only).
        if psl::suffix_str(&domain) == Some(domain.as_str()) {
            if domain != host {
                return None;
            }
            cookie.unset_domain();
        }
    }
    let domain = cookie.domain().map(|d| d.trim_start_matches('.').to_ascii_lowercase()).unwrap_or(host);
    let already = store.iter_any().any(|existing| {
        existing.name() == cookie.name() && String::from(&existing.domain).trim_start_matches('.') == domain
    });
    let count = store
        .iter_any()
        .filter(|existing| String::from(&existing.domain).trim_start_matches('.') == domain)
        .count();
    if !already && count >= MAX_COOKIES_PER_DOMAIN {
        return None;
    }
    Some(cookie)
}

fn is_secure_origin(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(address)) => address.is_loopback(),
            Some(url::Host::Ipv6(address)) => address.is_loopback(),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_cookies(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(SET_COOKIE, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn stores_and_sends_by_domain_and_path() {
        let jar = CookieJar::new();
        jar.store_from(
            &url("http://a.example.com/x/y"),
            &set_cookies(&["s=1", "d=2; Domain=example.com; Path=/"]),
        );
        assert_eq!(jar.header_for(&url("http://a.example.com/x/z")).unwrap(), "s=1; d=2");
        assert_eq!(jar.header_for(&url("http://b.example.com/")).unwrap(), "d=2");
        assert!(jar.header_for(&url("http://other.test/")).is_none());
    }

    #[test]
    fn refuses_public_suffix_domains_and_secure_over_http() {
        let jar = CookieJar::new();
        jar.store_from(
            &url("http://a.example.com/"),
            &set_cookies(&["p=1; Domain=com", "q=1; Domain=co.uk"]),
        );
        jar.store_from(&url("http://site.github.io/"), &set_cookies(&["g=1; Domain=github.io"]));
        jar.store_from(&url("http://a.example.com/"), &set_cookies(&["s=1; Secure"]));
        assert!(jar.is_empty(), "{:?}", jar.cookies_for("https://a.example.com/"));
        jar.store_from(&url("https://a.example.com/"), &set_cookies(&["s=1; Secure"]));
        jar.store_from(&url("http://127.0.0.1/"), &set_cookies(&["local=1; Secure"]));
        assert_eq!(jar.len(), 2);
        assert!(jar.header_for(&url("http://a.example.com/")).is_none(), "Secure cookies go over https only");
        assert_eq!(jar.header_for(&url("https://a.example.com/")).unwrap(), "s=1");
    }

    #[test]
    fn bounded_per_domain_and_in_size() {
        let jar = CookieJar::new();
        let lines: Vec<String> = (0..MAX_COOKIES_PER_DOMAIN + 10).map(|i| format!("c{i}=v")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        jar.store_from(&url("http://many.test/"), &set_cookies(&refs));
        assert_eq!(jar.len(), MAX_COOKIES_PER_DOMAIN);
        jar.store_from(&url("http://many.test/"), &set_cookies(&["c0=updated"]));
        let sent = jar.cookies_for("http://many.test/");
        assert_eq!(sent.iter().find(|(name, _)| name == "c0").map(|(_, v)| v.as_str()), Some("updated"));
        let huge = format!("big={}", "x".repeat(MAX_COOKIE_SIZE));
        jar.store_from(&url("http://big.test/"), &set_cookies(&[&huge]));
        assert!(jar.cookies_for("http://big.test/").is_empty());
        let header = jar.header_for(&url("http://many.test/")).unwrap();
        assert!(header.len() <= MAX_COOKIE_HEADER);
    }

    #[test]
    fn expire_save_and_load() {
        let jar = CookieJar::new();
        let site = url("http://example.test/");
        jar.store_from(&site, &set_cookies(&["session=1", "kept=2; Max-Age=3600", "gone=3; Max-Age=0"]));
        assert_eq!(jar.len(), 2, "Max-Age=0 is never stored");
        jar.expire(false);
        assert_eq!(jar.len(), 2);
        let mut saved = Vec::new();
        jar.save(&mut saved).unwrap();
        let loaded = CookieJar::load(&saved[..]).unwrap();
        assert_eq!(loaded.cookies_for("http://example.test/"), [("kept".to_owned(), "2".to_owned())]);
        jar.expire(true);
        assert_eq!(jar.cookies_for("http://example.test/"), [("kept".to_owned(), "2".to_owned())]);
        assert!(CookieJar::load(&b"not json"[..]).is_err());
    }
}
