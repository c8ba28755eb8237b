//! What a mock matches: `when()` and its matchers, each able to say why it failed.

use super::super::Request;
use bytes::Bytes;
use regex::Regex;
use std::fmt;
use std::sync::Arc;

/// Starts describing the requests a mock answers; with no matcher it matches every request.
///
/// ```
/// use courier::server::when;
/// let when = when().method("POST").path("/users").query("page", "2").header("x-api-key", "abc");
/// assert_eq!(when.to_string(), "POST /users, ?page=2, x-api-key: abc");
/// ```
pub fn when() -> When {
    When::default()
}

/// The matchers of a mock: a request matches when every one of them passes. Built with
/// [`when`]; mounted with [`Server::mock`](crate::server::Server::mock).
///
/// Its `Display` is the mock's default name: its matchers, briefly.
#[derive(Clone, Default)]
#[must_use]
pub struct When {
    matchers: Vec<Matcher>,
}

type HeadTest = Arc<dyn Fn(&Request) -> bool + Send + Sync>;
type BodyTest = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

#[derive(Clone)]
enum Matcher {
    Method(String),
    Path(String),
    PathPrefix(String),
    PathRegex(Regex),
    Query(String, String),
    Header(String, String),
    HeaderContains(String, String),
    HeaderExists(String),
    HeaderAbsent(String),
    Head(String, HeadTest),
    Body(Bytes),
    BodyContains(Bytes),
    BodyTest(String, BodyTest),
    /// The expected value (or why it did not serialize), and whether a part of the body
    /// may match it (objects may have more keys).
    #[cfg(feature = "json")]
    Json(Result<serde_json::Value, String>, bool),
}

impl When {
    /// The method, e.g. `"POST"` (written in any case; methods are compared upper case).
    pub fn method(self, method: impl AsRef<str>) -> Self {
        self.with(Matcher::Method(method.as_ref().to_ascii_uppercase()))
    }

    /// Exactly this path, as sent (still percent-encoded), without the query.
    pub fn path(self, path: impl Into<String>) -> Self {
        self.with(Matcher::Path(path.into()))
    }

    /// A path that starts with `prefix`.
    pub fn path_prefix(self, prefix: impl Into<String>) -> Self {
        self.with(Matcher::PathPrefix(prefix.into()))
    }

    /// A path the regex matches (unanchored unless it anchors itself).
    ///
    /// # Panics
    ///
    /// If `pattern` is not a valid regex: a typo in a test should fail at once, where it is.
    pub fn path_regex(self, pattern: &str) -> Self {
        match Regex::new(pattern) {
            Ok(regex) => self.with(Matcher::PathRegex(regex)),
            Err(error) => panic!("invalid path regex {pattern:?}: {error}"),
        }
    }

    /// A query parameter `name` equal to `value`, both decoded (`+` is a space).
    pub fn query(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with(Matcher::Query(name.into(), value.into()))
    }

    /// A header `name` (any case) whose value, or one of whose repeats, is `value`.
    pub fn header(self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.with(Matcher::Header(name.as_ref().to_ascii_lowercase(), value.into()))
    }

    /// A header `name` whose value contains `needle`.
    pub fn header_contains(self, name: impl AsRef<str>, needle: impl Into<String>) -> Self {
        self.with(Matcher::HeaderContains(name.as_ref().to_ascii_lowercase(), needle.into()))
    }

    /// A header `name` is present, whatever its value.
    pub fn header_exists(self, name: impl AsRef<str>) -> Self {
        self.with(Matcher::HeaderExists(name.as_ref().to_ascii_lowercase()))
    }

    /// No header `name`.
    pub fn header_absent(self, name: impl AsRef<str>) -> Self {
        self.with(Matcher::HeaderAbsent(name.as_ref().to_ascii_lowercase()))
    }

    /// A test of your own on the request's head (method, target, headers, peer);
    /// `description` names it in reports.
    ///
    /// ```
    /// use courier::server::when;
    /// let when = when().matching("an even id", |req| req.query_param("id").is_some_and(|id| id.ends_with(['0', '2', '4', '6', '8'])));
    /// ```
    pub fn matching(
        self,
        description: impl Into<String>,
        test: impl Fn(&Request) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.with(Matcher::Head(description.into(), Arc::new(test)))
    }

    /// Exactly this body.
    pub fn body(self, body: impl Into<Bytes>) -> Self {
        self.with(Matcher::Body(body.into()))
    }

    /// A body that contains these bytes.
    pub fn body_contains(self, needle: impl AsRef<[u8]>) -> Self {
        self.with(Matcher::BodyContains(Bytes::copy_from_slice(needle.as_ref())))
    }

    /// A test of your own on the body; `description` names it in reports.
    pub fn body_matching(
        self,
        description: impl Into<String>,
        test: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.with(Matcher::BodyTest(description.into(), Arc::new(test)))
    }

    /// A JSON body equal to `value` as JSON (key order and spacing do not matter).
    ///
    /// ```
    /// use courier::server::when;
    /// let when = when().json_body(serde_json::json!({"name": "ada"}));
    /// assert_eq!(when.to_string(), r#"json {"name":"ada"}"#);
    /// ```
    #[cfg(feature = "json")]
    pub fn json_body(self, value: impl serde::Serialize) -> Self {
        self.with(Matcher::Json(serde_json::to_value(value).map_err(|e| e.to_string()), false))
    }

    /// A JSON body that includes `value`: objects may have more keys than it names, at
    /// any depth; arrays must have its length, each element compared the same way.
    #[cfg(feature = "json")]
    pub fn json_body_partial(self, value: impl serde::Serialize) -> Self {
        self.with(Matcher::Json(serde_json::to_value(value).map_err(|e| e.to_string()), true))
    }

    fn with(mut self, matcher: Matcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// True when some matcher needs the body (so it must be read before matching).
    pub(crate) fn reads_body(&self) -> bool {
        self.matchers.iter().any(Matcher::reads_body)
    }

    /// True when every matcher that needs no body passes.
    pub(crate) fn head_matches(&self, request: &Request) -> bool {
        self.matchers.iter().filter(|m| !m.reads_body()).all(|m| m.check(request, None).is_ok())
    }

    /// True when every matcher passes (body matchers fail without a body).
    pub(crate) fn matches(&self, request: &Request, body: Option<&[u8]>) -> bool {
        self.matchers.iter().all(|m| m.check(request, body).is_ok())
    }

    /// How many matchers pass, and why each of the others failed.
    pub(crate) fn check(&self, request: &Request, body: Option<&[u8]>) -> (usize, Vec<String>) {
        let failures: Vec<String> =
            self.matchers.iter().filter_map(|m| m.check(request, body).err()).collect();
        (self.matchers.len() - failures.len(), failures)
    }

    /// How many matchers there are.
    pub(crate) fn len(&self) -> usize {
        self.matchers.len()
    }
}

impl fmt::Display for When {
    /// Method and path first (`POST /users`), then the other matchers, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lead, rest): (Vec<&Matcher>, Vec<&Matcher>) =
            self.matchers.iter().partition(|m| matches!(m, Matcher::Method(_) | Matcher::Path(_)));
        let lead: Vec<String> = lead.iter().map(|m| m.to_string()).collect();
        let mut parts: Vec<String> = rest.iter().map(|m| m.to_string()).collect();
        if !lead.is_empty() {
            parts.insert(0, lead.join(" "));
        }
        if parts.is_empty() {
            return f.write_str("any request");
        }
        f.write_str(&parts.join(", "))
    }
}

impl fmt::Debug for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "When({self})")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Method(method) => f.write_str(method),
            Self::Path(path) => f.write_str(path),
            Self::PathPrefix(prefix) => write!(f, "{prefix}*"),
            Self::PathRegex(regex) => write!(f, "path ~ {regex}"),
            Self::Query(name, value) => write!(f, "?{name}={value}"),
            Self::Header(name, value) => write!(f, "{name}: {value}"),
            Self::HeaderContains(name, needle) => write!(f, "{name} contains {needle:?}"),
            Self::HeaderExists(name) => write!(f, "{name} present"),
            Self::HeaderAbsent(name) => write!(f, "no {name}"),
            Self::Head(description, _) | Self::BodyTest(description, _) => f.write_str(description),
            Self::Body(body) => write!(f, "body {}", snippet(body)),
            Self::BodyContains(needle) => write!(f, "body contains {}", snippet(needle)),
            #[cfg(feature = "json")]
            Self::Json(Ok(value), partial) => {
                let value = super::json::brief(value);
                if *partial {
                    write!(f, "json includes {value}")
                } else {
                    write!(f, "json {value}")
                }
            }
            #[cfg(feature = "json")]
            Self::Json(Err(_), _) => f.write_str("json (unserializable)"),
        }
    }
}

impl Matcher {
    fn reads_body(&self) -> bool {
        match self {
            Self::Body(_) | Self::BodyContains(_) | Self::BodyTest(..) => true,
            #[cfg(feature = "json")]
            Self::Json(..) => true,
            _ => false,
        }
    }

    /// `Err` says what was expected and what arrived, e.g.
    /// `header x-api-key: expected "abc", got "abd"`.
    fn check(&self, request: &Request, body: Option<&[u8]>) -> Result<(), String> {
        if self.reads_body() {
            let Some(body) = body else { return Err(format!("{self}: not checked (the body was not read)")) };
            return self.check_body(body);
        }
        let pass = |ok: bool, failure: &dyn Fn() -> String| if ok { Ok(()) } else { Err(failure()) };
        match self {
            Self::Method(method) => pass(request.method().as_str() == method, &|| {
                format!("method: expected {method}, got {}", request.method())
            }),
            Self::Path(path) => {
                pass(request.path() == path, &|| format!("path: expected {path:?}, got {:?}", request.path()))
            }
            Self::PathPrefix(prefix) => pass(request.path().starts_with(prefix.as_str()), &|| {
                format!("path: expected to start with {prefix:?}, got {:?}", request.path())
            }),
            Self::PathRegex(regex) => pass(regex.is_match(request.path()), &|| {
                format!("path: expected to match {regex}, got {:?}", request.path())
            }),
            Self::Query(name, value) => {
                let values: Vec<String> = request
                    .query_params()
                    .into_iter()
                    .filter(|(key, _)| key == name)
                    .map(|(_, v)| v)
                    .collect();
                pass(values.contains(value), &|| {
                    format!("query {name}: expected {value:?}, got {}", got(&values))
                })
            }
            Self::Header(name, value) => {
                let values = header_values(request, name);
                let joined = values.join(", ");
                pass(values.contains(value) || joined == *value, &|| {
                    format!("header {name}: expected {value:?}, got {}", got(&values))
                })
            }
            Self::HeaderContains(name, needle) => {
                let values = header_values(request, name);
                pass(values.iter().any(|v| v.contains(needle.as_str())), &|| {
                    format!("header {name}: expected to contain {needle:?}, got {}", got(&values))
                })
            }
            Self::HeaderExists(name) => pass(request.headers().contains_key(name.as_str()), &|| {
                format!("header {name}: expected to be present, got nothing")
            }),
            Self::HeaderAbsent(name) => {
                let values = header_values(request, name);
                pass(values.is_empty(), &|| {
                    format!("header {name}: expected to be absent, got {}", got(&values))
                })
            }
            Self::Head(description, test) => pass(test(request), &|| format!("{description}: did not match")),
            _ => Ok(()),
        }
    }

    fn check_body(&self, body: &[u8]) -> Result<(), String> {
        let pass = |ok: bool, failure: &dyn Fn() -> String| if ok { Ok(()) } else { Err(failure()) };
        match self {
            Self::Body(expected) => pass(body == expected.as_ref(), &|| {
                format!("body: expected {}, got {}", snippet(expected), snippet(body))
            }),
            Self::BodyContains(needle) => pass(contains(body, needle), &|| {
                format!("body: expected to contain {}, got {}", snippet(needle), snippet(body))
            }),
            Self::BodyTest(description, test) => {
                pass(test(body), &|| format!("{description}: did not match"))
            }
            #[cfg(feature = "json")]
            Self::Json(expected, partial) => {
                let expected = expected
                    .as_ref()
                    .map_err(|e| format!("json body: expected value did not serialize: {e}"))?;
                let actual: serde_json::Value = serde_json::from_slice(body)
                    .map_err(|_| format!("json body: expected JSON, got {}", snippet(body)))?;
                match super::json::difference(expected, &actual, *partial) {
                    None => Ok(()),
                    Some(difference) => Err(format!("json body: {difference}")),
                }
            }
            _ => Ok(()),
        }
    }
}

/// Every value of a header, as text (repeats apart; non-UTF-8 bytes as U+FFFD).
fn header_values(request: &Request, name: &str) -> Vec<String> {
    request
        .headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// `nothing`, `"one"`, or `"one", "two"`: what a request had for a matcher.
fn got(values: &[String]) -> String {
    if values.is_empty() {
        return "nothing".into();
    }
    values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

/// Bytes quoted for a report, cut after 80 characters so a large body stays one line.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    const SHOWN: usize = 80;
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(SHOWN).collect();
    if shown.len() < text.len() {
        shown.push('…');
        return format!("{shown:?} ({} bytes)", bytes.len());
    }
    format!("{shown:?}")
}
