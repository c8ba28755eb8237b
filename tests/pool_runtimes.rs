//! Pooled connections stay with the current-thread runtime that opened them: a socket is
//! registered with one runtime's reactor and dies with it.

mod support;
use support::*;

use courier::Client;

/// A keep-alive server answering every request with "ok", on its own multi-thread runtime.
fn start_server(runtime: &tokio::runtime::Runtime) -> Scripted {
    runtime.block_on(Scripted::start(|mut peer| async move {
        while peer.read_request().await.is_some() {
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        }
    }))
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

#[test]
fn current_thread_runtimes_do_not_share_pooled_connections() {
    let server_runtime = tokio::runtime::Runtime::new().expect("the server's runtime");
    let server = start_server(&server_runtime);
    let client = Client::new();
    let url = server.url("/");

    let first = current_thread_runtime();
    let status = first.block_on(within(client.get(&url).send())).status().as_u16();
    assert_eq!(status, 200);
    assert_eq!(server.connects(), 1);

    // Another runtime on another thread: its own connection, although one is idle.
    let (other_client, other_url) = (client.clone(), url.clone());
    let status = std::thread::spawn(move || {
        current_thread_runtime().block_on(within(other_client.get(&other_url).send())).status().as_u16()
    })
    .join()
    .expect("the other runtime's thread");
    assert_eq!(status, 200);
    assert_eq!(server.connects(), 2);

    // The first runtime still reuses its own.
    let status = first.block_on(within(client.get(&url).send())).status().as_u16();
    assert_eq!(status, 200);
    assert_eq!(server.connects(), 2);
}

#[test]
fn a_multi_thread_runtime_shares_its_connections_across_workers() {
    let server_runtime = tokio::runtime::Runtime::new().expect("the server's runtime");
    let server = start_server(&server_runtime);
    let client = Client::new();
    let url = server.url("/");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for _ in 0..3 {
        let (client, url) = (client.clone(), url.clone());
        let status =
            runtime.block_on(async move { tokio::spawn(async move { client.get(&url).send().await }).await });
        assert_eq!(status.expect("the task").status().as_u16(), 200);
    }
    assert_eq!(server.connects(), 1);
}
