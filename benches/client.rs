//! Client benchmarks (the performance issue's scenarios) against an in-process server on
//! another thread: `cargo bench --bench client`. The side-by-side runs against reqwest
//! and hyper live in `benches/peers` (see BENCHMARKS.md).

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn get_13_bytes(c: &mut Criterion) {
    let url = format!("http://{}/", support::start());
    let runtime = runtime();
    let client = courier::Client::builder().build().unwrap();
    let mut group = c.benchmark_group("get_13_bytes");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential, one connection", |b| {
        b.iter(|| {
            let res = runtime.block_on(client.get(&url).send());
            assert_eq!(res.status(), 200);
        })
    });
    group.throughput(Throughput::Elements(4));
    group.bench_function("4 in flight, 4 connections", |b| {
        b.iter(|| {
            let all = runtime.block_on(join_all((0..4).map(|_| client.get(&url).send())));
            assert!(all.iter().all(|res| res.status() == 200));
        })
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("64 tasks, 4 connections", |b| {
        b.iter(|| {
            let all = runtime.block_on(join_all((0..64).map(|_| client.get(&url).send())));
            assert!(all.iter().all(|res| res.status() == 200));
        })
    });
    group.finish();
}

fn download(c: &mut Criterion) {
    const SIZE: usize = 16 << 20;
    let url = format!("http://{}/big/{SIZE}", support::start());
    let runtime = runtime();
    let client = courier::Client::builder().build().unwrap();
    let mut group = c.benchmark_group("download_16_mib");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(20);
    group.bench_function("streamed with chunk()", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut res = client.get(&url).send_streaming().await;
                let mut total = 0;
                while let Ok(Some(piece)) = res.chunk().await {
                    total += piece.len();
                }
                assert_eq!(total, SIZE);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, get_13_bytes, download);
criterion_main!(benches);
