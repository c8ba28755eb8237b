#![cfg(all(feature = "decompress", feature = "server"))]
//! Content decoding (`decompress(true)`): Accept-Encoding, each coding through `send()`,
//! `on_body` and `send_streaming()`, raw bytes when off, the caps (597), stacked and
//! unknown codings, bodies with nothing to decode, and the connection going back to the pool.

mod support;
use support::codecs::*;
use support::*;

use bytes::Bytes;
use courier::server::{Fault, Reply, Server};
use courier::{Client, ErrorKind, Response};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// The large body: 8 000 lines, 384 000 bytes (several decoded chunks).
fn large() -> Vec<u8> {
    sample(8000)
}

/// A valid brotli stream of uncompressed meta-blocks (RFC 7932 §9.2: ISUNCOMPRESSED), so
/// large brotli bodies need no encoder. Checked once against `brotli -d` (1.0.9).
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        count: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, bits: u32) {
            self.acc |= value << self.count;
            self.count += bits;
            while self.count >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.count -= 8;
            }
        }
        fn pad(&mut self) {
            if self.count > 0 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.count = 0;
            }
        }
    }
    let mut bits = Bits { out: Vec::new(), acc: 0, count: 0 };
    bits.put(0, 1); // WBITS = 16
    for piece in data.chunks(32 * 1024) {
        // ISLAST = 0, MNIBBLES = 4, MLEN - 1, ISUNCOMPRESSED = 1, then the bytes.
        bits.put(0, 1);
        bits.put(0, 2);
        bits.put(piece.len() as u32 - 1, 16);
        bits.put(1, 1);
        bits.pad();
        bits.out.extend_from_slice(piece);
    }
    bits.put(1, 1); // ISLAST
    bits.put(1, 1); // ISLASTEMPTY
    bits.pad();
    bits.out
}

/// The bomb: 1 GiB of zeros as 1024 gzip members of 1 MiB each (about 1 MiB on the wire).
fn bomb() -> Vec<u8> {
    gzip(&vec![0u8; 1 << 20]).repeat(1024)
}

/// What a path serves: `(Content-Encoding, body on the wire)`.
fn encoded(path: &str) -> Option<(&'static str, Vec<u8>)> {
    Some(match path {
        "/gzip" => ("gzip", gzip(&large())),
        "/x-gzip" => ("x-gzip", gzip(&large())),
        "/deflate" => ("deflate", zlib(&large())),
        "/raw-deflate" => ("deflate", raw_deflate(&large())),
        "/br" => ("br", brotli_stored(&large())),
        "/br-small" => ("br", BROTLI_SAMPLE_20.to_vec()),
        "/gzip-small" => ("gzip", gzip(&sample(20))),
        "/zstd-small" => ("zstd", zstd(&sample(20))),
        "/zstd" => ("zstd", zstd(&large())),
        "/gzip-gzip" => ("gzip, gzip", gzip(&gzip(&large()))),
        "/gzip-br" => ("gzip, br", brotli_stored(&gzip(&large()))),
        "/triple" => ("gzip, gzip, gzip", gzip(&gzip(&gzip(&large())))),
        "/compress" => ("compress", b"LZW bytes we cannot decode".to_vec()),
        "/gzip-compress" => ("gzip, compress", b"LZW over gzip".to_vec()),
        "/identity" => ("identity", large()),
        "/corrupt" => {
            let mut body = gzip(&large());
            let middle = body.len() / 2;
            body[middle..middle + 16].fill(0xff);
            ("gzip", body)
        }
        "/bad-crc" => {
            let mut body = gzip(&large());
            let at = body.len() - 8;
            body[at] ^= 1;
            ("gzip", body)
        }
        "/truncated" => {
            let body = gzip(&large());
            ("gzip", body[..body.len() - 100].to_vec())
        }
        "/bomb" => ("gzip", bomb()),
        "/empty" => ("gzip", Vec::new()),
        _ => return None,
    })
}

/// The test server: `encoded` paths as full replies, `/chunked/<path>` streamed in 1000-byte
/// pieces, `/trickle/<path>` in 7-byte writes, `/206` and `/204` with a Content-Encoding.
async fn server() -> Server {
    Server::builder()
        .route("/", |req| async move {
            let path = req.path().to_owned();
            if path == "/204" {
                return Reply::new(204).with_header("content-encoding", "gzip");
            }
            if path == "/206" {
                let body = gzip(&large());
                let part = body[..1000].to_vec();
                return Reply::bytes("text/plain", part)
                    .with_status(206)
                    .with_header("content-encoding", "gzip")
                    .with_header("content-range", &format!("bytes 0-999/{}", body.len()));
            }
            if let Some(inner) = path.strip_prefix("/chunked") {
                let Some((coding, body)) = encoded(inner) else { return Reply::not_found() };
                let (reply, mut sender) = Reply::stream(200);
                tokio::spawn(async move {
                    for piece in body.chunks(1000) {
                        if sender.send(Bytes::copy_from_slice(piece)).await.is_err() {
                            return;
                        }
                    }
                });
                return reply.with_header("content-encoding", coding);
            }
            if let Some(inner) = path.strip_prefix("/trickle") {
                let Some((coding, body)) = encoded(inner) else { return Reply::not_found() };
                return Reply::bytes("text/plain", body)
                    .with_header("content-encoding", coding)
                    .with_fault(Fault::Trickle { bytes: 7, every: Duration::ZERO });
            }
            match encoded(&path) {
                Some((coding, body)) => {
                    Reply::bytes("text/plain", body).with_header("content-encoding", coding)
                }
                None => Reply::not_found(),
            }
        })
        .start()
        .await
        .unwrap()
}

fn decoding_client() -> Client {
    Client::builder().decompress(true).build().unwrap()
}

/// The response is a decoded 200: exactly `expected`, without Content-Encoding and
/// Content-Length.
fn assert_decoded(res: &Response, expected: &[u8]) {
    assert_eq!(res.status().as_u16(), 200, "{} {}", res.url(), res.reason());
    assert!(
        res.body()[..] == expected[..],
        "{}: {} bytes, not the expected {}",
        res.url(),
        res.body().len(),
        expected.len()
    );
    assert_eq!(res.header("content-encoding"), None, "{}", res.url());
    assert_eq!(res.header("content-length"), None, "{}", res.url());
}

/// The response is `path`'s body exactly as served, headers and all (not decoded).
fn assert_raw(res: &Response, path: &str) {
    let (coding, wire) = encoded(path).unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.body()[..], wire[..]);
    assert_eq!(res.header("content-encoding").as_deref(), Some(coding));
    assert_eq!(res.header("content-length"), Some(wire.len().to_string().into()));
}

/// The 597 a decoding failure ends in, with its reason.
fn assert_597(res: &Response, reason: &str) {
    assert_eq!(res.status().as_u16(), 597, "{}: {}", res.url(), res.reason());
    assert_eq!(res.error().map(|e| e.kind()), Some(ErrorKind::ResponseBody));
    assert!(res.reason().contains(reason), "{}: {:?} lacks {:?}", res.url(), res.reason(), reason);
    assert_eq!(res.orig_status().map(|s| s.as_u16()), Some(200));
}

#[tokio::test]
async fn accept_encoding_goes_out_only_when_decoding_is_asked_for() {
    within(async {
        let server = server().await;
        let plain = Client::new();
        let decoding = decoding_client();

        let res = plain.get(server.url("/gzip")).send().await;
        assert_eq!(res.status().as_u16(), 200);
        let res = plain.get(server.url("/gzip")).decompress(true).send().await;
        assert_decoded(&res, &large());
        let res = decoding.get(server.url("/gzip")).send().await;
        assert_decoded(&res, &large());
        let res = decoding.get(server.url("/gzip")).decompress(false).send().await;
        assert_eq!(res.body()[..], gzip(&large())[..]);
        // The caller's own Accept-Encoding goes out as given, and the body is theirs.
        let res = decoding.get(server.url("/gzip")).header("accept-encoding", "gzip").send().await;
        assert_eq!(res.body()[..], gzip(&large())[..]);
        assert_eq!(res.header("content-encoding").as_deref(), Some("gzip"));
        // Removed: none goes out, and what comes anyway is left alone.
        let res = decoding.get(server.url("/gzip")).remove_header("accept-encoding").send().await;
        assert_eq!(res.body()[..], gzip(&large())[..]);

        let sent: Vec<Option<String>> =
            server.requests().iter().map(|r| r.header("accept-encoding").map(str::to_owned)).collect();
        let ours = Some(ACCEPT_ENCODING.to_owned());
        assert_eq!(sent, [None, ours.clone(), ours, None, Some("gzip".to_owned()), None]);
        // Exactly one Accept-Encoding field.
        assert!(server.requests().iter().all(|r| r.headers.get_all("accept-encoding").iter().count() <= 1));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn every_coding_is_decoded_by_send() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        for path in ["/gzip", "/x-gzip", "/deflate", "/raw-deflate", "/br", "/zstd", "/identity"] {
            for prefix in ["", "/chunked"] {
                let res = client.get(server.url(&format!("{prefix}{path}"))).send().await;
                if path == "/identity" {
                    // Nothing decoded: the headers stay.
                    assert_eq!(res.body()[..], large()[..]);
                    assert_eq!(res.header("content-encoding").as_deref(), Some("identity"));
                    continue;
                }
                assert_decoded(&res, &large());
            }
        }
        // Small bodies, whole and in 7-byte writes (each read a few bytes of the stream).
        for path in ["/br-small", "/gzip-small", "/zstd-small"] {
            for prefix in ["", "/trickle"] {
                let res = client.get(server.url(&format!("{prefix}{path}"))).send().await;
                assert_decoded(&res, &sample(20));
            }
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn on_body_gets_decoded_chunks() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        for path in ["/gzip", "/deflate", "/br", "/zstd", "/gzip-br", "/chunked/gzip", "/chunked/zstd"] {
            let mut pieces: Vec<usize> = Vec::new();
            let mut body = Vec::new();
            let res = client
                .get(server.url(path))
                .on_body(|chunk, res| {
                    assert_eq!(res.header("content-encoding"), None);
                    pieces.push(chunk.len());
                    body.extend_from_slice(chunk);
                    true
                })
                .send()
                .await;
            assert_eq!(res.status().as_u16(), 200, "{path}: {}", res.reason());
            assert!(res.body().is_empty());
            assert!(body == large(), "{path}: {} bytes", body.len());
            assert!(pieces.len() >= 6, "{path}: {pieces:?}");
            assert!(pieces.iter().all(|&n| n > 0 && n <= 64 * 1024), "{path}: {pieces:?}");
        }
        // Returning false still aborts (598).
        let res = client.get(server.url("/gzip")).on_body(|_, _| false).send().await;
        assert_eq!(res.status().as_u16(), 598);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn streamed_bodies_are_decoded_chunk_by_chunk() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        for path in ["/gzip", "/deflate", "/br", "/zstd", "/gzip-gzip", "/chunked/br", "/chunked/gzip"] {
            let mut res = client.get(server.url(path)).read_buffer_size(4096).send_streaming().await;
            assert_eq!(res.status().as_u16(), 200, "{path}: {}", res.reason());
            assert_eq!(res.header("content-encoding"), None);
            assert_eq!(res.header("content-length"), None);
            let mut body = Vec::new();
            let mut chunks = 0;
            while let Some(chunk) = res.chunk().await.unwrap() {
                assert!(!chunk.is_empty() && chunk.len() <= 64 * 1024);
                body.extend_from_slice(&chunk);
                chunks += 1;
            }
            assert!(body == large(), "{path}: {} bytes", body.len());
            assert!(chunks >= 6, "{path}: {chunks} chunks");
            assert!(!res.has_more_body());
        }
        // The Stream and AsyncRead adapters.
        let res = client.get(server.url("/zstd")).send_streaming().await;
        let pieces: Vec<Bytes> = res.into_stream().map(|chunk| chunk.unwrap()).collect().await;
        assert_eq!(pieces.concat(), large());
        let res = client.get(server.url("/chunked/gzip")).send_streaming().await;
        let mut body = Vec::new();
        res.into_reader().read_to_end(&mut body).await.unwrap();
        assert_eq!(body, large());
        // Off: the raw bytes.
        let mut res = Client::new().get(server.url("/gzip")).send_streaming().await;
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.unwrap() {
            body.extend_from_slice(&chunk);
        }
        assert_eq!(body, gzip(&large()));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn without_decoding_the_raw_bytes_and_headers_arrive() {
    within(async {
        let server = server().await;
        for path in ["/gzip", "/br", "/zstd", "/deflate"] {
            assert_raw(&Client::new().get(server.url(path)).send().await, path);
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_decompression_bomb_ends_in_597_with_bounded_memory() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        let wire = bomb().len();
        assert!(wire < 2 << 20, "{wire}");
        let reason = "decodes to more than 100 times its compressed size";

        let res = client.get(server.url("/bomb")).send().await;
        assert_597(&res, reason);
        // What was decoded before the cap is kept, and it is small.
        assert!(res.body().len() <= 4 << 20, "{}", res.body().len());

        let delivered = Arc::new(Mutex::new(0usize));
        let counter = delivered.clone();
        let res = client
            .get(server.url("/chunked/bomb"))
            .on_body(move |chunk, _| {
                *counter.lock().unwrap() += chunk.len();
                true
            })
            .send()
            .await;
        assert_597(&res, reason);
        let delivered = *delivered.lock().unwrap();
        assert!(delivered > 0 && delivered <= 4 << 20, "{delivered}");

        let mut res = client.get(server.url("/bomb")).send_streaming().await;
        let mut decoded = 0;
        let error = loop {
            match res.chunk().await {
                Ok(Some(chunk)) => decoded += chunk.len(),
                Ok(None) => panic!("the bomb was decoded whole"),
                Err(error) => break error,
            }
        };
        assert_eq!(error.status(), 597);
        assert!(error.to_string().contains(reason), "{error}");
        assert!(decoded <= 4 << 20, "{decoded}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn corrupt_or_truncated_compressed_bodies_are_597() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        let res = client.get(server.url("/corrupt")).send().await;
        assert_597(&res, "decode the gzip response body: invalid gzip data");
        let res = client.get(server.url("/bad-crc")).send().await;
        assert_597(&res, "decode the gzip response body: invalid gzip data: CRC-32 mismatch");
        assert!(res.body().len() >= large().len() - 64 * 1024);
        let res = client.get(server.url("/truncated")).send().await;
        assert_597(&res, "decode the gzip response body: the body ended before the compressed data did");
        let res = client.get(server.url("/chunked/truncated")).send().await;
        assert_597(&res, "the body ended before the compressed data did");
        let mut res = client.get(server.url("/corrupt")).send_streaming().await;
        let error = loop {
            match res.chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("corrupt data decoded"),
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), ErrorKind::ResponseBody);
        assert!(error.to_string().starts_with("decode the gzip response body: invalid gzip data"), "{error}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn stacked_and_unknown_codings() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        // Two codings are undone in reverse order.
        assert_decoded(&client.get(server.url("/gzip-gzip")).send().await, &large());
        assert_decoded(&client.get(server.url("/gzip-br")).send().await, &large());
        // Three are refused.
        let res = client.get(server.url("/triple")).send().await;
        assert_597(&res, "the response lists 3 content codings; at most 2 are decoded");
        let res = client.get(server.url("/triple")).send_streaming().await;
        assert_597(&res, "at most 2 are decoded");
        // An unknown coding leaves the body raw, headers and all.
        for path in ["/compress", "/gzip-compress"] {
            assert_raw(&client.get(server.url(path)).send().await, path);
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn responses_without_a_body_to_decode_are_left_alone() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        // HEAD: the headers describe what a GET would get; nothing is decoded or removed.
        let res = client.head(server.url("/gzip")).send().await;
        assert_eq!(res.status().as_u16(), 200, "{}", res.reason());
        assert!(res.body().is_empty());
        assert_eq!(res.header("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(res.header("content-length"), Some(gzip(&large()).len().to_string().into()));
        let res = client.get(server.url("/204")).send().await;
        assert_eq!(res.status().as_u16(), 204, "{}", res.reason());
        assert_eq!(res.header("content-encoding").as_deref(), Some("gzip"));
        // Empty bodies, with a length or chunked.
        for path in ["/empty", "/chunked/empty"] {
            let res = client.get(server.url(path)).send().await;
            assert_eq!(res.status().as_u16(), 200, "{path}: {}", res.reason());
            assert!(res.body().is_empty());
            let mut res = client.get(server.url(path)).send_streaming().await;
            assert_eq!(res.chunk().await.unwrap(), None, "{path}");
        }
        // A range of an encoded body cannot be decoded on its own: raw, headers kept.
        let res = client.get(server.url("/206")).send().await;
        assert_eq!(res.status().as_u16(), 206, "{}", res.reason());
        assert_eq!(res.body()[..], gzip(&large())[..1000]);
        assert_eq!(res.header("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(res.header("content-length").as_deref(), Some("1000"));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_decoded_response_gives_its_connection_back() {
    within(async {
        let server = server().await;
        let client = decoding_client();
        for path in ["/gzip", "/chunked/br", "/zstd", "/gzip-gzip"] {
            assert_decoded(&client.get(server.url(path)).send().await, &large());
            let mut total = 0;
            let res = client
                .get(server.url(path))
                .on_body(|chunk, _| {
                    total += chunk.len();
                    true
                })
                .send()
                .await;
            assert_eq!((res.status().as_u16(), total), (200, large().len()));
            let mut res = client.get(server.url(path)).send_streaming().await;
            let mut total = 0;
            while let Some(chunk) = res.chunk().await.unwrap() {
                total += chunk.len();
            }
            assert_eq!(total, large().len());
        }
        let stats = client.pool_stats();
        assert_eq!((stats.idle, stats.active), (1, 0), "{stats:?}");
        let requests = server.requests();
        assert_eq!(requests.len(), 12);
        assert!(requests.iter().all(|r| r.connection_id == requests[0].connection_id));
        assert_eq!(requests.last().unwrap().index_on_connection, 11);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_redirect_to_a_compressed_body_is_decoded_at_the_end() {
    within(async {
        let server = server().await;
        server.add_route("/hop", |_req| async { Reply::redirect(302, "/gzip") });
        let res = decoding_client().get(server.url("/hop")).send().await;
        assert_decoded(&res, &large());
        assert_eq!(res.redirects().len(), 1);
        let sent: Vec<_> =
            server.requests().iter().map(|r| r.header("accept-encoding").map(str::to_owned)).collect();
        assert_eq!(sent, [Some(ACCEPT_ENCODING.to_owned()), Some(ACCEPT_ENCODING.to_owned())]);
        server.shutdown().await;
    })
    .await;
}
