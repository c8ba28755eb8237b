//! A server on its own thread and runtime, for synchronous tests and blocking clients.

use super::{RecordedRequest, Server, ServerBuilder, WaitTimedOut};
use std::io;
use std::time::Duration;

/// A [`Server`] that runs on a thread of its own, with its own tokio runtime: for tests
/// without `#[tokio::test]` and for blocking clients (ureq, `reqwest::blocking`,
/// `std::net`). Made by [`ServerBuilder::start_blocking`].
///
/// It dereferences to the [`Server`], so `url`, `requests` and the rest work as usual.
/// Dropping it (or [`shutdown`](Self::shutdown)) shuts the server down gracefully and
/// waits for its thread; a panic on that thread (a failed check when the server is
/// dropped) comes back to the caller. Dropped while the caller's thread panics, it does
/// not wait: the shutdown finishes on the server's thread.
///
/// ```
/// use courier::server::{Reply, Server};
/// use std::io::{Read, Write};
/// let server = Server::builder().route("/hi", |_req| async { Reply::text("hi") }).start_blocking()?;
/// let mut socket = std::net::TcpStream::connect(server.local_addr())?;
/// socket.write_all(b"GET /hi HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")?;
/// let mut reply = String::new();
/// socket.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("\r\n\r\nhi"));
/// assert_eq!(server.requests()[0].target, "/hi");
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BlockingServer {
    server: Option<Server>,
    /// The server's runtime, to wait on from this thread.
    runtime: tokio::runtime::Handle,
    /// Hands the server back to its thread, which shuts it down and ends.
    stop: Option<tokio::sync::oneshot::Sender<Server>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerBuilder {
    /// Binds and starts serving on a new thread with its own runtime, and returns once
    /// the server listens. Call it outside async code (it blocks until the server is up).
    pub fn start_blocking(self) -> io::Result<BlockingServer> {
        let (ready, started) = std::sync::mpsc::sync_channel(1);
        let (stop, stopped) = tokio::sync::oneshot::channel::<Server>();
        let thread = std::thread::Builder::new().name("courier-server".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => return drop(ready.send(Err(error))),
            };
            runtime.block_on(async move {
                let server = match self.start().await {
                    Ok(server) => server,
                    Err(error) => return drop(ready.send(Err(error))),
                };
                if ready.send(Ok((server, tokio::runtime::Handle::current()))).is_err() {
                    return;
                }
                // Serving happens in the tasks this runtime drives while it waits here.
                if let Ok(server) = stopped.await {
                    server.shutdown().await;
                }
            });
        })?;
        let (server, runtime) = started
            .recv()
            .map_err(|_| io::Error::other("the server thread ended before the server started"))??;
        Ok(BlockingServer { server: Some(server), runtime, stop: Some(stop), thread: Some(thread) })
    }
}

impl BlockingServer {
    /// [`Server::wait_for_requests`], blocking this thread.
    pub fn wait_for_requests(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitTimedOut> {
        self.runtime.block_on(self.server().wait_for_requests(count, timeout))
    }

    /// Shuts the server down gracefully and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server runs until the handle is dropped")
    }

    fn stop_and_join(&mut self) {
        if let (Some(server), Some(stop)) = (self.server.take(), self.stop.take()) {
            // If the thread is gone already, the server comes back and is dropped here.
            let _ = stop.send(server);
        }
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

impl std::ops::Deref for BlockingServer {
    type Target = Server;

    fn deref(&self) -> &Server {
        self.server()
    }
}

impl Drop for BlockingServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failing test unwinds: stop accepting, and let graceful shutdown finish on
            // the server's own thread rather than hold the panic up (a half-sent request
            // could keep it for the request timeout).
            if let Some(server) = &self.server {
                server.shutdown_handle().trigger();
            }
            if let (Some(server), Some(stop)) = (self.server.take(), self.stop.take()) {
                let _ = stop.send(server);
            }
            return;
        }
        self.stop_and_join();
    }
}

impl std::fmt::Debug for BlockingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingServer").field("server", &self.server).finish_non_exhaustive()
    }
}
