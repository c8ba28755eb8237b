#![no_main]
//! The whole server request path: the fuzz bytes are sent raw to the bundled server on a
//! fresh connection, then the write side is shut down. The server must not panic (a
//! panic in any task aborts under libFuzzer), must close the connection promptly, and
//! must still answer a normal request (checked every 64 iterations).

use courier_http_fuzz::{check_server_alive, exchange, runtime, server};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

static ITERATIONS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let addr = server().local_addr();
    runtime().block_on(async {
        let reply = exchange(addr, data, Duration::from_secs(5)).await;
        if !reply.is_empty() {
            assert!(reply.starts_with(b"HTTP/1."), "not an HTTP reply: {:?}", String::from_utf8_lossy(&reply));
        }
        check_server_alive(&ITERATIONS, 64).await;
    });
});
