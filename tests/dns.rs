#![cfg(feature = "server")]
//! Name resolution and connecting: the resolver hook, static overrides, the cache, and
//! Happy Eyeballs past an address that never answers. All on 127.0.0.x.

mod support;

use courier::server::{Reply, Server};
use courier::Client;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::within;
use tokio::net::{TcpSocket, TcpStream};

async fn hello_server() -> Server {
    Server::builder().route("", |_request| async { Reply::text("hello") }).start().await.unwrap()
}

/// A resolver that answers `addresses` for every name and counts its calls.
fn counting_resolver(addresses: Vec<SocketAddr>) -> (impl courier::Resolve, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let resolver = move |_host: String, _port: u16| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(addresses.clone()))
    };
    (resolver, calls)
}

#[tokio::test]
async fn the_resolver_hook_names_the_addresses_and_the_cache_spares_it() {
    within(async {
        let server = hello_server().await;
        let url = format!("http://svc.test:{}/", server.port());

        let (resolver, calls) = counting_resolver(vec![server.local_addr()]);
        let client = Client::builder().resolver(resolver).build().unwrap();
        for _ in 0..2 {
            // Not persistent: each request connects, so each one resolves.
            let res = client.get(&url).persistent(false).send().await;
            assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "hello"), "{}", res.reason());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // The Host header still names the host, not the address.
        assert_eq!(server.requests()[0].headers["host"], format!("svc.test:{}", server.port()));

        let (resolver, calls) = counting_resolver(vec![server.local_addr()]);
        let client =
            Client::builder().resolver(resolver).dns_cache(Duration::from_secs(3600), 16).build().unwrap();
        for _ in 0..3 {
            assert_eq!(client.get(&url).persistent(false).send().await.status(), 200);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the cache answered the later lookups");
    })
    .await;
}

#[tokio::test]
async fn a_static_override_wins_and_ip_literals_need_no_resolver() {
    within(async {
        let server = hello_server().await;
        let (resolver, calls) = counting_resolver(Vec::new());
        let client = Client::builder()
            .resolver(resolver)
            .resolve("Static.Test", server.port(), [server.local_addr()])
            .build()
            .unwrap();
        let res = client.get(format!("http://static.test:{}/", server.port())).send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        let res = client.get(server.url("/")).send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        // The override is for that port only; elsewhere the resolver answers (nothing).
        let res = client.get("http://static.test:1/").send().await;
        assert_eq!(res.status(), 595);
        assert!(res.reason().contains("resolve static.test"), "{}", res.reason());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    })
    .await;
}

/// An address whose connection attempts hang: a listener with a full accept queue drops
/// further SYNs, like a black-holed route. IPv6 (`[::1]`) where the machine has it, as
/// the broken route Happy Eyeballs exists for; else 127.0.0.2.
async fn black_hole() -> (SocketAddr, TcpStream) {
    let v6 = TcpSocket::new_v6().and_then(|socket| socket.bind("[::1]:0".parse().unwrap()).map(|()| socket));
    let socket = match v6 {
        Ok(socket) => socket,
        Err(_) => {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            socket
        }
    };
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    // Fill the queue; nothing is ever accepted.
    let filler = TcpStream::connect(address).await.unwrap();
    std::mem::forget(listener);
    (address, filler)
}

#[tokio::test]
async fn happy_eyeballs_goes_past_an_address_that_never_answers() {
    within(async {
        let server = hello_server().await;
        let (hole_on_port, _filler) = black_hole().await;
        let working: SocketAddr = ([127, 0, 0, 1], server.port()).into();
        // The black hole first, as a broken IPv6 route would be. Its own attempt would
        // wait out the 60 s activity timeout; the next address starts after 250 ms.
        let connected = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = connected.clone();
        let client = Client::builder()
            .timeout(Duration::from_secs(60))
            .resolve("dual.test", server.port(), [hole_on_port, working])
            .on_connection_event(move |event| {
                if event.kind == courier::EventKind::Connect {
                    seen.lock().unwrap().push(event.address);
                }
            })
            .build()
            .unwrap();
        // Confirm the hole really hangs (so the test cannot pass by accident).
        let probe = tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(hole_on_port)).await;
        assert!(probe.is_err(), "the black hole answered: {probe:?}");

        let res = client.get(format!("http://dual.test:{}/", server.port())).send().await;
        assert_eq!((res.status().as_u16(), res.text().as_ref()), (200, "hello"), "{}", res.reason());
        // The connect event names the address that won.
        assert_eq!(*connected.lock().unwrap(), [Some(working)]);
    })
    .await;
}

#[tokio::test]
async fn a_failing_first_address_moves_on_at_once() {
    within(async {
        let server = hello_server().await;
        let refused = support::closed_port().await;
        let client = Client::builder()
            .resolve("two.test", server.port(), [([127, 0, 0, 1], refused).into(), server.local_addr()])
            .build()
            .unwrap();
        let res = client.get(format!("http://two.test:{}/", server.port())).send().await;
        assert_eq!(res.status(), 200, "{}", res.reason());

        // Every address failing: one 595 naming how many were tried.
        let client = Client::builder()
            .resolve("none.test", 80, [([127, 0, 0, 1], refused).into(), ([127, 0, 0, 3], refused).into()])
            .build()
            .unwrap();
        let res = client.get("http://none.test/").send().await;
        assert_eq!(res.status(), 595);
        assert!(res.reason().contains("2 addresses tried"), "{}", res.reason());
    })
    .await;
}
