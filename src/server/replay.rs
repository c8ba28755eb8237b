//! Replay: a [`Recording`] mounted as mocks, and saved to or loaded from a JSON file.

use super::form::parse_urlencoded;
use super::forward::{Exchange, Recording};
use super::mock::{when, MockHandle};
use super::Server;

impl Server {
    /// Mounts each recorded exchange as a mock that answers its method, path and query
    /// parameters (and its body, when it had one) with the recorded status, headers and
    /// body. Exchanges of the same request are answered in the order recorded: each is
    /// used up after one hit except the last, which then answers every repeat.
    ///
    /// The mocks have no expectations; set them on the handles if you want some. Each
    /// is named `replay N: METHOD TARGET`.
    pub fn replay(&self, recording: &Recording) -> Vec<MockHandle> {
        let exchanges = recording.exchanges();
        exchanges
            .iter()
            .enumerate()
            .map(|(index, exchange)| {
                let (path, query) = exchange.target.split_once('?').unwrap_or((&exchange.target, ""));
                let mut matching = when().method(exchange.method.as_str()).path(path);
                for (name, value) in parse_urlencoded(query) {
                    matching = matching.query(name, value);
                }
                if !exchange.request_body.is_empty() {
                    matching = matching.body(exchange.request_body.clone());
                }
                let name = format!("replay {}: {} {}", index + 1, exchange.method, exchange.target);
                let mock = self.mock(matching).respond(exchange.reply()).named(name);
                let repeated = exchanges[index + 1..].iter().any(|later| same_request(later, exchange));
                if repeated {
                    mock.up_to_n_times(1)
                } else {
                    mock
                }
            })
            .collect()
    }
}

fn same_request(a: &Exchange, b: &Exchange) -> bool {
    a.method == b.method && a.target == b.target && a.request_body == b.request_body
}

#[cfg(feature = "json")]
mod file {
    //! The file format: one JSON object, `{"courier_recording": 1, "exchanges": [..]}`;
    //! each exchange has a `request` (method, target, headers, body) and a `response`
    //! (status, headers, body). Headers are `[name, value]` pairs in order; a body is
    //! `"body": text` when it is UTF-8, else `"body_base64"`.

    use super::super::forward::{Exchange, Recording};
    use bytes::Bytes;
    use http::header::{HeaderName, HeaderValue};
    use http::{HeaderMap, Method, StatusCode};
    use serde_json::{json, Map, Value};
    use std::io;
    use std::path::Path;

    /// The format's version, written to every file and checked on loading.
    const VERSION: u64 = 1;

    impl Recording {
        /// The recording as JSON text (the file format of [`save`](Self::save)).
        pub fn to_json(&self) -> String {
            let exchanges: Vec<Value> = self.exchanges.iter().map(exchange_to_json).collect();
            let document = json!({"courier_recording": VERSION, "exchanges": exchanges});
            serde_json::to_string_pretty(&document).unwrap_or_default()
        }

        /// Reads JSON text written by [`to_json`](Self::to_json).
        pub fn from_json(text: &str) -> io::Result<Self> {
            let document: Value =
                serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
            if document.get("courier_recording").and_then(Value::as_u64) != Some(VERSION) {
                return Err(invalid(format!("not a courier recording (version {VERSION})")));
            }
            let exchanges =
                document.get("exchanges").and_then(Value::as_array).ok_or_else(|| invalid("no exchanges"))?;
            let exchanges = exchanges
                .iter()
                .enumerate()
                .map(|(index, exchange)| {
                    exchange_from_json(exchange).map_err(|e| invalid(format!("exchange {}: {e}", index + 1)))
                })
                .collect::<io::Result<_>>()?;
            Ok(Self { exchanges })
        }

        /// Writes the recording to `path` as JSON (blocking; recordings are small).
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> std::io::Result<()> {
        /// use courier::server::{Recording, Reply, Server};
        /// // Record: a forwarding server in front of the real upstream.
        /// let upstream = Server::builder().route("/user", |_req| async { Reply::text("ada") }).start().await?;
        /// let recorder = Server::builder().forward_to(&upstream.url("")).start().await?;
        /// assert_eq!(courier::get(recorder.url("/user?id=1")).send().await.text(), "ada");
        /// let path = std::env::temp_dir().join(format!("courier-doc-{}.json", std::process::id()));
        /// recorder.recording().save(&path)?;
        /// upstream.shutdown().await;
        ///
        /// // Replay: a fresh server answers from the file, no upstream needed.
        /// let server = Server::builder().start().await?;
        /// server.replay(&Recording::load(&path)?);
        /// std::fs::remove_file(&path)?;
        /// assert_eq!(courier::get(server.url("/user?id=1")).send().await.text(), "ada");
        /// # Ok(()) }
        /// ```
        pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
            std::fs::write(path, self.to_json())
        }

        /// Reads a recording saved with [`save`](Self::save).
        pub fn load(path: impl AsRef<Path>) -> io::Result<Self> {
            Self::from_json(&std::fs::read_to_string(path)?)
        }
    }

    fn exchange_to_json(exchange: &Exchange) -> Value {
        let mut request = Map::new();
        request.insert("method".into(), exchange.method.as_str().into());
        request.insert("target".into(), exchange.target.clone().into());
        request.insert("headers".into(), headers_to_json(&exchange.request_headers));
        body_to_json(&mut request, &exchange.request_body);
        let mut response = Map::new();
        response.insert("status".into(), exchange.status.as_u16().into());
        response.insert("headers".into(), headers_to_json(&exchange.response_headers));
        body_to_json(&mut response, &exchange.response_body);
        json!({"request": request, "response": response})
    }

    fn exchange_from_json(exchange: &Value) -> Result<Exchange, String> {
        let part = |name: &str| exchange.get(name).and_then(Value::as_object).ok_or(format!("no {name}"));
        let (request, response) = (part("request")?, part("response")?);
        let text = |object: &Map<String, Value>, name: &str| {
            object.get(name).and_then(Value::as_str).map(str::to_owned).ok_or(format!("no {name}"))
        };
        let method = Method::from_bytes(text(request, "method")?.as_bytes()).map_err(|e| e.to_string())?;
        let status = response.get("status").and_then(Value::as_u64).ok_or("no status")?;
        let status =
            u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).ok_or("bad status")?;
        Ok(Exchange {
            method,
            target: text(request, "target")?,
            request_headers: headers_from_json(request)?,
            request_body: body_from_json(request)?,
            status,
            response_headers: headers_from_json(response)?,
            response_body: body_from_json(response)?,
        })
    }

    fn headers_to_json(headers: &HeaderMap) -> Value {
        let pairs = headers
            .iter()
            .map(|(name, value)| json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())]));
        Value::Array(pairs.collect())
    }

    fn headers_from_json(object: &Map<String, Value>) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        let pairs = object.get("headers").and_then(Value::as_array).ok_or("no headers")?;
        for pair in pairs {
            let (Some(name), Some(value)) =
                (pair.get(0).and_then(Value::as_str), pair.get(1).and_then(Value::as_str))
            else {
                return Err(format!("a header is not a [name, value] pair: {pair}"));
            };
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("bad header name {name:?}"))?;
            let value = HeaderValue::from_str(value).map_err(|_| format!("bad value for {name}"))?;
            headers.append(name, value);
        }
        Ok(headers)
    }

    fn body_to_json(object: &mut Map<String, Value>, body: &Bytes) {
        match std::str::from_utf8(body) {
            Ok(text) => object.insert("body".into(), text.into()),
            Err(_) => object.insert("body_base64".into(), crate::base64::encode(body).into()),
        };
    }

    fn body_from_json(object: &Map<String, Value>) -> Result<Bytes, String> {
        if let Some(encoded) = object.get("body_base64").and_then(Value::as_str) {
            let bytes = crate::base64::decode(encoded.as_bytes()).ok_or("body_base64 is not base64")?;
            return Ok(bytes.into());
        }
        let text = object.get("body").and_then(Value::as_str).unwrap_or_default();
        Ok(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn invalid(message: impl Into<String>) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("recording: {}", message.into()))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn survives_a_round_trip_with_binary_bodies_and_repeated_headers() {
            let mut headers = HeaderMap::new();
            headers.append("set-cookie", HeaderValue::from_static("a=1"));
            headers.append("set-cookie", HeaderValue::from_static("b=2"));
            let exchange = Exchange {
                method: Method::POST,
                target: "/up?x=1".into(),
                request_headers: HeaderMap::new(),
                request_body: Bytes::from_static(&[0, 159, 146, 150]),
                status: StatusCode::CREATED,
                response_headers: headers,
                response_body: Bytes::from_static(b"ok"),
            };
            let recording = Recording { exchanges: vec![exchange] };
            let text = recording.to_json();
            assert!(text.contains(r#""body_base64": "AJ+Slg==""#), "{text}");
            assert_eq!(Recording::from_json(&text).unwrap(), recording);
        }

        #[test]
        fn refuses_other_documents_with_the_reason() {
            let error = |text: &str| Recording::from_json(text).unwrap_err().to_string();
            assert_eq!(error("[]"), "recording: not a courier recording (version 1)");
            assert_eq!(
                error(r#"{"courier_recording": 1, "exchanges": [{"request": {}}]}"#),
                "recording: exchange 1: no response"
            );
        }
    }
}
