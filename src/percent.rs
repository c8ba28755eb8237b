//! Percent-decoding, shared by form parsing and file paths (server) and proxy credentials (client).

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in forms); invalid
/// escapes stay as written; invalid UTF-8 reads as U+FFFD.
pub(crate) fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = decode_bytes(text, plus_is_space, false).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Decodes `%XX` escapes into bytes; `None` if any escape is invalid (a path that must
/// mean exactly one thing, like a file's).
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn decode_strict(text: &str) -> Option<Vec<u8>> {
    decode_bytes(text, false, true)
}

/// The one decoder behind both: an invalid escape stays as written, or, when `strict`,
/// fails the whole text.
fn decode_bytes(text: &str, plus_is_space: bool, strict: bool) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Two hex digits, each checked alone (`u8::from_str_radix` would take "+1").
        let hex_digit = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        let escaped = match (bytes[i], hex_digit(i + 1), hex_digit(i + 2)) {
            (b'%', Some(high), Some(low)) => Some((high * 16 + low) as u8),
            (b'%', ..) if strict => return None,
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (None, other) => {
                out.push(other);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The pairs of `a=1&b=two+words;c=%41` (a query or a urlencoded form), decoded lazily
/// so a caller can stop at a limit. Keys without `=` get "".
#[cfg_attr(not(any(feature = "server", feature = "ws")), allow(dead_code))]
pub(crate) fn decode_form(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split(['&', ';']).filter(|pair| !pair.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key, true), decode(value, true))
    })
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_escapes_and_keeps_invalid_ones() {
        assert_eq!(decode("a%41b+c", true), "aAb c");
        assert_eq!(decode("a%41b+c", false), "aAb+c");
        assert_eq!(decode("%zz%4%", false), "%zz%4%");
        assert_eq!(decode("%e2%82%ac", false), "€");
        assert_eq!(decode("%ff", false), "\u{fffd}");
    }
}
