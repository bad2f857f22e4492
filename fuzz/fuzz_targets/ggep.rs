//! Feeds arbitrary bytes to the GGEP block codec: `parse` and `decode` may not panic; a
//! block that parses re-encodes byte for byte (the bytes it consumed); a block that does
//! not is kept Raw, whole, and re-encodes verbatim; reading each extension's value (COBS,
//! deflate) stays within the inflation limit; COBS round-trips any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::proto::ggep::{cobs_decode, cobs_encode, GgepBlock};
use servent::proto::limits::MAX_GGEP_INFLATED_LEN;
use servent_fuzz::bounded;

/// Fixed allocation allowance: a value may inflate to 64 KiB, reserved by doubling.
const FIXED_ALLOC: usize = 2 * MAX_GGEP_INFLATED_LEN;

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), FIXED_ALLOC, 4, || {
        let strict = GgepBlock::parse(data);
        let (block, used) = GgepBlock::decode(data);
        let mut out = Vec::new();
        block.encode(&mut out);
        assert_eq!(
            out.len(),
            block.encoded_len(),
            "encoded_len disagrees with encode"
        );
        match (&strict, &block) {
            (Ok((exts, n)), GgepBlock::Parsed(parsed)) => {
                assert_eq!((exts, *n), (parsed, used));
                assert!(!exts.is_empty());
                assert_eq!(
                    out,
                    &data[..used],
                    "a parsed block must re-encode byte for byte"
                );
                for ext in exts {
                    if let Ok(value) = ext.decoded() {
                        assert!(value.len() <= MAX_GGEP_INFLATED_LEN.max(ext.data.len()));
                    }
                }
            }
            (Err(_), GgepBlock::Raw(raw)) => {
                assert_eq!((raw.as_slice(), used), (data, data.len()));
                assert_eq!(out, data);
            }
            _ => panic!("parse {strict:?} and decode {block:?} disagree"),
        }
        // COBS: decoding never grows, encoding is undone exactly and has no zero byte.
        if let Ok(raw) = cobs_decode(data) {
            assert!(raw.len() <= data.len());
        }
        let enc = cobs_encode(data);
        assert!(!enc.contains(&0));
        assert_eq!(cobs_decode(&enc).as_deref(), Ok(data));
    })
});
