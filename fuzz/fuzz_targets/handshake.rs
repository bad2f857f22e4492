//! Feeds arbitrary bytes to the handshake framing and parser: neither may panic, a
//! parsed block must survive encode -> parse unchanged (when it still fits the limit),
//! and no allocation may exceed a fixed bound plus a multiple of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::proto::handshake::{check, parse, HandshakeCheck};
use servent::proto::limits::MAX_HANDSHAKE_LEN;
use servent_fuzz::bounded;

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), 4096, 8, || {
        let Ok(HandshakeCheck::Complete(len)) = check(data) else {
            return;
        };
        assert!(len <= data.len().min(MAX_HANDSHAKE_LEN));
        if let Ok(msg) = parse(&data[..len]) {
            let encoded = msg.encode();
            if encoded.len() <= MAX_HANDSHAKE_LEN {
                assert_eq!(parse(&encoded), Ok(msg));
            }
        }
    })
});
