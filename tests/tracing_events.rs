//! The `tracing` feature: a span per request and an event per connection event, the same
//! events an `on_connection_event` observer sees. A small `Subscriber` records them (no
//! tracing-subscriber needed). Run with `cargo test --features tracing --test tracing_events`.
#![cfg(feature = "tracing")]

mod support;
use support::*;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What one span or event carried: its target, name and fields.
#[derive(Debug, Clone, Default)]
struct Seen {
    target: String,
    name: String,
    fields: BTreeMap<String, String>,
}

impl Visit for Seen {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.fields.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields.insert(field.name().to_owned(), value.to_owned());
    }
}

#[derive(Default)]
struct Recorder {
    spans: Mutex<Vec<Seen>>,
    events: Mutex<Vec<Seen>>,
    next_id: AtomicU64,
}

/// The subscriber handed to `tracing`; the test keeps another handle to read what it saw.
struct Recording(Arc<Recorder>);

impl std::ops::Deref for Recording {
    type Target = Recorder;
    fn deref(&self) -> &Recorder {
        &self.0
    }
}

impl Subscriber for Recording {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("courier")
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut seen = Seen {
            target: span.metadata().target().into(),
            name: span.metadata().name().into(),
            ..Seen::default()
        };
        span.record(&mut seen);
        self.spans.lock().unwrap().push(seen);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some(seen) = spans.get_mut(span.into_u64() as usize - 1) {
            values.record(seen);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut seen =
            Seen { target: event.metadata().target().into(), name: String::new(), ..Seen::default() };
        event.record(&mut seen);
        self.events.lock().unwrap().push(seen);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn requests_are_spans_and_connection_events_are_events() {
    let recorder = Arc::new(Recorder::default());
    let _guard = tracing::subscriber::set_default(Recording(recorder.clone()));
    within(async {
        let answered = AtomicUsize::new(0);
        let server = KeepAlive::start(move |_request: &Received| {
            if answered.fetch_add(1, Ordering::SeqCst) == 0 {
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\n\r\n".to_string()
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_string()
            }
        })
        .await;
        let client = courier::Client::builder().retry(courier::Retry::new()).build().unwrap();
        assert_eq!(client.get(server.url("/a")).send().await.status(), 200);
        assert_eq!(client.get(server.url("/b")).send().await.status(), 200);

        let spans = recorder.spans.lock().unwrap().clone();
        assert_eq!(spans.len(), 2, "{spans:?}");
        for (span, path) in spans.iter().zip(["/a", "/b"]) {
            assert_eq!((span.target.as_str(), span.name.as_str()), ("courier::request", "request"));
            assert_eq!(span.fields["method"], "GET");
            assert_eq!(span.fields["url"], server.url(path));
            assert_eq!(span.fields["status"], "200");
        }

        let events = recorder.events.lock().unwrap().clone();
        let connection: Vec<&str> = events
            .iter()
            .filter(|event| event.target == "courier::connection")
            .map(|event| event.fields["event"].as_str())
            .collect();
        assert_eq!(connection, ["connect", "idle", "backoff", "reuse", "idle", "reuse", "idle"]);
        let origin = format!("http://{}", server.server.addr);
        let backoff =
            events.iter().find(|event| event.fields.get("event").is_some_and(|e| e == "backoff")).unwrap();
        assert_eq!(backoff.fields["status"], "503");
        assert_eq!(backoff.fields["retry"], "1");
        assert_eq!(backoff.fields["pause_ms"], "0");
        assert_eq!(backoff.fields["origin"], origin);
        assert_eq!(backoff.fields["message"], format!("backoff #0 {origin} (503, retry 1 in 0ns)"));
        let connect =
            events.iter().find(|event| event.fields.get("event").is_some_and(|e| e == "connect")).unwrap();
        assert_eq!(connect.fields["id"], "1");
        assert_eq!(connect.fields["address"], server.server.addr.to_string());

        let responses: Vec<&String> = events
            .iter()
            .filter(|event| event.target == "courier::request")
            .map(|event| &event.fields["status"])
            .collect();
        assert_eq!(responses, ["200", "200"]);
    })
    .await;
}
