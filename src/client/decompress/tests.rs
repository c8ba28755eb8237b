//! The content decoder against real encoders and CLI-made samples, whole and byte by byte.

use super::decoder::*;
use super::gzip::GZIP_FHCRC;
use super::*;
use crate::error::{Error, ErrorKind};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;
use std::io::Write;

use super::codecs::*;

/// Decodes `input` fed in pieces of `piece` bytes, collecting the output.
fn decode_in_pieces(
    codings: &[Coding],
    limits: DecodeLimits,
    input: &[u8],
    piece: usize,
) -> Result<Vec<u8>, Error> {
    let mut decoder = Decoder::new(codings, limits);
    let mut out = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        decoder.push(Bytes::copy_from_slice(chunk));
        while let Some(chunk) = decoder.next_chunk()? {
            assert!(chunk.len() <= DECODED_CHUNK_SIZE);
            out.extend_from_slice(&chunk);
        }
    }
    decoder.finish();
    while let Some(chunk) = decoder.next_chunk()? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Decodes whole and one byte at a time, and asserts that both agree.
fn decode(codings: &[Coding], input: &[u8]) -> Result<Vec<u8>, String> {
    let whole = decode_in_pieces(codings, DecodeLimits::default(), input, input.len());
    let bytewise = decode_in_pieces(codings, DecodeLimits::default(), input, 1);
    match (whole, bytewise) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "whole and byte-by-byte decoding differ");
            Ok(a)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            Err(a.to_string())
        }
        (a, b) => panic!("whole: {a:?}, byte by byte: {b:?}"),
    }
}

#[test]
fn each_coding_decodes_whole_and_byte_by_byte() {
    let data = sample(3000);
    assert_eq!(decode(&[Coding::Gzip], &gzip(&data)).unwrap(), data);
    assert_eq!(decode(&[Coding::Deflate], &zlib(&data)).unwrap(), data);
    assert_eq!(decode(&[Coding::Deflate], &raw_deflate(&data)).unwrap(), data);
    assert_eq!(decode(&[Coding::Zstd], &zstd(&data)).unwrap(), data);
    assert_eq!(decode(&[Coding::Brotli], BROTLI_SAMPLE_20).unwrap(), sample(20));
    assert_eq!(decode(&[Coding::Zstd], ZSTD_CLI_SAMPLE_20).unwrap(), sample(20));
    let mut bad_checksum = ZSTD_CLI_SAMPLE_20.to_vec();
    let at = bad_checksum.len() - 1;
    bad_checksum[at] ^= 1;
    assert_eq!(
        decode(&[Coding::Zstd], &bad_checksum).unwrap_err(),
        "decode the zstd response body: invalid zstd data: checksum mismatch"
    );
}

#[test]
fn stacked_codings_are_undone_in_reverse() {
    let data = sample(500);
    assert_eq!(decode(&[Coding::Gzip, Coding::Gzip], &gzip(&gzip(&data))).unwrap(), data);
    assert_eq!(decode(&[Coding::Deflate, Coding::Zstd], &zstd(&zlib(&data))).unwrap(), data);
    assert_eq!(decode(&[Coding::Brotli, Coding::Gzip], &gzip(BROTLI_SAMPLE_20)).unwrap(), sample(20));
}

#[test]
fn gzip_members_and_zstd_frames_follow_each_other_and_trailing_bytes_are_ignored() {
    let (a, b) = (sample(10), sample(30));
    let joined = [a.clone(), b.clone()].concat();
    assert_eq!(decode(&[Coding::Gzip], &[gzip(&a), gzip(&b)].concat()).unwrap(), joined);
    assert_eq!(decode(&[Coding::Zstd], &[zstd(&a), zstd(&b)].concat()).unwrap(), joined);
    // A skippable frame between two frames.
    let skippable = [&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0][..], b"abc"].concat();
    assert_eq!(decode(&[Coding::Zstd], &[zstd(&a), skippable, zstd(&b)].concat()).unwrap(), joined);
    for trailing in [&b"\0\0\0\0"[..], b"\n", b"\x1f", b"garbage after the end"] {
        assert_eq!(decode(&[Coding::Gzip], &[&gzip(&a)[..], trailing].concat()).unwrap(), a);
        assert_eq!(decode(&[Coding::Deflate], &[&zlib(&a)[..], trailing].concat()).unwrap(), a);
        assert_eq!(decode(&[Coding::Zstd], &[&zstd(&a)[..], trailing].concat()).unwrap(), a);
        assert_eq!(decode(&[Coding::Brotli], &[BROTLI_SAMPLE_20, trailing].concat()).unwrap(), sample(20));
    }
}

#[test]
fn gzip_header_fields_are_skipped() {
    let data = sample(40);
    let mut encoder = flate2::GzBuilder::new()
        .filename("name.txt")
        .comment("a comment")
        .extra(vec![1, 2, 3, 4, 5])
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(&data).unwrap();
    let mut encoded = encoder.finish().unwrap();
    assert_eq!(decode(&[Coding::Gzip], &encoded).unwrap(), data);
    // FHCRC: two more bytes after the header (we skip them).
    encoded[3] |= GZIP_FHCRC;
    let header_end = 10 + 2 + 5 + "name.txt".len() + 1 + "a comment".len() + 1;
    encoded.splice(header_end..header_end, [0xaa, 0xbb]);
    assert_eq!(decode(&[Coding::Gzip], &encoded).unwrap(), data);
}

#[test]
fn corrupt_or_truncated_data_is_an_error() {
    let data = sample(200);
    let gz = gzip(&data);
    let mut bad_crc = gz.clone();
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 1;
    assert_eq!(
        decode(&[Coding::Gzip], &bad_crc).unwrap_err(),
        "decode the gzip response body: invalid gzip data: CRC-32 mismatch"
    );
    assert!(decode(&[Coding::Gzip], b"not gzip at all").unwrap_err().contains("not a gzip header"));
    for encoded in [gz.clone(), zlib(&data), zstd(&data), BROTLI_SAMPLE_20.to_vec()] {
        for cut in [1, encoded.len() / 2, encoded.len() - 1] {
            for coding in [Coding::Gzip, Coding::Deflate, Coding::Zstd, Coding::Brotli] {
                // Truncated, or not that coding at all: never a success.
                assert!(decode(&[coding], &encoded[..cut]).is_err());
            }
        }
    }
    assert_eq!(
        decode(&[Coding::Gzip], &gz[..gz.len() - 3]).unwrap_err(),
        "decode the gzip response body: the body ended before the compressed data did"
    );
    let mut flipped = zlib(&data);
    let at = flipped.len() / 2;
    flipped[at] ^= 0x55;
    assert!(decode(&[Coding::Deflate], &flipped).is_err());
    let mut zst = zstd(&data);
    let at = zst.len() - 1;
    zst[at] ^= 0x55;
    assert!(decode(&[Coding::Zstd], &zst).is_err());
}

#[test]
fn an_empty_body_is_nothing_to_decode() {
    for coding in [Coding::Gzip, Coding::Deflate, Coding::Zstd, Coding::Brotli] {
        assert_eq!(decode(&[coding], b"").unwrap(), b"");
        assert_eq!(decode(&[coding, coding], b"").unwrap(), b"");
    }
}

#[test]
fn the_size_cap_holds() {
    let data = sample(2000); // 96 000 bytes
    let limits = DecodeLimits { max_decoded: 50_000, ..DecodeLimits::default() };
    for (coding, encoded) in [(Coding::Gzip, gzip(&data)), (Coding::Zstd, zstd(&data))] {
        let error = decode_in_pieces(&[coding], limits, &encoded, 1000).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ResponseBody);
        assert!(error.to_string().ends_with("the decoded body is larger than 50000 bytes"), "{error}");
    }
    let limits = DecodeLimits { max_decoded: data.len() as u64, ..DecodeLimits::default() };
    assert_eq!(decode_in_pieces(&[Coding::Gzip], limits, &gzip(&data), 1000).unwrap(), data);
}

#[test]
fn the_ratio_cap_stops_a_bomb_early() {
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&zeros);
    assert!(bomb.len() < 100 * 1024, "{}", bomb.len());
    let mut decoder = Decoder::new(&[Coding::Gzip], DecodeLimits::default());
    let mut decoded = 0u64;
    let mut error = None;
    'feed: for piece in bomb.chunks(16 * 1024) {
        decoder.push(Bytes::copy_from_slice(piece));
        loop {
            match decoder.next_chunk() {
                Ok(Some(chunk)) => decoded += chunk.len() as u64,
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    let error = error.expect("the bomb was decoded");
    assert!(error.to_string().contains("more than 100 times its compressed size"), "{error}");
    // It stopped at the grace (1 MiB) or 100 times the first piece, whichever is more.
    assert!(decoded <= 2 << 20, "{decoded}");
    // Stacked, the inner layer's output counts too.
    let double = gzip(&bomb);
    let error =
        decode_in_pieces(&[Coding::Gzip, Coding::Gzip], DecodeLimits::default(), &double, 4096).unwrap_err();
    assert!(error.to_string().contains("decompression bomb"), "{error}");
}

#[test]
fn a_large_zstd_window_is_refused() {
    // Frame header: magic, descriptor (no single segment, no checksum), window byte
    // 0x58 = 2^(10 + 11) = 2 MiB (accepted), 0x70 = 2^24 = 16 MiB (refused).
    let ok = decode(&[Coding::Zstd], &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00, 0x00]);
    assert_eq!(ok.unwrap(), b"");
    let refused = decode(&[Coding::Zstd], &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x70, 0x01, 0x00, 0x00]);
    assert!(refused.unwrap_err().contains("zstd window of 16777216 bytes"));
}

#[test]
fn codings_are_read_from_every_content_encoding_field() {
    let headers = |values: &[&str]| {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CONTENT_ENCODING, value.parse().unwrap());
        }
        map
    };
    let read = |values: &[&str]| codings(&headers(values)).map_err(|e| e.to_string());
    assert_eq!(read(&[]), Ok(None));
    assert_eq!(read(&["identity"]), Ok(None));
    assert_eq!(read(&["GZIP"]), Ok(Some(vec![Coding::Gzip])));
    assert_eq!(read(&["x-gzip"]), Ok(Some(vec![Coding::Gzip])));
    assert_eq!(read(&["deflate, identity,br"]), Ok(Some(vec![Coding::Deflate, Coding::Brotli])));
    assert_eq!(read(&["gzip", "zstd"]), Ok(Some(vec![Coding::Gzip, Coding::Zstd])));
    assert_eq!(read(&["compress"]), Ok(None));
    assert_eq!(read(&["gzip, gzip, gzip, compress"]), Ok(None));
    assert_eq!(
        read(&["gzip, gzip", "gzip"]),
        Err("the response lists 3 content codings; at most 2 are decoded".into())
    );
    let mut map = headers(&["gzip"]);
    map.insert(CONTENT_LENGTH, "10".parse().unwrap());
    assert!(Decoder::for_response(&mut map).unwrap().is_some());
    assert!(map.is_empty());
    let mut map = headers(&["compress"]);
    map.insert(CONTENT_LENGTH, "10".parse().unwrap());
    assert!(Decoder::for_response(&mut map).unwrap().is_none());
    assert_eq!(map.len(), 2);
}
