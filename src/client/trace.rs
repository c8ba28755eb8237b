//! Where a client's events go: the observer (`on_connection_event`) and, with the
//! `tracing` feature, `tracing`: a span per request and an event per connection event,
//! the same events an observer gets. Without the feature the tracing half is empty inline
//! stubs, so the request path has no trace of it.
//!
//! Targets: `courier::request` (the span, and its `response` event) and
//! `courier::connection` (connect, reuse, retry, idle, close, backoff), all at DEBUG.

use super::events::{ConnectionEvent, Observer};

/// Hands an event to the observer and, with the `tracing` feature, to `tracing`; builds it
/// only if one of them listens (the pool reports several events per request).
pub(crate) fn announce(observer: Option<&Observer>, event: impl FnOnce() -> ConnectionEvent) {
    let traced = connection_events_enabled();
    if observer.is_none() && !traced {
        return;
    }
    let event = event();
    if traced {
        connection_event(&event);
    }
    if let Some(observer) = observer {
        observer(&event);
    }
}

/// What the request span records of a request's outcome: its status, reason and number
/// of redirects (given by the caller, so that this module need not know the `Response`).
pub(crate) type Describe<T> = fn(&T) -> (u16, &str, usize);

#[cfg(feature = "tracing")]
mod enabled {
    use super::Describe;
    use crate::client::events::{ConnectionEvent, EventKind};
    use crate::client::prepared::PreparedRequest;
    use std::future::Future;
    use tracing::Instrument;

    /// The span a request runs in.
    pub(crate) type Span = tracing::Span;

    /// True when a subscriber wants connection events (then they are built at all).
    pub(crate) fn connection_events_enabled() -> bool {
        tracing::enabled!(target: "courier::connection", tracing::Level::DEBUG)
    }

    /// One connection event, with its parts as fields and its `Display` as the message.
    pub(crate) fn connection_event(event: &ConnectionEvent) {
        let (reason, status, retry, pause_ms) = match event.kind {
            EventKind::Close(reason) => (Some(reason.as_str()), None, None, None),
            EventKind::Backoff { status, retry, pause } => {
                (None, Some(status), Some(retry), Some(pause.as_millis() as u64))
            }
            _ => (None, None, None, None),
        };
        tracing::debug!(
            target: "courier::connection",
            event = event.kind.name(),
            id = event.id,
            origin = %event.target,
            address = event.address.map(tracing::field::display),
            session = event.session.as_deref(),
            reason,
            status,
            retry,
            pause_ms,
            "{event}"
        );
    }

    /// The span for `request`: its method and URL; the final status is recorded on it.
    pub(crate) fn request_span(request: &PreparedRequest) -> Span {
        tracing::debug_span!(
            target: "courier::request",
            "request",
            method = %request.method,
            url = %request.url,
            status = tracing::field::Empty,
        )
    }

    /// Runs the request inside `span`, then records its status and emits a `response`
    /// event (with the reason: for 595..599 it says what went wrong).
    pub(crate) async fn in_span<T>(span: Span, run: impl Future<Output = T>, describe: Describe<T>) -> T {
        let output = run.instrument(span.clone()).await;
        let (status, reason, redirects) = describe(&output);
        span.record("status", status);
        tracing::debug!(target: "courier::request", parent: &span, status, reason, redirects, "response");
        output
    }
}

#[cfg(feature = "tracing")]
pub(crate) use enabled::*;

#[cfg(not(feature = "tracing"))]
mod disabled {
    use super::Describe;
    use crate::client::events::ConnectionEvent;
    use crate::client::prepared::PreparedRequest;

    /// No span without the feature.
    pub(crate) struct Span;

    #[inline(always)]
    pub(crate) fn connection_events_enabled() -> bool {
        false
    }

    #[inline(always)]
    pub(crate) fn connection_event(_event: &ConnectionEvent) {}

    #[inline(always)]
    pub(crate) fn request_span(_request: &PreparedRequest) -> Span {
        Span
    }

    /// The request future itself: no wrapper at all.
    #[inline(always)]
    pub(crate) fn in_span<F: std::future::Future>(_span: Span, run: F, _describe: Describe<F::Output>) -> F {
        run
    }
}

#[cfg(not(feature = "tracing"))]
pub(crate) use disabled::*;
