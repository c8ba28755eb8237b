//! Codec benchmarks: parse a typical response head, decode a chunked body.
//! `cargo bench --bench codec`.

use bytes::BytesMut;
use courier::h1::{self, BodyDecoder, BodyEvent, BodyMode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Sun, 22 Nov 2026 05:00:00 GMT\r\n\
Server: nginx/1.22.1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 1234\r\n\
Connection: keep-alive\r\n\
Cache-Control: max-age=0\r\n\
ETag: \"5f3c-18c2a1b\"\r\n\
Last-Modified: Sat, 21 Nov 2026 10:00:00 GMT\r\n\
Vary: Accept-Encoding\r\n\
\r\n";

fn parse_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("h1");
    group.throughput(Throughput::Bytes(HEAD.len() as u64));
    group.bench_function("parse a 10-field response head", |b| {
        b.iter(|| {
            let parsed = h1::parse_response_head(black_box(HEAD)).unwrap().unwrap();
            black_box(parsed);
        })
    });
    group.finish();
}

fn decode_chunked(c: &mut Criterion) {
    // 64 KiB of body in 1 KiB chunks, then the last chunk.
    let mut body = Vec::new();
    for _ in 0..64 {
        h1::encode_chunk(&mut body, &[b'x'; 1024]);
    }
    body.extend_from_slice(h1::LAST_CHUNK);
    let mut group = c.benchmark_group("h1");
    group.throughput(Throughput::Bytes(64 * 1024));
    group.bench_function("decode a 64 KiB chunked body", |b| {
        b.iter(|| {
            let mut decoder = BodyDecoder::new(BodyMode::Chunked);
            let mut buf = BytesMut::from(&body[..]);
            let mut total = 0;
            loop {
                match decoder.decode(&mut buf).unwrap() {
                    Some(BodyEvent::Data(data)) => total += data.len(),
                    Some(BodyEvent::End(_)) => break,
                    _ => unreachable!("the whole body is in the buffer"),
                }
            }
            assert_eq!(total, 64 * 1024);
        })
    });
    group.finish();
}

criterion_group!(benches, parse_head, decode_chunked);
criterion_main!(benches);
