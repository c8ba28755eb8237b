//! Byte ranges: parsing, resolving and merging `Range`, and `If-Range`.

use super::*;

/// An inclusive byte range, resolved against the file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ByteRange {
    pub(super) start: u64,
    pub(super) end: u64,
}

impl ByteRange {
    pub(super) fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub(super) fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.end)
    }
}

pub(super) enum Ranges {
    /// No (usable) Range: send the whole file.
    Whole,
    /// A valid Range of which nothing is within the file: 416.
    Unsatisfiable,
    /// What to send, merged and non-empty.
    Some(Vec<ByteRange>),
}

/// One `range-spec` of a Range header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeSpec {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}

/// The ranges to send for a GET of a non-empty file (RFC 9110 §14.2 and §13.1.5).
pub(super) fn requested_ranges(
    request: &Request,
    validators: &Validators,
    size: u64,
    max_ranges: usize,
) -> Ranges {
    let Some(range) = request.header("range") else { return Ranges::Whole };
    if let Some(if_range) = request.header("if-range") {
        if !if_range_matches(if_range.trim(), validators) {
            return Ranges::Whole;
        }
    }
    let Some(specs) = parse_range(&range) else { return Ranges::Whole };
    if specs.len() > max_ranges {
        return Ranges::Whole;
    }
    let ranges = resolve_ranges(&specs, size);
    if ranges.is_empty() {
        Ranges::Unsatisfiable
    } else {
        Ranges::Some(ranges)
    }
}

/// If-Range: a strong ETag that matches exactly, or the exact Last-Modified date when
/// that is a strong validator.
pub(super) fn if_range_matches(value: &str, validators: &Validators) -> bool {
    if value.starts_with('"') || value.starts_with("W/") {
        return match parse_entity_tag(value) {
            Some(((false, tag), rest)) if rest.trim().is_empty() => validators.etag.as_deref() == Some(&tag),
            _ => false,
        };
    }
    match (crate::parse_date(value), validators.last_modified) {
        (Some(date), Some(modified)) => validators.strong_date && date == modified,
        _ => false,
    }
}

/// `bytes=...` into its range specs; `None` when malformed or in another unit.
pub(super) fn parse_range(value: &str) -> Option<Vec<RangeSpec>> {
    let (unit, set) = value.trim_matches([' ', '\t']).split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let number = |digits: &str| -> Option<u64> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Too many digits for u64 is still a number: past the end of any file.
        Some(digits.parse().unwrap_or(u64::MAX))
    };
    let mut specs = Vec::new();
    for item in set.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() {
            continue;
        }
        let (first, last) = item.split_once('-')?;
        let spec = match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => RangeSpec::Suffix(number(last)?),
            (false, true) => RangeSpec::From(number(first)?),
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                if last < first {
                    return None;
                }
                RangeSpec::FromTo(first, last)
            }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// The satisfiable specs as ranges within `size` bytes (`size > 0`). When any overlap or
/// touch, all are sorted and merged; otherwise they keep the order they were asked in.
pub(super) fn resolve_ranges(specs: &[RangeSpec], size: u64) -> Vec<ByteRange> {
    let last = size - 1;
    let mut ranges: Vec<ByteRange> = specs
        .iter()
        .filter_map(|spec| match *spec {
            RangeSpec::FromTo(start, end) if start < size => Some(ByteRange { start, end: end.min(last) }),
            RangeSpec::From(start) if start < size => Some(ByteRange { start, end: last }),
            RangeSpec::Suffix(length) if length > 0 => {
                Some(ByteRange { start: size - length.min(size), end: last })
            }
            _ => None,
        })
        .collect();
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|range| range.start);
    let touching = sorted.windows(2).any(|pair| pair[1].start <= pair[0].end.saturating_add(1));
    if touching {
        ranges.clear();
        for range in sorted {
            match ranges.last_mut() {
                Some(previous) if range.start <= previous.end.saturating_add(1) => {
                    previous.end = previous.end.max(range.end);
                }
                _ => ranges.push(range),
            }
        }
    }
    ranges
}

/// A multipart boundary nobody can predict (so no file can be made to contain it).
pub(super) fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let mut hasher = state.build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let first = hasher.finish();
    let mut hasher = state.build_hasher();
    hasher.write_u64(first);
    if let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(since.as_nanos());
    }
    format!("courier-{first:016x}{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers_parse() {
        use RangeSpec::*;
        assert_eq!(parse_range("bytes=0-4"), Some(vec![FromTo(0, 4)]));
        assert_eq!(parse_range("Bytes= 1-, -3 ,, 5-5"), Some(vec![From(1), Suffix(3), FromTo(5, 5)]));
        assert_eq!(parse_range("bytes=0-99999999999999999999999"), Some(vec![FromTo(0, u64::MAX)]));
        for invalid in
            ["bytes=", "bytes=5-2", "bytes=-", "bytes=a-b", "items=0-1", "0-4", "bytes=1-2-3", "bytes=+1-2"]
        {
            assert_eq!(parse_range(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn ranges_resolve_and_merge() {
        use RangeSpec::*;
        let range = |start, end| ByteRange { start, end };
        assert_eq!(resolve_ranges(&[FromTo(20, 100)], 26), [range(20, 25)]);
        assert_eq!(resolve_ranges(&[Suffix(100)], 26), [range(0, 25)]);
        assert_eq!(resolve_ranges(&[Suffix(0), From(26)], 26), []);
        assert_eq!(resolve_ranges(&[FromTo(10, 12), FromTo(0, 2)], 26), [range(10, 12), range(0, 2)]);
        assert_eq!(
            resolve_ranges(&[FromTo(10, 12), FromTo(0, 4), FromTo(3, 8)], 26),
            [range(0, 8), range(10, 12)]
        );
        assert_eq!(resolve_ranges(&[FromTo(0, 2), FromTo(3, 5)], 26), [range(0, 5)]);
        assert_eq!(resolve_ranges(&[From(0), From(0), Suffix(1)], 26), [range(0, 25)]);
    }
}
