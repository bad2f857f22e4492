//! Feeds arbitrary bytes to the extension area codec of Queries and QueryHit results:
//! `decode_area` never panics and re-encodes to exactly the input (forwarding never alters
//! an area); `sha1_urn` never panics (a URN with a multi-byte character across byte 9 once
//! did) and what it returns starts with `urn:sha1:`; a SHA-1 URN that `parse_urn` accepts
//! is written back the same, ignoring case.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::library::hash::{parse_urn, urn};
use servent::proto::payload::extension::{decode_area, encode_area};
use servent::proto::payload::Extension;
use servent_fuzz::bounded;

/// Fixed allocation allowance: a GGEP value in the area may inflate to 64 KiB.
const FIXED_ALLOC: usize = 128 * 1024;

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), FIXED_ALLOC, 4, || {
        let items = decode_area(data);
        let mut out = Vec::new();
        encode_area(&items, &mut out);
        assert_eq!(
            out, data,
            "decode_area then encode_area must give the area back"
        );
        assert_eq!(decode_area(&out), items);
        for item in &items {
            if let Extension::Ggep(block) = item {
                let _ = block.get("H");
            }
            let Some(u) = item.sha1_urn() else {
                continue;
            };
            assert!(u.as_bytes()[..9].eq_ignore_ascii_case(b"urn:sha1:"));
            if let Some(digest) = parse_urn(u) {
                assert!(urn(&digest).eq_ignore_ascii_case(u.trim()));
            }
        }
        // The same bytes as one URN string, when they are text.
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = Extension::Urn(s.to_owned()).sha1_urn();
        }
    })
});
