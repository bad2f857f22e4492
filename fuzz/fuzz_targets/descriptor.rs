//! Feeds arbitrary bytes to the descriptor reader as a stream: frame with `check`, decode
//! with `parse`, and for every descriptor that decodes, encode it and decode it again: the
//! second decode must give the same descriptor. A framing error ends the stream, as it
//! closes a link. No allocation may exceed a fixed bound plus a multiple of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::proto::frame::{check, parse, Check};
use servent::proto::limits::HEADER_LEN;
use servent_fuzz::bounded;

/// Fixed allocation allowance: a GGEP value may inflate to 64 KiB (grown by doubling).
const FIXED_ALLOC: usize = 128 * 1024;

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), FIXED_ALLOC, 4, || {
        let mut buf = data;
        while let Ok(Check::Complete(n)) = check(buf) {
            assert!((HEADER_LEN..=buf.len()).contains(&n));
            if let Ok(d) = parse(&buf[..n]) {
                // Growth past a limit (e.g. separators added) may refuse to encode: fine.
                if let Ok(bytes) = d.rebuilt().to_bytes() {
                    assert_eq!(check(&bytes), Ok(Check::Complete(bytes.len())));
                    assert_eq!(parse(&bytes).as_ref(), Ok(&d), "decode(encode(d)) != d");
                }
            }
            buf = &buf[n..];
        }
    })
});
