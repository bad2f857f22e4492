//! Feeds arbitrary bytes to the QRP codec and receiver: the input is a run of payloads,
//! each preceded by its length (one byte); `QrpMessage::decode` may not panic, what decodes
//! re-encodes byte for byte, and a `QrpReceiver` taking every decoded message in order
//! either errs or yields a table of an allowed size, allocating at most a bounded table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::core::qrp::QrpReceiver;
use servent::proto::qrp::{QrpMessage, MAX_TABLE_SLOTS, MIN_TABLE_SLOTS};
use servent_fuzz::bounded;

/// Fixed allocation allowance: inflated entries of one chunk for the largest 8-bit table
/// (2 MiB), reserved by doubling, plus the inflater's state.
const FIXED_ALLOC: usize = 4 * MAX_TABLE_SLOTS as usize + (1 << 16);

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), FIXED_ALLOC, 4, || {
        let mut rx = QrpReceiver::new();
        let mut rest = data;
        while let Some((&len, tail)) = rest.split_first() {
            let n = usize::from(len).min(tail.len());
            let (payload, next) = tail.split_at(n);
            rest = next;
            let Ok(msg) = QrpMessage::decode(payload) else {
                continue;
            };
            assert_eq!(msg.encode(), payload, "a decoded payload must re-encode");
            if let Ok(Some(table)) = rx.handle(msg) {
                assert!((MIN_TABLE_SLOTS..=MAX_TABLE_SLOTS).contains(&table.slots()));
            }
        }
    });
});
