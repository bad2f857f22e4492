//! Feeds arbitrary text to SHA-1 URN parsing (`urn:sha1:` + 32 base32 characters, as in
//! `/uri-res/N2R?` requests and Query extensions): never panics (a multi-byte character
//! across byte 9 must not split), and a parsed digest is written back as the same URN,
//! ignoring case and surrounding whitespace; parsing what `urn` writes gives the digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::library::hash::{parse_base32, parse_urn, urn};
use servent_fuzz::bounded;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    bounded(data.len(), 1024, 8, || {
        if let Some(digest) = parse_urn(&text) {
            let written = urn(&digest);
            assert!(
                written.eq_ignore_ascii_case(text.trim()),
                "{written} vs {text:?}"
            );
            assert_eq!(parse_urn(&written), Some(digest));
        }
        if let Some(digest) = parse_base32(&text) {
            assert_eq!(parse_base32(&urn(&digest)[9..]), Some(digest));
        }
    })
});
