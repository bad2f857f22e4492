//! GGEP `H` (binary SHA-1) in QueryHit results and Queries: gtk-gnutella's form of
//! `protocol/vectors/query-hit-ggep-h.txt` decodes to the right SHA-1s; bad `H` values give
//! no hash and never a panic; our own hits carry the hash as text and as `H` in one GGEP
//! block with `LF`, and round-trip; a text-form and an `H`-form result of one file group
//! together; a Query asking by `H` is answered by hash.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use servent::core::matcher::ListMatcher;
use servent::core::{Config, LocalFile, PeerId, PeerInfo, Servent, SharedFiles};
use servent::library::hits::{group_hits, result_size, SearchHit};
use servent::library::{hash, Library, LibraryConfig};
use servent::proto::ggep::{GgepBlock, GgepExtension};
use servent::proto::payload::hash::{decode_h, h_extension, GGEP_H_SHA1};
use servent::proto::payload::{Extension, HitResult, Query, QueryHit, Sha1Digest, Trailer};
use servent::proto::{parse, Descriptor, Guid, Payload};

fn sha1_of(bytes: &[u8]) -> Sha1Digest {
    hash::sha1_reader(bytes, |_| {}).unwrap()
}

/// The bytes of a descriptor vector (the `hex:` section; format in protocol/README.md).
fn vector_bytes(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let hex = text.split("hex:").nth(1).expect("a hex: section");
    hex.lines()
        .map(str::trim)
        .take_while(|l| !l.contains('='))
        .flat_map(|l| l.split('#').next().unwrap_or_default().split_whitespace())
        .map(|t| u8::from_str_radix(t, 16).expect("hex byte"))
        .collect()
}

fn query_hit(bytes: &[u8]) -> QueryHit {
    match &*parse(bytes).expect("the vector parses").payload {
        Payload::QueryHit(h) => h.clone(),
        other => panic!("not a QueryHit: {other:?}"),
    }
}

#[test]
fn gtk_gnutella_style_h_types_1_and_2_decode_and_bad_ones_are_no_hash() {
    let hit = query_hit(&vector_bytes("query-hit-ggep-h.txt"));
    let type1 = sha1_of(b"gtk-gnutella shares this file 1\n");
    let type2 = sha1_of(b"a bitprint file 0\n");
    assert!(type1.contains(&0), "the vector exercises COBS");
    let got: Vec<Option<Sha1Digest>> = hit.results.iter().map(HitResult::sha1).collect();
    assert_eq!(got, [Some(type1), Some(type2), None, None, None]);
    assert_eq!(hit.results[0].sha1_urn(), Some(hash::urn(&type1)));
    assert_eq!(result_size(&hit.results[1]), 5 << 30, "LF beside H");

    let search = SearchHit::from_query_hit(&hit);
    let urns: Vec<Option<String>> = search.iter().map(|h| h.sha1_urn.clone()).collect();
    assert_eq!(
        urns,
        [
            Some(hash::urn(&type1)),
            Some(hash::urn(&type2)),
            None,
            None,
            None
        ]
    );
    assert!(urns[0].as_deref().and_then(hash::parse_urn) == Some(type1));
}

#[test]
fn mutated_h_hits_never_panic() {
    let seed = vector_bytes("query-hit-ggep-h.txt");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut decoded = 0;
    for _ in 0..3000 {
        let mut bytes = seed.clone();
        for _ in 0..1 + next() % 4 {
            // Edits after the header, where the results and their H extensions are.
            let i = 23 + (next() as usize) % (bytes.len() - 23);
            bytes[i] = next() as u8;
        }
        if let Ok(d) = parse(&bytes) {
            if let Payload::QueryHit(h) = &*d.payload {
                decoded += 1;
                for r in &h.results {
                    if let Some(urn) = r.sha1_urn() {
                        assert_eq!(hash::parse_urn(&urn), r.sha1());
                    }
                }
                let _ = group_hits(SearchHit::from_query_hit(h));
            }
        }
    }
    assert!(decoded > 100, "mutations mostly still parse: {decoded}");
    // Every truncation of an H value: no hash, no panic.
    let mut full = vec![GGEP_H_SHA1];
    full.extend_from_slice(&[9; 20]);
    for n in 0..full.len() {
        assert_eq!(decode_h(&full[..n]), None);
        let r = result(vec![Extension::Ggep(GgepBlock::Parsed(vec![
            GgepExtension::new("H", full[..n].to_vec()),
        ]))]);
        assert_eq!(r.sha1(), None);
    }
    assert_eq!(decode_h(&full), Some([9; 20]));
}

fn result(extensions: Vec<Extension>) -> HitResult {
    HitResult {
        index: 1,
        size: 10,
        name: b"song.mp3".to_vec(),
        extensions,
    }
}

/// Our servent answering "linux" for `files`: its QueryHits, through the wire and back.
fn our_hits(files: Vec<LocalFile>) -> Vec<(Vec<u8>, QueryHit)> {
    let mut core = Servent::new(Config {
        servent_id: Guid::mark_modern([2; 16]),
        ..Config::default()
    });
    core.set_matcher(SharedFiles {
        matcher: Box::new(ListMatcher(files)),
        files: 2,
        kbytes: 1,
    });
    core.handle_connected(Duration::ZERO, PeerId(1), PeerInfo::default());
    let query = Descriptor::new(
        Guid::mark_modern([9; 16]),
        3,
        0,
        Payload::Query(Query::new("linux")),
    );
    core.handle_descriptor(Duration::ZERO, PeerId(1), query);
    let mut hits = Vec::new();
    while let Some(t) = core.poll_transmit() {
        let mut wire = Vec::new();
        t.descriptor.encode(&mut wire).unwrap();
        if let Payload::QueryHit(h) = &*parse(&wire).unwrap().payload {
            hits.push((wire.clone(), h.clone()));
        }
    }
    hits
}

#[test]
fn our_hits_carry_text_urn_and_h_in_one_block_with_lf_and_round_trip() {
    let with_zero: Sha1Digest = std::array::from_fn(|i| if i == 5 { 0 } else { i as u8 + 1 });
    let plain = [0xAB; 20];
    let big = 5u64 << 30;
    let hits = our_hits(vec![
        LocalFile {
            index: 1,
            size: 1000,
            name: "linux notes.txt".into(),
            sha1_urn: Some(hash::urn(&with_zero)),
        },
        LocalFile {
            index: 2,
            size: big,
            name: "linux big.iso".into(),
            sha1_urn: Some(hash::urn(&plain)),
        },
        LocalFile {
            index: 3,
            size: 7,
            name: "linux unhashed.txt".into(),
            sha1_urn: None,
        },
    ]);
    assert_eq!(hits.len(), 1);
    let (wire, hit) = &hits[0];
    // Re-encoding the decoded hit gives the same bytes.
    let mut again = Vec::new();
    Descriptor::new(
        Guid::mark_modern([9; 16]),
        4,
        0,
        Payload::QueryHit(hit.clone()),
    )
    .encode(&mut again)
    .unwrap();
    assert_eq!(&again[23..], &wire[23..]);

    for (r, digest) in hit.results.iter().zip([with_zero, plain]) {
        let [Extension::Urn(text), Extension::Ggep(block)] = &r.extensions[..] else {
            panic!("want a text URN then one GGEP block: {:?}", r.extensions);
        };
        assert_eq!(*text, hash::urn(&digest));
        let h = block.get("H").expect("H in the block");
        assert_eq!(*h, h_extension(&digest));
        assert_eq!(h.decoded().unwrap()[0], GGEP_H_SHA1);
        assert_eq!(decode_h(&h.decoded().unwrap()), Some(digest));
        assert_eq!(r.sha1(), Some(digest));
        // Each form alone gives the same hash.
        assert_eq!(r.extensions[0].sha1(), Some(digest));
        assert_eq!(r.extensions[1].sha1(), Some(digest));
    }
    let GgepBlock::Parsed(exts) = (match &hit.results[1].extensions[1] {
        Extension::Ggep(b) => b,
        _ => unreachable!(),
    }) else {
        panic!("block parsed");
    };
    let ids: Vec<&str> = exts.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["H", "LF"], "H and LF share the one block");
    assert_eq!(result_size(&hit.results[1]), big);
    assert!(hit.results[0].extensions.len() == 2 && hit.results[0].size == 1000);
    assert!(
        hit.results[2].extensions.is_empty(),
        "no hash, no LF: empty area"
    );
    assert_eq!(hit.results[2].sha1(), None);
}

fn hit_from(port: u16, id: u8, r: HitResult) -> QueryHit {
    QueryHit {
        port,
        ip: Ipv4Addr::LOCALHOST,
        speed: 100,
        results: vec![r],
        trailer: Some(Trailer::new(*b"GTKG", false, false, false, false)),
        servent_id: Guid([id; 16]),
    }
}

#[test]
fn grouping_merges_a_text_form_and_an_h_form_result_of_one_file() {
    let digest = sha1_of(b"one file, two servents");
    let lower = hash::urn(&digest).to_lowercase();
    let text = hit_from(1, 1, result(vec![Extension::Urn(lower)]));
    let binary = hit_from(
        2,
        2,
        result(vec![Extension::Ggep(GgepBlock::Parsed(vec![h_extension(
            &digest,
        )]))]),
    );
    let mut bitprint_value = vec![2];
    bitprint_value.extend_from_slice(&digest);
    bitprint_value.extend_from_slice(&[0x55; 24]);
    let bitprint = hit_from(
        3,
        3,
        result(vec![Extension::Ggep(GgepBlock::Parsed(vec![
            GgepExtension::new("H", bitprint_value),
        ]))]),
    );
    let other = hit_from(4, 4, result(vec![]));
    let hits: Vec<SearchHit> = [text, binary, bitprint, other]
        .iter()
        .flat_map(SearchHit::from_query_hit)
        .collect();
    let groups = group_hits(hits);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[0].sha1_urn, Some(hash::urn(&digest)));
    let ports: Vec<u16> = groups[0].sources.iter().map(|s| s.addr.port()).collect();
    assert_eq!(ports, [1, 2, 3]);
    assert_eq!(groups[1].sha1_urn, None);
}

#[test]
fn a_query_asking_by_h_is_answered_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wanted.txt"), b"wanted").unwrap();
    std::fs::write(dir.path().join("other.txt"), b"other").unwrap();
    let lib = Library::open(LibraryConfig {
        roots: vec![dir.path().to_owned()],
        ..LibraryConfig::default()
    })
    .unwrap();
    assert!(lib.wait_hashed(Duration::from_secs(20)));
    let wanted = sha1_of(b"wanted");
    let m = lib.matcher();

    let mut by_h = Query::new("other");
    by_h.extensions
        .push(Extension::Ggep(GgepBlock::Parsed(vec![h_extension(
            &wanted,
        )])));
    assert_eq!(by_h.sha1s(), [wanted]);
    assert_eq!(by_h.sha1_urn(), Some(hash::urn(&wanted)));
    assert!(by_h.is_by_hash());
    let answer = m.matches(&by_h, 10);
    let names: Vec<&str> = answer.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["wanted.txt"], "by hash only: the text is ignored");

    // Both forms of one hash count once; a bad H alone is not a hash query.
    let mut both = by_h.clone();
    both.extensions
        .insert(0, Extension::Urn(hash::urn(&wanted)));
    assert_eq!(both.sha1s(), [wanted]);
    let mut bad = Query::new("other");
    bad.extensions.push(Extension::Ggep(GgepBlock::Parsed(vec![
        GgepExtension::new("H", vec![GGEP_H_SHA1, 1, 2]),
    ])));
    assert!(bad.sha1s().is_empty() && !bad.is_by_hash());
    let names: Vec<String> = m.matches(&bad, 10).into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["other.txt"]);
}
