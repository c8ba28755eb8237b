//! The overall deadline of a request: one instant that bounds the pool wait, connecting,
//! every redirect hop and retry, and the body, beside the activity timeout (which bounds
//! each step but never the total).
//!
//! Which pseudo-status a deadline gives depends on where it struck, by the same rule as
//! every other failure (`ErrorKind::status`): waiting for a connection or connecting is
//! 595, sending the request or reading the head 596, the body 597. The cause is an
//! `io::ErrorKind::TimedOut`, so `Error::is_timeout()` is true for both time bounds.

use std::future::Future;

/// `$step.await` bounded by the deadline `$deadline`, as an `io::Result`. Without a
/// deadline the step is awaited as it is: a wrapper future would move the step into itself
/// first (a `memcpy` of the step's state on every call, on the path of every request).
macro_rules! bounded {
    ($deadline:expr, $step:expr) => {
        match $deadline.is_set() {
            false => Ok($step.await),
            true => $deadline.bound($step).await,
        }
    };
}
pub(crate) use bounded;
use std::io;
use std::time::Duration;
use tokio::time::Instant;

/// When a request must be over, if it has a deadline. `Copy`: a streamed body keeps its
/// own copy after the request has returned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// `None`: no deadline; every bound is then a plain `.await`.
    at: Option<Instant>,
    /// The length it was set with, for the error message.
    limit: Duration,
}

impl Deadline {
    /// No deadline.
    pub(crate) const NONE: Self = Self { at: None, limit: Duration::ZERO };

    /// A deadline `limit` from now (saturating: `Duration::MAX` is "never"); none for `None`.
    pub(crate) fn after(limit: Option<Duration>) -> Self {
        match limit {
            Some(limit) => Self { at: Some(crate::io::deadline_after(limit)), limit },
            None => Self::NONE,
        }
    }

    /// True when the request has a deadline (else every bound is a plain `.await`).
    pub(crate) fn is_set(&self) -> bool {
        self.at.is_some()
    }

    /// True when a pause of `pause` would end before the deadline (always, without one).
    pub(crate) fn allows(&self, pause: Duration) -> bool {
        self.at.is_none_or(|at| Instant::now().checked_add(pause).is_some_and(|end| end < at))
    }

    /// Runs `step` unless the deadline strikes first (`Err`, a `TimedOut` error). Checked
    /// before each step too, so a body that is always ready (a fast, endless stream)
    /// cannot outrun it. Without a deadline this is just `step.await`.
    pub(crate) async fn bound<F: Future>(&self, step: F) -> io::Result<F::Output> {
        let Some(at) = self.at else { return Ok(step.await) };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.expired());
        }
        crate::io::within(left, step).await.map_err(|_| self.expired())
    }

    /// The cause of a deadline failure.
    pub(crate) fn expired(&self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, format!("deadline of {:?} exceeded", self.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_deadline_bounds_steps_and_pauses() {
        let deadline = Deadline::after(Some(Duration::from_secs(2)));
        assert!(deadline.allows(Duration::from_secs(1)));
        assert!(!deadline.allows(Duration::from_secs(2)));
        assert_eq!(deadline.bound(async { 7 }).await.unwrap(), 7);
        let stalled = deadline.bound(std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(stalled.kind(), io::ErrorKind::TimedOut);
        assert_eq!(stalled.to_string(), "deadline of 2s exceeded");
        // Past the deadline even a ready step fails.
        assert!(deadline.bound(async { 7 }).await.is_err());
        // No deadline: everything passes, any pause is allowed.
        assert!(Deadline::NONE.allows(Duration::MAX));
        let forever = Deadline::after(Some(Duration::MAX));
        assert!(forever.bound(async { 1 }).await.is_ok());
    }
}
