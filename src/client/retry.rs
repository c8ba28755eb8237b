//! The retry policy: which failed attempts are sent again, after which pause, and the
//! bounds on both (attempts, total pause, the request's deadline).

use super::deadline::Deadline;
use super::prepared::PreparedRequest;
use super::response::Response;
use crate::error::ErrorKind;
use http::{HeaderMap, StatusCode};
use std::time::{Duration, SystemTime};

/// When to send a request again: opt-in, for
/// [`ClientBuilder::retry`](crate::ClientBuilder::retry) or
/// [`RequestBuilder::retry`](crate::RequestBuilder::retry).
///
/// An attempt is retried when it ended in one of these, and only these:
///
/// | outcome | why it is safe to repeat |
/// |---|---|
/// | 595 (connect failed, or no connection in time) | nothing reached the server |
/// | 596 (sending, or the response head, failed), but not a TLS failure | the server may have seen the request, so idempotent methods only |
/// | 503 Service Unavailable, 429 Too Many Requests | the server asks to come back later; its `Retry-After` is honoured |
///
/// Never retried: 597 (the response had started: `on_body` or `on_progress` may have
/// seen part of it, and most 597s are limits or malformed bodies that repeat every
/// time), 598 (the caller aborted), 599 (the request itself is wrong), TLS failures (a
/// bad certificate stays bad), and any other status.
///
/// Further conditions:
/// - **Idempotent methods only** (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), unless
///   [`any_method`](Self::any_method) says otherwise.
/// - **Replayable bodies only**: a body in memory (`body`, `form`, `json`) can be sent
///   again, a streamed one (`body_stream`, `body_reader`, `body_file`, `multipart`)
///   cannot, as with [`RequestBuilder::try_clone`](crate::RequestBuilder::try_clone).
/// - **Bounded**: at most [`max_retries`](Self::max_retries) retries; pauses double from
///   the first one up to a maximum (no jitter: `Retry-After` is how a server spreads
///   its clients); the pauses together stay within
///   [`max_total_pause`](Self::max_total_pause); and no pause may end past the request's
///   [`deadline`](crate::RequestBuilder::deadline). An attempt that may not be retried
///   is the response, so the last 503 (or 595) is what the caller gets.
/// - **`Retry-After`** (seconds or an HTTP date) replaces the computed pause. One that
///   asks for more than the remaining pause budget is not waited for: the 503 or 429
///   is returned as it is, because retrying sooner than asked would only be refused.
///
/// A retried attempt is not seen by `on_header` or `on_body` (like a redirect hop): they
/// see the final response only. Each retry is reported as an
/// [`EventKind::Backoff`](crate::EventKind::Backoff) connection event (and a `tracing`
/// event with the `tracing` feature).
///
/// ```
/// use std::time::Duration;
/// use courier::Retry;
/// let client = courier::Client::builder()
///     .retry(Retry::new().max_retries(3).backoff(Duration::from_millis(100), Duration::from_secs(2)))
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    max_retries: u32,
    first_pause: Duration,
    max_pause: Duration,
    max_total_pause: Duration,
    any_method: bool,
}

/// [`Retry::new`]'s number of retries (so 3 attempts in all).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// [`Retry::new`]'s first pause; later ones double.
pub const DEFAULT_FIRST_PAUSE: Duration = Duration::from_millis(250);
/// [`Retry::new`]'s longest single pause.
pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(4);
/// [`Retry::new`]'s bound on all pauses of one request together (`Retry-After` included).
pub const DEFAULT_MAX_TOTAL_PAUSE: Duration = Duration::from_secs(10);

impl Default for Retry {
    fn default() -> Self {
        Self::new()
    }
}

impl Retry {
    /// [`DEFAULT_MAX_RETRIES`] retries, pauses from [`DEFAULT_FIRST_PAUSE`] doubling up
    /// to [`DEFAULT_MAX_PAUSE`], at most [`DEFAULT_MAX_TOTAL_PAUSE`] in all.
    pub fn new() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            first_pause: DEFAULT_FIRST_PAUSE,
            max_pause: DEFAULT_MAX_PAUSE,
            max_total_pause: DEFAULT_MAX_TOTAL_PAUSE,
            any_method: false,
        }
    }

    /// No retries (the default of a client): e.g. to turn a client's policy off for one
    /// request.
    pub fn none() -> Self {
        Self::new().max_retries(0)
    }

    /// Most retries after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first pause, and the longest any one pause may grow to by doubling.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_pause = first;
        self.max_pause = max.max(first);
        self
    }

    /// The most time one request may spend pausing between attempts, `Retry-After`
    /// included.
    pub fn max_total_pause(mut self, total: Duration) -> Self {
        self.max_total_pause = total;
        self
    }

    /// Retry non-idempotent methods too (POST, PATCH, ...). Only for requests the caller
    /// knows to be safe to repeat, e.g. ones carrying an idempotency key: a 596 may come
    /// after the server has acted on the request.
    pub fn any_method(mut self, allow: bool) -> Self {
        self.any_method = allow;
        self
    }

    /// The pause before retry number `retry` (0 for the first): doubled each time, up to
    /// the maximum; saturating.
    fn backoff_pause(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.first_pause.saturating_mul(factor).min(self.max_pause)
    }
}

/// One request's use of its policy: retries made and time paused so far.
#[derive(Debug)]
pub(crate) struct Attempts {
    policy: Option<Retry>,
    /// A body sent from memory, which can be sent again.
    replayable: bool,
    retries: u32,
    paused: Duration,
}

impl Attempts {
    pub(crate) fn new(policy: Option<Retry>, replayable: bool) -> Self {
        Self { policy, replayable, retries: 0, paused: Duration::ZERO }
    }

    /// Retries made so far.
    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// The pause before sending `request` again after `response`, or `None` when this
    /// response is the answer. Counts the retry when it returns a pause.
    pub(crate) fn pause_after(
        &mut self,
        request: &PreparedRequest,
        response: &Response,
        deadline: &Deadline,
    ) -> Option<Duration> {
        let policy = self.policy.as_ref()?;
        if self.retries >= policy.max_retries
            || !self.replayable
            || !(policy.any_method || request.is_idempotent())
        {
            return None;
        }
        let pause = match response.error().map(|error| error.kind()) {
            Some(ErrorKind::Connect | ErrorKind::Send | ErrorKind::ResponseHead) => {
                policy.backoff_pause(self.retries)
            }
            Some(_) => return None,
            None if matches!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ) =>
            {
                retry_after(response.headers(), SystemTime::now())
                    .unwrap_or_else(|| policy.backoff_pause(self.retries))
            }
            None => return None,
        };
        let paused = self.paused.checked_add(pause)?;
        if paused > policy.max_total_pause || !deadline.allows(pause) {
            return None;
        }
        self.retries += 1;
        self.paused = paused;
        Some(pause)
    }
}

/// The pause a `Retry-After` field asks for (RFC 9110 §10.2.3): delay-seconds, or an
/// HTTP date (a date in the past means now). `None` without one or when it is garbled.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "a very long time", not garbage.
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let at = crate::parse_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, retry_after.parse().unwrap());
        headers
    }

    #[test]
    fn pauses_double_up_to_the_maximum_and_never_overflow() {
        let policy = Retry::new().backoff(Duration::from_millis(100), Duration::from_millis(350));
        let pauses: Vec<u128> = (0..5).map(|retry| policy.backoff_pause(retry).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 350, 350, 350]);
        let huge = Retry::new().backoff(Duration::MAX, Duration::MAX);
        assert_eq!(huge.backoff_pause(40), Duration::MAX);
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = crate::parse_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after(&headers("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&headers(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(Duration::from_secs(30))
        );
        // A date in the past: at once.
        assert_eq!(retry_after(&headers("Sun, 06 Nov 1994 08:00:00 GMT"), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("99999999999999999999999"), now), Some(Duration::MAX));
        assert_eq!(retry_after(&headers("-5"), now), None);
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
