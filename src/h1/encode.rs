//! Chunked transfer coding for bodies we send (the server's streamed replies).

/// The chunk that ends a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends `data` as one chunk (`size CRLF data CRLF`); empty data appends nothing, since
/// an empty chunk would end the body.
pub fn encode_chunk(dst: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    chunk_size_line(dst, data.len());
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// Appends the line that opens a chunk of `len` bytes (`len` in hex, CRLF). The data and
/// its CRLF follow: [`encode_chunk`] writes all three.
pub fn chunk_size_line(dst: &mut Vec<u8>, len: usize) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut rest = len;
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[at..]);
    dst.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::{BodyDecoder, BodyEvent, BodyMode};
    use bytes::BytesMut;

    #[test]
    fn encoded_chunks_decode_back() {
        let mut wire = Vec::new();
        encode_chunk(&mut wire, b"hello ");
        encode_chunk(&mut wire, b"");
        encode_chunk(&mut wire, &[b'x'; 300]);
        wire.extend_from_slice(LAST_CHUNK);
        assert!(wire.starts_with(b"6\r\nhello \r\n12c\r\n"));
        for (len, line) in [
            (1, "1\r\n"),
            (15, "f\r\n"),
            (16, "10\r\n"),
            (0xabcdef, "abcdef\r\n"),
            (usize::MAX, "ffffffffffffffff\r\n"),
        ] {
            let mut dst = Vec::new();
            chunk_size_line(&mut dst, len);
            assert_eq!(dst, line.as_bytes());
        }
        let mut decoder = BodyDecoder::new(BodyMode::Chunked);
        let mut buf = BytesMut::from(&wire[..]);
        let mut body = Vec::new();
        while let Some(event) = decoder.decode(&mut buf).unwrap() {
            match event {
                BodyEvent::Data(data) => body.extend_from_slice(&data),
                BodyEvent::End(_) => break,
            }
        }
        assert_eq!(body.len(), 306);
        assert!(buf.is_empty());
    }
}
