//! The overall deadline of a request: one instant that bounds the pool wait, connecting,
//! every redirect hop and retry, and the body, beside the activity timeout (which bounds
//! each step but never the total).
//!
//! Which pseudo-status a deadline gives depends on where it struck, by the same rule as
//! every other failure (`ErrorKind::status`): waiting for a connection or connecting is
//! 595, sending the request or reading the head 596, the body 597. The cause is an
//! `io::ErrorKind::TimedOut`, so `Error::is_timeout()` is true for both time bounds.

use std::future::Future;
use std::pin::Pin;

/// `$step.await` bounded by the deadline `$deadline`, as an `io::Result`. Without a
/// deadline the step is awaited as it is; with one it is pinned where it is and
/// [`Deadline::bound`] adds a timer beside it. (A wrapper future that took the step by value
/// would hold it twice or three times over, in a state that every request moves around.)
macro_rules! bounded {
    ($deadline:expr, $step:expr) => {{
        let deadline: &$crate::client::deadline::Deadline = &$deadline;
        if deadline.is_set() {
            deadline.bound(std::pin::pin!($step)).await
        } else {
            Ok($step.await)
        }
    }};
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
    /// cannot outrun it. Without a deadline this is just `step.await`. See [`bounded!`].
    pub(crate) async fn bound<F: Future>(&self, step: Pin<&mut F>) -> io::Result<F::Output> {
        let Some(at) = self.at else { return Ok(step.await) };
        if at <= Instant::now() {
            return Err(self.expired());
        }
        crate::io::until(step, || at).await.ok_or_else(|| self.expired())
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
        assert_eq!(bounded!(deadline, async { 7 }).unwrap(), 7);
        let stalled = bounded!(deadline, std::future::pending::<()>()).unwrap_err();
        assert_eq!(stalled.kind(), io::ErrorKind::TimedOut);
        assert_eq!(stalled.to_string(), "deadline of 2s exceeded");
        // Past the deadline even a ready step fails.
        assert!(bounded!(deadline, async { 7 }).is_err());
        // No deadline: everything passes, any pause is allowed.
        assert!(Deadline::NONE.allows(Duration::MAX));
        let forever = Deadline::after(Some(Duration::MAX));
        assert!(bounded!(forever, async { 1 }).is_ok());
    }
}
