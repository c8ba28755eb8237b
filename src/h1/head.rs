//! Parsed message heads: what a request or response says before its body.

use http::{HeaderMap, Method, StatusCode, Version};

/// A response's status line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The three-digit status (100..=999).
    pub status: StatusCode,
    /// The reason phrase as sent (empty if absent or not UTF-8).
    pub reason: String,
    /// Header fields, names lowercased, repeats kept in order.
    pub headers: HeaderMap,
}

/// A request's request line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request method.
    pub method: Method,
    /// The request target exactly as sent (origin-form, absolute-form, authority or `*`).
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// Header fields, names lowercased, repeats kept in order.
    pub headers: HeaderMap,
}
