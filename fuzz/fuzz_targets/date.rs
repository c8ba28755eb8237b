#![no_main]
//! `parse_date` on any text (the input as lossy UTF-8), and the round trip
//! `parse_date(format_date(t)) == Some(t)` for every parsed time `format_date` can show
//! exactly (years 1601..=9999: RFC 6265 refuses years before 1601, and the format has
//! four year digits).

use courier::{format_date, parse_date};
use libfuzzer_sys::fuzz_target;
use std::time::UNIX_EPOCH;

/// 1601-01-01T00:00:00Z and 9999-12-31T23:59:59Z, in seconds from the Unix epoch.
const MIN_ROUND_TRIP: i64 = -11_644_473_600;
const MAX_ROUND_TRIP: i64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(time) = parse_date(&text) else { return };
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => {
            assert_eq!(after.subsec_nanos(), 0, "a parsed date has a fraction of a second");
            i64::try_from(after.as_secs()).expect("seconds fit i64")
        }
        Err(before) => {
            let before = before.duration();
            assert_eq!(before.subsec_nanos(), 0, "a parsed date has a fraction of a second");
            -i64::try_from(before.as_secs()).expect("seconds fit i64")
        }
    };
    let formatted = format_date(time);
    assert_eq!(formatted.len(), 29, "not an IMF-fixdate: {formatted:?}");
    if (MIN_ROUND_TRIP..=MAX_ROUND_TRIP).contains(&secs) {
        assert_eq!(parse_date(&formatted), Some(time), "round trip of {text:?} via {formatted:?}");
    }
});
