#![no_main]
//! The cookie jar through its only public way in: a response's Set-Cookie fields. Each
//! input line becomes one Set-Cookie field of a loopback reply for `www.example.co.uk`
//! (resolved to 127.0.0.1, so the public-suffix and domain rules apply); then the jar is
//! read back for a few URLs, a second request sends the Cookie header, and the jar is
//! saved and loaded as JSON. Nothing may panic.

use courier::{Client, CookieJar, Proxy};
use courier_http_fuzz::{runtime, ScriptedPeer};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;

const HOST: &str = "www.example.co.uk";

struct Setup {
    peer: ScriptedPeer,
    client: Client,
    port: u16,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let peer = ScriptedPeer::start();
        let port = peer.addr().port();
        let client = Client::builder()
            .max_recurse(0)
            .proxy(Proxy::none())
            .resolve(HOST, port, [peer.addr()])
            .timeout(Duration::from_millis(500))
            .build()
            .expect("client");
        Setup { peer, client, port }
    })
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n".to_vec();
    for line in data.split(|&b| b == b'\n') {
        // Only bytes a header value may hold: a CR, LF or NUL would just make the head
        // unparseable, which response_head already covers.
        let value: Vec<u8> = line.iter().copied().filter(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)).collect();
        reply.extend_from_slice(b"Set-Cookie: ");
        reply.extend_from_slice(&value);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"\r\n");
    setup.peer.set_reply(&reply);

    let jar = CookieJar::new();
    let base = format!("http://{HOST}:{}", setup.port);
    let first = runtime().block_on(
        setup.client.get(format!("{base}/a/b?x=1")).cookie_jar(&jar).persistent(false).send(),
    );
    let status = first.status().as_u16();
    assert!(status == 200 || (595..=599).contains(&status), "status {status}");

    let mut total = 0;
    for url in [
        format!("{base}/a/b"),
        format!("{base}/"),
        format!("https://{HOST}/a/"),
        format!("http://sub.{HOST}:{}/a/b/c", setup.port),
        format!("http://example.co.uk:{}/", setup.port),
    ] {
        let cookies = jar.cookies_for(&url);
        total += cookies.len();
    }
    assert!(jar.len() <= courier::MAX_COOKIES_PER_DOMAIN * 8, "jar holds {}", jar.len());
    if total > 0 {
        // The Cookie header of a real request (header_for is crate-private).
        let again = runtime().block_on(
            setup.client.get(format!("{base}/a/b")).cookie_jar(&jar).persistent(false).send(),
        );
        let status = again.status().as_u16();
        assert!(status == 200 || (595..=599).contains(&status), "status {status}");
    }
    let mut saved = Vec::new();
    jar.expire(false);
    jar.save(&mut saved).expect("save to a Vec");
    let loaded = CookieJar::load(&saved[..]).expect("a saved jar loads");
    assert!(loaded.len() <= jar.len());
});
