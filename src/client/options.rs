//! Per-request settings beyond the message itself (timeouts, callbacks, connection
//! choices), and the callback types. The builder fills them; the main loop reads them.

use super::connect::{Connector, OnPrepare};
use super::response::Response;
use super::retry::Retry;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type OnHeader<'a> = Box<dyn FnMut(&Response) -> bool + Send + 'a>;
pub(crate) type OnBody<'a> = Box<dyn FnMut(&Bytes, &Response) -> bool + Send + 'a>;
pub(crate) type OnProgress<'a> = Box<dyn FnMut(Progress) + Send + 'a>;

/// How far a request has got, for [`on_progress`](crate::RequestBuilder::on_progress).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Request body bytes sent so far.
    pub sent: u64,
    /// The request body's size, when known.
    pub send_total: Option<u64>,
    /// Response body bytes received so far (of the final response).
    pub received: u64,
    /// The response body's size, when it has a Content-Length.
    pub receive_total: Option<u64>,
}

/// Per-request settings that are not part of the message itself.
pub(crate) struct Options<'a> {
    pub(crate) timeout: Duration,
    /// The overall bound on the request (`None`: none), from the first byte of work.
    pub(crate) deadline: Option<Duration>,
    /// The retry policy, if any.
    pub(crate) retry: Option<Retry>,
    pub(crate) recurse: u32,
    pub(crate) read_buffer_size: usize,
    /// Largest body collected in memory (597 beyond it).
    pub(crate) max_body_size: u64,
    pub(crate) on_header: Option<OnHeader<'a>>,
    pub(crate) on_body: Option<OnBody<'a>>,
    pub(crate) want_body_handle: bool,
    /// `send_streaming`: return after the head; the caller reads the body.
    pub(crate) stream_body: bool,
    /// A body produced while it is sent (stream, reader or file), instead of `body`.
    pub(crate) upload: Option<super::upload::Upload>,
    pub(crate) on_progress: Option<OnProgress<'a>>,
    pub(crate) on_prepare: Option<OnPrepare>,
    pub(crate) connector: Option<Arc<dyn Connector>>,
    /// `None`: the default, persistent for idempotent methods only.
    pub(crate) persistent: Option<bool>,
    /// `None`: on, unless a proxy is used (AnyEvent::HTTP's default).
    pub(crate) keepalive: Option<bool>,
    pub(crate) session_id: Option<String>,
    pub(crate) proxy: super::proxy::Proxy,
    #[cfg(feature = "cookies")]
    pub(crate) cookie_jar: Option<super::cookies::CookieJar>,
    #[cfg(feature = "tls")]
    pub(crate) tls: crate::tls::Tls,
    /// Ask for and decode compressed responses.
    #[cfg(feature = "decompress")]
    pub(crate) decompress: bool,
}

impl<'a> Options<'a> {
    /// A copy, unless callbacks (not `Clone`) or a body sent once are part of it.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        if self.on_header.is_some() || self.on_body.is_some() || self.on_progress.is_some() {
            return None;
        }
        let upload = match &self.upload {
            Some(upload) => Some(upload.try_clone()?),
            None => None,
        };
        Some(Self {
            timeout: self.timeout,
            deadline: self.deadline,
            retry: self.retry.clone(),
            recurse: self.recurse,
            read_buffer_size: self.read_buffer_size,
            max_body_size: self.max_body_size,
            on_header: None,
            on_body: None,
            want_body_handle: self.want_body_handle,
            stream_body: self.stream_body,
            upload,
            on_progress: None,
            on_prepare: self.on_prepare.clone(),
            connector: self.connector.clone(),
            persistent: self.persistent,
            keepalive: self.keepalive,
            session_id: self.session_id.clone(),
            proxy: self.proxy.clone(),
            #[cfg(feature = "cookies")]
            cookie_jar: self.cookie_jar.clone(),
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
            #[cfg(feature = "decompress")]
            decompress: self.decompress,
        })
    }
}
