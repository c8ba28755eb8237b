#![no_main]
//! The bundled server's multipart parsing (`Request::multipart`, multer underneath): the
//! fuzz bytes are the body of a well-framed `multipart/form-data; boundary=XyZ` POST.
//! The first input byte picks the framing (Content-Length or chunked) so both body
//! readers feed the parser. No panic, a prompt close, and a live server afterwards.

use courier_http_fuzz::{check_server_alive, exchange, runtime, server};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

static ITERATIONS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|input: &[u8]| {
    let Some((&mode, body)) = input.split_first() else { return };
    let mut request = b"POST /mp HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\
Content-Type: multipart/form-data; boundary=XyZ\r\n"
        .to_vec();
    if mode & 1 == 0 {
        request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
    } else {
        request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        // Split into chunks of a size the mode byte chooses (1..=128).
        let size = usize::from(mode >> 1) + 1;
        for chunk in body.chunks(size) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
    }
    let addr = server().local_addr();
    runtime().block_on(async {
        let reply = exchange(addr, &request, Duration::from_secs(5)).await;
        assert!(
            reply.starts_with(b"HTTP/1.1 200 ") || reply.starts_with(b"HTTP/1.1 400 ") || reply.starts_with(b"HTTP/1.1 413 "),
            "unexpected reply: {:?}",
            String::from_utf8_lossy(&reply[..reply.len().min(200)])
        );
        check_server_alive(&ITERATIONS, 64).await;
    });
});
