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

impl RequestHead {
    /// Where the target's path and query are (`/a?b` → `/a`, `b`), as ranges of
    /// `target`; an absolute-form target keeps only its path and query. Ranges, not
    /// strings: a server splits every request's target and need not copy it.
    pub fn target_parts(&self) -> (std::ops::Range<usize>, Option<std::ops::Range<usize>>) {
        let target = self.target.as_str();
        // absolute-form (`http://host/path?q`) is allowed by RFC 9112 §3.2.2: keep its path.
        // Only a target that is not origin-form can be absolute-form: "://" may well
        // appear in a query (`/to?next=http://…`).
        let absolute = if target.starts_with('/') { None } else { target.find("://") };
        let start = match absolute {
            Some(scheme_end) => {
                let after = scheme_end + 3;
                target[after..].find(['/', '?']).map_or(target.len(), |end| after + end)
            }
            None => 0,
        };
        match target[start..].find('?') {
            Some(question) => (start..start + question, Some(start + question + 1..target.len())),
            None => (start..target.len(), None),
        }
    }

    /// The target's path (`/` when an absolute-form target has none) and query.
    pub fn split_target(&self) -> (&str, Option<&str>) {
        let (path, query) = self.target_parts();
        let path = if path.is_empty() { "/" } else { &self.target[path] };
        (path, query.map(|query| &self.target[query]))
    }
}

#[cfg(test)]
mod tests {
    use super::RequestHead;

    fn split(target: &str) -> (String, Option<String>) {
        let head = RequestHead {
            method: http::Method::GET,
            target: target.into(),
            version: http::Version::HTTP_11,
            headers: http::HeaderMap::new(),
        };
        let (path, query) = head.split_target();
        (path.to_owned(), query.map(str::to_owned))
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split("/a/b?c=d&e"), ("/a/b".into(), Some("c=d&e".into())));
        assert_eq!(split("/"), ("/".into(), None));
        assert_eq!(split("*"), ("*".into(), None));
        assert_eq!(split("http://h:1/x?y"), ("/x".into(), Some("y".into())));
        assert_eq!(split("http://h"), ("/".into(), None));
        assert_eq!(split("http://h?q"), ("/".into(), Some("q".into())));
        assert_eq!(split("/?"), ("/".into(), Some("".into())));
        assert_eq!(split("/to?next=http://h/x"), ("/to".into(), Some("next=http://h/x".into())));
    }
}
