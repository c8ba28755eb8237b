//! Request bodies that are not in memory: a `Stream` of chunks, an `AsyncRead`, or a file,
//! sent with Content-Length when the length is known and chunked otherwise.

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How much is read from a reader or file per chunk.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// A request body produced while it is sent. It can be sent only once: such a request is
/// never retried, and a 307/308 redirect (which would need the body again) is returned as
/// the response instead of being followed.
pub(crate) struct Upload {
    source: Source,
    /// The length when known up front (a file's size, or the caller's word).
    pub(crate) length: Option<u64>,
}

enum Source {
    Stream(Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>),
    Reader(Pin<Box<dyn AsyncRead + Send>>),
    /// Opened when the request is sent, so the builder stays synchronous.
    File(PathBuf),
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload").field("length", &self.length).finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) fn stream(
        stream: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
        length: Option<u64>,
    ) -> Self {
        Self { source: Source::Stream(Box::pin(stream)), length }
    }

    pub(crate) fn reader(reader: impl AsyncRead + Send + 'static, length: Option<u64>) -> Self {
        Self { source: Source::Reader(Box::pin(reader)), length }
    }

    pub(crate) fn file(path: PathBuf) -> Self {
        Self { source: Source::File(path), length: None }
    }

    /// A second, unsent copy: only a file not yet opened can be read again.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        match &self.source {
            Source::File(path) => Some(Self::file(path.clone())),
            Source::Stream(_) | Source::Reader(_) => None,
        }
    }

    /// Opens a file body and learns its length (before the head is written).
    pub(crate) async fn open(&mut self) -> io::Result<()> {
        if let Source::File(path) = &self.source {
            let file = tokio::fs::File::open(path).await?;
            self.length = Some(file.metadata().await?.len());
            self.source = Source::Reader(Box::pin(file));
        }
        Ok(())
    }

    /// The next chunk; `None` at the end. Empty chunks are skipped.
    pub(crate) async fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            let chunk = match &mut self.source {
                Source::Stream(stream) => match stream.next().await {
                    Some(chunk) => chunk?,
                    None => return Ok(None),
                },
                Source::Reader(reader) => {
                    let mut buf = BytesMut::with_capacity(UPLOAD_CHUNK);
                    if reader.read_buf(&mut buf).await? == 0 {
                        return Ok(None);
                    }
                    buf.freeze()
                }
                Source::File(_) => return Err(io::Error::other("file body not opened")),
            };
            if !chunk.is_empty() {
                return Ok(Some(chunk));
            }
        }
    }
}
