//! The downloader against real servers on loopback: resume after the serving side is
//! stopped mid-transfer and restarted (byte-identical, only the missing bytes fetched
//! again), several sources with one stopped mid-download, a stalled source whose chunks
//! move elsewhere, a corrupting source caught by the SHA-1 (nothing put in place, the
//! partial data kept), and a source serving another file left out.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, Response, StatusCode};

use servent::download::state::{part_paths, PartState};
use servent::download::{download, DownloadError, DownloadEvent, DownloadOptions, DownloadRequest};
use servent::http::io::HyperIo;
use servent::http::range::{self, RangePlan};
use servent::http::ServerHandle;
use servent::library::hash;
use servent::rt;

use super::http::{bytes, serve_files, start, Server};

const NAME: &str = "linux-6.1-x86_64.iso";
const LEN: usize = 4 << 20;
const CHUNK: u64 = 64 << 10;

fn options(hook: impl Fn(&DownloadEvent) + Send + Sync + 'static) -> DownloadOptions {
    DownloadOptions {
        chunk_size: CHUNK,
        stall_timeout: Duration::from_secs(10),
        max_source_failures: 2,
        retry_backoff: Duration::from_millis(1),
        on_event: Some(Arc::new(hook)),
        ..DownloadOptions::default()
    }
}

fn get(req: DownloadRequest) -> Result<servent::download::DownloadReport, DownloadError> {
    rt::block_on(rt::timeout(Duration::from_secs(60), download(req)))
        .expect("download finished within a minute")
}

/// Stops `handle` (once) when `when` says so.
fn stop_when(
    handle: ServerHandle,
    when: impl Fn(&DownloadEvent) -> bool + Send + Sync + 'static,
) -> impl Fn(&DownloadEvent) + Send + Sync + 'static {
    let stopped = AtomicBool::new(false);
    move |e| {
        if when(e) && !stopped.swap(true, Ordering::AcqRel) {
            handle.stop();
        }
    }
}

fn served(s: &Server) -> u64 {
    s.ctx.stats.bytes_served.load(Ordering::Acquire)
}

#[test]
fn resumes_after_the_server_stops_mid_transfer() {
    let data = bytes(LEN, 11);
    let s = serve_files(&[(NAME, &data)], 8);
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join(NAME);
    let (part, state) = part_paths(&output);
    let url = s.url(&s.get_path(NAME));
    let req = |hook| DownloadRequest {
        sources: vec![url.clone()],
        sha1: None,
        output: output.clone(),
        options: hook,
    };

    let hook = stop_when(
        s.handle.clone(),
        |e| matches!(e, DownloadEvent::ChunkDone { done, .. } if *done >= (LEN / 3) as u64),
    );
    let err = get(req(options(hook))).unwrap_err();
    assert!(
        matches!(err, DownloadError::AllSourcesFailed { .. }),
        "{err}"
    );
    assert!(!output.exists(), "nothing in place before completion");
    let saved = PartState::load(&state).expect("state kept");
    let first = saved.done.len();
    assert!(first >= (LEN / 3) as u64 && first < LEN as u64, "{first}");
    assert!(part.exists());

    // Same port, same files: the second run fetches only what is missing.
    let before = served(&s);
    let _again = start(Arc::clone(&s.ctx), s.addr());
    let report = get(req(options(|_| {}))).unwrap();
    assert_eq!(report.resumed, first);
    assert_eq!(report.fetched, LEN as u64 - first);
    assert_eq!(
        served(&s) - before,
        LEN as u64 - first,
        "only missing bytes served"
    );
    assert!(report.verified, "the URN the server advertised was checked");
    assert_eq!(std::fs::read(&output).unwrap(), data);
    assert!(!part.exists() && !state.exists());
}

#[test]
fn multi_source_completes_when_one_source_stops() {
    let data = bytes(LEN, 12);
    let servers: Vec<Server> = (0..3).map(|_| serve_files(&[(NAME, &data)], 8)).collect();
    let urn = hash::sha1_reader(&data[..], |_| {}).unwrap();
    let urls: Vec<String> = servers.iter().map(|s| s.url(&s.get_path(NAME))).collect();
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("out.iso");
    let chunks = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&chunks);
    let stop = stop_when(servers[1].handle.clone(), move |e| {
        matches!(e, DownloadEvent::ChunkDone { .. }) && counter.fetch_add(1, Ordering::AcqRel) >= 8
    });
    let report = get(DownloadRequest {
        sources: urls.clone(),
        sha1: Some(urn),
        output: output.clone(),
        options: options(stop),
    })
    .unwrap();
    assert!(report.verified);
    assert_eq!(std::fs::read(&output).unwrap(), data);
    assert_eq!(
        report.sources.iter().map(|s| s.bytes).sum::<u64>(),
        LEN as u64
    );
    let stopped = report.sources.iter().find(|s| s.url == urls[1]).unwrap();
    assert!(stopped.dropped.is_some(), "{stopped:?}");
    assert!(stopped.bytes < LEN as u64 / 2);
    for (s, u) in servers.iter().zip(&urls) {
        if u != &urls[1] {
            assert!(served(s) > 0, "{u} served nothing");
        }
    }
}

/// How a fake source misbehaves.
#[derive(Clone, Copy)]
enum Fault {
    /// Flips bytes in everything it serves (and advertises no hash).
    Corrupt,
    /// Sends the response head, then never any body byte.
    Stall,
    /// Serves at most this many bytes of any range asked (a `206` for the start of it),
    /// as gtk-gnutella caps a request to 512 KiB.
    Cap(u64),
}

/// A hand-written source serving `data` with `fault`.
fn faulty_source(data: Arc<Vec<u8>>, fault: Fault) -> SocketAddr {
    rt::block_on(async move {
        let listener = rt::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        rt::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let data = Arc::clone(&data);
                rt::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let data = Arc::clone(&data);
                        async move { Ok::<_, Infallible>(answer(&data, fault, &req)) }
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

type TestBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn answer<B>(data: &[u8], fault: Fault, req: &Request<B>) -> Response<TestBody> {
    let len = data.len() as u64;
    let header = req.headers().get("range").and_then(|v| v.to_str().ok());
    let mut r = match range::plan(header, len) {
        RangePlan::Partial(r) if r.len() == 1 => r[0].clone(),
        _ => 0..len,
    };
    if let Fault::Cap(cap) = fault {
        r.end = r.end.min(r.start + cap);
    }
    let mut resp = if req.method() == Method::HEAD {
        Response::new(Full::new(Bytes::new()).boxed())
    } else {
        match fault {
            Fault::Corrupt => {
                let body: Vec<u8> = data[r.start as usize..r.end as usize]
                    .iter()
                    .map(|b| b ^ 0x5A)
                    .collect();
                Response::new(Full::new(Bytes::from(body)).boxed())
            }
            Fault::Cap(_) => {
                let body = data[r.start as usize..r.end as usize].to_vec();
                Response::new(Full::new(Bytes::from(body)).boxed())
            }
            Fault::Stall => {
                let never = futures::stream::pending::<Result<Frame<Bytes>, Infallible>>();
                Response::new(StreamBody::new(never).boxed())
            }
        }
    };
    let h = resp.headers_mut();
    if req.method() == Method::HEAD {
        h.insert("content-length", len.to_string().parse().unwrap());
    } else {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        let h = resp.headers_mut();
        h.insert(
            "content-range",
            format!("bytes {}-{}/{len}", r.start, r.end - 1)
                .parse()
                .unwrap(),
        );
        h.insert(
            "content-length",
            (r.end - r.start).to_string().parse().unwrap(),
        );
    }
    resp
}

#[test]
fn corrupt_source_is_caught_by_the_sha1_and_nothing_is_put_in_place() {
    let data = bytes(LEN, 13);
    let urn = hash::sha1_reader(&data[..], |_| {}).unwrap();
    let honest = serve_files(&[(NAME, &data)], 8);
    let liar = faulty_source(Arc::new(data.clone()), Fault::Corrupt);
    let liar_url = format!("http://{liar}/get/0/{NAME}");
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join(NAME);
    let err = get(DownloadRequest {
        sources: vec![honest.url(&honest.get_path(NAME)), liar_url.clone()],
        sha1: Some(urn),
        output: output.clone(),
        options: options(|_| {}),
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DownloadError::HashMismatch { .. }), "{text}");
    assert!(
        text.contains(&liar_url) && text.contains("SHA-1 mismatch"),
        "{text}"
    );
    assert!(
        !output.exists(),
        "a file failing its hash is never put in place"
    );
    let (part, state) = part_paths(&output);
    assert_eq!(
        std::fs::metadata(&part).unwrap().len(),
        LEN as u64,
        "fetched data kept"
    );
    let st = PartState::load(&state).unwrap();
    assert!(st.hash_mismatch.is_some());
    assert!(st.served.iter().any(|s| s.source == liar_url));
}

#[test]
fn stalled_source_chunks_move_to_another_source() {
    let data = bytes(1 << 20, 14);
    let honest = serve_files(&[(NAME, &data)], 8);
    let slow = faulty_source(Arc::new(data.clone()), Fault::Stall);
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join(NAME);
    let mut opts = options(|_| {});
    opts.stall_timeout = Duration::from_millis(300);
    let slow_url = format!("http://{slow}/get/0/{NAME}");
    let report = get(DownloadRequest {
        sources: vec![slow_url.clone(), honest.url(&honest.get_path(NAME))],
        sha1: None,
        output: output.clone(),
        options: opts,
    })
    .unwrap();
    assert_eq!(std::fs::read(&output).unwrap(), data);
    let slow_report = report.sources.iter().find(|s| s.url == slow_url).unwrap();
    assert_eq!(slow_report.bytes, 0);
    assert!(report.verified, "honest source's URN checked");
}

#[test]
fn source_serving_another_file_is_left_out() {
    let data = bytes(1 << 20, 15);
    let other = bytes(1 << 20, 16);
    let honest = serve_files(&[(NAME, &data)], 8);
    let impostor = serve_files(&[(NAME, &other)], 8);
    let urn = hash::sha1_reader(&data[..], |_| {}).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join(NAME);
    let report = get(DownloadRequest {
        sources: vec![
            impostor.url(&impostor.get_path(NAME)),
            honest.url(&honest.get_path(NAME)),
        ],
        sha1: Some(urn),
        output: output.clone(),
        options: options(|_| {}),
    })
    .unwrap();
    assert_eq!(std::fs::read(&output).unwrap(), data);
    assert_eq!(
        report.sources.len(),
        1,
        "the impostor advertised another SHA-1"
    );
    assert_eq!(served(&impostor), 0);
}

/// gtk-gnutella's cap on a first request, and the chunk servent asks for against it.
const GTK_CAP: u64 = 512 << 10;
const BIG_CHUNK: u64 = 1 << 20;

#[test]
fn a_source_that_serves_less_than_asked_completes_the_download() {
    // 3 MiB asked for in 1 MiB chunks from a source that answers each with its first
    // 512 KiB (`206`, `Content-Range: bytes 0-524287/3145728`), as gtk-gnutella does.
    let data = bytes(3 << 20, 17);
    let urn = hash::sha1_reader(&data[..], |_| {}).unwrap();
    let capped = faulty_source(Arc::new(data.clone()), Fault::Cap(GTK_CAP));
    let url = format!("http://{capped}/get/0/{NAME}");
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join(NAME);
    let chunks = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&chunks);
    let mut opts = options(move |e| {
        if let DownloadEvent::ChunkDone { range, .. } = e {
            assert!(range.end - range.start <= BIG_CHUNK);
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    opts.chunk_size = BIG_CHUNK;
    let report = get(DownloadRequest {
        sources: vec![url.clone()],
        sha1: Some(urn),
        output: output.clone(),
        options: opts,
    })
    .unwrap();
    assert_eq!(std::fs::read(&output).unwrap(), data, "byte-identical");
    assert!(report.verified, "SHA-1 checked");
    let source = report.sources.iter().find(|s| s.url == url).unwrap();
    assert_eq!(
        source.bytes,
        data.len() as u64,
        "every byte from the capped source"
    );
    assert_eq!(
        chunks.load(Ordering::Relaxed),
        (data.len() as u64).div_ceil(GTK_CAP),
        "one commit per capped answer: each short 206 kept, its rest asked again"
    );
}
