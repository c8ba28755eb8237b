#![cfg(all(feature = "server", feature = "json"))]
//! Request body helpers against the bundled server, bytes checked exactly: urlencoded
//! forms, JSON, and multipart uploads with files streamed from disk.

mod support;

use courier::server::{Reply, Request, Server};
use courier::Multipart;
use support::within;

/// Answers every request with 200; the test reads what arrived from the recorder.
async fn recording_server() -> Server {
    Server::builder().route("", |_request| async { Reply::text("ok") }).start().await.unwrap()
}

fn header(request: &courier::server::RecordedRequest, name: &str) -> Option<String> {
    request.headers.get(name).map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn form_bodies_are_urlencoded_with_their_content_type() {
    within(async {
        let server = recording_server().await;
        let res = courier::post(server.url("/f")).form([("user", "ada"), ("note", "a&b c=é")]).send().await;
        assert_eq!(res.status(), 200);
        // The caller's own Content-Type stays.
        courier::post(server.url("/g"))
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .form([("k", "v")])
            .send()
            .await;
        let seen = server.requests();
        assert_eq!(seen[0].body, "user=ada&note=a%26b+c%3D%C3%A9");
        assert_eq!(header(&seen[0], "content-type").as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(header(&seen[0], "content-length").as_deref(), Some("30"));
        assert_eq!(seen[1].body, "k=v");
        assert_eq!(
            header(&seen[1], "content-type").as_deref(),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        assert_eq!(seen[1].headers.get_all("content-type").iter().count(), 1);
    })
    .await;
}

#[tokio::test]
async fn json_bodies_are_serialized_with_their_content_type() {
    within(async {
        let server = recording_server().await;
        let value = serde_json::json!({"name": "lamp", "price": 12, "tags": ["a", "b"]});
        let res = courier::post(server.url("/j")).json(&value).send().await;
        assert_eq!(res.status(), 200);
        let seen = server.requests();
        assert_eq!(seen[0].body, r#"{"name":"lamp","price":12,"tags":["a","b"]}"#);
        assert_eq!(header(&seen[0], "content-type").as_deref(), Some("application/json"));

        // A map with non-string keys has no JSON form: 599 before anything is sent.
        let unrepresentable: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let res = courier::post(server.url("/bad")).json(&unrepresentable).send().await;
        assert_eq!(res.status(), 599, "{}", res.reason());
        assert_eq!(res.error().unwrap().kind(), courier::ErrorKind::InvalidRequest);
        assert_eq!(server.requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn multipart_uploads_stream_files_and_arrive_intact() {
    within(async {
        let parsed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = parsed.clone();
        let server = Server::builder()
            .route("/upload", move |request: Request| {
                let store = store.clone();
                async move {
                    let parts = request.multipart().await.expect("a valid multipart body");
                    store.lock().unwrap().extend(parts);
                    Reply::text("stored")
                }
            })
            .start()
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("courier-upload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("photo.bin");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();

        let form = Multipart::new()
            .text("title", "holiday \"2026\"")
            .bytes("note", "note.txt", "text/plain", "hello")
            .file("photo", &path, None, Some("image/png"))
            .await
            .unwrap();
        let length = form.length();
        let res = courier::post(server.url("/upload")).multipart(form).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "stored"), "{}", res.reason());

        let seen = server.requests();
        assert_eq!(header(&seen[0], "content-length"), Some(length.to_string()));
        assert!(header(&seen[0], "content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=courier-"));
        let parts = parsed.lock().unwrap().clone();
        assert_eq!(parts.len(), 3);
        assert_eq!((parts[0].name.as_deref(), parts[0].text()), (Some("title"), "holiday \"2026\"".into()));
        assert_eq!(parts[1].filename.as_deref(), Some("note.txt"));
        assert_eq!(
            (parts[1].content_type.as_deref(), &parts[1].data[..]),
            (Some("text/plain"), &b"hello"[..])
        );
        assert_eq!(parts[2].filename.as_deref(), Some("photo.bin"));
        assert_eq!(parts[2].content_type.as_deref(), Some("image/png"));
        assert!(parts[2].data[..] == content[..], "the file arrived altered");
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_missing_file_is_an_error_before_sending() {
    within(async {
        let error = Multipart::new().file("f", "/nonexistent/courier/file", None, None).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    })
    .await;
}
