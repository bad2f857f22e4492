//! The handshake codec against the transcripts in protocol/vectors (format:
//! protocol/vectors/HANDSHAKE-FORMAT.md), plus its limits and malformed input.

use servent::proto::handshake::*;
use servent::proto::limits::{MAX_HANDSHAKE_HEADERS, MAX_HANDSHAKE_LEN};

/// One message of a transcript: where it starts, its wire bytes and the facts it states.
struct Vector {
    at: String,
    bytes: Vec<u8>,
    /// Written as the encoder writes it: no continuation line, the encoder's line ending.
    canonical: bool,
    lf: bool,
    facts: Vec<String>,
}

/// Every message of every protocol/vectors/handshake-*.txt, in file order.
fn vectors() -> Vec<Vector> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/vectors");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("protocol/vectors")
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("handshake-") && name.ends_with(".txt")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "handshake vectors missing in {dir}");
    let vectors: Vec<_> = files.iter().flat_map(|path| load(path)).collect();
    assert!(vectors.iter().all(|v| !v.facts.is_empty()));
    vectors
}

fn load(path: &std::path::Path) -> Vec<Vector> {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let (mut out, mut open, mut lf) = (Vec::<Vector>::new(), None, false);
    for (n, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        } else if let Some(eol) = line.strip_prefix("@eol ") {
            lf = match eol {
                "lf" => true,
                "crlf" => false,
                _ => panic!("{at}: unknown line ending {eol:?}"),
            };
        } else if let Some(fact) = line.strip_prefix("= ") {
            assert!(open.is_none(), "{at}: fact inside a message");
            out.last_mut().expect(&at).facts.push(fact.to_owned());
        } else if line.starts_with(['>', '<']) {
            let (dir, rest) = line.split_at(1);
            let (vector, msg_dir) = open.get_or_insert_with(|| {
                let vector = Vector {
                    at: at.clone(),
                    bytes: Vec::new(),
                    canonical: true,
                    lf,
                    facts: Vec::new(),
                };
                (vector, dir.to_owned())
            });
            assert_eq!(msg_dir, dir, "{at}: direction changes inside a message");
            let eol: &[u8] = if lf { b"\n" } else { b"\r\n" };
            if rest.is_empty() || rest == " " {
                vector.bytes.extend_from_slice(eol);
                out.push(open.take().unwrap().0);
            } else {
                let text = rest.strip_prefix(' ').expect(&at);
                vector.canonical &= !text.starts_with([' ', '\t']);
                vector.bytes.extend([text.as_bytes(), eol].concat());
            }
        } else {
            panic!("{at}: unknown line {line:?}");
        }
    }
    assert!(open.is_none(), "{file}: last message has no empty line");
    out
}

fn assert_fact(msg: &HandshakeMessage, fact: &str, at: &str) {
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
        "reason" => match &msg.start {
            StartLine::Status { reason, .. } => (reason.clone(), arg),
            other => panic!("{at}: reason of {other:?}"),
        },
        "headers" => (h.len().to_string(), arg),
        "header" => (h.get(name).expect(fact).to_owned(), value),
        "list" => (h.get_list(name).join(","), value),
        "absent" => (format!("{:?}", h.get(arg)), "None"),
        _ => panic!("{at}: unknown fact {fact:?}"),
    };
    assert_eq!(got, want, "{at}: {fact}");
}

#[test]
fn vectors_decode_and_encode() {
    for v in vectors() {
        let at = &v.at;
        let len = v.bytes.len();
        assert_eq!(check(&v.bytes), Ok(HandshakeCheck::Complete(len)), "{at}");
        // A Ping header right behind the block belongs to the descriptor stream.
        let mut more = v.bytes.clone();
        more.extend_from_slice(&[0xAB; 16]);
        more.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(check(&more), Ok(HandshakeCheck::Complete(len)), "{at}");
        assert_eq!(parse(&more), Err(HandshakeError::TrailingBytes(23)), "{at}");

        let msg = parse(&v.bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
        for fact in &v.facts {
            assert_fact(&msg, fact, at);
        }
        let encoded = msg.encode();
        if v.canonical && v.lf == msg.is_04() {
            assert_eq!(
                String::from_utf8_lossy(&encoded),
                String::from_utf8_lossy(&v.bytes),
                "{at}"
            );
        } else {
            assert_eq!(parse(&encoded).as_ref(), Ok(&msg), "{at}");
        }
    }
}

#[test]
fn every_split_point_is_incomplete() {
    for v in vectors() {
        for cut in 0..v.bytes.len() {
            let prefix = &v.bytes[..cut];
            assert_eq!(
                check(prefix),
                Ok(HandshakeCheck::Incomplete),
                "{} at {cut}",
                v.at
            );
            assert!(parse(prefix).is_err(), "{} at {cut}", v.at);
        }
    }
}

/// A connect whose single header is padded so that the block is `len` bytes long.
fn padded_block(len: usize) -> Vec<u8> {
    let mut block = b"GNUTELLA CONNECT/0.6\r\nX-Pad: ".to_vec();
    block.resize(len - 4, b'a');
    block.extend_from_slice(b"\r\n\r\n");
    block
}

#[test]
fn block_larger_than_limit_is_too_large() {
    let too_large = HandshakeError::TooLarge {
        limit: MAX_HANDSHAKE_LEN,
    };
    let mut endless = padded_block(1 << 20);
    endless.truncate(endless.len() - 4);
    assert_eq!(check(&endless).unwrap_err(), too_large);
    assert_eq!(parse(&endless).unwrap_err(), too_large);
    // The end of the block is only looked for in the first MAX_HANDSHAKE_LEN bytes.
    assert_eq!(check(&padded_block(1 << 20)).unwrap_err(), too_large);
    assert_eq!(check(&endless[..MAX_HANDSHAKE_LEN]).unwrap_err(), too_large);
    let almost = &endless[..MAX_HANDSHAKE_LEN - 1];
    assert_eq!(check(almost), Ok(HandshakeCheck::Incomplete));

    let largest = padded_block(MAX_HANDSHAKE_LEN);
    let complete = Ok(HandshakeCheck::Complete(MAX_HANDSHAKE_LEN));
    assert_eq!(check(&largest), complete);
    assert_eq!(check(&[&largest[..], &[0; 100]].concat()), complete);
    assert_eq!(parse(&largest).unwrap().headers.len(), 1);
    let just_over = padded_block(MAX_HANDSHAKE_LEN + 1);
    assert_eq!(check(&just_over).unwrap_err(), too_large);
}

fn connect_with_lines(lines: usize, end: &str) -> Vec<u8> {
    let mut block = String::from("GNUTELLA CONNECT/0.6\r\n");
    block.extend((0..lines).map(|i| format!("X-Header-{i}: {i}\r\n")));
    (block + end).into_bytes()
}

#[test]
fn more_than_64_header_lines_is_too_many() {
    assert_eq!(MAX_HANDSHAKE_HEADERS, 64);
    let too_many = HandshakeError::TooManyHeaders { limit: 64 };
    let full = connect_with_lines(64, "\r\n");
    assert_eq!(check(&full), Ok(HandshakeCheck::Complete(full.len())));
    assert_eq!(parse(&full).unwrap().headers.len(), 64);
    let over = connect_with_lines(65, "\r\n");
    assert_eq!(check(&over).unwrap_err(), too_many);
    assert_eq!(parse(&over).unwrap_err(), too_many);
    // Reported as soon as the 65th line is seen, before any end of block.
    assert_eq!(check(&connect_with_lines(65, "")).unwrap_err(), too_many);
    let unfinished = connect_with_lines(64, "");
    assert_eq!(check(&unfinished), Ok(HandshakeCheck::Incomplete));
    // A continuation line counts as a line.
    let continued = connect_with_lines(64, " more\r\n\r\n");
    assert_eq!(check(&continued).unwrap_err(), too_many);
}

#[test]
fn header_names_are_case_insensitive() {
    let msg = parse(b"GNUTELLA/0.6 200 OK\r\nuser-AGENT: x/1\r\nX-Try: a, ,b\r\nx-try: c\r\n\r\n")
        .unwrap();
    let h = &msg.headers;
    assert_eq!(h.get("User-Agent"), Some("x/1"));
    assert_eq!(h.get("USER-AGENT"), Some("x/1"));
    assert_eq!(h.get("x-try"), Some("a, ,b"));
    assert_eq!(h.get_all("X-TRY").collect::<Vec<_>>(), ["a, ,b", "c"]);
    assert_eq!(h.get_list("X-Try"), ["a", "b", "c"]);
    assert_eq!(h.get("User"), None);
    assert!(h.get_list("X-Missing").is_empty());
    let names: Vec<_> = h.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["user-AGENT", "X-Try", "x-try"]);
}

#[test]
fn junk_start_lines_are_rejected() {
    let junk: [&[u8]; 16] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
        b"\xc3\x80\x23\x10\n\n",
        b"\r\n",
        b"GNUTELLA CONNECT/\r\n\r\n",
        b"GNUTELLA CONNECT/0.6 \r\n\r\n",
        b"GNUTELLA CONNECT/0.6x\r\n\r\n",
        b"GNUTELLA CONNECT/256.0\r\n\r\n",
        b"GNUTELLA CONNECT/+0.6\r\n\r\n",
        b"gnutella connect/0.6\r\n\r\n",
        b"GNUTELLA/0.6 20 OK\r\n\r\n",
        b"GNUTELLA/0.6 2000 OK\r\n\r\n",
        b"GNUTELLA/0.6 abc OK\r\n\r\n",
        b"GNUTELLA/0.6\r\n\r\n",
        b"GNUTELLA OK \n\n",
        b"GIV 0:00112233445566778899AABBCCDDEEFF/file\n\n",
    ];
    for block in junk {
        let got = parse(block);
        assert!(
            matches!(got, Err(HandshakeError::BadStartLine(_))),
            "{block:?}: {got:?}"
        );
    }
    let long = [&[b'x'; 200][..], b"\r\n\r\n"].concat();
    assert_eq!(
        parse(&long),
        Err(HandshakeError::BadStartLine("x".repeat(80)))
    );
}

#[test]
fn start_lines_of_any_version_and_empty_reasons_are_accepted() {
    let status = |block: &[u8]| parse(block).unwrap().start;
    assert_eq!(
        status(b"GNUTELLA CONNECT/0.7\r\n\r\n"),
        StartLine::Connect {
            version: Version { major: 0, minor: 7 }
        }
    );
    assert_eq!(
        status(b"GNUTELLA/0.6 200\r\n\r\n"),
        StartLine::Status {
            version: Version::V0_6,
            code: 200,
            reason: String::new()
        }
    );
    assert_eq!(
        status(b"GNUTELLA/1.0 403 Normal nodes refused\r\n\r\n"),
        StartLine::Status {
            version: Version { major: 1, minor: 0 },
            code: 403,
            reason: "Normal nodes refused".into()
        }
    );
}

#[test]
fn line_endings_continuations_and_bad_headers() {
    // Bare LF and mixed endings, tab continuation, empty value, space before the colon.
    let block = b"GNUTELLA CONNECT/0.6\nA: 1\r\nB:\n\tb1\n  b2\r\nC :x\n\r\n";
    assert_eq!(check(block), Ok(HandshakeCheck::Complete(block.len())));
    let msg = parse(block).unwrap();
    let got: Vec<_> = msg.headers.iter().collect();
    assert_eq!(got, [("A", "1"), ("B", "b1 b2"), ("C", "x")]);
    assert_eq!(
        msg.encode(),
        b"GNUTELLA CONNECT/0.6\r\nA: 1\r\nB: b1 b2\r\nC: x\r\n\r\n"
    );

    let bad_header = |block: &[u8]| matches!(parse(block), Err(HandshakeError::BadHeader(_)));
    assert!(bad_header(b"GNUTELLA OK\n continued\n\n"));
    assert!(bad_header(b"GNUTELLA OK\nno colon\n\n"));
    assert!(bad_header(b"GNUTELLA OK\n: empty name\n\n"));
    assert!(bad_header(b"GNUTELLA OK\nTwo Words: x\n\n"));
    assert_eq!(
        parse(b"GNUTELLA OK\nA: \xff\n\n"),
        Err(HandshakeError::NotText)
    );
    assert_eq!(
        parse(b"GNUTELLA OK\nA: \x00\n\n"),
        Err(HandshakeError::NotText)
    );
    assert_eq!(
        parse(b"GNUTELLA OK\nA: a\rb\n\n"),
        Err(HandshakeError::NotText)
    );
    assert_eq!(
        parse(b"GNUTELLA/0.6 200 O\x07K\r\n\r\n"),
        Err(HandshakeError::NotText)
    );
    assert_eq!(
        parse(b"GNUTELLA OK\nA: 1\n"),
        Err(HandshakeError::Unterminated)
    );
}

#[test]
fn constructors_encode_canonically() {
    assert_eq!(
        HandshakeMessage::connect_04().encode(),
        b"GNUTELLA CONNECT/0.4\n\n"
    );
    assert_eq!(HandshakeMessage::ok_04().encode(), b"GNUTELLA OK\n\n");
    assert_eq!(HandshakeMessage::ok_04().code(), Some(200));
    let mut headers = Headers::new();
    headers.push("X-Try", "1.2.3.4:6346,5.6.7.8:6347");
    let busy = HandshakeMessage::status(503, "Busy", headers.clone());
    assert_eq!(
        busy.encode(),
        b"GNUTELLA/0.6 503 Busy\r\nX-Try: 1.2.3.4:6346,5.6.7.8:6347\r\n\r\n"
    );
    assert_eq!(parse(&busy.encode()), Ok(busy));
    let ok = HandshakeMessage::ok(headers.clone());
    assert_eq!((ok.code(), ok.is_04()), (Some(200), false));
    assert_eq!(ok.encode()[..21], *b"GNUTELLA/0.6 200 OK\r\n");
    let connect = HandshakeMessage::connect(headers);
    assert_eq!((connect.code(), connect.version()), (None, Version::V0_6));
    assert_eq!(connect.encode()[..22], *b"GNUTELLA CONNECT/0.6\r\n");
}

/// Random edits of the vectors: never a panic, and whatever parses re-encodes to itself.
#[test]
fn mutated_vectors_never_panic() {
    let vectors = vectors();
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..20_000 {
        let mut bytes = vectors[rand(vectors.len())].bytes.clone();
        for _ in 0..1 + rand(4) {
            let at = rand(bytes.len() + 1);
            let byte = *b"\r\n :,\t\0\xffA0."
                .get(rand(16))
                .unwrap_or(&(rand(256) as u8));
            match rand(3) {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => drop(bytes.remove(at)),
                _ => bytes.insert(at, byte),
            }
        }
        if let Ok(HandshakeCheck::Complete(len)) = check(&bytes) {
            if let Ok(msg) = parse(&bytes[..len]) {
                let encoded = msg.encode();
                if encoded.len() <= MAX_HANDSHAKE_LEN {
                    assert_eq!(parse(&encoded), Ok(msg), "{bytes:?}");
                }
            }
        }
    }
}
