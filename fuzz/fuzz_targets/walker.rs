//! Feeds arbitrary bytes to the random walk's wire forms: the `RW` tag and the check
//! vendor messages. Whatever decodes re-encodes to exactly the input (both are fixed
//! layouts); a tag applied to a Query is found on it again, and the marked Query
//! survives encode -> decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::proto::payload::Query;
use servent::proto::walker::{CheckMessage, WalkerTag};
use servent_fuzz::bounded;

/// Allocation allowance per input byte: a Query's extension area splits at every 0x1C into
/// one `Extension` (32 bytes) per item, so up to one per input byte, doubled by `Vec`
/// growth. Still linear in what is there, never in a length the input claims.
const PER_INPUT_BYTE: usize = 64;

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), 1024, PER_INPUT_BYTE, || {
        if let Ok(tag) = WalkerTag::decode(data) {
            assert_eq!(tag.encode().as_slice(), data);
        }
        if let Ok(check) = CheckMessage::decode(data) {
            assert_eq!(check.encode(), data);
            assert_eq!(CheckMessage::decode(&check.encode()), Ok(check));
        }
        // The input as a Query payload: finding a tag must not panic; applying one
        // (replacing or appending `RW`) must be found again and survive the wire.
        let Ok(query) = Query::decode(data) else {
            return;
        };
        let _ = WalkerTag::find(&query);
        let tag = match data.get(..9).map(WalkerTag::decode) {
            Some(Ok(tag)) => tag,
            _ => WalkerTag {
                walker: data[0],
                check_every: data[1],
                remember_neighbours: data[0] & 1 == 1,
                steps: 1,
                steps_left: u16::from(data[2]),
                sender_path: 0,
            },
        };
        let marked = tag.apply(&query);
        if WalkerTag::find(&query).is_none() {
            assert_eq!(WalkerTag::find(&marked), Some(Ok(tag)));
        }
        let mut bytes = Vec::new();
        marked.encode(&mut bytes);
        if let Ok(again) = Query::decode(&bytes) {
            assert_eq!(WalkerTag::find(&again), WalkerTag::find(&marked));
        }
    })
});
