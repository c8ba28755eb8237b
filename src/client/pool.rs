//! The connection pool: a per-key connection limit with a FIFO queue, and the idle cache.
//!
//! A *slot* is the right to hold one open connection for a [`PoolKey`]; at most
//! `max_per_host` slots exist per key. A request takes a [`Lease`] (a slot, plus an idle
//! connection when one is cached), connects if it has to, and when it is done either checks
//! the connection back in (read cleanly to the end, reusable) or drops the lease: the socket
//! closes and the slot goes straight to the first waiter, so the limit holds at every moment.
//!
//! One reaper task per pool watches the idle connections: it closes them when they have been
//! idle for `persistent_timeout`, and as soon as the peer closes them (it is woken by their
//! read readiness, so nothing is ever written to find out).

use super::events::{CloseReason, ConnectionEvent, EventKind, Observer};
use super::proxy::ProxyServer;
use super::trace::announce;
use crate::io::{IdleCheck, Wire};
use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Why an idle connection cannot be reused, or `None` when it can.
fn why_closed(check: IdleCheck) -> Option<CloseReason> {
    match check {
        IdleCheck::Usable => None,
        IdleCheck::Closed => Some(CloseReason::PeerClosedIdle),
        IdleCheck::UnaskedBytes => Some(CloseReason::UnaskedBytes),
    }
}

/// A connection event about `key`'s connection `id`.
fn event(kind: EventKind, key: &PoolKey, id: u64) -> ConnectionEvent {
    ConnectionEvent::about(kind, &key.scheme, &key.host, key.port, key.session.as_ref(), id)
}

/// What a cached connection must match to be reused. Connections made for one key are
/// never handed to a request with another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The request's session id: only connections made under the same id are reused.
    pub(crate) session: Option<String>,
    /// The TLS mode of https connections (`None` for http): a connection made under one
    /// mode is never reused under another.
    pub(crate) tls: Option<TlsTag>,
    /// The proxy the connection goes through: never reused under another proxy.
    pub(crate) proxy: Option<ProxyServer>,
    /// The current-thread runtime that opened the connection (by its thread): a socket is
    /// registered with one runtime's reactor and dies with it, so it is never handed to a
    /// request on another (e.g. the global client across `#[tokio::test]` runtimes).
    pub(crate) runtime: Option<std::thread::ThreadId>,
}

/// The pool scope of the calling runtime: its thread for a current-thread runtime (whose
/// tasks all run there), none for a multi-thread runtime (whose tasks move between workers,
/// and whose connections may be shared).
pub(crate) fn runtime_scope() -> Option<std::thread::ThreadId> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    (handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
        .then(|| std::thread::current().id())
}

/// Identifies a TLS mode in the pool key (custom configs by the config's identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) enum TlsTag {
    High,
    Low,
    Custom(usize),
}

#[cfg(feature = "tls")]
impl TlsTag {
    /// The tag of a TLS mode: a connection made under one mode is never reused under
    /// another (custom configs by the identity of their `Arc`).
    pub(crate) fn of(tls: &crate::tls::Tls) -> Self {
        match tls {
            crate::tls::Tls::High => Self::High,
            crate::tls::Tls::Low => Self::Low,
            crate::tls::Tls::Custom(config) => Self::Custom(std::sync::Arc::as_ptr(config) as usize),
        }
    }
}

/// Counts for one pool key, from [`Client::pool_stats`](crate::Client::pool_stats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStats {
    /// `http` or `https`.
    pub scheme: String,
    /// The host as in the URL.
    pub host: String,
    /// The port, default filled in.
    pub port: u16,
    /// The session id the connections were made under.
    pub session: Option<String>,
    /// Slots in use: open connections plus connections being opened (≤ `max_per_host`).
    pub open: usize,
    /// Open connections waiting in the cache for the next request.
    pub idle: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
}

/// A snapshot of the pool, from [`Client::pool_stats`](crate::Client::pool_stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections in use by a request (open or being opened): AnyEvent::HTTP's `$ACTIVE`.
    pub active: usize,
    /// Idle connections in the cache.
    pub idle: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
    /// The same counts per key, for keys with anything open or queued.
    pub hosts: Vec<HostStats>,
}

/// A client's pool. Cheap to clone; all clones share the same connections.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    /// Most slots per key (AnyEvent::HTTP's `$MAX_PER_HOST`).
    max_per_host: usize,
    /// How long a connection may sit idle before it is closed (`$PERSISTENT_TIMEOUT`).
    idle_timeout: Duration,
    /// Told about connects, reuses, retries, check-ins and closes.
    observer: Option<Observer>,
    state: Mutex<State>,
}

/// Pool keys are hashed twice per request: a fast seeded hasher, not SipHash.
type Hosts = HashMap<PoolKey, Host, foldhash::fast::RandomState>;

#[derive(Default)]
struct State {
    hosts: Hosts,
    /// Source of connection and waiter ids.
    next_id: u64,
    /// The reaper task watching the idle connections, if one was started. It can end
    /// without telling us (its runtime shut down), so liveness is `!is_finished()`.
    reaper: Option<tokio::task::JoinHandle<()>>,
    /// The running reaper's waker: a connection that goes idle registers its readiness
    /// with it, so the reaper hears of a peer closing it without being woken now.
    reaper_waker: Option<Waker>,
    /// When the reaper sweeps next (`None`: it has no timer, so a new idle connection must
    /// wake it). Deadlines only move later, so a reaper with one will see a connection that
    /// went idle since in time.
    reaper_deadline: Option<Instant>,
}

/// Frees one of `key`'s slots (never below zero: a lease always holds a counted one), and
/// forgets the key once nothing is open or waiting.
fn release_slot(hosts: &mut Hosts, key: &PoolKey) {
    if let Some(host) = hosts.get_mut(key) {
        host.slots = host.slots.saturating_sub(1);
        if host.slots == 0 && host.waiters.is_empty() {
            hosts.remove(key);
        }
    }
}

/// The entry for `key`, made on first use (the key is cloned only then).
fn host_entry<'a>(hosts: &'a mut Hosts, key: &PoolKey) -> &'a mut Host {
    if !hosts.contains_key(key) {
        let host =
            Host { key: Arc::new(key.clone()), slots: 0, idle: VecDeque::new(), waiters: VecDeque::new() };
        hosts.insert(key.clone(), host);
    }
    hosts.get_mut(key).expect("inserted above")
}

struct Host {
    /// The key, shared with the leases of this host (cheaper than a clone per request).
    key: Arc<PoolKey>,
    /// Slots in use: open connections (idle or not) plus ones being opened.
    slots: usize,
    /// Idle connections, oldest first. Never non-empty while `waiters` is: a connection
    /// that comes back while someone waits goes to them instead.
    idle: VecDeque<Idle>,
    /// Requests waiting for a slot, first come first served.
    waiters: VecDeque<Waiter>,
}

struct Idle {
    connection: Wire,
    id: u64,
    since: Instant,
}

struct Waiter {
    id: u64,
    /// Whether the request may take a cached connection (non-persistent ones may not).
    reuse: bool,
    grant: oneshot::Sender<Lease>,
}

/// A request's hold on a slot. The request owns the connection itself while it uses it.
///
/// Dropping the lease frees the slot (the request drops its connection, closing it);
/// [`check_in`](Self::check_in) instead returns the connection for the next request.
pub(crate) struct Lease {
    shared: Arc<Shared>,
    key: Arc<PoolKey>,
    /// A cached connection handed over with the slot, until the request takes it.
    cached: Option<(Wire, u64)>,
    /// The id of the connection the request is using, for events.
    connection_id: Option<u64>,
    /// False once the slot has been passed on (so `Drop` must not release it again).
    armed: bool,
}

impl Pool {
    pub(crate) fn new(max_per_host: usize, idle_timeout: Duration, observer: Option<Observer>) -> Self {
        let shared =
            Shared { max_per_host: max_per_host.max(1), idle_timeout, observer, state: Mutex::default() };
        Self { shared: Arc::new(shared) }
    }

    /// Waits for a slot for `key` (first come, first served) and returns it, with a cached
    /// connection when `reuse` allows one and a live one is idle. Cancel-safe: dropping the
    /// future leaves the queue at once.
    pub(crate) async fn acquire(&self, key: &PoolKey, reuse: bool) -> Lease {
        loop {
            let (waiter_id, granted) = match self.shared.try_acquire(key, reuse) {
                Ok(lease) => return lease,
                Err(queued) => queued,
            };
            let mut queued = QueuedGuard { shared: &self.shared, key, id: Some(waiter_id) };
            if let Ok(lease) = granted.await {
                queued.id = None;
                return lease;
            }
            // The sender vanished without a grant (cannot happen while the pool lives);
            // queue again rather than fail.
        }
    }

    /// Tells the client's observer (and `tracing`) about an event that is not the pool's
    /// own, e.g. a retry's backoff. Never called with the pool locked.
    pub(crate) fn announce(&self, event: impl FnOnce() -> ConnectionEvent) {
        announce(self.shared.observer.as_ref(), event);
    }

    /// Counts of what is open, idle and queued.
    pub(crate) fn stats(&self) -> PoolStats {
        let state = self.shared.lock();
        let mut stats = PoolStats::default();
        for (key, host) in &state.hosts {
            let busy = host.slots - host.idle.len();
            stats.active += busy;
            stats.idle += host.idle.len();
            stats.queued += host.waiters.len();
            stats.hosts.push(HostStats {
                scheme: key.scheme.clone(),
                host: key.host.clone(),
                port: key.port,
                session: key.session.clone(),
                open: host.slots,
                idle: host.idle.len(),
                queued: host.waiters.len(),
            });
        }
        stats.hosts.sort_by(|a, b| (&a.host, a.port, &a.scheme).cmp(&(&b.host, b.port, &b.scheme)));
        stats
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves counts that are still consistent
        // (every update is a single step), so carry on rather than poison every request.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the observer, if any. Never called with the state locked: an observer may
    /// well ask for `stats()`.
    fn notify(&self, kind: EventKind, key: &PoolKey, id: u64) {
        announce(self.observer.as_ref(), || event(kind, key, id));
    }

    /// A lease at once if a slot is free, else a place in the queue.
    #[allow(clippy::type_complexity)]
    fn try_acquire(
        self: &Arc<Self>,
        key: &PoolKey,
        reuse: bool,
    ) -> Result<Lease, (u64, oneshot::Receiver<Lease>)> {
        let mut events = Vec::new();
        let mut closed = Vec::new();
        let outcome = {
            let mut state = self.lock();
            let State { hosts, next_id, .. } = &mut *state;
            let host = host_entry(hosts, key);
            let mut reused = None;
            if reuse {
                // Newest first: the connection least likely to have been closed meanwhile.
                let mut probe = Context::from_waker(Waker::noop());
                while let Some(mut idle) = host.idle.pop_back() {
                    let gone = if idle.since.elapsed() >= self.idle_timeout {
                        Some(CloseReason::IdleTimeout)
                    } else {
                        why_closed(idle.connection.poll_idle(&mut probe))
                    };
                    let Some(reason) = gone else {
                        reused = Some((idle.connection, idle.id));
                        break;
                    };
                    host.slots -= 1;
                    events.push((EventKind::Close(reason), idle.id));
                    closed.push(idle.connection);
                }
            }
            if let Some(connection) = reused {
                Ok(Lease::new(self, &host.key, Some(connection)))
            } else if host.slots < self.max_per_host {
                host.slots += 1;
                Ok(Lease::new(self, &host.key, None))
            } else if let Some(oldest) = host.idle.pop_front() {
                // A request that may not reuse must not wait behind idle connections: it
                // takes the slot of the oldest one, which closes.
                events.push((EventKind::Close(CloseReason::SlotNeeded), oldest.id));
                closed.push(oldest.connection);
                Ok(Lease::new(self, &host.key, None))
            } else {
                *next_id += 1;
                let (grant, granted) = oneshot::channel();
                host.waiters.push_back(Waiter { id: *next_id, reuse, grant });
                Err((*next_id, granted))
            }
        };
        drop(closed);
        for (kind, id) in events {
            self.notify(kind, key, id);
        }
        outcome
    }

    /// Returns a slot, with its connection if that can be reused: to the first waiter if
    /// there is one, else to the idle cache (connection) or the free count (no connection).
    fn give_back(self: &Arc<Self>, key: &PoolKey, mut connection: Option<(Wire, u64)>) {
        let mut idle_id = None;
        let mut closed = Vec::new();
        let mut closed_ids = Vec::new();
        let mut wake_reaper = None;
        let mut gone_at_check_in = None;
        {
            let mut state = self.lock();
            let State { hosts, reaper, reaper_waker, reaper_deadline, .. } = &mut *state;
            let host = host_entry(hosts, key);
            let mut handed_over = false;
            while let Some(waiter) = host.waiters.pop_front() {
                if !waiter.reuse {
                    // It wants a fresh connection: it gets the slot, the connection closes.
                    if let Some((refused, id)) = connection.take() {
                        closed.push(refused);
                        closed_ids.push(id);
                    }
                }
                let lease = Lease::new(self, &host.key, connection.take());
                match waiter.grant.send(lease) {
                    Ok(()) => {
                        handed_over = true;
                        break;
                    }
                    // That waiter was cancelled a moment ago: take the lease back, try the next.
                    Err(mut lease) => {
                        lease.armed = false;
                        connection = lease.cached.take();
                    }
                }
            }
            let mut start_reaper = false;
            if !handed_over {
                match connection {
                    // An idle timeout of zero keeps nothing idle (and needs no reaper).
                    Some((connection, id)) if self.idle_timeout.is_zero() => {
                        closed.push(connection);
                        gone_at_check_in = Some((id, CloseReason::IdleTimeout));
                        release_slot(hosts, key);
                    }
                    Some((mut connection, id)) => {
                        start_reaper = reaper.as_ref().is_none_or(|reaper| reaper.is_finished());
                        // The running reaper watches this socket from now on (a peer close
                        // wakes it); it only needs waking itself if it has no timer to
                        // come back by. A socket that is closed already, or has sent
                        // something unasked (the probe took a byte of it), is not cached.
                        let gone = match (start_reaper, reaper_waker.as_ref()) {
                            (false, Some(waker)) => {
                                why_closed(connection.poll_idle(&mut Context::from_waker(waker)))
                            }
                            _ => None,
                        };
                        if let Some(reason) = gone {
                            closed.push(connection);
                            gone_at_check_in = Some((id, reason));
                            release_slot(hosts, key);
                        } else {
                            if reaper_deadline.is_none() {
                                wake_reaper = reaper_waker.take();
                            }
                            host.idle.push_back(Idle { connection, id, since: Instant::now() });
                            idle_id = Some(id);
                        }
                    }
                    None => release_slot(hosts, key),
                }
            }
            if start_reaper {
                // Outside a tokio runtime there is no reaper; idle connections then expire
                // when the next request looks at them.
                *reaper = tokio::runtime::Handle::try_current()
                    .ok()
                    .map(|runtime| runtime.spawn(reap(Arc::downgrade(self))));
            }
        };
        drop(closed);
        if let Some(reaper) = wake_reaper {
            reaper.wake();
        }
        for id in closed_ids {
            self.notify(EventKind::Close(CloseReason::NextWantsNew), key, id);
        }
        if let Some(id) = idle_id {
            self.notify(EventKind::Idle, key, id);
        }
        if let Some((id, reason)) = gone_at_check_in {
            self.notify(EventKind::Close(reason), key, id);
        }
    }

    /// The reaper's pass: closes expired and peer-closed idle connections (registering
    /// `cx` on the others), and says when the next one expires; `None` when none are idle.
    fn sweep(&self, cx: &mut Context<'_>) -> Option<Instant> {
        let mut closed = Vec::new();
        let mut next_expiry: Option<Instant> = None;
        {
            let mut state = self.lock();
            let now = Instant::now();
            for (key, host) in state.hosts.iter_mut() {
                let mut kept = VecDeque::with_capacity(host.idle.len());
                for mut idle in host.idle.drain(..) {
                    // (`None`: an idle timeout too long to represent never expires.)
                    let expiry = idle.since.checked_add(self.idle_timeout);
                    let reason = if expiry.is_some_and(|expiry| expiry <= now) {
                        CloseReason::IdleTimeout
                    } else if let Some(reason) = why_closed(idle.connection.poll_idle(cx)) {
                        reason
                    } else {
                        if let Some(expiry) = expiry {
                            next_expiry = Some(next_expiry.map_or(expiry, |next| next.min(expiry)));
                        }
                        kept.push_back(idle);
                        continue;
                    };
                    // No one waits for this key: waiters and idle connections never coexist
                    // (a returning connection goes to the first waiter; a request that may
                    // not reuse takes an idle connection's slot instead of waiting).
                    host.slots -= 1;
                    closed.push((key.clone(), idle, reason));
                }
                host.idle = kept;
            }
            state.hosts.retain(|_, host| host.slots > 0 || !host.waiters.is_empty());
            // With nothing idle the reaper still comes back after one idle timeout rather
            // than ending: a check-in then never has to spawn or wake it (it registers the
            // socket with the reaper's waker), and a connection that went idle meanwhile
            // cannot expire before the reaper looks again.
            let next = next_expiry.or_else(|| now.checked_add(self.idle_timeout));
            state.reaper_waker = Some(cx.waker().clone());
            state.reaper_deadline = next;
            next_expiry = next;
        }
        // Sockets close and the observer hears of it with the lock released.
        for (key, idle, reason) in closed {
            drop(idle.connection);
            self.notify(EventKind::Close(reason), &key, idle.id);
        }
        next_expiry
    }

    fn next_id(&self) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        state.next_id
    }
}

/// The reaper: sleeps until the next idle connection expires or any idle peer closes, then
/// sweeps. Holds the pool weakly, so a dropped client takes its idle sockets with it.
async fn reap(pool: Weak<Shared>) {
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    poll_fn(|cx| loop {
        let Some(shared) = pool.upgrade() else { return Poll::Ready(()) };
        let Some(next_expiry) = shared.sweep(cx) else { return Poll::Ready(()) };
        timer.as_mut().reset(next_expiry);
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
    })
    .await
}

/// Removes a cancelled request from the queue, so it leaves at once and never gets a slot.
struct QueuedGuard<'a> {
    shared: &'a Arc<Shared>,
    key: &'a PoolKey,
    id: Option<u64>,
}

impl Drop for QueuedGuard<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let mut state = self.shared.lock();
        if let Some(host) = state.hosts.get_mut(self.key) {
            host.waiters.retain(|waiter| waiter.id != id);
        }
        // If a grant was already sent, the lease inside the dropped receiver frees the slot
        // again through its own Drop.
    }
}

impl Lease {
    fn new(shared: &Arc<Shared>, key: &Arc<PoolKey>, cached: Option<(Wire, u64)>) -> Self {
        Self { shared: shared.clone(), key: key.clone(), cached, connection_id: None, armed: true }
    }

    /// The cached connection that came with the slot, if any (the observer hears "reuse").
    pub(crate) fn take_cached(&mut self) -> Option<Wire> {
        let (connection, id) = self.cached.take()?;
        self.connection_id = Some(id);
        self.shared.notify(EventKind::Reuse, &self.key, id);
        Some(connection)
    }

    /// The request opened a new connection under this slot (to `address`, when known).
    pub(crate) fn opened(&mut self, address: Option<std::net::SocketAddr>) {
        let id = self.shared.next_id();
        self.connection_id = Some(id);
        announce(self.shared.observer.as_ref(), || {
            let mut event = event(EventKind::Connect, &self.key, id);
            event.address = address;
            event
        });
    }

    /// The request dropped a reused connection that failed before any response byte and
    /// will retry on a new one under the same slot.
    pub(crate) fn retrying(&mut self) {
        if let Some(id) = self.connection_id.take() {
            self.shared.notify(EventKind::Close(CloseReason::FailedBeforeResponse), &self.key, id);
            self.shared.notify(EventKind::Retry, &self.key, id);
        }
    }

    /// The connection goes to the caller for good (a body handle): it leaves the pool and
    /// the slot is freed.
    pub(crate) fn hand_over(mut self) {
        if let Some(id) = self.connection_id.take() {
            self.shared.notify(EventKind::Close(CloseReason::HandedOver), &self.key, id);
        }
    }

    /// Ends the request's use of `connection`: checks it in when nothing blocks its reuse,
    /// else closes it saying why. Bytes after the response mean the server said more than
    /// it framed: those must never be read as the next response.
    pub(crate) fn release(self, connection: Wire, blocker: Option<CloseReason>) {
        match blocker {
            None if connection.has_unread_bytes() => self.close(connection, CloseReason::BytesAfterResponse),
            None => self.check_in(connection),
            Some(reason) => self.close(connection, reason),
        }
    }

    /// The connection cannot serve another request: close it (saying why) and free the slot.
    pub(crate) fn close(mut self, connection: Wire, reason: CloseReason) {
        drop(connection);
        if let Some(id) = self.connection_id.take() {
            self.shared.notify(EventKind::Close(reason), &self.key, id);
        }
    }

    /// The response was read cleanly to the end: `connection` can serve the next request.
    pub(crate) fn check_in(mut self, connection: Wire) {
        self.armed = false;
        let id = self.connection_id.take().unwrap_or_else(|| self.shared.next_id());
        self.shared.give_back(&self.key, Some((connection, id)));
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // A cached connection nobody took (the request failed first) closes with the lease.
        let untouched = self.cached.take().map(|(connection, id)| {
            drop(connection);
            id
        });
        if let Some(id) = self.connection_id.take().or(untouched) {
            self.shared.notify(EventKind::Close(CloseReason::NotReturned), &self.key, id);
        }
        self.shared.give_back(&self.key, None);
    }
}
