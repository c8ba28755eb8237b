//! Upgrading a bundled-server request to WebSocket (AnyEvent::WebSocket::Server's `establish_psgi`).

use super::{Connection, WebSocketServer};
use crate::server::{Reply, Request};
use std::future::Future;

impl<T: Send + 'static> WebSocketServer<T> {
    /// Answers a bundled-server request with the WebSocket handshake and hands its
    /// connection to `on_open`, with what the handshake hook returned. Return the reply
    /// from the route: it is the 101, or the refusal (400, 426, or the hook's rejection)
    /// when the request is not a handshake this server accepts.
    ///
    /// Bytes the client sent right after its handshake are not lost: they are the first
    /// frames the connection reads. When the server shuts down, a connection waiting in
    /// `recv` is closed with 1001; a session that does not read is dropped twice the
    /// close timeout after shutdown began. An upgraded connection counts against the
    /// server's `concurrency` limit until its session ends.
    ///
    /// ```no_run
    /// use courier::server::{Reply, Request, Server};
    /// use courier::ws::{Message, WebSocketServer};
    /// # async fn run() -> std::io::Result<()> {
    /// let ws = WebSocketServer::new();
    /// let server = Server::builder()
    ///     .route("/echo", move |request: Request| {
    ///         let ws = ws.clone();
    ///         async move {
    ///             ws.upgrade(&request, |mut connection, ()| async move {
    ///                 while let Some(message) = connection.recv().await {
    ///                     if let Message::Text(_) | Message::Binary(_) = message {
    ///                         let _ = connection.send(message).await;
    ///                     }
    ///                 }
    ///             })
    ///         }
    ///     })
    ///     .start()
    ///     .await?;
    /// println!("ws://{}/echo", server.local_addr());
    /// # Ok(()) }
    /// ```
    pub fn upgrade<F, Fut>(&self, request: &Request, on_open: F) -> Reply
    where
        F: FnOnce(Connection, T) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accepted = match self.accept(request.head().clone()) {
            Ok(accepted) => accepted,
            Err(rejection) => return rejection_reply(rejection),
        };
        let limits = self.limits;
        let (subprotocol, extra) = (accepted.subprotocol, accepted.extra);
        Reply::switching_protocols(
            accepted.headers,
            Box::new(move |io, leftover, shutdown| {
                Box::pin(async move {
                    let mut stopping = shutdown.clone();
                    let connection =
                        Connection::open(io, leftover, subprotocol, limits, Some(shutdown)).await;
                    // On shutdown the connection closes itself (1001) if the session is
                    // reading; a session that is not gets the close timeout, then ends.
                    let grace = async {
                        let _ = stopping.wait_for(|stop| *stop).await;
                        tokio::time::sleep(limits.close_timeout.saturating_mul(2)).await;
                    };
                    tokio::select! {
                        () = on_open(connection, extra) => {}
                        () = grace => {}
                    }
                })
            }),
        )
    }
}

/// A refused handshake as a bundled-server reply: the same status, headers and body
/// `establish` sends, and the same close afterwards.
fn rejection_reply(rejection: super::Rejection) -> Reply {
    let mut reply =
        Reply::text(rejection.body()).with_status(rejection.status()).with_header("connection", "close");
    for (name, value) in rejection.headers() {
        if let Ok(value) = value.to_str() {
            reply = reply.with_header(name.as_str(), value);
        }
    }
    reply
}
