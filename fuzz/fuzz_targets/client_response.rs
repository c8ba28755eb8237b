#![no_main]
//! The whole client response path: a loopback peer answers `courier::get` with the fuzz
//! bytes and closes. `send()` must never panic, and its status is either one the input
//! spelled out or a 595..=599 failure (ARCHITECTURE.md invariant 4).
//!
//! Redirects are off and the proxy is `none`, so nothing ever leaves 127.0.0.1.

use courier::{Client, Proxy};
use courier_http_fuzz::{runtime, ScriptedPeer};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;

struct Setup {
    peer: ScriptedPeer,
    client: Client,
    url: String,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let peer = ScriptedPeer::start();
        let client = Client::builder()
            .max_recurse(0)
            .proxy(Proxy::none())
            .decompress(true)
            .timeout(Duration::from_millis(200))
            .build()
            .expect("client");
        let url = format!("http://{}/fuzz", peer.addr());
        Setup { peer, client, url }
    })
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    setup.peer.set_reply(data);
    let response = runtime().block_on(
        setup
            .client
            .get(setup.url.as_str())
            .recurse(0)
            .persistent(false)
            .timeout(Duration::from_millis(200))
            .send(),
    );
    let status = response.status().as_u16();
    if (595..=599).contains(&status) {
        return;
    }
    assert!((100..=999).contains(&status), "status {status}");
    let digits = status.to_string();
    assert!(
        data.windows(3).any(|w| w == digits.as_bytes()),
        "status {status} does not appear in the peer's bytes"
    );
});
