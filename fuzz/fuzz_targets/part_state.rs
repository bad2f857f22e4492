//! Feeds arbitrary bytes to the download sidecar decoder (`FILE.part.state`, JSON): never
//! panics, and a sidecar it accepts is one the downloader can trust: its byte ranges are
//! sorted, disjoint, non-empty and within the file's size, so counting and scheduling
//! what is left never overflows; saved again (serialised) it loads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::download::state::PartState;
use servent_fuzz::bounded;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    bounded(data.len(), 4096, 16, || {
        let Some(state) = PartState::from_json(text) else {
            return;
        };
        let ranges: Vec<_> = state.done.ranges().collect();
        for r in &ranges {
            assert!(
                r.start < r.end && r.end <= state.size,
                "range {r:?} of {}",
                state.size
            );
        }
        for w in ranges.windows(2) {
            assert!(w[0].end < w[1].start, "not disjoint and sorted: {ranges:?}");
        }
        let done = state.done.len();
        let gaps: u64 = state
            .done
            .gaps(state.size)
            .iter()
            .map(|g| g.end - g.start)
            .sum();
        assert_eq!(done + gaps, state.size, "done and gaps must cover the file");
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(PartState::from_json(&json), Some(state));
    })
});
