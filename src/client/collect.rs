//! Reading a response body into the response or through `on_body` (`read_body`), with the
//! collector's limit, and the byte counts behind `on_progress`.

use super::body_reader::next_body_event;
use super::deadline::Deadline;
use super::decompress::Decoder;
use super::exchange::Exchange;
use super::options::{OnBody, OnProgress, Progress};
use super::response::Response;
use crate::error::{Error, ErrorKind};
use crate::h1::{BodyEvent, BodyMode};
use crate::io::Wire;
use bytes::{Bytes, BytesMut};

/// How much body to reserve up front from a Content-Length: a peer's number must not
/// make us allocate gigabytes before a byte of it arrives.
const MAX_BODY_PREALLOCATION: u64 = 1024 * 1024;

/// How much of a body the collector takes (bodies given to `on_body` are not collected).
#[derive(Clone, Copy)]
pub(crate) enum Collect {
    /// A redirect hop: keep the first N bytes and stop reading (the connection is not
    /// reused, so the unread rest can be left behind).
    Keep(usize),
    /// The final response: all of it, but past N bytes the response fails (597) rather
    /// than exhausting memory.
    UpTo(u64),
}

/// Where body pieces go: `on_body`, or the collector.
pub(crate) struct BodySink<'c, 'a> {
    on_body: Option<&'c mut OnBody<'a>>,
    collected: BodyCollector,
    collect: Collect,
}

impl<'c, 'a> BodySink<'c, 'a> {
    pub(crate) fn new(mode: BodyMode, on_body: Option<&'c mut OnBody<'a>>, collect: Collect) -> Self {
        Self { on_body, collected: BodyCollector::new(mode), collect }
    }

    /// Takes one piece; `Ok(false)` when the body was cut at `keep`.
    pub(crate) fn take(&mut self, data: Bytes, response: &Response) -> Result<bool, Error> {
        match self.on_body.as_mut() {
            Some(on_body) => {
                if !on_body(&data, response) {
                    return Err(Error::new(ErrorKind::Aborted, "request cancelled by on_body"));
                }
            }
            None => {
                let total = self.collected.len() + data.len();
                match self.collect {
                    Collect::Keep(keep) if total > keep => {
                        self.collected.push(data.slice(..keep - self.collected.len()));
                        return Ok(false);
                    }
                    Collect::UpTo(limit) if total as u64 > limit => {
                        let message = format!(
                            "the response body is larger than {limit} bytes (max_body_size); \
                             stream it with on_body or send_streaming"
                        );
                        return Err(Error::new(ErrorKind::ResponseBody, message));
                    }
                    _ => self.collected.push(data),
                }
            }
        }
        Ok(true)
    }

    /// Takes every chunk `content` can decode from what it has been fed so far.
    pub(crate) fn take_decoded(&mut self, content: &mut Decoder, response: &Response) -> Result<bool, Error> {
        while let Some(chunk) = content.next_chunk()? {
            if !self.take(chunk, response)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The collected body.
    pub(crate) fn finish(self) -> Bytes {
        self.collected.finish()
    }
}

/// Counts bytes for the progress callback.
pub(crate) struct Meter<'c, 'a> {
    on_progress: Option<&'c mut OnProgress<'a>>,
    pub(crate) progress: Progress,
}

impl<'c, 'a> Meter<'c, 'a> {
    pub(crate) fn new(on_progress: Option<&'c mut OnProgress<'a>>, send_total: Option<u64>) -> Self {
        Self { on_progress, progress: Progress { send_total, ..Progress::default() } }
    }

    /// Goes on counting from `progress` (the request went out under another meter).
    pub(crate) fn resume(on_progress: Option<&'c mut OnProgress<'a>>, progress: Progress) -> Self {
        Self { on_progress, progress }
    }

    pub(crate) fn sent(&mut self, bytes: usize) {
        self.progress.sent += bytes as u64;
        self.report();
    }

    pub(crate) fn received(&mut self, bytes: usize) {
        self.progress.received += bytes as u64;
        self.report();
    }

    fn report(&mut self) {
        if let Some(callback) = self.on_progress.as_mut() {
            callback(self.progress);
        }
    }
}

/// Collects body pieces, without copying when the body arrives in one piece.
enum BodyCollector {
    One(Bytes),
    Many(BytesMut),
}

impl BodyCollector {
    fn new(mode: BodyMode) -> Self {
        match mode {
            BodyMode::Length(length) if length > 0 => {
                Self::Many(BytesMut::with_capacity(length.min(MAX_BODY_PREALLOCATION) as usize))
            }
            _ => Self::One(Bytes::new()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::One(bytes) => bytes.len(),
            Self::Many(bytes) => bytes.len(),
        }
    }

    fn push(&mut self, data: Bytes) {
        match self {
            Self::One(first) if first.is_empty() => *first = data,
            Self::One(first) => {
                let mut many = BytesMut::with_capacity(first.len() + data.len());
                many.extend_from_slice(first);
                many.extend_from_slice(&data);
                *self = Self::Many(many);
            }
            Self::Many(many) => many.extend_from_slice(&data),
        }
    }

    fn finish(self) -> Bytes {
        match self {
            Self::One(bytes) => bytes,
            Self::Many(bytes) => bytes.freeze(),
        }
    }
}

/// Reads the body into `response` (or through `on_body`), keeping at most what `collect`
/// allows, decoding it through `content` if given. `Ok(true)` when the body was read to
/// its end, `Ok(false)` when it was cut at the limit of a [`Collect::Keep`].
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read_body(
    conn: &mut Wire,
    exchange: &mut Exchange,
    response: &mut Response,
    on_body: Option<&mut OnBody<'_>>,
    collect: Collect,
    mut meter: Option<&mut Meter<'_, '_>>,
    mut content: Option<Decoder>,
    deadline: &Deadline,
) -> Result<bool, Error> {
    let mode = exchange.body_mode()?;
    let mut sink = BodySink::new(mode, on_body, collect);
    let outcome = loop {
        match next_body_event(conn, exchange, deadline).await {
            Ok(BodyEvent::Data(data)) => {
                if let Some(meter) = meter.as_mut() {
                    meter.received(data.len());
                }
                let flow = match content.as_mut() {
                    None => sink.take(data, response),
                    Some(content) => {
                        content.push(data);
                        sink.take_decoded(content, response)
                    }
                };
                match flow {
                    Ok(true) => {}
                    Ok(false) => break Ok(false),
                    Err(error) => break Err(error),
                }
            }
            Ok(BodyEvent::End(trailers)) => {
                response.trailers = (!trailers.is_empty()).then(|| Box::new(trailers));
                if let Some(content) = content.as_mut() {
                    content.finish();
                    // The wire body is complete whatever the decoded one does.
                    if let Err(error) = sink.take_decoded(content, response) {
                        break Err(error);
                    }
                }
                break Ok(true);
            }
            Err(error) => break Err(error),
        }
    };
    response.body = sink.finish();
    outcome
}
