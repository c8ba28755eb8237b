//! HTTP and cookie date formatting and parsing (AnyEvent::HTTP's format_date / parse_date).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;

/// 0000-01-01T00:00:00Z: the earliest instant a four-digit year can show.
const MIN_FORMAT_SECS: i64 = -62_167_219_200;

/// 9999-12-31T23:59:59Z: the latest instant a four-digit year can show.
const MAX_FORMAT_SECS: i64 = 253_402_300_799;

/// Indexed by days since 1970-01-01 plus 4, because that day was a Thursday.
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Formats `time` as an RFC 9110 IMF-fixdate, the only form HTTP senders may
/// generate.
///
/// The sub-second part is dropped. Times outside the years 0000..=9999 are
/// clamped to that range, since the format has exactly four year digits.
///
/// # Example
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let time = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(courier::format_date(time), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn format_date(time: SystemTime) -> String {
    let secs = unix_seconds(time).clamp(MIN_FORMAT_SECS, MAX_FORMAT_SECS);
    let days = secs.div_euclid(SECS_PER_DAY);
    let secs_of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);

    // rem_euclid keeps both indexes in range, also for days before 1970.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];

    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60,
    )
}

/// The current time as a Date header value, formatted at most once a second per thread:
/// the bundled server stamps every reply with it.
#[cfg(feature = "server")]
pub(crate) fn now_header_value() -> http::HeaderValue {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<Option<(i64, http::HeaderValue)>> = const { RefCell::new(None) };
    }
    let now = SystemTime::now();
    let second = unix_seconds(now);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((cached, value)) = cache.as_ref() {
            if *cached == second {
                return value.clone();
            }
        }
        // Shared bytes: each reply's clone is a reference count, not a copy.
        let text = bytes::Bytes::from(format_date(now));
        let value = http::HeaderValue::from_maybe_shared(text)
            .unwrap_or_else(|_| http::HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
        *cache = Some((second, value.clone()));
        value
    })
}

/// Parses an HTTP or cookie date, returning `None` if `text` is not one.
///
/// Accepts the three HTTP forms (IMF-fixdate, RFC 850 and asctime) and the
/// loose dates found in cookies, using the RFC 6265 section 5.1.1 algorithm:
/// weekdays are ignored, month names are case-insensitive and may be written
/// out, two-digit years mean 1970..=2069, and a missing zone means GMT. A
/// numeric zone offset such as `+0200` or `-05:30` after the time is applied.
///
/// # Example
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let expected = Some(UNIX_EPOCH + Duration::from_secs(784_111_777));
/// assert_eq!(courier::parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
/// assert_eq!(courier::parse_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
/// assert_eq!(courier::parse_date("Sun Nov  6 08:49:37 1994"), expected);
/// assert_eq!(courier::parse_date("not a date"), None);
/// ```
pub fn parse_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let mut time: Option<(u32, u32, u32)> = None;
    // Byte index just past the time token, to recognise "08:49:37+0200".
    let mut time_end = 0;
    let mut day: Option<u32> = None;
    let mut month: Option<u32> = None;
    let mut year: Option<u32> = None;
    // Seconds east of UTC.
    let mut offset: i64 = 0;
    let mut offset_found = false;

    // RFC 6265 5.1.1: each token fills the first still-missing part it
    // matches, tried in the order time, day of month, month, year.
    for (start, token) in Tokens::new(bytes) {
        // RFC 6265 treats '+' and '-' as delimiters and so drops offsets.
        // Catch them first, or "+0200" would be taken as a year.
        if time.is_some() && !offset_found && is_offset_shaped(token) {
            if let Some(sign) = offset_sign(bytes, start, time_end) {
                // A bad offset such as "+2400" is rejected rather than
                // ignored: ignoring it would silently shift the time.
                offset = sign * parse_offset(token)?;
                offset_found = true;
                continue;
            }
        }
        if time.is_none() {
            if let Some(found) = parse_time(token) {
                time = Some(found);
                time_end = start + token.len();
                continue;
            }
        }
        if day.is_none() {
            if let Some((value, _)) = leading_digits(token, 1, 2) {
                day = Some(value);
                continue;
            }
        }
        if month.is_none() {
            if let Some(found) = parse_month(token) {
                month = Some(found);
                continue;
            }
        }
        if year.is_none() {
            if let Some((value, _)) = leading_digits(token, 2, 4) {
                year = Some(value);
            }
        }
    }

    let (hour, minute, second) = time?;
    let (day, month, year) = (day?, month?, year?);
    // RFC 6265 5.1.1 step 3 and 4: two-digit years.
    let year = match year {
        70..=99 => year + 1900,
        0..=69 => year + 2000,
        _ => year,
    };
    if year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }

    let days = days_from_civil(i64::from(year), month, day);
    let local_secs =
        days * SECS_PER_DAY + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    system_time_from_unix(local_secs - offset)
}

/// Whole seconds since the Unix epoch, negative before 1970.
///
/// Rounds towards the past, so 0.5 s before the epoch is -1, which is what a
/// calendar shows for that instant. Saturates instead of overflowing.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        // The error carries UNIX_EPOCH - time, the distance into the past.
        Err(err) => {
            let before = err.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                -whole.saturating_add(1)
            } else {
                -whole
            }
        }
    }
}

/// The inverse of `unix_seconds`, `None` if the platform cannot hold it.
fn system_time_from_unix(secs: i64) -> Option<SystemTime> {
    match u64::try_from(secs) {
        Ok(after) => UNIX_EPOCH.checked_add(Duration::from_secs(after)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
///
/// Howard Hinnant's `days_from_civil`: counting years from March puts the
/// leap day last, so each 400-year era has a fixed shape.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`, the inverse of `days_from_civil`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// RFC 6265 5.1.1 `delimiter`. Bytes of multi-byte UTF-8 characters are all
/// >= 0x80 and so never delimiters, which keeps token bounds on char bounds.
fn is_delimiter(byte: u8) -> bool {
    matches!(byte, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// Splits a date into RFC 6265 `date-token`s, yielding each with its start.
struct Tokens<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Tokens { bytes, pos: 0 }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.bytes.len() && is_delimiter(self.bytes[self.pos]) {
            self.pos += 1;
        }
        if self.pos == self.bytes.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < self.bytes.len() && !is_delimiter(self.bytes[self.pos]) {
            self.pos += 1;
        }
        Some((start, &self.bytes[start..self.pos]))
    }
}

/// Reads the whole run of leading ASCII digits if it is `min..=max` long,
/// returning its value and the rest of `input`.
///
/// Taking the whole run is what RFC 6265 means by `1*2DIGIT ( non-digit
/// *OCTET )`, and the length cap keeps huge numbers from overflowing.
fn leading_digits(input: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let len = input.iter().take_while(|b| b.is_ascii_digit()).count();
    if len < min || len > max {
        return None;
    }
    let value = input[..len].iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, &input[len..]))
}

/// RFC 6265 `time`: `1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT`, then anything that
/// does not start with a digit (so "08:49:37Z" is a time).
fn parse_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (hour, rest) = leading_digits(token, 1, 2)?;
    let (minute, rest) = leading_digits(rest.strip_prefix(b":")?, 1, 2)?;
    let (second, _) = leading_digits(rest.strip_prefix(b":")?, 1, 2)?;
    Some((hour, minute, second))
}

/// RFC 6265 `month`: a token starting with a month's first three letters,
/// so "November" and "NOV" both match.
fn parse_month(token: &[u8]) -> Option<u32> {
    let prefix = token.get(..3)?;
    let index = MONTHS.iter().position(|name| prefix.eq_ignore_ascii_case(name.as_bytes()))?;
    // index < 12, so this cannot truncate.
    Some(index as u32 + 1)
}

/// Whether a token has the digits of a zone offset: "0200" or "05:30".
fn is_offset_shaped(token: &[u8]) -> bool {
    match token {
        [a, b, c, d] => [a, b, c, d].iter().all(|x| x.is_ascii_digit()),
        [a, b, b':', c, d] => [a, b, c, d].iter().all(|x| x.is_ascii_digit()),
        _ => false,
    }
}

/// The sign of an offset token starting at `start`, if it has one.
///
/// The sign must touch the time ("08:49:37+0200") or start a word of its
/// own ("GMT -0500"). A sign glued to a word is the dash of a cookie date
/// such as "06-Nov-1994", and must not turn the year into an offset.
fn offset_sign(bytes: &[u8], start: usize, time_end: usize) -> Option<i64> {
    let sign_at = start.checked_sub(1)?;
    let sign = match bytes[sign_at] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let starts_word = sign_at == 0 || is_delimiter(bytes[sign_at - 1]);
    if sign_at == time_end || starts_word {
        Some(sign)
    } else {
        None
    }
}

/// Seconds in an offset token already checked by `is_offset_shaped`, or
/// `None` if its hours or minutes are out of range.
fn parse_offset(token: &[u8]) -> Option<i64> {
    let (hours, minutes) = if token.len() == 4 {
        let (value, _) = leading_digits(token, 4, 4)?;
        (value / 100, value % 100)
    } else {
        let (hours, rest) = leading_digits(token, 2, 2)?;
        let (minutes, _) = leading_digits(rest.strip_prefix(b":")?, 2, 2)?;
        (hours, minutes)
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(i64::from(hours) * 3600 + i64::from(minutes) * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instant `secs` seconds after (or before, if negative) the epoch.
    fn at(secs: i64) -> SystemTime {
        match system_time_from_unix(secs) {
            Some(time) => time,
            None => panic!("{secs} is not representable"),
        }
    }

    /// Sun, 06 Nov 1994 08:49:37 GMT, the RFC 9110 example date.
    const EXAMPLE: i64 = 784_111_777;

    #[test]
    fn formats_known_timestamps() {
        // Expected strings from `date -u -d @N`.
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (1, "Thu, 01 Jan 1970 00:00:01 GMT"),
            (EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (946_684_800, "Sat, 01 Jan 2000 00:00:00 GMT"),
            (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (-86_400, "Wed, 31 Dec 1969 00:00:00 GMT"),
            (-14_182_940, "Sun, 20 Jul 1969 20:17:40 GMT"),
            (-2_077_704_000, "Mon, 29 Feb 1904 12:00:00 GMT"),
            (-2_208_988_800, "Mon, 01 Jan 1900 00:00:00 GMT"),
            (-11_644_473_600, "Mon, 01 Jan 1601 00:00:00 GMT"),
            (-62_167_219_200, "Sat, 01 Jan 0000 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (secs, expected) in cases {
            assert_eq!(format_date(at(secs)), expected, "for {secs}");
        }
    }

    #[test]
    fn format_truncates_sub_seconds() {
        let after = at(EXAMPLE) + Duration::from_millis(999);
        assert_eq!(format_date(after), "Sun, 06 Nov 1994 08:49:37 GMT");
        // Half a second before the epoch is still in the last second of 1969.
        let before = at(0) - Duration::from_millis(500);
        assert_eq!(format_date(before), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(unix_seconds(before), -1);
    }

    #[test]
    fn format_clamps_years_outside_four_digits() {
        let far_future = at(1 << 40);
        assert_eq!(format_date(far_future), "Fri, 31 Dec 9999 23:59:59 GMT");
        let far_past = at(-(1 << 40));
        assert_eq!(format_date(far_past), "Sat, 01 Jan 0000 00:00:00 GMT");
    }

    #[test]
    fn parses_the_three_http_forms() {
        let expected = Some(at(EXAMPLE));
        assert_eq!(parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(parse_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
        assert_eq!(parse_date("Sun Nov  6 08:49:37 1994"), expected);
    }

    #[test]
    fn parses_cookie_date_variants() {
        let expected = Some(at(EXAMPLE));
        let cases = [
            "Sun, 06-Nov-1994 08:49:37 GMT",
            "06 Nov 1994 08:49:37 GMT",
            "06-Nov-1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 Z",
            "Sun, 06 Nov 1994 08:49:37Z",
            "Sun, 06 Nov 1994 08:49:37",
            "sun, 06 nov 1994 08:49:37 gmt",
            "SUN, 06 NOV 1994 08:49:37 GMT",
            "Sunday, 06 November 1994 08:49:37 GMT",
            "  Sun,   06  Nov   1994    08:49:37   GMT  ",
            "Sun, 6 Nov 1994 8:49:37 GMT",
            "Sun,06-Nov-1994 08:49:37 GMT",
            "1994 Nov 06 08:49:37",
            "08:49:37 06 Nov 1994",
            "日曜日, 06 Nov 1994 08:49:37 GMT",
        ];
        for text in cases {
            assert_eq!(parse_date(text), expected, "for {text:?}");
        }
    }

    #[test]
    fn two_digit_years_follow_rfc_6265() {
        // Expected values from `date -u -d 'YYYY-01-01 UTC' +%s`.
        assert_eq!(parse_date("Thu, 01-Jan-70 00:00:00 GMT"), Some(at(0)));
        assert_eq!(parse_date("Tue, 01-Jan-30 00:00:00 GMT"), Some(at(1_893_456_000)));
        assert_eq!(parse_date("Tue, 01-Jan-69 00:00:00 GMT"), Some(at(3_124_224_000)));
        assert_eq!(parse_date("Sat, 01-Jan-00 00:00:00 GMT"), Some(at(946_684_800)));
    }

    #[test]
    fn applies_numeric_zone_offsets() {
        let expected = Some(at(EXAMPLE));
        let cases = [
            "Sun, 06 Nov 1994 10:49:37 +0200",
            "Sun, 06 Nov 1994 03:19:37 -0530",
            "Sun, 06 Nov 1994 10:49:37 +02:00",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "Sun, 06 Nov 1994 08:49:37 -0000",
            "Sun, 06 Nov 1994 10:49:37+0200",
            "Sun, 06 Nov 1994 10:49:37 GMT +0200",
            "Sun Nov  6 10:49:37 +0200 1994",
            "Sun, 06-Nov-1994 03:49:37 -0500",
        ];
        for text in cases {
            assert_eq!(parse_date(text), expected, "for {text:?}");
        }
        // Offsets can move the date across midnight either way.
        assert_eq!(parse_date("Sun, 06 Nov 1994 01:00:00 +0230"), Some(at(784_074_600)));
        assert_eq!(parse_date("Sun, 06 Nov 1994 08:49:37 -0500"), Some(at(784_129_777)));
    }

    #[test]
    fn cookie_dashes_are_not_offsets() {
        // With the time first, "-1994" must still be the year.
        assert_eq!(parse_date("08:49:37 06-Nov-1994"), Some(at(EXAMPLE)));
    }

    #[test]
    fn handles_leap_days() {
        assert_eq!(parse_date("Tue, 29 Feb 2000 00:00:00 GMT"), Some(at(951_782_400)));
        assert_eq!(parse_date("Mon, 29 Feb 1904 12:00:00 GMT"), Some(at(-2_077_704_000)));
        assert_eq!(parse_date("Thu, 29 Feb 1900 00:00:00 GMT"), None);
        assert_eq!(parse_date("Sun, 29 Feb 2023 00:00:00 GMT"), None);
    }

    #[test]
    fn accepts_the_first_and_last_supported_years() {
        assert_eq!(parse_date("Mon, 01 Jan 1601 00:00:00 GMT"), Some(at(-11_644_473_600)));
        assert_eq!(parse_date("Fri, 31 Dec 9999 23:59:59 GMT"), Some(at(253_402_300_799)));
    }

    #[test]
    fn rejects_invalid_dates() {
        let cases = [
            "",
            " ",
            "garbage",
            "not a date at all",
            "Sun, 06 Nov 1994",
            "Sun, 06 Nov 08:49:37 GMT",
            "Sun, Nov 1994 08:49:37 GMT",
            "Sun, 06 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 30 Feb 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 32 Dec 1994 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:37 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 108:49:37 GMT",
            "Sun, 06 Nov 1600 08:49:37 GMT",
            "Sun, 06 Nov 19940 08:49:37 GMT",
            "Sun, 06 Nov 1994 10:49:37 +2400",
            "Sun, 06 Nov 1994 10:49:37 +0260",
            "1994-13-06T08:49:37Z",
            "Sun, ０６ Nov 1994 08:49:37 GMT",
        ];
        for text in cases {
            assert_eq!(parse_date(text), None, "for {text:?}");
        }
    }

    #[test]
    fn rejects_huge_digit_runs() {
        let digits = "9".repeat(99_999);
        assert_eq!(parse_date(&digits), None);
        let in_year = format!("Sun, 06 Nov {digits} 08:49:37 GMT");
        assert_eq!(parse_date(&in_year), None);
        let in_time = format!("Sun, 06 Nov 1994 {digits}:49:37 GMT");
        assert_eq!(parse_date(&in_time), None);
        let as_offset = format!("Sun, 06 Nov 1994 08:49:37 +{digits}");
        assert_eq!(parse_date(&as_offset), Some(at(EXAMPLE)));
    }

    #[test]
    fn round_trips_format_then_parse() {
        let cases = [
            0,
            1,
            -1,
            EXAMPLE,
            951_782_400,
            946_684_800,
            946_684_799,
            1_709_251_199,
            -14_182_940,
            -2_077_704_000,
            -2_208_988_800,
            -11_644_473_600,
            253_402_300_799,
            4_102_444_800,
        ];
        for secs in cases {
            let time = at(secs);
            assert_eq!(parse_date(&format_date(time)), Some(time), "for {secs}");
        }
    }

    #[test]
    fn round_trips_every_day_over_four_centuries() {
        // One instant a day, with a varying time of day, from 1601 to 2001.
        let first_day = days_from_civil(1601, 1, 1);
        for day in first_day..first_day + 146_097 {
            let secs = day * SECS_PER_DAY + (day.rem_euclid(86_400) * 7919) % SECS_PER_DAY;
            let time = at(secs);
            assert_eq!(parse_date(&format_date(time)), Some(time), "for {secs}");
        }
    }

    #[test]
    fn calendar_helpers_are_inverse() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in -800_000..3_000_000 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn never_panics_on_arbitrary_input() {
        // A fixed pseudo-random generator so failures reproduce.
        let alphabet: Vec<char> = "0123456789:+- ,-ZGMTNovjanDec\t日\u{7f}\u{0}".chars().collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: String =
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            if let Some(time) = parse_date(&text) {
                // Whatever parses must format without panicking too.
                let _ = format_date(time);
            }
        }
    }
}
