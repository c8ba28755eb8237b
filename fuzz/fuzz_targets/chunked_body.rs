#![no_main]
//! The chunked `BodyDecoder` fed in two pieces (the split point comes from the first two
//! bytes), then fed the same body whole: never panics, never yields more data than it
//! was given, and split and whole feeding agree.

use courier::h1::{BodyDecoder, BodyEvent, BodyMode};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Data, end (trailers), bytes left over after the end.
    Done(Vec<u8>, Vec<(String, Vec<u8>)>, Vec<u8>),
    /// Data so far, then "need more".
    Incomplete(Vec<u8>),
    Error(Vec<u8>),
}

fn run(pieces: &[&[u8]]) -> Outcome {
    let mut decoder = BodyDecoder::new(BodyMode::Chunked);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(BodyEvent::Data(chunk))) => {
                    assert!(!chunk.is_empty(), "an empty Data event");
                    data.extend_from_slice(&chunk);
                }
                Ok(Some(BodyEvent::End(trailers))) => {
                    assert!(decoder.is_done());
                    let trailers = trailers
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                        .collect();
                    // Bytes after the end belong to the next message, fed or not yet fed.
                    let mut rest = buf.to_vec();
                    for later in &pieces[index + 1..] {
                        rest.extend_from_slice(later);
                    }
                    return Outcome::Done(data, trailers, rest);
                }
                Ok(None) => break,
                Err(_) => return Outcome::Error(data),
            }
        }
    }
    assert!(decoder.decode_eof().is_err(), "EOF inside a chunked body must be an error");
    Outcome::Incomplete(data)
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let body = &input[2..];
    let split = usize::from(u16::from_le_bytes([input[0], input[1]])) % (body.len() + 1);
    let (a, b) = body.split_at(split);
    let split_outcome = run(&[a, b]);
    let whole_outcome = run(&[body]);
    for outcome in [&split_outcome, &whole_outcome] {
        let (Outcome::Done(data, ..) | Outcome::Incomplete(data) | Outcome::Error(data)) = outcome;
        assert!(data.len() <= body.len(), "{} data bytes from {} input bytes", data.len(), body.len());
        if let Outcome::Done(data, _, rest) = outcome {
            assert!(data.len() + rest.len() <= body.len());
        }
    }
    // Where the input is split must not change the result (ARCHITECTURE.md invariant 1).
    assert_eq!(split_outcome, whole_outcome, "split at {split} disagrees with whole input");
});
