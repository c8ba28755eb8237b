#![cfg(feature = "server")]
//! A first end-to-end check of the bundled server, driven by courier's own client.

use courier::server::{Reply, Server};

#[tokio::test]
async fn server_answers_the_client_and_records_the_request() {
    let server = Server::builder()
        .route("/", |_req| async { Reply::html("<h1>root</h1>") })
        .route("/test", |req| async move { Reply::text(format!("test {}", req.path())) })
        .handler("^/echo$", |req| async move {
            Ok::<_, courier::server::BodyError>(Reply::bytes("application/octet-stream", req.body().await?))
        })
        .start()
        .await
        .unwrap();
    let res = courier::get(server.url("/test/deeper")).send().await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
    assert_eq!(res.text(), "test /test/deeper");
    let res = courier::post(server.url("/echo")).body("ping").send().await;
    assert_eq!(res.text(), "ping");
    let res = courier::get(server.url("/nowhere")).send().await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text(), "<h1>root</h1>");
    let recorded = server.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[1].body.as_ref(), b"ping");
    assert!(res.header("date").is_some());
    assert_eq!(res.header("cache-control").as_deref(), Some("max-age=0"));
    server.shutdown().await;
}
