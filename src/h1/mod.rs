//! Sans-IO HTTP/1.1: parse and write heads, decide body framing both ways, decode and encode
//! bodies, the persistence rule. No sockets here.
//!
//! Everything in this module works on byte slices and buffers handed in by the caller and
//! returns parsed values or events. Incomplete input is `Ok(None)`, never an error. The
//! client (and later the bundled server) drive it over sockets from `crate::io`.

mod decode;
mod encode;
mod error;
mod framing;
mod head;
pub mod limits;
mod outgoing;
mod parse;
mod write;

pub use decode::{BodyDecoder, BodyEvent};
pub use encode::{chunk_size_line, encode_chunk, LAST_CHUNK};
pub use error::ProtocolError;
pub use framing::{body_mode, list_has_token, BodyMode, MessageKind};
pub use head::{RequestHead, ResponseHead};
pub use outgoing::{
    framing, has_body, keep_alive, write_connect_request, write_continue, ConnectionTokens, EncodeError,
    Encoder, Framing, FramingField, KeepAlive, Outgoing, CONTINUE,
};
pub use parse::{parse_request_head, parse_response_head};
pub use write::{
    end_head, format_decimal, write_field, write_request_head, write_request_line, write_response_head,
    write_status_line,
};
