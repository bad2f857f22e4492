//! The `Range` request header (RFC 9110 §14): parsing `bytes=` range sets and resolving
//! them against a representation length. Pure functions; the file server decides the
//! response from the [`RangePlan`].
//!
//! Rules, in RFC terms:
//! - `a-b` (clamped to the end), `a-` (to the end), `-n` (the last n bytes, all of a
//!   shorter file). Whitespace around commas and empty list elements are allowed.
//! - A header that is not a valid `bytes=` range set (another unit, `5-2`, `x-`, no `=`)
//!   is ignored: the whole representation is sent with 200 (§14.2: "MUST ignore").
//! - No satisfiable range (every `a` at or past the end, or `-0`): 416 with
//!   `Content-Range: bytes */len`. A zero-length file is the exception: its range requests
//!   are answered 200 with an empty body (as Go's net/http does), since an empty file
//!   has no byte to range over and clients asking `bytes=0-` want the file.
//! - Overlapping or adjacent ranges are coalesced and sorted (§14.2 allows it); one range
//!   left gives a single 206, several give 206 multipart/byteranges.
//! - More than [`MAX_RANGES`] ranges: ignored as a whole (200), a bound on the work a
//!   single request can ask for.

use std::ops::Range;

/// Most ranges honoured in one request; more and the Range header is ignored.
pub const MAX_RANGES: usize = 32;

/// One range-spec as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `a-b` (inclusive).
    FromTo(u64, u64),
    /// `a-`.
    From(u64),
    /// `-n`.
    Suffix(u64),
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangePlan {
    /// 200 with the whole representation.
    Full,
    /// 206 with these byte ranges (sorted, disjoint, non-adjacent, non-empty).
    Partial(Vec<Range<u64>>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits beyond u64 are a position past any file: saturate rather than refuse.
    Some(s.parse::<u64>().unwrap_or(u64::MAX))
}

/// Parses a `Range` header value. `None` when it is not a valid `bytes` range set.
pub fn parse(header: &str) -> Option<Vec<RangeSpec>> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for item in set.split(',') {
        let item = item.trim_matches(|c| c == ' ' || c == '\t');
        if item.is_empty() {
            continue;
        }
        let (first, last) = item.split_once('-')?;
        let spec = match (first, last) {
            ("", n) => RangeSpec::Suffix(number(n)?),
            (a, "") => RangeSpec::From(number(a)?),
            (a, b) => {
                let (a, b) = (number(a)?, number(b)?);
                if b < a {
                    return None;
                }
                RangeSpec::FromTo(a, b)
            }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// Resolves parsed specs against a length: satisfiable ranges, coalesced.
pub fn resolve(specs: &[RangeSpec], len: u64) -> RangePlan {
    if specs.len() > MAX_RANGES {
        return RangePlan::Full;
    }
    let mut ranges: Vec<Range<u64>> = specs
        .iter()
        .filter_map(|s| match *s {
            RangeSpec::FromTo(a, b) if a < len => Some(a..b.saturating_add(1).min(len)),
            RangeSpec::From(a) if a < len => Some(a..len),
            RangeSpec::Suffix(n) if n > 0 => Some(len.saturating_sub(n)..len),
            _ => None,
        })
        .filter(|r| !r.is_empty())
        .collect();
    if ranges.is_empty() {
        return if len == 0 {
            RangePlan::Full
        } else {
            RangePlan::Unsatisfiable
        };
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    RangePlan::Partial(merged)
}

/// The plan for an optional `Range` header: absent or invalid means the whole thing.
pub fn plan(header: Option<&str>, len: u64) -> RangePlan {
    match header.and_then(parse) {
        Some(specs) => resolve(&specs, len),
        None => RangePlan::Full,
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::RangePlan::*;
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(plan(Some("bytes=0-9"), 100), Partial(vec![0..10]));
        assert_eq!(plan(Some("bytes=90-"), 100), Partial(vec![90..100]));
        assert_eq!(plan(Some("bytes=-10"), 100), Partial(vec![90..100]));
        assert_eq!(plan(Some("bytes=-1000"), 100), Partial(vec![0..100]));
        assert_eq!(plan(Some("bytes=50-1000"), 100), Partial(vec![50..100]));
        assert_eq!(plan(Some("BYTES = 1-1"), 100), Partial(vec![1..2]));
    }

    #[test]
    fn unsatisfiable_and_invalid() {
        assert_eq!(plan(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(plan(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(plan(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(plan(Some("bytes=5-2"), 100), Full);
        assert_eq!(plan(Some("bytes=x-2"), 100), Full);
        assert_eq!(plan(Some("items=0-2"), 100), Full);
        assert_eq!(plan(Some("bytes="), 100), Full);
        assert_eq!(plan(Some("bytes=0-1-2"), 100), Full);
        assert_eq!(plan(Some("bytes=+1-2"), 100), Full);
        assert_eq!(plan(None, 100), Full);
        assert_eq!(plan(Some("bytes=0-"), 0), Full);
        assert_eq!(
            plan(Some("bytes=99999999999999999999999-"), 100),
            Unsatisfiable
        );
    }

    #[test]
    fn several() {
        assert_eq!(
            plan(Some("bytes=0-1, 4-5,,-2"), 10),
            Partial(vec![0..2, 4..6, 8..10])
        );
        assert_eq!(plan(Some("bytes=0-4,3-8,9-9"), 10), Partial(vec![0..10]));
        assert_eq!(
            plan(Some("bytes=200-300,0-0"), 10),
            Partial(vec![0..1]),
            "unsatisfiable members are dropped when another is satisfiable"
        );
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(plan(Some(&many), 10), Full);
    }
}
