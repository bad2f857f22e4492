//! Feeds arbitrary bytes to the handshake framing and parser: neither may panic, and a
//! parsed block must survive encode -> parse unchanged (when it still fits the limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::proto::handshake::{check, parse, HandshakeCheck};
use servent::proto::limits::MAX_HANDSHAKE_LEN;

fuzz_target!(|data: &[u8]| {
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
});
