//! Bytes captured from a real gtk-gnutella (protocol/vectors/gtkg/, each file's header says
//! how): its handshake blocks parse with our handshake codec to the facts listed
//! (HANDSHAKE-FORMAT.md), and its descriptors (QueryHits with GGEP `H`, QRP RESET and PATCH,
//! ...) frame as one descriptor each and decode to the header and payload fields listed.

use std::fs;
use std::path::{Path, PathBuf};

use servent::proto::frame::{check, parse, Check};
use servent::proto::handshake::{self, HandshakeCheck, HandshakeMessage, StartLine};
use servent::proto::limits::HEADER_LEN;
use servent::proto::{Descriptor, Payload};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/vectors/gtkg")
}

/// The `.txt` files of the folder whose name starts (or not) with `handshake-`.
fn files(handshakes: bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir())
        .expect("protocol/vectors/gtkg")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".txt") && name.starts_with("handshake-") == handshakes
        })
        .collect();
    v.sort();
    v
}

/// A descriptor vector's `path = value` fields.
type Fields = Vec<(String, String)>;

/// A descriptor vector: its bytes (`hex:` section) and its fields.
fn read_descriptor_vector(text: &str) -> Result<(Vec<u8>, Fields), String> {
    let (mut bytes, mut fields) = (Vec::new(), Vec::new());
    let mut in_hex = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let at = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "hex:" {
            in_hex = true;
        } else if let Some((path, value)) = line.split_once('=') {
            in_hex = false;
            fields.push((path.trim().to_owned(), value.trim().to_owned()));
        } else if in_hex {
            for tok in line
                .split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace()
            {
                match u8::from_str_radix(tok, 16) {
                    Ok(b) if tok.len() == 2 => bytes.push(b),
                    _ => return Err(at("not a two-digit hex byte")),
                }
            }
        } else {
            return Err(at("neither comment, hex nor field"));
        }
    }
    Ok((bytes, fields))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The value a field path names in a decoded descriptor (`None`: unknown path). QRP
/// messages are still opaque to the codec: their header fields are read here by offset
/// (RESET: variant 0, table length u32 LE, infinity; PATCH: variant 1, sequence number,
/// sequence size, compressor, entry bits).
fn field(d: &Descriptor, path: &str) -> Option<String> {
    let len = d.rebuilt().to_bytes().map_or(0, |b| b.len() - HEADER_LEN);
    let s = |v: &dyn std::fmt::Display| Some(v.to_string());
    match (path, &*d.payload) {
        ("guid", _) => s(&d.guid),
        ("type", _) => s(&d.payload_type().name()),
        ("ttl", _) => s(&d.ttl),
        ("hops", _) => s(&d.hops),
        ("payload_len", _) => s(&len),
        ("hit.count", Payload::QueryHit(h)) => s(&h.results.len()),
        ("hit.port", Payload::QueryHit(h)) => s(&h.port),
        ("hit.ip", Payload::QueryHit(h)) => s(&h.ip),
        ("hit.speed", Payload::QueryHit(h)) => s(&h.speed),
        ("hit.servent_id", Payload::QueryHit(h)) => s(&h.servent_id),
        ("hit.trailer.vendor", Payload::QueryHit(h)) => h
            .trailer
            .as_ref()
            .map(|t| String::from_utf8_lossy(&t.vendor).into_owned()),
        (p, Payload::QueryHit(h)) if p.starts_with("hit.result.") => {
            let (i, what) = p["hit.result.".len()..].split_once('.')?;
            let r = h.results.get(i.parse::<usize>().ok()?)?;
            match what {
                "index" => s(&r.index),
                "size" => s(&r.size),
                "name" => s(&r.name_lossy()),
                "ext.count" => s(&r.extensions.len()),
                _ => None,
            }
        }
        ("query.text", Payload::Query(q)) => s(&q.text_lossy()),
        ("query.flags", Payload::Query(q)) => Some(format!("0x{:04X}", q.flags)),
        ("opaque.len", Payload::Opaque { bytes, .. }) => s(&bytes.len()),
        (p, Payload::Opaque { bytes, .. }) if p.starts_with("qrp.") => {
            let variant = *bytes.first()?;
            match (p, variant) {
                ("qrp.variant", 0) => s(&"reset"),
                ("qrp.variant", 1) => s(&"patch"),
                ("qrp.reset.table_len", 0) => s(&le32(bytes, 1)?),
                ("qrp.reset.infinity", 0) => s(bytes.get(5)?),
                ("qrp.patch.seq_no", 1) => s(bytes.get(1)?),
                ("qrp.patch.seq_size", 1) => s(bytes.get(2)?),
                ("qrp.patch.compressor", 1) => s(bytes.get(3)?),
                ("qrp.patch.entry_bits", 1) => s(bytes.get(4)?),
                ("qrp.patch.data_len", 1) => s(&bytes.len().checked_sub(5)?),
                _ => None,
            }
        }
        _ => None,
    }
}

fn check_descriptor_vector(text: &str) -> Vec<String> {
    let (bytes, fields) = match read_descriptor_vector(text) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    let total = bytes.len();
    if check(&bytes) != Ok(Check::Complete(total)) {
        errors.push(format!(
            "check says {:?}, not Complete({total})",
            check(&bytes)
        ));
    }
    let d = match parse(&bytes) {
        Ok(d) => d,
        Err(e) => return vec![format!("does not parse: {e}")],
    };
    for path in ["guid", "type", "ttl", "hops", "payload_len"] {
        if !fields.iter().any(|(p, _)| p == path) {
            errors.push(format!("field {path} is not listed"));
        }
    }
    for (path, want) in &fields {
        match field(&d, path) {
            None => errors.push(format!("unknown field path {path}")),
            Some(got) if got != *want => errors.push(format!("{path} = {got}, vector says {want}")),
            Some(_) => {}
        }
    }
    errors
}

#[test]
fn gtkg_descriptors_decode_to_their_fields() {
    let files = files(false);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in ["query-hit-ggep-h.txt", "qrp-reset.txt", "qrp-patch.txt"] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
    let mut failures = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).expect("vector is UTF-8");
        for e in check_descriptor_vector(&text) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gtkg_descriptor_checker_rejects_wrong_fields() {
    let path = dir().join("query-hit-ggep-h.txt");
    let good = fs::read_to_string(&path).expect("query-hit-ggep-h.txt");
    assert_eq!(check_descriptor_vector(&good), Vec::<String>::new());
    for (from, to) in [
        ("type = query-hit", "type = query"),
        ("hit.count = ", "hit.count = 9"),
        ("hit.trailer.vendor = GTKG", "hit.trailer.vendor = LIME"),
        ("hops = 0", "hops = 1"),
    ] {
        assert!(good.contains(from), "{from:?} not in the vector");
        assert!(
            !check_descriptor_vector(&good.replacen(from, to, 1)).is_empty(),
            "{to:?} accepted"
        );
    }
}

/// One handshake block of a transcript, with its facts.
struct Block {
    at: String,
    bytes: Vec<u8>,
    facts: Vec<String>,
}

fn load_handshake(path: &Path) -> Vec<Block> {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(path).unwrap();
    let (mut out, mut open): (Vec<Block>, Option<Block>) = (Vec::new(), None);
    for (n, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        } else if let Some(fact) = line.strip_prefix("= ") {
            assert!(open.is_none(), "{at}: fact inside a message");
            out.last_mut().expect(&at).facts.push(fact.to_owned());
        } else if line.starts_with(['>', '<']) {
            let rest = &line[1..];
            let block = open.get_or_insert_with(|| Block {
                at: at.clone(),
                bytes: Vec::new(),
                facts: Vec::new(),
            });
            if rest.is_empty() || rest == " " {
                block.bytes.extend_from_slice(b"\r\n");
                out.push(open.take().unwrap());
            } else {
                let text = rest.strip_prefix(' ').expect(&at);
                block.bytes.extend([text.as_bytes(), b"\r\n"].concat());
            }
        } else {
            panic!("{at}: unknown line {line:?}");
        }
    }
    assert!(open.is_none(), "{file}: last message has no empty line");
    out
}

fn fact_holds(msg: &HandshakeMessage, fact: &str) -> Result<(), String> {
    let (key, arg) = fact.split_once(' ').unwrap_or((fact, ""));
    let (name, value) = arg.split_once(' ').unwrap_or((arg, ""));
    let h = &msg.headers;
    let (got, want) = match key {
        "kind" => {
            let kind = match msg.start {
                StartLine::Connect { .. } => "connect",
                StartLine::Status { .. } => "status",
                StartLine::Ok04 => "ok04",
            };
            (kind.to_owned(), arg)
        }
        "version" => (msg.version().to_string(), arg),
        "code" => (msg.code().map_or("none".into(), |c| c.to_string()), arg),
        "headers" => (h.len().to_string(), arg),
        "header" => (h.get(name).unwrap_or("(absent)").to_owned(), value),
        "list" => (h.get_list(name).join(","), value),
        "absent" => (format!("{:?}", h.get(arg)), "None"),
        _ => return Err(format!("unknown fact {fact:?}")),
    };
    if got == want {
        Ok(())
    } else {
        Err(format!("{fact}: got {got:?}"))
    }
}

#[test]
fn gtkg_handshakes_parse_to_their_facts() {
    let files = files(true);
    assert!(
        files.len() >= 3,
        "gtk-gnutella handshake transcripts missing"
    );
    let mut failures = Vec::new();
    for path in &files {
        for b in load_handshake(path) {
            let len = b.bytes.len();
            if handshake::check(&b.bytes) != Ok(HandshakeCheck::Complete(len)) {
                failures.push(format!("{}: not one complete block", b.at));
                continue;
            }
            let msg = match handshake::parse(&b.bytes) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{}: {e}", b.at));
                    continue;
                }
            };
            if b.facts.is_empty() {
                failures.push(format!("{}: no facts", b.at));
            }
            for f in &b.facts {
                if let Err(e) = fact_holds(&msg, f) {
                    failures.push(format!("{}: {e}", b.at));
                }
            }
            // What we parse we can write again, to the same message.
            if handshake::parse(&msg.encode()).as_ref() != Ok(&msg) {
                failures.push(format!("{}: does not survive re-encoding", b.at));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gtkg_handshake_facts_are_checked() {
    let msg = handshake::parse(b"GNUTELLA CONNECT/0.6\r\nX-Ultrapeer: True\r\n\r\n").unwrap();
    assert_eq!(fact_holds(&msg, "header X-Ultrapeer True"), Ok(()));
    assert!(fact_holds(&msg, "header X-Ultrapeer False").is_err());
    assert!(fact_holds(&msg, "headers 2").is_err());
    assert!(fact_holds(&msg, "absent X-Ultrapeer").is_err());
    assert!(fact_holds(&msg, "kind status").is_err());
}

#[test]
fn hex_helper_is_upper_case() {
    assert_eq!(hex(&[0x0A, 0xFF]), "0AFF");
}

/// The descriptor a vector file holds, decoded.
fn descriptor(name: &str) -> Descriptor {
    let text = fs::read_to_string(dir().join(name)).expect("vector file");
    let (bytes, _) = read_descriptor_vector(&text).expect("vector");
    let Check::Complete(n) = check(&bytes).expect("frames") else {
        panic!("{name}: incomplete descriptor");
    };
    parse(&bytes[..n]).expect("decodes")
}

#[test]
fn gtkg_hits_carry_their_sha1_in_ggep_h_and_we_read_it() {
    for name in ["query-hit-ggep-h.txt", "query-hit-ggep-h-leaf.txt"] {
        let d = descriptor(name);
        let Payload::QueryHit(hit) = &*d.payload else {
            panic!("{name}: not a QueryHit");
        };
        let urns: Vec<Option<String>> = hit.results.iter().map(|r| r.sha1_urn()).collect();
        assert_eq!(
            urns,
            vec![Some("urn:sha1:2WZCPND2PY3CGJ6ZXOCJ2BRN3MZKCEF5".to_owned())],
            "{name}"
        );
    }
}

/// gtk-gnutella's table (as a leaf, from its RESET and PATCH) rebuilt by our receiver holds
/// exactly the slots our hash gives gtk-gnutella's words for its two files: every word of
/// the names, and prefixes down to 4 characters, at most 5 cut (its `unique_substr`). Our
/// own table for the same names is a superset (we keep prefixes down to 3 characters).
#[test]
fn gtkg_query_routing_table_is_the_one_we_compute_for_its_files() {
    use servent::core::matcher::{ListMatcher, LocalFile, QueryMatcher};
    use servent::core::qrp::{QrpReceiver, QueryKeys, QueryRoutingTable};
    use servent::proto::qrp::QrpMessage;
    let mut rx = QrpReceiver::new();
    let mut table = None;
    for name in ["qrp-reset.txt", "qrp-patch.txt"] {
        let d = descriptor(name);
        let Payload::Opaque { bytes, .. } = &*d.payload else {
            panic!("{name}: QRP is opaque to the codec");
        };
        let msg = QrpMessage::decode(bytes).expect("a valid QRP message");
        table = rx.handle(msg).expect("a valid sequence");
    }
    let theirs = table.expect("the PATCH completes the table");
    assert_eq!(theirs.slots(), 16384);
    // What gtk-gnutella shared when the table was captured.
    let names = ["g1 alpha interop.bin", "g1 charlie notes.txt"];
    let mut expected = QueryRoutingTable::new(14);
    for word in names
        .iter()
        .flat_map(|n| n.split(|c: char| !c.is_alphanumeric()))
    {
        let mut w = word.to_owned();
        for _cut in 0..=5 {
            expected.insert_word(&w);
            if w.len() <= 4 {
                break;
            }
            w.pop();
        }
    }
    let differ: Vec<u32> = (0..theirs.slots())
        .filter(|&s| theirs.slot(s) != expected.slot(s))
        .collect();
    assert!(differ.is_empty(), "slots that differ: {differ:?}");
    let files = names
        .iter()
        .map(|n| LocalFile {
            index: 1,
            size: 70_000,
            name: n.to_string(),
            sha1_urn: None,
        })
        .collect();
    let ours = QueryRoutingTable::from_keywords(ListMatcher(files).qrp_words().iter(), 14);
    let missing: Vec<u32> = theirs.set_slots().filter(|&s| !ours.slot(s)).collect();
    assert!(
        missing.is_empty(),
        "slots of theirs not in ours: {missing:?}"
    );
    for word in ["alpha", "interop", "charlie", "inter", "notes"] {
        assert!(
            theirs.may_route(&QueryKeys::from_canonical_text(word)),
            "{word}"
        );
    }
    assert!(!theirs.may_route(&QueryKeys::from_canonical_text("zebra")));
}
