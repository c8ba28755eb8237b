//! Streamed response bodies (`send_streaming`): the pull API, the Stream and AsyncRead
//! adapters, pool return at the end, and what errors and early drops do.

mod support;
use support::*;

use courier::{Client, ErrorKind};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// The body every request gets: 200 KB of a known pattern.
fn pattern() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 251) as u8).collect()
}

/// A keep-alive server answering every request with the pattern (chunked for `/chunked`,
/// with a trailer); counts connections that closed.
async fn pattern_server(closed: Arc<AtomicUsize>) -> Scripted {
    Scripted::start(move |mut peer| {
        let closed = closed.clone();
        async move {
            while let Some(request) = peer.read_request().await {
                let body = pattern();
                if request.target == "/chunked" {
                    let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                    for piece in body.chunks(7000) {
                        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                        out.extend_from_slice(piece);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\nX-Sum: done\r\n\r\n");
                    peer.write(out).await;
                } else if request.target == "/empty" {
                    peer.write("HTTP/1.1 204 No Content\r\n\r\n").await;
                } else if request.target == "/cut" {
                    peer.write(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())).await;
                    peer.write(&body[..1000]).await;
                    return; // dropping the peer closes the connection mid-body
                } else {
                    peer.write(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())).await;
                    peer.write(&body).await;
                }
            }
            peer.read_to_end().await;
            closed.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await
}

#[tokio::test]
async fn chunks_arrive_in_pieces_and_the_connection_returns_to_the_pool() {
    within(async {
        let server = pattern_server(Arc::default()).await;
        let client = Client::new();
        for _ in 0..2 {
            let mut res = client.get(server.url("/")).read_buffer_size(4096).send_streaming().await;
            assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
            assert!(res.body().is_empty() && res.has_more_body());
            let (mut body, mut pieces) = (Vec::new(), 0);
            while let Some(chunk) = res.chunk().await.unwrap() {
                assert!(chunk.len() <= 4096);
                body.extend_from_slice(&chunk);
                pieces += 1;
            }
            assert!(body == pattern(), "streamed body differs");
            assert!(pieces >= 200_000 / 4096);
            assert!(!res.has_more_body());
            assert_eq!(res.chunk().await.unwrap(), None, "stays at the end");
            assert_eq!(client.pool_stats().idle, 1, "back in the pool after the last chunk");
        }
        assert_eq!(server.connects(), 1, "the second request reused the connection");
    })
    .await
}

#[tokio::test]
async fn chunked_bodies_stream_with_their_trailers() {
    within(async {
        let server = pattern_server(Arc::default()).await;
        let res = courier::get(server.url("/chunked")).send_streaming().await;
        let collected: Vec<courier::Bytes> = res.into_stream().map(|chunk| chunk.unwrap()).collect().await;
        assert!(collected.concat() == pattern());

        let mut res = courier::get(server.url("/chunked")).send_streaming().await;
        while res.chunk().await.unwrap().is_some() {}
        assert_eq!(res.trailers()["x-sum"], "done");
    })
    .await
}

#[tokio::test]
async fn the_body_reads_as_an_async_reader() {
    within(async {
        let server = pattern_server(Arc::default()).await;
        let res = courier::get(server.url("/")).send_streaming().await;
        let mut body = Vec::new();
        let mut reader = res.into_reader();
        let mut small = [0u8; 333];
        let first = reader.read(&mut small).await.unwrap();
        body.extend_from_slice(&small[..first]);
        reader.read_to_end(&mut body).await.unwrap();
        assert!(body == pattern());
    })
    .await
}

#[tokio::test]
async fn dropping_a_response_mid_body_closes_the_connection_and_frees_the_slot() {
    within(async {
        let closed = Arc::new(AtomicUsize::new(0));
        let server = pattern_server(closed.clone()).await;
        let client = Client::new();
        let mut res = client.get(server.url("/")).send_streaming().await;
        assert!(res.chunk().await.unwrap().is_some());
        assert_eq!(client.active(), 1);
        drop(res);
        assert_eq!(client.active(), 0);
        assert_eq!(client.pool_stats().idle, 0, "a half-read connection is never pooled");
        for _ in 0..200 {
            if closed.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(closed.load(Ordering::SeqCst), 1, "the server saw the connection close");
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.body().len(), 200_000);
    })
    .await
}

#[tokio::test]
async fn a_body_cut_short_is_a_597_error_from_chunk() {
    within(async {
        let server = pattern_server(Arc::default()).await;
        let mut res = courier::get(server.url("/cut")).send_streaming().await;
        let mut received = 0;
        let error = loop {
            match res.chunk().await {
                Ok(Some(chunk)) => received += chunk.len(),
                Ok(None) => panic!("a cut body must not end cleanly"),
                Err(error) => break error,
            }
        };
        assert_eq!(received, 1000);
        assert_eq!(error.kind(), ErrorKind::ResponseBody);
        assert_eq!(error.status(), 597);
        assert_eq!(res.chunk().await.unwrap(), None, "after an error the body is over");
    })
    .await
}

#[tokio::test]
async fn an_empty_body_ends_at_once_and_pools_the_connection() {
    within(async {
        let server = pattern_server(Arc::default()).await;
        let client = Client::new();
        let mut res = client.get(server.url("/empty")).send_streaming().await;
        assert_eq!(res.status().as_u16(), 204);
        assert!(!res.has_more_body());
        assert_eq!(res.chunk().await.unwrap(), None);
        assert_eq!(client.pool_stats().idle, 1);
    })
    .await
}
