//! Inputs the fuzz targets (`fuzz/fuzz_targets/`) found failing, each kept as a test with
//! the input as found, so the fix stays fixed.

use servent::download::state::PartState;
use servent::proto::payload::Query;
use servent::proto::walker::WalkerTag;

/// `part_state`: a sidecar whose `done` ranges are reversed (`[60,30]`), overlapping or
/// past the file's size is refused (the download starts over), instead of loading and
/// making `done.len()` underflow.
#[test]
fn part_state_with_a_reversed_range_is_refused() {
    let found = r#"{"version":1,"size":100,"sha1":null,"done":[[0,10],[60,30]],"served":[],"hash_mismatch":null}"#;
    assert_eq!(PartState::from_json(found), None);
    let overlapping = r#"{"version":1,"size":100,"sha1":null,"done":[[0,50],[40,60]],"served":[],"hash_mismatch":null}"#;
    assert_eq!(PartState::from_json(overlapping), None);
    let past_end = r#"{"version":1,"size":100,"sha1":null,"done":[[0,10],[20,101]],"served":[],"hash_mismatch":null}"#;
    assert_eq!(PartState::from_json(past_end), None);
    let good = r#"{"version":1,"size":100,"sha1":null,"done":[[0,10],[20,100]],"served":[],"hash_mismatch":null}"#;
    let state = PartState::from_json(good).expect("a canonical sidecar loads");
    assert_eq!(state.done.len(), 90);
    assert_eq!(state.done.gaps(state.size), vec![10..20]);
}

/// `walker`: a Query whose extension area holds a GGEP block that does not parse (kept
/// raw, it runs to the end of the area) lost a walker tag appended after it once encoded;
/// the tag now goes before it and survives the wire.
#[test]
fn walker_tag_applied_after_a_raw_ggep_block_survives_the_wire() {
    let found = [0x00, 0x28, 0x00, 0xC3, 0x28, 0x00, 0x00, 0x41];
    let query = Query::decode(&found).unwrap();
    let tag = WalkerTag {
        walker: 0,
        check_every: 40,
        remember_neighbours: false,
        look_ahead: false,
        degree_bias: false,
        steps: 1,
        steps_left: 0,
        sender_path: 0,
    };
    let marked = tag.apply(&query);
    assert_eq!(WalkerTag::find(&marked), Some(Ok(tag)));
    let mut wire = Vec::new();
    marked.encode(&mut wire);
    let again = Query::decode(&wire).unwrap();
    assert_eq!(WalkerTag::find(&again), Some(Ok(tag)));
    assert_eq!(again, marked, "the marked Query survives encode -> decode");
}
