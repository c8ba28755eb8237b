//! Standard base64 with padding (RFC 4648 §4): Basic credentials and WebSocket keys.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `input` with `=` padding.
pub(crate) fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let b = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= group.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes canonical padded base64: the length a multiple of 4, `=` only at the end, and
/// no stray bits in the last symbol (so each byte string has exactly one encoding).
/// `None` for anything else.
#[cfg_attr(not(feature = "ws"), allow(dead_code))]
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let padding = input.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let symbols = &input[..input.len() - padding];
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut bits = 0u32;
    let mut count = 0u32;
    for &symbol in symbols {
        let value = ALPHABET.iter().position(|&a| a == symbol)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    // Leftover bits must be zero padding, or another string would decode the same.
    (bits == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_padding() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn decodes_what_it_encodes() {
        for length in 0..40u8 {
            let bytes: Vec<u8> = (0..length).map(|i| i.wrapping_mul(97).wrapping_add(3)).collect();
            assert_eq!(decode(encode(&bytes).as_bytes()).as_deref(), Some(&bytes[..]));
        }
        // The RFC 6455 sample key is 16 bytes.
        assert_eq!(decode(b"dGhlIHNhbXBsZSBub25jZQ==").map(|key| key.len()), Some(16));
    }

    #[test]
    fn refuses_non_canonical_input() {
        for bad in
            ["Zg=", "Zg", "Z===", "Zh==", "Zm9v!A==", "=Zm9", "Zm=v", "Zm 9v", "dGhlIHNhbXBsZSBub25jZQ="]
        {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
    }
}
