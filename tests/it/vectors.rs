//! Descriptor test vectors: every `protocol/vectors/*.txt` but the handshake transcripts
//! must frame as one whole descriptor, decode to every field it lists and re-encode to the
//! same bytes; a walker tag (`RW`) or walker check message in it must decode to its listed
//! fields and re-encode to its own bytes too. The file format and the field paths are
//! specified in `protocol/README.md`.

use std::fmt::Display;
use std::fs;
use std::path::{Path, PathBuf};

use servent::proto::frame::{check, parse, Check};
use servent::proto::ggep::GgepBlock;
use servent::proto::limits::HEADER_LEN;
use servent::proto::payload::query::{
    QUERY_FLAG_FIREWALLED, QUERY_FLAG_GGEP_H, QUERY_FLAG_LEAF_GUIDED, QUERY_FLAG_MARKER,
    QUERY_FLAG_OOB, QUERY_FLAG_XML,
};
use servent::proto::payload::query_hit::{
    FLAG_BUSY, FLAG_GGEP, FLAG_PUSH, FLAG_SPEED_MEASURED, FLAG_UPLOADED,
};
use servent::proto::payload::{Extension, Query};
use servent::proto::walker::{CheckMessage, WalkerTag};
use servent::proto::{Descriptor, Payload, PayloadType, WalkerError};

/// Vectors that must exist (more are welcome).
const REQUIRED: [&str; 12] = [
    "ping.txt",
    "pong.txt",
    "pong-ggep.txt",
    "query.txt",
    "query-hit.txt",
    "query-hit-legacy.txt",
    "push.txt",
    "bye.txt",
    "vendor.txt",
    "walker-query.txt",
    "walker-check-request.txt",
    "walker-check-verdict.txt",
];

/// Fields every vector must list.
const ALWAYS: [&str; 5] = ["guid", "type", "ttl", "hops", "payload_len"];

struct Vector {
    bytes: Vec<u8>,
    fields: Vec<(String, String)>,
}

fn read_vector(text: &str) -> Result<Vector, String> {
    let mut v = Vector {
        bytes: Vec::new(),
        fields: Vec::new(),
    };
    let mut in_hex = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let err = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "hex:" {
            if in_hex || !v.bytes.is_empty() {
                return Err(err("second hex section"));
            }
            in_hex = true;
        } else if let Some((path, value)) = line.split_once('=') {
            in_hex = false;
            let path = path.trim().to_owned();
            if v.fields.iter().any(|(p, _)| *p == path) {
                return Err(err("field listed twice"));
            }
            v.fields.push((path, value.trim().to_owned()));
        } else if in_hex {
            let data = line.split('#').next().unwrap_or_default();
            for tok in data.split_whitespace() {
                match u8::from_str_radix(tok, 16) {
                    Ok(b) if tok.len() == 2 => v.bytes.push(b),
                    _ => return Err(err("not a two-digit hex byte")),
                }
            }
        } else {
            return Err(err("neither comment, hex nor field"));
        }
    }
    Ok(v)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A descriptor as (dotted path, value) pairs.
#[derive(Default)]
struct Flat(Vec<(String, String)>);

impl Flat {
    fn put(&mut self, path: impl Into<String>, value: impl Display) {
        self.0.push((path.into(), value.to_string()));
    }

    fn get(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.as_str())
    }

    fn ggep(&mut self, prefix: &str, block: Option<&GgepBlock>) {
        let p = format!("{prefix}.ggep");
        match block {
            None => self.put(p, "none"),
            Some(GgepBlock::Raw(bytes)) => {
                self.put(&p, "raw");
                self.put(format!("{p}.raw"), hex(bytes));
            }
            Some(GgepBlock::Parsed(exts)) => {
                self.put(&p, "parsed");
                self.put(format!("{p}.count"), exts.len());
                for ext in exts {
                    let e = format!("{p}.{}", ext.id);
                    if self.get(&e).is_some() {
                        continue; // a repeated ID: only the first is listed
                    }
                    match ext.decoded() {
                        Ok(data) => self.put(&e, hex(&data)),
                        Err(err) => self.put(&e, format!("error: {err}")),
                    }
                    let encoding = match (ext.cobs, ext.deflate) {
                        (false, false) => "plain",
                        (true, false) => "cobs",
                        (false, true) => "deflate",
                        (true, true) => "cobs+deflate",
                    };
                    self.put(format!("{e}.encoding"), encoding);
                    self.put(format!("{e}.wire"), hex(&ext.data));
                }
            }
        }
    }

    /// A Query's walker tag under `query.walker`.
    fn walker(&mut self, q: &Query) {
        let p = "query.walker";
        match WalkerTag::find(q) {
            None => self.put(p, "none"),
            Some(Err(e)) => self.put(p, format!("error: {e}")),
            Some(Ok(t)) => {
                self.put(p, "tag");
                self.put(format!("{p}.number"), t.walker);
                self.put(format!("{p}.check_every"), t.check_every);
                self.put(format!("{p}.steps"), t.steps);
                self.put(format!("{p}.steps_left"), t.steps_left);
                self.put(format!("{p}.sender_path"), t.sender_path);
                self.put(format!("{p}.remember"), t.remember_neighbours);
                self.put(format!("{p}.look_ahead"), t.look_ahead);
                self.put(format!("{p}.degree_bias"), t.degree_bias);
            }
        }
    }

    /// A vendor message read as a walker check, under `check`.
    fn check(&mut self, bytes: &[u8]) {
        match CheckMessage::decode(bytes) {
            Err(WalkerError::NotACheck) => self.put("check", "none"),
            Err(e) => self.put("check", format!("error: {e}")),
            Ok(CheckMessage::Request {
                walker,
                steps,
                path,
            }) => {
                self.put("check", "request");
                self.put("check.walker", walker);
                self.put("check.steps", steps);
                self.put("check.path", path);
            }
            Ok(CheckMessage::Verdict {
                walker,
                go_on,
                hits,
            }) => {
                self.put("check", "verdict");
                self.put("check.walker", walker);
                self.put("check.go_on", go_on);
                self.put("check.hits", hits);
            }
        }
    }

    fn extensions(&mut self, prefix: &str, exts: &[Extension]) {
        self.put(format!("{prefix}.ext.count"), exts.len());
        for (i, ext) in exts.iter().enumerate() {
            let p = format!("{prefix}.ext.{i}");
            match ext {
                Extension::Urn(urn) => self.put(p, urn),
                Extension::Ggep(block) => {
                    self.put(&p, "ggep");
                    self.ggep(&p, Some(block));
                }
                Extension::Other(bytes) => {
                    self.put(&p, "other");
                    self.put(format!("{p}.other"), hex(bytes));
                }
            }
        }
    }
}

fn flatten(d: &Descriptor) -> Flat {
    let mut f = Flat::default();
    let len = d.rebuilt().to_bytes().map_or(0, |b| b.len() - HEADER_LEN);
    f.put("guid", d.guid);
    f.put("type", d.payload_type().name());
    f.put("ttl", d.ttl);
    f.put("hops", d.hops);
    f.put("payload_len", len);
    match &*d.payload {
        Payload::Ping(p) => f.ggep("ping", p.ggep.as_ref()),
        Payload::Pong(p) => {
            f.put("pong.port", p.port);
            f.put("pong.ip", p.ip);
            f.put("pong.files", p.files_shared);
            f.put("pong.kbytes", p.kbytes_shared);
            f.ggep("pong", p.ggep.as_ref());
        }
        Payload::Bye(b) => {
            f.put("bye.code", b.code);
            f.put("bye.reason", &b.reason);
        }
        Payload::Push(p) => {
            f.put("push.servent_id", p.servent_id);
            f.put("push.file_index", p.file_index);
            f.put("push.ip", p.ip);
            f.put("push.port", p.port);
            f.ggep("push", p.ggep.as_ref());
        }
        Payload::Query(q) => {
            f.put("query.flags", format!("0x{:04X}", q.flags));
            for (name, bit) in [
                ("marker", QUERY_FLAG_MARKER),
                ("firewalled", QUERY_FLAG_FIREWALLED),
                ("xml", QUERY_FLAG_XML),
                ("leaf_guided", QUERY_FLAG_LEAF_GUIDED),
                ("ggep_h", QUERY_FLAG_GGEP_H),
                ("oob", QUERY_FLAG_OOB),
            ] {
                f.put(format!("query.flag.{name}"), q.flags & bit != 0);
            }
            f.put("query.max_hits", q.max_hits().unwrap_or(0));
            f.put("query.text", q.text_lossy());
            f.extensions("query", &q.extensions);
            f.walker(q);
        }
        Payload::QueryHit(h) => {
            f.put("hit.count", h.results.len());
            f.put("hit.port", h.port);
            f.put("hit.ip", h.ip);
            f.put("hit.speed", h.speed);
            for (i, r) in h.results.iter().enumerate() {
                let p = format!("hit.result.{i}");
                f.put(format!("{p}.index"), r.index);
                f.put(format!("{p}.size"), r.size);
                f.put(format!("{p}.name"), r.name_lossy());
                f.extensions(&p, &r.extensions);
                f.put(
                    format!("{p}.sha1"),
                    r.sha1_urn().as_deref().unwrap_or("none"),
                );
            }
            match &h.trailer {
                None => f.put("hit.trailer", "none"),
                Some(t) => {
                    f.put("hit.trailer", "present");
                    f.put("hit.trailer.vendor", String::from_utf8_lossy(&t.vendor));
                    f.put("hit.trailer.open_data", hex(&t.open_data));
                    for (name, bit) in [
                        ("push", FLAG_PUSH),
                        ("busy", FLAG_BUSY),
                        ("uploaded", FLAG_UPLOADED),
                        ("speed_measured", FLAG_SPEED_MEASURED),
                        ("ggep", FLAG_GGEP),
                    ] {
                        let value = t
                            .flag(bit)
                            .map_or("unset", |on| if on { "true" } else { "false" });
                        f.put(format!("hit.trailer.flag.{name}"), value);
                    }
                    f.ggep("hit.trailer", t.ggep.as_ref());
                    f.put("hit.trailer.private", hex(&t.private));
                }
            }
            f.put("hit.servent_id", h.servent_id);
        }
        Payload::Opaque { kind, bytes } => {
            f.put("opaque.len", bytes.len());
            f.put("opaque.bytes", hex(bytes));
            if *kind == PayloadType::Vendor {
                f.check(bytes);
            }
        }
    }
    f
}

/// A walker tag or check message the descriptor holds, re-encoded: the descriptor's bytes
/// again (the tag written back in place into its Query; the check message as the whole
/// vendor payload). `None` when it holds neither, or one that does not decode.
fn walker_reencoded(d: &Descriptor) -> Option<Vec<u8>> {
    let payload = match &*d.payload {
        Payload::Query(q) => Payload::Query(WalkerTag::find(q)?.ok()?.apply(q)),
        Payload::Opaque { kind, bytes } if *kind == PayloadType::Vendor => Payload::Opaque {
            kind: *kind,
            bytes: CheckMessage::decode(bytes).ok()?.encode(),
        },
        _ => return None,
    };
    Descriptor::new(d.guid, d.ttl, d.hops, payload)
        .to_bytes()
        .ok()
}

/// Checks one vector; returns its problems.
fn check_vector(text: &str) -> Vec<String> {
    let v = match read_vector(text) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    let total = v.bytes.len();
    if check(&v.bytes) != Ok(Check::Complete(total)) {
        errors.push(format!(
            "check says {:?}, not Complete({total})",
            check(&v.bytes)
        ));
    }
    if let Some(n) = (0..total).find(|&n| check(&v.bytes[..n]) != Ok(Check::Incomplete)) {
        errors.push(format!("check of the first {n} bytes is not Incomplete"));
    }
    let d = match parse(&v.bytes) {
        Ok(d) => d,
        Err(e) => {
            errors.push(format!("does not parse: {e}"));
            return errors;
        }
    };
    match d.rebuilt().to_bytes() {
        Ok(b) if b == v.bytes => {}
        Ok(b) => errors.push(format!("re-encodes to {}", hex(&b))),
        Err(e) => errors.push(format!("does not re-encode: {e}")),
    }
    if let Some(b) = walker_reencoded(&d) {
        if b != v.bytes {
            errors.push(format!("walker tag or check re-encodes to {}", hex(&b)));
        }
    }
    let flat = flatten(&d);
    for path in ALWAYS {
        if !v.fields.iter().any(|(p, _)| p == path) {
            errors.push(format!("field {path} is not listed"));
        }
    }
    for (path, want) in &v.fields {
        match flat.get(path) {
            None => errors.push(format!("unknown field path {path}")),
            Some(got) if got != want => errors.push(format!("{path} = {got}, vector says {want}")),
            Some(_) => {}
        }
    }
    errors
}

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/vectors");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".txt") && !name.starts_with("handshake-")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn descriptor_vectors_decode_and_reencode() {
    let files = vector_files();
    let names: Vec<&str> = files
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .collect();
    for required in REQUIRED {
        assert!(names.contains(&required), "missing vector {required}");
    }
    assert!(files.len() >= REQUIRED.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).expect("vector is readable UTF-8");
        for e in check_vector(&text) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vector_checker_rejects_typos() {
    let good = "hex:\n9F 3C 1A 2B 4D 5E 6F 70 FF 11 22 33 44 55 AA 00\n00 01 00 00 00 00 00\n\
                guid = 9F3C1A2B4D5E6F70FF1122334455AA00\ntype = ping\nttl = 1\nhops = 0\n\
                payload_len = 0\nping.ggep = none\n";
    assert_eq!(check_vector(good), Vec::<String>::new());
    for (from, to) in [
        ("ping.ggep = none", "ping.gep = none"),
        ("ttl = 1", "ttl = 2"),
        ("00 01 00", "00 01 01"),
        ("hops = 0\n", ""),
    ] {
        assert!(!check_vector(&good.replace(from, to)).is_empty(), "{to:?}");
    }
}

#[test]
fn walker_fields_are_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/vectors");
    for (file, from, to) in [
        (
            "walker-query-first-step.txt",
            "query.walker.steps = 1",
            "query.walker.steps = 2",
        ),
        (
            "walker-query-first-step.txt",
            "FF 03 00 00 80",
            "FF 03 00 00 81",
        ),
        (
            "walker-query-bad-flags.txt",
            "query.walker = error",
            "query.walker = tag",
        ),
        (
            "walker-query-look-ahead.txt",
            "query.walker.look_ahead = true",
            "query.walker.look_ahead = false",
        ),
        (
            "walker-query-look-ahead.txt",
            "query.walker.degree_bias = true",
            "query.walker.degree_bias = false",
        ),
        (
            "walker-check-verdict-go-on.txt",
            "check.go_on = true",
            "check.go_on = false",
        ),
        (
            "walker-check-request.txt",
            "check = request",
            "check = verdict",
        ),
        ("vendor.txt", "opaque.len = 34", "check = request"),
    ] {
        let text = fs::read_to_string(dir.join(file)).expect("vector is readable UTF-8");
        assert_eq!(check_vector(&text), Vec::<String>::new(), "{file}");
        assert!(text.contains(from), "{file}: {from:?}");
        assert!(
            !check_vector(&text.replace(from, to)).is_empty(),
            "{file}: {to:?} accepted"
        );
    }
}
