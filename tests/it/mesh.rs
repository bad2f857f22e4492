//! Transfers as servents share them, over TCP on loopback: a queued source (503 with
//! `Retry-After`, `X-Queue`, PARQ's `X-Queued`) waited for until it serves the whole file
//! alone; the download mesh (one source given, a second and a third learned through
//! `X-Alt`, each serving bytes, and the sources we verified told back to the servers);
//! partial file sharing (a `.part` shared by SHA-1 and name with `X-Available-Ranges`,
//! refusing what it lacks, and a download completing from it plus a complete source).

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};

use servent::core::QueryMatcher;
use servent::download::state::{part_paths, PartState, RangeSet, Served, STATE_VERSION};
use servent::download::{
    download, DownloadError, DownloadOptions, DownloadReport, DownloadRequest,
};
use servent::http::io::HyperIo;
use servent::http::range::{self, RangePlan};
use servent::library::hash;
use servent::proto::payload::Query;
use servent::rt;

use super::http::{bytes, serve_dir, serve_files};

const CHUNK: u64 = 64 << 10;

fn options() -> DownloadOptions {
    DownloadOptions {
        chunk_size: CHUNK,
        stall_timeout: Duration::from_secs(10),
        max_source_failures: 2,
        retry_backoff: Duration::from_millis(1),
        ..DownloadOptions::default()
    }
}

fn get(req: DownloadRequest) -> Result<DownloadReport, DownloadError> {
    rt::block_on(rt::timeout(Duration::from_secs(60), download(req)))
        .expect("download finished within a minute")
}

type TestBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// What the queueing source saw.
#[derive(Default)]
struct Seen {
    gets: AtomicUsize,
    busy: AtomicUsize,
    /// `X-Queued` values downloaders sent.
    queued_ids: Mutex<Vec<String>>,
}

/// A source serving `data` whose first GETs are refused busy, the way queueing servents
/// answer: `Retry-After: 1`, then LimeWire's `X-Queue`, then PARQ's `X-Queued` with an ID.
fn queueing_source(data: Arc<Vec<u8>>, seen: Arc<Seen>) -> SocketAddr {
    rt::block_on(async move {
        let listener = rt::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        rt::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (data, seen) = (Arc::clone(&data), Arc::clone(&seen));
                rt::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let (data, seen) = (Arc::clone(&data), Arc::clone(&seen));
                        async move { Ok::<_, Infallible>(queue_answer(&data, &seen, &req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(HyperIo::new(stream, Vec::new()), service)
                        .await;
                });
            }
        });
        addr
    })
}

fn queue_answer<B>(data: &[u8], seen: &Seen, req: &Request<B>) -> Response<TestBody> {
    let len = data.len() as u64;
    let empty = || Full::new(Bytes::new()).boxed();
    if req.method() == Method::HEAD {
        let mut r = Response::new(empty());
        r.headers_mut()
            .insert("content-length", len.to_string().parse().unwrap());
        return r;
    }
    if let Some(q) = req.headers().get("x-queued") {
        seen.queued_ids
            .lock()
            .unwrap()
            .push(q.to_str().unwrap_or("").to_owned());
    }
    let n = seen.gets.fetch_add(1, Ordering::AcqRel);
    let busy: Option<(&str, &str)> = match n {
        0 => Some(("retry-after", "1")),
        1 => Some((
            "x-queue",
            "position=2,length=5,limit=4,pollMin=0,pollMax=120",
        )),
        2 => Some((
            "x-queued",
            "position=1; ID=0123abcd; length=5; retry=0; lifetime=300",
        )),
        _ => None,
    };
    if let Some((name, value)) = busy {
        seen.busy.fetch_add(1, Ordering::AcqRel);
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r.headers_mut().insert(name, value.parse().unwrap());
        return r;
    }
    let header = req.headers().get("range").and_then(|v| v.to_str().ok());
    let r = match range::plan(header, len) {
        RangePlan::Partial(r) if r.len() == 1 => r[0].clone(),
        _ => 0..len,
    };
    let body = data[r.start as usize..r.end as usize].to_vec();
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    resp.headers_mut().insert(
        "content-range",
        format!("bytes {}-{}/{len}", r.start, r.end - 1)
            .parse()
            .unwrap(),
    );
    resp
}

#[test]
fn a_queued_source_is_waited_for_and_serves_the_whole_file_alone() {
    let data = Arc::new(bytes(256 << 10, 31));
    let seen = Arc::new(Seen::default());
    let addr = queueing_source(Arc::clone(&data), Arc::clone(&seen));
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("queued.bin");
    let started = Instant::now();
    let report = get(DownloadRequest {
        sources: vec![format!("http://{addr}/get/0/queued.bin")],
        sha1: Some(hash::sha1_reader(&data[..], |_| {}).unwrap()),
        output: output.clone(),
        options: options(),
    })
    .expect("the queued source serves in the end");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(seen.busy.load(Ordering::Acquire), 3);
    assert!(report.verified);
    assert_eq!(report.sources.len(), 1);
    let s = &report.sources[0];
    assert_eq!(s.bytes, data.len() as u64);
    assert_eq!(s.dropped, None, "three busy answers, max_source_failures 2");
    assert_eq!(s.failures, 0, "busy is not a failure");
    assert_eq!(std::fs::read(&output).unwrap(), *data);
    let ids = seen.queued_ids.lock().unwrap();
    assert!(
        ids.iter().any(|q| q.contains("0123abcd")),
        "the PARQ ID goes back: {ids:?}"
    );
}

#[test]
fn one_source_teaches_a_second_and_a_third_through_x_alt() {
    const NAME: &str = "mesh-test.iso";
    let data = bytes(8 << 20, 41);
    let a = serve_files(&[(NAME, &data)], 8);
    let b = serve_files(&[(NAME, &data)], 8);
    let c = serve_files(&[(NAME, &data)], 8);
    let sha1 = a.lib.snapshot().files()[0].sha1().expect("hashed");
    // A knows B (a downloader told it), B knows C; the downloader is told only of A.
    a.ctx.mesh.learn(&sha1, &[b.addr()], Instant::now());
    b.ctx.mesh.learn(&sha1, &[c.addr()], Instant::now());
    let out = tempfile::tempdir().unwrap();
    let report = get(DownloadRequest {
        sources: vec![a.url(&a.get_path(NAME))],
        sha1: None,
        output: out.path().join(NAME),
        options: options(),
    })
    .expect("downloaded");
    assert!(report.verified);
    assert_eq!(std::fs::read(out.path().join(NAME)).unwrap(), data);
    let by = |addr: SocketAddr| {
        report
            .sources
            .iter()
            .find(|s| s.url.contains(&addr.to_string()))
            .unwrap_or_else(|| panic!("{addr} is a source: {:?}", report.sources))
            .bytes
    };
    let (from_a, from_b, from_c) = (by(a.addr()), by(b.addr()), by(c.addr()));
    assert!(
        from_a > 0 && from_b > 0 && from_c > 0,
        "{:?}",
        report.sources
    );
    assert_eq!(from_a + from_b + from_c, data.len() as u64);
    assert_eq!(report.sources.len(), 3, "each source once");
    // Our requests told each server the sources that served us: C now knows A.
    let told = c.ctx.mesh.alternates(&sha1, 10, &[], Instant::now());
    assert!(
        told.contains(&a.addr()),
        "C learned A from our X-Alt: {told:?}"
    );
}

/// Writes `FILE.part` holding `data` only in `have` (zeros elsewhere) and its sidecar.
fn write_partial(dir: &std::path::Path, name: &str, data: &[u8], have: &[std::ops::Range<u64>]) {
    let (part, state_path) = part_paths(&dir.join(name));
    let mut bytes = vec![0u8; data.len()];
    let mut done = RangeSet::default();
    for r in have {
        let (s, e) = (r.start as usize, r.end as usize);
        bytes[s..e].copy_from_slice(&data[s..e]);
        done.insert(r.clone());
    }
    std::fs::write(&part, bytes).unwrap();
    let digest = hash::sha1_reader(data, |_| {}).unwrap();
    let served = have
        .iter()
        .map(|r| Served {
            start: r.start,
            end: r.end,
            source: "http://127.0.0.9:6346/get/1/x".into(),
        })
        .collect();
    PartState {
        version: STATE_VERSION,
        size: data.len() as u64,
        sha1: Some(data_encoding::BASE32_NOPAD.encode(&digest)),
        done,
        served,
        ..PartState::default()
    }
    .save(&state_path)
    .unwrap();
}

/// One request on a fresh connection: status, headers (lower-case names), body.
fn request(addr: SocketAddr, head: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{head}Host: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

const MIB: u64 = 1 << 20;

#[test]
fn a_partial_file_is_shared_for_what_it_holds() {
    const NAME: &str = "Partial Holiday Video.mkv";
    let data = bytes(4 * MIB as usize, 51);
    let dir = tempfile::tempdir().unwrap();
    write_partial(dir.path(), NAME, &data, &[0..MIB, 2 * MIB..3 * MIB]);
    let p = serve_dir(dir, 8);
    let digest = hash::sha1_reader(&data[..], |_| {}).unwrap();
    let urn = hash::urn(&digest);
    // A Query for its name finds it, with its SHA-1.
    let hits = p.lib.matches(&Query::new("holiday video"), 10);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].name, NAME);
    assert_eq!(hits[0].sha1_urn.as_deref(), Some(urn.as_str()));
    let path = format!("/uri-res/N2R?{urn}");
    let (status, h, _) = request(p.addr(), &format!("HEAD {path} HTTP/1.1\r\n"));
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "x-available-ranges"),
        Some("bytes 0-1048575,2097152-3145727")
    );
    assert_eq!(header(&h, "x-gnutella-content-urn"), Some(urn.as_str()));
    // A range it lacks: 416, with what it holds.
    let (status, h, _) = request(
        p.addr(),
        &format!("GET {path} HTTP/1.1\r\nRange: bytes=1048576-1114111\r\n"),
    );
    assert_eq!(status, 416);
    assert!(header(&h, "x-available-ranges").is_some());
    // A range it holds: served.
    let (status, h, body) = request(
        p.addr(),
        &format!("GET {path} HTTP/1.1\r\nRange: bytes=2097152-2162687\r\n"),
    );
    assert_eq!(status, 206);
    assert_eq!(
        header(&h, "content-range"),
        Some("bytes 2097152-2162687/4194304")
    );
    assert_eq!(body, &data[2 * MIB as usize..2 * MIB as usize + 65536]);
    // A range running past what it holds: served up to its end.
    let (status, h, body) = request(
        p.addr(),
        &format!("GET {path} HTTP/1.1\r\nRange: bytes=1000000-1100000\r\n"),
    );
    assert_eq!(status, 206);
    assert_eq!(
        header(&h, "content-range"),
        Some("bytes 1000000-1048575/4194304")
    );
    assert_eq!(body, &data[1_000_000..MIB as usize]);
    // By its file index too, as a QueryHit names it.
    let (status, _, _) = request(
        p.addr(),
        &format!(
            "GET /get/{}/Partial%20Holiday%20Video.mkv HTTP/1.1\r\nRange: bytes=0-9\r\n",
            hits[0].index
        ),
    );
    assert_eq!(status, 206);

    // A download from the partial source and a complete one.
    let full = serve_files(&[(NAME, &data)], 8);
    let out = tempfile::tempdir().unwrap();
    let before = p.ctx.stats.bytes_served.load(Ordering::Acquire);
    let report = get(DownloadRequest {
        sources: vec![p.url(&path), full.url(&full.get_path(NAME))],
        sha1: Some(digest),
        output: out.path().join(NAME),
        options: options(),
    })
    .expect("downloaded");
    assert!(report.verified);
    assert_eq!(std::fs::read(out.path().join(NAME)).unwrap(), data);
    let partial_bytes = report.sources[0].bytes;
    assert!(partial_bytes > 0, "{:?}", report.sources);
    assert!(partial_bytes <= 2 * MIB, "only what it holds");
    assert_eq!(partial_bytes + report.sources[1].bytes, data.len() as u64);
    let served = p.ctx.stats.bytes_served.load(Ordering::Acquire) - before;
    assert!(
        served <= 2 * MIB,
        "the partial source sent only what it holds"
    );
}

#[test]
fn downloads_started_or_finished_after_the_scan_are_found_by_the_refresh() {
    const NAME: &str = "later download.bin";
    let data = bytes(256 << 10, 61);
    let p = serve_dir(tempfile::tempdir().unwrap(), 8);
    assert!(p.lib.partials().is_empty());
    // Another process starts a download into the shared folder.
    write_partial(p.dir.path(), NAME, &data, &[0..500, 500..1000]);
    p.lib.refresh_partials();
    let partials = p.lib.partials();
    assert_eq!(partials.len(), 1);
    let digest = partials[0].sha1;
    assert!(p.lib.partial_by_sha1(&digest).is_some());
    assert_eq!(p.lib.matches(&Query::new("later"), 10).len(), 1);
    // It finishes: the .part is renamed into place and the sidecar removed.
    let (part, state_path) = part_paths(&p.dir.path().join(NAME));
    std::fs::write(&part, &data).unwrap();
    std::fs::rename(&part, p.dir.path().join(NAME)).unwrap();
    std::fs::remove_file(state_path).unwrap();
    p.lib.refresh_partials();
    assert!(p.lib.partials().is_empty());
    assert!(p.lib.wait_hashed(Duration::from_secs(30)));
    let whole = p.lib.by_sha1(&digest).expect("the complete file is shared");
    assert_eq!(whole.name, NAME);
    assert_eq!(
        p.lib.matches(&Query::new("later"), 10).len(),
        1,
        "once, complete"
    );
    // The source it was downloaded from is one this servent verified: it hands it out.
    let (status, h, _) = request(
        p.addr(),
        &format!("HEAD /uri-res/N2R?{} HTTP/1.1\r\n", hash::urn(&digest)),
    );
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-alt"), Some("127.0.0.9:6346"));
}
