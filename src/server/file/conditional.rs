//! Validators (ETag, Last-Modified) and conditional requests in the order of RFC 9110 §13.2.2.

use super::*;

/// A file's validators.
pub(super) struct Validators {
    /// The opaque part of the strong ETag (without quotes).
    pub(super) etag: Option<String>,
    /// Last-Modified, whole seconds, never in the future.
    pub(super) last_modified: Option<SystemTime>,
    /// Whether Last-Modified is a strong validator (the file was not modified within the
    /// second it names, RFC 9110 §8.8.2.2).
    pub(super) strong_date: bool,
}

impl Validators {
    pub(super) fn new(size: u64, modified: Option<SystemTime>) -> Self {
        let Some(modified) = modified else {
            return Self { etag: None, last_modified: None, strong_date: false };
        };
        let etag = match modified.duration_since(UNIX_EPOCH) {
            Ok(after) => format!("{size:x}-{:x}", after.as_nanos()),
            Err(before) => format!("{size:x}-n{:x}", before.duration().as_nanos()),
        };
        let now = SystemTime::now();
        let last_modified = whole_seconds(modified.min(now));
        let strong_date = modified.checked_add(Duration::from_secs(1)).is_some_and(|later| later <= now);
        Self { etag: Some(etag), last_modified: Some(last_modified), strong_date }
    }

    /// Adds ETag and Last-Modified.
    pub(super) fn apply(&self, mut reply: Reply) -> Reply {
        if let Some(etag) = &self.etag {
            reply = reply.with_header("etag", &format!("\"{etag}\""));
        }
        if let Some(modified) = self.last_modified {
            reply = reply.with_header("last-modified", &crate::format_date(modified));
        }
        reply
    }

    pub(super) fn matches(&self, tags: &EntityTags, strong: bool) -> bool {
        match tags {
            EntityTags::Any => true,
            EntityTags::List(list) => self
                .etag
                .as_ref()
                .is_some_and(|etag| list.iter().any(|(weak, tag)| tag == etag && !(strong && *weak))),
        }
    }

    /// True when the file was modified after `date` (seconds compared).
    pub(super) fn modified_after(&self, date: SystemTime) -> Option<bool> {
        self.last_modified.map(|modified| modified > date)
    }
}

/// `time` truncated to whole seconds (as HTTP dates carry them).
pub(super) fn whole_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after.as_secs()),
        // Before 1970: round towards the past, as the formatted date does.
        Err(before) => {
            let before = before.duration();
            let whole = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            UNIX_EPOCH.checked_sub(Duration::from_secs(whole)).unwrap_or(time)
        }
    }
}

pub(super) enum Precondition {
    Proceed,
    Failed,
    NotModified,
}

/// RFC 9110 §13.2.2, steps 1 to 4.
pub(super) fn preconditions(request: &Request, validators: &Validators, get_or_head: bool) -> Precondition {
    if let Some(value) = request.header("if-match") {
        // An unparsable If-Match matches nothing: failing is the safe answer.
        let matched = parse_entity_tags(&value).is_some_and(|tags| validators.matches(&tags, true));
        if !matched {
            return Precondition::Failed;
        }
    } else if let Some(date) = request.header("if-unmodified-since").and_then(|v| crate::parse_date(&v)) {
        if validators.modified_after(date) == Some(true) {
            return Precondition::Failed;
        }
    }
    if let Some(value) = request.header("if-none-match") {
        // An unparsable If-None-Match is ignored (the full reply is always correct).
        if parse_entity_tags(&value).is_some_and(|tags| validators.matches(&tags, false)) {
            return if get_or_head { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if get_or_head {
        if let Some(date) = request.header("if-modified-since").and_then(|v| crate::parse_date(&v)) {
            if validators.modified_after(date) == Some(false) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// A parsed If-Match / If-None-Match value.
pub(super) enum EntityTags {
    Any,
    /// (weak, opaque tag without quotes)
    List(Vec<(bool, String)>),
}

/// `*` or a comma-separated list of entity tags; `None` if malformed.
pub(super) fn parse_entity_tags(value: &str) -> Option<EntityTags> {
    let value = value.trim_matches([' ', '\t']);
    if value == "*" {
        return Some(EntityTags::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (tag, after) = parse_entity_tag(rest)?;
        tags.push(tag);
        rest = after.trim_start_matches([' ', '\t']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
    (!tags.is_empty()).then_some(EntityTags::List(tags))
}

/// One entity tag at the start of `text`, and what follows it.
pub(super) fn parse_entity_tag(text: &str) -> Option<((bool, String), &str)> {
    let (weak, quoted) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let inner = quoted.strip_prefix('"')?;
    let end = inner.find('"')?;
    Some(((weak, inner[..end].to_owned()), &inner[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags_parse() {
        let Some(EntityTags::List(tags)) = parse_entity_tags(r#" "a", W/"b",,"c,d" "#) else { panic!() };
        assert_eq!(tags, [(false, "a".into()), (true, "b".into()), (false, "c,d".into())]);
        assert!(matches!(parse_entity_tags("*"), Some(EntityTags::Any)));
        for invalid in ["", "a", r#""a"b"#, r#"*, "a""#, r#""open"#] {
            assert!(parse_entity_tags(invalid).is_none(), "{invalid}");
        }
    }
}
