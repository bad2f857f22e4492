//! Feeds arbitrary text to the `Range` header parser and resolves it against a length
//! taken from the first bytes. Checked against a model: a parsed range set written back
//! in canonical form parses to the same specs; a partial plan is sorted, disjoint,
//! non-adjacent, non-empty and within the length, and covers exactly the bytes the specs
//! name (counted by brute force for short lengths); unsatisfiable only when no spec
//! names a byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::http::range::{parse, plan, resolve, RangePlan, RangeSpec, MAX_RANGES};
use servent_fuzz::bounded;

/// Lengths up to this are checked byte by byte against the specs.
const MODEL_LEN: u64 = 512;

fn write(specs: &[RangeSpec]) -> String {
    let items: Vec<String> = specs
        .iter()
        .map(|s| match *s {
            RangeSpec::FromTo(a, b) => format!("{a}-{b}"),
            RangeSpec::From(a) => format!("{a}-"),
            RangeSpec::Suffix(n) => format!("-{n}"),
        })
        .collect();
    format!("bytes={}", items.join(","))
}

fn names(spec: RangeSpec, byte: u64, len: u64) -> bool {
    match spec {
        RangeSpec::FromTo(a, b) => a <= byte && byte <= b,
        RangeSpec::From(a) => a <= byte,
        RangeSpec::Suffix(n) => byte >= len.saturating_sub(n),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len_bytes, header) = data.split_at(8);
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let raw = u64::from_le_bytes(len_bytes.try_into().unwrap());
    // Half the inputs get a short length the model can check byte by byte.
    let len = if raw & 1 == 0 {
        (raw >> 1) % (MODEL_LEN + 1)
    } else {
        raw >> 1
    };
    bounded(data.len(), 1024, 16, || {
        let specs = parse(header);
        let p = plan(Some(header), len);
        let Some(specs) = specs else {
            assert_eq!(p, RangePlan::Full, "an invalid header is ignored");
            return;
        };
        assert!(!specs.is_empty());
        assert_eq!(
            parse(&write(&specs)).as_ref(),
            Some(&specs),
            "canonical form reparses"
        );
        assert_eq!(resolve(&specs, len), p);
        match &p {
            RangePlan::Full => assert!(specs.len() > MAX_RANGES || len == 0),
            RangePlan::Unsatisfiable => {
                assert!(specs.len() <= MAX_RANGES && len > 0);
                if len <= MODEL_LEN {
                    assert!((0..len).all(|b| !specs.iter().any(|&s| names(s, b, len))));
                }
            }
            RangePlan::Partial(ranges) => {
                assert!(specs.len() <= MAX_RANGES && !ranges.is_empty());
                for r in ranges {
                    assert!(r.start < r.end && r.end <= len, "range {r:?} of {len}");
                }
                for w in ranges.windows(2) {
                    assert!(w[0].end < w[1].start, "not coalesced: {ranges:?}");
                }
                if len <= MODEL_LEN {
                    for b in 0..len {
                        let planned = ranges.iter().any(|r| r.contains(&b));
                        let named = specs.iter().any(|&s| names(s, b, len));
                        assert_eq!(planned, named, "byte {b} of {len}");
                    }
                }
            }
        }
    })
});
