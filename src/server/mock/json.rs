//! JSON body matching: structural equality or inclusion, and the first difference as text.

use serde_json::Value;

/// The first place where `actual` differs from `expected`, e.g.
/// `at .user.name expected "ada", got "bob"`; `None` when it matches. With `partial`,
/// objects in `actual` may have keys that `expected` does not name.
pub(crate) fn difference(expected: &Value, actual: &Value, partial: bool) -> Option<String> {
    let mut path = String::new();
    walk(expected, actual, partial, &mut path)
}

fn walk(expected: &Value, actual: &Value, partial: bool, path: &mut String) -> Option<String> {
    let at = |path: &str| if path.is_empty() { ".".to_owned() } else { path.to_owned() };
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, want) in expected {
                let len = path.len();
                push_key(path, key);
                let found = match actual.get(key) {
                    Some(have) => walk(want, have, partial, path),
                    None => Some(format!("at {path} expected {}, got nothing", brief(want))),
                };
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            if partial {
                return None;
            }
            let (key, extra) = actual.iter().find(|(key, _)| !expected.contains_key(*key))?;
            push_key(path, key);
            Some(format!("at {path} expected nothing, got {}", brief(extra)))
        }
        (Value::Array(expected), Value::Array(actual)) => {
            if expected.len() != actual.len() {
                return Some(format!(
                    "at {} expected {} elements, got {}",
                    at(path),
                    expected.len(),
                    actual.len()
                ));
            }
            expected.iter().zip(actual).enumerate().find_map(|(index, (want, have))| {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                let found = walk(want, have, partial, path);
                path.truncate(len);
                found
            })
        }
        _ if expected == actual => None,
        _ => Some(format!("at {} expected {}, got {}", at(path), brief(expected), brief(actual))),
    }
}

/// `.name` for plain keys, `["odd key"]` for the rest (jq's notation).
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{key:?}]"));
    }
}

/// A value as compact JSON, cut after 80 characters so a report line stays short.
pub(crate) fn brief(value: &Value) -> String {
    const SHOWN: usize = 80;
    let text = value.to_string();
    if text.chars().count() <= SHOWN {
        return text;
    }
    let mut shown: String = text.chars().take(SHOWN).collect();
    shown.push('…');
    shown
}

#[cfg(test)]
mod tests {
    use super::difference;
    use serde_json::json;

    #[test]
    fn names_the_first_difference_by_path() {
        let expected = json!({"user": {"name": "ada", "tags": ["a", "b"]}});
        let cases = [
            (json!({"user": {"name": "ada", "tags": ["a", "b"]}}), None),
            (
                json!({"user": {"name": "bob", "tags": ["a", "b"]}}),
                Some(r#"at .user.name expected "ada", got "bob""#),
            ),
            (json!({"user": {"tags": ["a", "b"]}}), Some(r#"at .user.name expected "ada", got nothing"#)),
            (
                json!({"user": {"name": "ada", "tags": ["a"]}}),
                Some("at .user.tags expected 2 elements, got 1"),
            ),
            (
                json!({"user": {"name": "ada", "tags": ["a", "c"]}}),
                Some(r#"at .user.tags[1] expected "b", got "c""#),
            ),
            (
                json!({"user": {"name": "ada", "tags": ["a", "b"]}, "x y": 1}),
                Some(r#"at ["x y"] expected nothing, got 1"#),
            ),
            (json!([1]), Some(r#"at . expected {"user":{"name":"ada","tags":["a","b"]}}, got [1]"#)),
        ];
        for (actual, want) in cases {
            assert_eq!(difference(&expected, &actual, false).as_deref(), want, "{actual}");
        }
    }

    #[test]
    fn partial_allows_more_keys_at_any_depth() {
        let expected = json!({"user": {"name": "ada"}});
        assert_eq!(difference(&expected, &json!({"user": {"name": "ada", "id": 7}, "ok": true}), true), None);
        assert_eq!(
            difference(&expected, &json!({"user": {"name": "bob", "id": 7}}), true).as_deref(),
            Some(r#"at .user.name expected "ada", got "bob""#)
        );
    }
}
