//! Percent-decoding, shared by form parsing (server) and proxy credentials (client).

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in forms); invalid
/// escapes stay as written; invalid UTF-8 reads as U+FFFD.
pub(crate) fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 3 <= bytes.len())
            .then(|| {
                std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            })
            .flatten();
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
    String::from_utf8_lossy(&out).into_owned()
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
