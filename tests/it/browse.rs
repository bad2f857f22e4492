//! Browse host end to end: `servent browse` (the binary) lists what a separate
//! `servent serve --share` shares; the server answers a raw browse request as
//! gtk-gnutella's client expects, keeps answering a browser's `GET /` as before; and the
//! client reads an answer written the way gtk-gnutella writes it (zlib, ended by close).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use servent::download::magnet::{n2r_url, Magnet};
use servent::library::hash;
use servent::proto::payload::{Extension, HitResult, QueryHit, Trailer};
use servent::proto::{frame, Descriptor, Guid, Payload};

use super::magnet::{bin, serve_sharing, wait_served};

/// A raw HTTP/1.1 request with `Connection: close`; returns the head and the body.
fn raw_get(addr: SocketAddr, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    (
        String::from_utf8_lossy(&all[..end]).into_owned(),
        all[end..].to_vec(),
    )
}

/// `servent browse ADDR --json`, which must succeed: its lines, the summary last.
fn browse_json(addr: SocketAddr) -> Vec<serde_json::Value> {
    let out = bin()
        .args(["browse", &addr.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Removes `Transfer-Encoding: chunked` framing.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[test]
fn servent_browse_lists_what_a_sharing_servent_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("The Beatles - Help.mp3", vec![1u8; 40_000]),
        ("Ünïcode & spaces?.txt", b"hello".to_vec()),
        ("empty.bin", Vec::new()),
    ];
    for (name, data) in &files {
        std::fs::write(share.join(name), data).unwrap();
    }
    let (_servent, addr) = serve_sharing(&tmp.path().join("data"), &share);
    let urns: Vec<String> = files
        .iter()
        .map(|(_, d)| hash::urn(&hash::sha1_reader(&d[..], |_| {}).unwrap()))
        .collect();
    for u in &urns {
        wait_served(addr, u);
    }

    let lines = browse_json(addr);
    let summary = &lines.last().unwrap()["browse"];
    assert_eq!(summary["files"], 3);
    assert_eq!(
        summary["deflated"], true,
        "we ask for deflate, servent gives it"
    );
    for ((name, data), urn) in files.iter().zip(&urns) {
        let f = lines
            .iter()
            .find(|v| v["name"] == *name)
            .unwrap_or_else(|| panic!("{name} not listed: {lines:?}"));
        assert_eq!(f["size"], data.len() as u64);
        assert_eq!(f["sha1"], urn.as_str());
        let digest = hash::parse_urn(urn).unwrap();
        assert_eq!(
            Magnet::parse(f["magnet"].as_str().unwrap()).unwrap(),
            Magnet::new(
                Some(digest),
                Some(name),
                Some(data.len() as u64),
                vec![n2r_url(addr, &digest)]
            )
        );
    }

    // The table names every file too.
    let out = bin().args(["browse", &addr.to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 files"), "{text}");
    for (name, _) in &files {
        assert!(text.contains(name), "{text}");
    }

    // Raw, as gtk-gnutella's client asks without deflate: plain QueryHits, TTL 1, hops 0,
    // our address as the client named it, the servent's own ID (what a Push would name).
    let servent_id = {
        let (_, body) = raw_get(addr, "/status", "");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("/status is JSON");
        v["servent_id"]
            .as_str()
            .expect("servent_id in /status")
            .to_string()
    };
    let (head, body) = raw_get(addr, "/", "Accept: application/x-gnutella-packets\r\n");
    let lower = head.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{head}");
    assert!(lower.contains("content-type: application/x-gnutella-packets"));
    assert!(!lower.contains("content-encoding"));
    let wire = if lower.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    let mut names = Vec::new();
    for d in frame::parse_all(&wire).unwrap() {
        let d = d.unwrap();
        assert_eq!((d.ttl, d.hops), (1, 0));
        let Payload::QueryHit(h) = &*d.payload else {
            panic!("not a QueryHit: {d:?}")
        };
        assert_eq!(std::net::SocketAddr::from((h.ip, h.port)), addr);
        assert_ne!(h.servent_id, Guid([0; 16]));
        assert_ne!(h.servent_id, d.guid);
        assert_eq!(h.servent_id.to_string(), servent_id);
        names.extend(h.results.iter().map(|r| r.name_lossy().into_owned()));
    }
    names.sort();
    let mut want: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
    want.sort();
    assert_eq!(names, want);

    // A browser's GET / gets the web interface's page, not QueryHits.
    let (head, _) = raw_get(addr, "/", "Accept: text/html,*/*\r\n");
    let lower = head.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{head}");
    assert!(lower.contains("content-type: text/html"), "{head}");
}

/// A browse answer the way gtk-gnutella writes one to a client that cannot take
/// chunked: `Content-Encoding: deflate` (a zlib stream), no length, ended by closing.
fn gtkg_like_server(wire: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            if s.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(text.contains("accept: application/x-gnutella-packets"));
        assert!(text.contains("accept-encoding: deflate"));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&wire).unwrap();
        let zipped = z.finish().unwrap();
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nServer: gtk-gnutella/1.2.3\r\n\
              Content-Type: application/x-gnutella-packets\r\n\
              Content-Encoding: deflate\r\nConnection: close\r\n\r\n",
        );
        let _ = s.write_all(&zipped);
    });
    addr
}

#[test]
fn servent_browse_reads_a_gtk_gnutella_style_answer() {
    let digest = [0x5Au8; 20];
    let mut wire = Vec::new();
    for chunk in 0..3u32 {
        let results = (0..40u32)
            .map(|i| HitResult {
                index: chunk * 40 + i + 1,
                size: 1000 + i,
                name: format!("track {:03}.flac", chunk * 40 + i).into_bytes(),
                extensions: vec![Extension::Urn(hash::urn(&digest))],
            })
            .collect();
        let hit = QueryHit {
            port: 6346,
            ip: "10.0.0.1".parse().unwrap(),
            speed: 1000,
            results,
            trailer: Some(Trailer::new(*b"GTKG", false, false, false, false)),
            servent_id: Guid([9; 16]),
        };
        Descriptor::new(Guid([0; 16]), 1, 0, Payload::QueryHit(hit))
            .encode(&mut wire)
            .unwrap();
    }
    let addr = gtkg_like_server(wire);
    let lines = browse_json(addr);
    let summary = &lines.last().unwrap()["browse"];
    assert_eq!(summary["files"], 120);
    assert_eq!(summary["hits"], 3);
    assert_eq!(summary["deflated"], true);
    assert_eq!(summary["server"], "gtk-gnutella/1.2.3");
    assert_eq!(lines[5]["name"], "track 005.flac");
    // The magnet's source is the address browsed, not the one the hit claims.
    let m = Magnet::parse(lines[5]["magnet"].as_str().unwrap()).unwrap();
    assert_eq!(m.sources, vec![n2r_url(addr, &digest)]);
}

#[test]
fn servent_browse_of_a_servent_without_browse_is_a_clear_error() {
    // An HTML page (a web server, an old BearShare) is not a listing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n<p/>\n",
        );
    });
    let out = bin().args(["browse", &addr.to_string()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not application/x-gnutella-packets"), "{err}");
}
