#![no_main]
//! `h1::parse_request_head` on arbitrary bytes: never panics, and a parsed head never
//! claims more bytes than it was given.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match courier::h1::parse_request_head(data) {
        Ok(Some((_head, used))) => {
            assert!(used <= data.len(), "head length {used} > input {}", data.len());
            // The same head with more bytes after it parses to the same length.
            let mut longer = data.to_vec();
            longer.extend_from_slice(b"trailing body bytes");
            match courier::h1::parse_request_head(&longer) {
                Ok(Some((_, again))) => assert_eq!(again, used),
                other => panic!("a parsed head stopped parsing with more input: {other:?}"),
            }
        }
        Ok(None) => {
            // Incomplete: a prefix is incomplete too (or an error), never a complete head.
            if !data.is_empty() {
                let prefix = &data[..data.len() - 1];
                if let Ok(Some(_)) = courier::h1::parse_request_head(prefix) {
                    panic!("a prefix parsed as complete while the whole input did not");
                }
            }
        }
        Err(_) => {}
    }
});
