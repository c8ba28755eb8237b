//! Form data: `application/x-www-form-urlencoded` (with `&` and `;` separators).

/// Decodes `a=1&b=two+words;c=%41` into pairs, in order. Keys without `=` get "".
pub(crate) fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split(['&', ';'])
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

/// Percent-decodes one component, `+` as space; invalid escapes are kept as written and
/// invalid UTF-8 reads as U+FFFD.
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::parse_urlencoded;

    #[test]
    fn decodes_pairs_with_both_separators() {
        let pairs = parse_urlencoded("a=1&b=two+words;c=%41%42&d&e=%zz&f=%4");
        let expected = [("a", "1"), ("b", "two words"), ("c", "AB"), ("d", ""), ("e", "%zz"), ("f", "%4")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(pairs, expected);
    }
}
