//! `tracing` output (feature `tracing`): a span per request and an event per connection
//! event, the same events [`ConnectionEvent`] gives an observer. Without the feature every
//! function here is an empty inline stub, so the request path has no trace of it.
//!
//! Targets: `courier::request` (the span, and its `response` event) and
//! `courier::connection` (connect, reuse, retry, idle, close, backoff), all at DEBUG.

#[cfg(feature = "tracing")]
mod enabled {
    use crate::client::events::{ConnectionEvent, EventKind};
    use crate::client::prepared::PreparedRequest;
    use crate::client::response::Response;
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
    pub(crate) async fn in_span(span: Span, run: impl Future<Output = Response>) -> Response {
        let response = run.instrument(span.clone()).await;
        let status = response.status().as_u16();
        span.record("status", status);
        tracing::debug!(
            target: "courier::request",
            parent: &span,
            status,
            reason = response.reason(),
            redirects = response.redirects().len(),
            "response"
        );
        response
    }
}

#[cfg(feature = "tracing")]
pub(crate) use enabled::*;

#[cfg(not(feature = "tracing"))]
mod disabled {
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
    pub(crate) fn in_span<F>(_span: Span, run: F) -> F {
        run
    }
}

#[cfg(not(feature = "tracing"))]
pub(crate) use disabled::*;
