//! Query Routing Protocol: the hash against `protocol/vectors/qrp/hash.txt`, RESET and
//! PATCH against `reset.txt` and `patch.txt` (decoded, re-encoded, received into the
//! listed table, and re-derived from the listed names), tables built from names route every
//! query the library answers by word or word prefix and not absent words, updates round
//! trip through the receiver, and hostile message streams end in errors, never panics.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use servent::core::matcher::ListMatcher;
use servent::core::qrp::{
    qrp_hash, table_update, table_update_with, PatchOptions, QrpReceiver, QueryKeys,
    QueryRoutingTable, DEFAULT_TABLE_BITS,
};
use servent::core::{LocalFile, NoMatcher, QueryMatcher};
use servent::library::matching::{fold, Pattern};
use servent::library::qrp::{name_words, query_keys};
use servent::proto::payload::Query;
use servent::proto::qrp::{inflate_patch, QrpMessage, QrpPatch, QrpReset};
use servent::proto::QrpError;

fn vector(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol/vectors/qrp")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A QRP vector: `key = value` fields and `hex:` sections, one payload each.
struct Vector {
    fields: Vec<(String, String)>,
    payloads: Vec<Vec<u8>>,
}

impl Vector {
    fn parse(text: &str) -> Vector {
        let mut v = Vector {
            fields: Vec::new(),
            payloads: Vec::new(),
        };
        let mut in_hex = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if line.is_empty() {
                in_hex = false;
            } else if line == "hex:" {
                v.payloads.push(Vec::new());
                in_hex = true;
            } else if let Some((k, val)) = line.split_once('=') {
                in_hex = false;
                v.fields.push((k.trim().to_owned(), val.trim().to_owned()));
            } else {
                assert!(in_hex, "line {}: neither field nor hex: {line:?}", n + 1);
                let bytes = v.payloads.last_mut().expect("inside a hex section");
                for tok in line
                    .split('#')
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                {
                    assert_eq!(tok.len(), 2, "line {}: {tok:?}", n + 1);
                    bytes.push(u8::from_str_radix(tok, 16).expect("hex byte"));
                }
            }
        }
        v
    }

    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("vector lacks {key}"))
    }

    fn num<T: std::str::FromStr>(&self, key: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        self.get(key).parse().expect("a number")
    }
}

#[test]
fn hash_vectors() {
    let text = vector("hash.txt");
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 3, "{line:?}");
        let (bits, want): (u8, u32) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        assert_eq!(qrp_hash(f[0], bits), want, "{line:?}");
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} hash vectors");
}

#[test]
fn reset_vector() {
    let v = Vector::parse(&vector("reset.txt"));
    assert_eq!(v.payloads.len(), 1);
    let m = QrpMessage::decode(&v.payloads[0]).expect("the vector decodes");
    assert_eq!(
        m,
        QrpMessage::Reset(QrpReset {
            table_length: v.num("table_length"),
            infinity: v.num("infinity"),
        })
    );
    assert_eq!(m.encode(), v.payloads[0]);
}

#[test]
fn patch_vector() {
    let reset = Vector::parse(&vector("reset.txt"));
    let v = Vector::parse(&vector("patch.txt"));
    let msgs: Vec<QrpMessage> = v
        .payloads
        .iter()
        .map(|p| QrpMessage::decode(p).expect("the vector decodes"))
        .collect();
    for (m, p) in msgs.iter().zip(&v.payloads) {
        assert_eq!(&m.encode(), p);
    }
    // Received after the RESET: the listed slots.
    let mut rx = QrpReceiver::new();
    assert_eq!(
        rx.handle(QrpMessage::decode(&reset.payloads[0]).unwrap()),
        Ok(None)
    );
    let mut table = None;
    for (n, m) in msgs.iter().enumerate() {
        let got = rx.handle(m.clone()).expect("the sequence applies");
        assert_eq!(got.is_some(), n == msgs.len() - 1);
        table = got;
    }
    let table = table.unwrap();
    let want: Vec<u32> = v
        .get("set_slots")
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(table.set_slots().collect::<Vec<_>>(), want);
    // The listed names give that table, and our encoder the same entries (compared
    // inflated: another zlib may pick other bytes).
    let names: Vec<&str> = v.get("names").split(" | ").collect();
    let built = QueryRoutingTable::from_keywords(name_words(names), v.num("bits"));
    assert_eq!(built, table);
    let ours = table_update(
        &built,
        None,
        v.num("infinity"),
        v.num("entry_bits"),
        v.num("chunk_bytes"),
    );
    assert_eq!(ours.len(), msgs.len() + 1);
    assert_eq!(ours[0].encode(), reset.payloads[0]);
    let stream = |ms: &[QrpMessage]| -> Vec<u8> {
        let z: Vec<u8> = ms
            .iter()
            .filter_map(|m| match m {
                QrpMessage::Patch(p) => Some(p.data.clone()),
                QrpMessage::Reset(_) => None,
            })
            .flatten()
            .collect();
        inflate_patch(&z, 1 << 16).expect("inflates")
    };
    assert_eq!(stream(&ours), stream(&msgs));
}

const WORDS: [&str; 24] = [
    "linux",
    "debian",
    "ubuntu",
    "netinst",
    "amd64",
    "beatles",
    "abbey",
    "road",
    "yellow",
    "submarine",
    "mozart",
    "requiem",
    "symphony",
    "café",
    "straße",
    "ænima",
    "tool",
    "live",
    "concert",
    "1969",
    "remaster",
    "edition",
    "complete",
    "works",
];

fn random_name(rng: &mut ChaCha8Rng) -> String {
    let n = rng.gen_range(1..5);
    let words: Vec<&str> = WORDS.choose_multiple(rng, n).copied().collect();
    let sep = [" ", "-", "_", "."].choose(rng).unwrap();
    format!(
        "{}.{}",
        words.join(sep),
        ["mp3", "iso", "flac"].choose(rng).unwrap()
    )
}

/// Property: whatever the library matches by whole word or word prefix (3 characters or
/// more) routes to a table built from the names; words absent from every name do not
/// (unless their slot collides, which the test checks rather than assumes).
#[test]
fn tables_route_what_the_library_matches() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut collisions, mut absent_checked) = (0, 0);
    for round in 0..40 {
        let names: Vec<String> = (0..rng.gen_range(1..8))
            .map(|_| random_name(&mut rng))
            .collect();
        let bits = [10, 13, DEFAULT_TABLE_BITS][round % 3];
        let table = QueryRoutingTable::from_keywords(name_words(names.iter().map(|s| &**s)), bits);
        for _ in 0..30 {
            let name = names.choose(&mut rng).unwrap();
            let present: Vec<&str> = WORDS
                .iter()
                .copied()
                .filter(|w| Pattern::parse(w).unwrap().matches_name(name))
                .collect();
            let count = rng.gen_range(1..=present.len());
            let chosen: Vec<&str> = present.choose_multiple(&mut rng, count).copied().collect();
            let picked: Vec<String> = chosen
                .iter()
                .map(|w| {
                    let chars: Vec<char> = w.chars().collect();
                    let keep = rng.gen_range(3.min(chars.len())..=chars.len());
                    let mut s: String = chars[..keep].iter().collect();
                    if rng.gen_bool(0.3) {
                        s = s.to_uppercase();
                    }
                    if rng.gen_bool(0.2) {
                        s.push('*');
                    }
                    s
                })
                .collect();
            let text = picked.join(" ");
            let pattern = Pattern::parse(&text).unwrap();
            assert!(pattern.matches_name(name), "{text:?} should match {name:?}");
            let keys = query_keys(&Query::new(&text));
            assert!(table.may_route(&keys), "{text:?} ({name:?}) should route");
        }
        let absent: Vec<&str> = WORDS
            .iter()
            .copied()
            .filter(|w| {
                !names
                    .iter()
                    .any(|n| Pattern::parse(w).unwrap().matches_name(n))
            })
            .collect();
        // Slots the table should hold, computed apart from the table.
        let held: HashSet<u32> = name_words(names.iter().map(|s| &**s))
            .iter()
            .map(|w| qrp_hash(w, bits))
            .collect();
        for w in absent {
            let keys = query_keys(&Query::new(w));
            let collides = held.contains(&qrp_hash(&fold(w), bits));
            collisions += usize::from(collides);
            absent_checked += 1;
            assert_eq!(table.may_route(&keys), collides, "{w:?} in {names:?}");
        }
    }
    assert!(absent_checked > 200, "{absent_checked}");
    assert!(
        collisions * 10 < absent_checked,
        "{collisions} of {absent_checked} collide"
    );
}

fn receive_all(rx: &mut QrpReceiver, msgs: Vec<QrpMessage>) -> Option<QueryRoutingTable> {
    let mut last = None;
    for m in msgs {
        // Every message crosses the wire.
        let m = QrpMessage::decode(&m.encode()).expect("our messages decode");
        last = rx.handle(m).expect("our messages apply");
    }
    last
}

#[test]
fn updates_round_trip_through_the_receiver() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for round in 0..24 {
        let opts = PatchOptions {
            infinity: [7, 2][round % 2],
            entry_bits: [1, 4][(round / 2) % 2],
            chunk_bytes: [16, 512][(round / 4) % 2],
            compress: round % 8 < 4,
        };
        let bits = rng.gen_range(8..=16);
        let mut rx = QrpReceiver::new();
        let mut old: Option<QueryRoutingTable> = None;
        for _ in 0..3 {
            let names: Vec<String> = (0..rng.gen_range(0..20))
                .map(|_| random_name(&mut rng))
                .collect();
            let new =
                QueryRoutingTable::from_keywords(name_words(names.iter().map(|s| &**s)), bits);
            let msgs = table_update_with(&new, old.as_ref(), opts);
            if old.as_ref() == Some(&new) {
                assert!(msgs.is_empty());
                continue;
            }
            assert_eq!(
                matches!(msgs[0], QrpMessage::Reset(_)),
                old.is_none(),
                "{opts:?}"
            );
            let patches = msgs
                .iter()
                .filter(|m| matches!(m, QrpMessage::Patch(_)))
                .count();
            if opts.chunk_bytes == 16 && opts.compress && new.set_count() > 50 {
                assert!(patches > 1, "several chunks expected");
            }
            assert_eq!(receive_all(&mut rx, msgs).as_ref(), Some(&new), "{opts:?}");
            old = Some(new);
        }
        // A resize sends a RESET and the receiver follows.
        let bigger = QueryRoutingTable::from_keywords(["resize"], bits + 1);
        let msgs = table_update_with(&bigger, old.as_ref(), opts);
        assert!(matches!(msgs[0], QrpMessage::Reset(_)));
        assert_eq!(receive_all(&mut rx, msgs), Some(bigger));
    }
}

fn sequence() -> Vec<Vec<u8>> {
    let t = QueryRoutingTable::from_keywords(name_words(["Abbey Road.flac", "linux.iso"]), 12);
    table_update(&t, None, 7, 4, 24)
        .iter()
        .map(QrpMessage::encode)
        .collect()
}

/// Truncated, flipped and reordered messages: typed errors, never a panic; whatever a
/// receiver accepts from garbage is a table of an allowed size.
#[test]
fn hostile_streams_are_errors_not_panics() {
    let seq = sequence();
    assert!(seq.len() > 3);
    for msg in &seq {
        for cut in 0..msg.len() {
            let r = QrpMessage::decode(&msg[..cut]);
            if msg[0] == 0 || cut <= 5 {
                assert!(matches!(r, Err(QrpError::Truncated { .. })), "{cut}: {r:?}");
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for _ in 0..3000 {
        let mut msgs = seq.clone();
        match rng.gen_range(0..4) {
            0 => {
                let m = rng.gen_range(0..msgs.len());
                let i = rng.gen_range(0..msgs[m].len());
                msgs[m][i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let (a, b) = (rng.gen_range(1..seq.len()), rng.gen_range(1..seq.len()));
                msgs.swap(a, b);
            }
            2 => {
                msgs.remove(rng.gen_range(0..msgs.len()));
            }
            _ => {
                let m = rng.gen_range(1..msgs.len());
                let len = rng.gen_range(6..40);
                msgs[m].truncate(5);
                msgs[m].extend((0..len).map(|_| rng.gen::<u8>()));
            }
        }
        let mut rx = QrpReceiver::new();
        for bytes in msgs {
            let Ok(m) = QrpMessage::decode(&bytes) else {
                continue;
            };
            if let Ok(Some(t)) = rx.handle(m) {
                assert!(t.slots() >= 8 && t.slots() <= 1 << 21);
            }
        }
    }
}

#[test]
fn hostile_sequence_cases() {
    let seq: Vec<QrpMessage> = sequence()
        .iter()
        .map(|b| QrpMessage::decode(b).unwrap())
        .collect();
    // A PATCH before any RESET.
    assert_eq!(
        QrpReceiver::new().handle(seq[1].clone()),
        Err(QrpError::PatchBeforeReset)
    );
    // Out of order.
    let mut rx = QrpReceiver::new();
    rx.handle(seq[0].clone()).unwrap();
    assert_eq!(
        rx.handle(seq[2].clone()),
        Err(QrpError::OutOfOrder {
            got: 2,
            expected: 1
        })
    );
    // A huge table is refused before anything is allocated.
    let huge = [0x00, 0x00, 0x00, 0x00, 0x40, 0x07]; // 2^30 slots
    assert_eq!(
        QrpMessage::decode(&huge),
        Err(QrpError::TableLength(1 << 30))
    );
    let direct = QrpMessage::Reset(QrpReset {
        table_length: 1 << 30,
        infinity: 7,
    });
    assert_eq!(
        QrpReceiver::new().handle(direct),
        Err(QrpError::TableLength(1 << 30))
    );
    // Bad zlib in the middle of a good sequence.
    let mut rx = QrpReceiver::new();
    rx.handle(seq[0].clone()).unwrap();
    rx.handle(seq[1].clone()).unwrap();
    let QrpMessage::Patch(p) = &seq[2] else {
        panic!("a patch")
    };
    let bad = QrpMessage::Patch(QrpPatch {
        data: vec![0xFF; p.data.len()],
        ..p.clone()
    });
    // Garbage inside a deflate block may decode to something: the error comes at the
    // latest with the Adler-32 check at the stream's end, or as an overflow.
    let mut results = vec![rx.handle(bad)];
    for m in &seq[3..] {
        results.push(rx.handle(m.clone()));
    }
    assert!(results.iter().any(Result::is_err), "{results:?}");
    assert!(
        results.iter().all(|r| !matches!(r, Ok(Some(_)))),
        "{results:?}"
    );
    // A bad zlib header is caught at once.
    let mut rx = QrpReceiver::new();
    rx.handle(seq[0].clone()).unwrap();
    let QrpMessage::Patch(p) = &seq[1] else {
        panic!("a patch")
    };
    let bad = QrpMessage::Patch(QrpPatch {
        data: vec![0xFF; p.data.len()],
        ..p.clone()
    });
    assert!(matches!(rx.handle(bad), Err(QrpError::Zlib(_))));
    // A bomb against a 4096-slot 4-bit table (2 KiB).
    let bomb = servent::proto::qrp::compress_patch(&vec![0u8; 1 << 20]);
    let mut rx = QrpReceiver::new();
    rx.handle(seq[0].clone()).unwrap();
    let r = rx.handle(QrpMessage::Patch(QrpPatch {
        seq_no: 1,
        seq_size: 1,
        compressor: 1,
        entry_bits: 4,
        data: bomb,
    }));
    assert_eq!(r, Err(QrpError::PatchOverflow { slots: 4096 }));
}

#[test]
fn matchers_give_table_words_and_keys() {
    let list = ListMatcher(vec![LocalFile {
        index: 1,
        size: 10,
        name: "Abbey Road.FLAC".into(),
        sha1_urn: None,
    }]);
    let words = list.qrp_words();
    for w in ["abb", "abbe", "abbey", "roa", "road", "fla", "flac"] {
        assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
    }
    assert_eq!(words.len(), 7);
    let table = QueryRoutingTable::from_keywords(&words, 12);
    assert!(table.may_route(&list.query_keys(&Query::new("ABBEY roa"))));
    assert!(NoMatcher.qrp_words().is_empty());
    assert_eq!(
        NoMatcher.query_keys(&Query::new("abbey")),
        QueryKeys::from_query(&Query::new("abbey"))
    );
}
