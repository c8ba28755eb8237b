//! Form data: decoded parameters from the query and from `application/x-www-form-urlencoded`
//! (`&` and `;` separators) and `multipart/form-data` bodies (through `multer`), with
//! limits on the number of parameters and parts and on their sizes.

use super::{BodyError, Reply, Request};
use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use http::header::CONTENT_TYPE;
use http::HeaderMap;
use std::fmt;

/// Default most parts read from a `multipart/form-data` body (see [`FormLimits`]).
pub const DEFAULT_MAX_PARTS: usize = 1_000;

/// Default most parameters read from an `application/x-www-form-urlencoded` body (see
/// [`FormLimits`]).
pub const DEFAULT_MAX_PARAMS: usize = 10_000;

const URLENCODED: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// Decodes `a=1&b=two+words;c=%41` into pairs, in order. Keys without `=` get "".
pub(crate) fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    crate::percent::decode_form(text).collect()
}

/// Decoded request parameters, in the order they arrived, repeats kept.
///
/// ```
/// use courier::server::Params;
/// let params: Params = [("a", "1"), ("b", "2"), ("a", "3")].into_iter().collect();
/// assert_eq!(params.get("a"), Some("1"));
/// assert_eq!(params.get_all("a"), ["1", "3"]);
/// assert_eq!(params.get("c"), None);
/// let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
/// assert_eq!(names, ["a", "b", "a"]);
/// assert_eq!((params.len(), params.is_empty()), (3, false));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The first value of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Every value of the parameter called `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    /// Whether a parameter called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, _)| key == name)
    }

    /// The `(name, value)` pairs, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (String, String)> {
        self.pairs.iter()
    }

    /// The `(name, value)` pairs, in order.
    pub fn as_slice(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// How many pairs there are (repeats counted).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl From<Vec<(String, String)>> for Params {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }
}

impl From<Params> for Vec<(String, String)> {
    fn from(params: Params) -> Self {
        params.pairs
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self { pairs: pairs.into_iter().map(|(key, value)| (key.into(), value.into())).collect() }
    }
}

impl IntoIterator for Params {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs.iter()
    }
}

/// One part of a `multipart/form-data` body: a text field, or a file when it has a
/// `filename`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Part {
    /// The `name` of its `Content-Disposition`.
    pub name: Option<String>,
    /// The `filename` of its `Content-Disposition` (set for file uploads, even if empty).
    pub filename: Option<String>,
    /// Its `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// All of its header fields.
    pub headers: HeaderMap,
    /// Its content, exactly as sent.
    pub data: Bytes,
}

impl Part {
    /// True for a file upload (the part has a `filename`).
    pub fn is_file(&self) -> bool {
        self.filename.is_some()
    }

    /// The content as text (invalid UTF-8 reads as U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Limits on parsing a form body, for [`Request::params_with`] and
/// [`Request::multipart_with`]. The server's body size limit always applies as well.
///
/// ```
/// use courier::server::FormLimits;
/// let limits = FormLimits::new().max_parts(10).max_part_size(64 * 1024).max_size(1 << 20);
/// # let _ = limits;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct FormLimits {
    max_parts: usize,
    max_params: usize,
    max_part_size: Option<u64>,
    max_size: Option<u64>,
}

impl Default for FormLimits {
    fn default() -> Self {
        Self {
            max_parts: DEFAULT_MAX_PARTS,
            max_params: DEFAULT_MAX_PARAMS,
            max_part_size: None,
            max_size: None,
        }
    }
}

impl FormLimits {
    /// The defaults: [`DEFAULT_MAX_PARTS`] parts, [`DEFAULT_MAX_PARAMS`] urlencoded
    /// parameters, and part and body sizes up to the server's body size limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Most parts in a multipart body ([`FormError::TooManyParts`] beyond it).
    pub fn max_parts(mut self, parts: usize) -> Self {
        self.max_parts = parts;
        self
    }

    /// Most parameters in a urlencoded body ([`FormError::TooManyParams`] beyond it).
    pub fn max_params(mut self, params: usize) -> Self {
        self.max_params = params;
        self
    }

    /// Largest content of one multipart part ([`FormError::PartTooLarge`] beyond it).
    pub fn max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_size = Some(bytes);
        self
    }

    /// Largest form body ([`FormError::Body`] with [`BodyError::TooLarge`] beyond it);
    /// never more than the server's body size limit.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }
}

/// Why a form could not be read. Converts into a [`Reply`] (400, 413 or 415), so a handler
/// can use `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// The body could not be read (or is larger than the limits).
    Body(BodyError),
    /// The body is not a form of the kind asked for: its content type, if any.
    NotAForm {
        /// The request's `Content-Type`, if it has one.
        content_type: Option<String>,
    },
    /// The multipart body (or its content type's boundary) is broken.
    Malformed(String),
    /// The multipart body has more parts than the limit.
    TooManyParts {
        /// The limit.
        limit: usize,
    },
    /// The urlencoded body has more parameters than the limit.
    TooManyParams {
        /// The limit.
        limit: usize,
    },
    /// A part's content is larger than the limit.
    PartTooLarge {
        /// The part's name, if it has one.
        name: Option<String>,
        /// The limit, in bytes.
        limit: u64,
    },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Body(cause) => fmt::Display::fmt(cause, f),
            Self::NotAForm { content_type: Some(content_type) } => {
                write!(f, "expected a form, got content type {content_type}")
            }
            Self::NotAForm { content_type: None } => f.write_str("expected a form, got no content type"),
            Self::Malformed(reason) => write!(f, "malformed multipart body: {reason}"),
            Self::TooManyParts { limit } => write!(f, "more than {limit} parts in the multipart body"),
            Self::TooManyParams { limit } => write!(f, "more than {limit} parameters in the form body"),
            Self::PartTooLarge { name: Some(name), limit } => {
                write!(f, "part {name:?} larger than {limit} bytes")
            }
            Self::PartTooLarge { name: None, limit } => write!(f, "a part larger than {limit} bytes"),
        }
    }
}

impl std::error::Error for FormError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Body(cause) => Some(cause),
            _ => None,
        }
    }
}

impl From<BodyError> for FormError {
    fn from(error: BodyError) -> Self {
        Self::Body(error)
    }
}

impl From<FormError> for Reply {
    /// 415 for a body that is not a form, 400 for a malformed one, 413 beyond a limit, and
    /// the body error's reply when the body could not be read.
    fn from(error: FormError) -> Self {
        let status = match &error {
            FormError::Body(cause) => return Reply::from(cause.clone()),
            FormError::NotAForm { .. } => 415,
            FormError::Malformed(_) => 400,
            FormError::TooManyParts { .. }
            | FormError::TooManyParams { .. }
            | FormError::PartTooLarge { .. } => 413,
        };
        Reply::error(status, &error.to_string())
    }
}

/// Which kind of form a request's body is.
enum FormKind {
    /// With the content type, for error messages.
    Urlencoded(String),
    /// With the content type, for its boundary.
    Multipart(String),
    Other(Option<String>),
}

fn form_kind(request: &Request) -> FormKind {
    let Some(value) = request.headers().get(CONTENT_TYPE) else { return FormKind::Other(None) };
    let content_type = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(URLENCODED) {
        FormKind::Urlencoded(content_type)
    } else if media_type.eq_ignore_ascii_case(MULTIPART) {
        FormKind::Multipart(content_type)
    } else {
        FormKind::Other(Some(content_type))
    }
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Result<String, FormError> {
    match multer::parse_boundary(content_type) {
        Ok(boundary) if !boundary.is_empty() => Ok(boundary),
        Ok(_) => Err(FormError::Malformed("empty boundary in the content type".into())),
        Err(multer::Error::NoBoundary) => Err(FormError::Malformed("no boundary in the content type".into())),
        Err(_) => Err(FormError::Malformed("invalid content type".into())),
    }
}

/// Translates multer's errors, recovering the body errors passed through its stream.
fn from_multer(error: multer::Error) -> FormError {
    match error {
        multer::Error::StreamReadFailed(cause) => match cause.downcast::<BodyError>() {
            Ok(cause) => FormError::Body(*cause),
            Err(cause) => FormError::Malformed(cause.to_string()),
        },
        multer::Error::StreamSizeExceeded { .. } => FormError::Body(BodyError::TooLarge),
        multer::Error::FieldSizeExceeded { limit, field_name } => {
            FormError::PartTooLarge { name: field_name, limit }
        }
        other => FormError::Malformed(other.to_string()),
    }
}

impl Request {
    /// The request's parameters: the query's, then the body's when it is a form
    /// (`application/x-www-form-urlencoded`, or the text fields of `multipart/form-data`;
    /// files are left to [`multipart`](Self::multipart)). Values are decoded (`+` is a
    /// space, `&` and `;` both separate pairs, invalid UTF-8 reads as U+FFFD), in order,
    /// repeats kept. A body of any other type is left unread and only the query counts.
    ///
    /// Uses [`FormLimits::default`]; see [`params_with`](Self::params_with).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{FormError, Reply, Server};
    /// let server = Server::builder()
    ///     .route("/greet", |req| async move {
    ///         let params = req.params().await?;
    ///         let names = params.get_all("name").join(" and ");
    ///         Ok::<_, FormError>(Reply::text(format!("hello {names}")))
    ///     })
    ///     .start()
    ///     .await?;
    /// let res = courier::post(server.url("/greet?name=Ann")).body("name=Bob+Smith&name=%C3%89mile")
    ///     .header("content-type", "application/x-www-form-urlencoded")
    ///     .send()
    ///     .await;
    /// assert_eq!(res.text(), "hello Ann and Bob Smith and Émile");
    /// server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn params(&self) -> Result<Params, FormError> {
        self.params_with(&FormLimits::default()).await
    }

    /// [`params`](Self::params) with other limits.
    pub async fn params_with(&self, limits: &FormLimits) -> Result<Params, FormError> {
        let mut pairs = self.query_params();
        match form_kind(self) {
            FormKind::Urlencoded(_) => {
                let body = self.form_body(limits).await?;
                let text = String::from_utf8_lossy(&body);
                let before = pairs.len();
                pairs.extend(crate::percent::decode_form(&text).take(limits.max_params.saturating_add(1)));
                if pairs.len() - before > limits.max_params {
                    return Err(FormError::TooManyParams { limit: limits.max_params });
                }
            }
            FormKind::Multipart(_) => {
                for part in self.multipart_with(limits).await? {
                    if let (Some(name), None) = (part.name, &part.filename) {
                        pairs.push((name, String::from_utf8_lossy(&part.data).into_owned()));
                    }
                }
            }
            FormKind::Other(_) => {}
        }
        Ok(Params { pairs })
    }

    /// Every part of a `multipart/form-data` body, in order: text fields and files (with
    /// their filename and content type) alike. Parsing streams the body as it arrives
    /// (sending `100 Continue` if the client waits for it) and stops at the first limit
    /// exceeded: [`DEFAULT_MAX_PARTS`] parts, and part and body sizes up to the server's body
    /// size limit; see [`multipart_with`](Self::multipart_with).
    ///
    /// Any other content type is [`FormError::NotAForm`] (415); a missing boundary or a
    /// broken body is [`FormError::Malformed`] (400).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use courier::server::{FormError, Reply, Server};
    /// let server = Server::builder()
    ///     .route("/upload", |req| async move {
    ///         let mut listing = String::new();
    ///         for part in req.multipart().await? {
    ///             let name = part.name.as_deref().unwrap_or("?");
    ///             let file = part.filename.as_deref().unwrap_or("-");
    ///             listing += &format!("{name} {file} {}\n", part.data.len());
    ///         }
    ///         Ok::<_, FormError>(Reply::text(listing))
    ///     })
    ///     .start()
    ///     .await?;
    /// let body: &[u8] = b"--XX\r\n\
    ///     content-disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n\
    ///     --XX\r\n\
    ///     content-disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\
    ///     content-type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--XX--\r\n";
    /// let res = courier::post(server.url("/upload")).body(body)
    ///     .header("content-type", "multipart/form-data; boundary=XX")
    ///     .send()
    ///     .await;
    /// assert_eq!(res.text(), "title - 7\nphoto a.jpg 3\n");
    /// server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn multipart(&self) -> Result<Vec<Part>, FormError> {
        self.multipart_with(&FormLimits::default()).await
    }

    /// [`multipart`](Self::multipart) with other limits.
    pub async fn multipart_with(&self, limits: &FormLimits) -> Result<Vec<Part>, FormError> {
        let content_type = match form_kind(self) {
            FormKind::Multipart(content_type) => content_type,
            FormKind::Urlencoded(content_type) => {
                return Err(FormError::NotAForm { content_type: Some(content_type) })
            }
            FormKind::Other(content_type) => return Err(FormError::NotAForm { content_type }),
        };
        let boundary = boundary(&content_type)?;
        let max_size = self.max_form_size(limits);
        let size_limit = multer::SizeLimit::new()
            .whole_stream(max_size)
            .per_field(limits.max_part_size.unwrap_or(max_size));
        let constraints = multer::Constraints::new().size_limit(size_limit);
        let mut multipart = multer::Multipart::with_constraints(self.body_stream(), boundary, constraints);
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(from_multer)? {
            if parts.len() >= limits.max_parts {
                return Err(FormError::TooManyParts { limit: limits.max_parts });
            }
            let name = field.name().map(str::to_owned);
            let filename = field.file_name().map(str::to_owned);
            let headers = field.headers().clone();
            let content_type =
                headers.get(CONTENT_TYPE).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
            let data = field.bytes().await.map_err(from_multer)?;
            parts.push(Part { name, filename, content_type, headers, data });
        }
        drop(multipart);
        // The epilogue after the closing boundary (usually a CRLF) is read and ignored, so
        // the body is complete; it counts towards the size limits like the rest.
        let mut size = self.received_body().0.len() as u64;
        while let Some(piece) = self.next_piece(true).await? {
            size += piece.len() as u64;
            if size > max_size {
                return Err(FormError::Body(BodyError::TooLarge));
            }
        }
        Ok(parts)
    }

    /// The smaller of the form limit and the server's body limit.
    fn max_form_size(&self, limits: &FormLimits) -> u64 {
        let server = self.limits().max_body_size;
        limits.max_size.map_or(server, |limit| limit.min(server))
    }

    /// The whole body, within the form's size limit.
    async fn form_body(&self, limits: &FormLimits) -> Result<Bytes, FormError> {
        let max_size = self.max_form_size(limits);
        let (received, _) = self.received_body();
        let mut size = received.len() as u64;
        drop(received);
        loop {
            if size > max_size {
                return Err(FormError::Body(BodyError::TooLarge));
            }
            match self.next_piece(true).await? {
                Some(piece) => size += piece.len() as u64,
                None => break,
            }
        }
        Ok(self.body().await?)
    }

    /// The body as a stream for multer: what has been read already, then the rest as it
    /// arrives.
    fn body_stream(&self) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + 'static {
        let (received, _) = self.received_body();
        let already = stream::iter((!received.is_empty()).then_some(Ok(received)));
        let rest = stream::unfold(Some(self.clone()), |request| async move {
            let request = request?;
            match request.next_piece(true).await {
                Ok(Some(piece)) => Some((Ok(piece), Some(request))),
                Ok(None) => None,
                // One error ends the stream.
                Err(error) => Some((Err(error), None)),
            }
        });
        already.chain(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_with_both_separators() {
        let pairs = parse_urlencoded("a=1&b=two+words;c=%41%42&d&e=%zz&f=%4");
        let expected = [("a", "1"), ("b", "two words"), ("c", "AB"), ("d", ""), ("e", "%zz"), ("f", "%4")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn decoding_never_panics_on_odd_input() {
        for text in ["%", "%%", "%%%", "=", "==", "&;&", "%e9", "a=%F0%9F", "%\u{e9}9", "+%2"] {
            let _ = parse_urlencoded(text);
        }
        assert_eq!(parse_urlencoded("%e9=%C3%A9"), [("\u{fffd}".to_string(), "é".to_string())]);
        assert_eq!(parse_urlencoded("%\u{e9}9"), [("%\u{e9}9".to_string(), String::new())]);
    }

    #[test]
    fn params_keep_order_and_repeats() {
        let params: Params = [("a", "1"), ("b", "2"), ("a", "3")].into_iter().collect();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get_all("a"), ["1", "3"]);
        assert!(params.get_all("z").is_empty());
        assert!(params.contains("b") && !params.contains("z"));
        let pairs: Vec<(String, String)> = params.clone().into_iter().collect();
        assert_eq!(pairs, Vec::from(params));
    }

    #[test]
    fn boundaries_come_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Ok("XyZ".into()));
        assert_eq!(boundary("multipart/form-data; boundary=\"a b\""), Ok("a b".into()));
        assert_eq!(
            boundary("multipart/form-data"),
            Err(FormError::Malformed("no boundary in the content type".into()))
        );
        assert!(matches!(boundary("multipart/form-data; boundary=\"\""), Err(FormError::Malformed(_))));
        assert!(matches!(boundary("multipart/form-data; ;;=="), Err(FormError::Malformed(_))));
    }

    #[test]
    fn errors_map_to_replies() {
        let status = |error: FormError| Reply::from(error).status().as_u16();
        assert_eq!(status(FormError::NotAForm { content_type: None }), 415);
        assert_eq!(status(FormError::Malformed("x".into())), 400);
        assert_eq!(status(FormError::TooManyParts { limit: 1 }), 413);
        assert_eq!(status(FormError::TooManyParams { limit: 1 }), 413);
        assert_eq!(status(FormError::PartTooLarge { name: None, limit: 1 }), 413);
        assert_eq!(status(FormError::Body(BodyError::TooLarge)), 413);
        assert_eq!(status(FormError::Body(BodyError::TimedOut)), 408);
        let reply = Reply::from(FormError::TooManyParts { limit: 3 });
        assert_eq!(
            reply.body_bytes().map(|b| b.to_vec()),
            Some(b"413 Payload Too Large: more than 3 parts in the multipart body\n".to_vec())
        );
    }

    fn parse(
        body: &'static [u8],
        boundary: &str,
        limits: multer::Constraints,
    ) -> Result<Vec<Bytes>, FormError> {
        let stream = stream::iter(body.chunks(3).map(|piece| Ok::<_, BodyError>(Bytes::from_static(piece))));
        let mut multipart = multer::Multipart::with_constraints(stream, boundary.to_owned(), limits);
        futures_util::FutureExt::now_or_never(async move {
            let mut parts = Vec::new();
            while let Some(field) = multipart.next_field().await.map_err(from_multer)? {
                parts.push(field.bytes().await.map_err(from_multer)?);
            }
            Ok(parts)
        })
        .expect("a stream that is always ready parses without waiting")
    }

    #[test]
    fn multer_errors_translate() {
        let ok = parse(
            b"--b\r\ncontent-disposition: form-data; name=x\r\n\r\nab\r\ncd\r\n--b--\r\n",
            "b",
            Default::default(),
        );
        assert_eq!(ok, Ok(vec![Bytes::from_static(b"ab\r\ncd")]));
        let cut =
            parse(b"--b\r\ncontent-disposition: form-data; name=x\r\n\r\nabcd", "b", Default::default());
        assert!(matches!(cut, Err(FormError::Malformed(_))), "{cut:?}");
        for broken in [&b""[..], b"garbage", b"--b", b"--b\r\n", b"--b\r\nno-colon\r\n\r\n", b"--bX\r\n\r\n"]
        {
            let result = parse(broken, "b", Default::default());
            assert!(matches!(result, Err(FormError::Malformed(_))), "{broken:?}: {result:?}");
        }
        let small = multer::Constraints::new().size_limit(multer::SizeLimit::new().per_field(3));
        let big =
            parse(b"--b\r\ncontent-disposition: form-data; name=x\r\n\r\nabcd\r\n--b--\r\n", "b", small);
        assert_eq!(big, Err(FormError::PartTooLarge { name: Some("x".into()), limit: 3 }));
        let tiny = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(10));
        let whole =
            parse(b"--b\r\ncontent-disposition: form-data; name=x\r\n\r\nabcd\r\n--b--\r\n", "b", tiny);
        assert_eq!(whole, Err(FormError::Body(BodyError::TooLarge)));
    }
}
