#![cfg(feature = "server")]
//! Request bodies as handlers read them: through the connection loop, which owns the
//! socket. A handler's own timeout around a read still fires, a read it gives up loses no
//! byte, and `100 Continue` goes out on the first read only.

mod support;
use support::within;

use courier::server::{BodyError, Reply, Request, Server};
use std::time::Duration;

use support::raw_http::*;

fn upload_head(length: usize) -> String {
    format!("POST /up HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {length}\r\n\r\n")
}

#[tokio::test]
async fn a_handlers_own_timeout_around_a_body_read_fires_while_the_client_stalls() {
    within(async {
        let server = Server::builder()
            .route("/up", |req: Request| async move {
                match tokio::time::timeout(Duration::from_millis(50), req.body()).await {
                    Ok(body) => Reply::text(format!("{} bytes", body.map(|b| b.len()).unwrap_or(0))),
                    Err(_) => Reply::error(408, "too slow for this handler"),
                }
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        // Half the body, then nothing: the handler gives up long before the server would.
        client.send(upload_head(10) + "hello").await;
        let res = client.response().await;
        assert_eq!(
            (res.status, res.text().as_str()),
            (408, "408 Request Timeout: too slow for this handler\n")
        );
        assert!(res.closes(), "the rest of the body never came: the connection cannot go on");
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_read_the_handler_gave_up_on_loses_no_byte() {
    within(async {
        let gave_up = std::sync::Arc::new(tokio::sync::Notify::new());
        let told = gave_up.clone();
        let server = Server::builder()
            .route("/up", move |req: Request| {
                let told = told.clone();
                async move {
                    // The first read is abandoned before any byte arrives...
                    let first = tokio::time::timeout(Duration::from_millis(20), req.chunk()).await;
                    assert!(first.is_err(), "nothing was sent yet");
                    told.notify_one();
                    // ...and the whole body still arrives afterwards.
                    let body = req.body().await?;
                    Ok::<_, BodyError>(Reply::text(lossy(&body)))
                }
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        client.send(upload_head(11)).await;
        // The body goes out only once the handler's first read was given up: the server
        // was reading for it, and must keep what it reads for the next one.
        gave_up.notified().await;
        client.send("hello world").await;
        let res = client.response().await;
        assert_eq!((res.status, res.text().as_str()), (200, "hello world"));
        // And the connection carries the next request.
        assert_eq!(client.request(get("/missing")).await.status, 404);
        server.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn continue_is_sent_once_on_the_first_read_and_pieces_come_in_order() {
    within(async {
        let server = Server::builder()
            .route("/up", |req: Request| async move {
                let mut pieces = Vec::new();
                while let Some(piece) = req.chunk().await? {
                    pieces.push(lossy(&piece));
                }
                Ok::<_, BodyError>(Reply::text(pieces.concat()))
            })
            .start()
            .await
            .unwrap();
        let mut client = RawClient::connect(&server).await;
        client
            .send(format!(
                "POST /up HTTP/1.1\r\nHost: {HOST}\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
            ))
            .await;
        assert_eq!(client.read_head().await.status, 100);
        for piece in ["one ", "two ", "three"] {
            client.send(format!("{:x}\r\n{piece}\r\n", piece.len())).await;
        }
        client.send("0\r\n\r\n").await;
        let res = client.response().await;
        assert_eq!((res.status, res.text().as_str()), (200, "one two three"));
        assert!(client.nothing_pending(), "one 100 Continue, one reply");
        server.shutdown().await;
    })
    .await
}
