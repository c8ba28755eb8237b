//! Declarative mocks: mounted on a running server, matched before every route, verified.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use courier::server::{when, Reply, Server};
//! use serde_json::json;
//! let server = Server::builder().start().await?;
//! server.mock(when().method("POST").path("/users").json_body(json!({"name": "ada"}))).respond(Reply::new(201)).times(1);
//! let res = courier::request("POST", server.url("/users")).json(&json!({"name": "ada"})).send().await;
//! assert_eq!(res.status(), 201);
//! server.verify()?;
//! # Ok(()) }
//! ```

#[cfg(feature = "json")]
mod json;
mod report;
mod when;

pub use report::VerifyError;
pub use when::{when, When};

use super::{Reply, Request, Server, ServerBuilder};
use bytes::Bytes;
use http::{HeaderMap, Method};
use report::{Closest, Row, Unmatched, UnmatchedLog};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::Notify;

/// The priority of a mock that was not given one (lower is tried first, as in wiremock).
pub const DEFAULT_MOCK_PRIORITY: u8 = 5;

/// How many of its requests each mock keeps for [`MockHandle::requests`] (the oldest go).
pub const MOCK_REQUEST_LIMIT: usize = 1_000;

/// Every mock of a server. One registry is shared by every version of the router (the
/// router is rebuilt whenever a handler changes), so mocks outlive handler changes.
#[derive(Default)]
pub(crate) struct Registry {
    /// In mounting order; tried by priority, then in this order.
    mocks: RwLock<Vec<Arc<MockState>>>,
    next_id: AtomicU64,
    unmatched: Mutex<UnmatchedLog>,
    skip_verify_on_drop: AtomicBool,
}

/// What the registry did with a request.
pub(crate) enum Answer {
    /// A mock answered.
    Reply(Reply),
    /// No mock matched: the routes answer. With mocks mounted, a note for the report,
    /// which wants the status the routes gave.
    Unmatched(Option<UnmatchedNote>),
}

impl Registry {
    /// The mock that answers `request`, if any: the first by priority, then mounting
    /// order, whose matchers all pass and that is not used up. The body is read only when
    /// a mock whose other matchers pass has a body matcher, or when a mock answers (its
    /// requests keep their bodies).
    pub(crate) async fn answer(self: &Arc<Self>, request: &Request) -> Answer {
        let mocks = self.by_priority();
        if mocks.is_empty() {
            return Answer::Unmatched(None);
        }
        let wants_body =
            mocks.iter().any(|mock| mock.when.reads_body() && mock.live() && mock.when.head_matches(request));
        let mut body = None;
        if wants_body {
            match request.body().await {
                Ok(bytes) => body = Some(bytes),
                Err(error) => return Answer::Reply(error.into()),
            }
        }
        for mock in &mocks {
            if !mock.live() || !mock.when.matches(request, body.as_deref()) {
                continue;
            }
            let bytes = match &body {
                Some(bytes) => bytes.clone(),
                None => match request.body().await {
                    Ok(bytes) => bytes,
                    Err(error) => return Answer::Reply(error.into()),
                },
            };
            // Another request may have used it up meanwhile: then the next mock may match.
            if mock.claim(MockRequest::new(request, bytes)) {
                return Answer::Reply(mock.respond(request));
            }
        }
        let closest = closest(&mocks, request, body.as_deref());
        let unmatched = Some(Unmatched::new(request, closest));
        Answer::Unmatched(Some(UnmatchedNote { registry: self.clone(), unmatched }))
    }

    fn mount(self: &Arc<Self>, when: When, responder: Responder) -> MockHandle {
        let state = Arc::new(MockState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            when,
            responder,
            config: Mutex::new(Config::default()),
            hit: Notify::new(),
        });
        write(&self.mocks).push(state.clone());
        MockHandle { state, registry: self.clone() }
    }

    /// No mock is mounted: the router skips the registry (the usual case outside tests).
    pub(crate) fn is_empty(&self) -> bool {
        read(&self.mocks).is_empty()
    }

    fn remove(&self, id: u64) -> bool {
        let mut mocks = write(&self.mocks);
        let before = mocks.len();
        mocks.retain(|mock| {
            let keep = mock.id != id;
            if !keep {
                mock.config().mounted = false;
            }
            keep
        });
        mocks.len() != before
    }

    /// Every mounted mock, in the order they are tried.
    fn by_priority(&self) -> Vec<Arc<MockState>> {
        let mut mocks = read(&self.mocks).clone();
        mocks.sort_by_cached_key(|mock| (mock.config().priority, mock.id));
        mocks
    }

    /// Checks every mock's expectation (`only`: one mock's, with the unmatched requests
    /// it was closest to).
    fn verify(&self, only: Option<u64>) -> Result<(), VerifyError> {
        let mocks: Vec<Arc<MockState>> =
            read(&self.mocks).iter().filter(|mock| only.is_none_or(|id| mock.id == id)).cloned().collect();
        let rows: Vec<Row> = mocks.iter().map(|mock| mock.row()).collect();
        if rows.iter().all(|row| row.satisfied) {
            return Ok(());
        }
        let log = lock(&self.unmatched);
        let unmatched =
            log.entries().filter(|entry| only.is_none() || entry.closest_id() == only).cloned().collect();
        Err(VerifyError::new(rows, unmatched, if only.is_none() { log.total() } else { 0 }))
    }

    fn clear(&self) {
        for mock in std::mem::take(&mut *write(&self.mocks)) {
            mock.config().mounted = false;
        }
        *lock(&self.unmatched) = UnmatchedLog::default();
    }
}

/// The mock with the most matchers passing (the first of equals), and why the others failed.
fn closest(mocks: &[Arc<MockState>], request: &Request, body: Option<&[u8]>) -> Option<Closest> {
    let mut best: Option<Closest> = None;
    for mock in mocks {
        let (passed, failures) = mock.when.check(request, body);
        if best.as_ref().is_some_and(|best| best.passed >= passed) {
            continue;
        }
        let config = mock.config();
        let used_up = failures.is_empty().then_some(config.limit).flatten();
        let name = config.name.clone().unwrap_or_else(|| mock.when.to_string());
        best = Some(Closest { id: mock.id, name, passed, total: mock.when.len(), failures, used_up });
    }
    best
}

/// A request no mock matched, added to the report once the routes have answered it (or
/// when dropped, if a handler panicked).
pub(crate) struct UnmatchedNote {
    registry: Arc<Registry>,
    unmatched: Option<Unmatched>,
}

impl UnmatchedNote {
    /// The status the routes answered with.
    pub(crate) fn answered(mut self, status: http::StatusCode) {
        if let Some(unmatched) = &mut self.unmatched {
            unmatched.status = Some(status);
        }
    }
}

impl Drop for UnmatchedNote {
    fn drop(&mut self) {
        if let Some(unmatched) = self.unmatched.take() {
            lock(&self.registry.unmatched).push(unmatched);
        }
    }
}

/// One mounted mock: its matchers, its reply, and what happened to it.
struct MockState {
    /// Mounting order (ties of priority go to the earlier mock).
    id: u64,
    when: When,
    responder: Responder,
    config: Mutex<Config>,
    /// Woken on every hit, for `wait_until_satisfied`.
    hit: Notify,
}

struct Config {
    name: Option<String>,
    priority: u8,
    /// `up_to_n_times`: after this many hits the mock no longer matches.
    limit: Option<usize>,
    expect: Expect,
    hits: usize,
    requests: VecDeque<MockRequest>,
    mounted: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: None,
            priority: DEFAULT_MOCK_PRIORITY,
            limit: None,
            expect: Expect::default(),
            hits: 0,
            requests: VecDeque::new(),
            mounted: true,
        }
    }
}

impl MockState {
    fn config(&self) -> MutexGuard<'_, Config> {
        lock(&self.config)
    }

    /// Mounted and not used up.
    fn live(&self) -> bool {
        let config = self.config();
        config.mounted && config.limit.is_none_or(|limit| config.hits < limit)
    }

    /// Counts a hit unless the mock was used up or removed meanwhile.
    fn claim(&self, request: MockRequest) -> bool {
        let mut config = self.config();
        if !config.mounted || config.limit.is_some_and(|limit| config.hits >= limit) {
            return false;
        }
        config.hits += 1;
        if config.requests.len() == MOCK_REQUEST_LIMIT {
            config.requests.pop_front();
        }
        config.requests.push_back(request);
        drop(config);
        self.hit.notify_waiters();
        true
    }

    /// What `wait_until_satisfied` waits for: the lower bound, or one hit without one.
    fn satisfied(&self) -> bool {
        let config = self.config();
        config.hits >= config.expect.min.max(usize::from(config.expect.max.is_none()))
    }

    fn respond(&self, request: &Request) -> Reply {
        match &self.responder {
            Responder::Fixed(template) => template.reply(),
            Responder::Once(reply) => lock(reply).take().unwrap_or_else(|| {
                Reply::error(500, "this mock's streamed reply was sent already: use respond_with for more")
            }),
            Responder::With(make) => make(request),
        }
    }

    fn row(&self) -> Row {
        let config = self.config();
        Row {
            name: config.name.clone().unwrap_or_else(|| self.when.to_string()),
            expected: config.expect.to_string(),
            hits: config.hits,
            satisfied: config.expect.holds(config.hits),
        }
    }
}

/// How a mock makes its replies.
enum Responder {
    /// A complete reply, copied for each hit.
    Fixed(Template),
    /// A reply that cannot be copied (streamed, or an upgrade): sent once.
    Once(Mutex<Option<Reply>>),
    With(Box<dyn Fn(&Request) -> Reply + Send + Sync>),
}

/// A complete reply's parts: a `Reply` holds things that are not `Sync` (a stream, an
/// upgrade), so a mock keeps the parts and builds a new reply for each hit.
struct Template {
    status: http::StatusCode,
    reason: Option<String>,
    headers: HeaderMap,
    removed: Vec<http::header::HeaderName>,
    body: Bytes,
    fault: Option<super::Fault>,
}

impl Responder {
    /// A template of a complete reply; a streamed one (or an upgrade) to send once.
    fn new(reply: Reply) -> Self {
        let body = match (reply.body_bytes(), &reply.upgrade) {
            (Some(body), None) => body.clone(),
            _ => return Self::Once(Mutex::new(Some(reply))),
        };
        let Reply { status, reason, headers, removed, fault, .. } = reply;
        Self::Fixed(Template { status, reason, headers, removed, body, fault })
    }
}

impl Template {
    fn reply(&self) -> Reply {
        let mut reply = Reply::new(self.status.as_u16()).with_body(self.body.clone());
        reply.reason.clone_from(&self.reason);
        reply.headers.clone_from(&self.headers);
        reply.removed.clone_from(&self.removed);
        reply.fault.clone_from(&self.fault);
        reply
    }
}

/// How many requests a mock expects, checked by [`Server::verify`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Expect {
    min: usize,
    max: Option<usize>,
}

impl Expect {
    fn holds(&self, hits: usize) -> bool {
        hits >= self.min && self.max.is_none_or(|max| hits <= max)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let requests = |n: usize| if n == 1 { "1 request".to_owned() } else { format!("{n} requests") };
        match (self.min, self.max) {
            (0, None) => f.write_str("any number of requests"),
            (0, Some(0)) => f.write_str("no requests"),
            (min, Some(max)) if min == max => write!(f, "exactly {}", requests(min)),
            (min, None) => write!(f, "at least {}", requests(min)),
            (0, Some(max)) => write!(f, "at most {}", requests(max)),
            (min, Some(max)) => write!(f, "between {min} and {}", requests(max)),
        }
    }
}

/// A request a mock answered, as it arrived (see [`MockHandle::requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockRequest {
    /// The method.
    pub method: Method,
    /// The target exactly as sent (`/users?page=2`).
    pub target: String,
    /// The header fields.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// The connection it came on (from 1).
    pub connection_id: u64,
}

impl MockRequest {
    fn new(request: &Request, body: Bytes) -> Self {
        Self {
            method: request.method().clone(),
            target: request.target().to_owned(),
            headers: request.headers().clone(),
            body,
            connection_id: request.connection_id(),
        }
    }

    /// One header as text (`None` if absent or not UTF-8).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A mock being mounted: give it a reply to mount it. See [`Server::mock`].
#[must_use = "a mock is mounted only by respond or respond_with"]
pub struct MockBuilder {
    registry: Arc<Registry>,
    when: When,
}

impl MockBuilder {
    /// Mounts the mock: each request it matches gets a copy of `reply`. A streamed reply
    /// cannot be copied, so it is sent once; later hits get a 500 (use
    /// [`respond_with`](Self::respond_with) to make one per hit).
    pub fn respond(self, reply: Reply) -> MockHandle {
        self.registry.mount(self.when, Responder::new(reply))
    }

    /// Mounts the mock: each request it matches gets the reply `make` builds for it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{when, Reply, Server};
    /// let server = Server::builder().start().await?;
    /// server.mock(when().path_prefix("/echo/")).respond_with(|req| Reply::text(req.path()[6..].to_owned()));
    /// assert_eq!(courier::get(server.url("/echo/hi")).send().await.text(), "hi");
    /// # Ok(()) }
    /// ```
    pub fn respond_with(self, make: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> MockHandle {
        self.registry.mount(self.when, Responder::With(Box::new(make)))
    }
}

/// A mounted mock: set its name, priority and expectations, and see what it received.
/// Dropping the handle leaves the mock mounted; [`remove`](Self::remove) unmounts it.
///
/// Set the options right after mounting, before requests arrive.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use courier::server::{when, Reply, Server};
/// let server = Server::builder().start().await?;
/// // The first two requests get 503, later ones 200: the first mock is used up.
/// server.mock(when().path("/flaky")).respond(Reply::new(503)).up_to_n_times(2).named("outage");
/// let ok = server.mock(when().path("/flaky")).respond(Reply::text("ok")).at_least(1);
/// for want in [503, 503, 200] {
///     assert_eq!(courier::get(server.url("/flaky")).send().await.status(), want);
/// }
/// assert_eq!((ok.hits(), ok.requests()[0].target.as_str()), (1, "/flaky"));
/// server.verify()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MockHandle {
    state: Arc<MockState>,
    registry: Arc<Registry>,
}

impl MockHandle {
    /// Names the mock in reports (default: its matchers, e.g. `POST /users, ?page=2`).
    pub fn named(self, name: impl Into<String>) -> Self {
        self.state.config().name = Some(name.into());
        self
    }

    /// Mocks are tried by priority, lowest first (default [`DEFAULT_MOCK_PRIORITY`]),
    /// then in the order they were mounted.
    pub fn priority(self, priority: u8) -> Self {
        self.state.config().priority = priority;
        self
    }

    /// After `n` hits the mock stops matching, and later requests go to the next mock
    /// (or the routes).
    pub fn up_to_n_times(self, n: usize) -> Self {
        self.state.config().limit = Some(n);
        self
    }

    /// Expects exactly `n` requests (checked by [`Server::verify`]).
    pub fn times(self, n: usize) -> Self {
        self.expect(|expect| *expect = Expect { min: n, max: Some(n) })
    }

    /// Expects at least `n` requests.
    pub fn at_least(self, n: usize) -> Self {
        self.expect(|expect| expect.min = n)
    }

    /// Expects at most `n` requests.
    pub fn at_most(self, n: usize) -> Self {
        self.expect(|expect| expect.max = Some(n))
    }

    /// Expects no request at all.
    pub fn never(self) -> Self {
        self.times(0)
    }

    fn expect(self, change: impl FnOnce(&mut Expect)) -> Self {
        change(&mut self.state.config().expect);
        self
    }

    /// The mock's name (see [`named`](Self::named)).
    pub fn name(&self) -> String {
        self.state.row().name
    }

    /// How many requests the mock answered.
    pub fn hits(&self) -> usize {
        self.state.config().hits
    }

    /// The requests it answered, oldest first (at most [`MOCK_REQUEST_LIMIT`]).
    pub fn requests(&self) -> Vec<MockRequest> {
        self.state.config().requests.iter().cloned().collect()
    }

    /// Checks this mock's expectation alone; the error names the requests no mock
    /// matched whose closest mock was this one.
    pub fn verify(&self) -> Result<(), VerifyError> {
        self.registry.verify(Some(self.state.id))
    }

    /// Resolves once the mock has received the least it expects (`times(n)`,
    /// `at_least(n)`): a mock without expectations waits for its first request, one that
    /// expects at most n resolves at once. A hit counts when the mock matches, before its
    /// reply is written. It has no timeout of its own: wrap it in `tokio::time::timeout`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{when, Reply, Server};
    /// use std::time::Duration;
    /// let server = Server::builder().start().await?;
    /// let hook = server.mock(when().method("POST").path("/hook")).respond(Reply::new(204)).times(2);
    /// let url = server.url("/hook");
    /// tokio::spawn(async move {
    ///     for _ in 0..2 {
    ///         courier::request("POST", url.as_str()).body("event").send().await;
    ///     }
    /// });
    /// tokio::time::timeout(Duration::from_secs(10), hook.wait_until_satisfied()).await?;
    /// assert_eq!(hook.hits(), 2);
    /// # Ok(()) }
    /// ```
    pub fn wait_until_satisfied(&self) -> impl Future<Output = ()> + Send + 'static {
        let state = self.state.clone();
        async move {
            loop {
                // Made before the check, so a hit between the check and the wait wakes it.
                let hit = state.hit.notified();
                if state.satisfied() {
                    return;
                }
                hit.await;
            }
        }
    }

    /// Unmounts the mock: it matches nothing more and is no longer verified. False if it
    /// was removed already.
    pub fn remove(&self) -> bool {
        self.registry.remove(self.state.id)
    }
}

impl fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = self.state.row();
        f.debug_struct("MockHandle").field("name", &row.name).field("hits", &row.hits).finish_non_exhaustive()
    }
}

impl Server {
    /// Starts mounting a mock on this running server: tried before every route (and the
    /// request hook), in priority order. A request no mock matches goes on to the routes,
    /// then 404. See [`MockHandle`] for expectations and [`verify`](Self::verify).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{when, Reply, Server};
    /// let server = Server::builder().start().await?;
    /// let mock = server
    ///     .mock(when().method("GET").path("/users").query("page", "2").header("x-api-key", "abc"))
    ///     .respond(Reply::bytes("application/json", r#"[{"name":"ada"}]"#))
    ///     .times(1);
    /// let res = courier::get(server.url("/users?page=2")).header("x-api-key", "abc").send().await;
    /// assert_eq!(res.text(), r#"[{"name":"ada"}]"#);
    /// assert_eq!(mock.requests()[0].header("x-api-key"), Some("abc"));
    /// # Ok(()) }
    /// ```
    pub fn mock(&self, when: When) -> MockBuilder {
        MockBuilder { registry: self.registry(), when }
    }

    /// Checks every mock's expectation. The error's `Display` is the whole report: each
    /// mock with what it expected and received, then each request no mock matched, with
    /// the closest mock and why each of its failing matchers failed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{when, Reply, Server};
    /// let server = Server::builder().verify_on_drop(false).start().await?;
    /// server.mock(when().method("GET").path("/users").header("x-api-key", "abc")).respond(Reply::new(200)).times(1);
    /// let res = courier::get(server.url("/users")).header("x-api-key", "abd").send().await;
    /// assert_eq!(res.status(), 404);
    /// assert_eq!(server.verify().unwrap_err().to_string(), "\
    /// 1 of 1 mocks not satisfied:
    ///   FAILED [GET /users, x-api-key: abc] expected exactly 1 request, received 0
    /// 1 request matched no mock:
    ///   GET /users (connection 1) -> 404
    ///     closest mock: [GET /users, x-api-key: abc], 2 of 3 matchers passed
    ///       header x-api-key: expected \"abc\", got \"abd\"
    /// ");
    /// # Ok(()) }
    /// ```
    pub fn verify(&self) -> Result<(), VerifyError> {
        self.registry().verify(None)
    }

    /// [`verify`](Self::verify), panicking with the report.
    pub fn assert_verified(&self) {
        if let Err(error) = self.verify() {
            panic!("{error}");
        }
    }

    /// Unmounts every mock and forgets the requests no mock matched.
    pub fn clear_mocks(&self) {
        self.registry().clear();
    }

    fn registry(&self) -> Arc<Registry> {
        self.shared.router().mocks().clone()
    }

    /// On drop: verify, and panic with the report, unless the thread already panics or
    /// the builder said `verify_on_drop(false)`.
    pub(super) fn verify_mocks_on_drop(&self) {
        let registry = self.registry();
        if std::thread::panicking() || registry.skip_verify_on_drop.load(Ordering::Relaxed) {
            return;
        }
        if let Err(error) = registry.verify(None) {
            panic!("{error}");
        }
    }
}

impl ServerBuilder {
    /// Whether dropping the [`Server`] verifies its mocks and panics with the report if
    /// one is not satisfied (default on; never while the thread is already panicking).
    pub fn verify_on_drop(self, verify: bool) -> Self {
        self.router.mocks().skip_verify_on_drop.store(!verify, Ordering::Relaxed);
        self
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
