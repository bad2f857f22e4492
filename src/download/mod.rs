//! The downloader (`servent get`): one file from one or more HTTP sources, cut into
//! chunks fetched in parallel (one keep-alive connection per source), written into
//! `FILE.part` with a sidecar state file ([`state`]), resumable after any interruption,
//! verified against its SHA-1 when known, and renamed into place only then.
//!
//! Scheduling: each source's worker takes the next missing chunk; a chunk whose source
//! fails (connection lost, bad answer, no data for `stall_timeout`) goes back to the
//! queue for another source, and a source failing `max_source_failures` times in a row is
//! dropped. When no chunk is left to start, idle workers also fetch chunks still in
//! flight elsewhere (end game), so one slow source cannot hold the download back; the
//! first complete copy is written, the other dropped. A chunk is written only once all
//! its bytes arrived, so memory stays at one chunk per source.
//!
//! Nothing fetched is ever deleted: when the final hash does not match, `FILE.part` and
//! its state are kept, the error names the expected and actual hashes and how many bytes
//! each source served.

pub mod progress;
pub mod state;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::oneshot;
use futures::future::{self, Either};
use http_body_util::{BodyExt, Empty};
use hyper::header::{CONTENT_LENGTH, CONTENT_RANGE, HOST, RANGE, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, StatusCode};

use crate::http::client::{ClientError, Connection, HttpUrl};
use crate::library::hash::{self, Sha1Digest};
use crate::rt;

use progress::{Progress, ProgressMode};
use state::{part_paths, PartState, Served, STATE_VERSION};

/// Default chunk: big enough that per-request overhead is small, small enough that a
/// failed chunk costs little and several sources share a modest file.
pub const DEFAULT_CHUNK_SIZE: u64 = 1 << 20;
/// Default wait for a response head or the next body bytes before a source is called
/// stalled and its chunk moved elsewhere.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Default connect deadline.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Failures in a row after which a source is dropped.
pub const DEFAULT_MAX_SOURCE_FAILURES: u32 = 3;
/// Pause before retrying a source after a failure (times the failures in a row).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// Longest `Retry-After` honoured from a busy source before trying it again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// `User-Agent` of our requests.
pub const USER_AGENT_VALUE: &str = concat!("servent/", env!("CARGO_PKG_VERSION"));

/// Something that happened during a download (for callers that watch).
#[derive(Debug, Clone)]
pub enum DownloadEvent {
    Started {
        total: u64,
        already: u64,
        sources: usize,
    },
    ChunkDone {
        range: Range<u64>,
        source: String,
        done: u64,
        total: u64,
    },
    SourceFailed {
        source: String,
        error: String,
        dropped: bool,
    },
    Verifying,
}

pub type EventHook = Arc<dyn Fn(&DownloadEvent) + Send + Sync>;

#[derive(Clone)]
pub struct DownloadOptions {
    pub chunk_size: u64,
    pub connect_timeout: Duration,
    pub stall_timeout: Duration,
    pub max_source_failures: u32,
    pub retry_backoff: Duration,
    pub progress: ProgressMode,
    pub on_event: Option<EventHook>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_source_failures: DEFAULT_MAX_SOURCE_FAILURES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            progress: ProgressMode::Auto,
            on_event: None,
        }
    }
}

/// What to download.
#[derive(Clone)]
pub struct DownloadRequest {
    /// `http://host:port/get/<index>/<name>` or `.../uri-res/N2R?urn:sha1:...` URLs.
    pub sources: Vec<String>,
    /// The SHA-1 the file must have; when `None`, the one sources advertise (if any).
    pub sha1: Option<Sha1Digest>,
    /// Final path; `FILE.part` and `FILE.part.state` sit beside it.
    pub output: PathBuf,
    pub options: DownloadOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceReport {
    pub url: String,
    /// Bytes of this source written into the file.
    pub bytes: u64,
    pub failures: u32,
    /// Why the source was dropped, if it was.
    pub dropped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DownloadReport {
    pub path: PathBuf,
    pub size: u64,
    /// `urn:sha1:...` of the file when known.
    pub sha1: Option<String>,
    /// Whether the SHA-1 was checked.
    pub verified: bool,
    /// Bytes fetched by this run.
    pub fetched: u64,
    /// Bytes already on disk from an earlier run.
    pub resumed: u64,
    pub sources: Vec<SourceReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("no source given")]
    NoSources,
    #[error(transparent)]
    Url(#[from] ClientError),
    #[error("no source can be used:{}", list(.0))]
    NoUsableSource(Vec<(String, String)>),
    #[error("{} already exists (and is not the file asked for): remove it or choose another output", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "every source failed with {missing} of {total} bytes missing; the bytes fetched are kept in {} and running the same command again resumes:{}",
        part.display(), list(errors)
    )]
    AllSourcesFailed {
        missing: u64,
        total: u64,
        part: PathBuf,
        errors: Vec<(String, String)>,
    },
    #[error(
        "SHA-1 mismatch: expected urn:sha1:{expected} but the assembled file is urn:sha1:{actual}. Nothing was put in place; {} and its state are kept (remove both to start over). Bytes written per source:{}",
        part.display(), list(by_source)
    )]
    HashMismatch {
        expected: String,
        actual: String,
        part: PathBuf,
        by_source: Vec<(String, String)>,
    },
}

fn list(items: &[(String, String)]) -> String {
    items.iter().map(|(a, b)| format!("\n  {a}: {b}")).collect()
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Why one chunk from one source failed.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("busy (503), retry after {0:?}")]
    Busy(Duration),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("bad Content-Range {0:?} for the range asked")]
    BadRange(String),
    #[error("no data for {0:?}: stalled")]
    Stalled(Duration),
    #[error("body error: {0}")]
    Body(hyper::Error),
    #[error("sent {got} bytes for a {want}-byte range")]
    Length { got: u64, want: u64 },
}

struct Source {
    url: HttpUrl,
    label: String,
    addr: Option<SocketAddr>,
    failures: u32,
    total_failures: u32,
    bytes: u64,
    dead: Option<String>,
}

struct Inflight {
    range: Range<u64>,
    fetchers: Vec<usize>,
    writing: bool,
}

struct Sched {
    pending: VecDeque<Range<u64>>,
    inflight: Vec<Inflight>,
    state: PartState,
    sources: Vec<Source>,
    waiters: Vec<oneshot::Sender<()>>,
    done_signal: Option<oneshot::Sender<()>>,
}

impl Sched {
    fn notify(&mut self) {
        for w in self.waiters.drain(..) {
            let _ = w.send(());
        }
    }

    fn live_sources(&self) -> usize {
        self.sources.iter().filter(|s| s.dead.is_none()).count()
    }
}

struct Shared {
    sched: Mutex<Sched>,
    file: Arc<File>,
    part: PathBuf,
    state_path: PathBuf,
    size: u64,
    options: DownloadOptions,
    progress: Mutex<Progress>,
    save_lock: Mutex<()>,
    finished: AtomicBool,
}

impl Shared {
    fn sched(&self) -> std::sync::MutexGuard<'_, Sched> {
        self.sched.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, e: DownloadEvent) {
        if let Some(hook) = &self.options.on_event {
            hook(&e);
        }
    }

    fn note(&self, text: &str) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .note(text);
    }

    /// Writes the latest state (unless the download finished meanwhile).
    fn save_state(&self) -> io::Result<()> {
        let _one = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let state = self.sched().state.clone();
        state.save(&self.state_path)
    }
}

enum Job {
    Chunk(Range<u64>),
    Wait(oneshot::Receiver<()>),
    Stop,
}

/// Downloads one file. See the module documentation.
pub async fn download(req: DownloadRequest) -> Result<DownloadReport, DownloadError> {
    if req.sources.is_empty() {
        return Err(DownloadError::NoSources);
    }
    let opts = req.options.clone();
    let urls: Vec<HttpUrl> = req
        .sources
        .iter()
        .map(|s| HttpUrl::parse(s))
        .collect::<Result<_, _>>()?;
    let (part, state_path) = part_paths(&req.output);

    // Probe every source (in parallel): size, advertised SHA-1, a warm connection.
    let probes = future::join_all(urls.iter().map(|u| probe(u, &opts))).await;
    let mut expected = req.sha1;
    let mut size: Option<u64> = None;
    let mut sources = Vec::new();
    let mut conns = Vec::new();
    let mut unusable = Vec::new();
    for (url, probe) in urls.into_iter().zip(probes) {
        let label = url.to_string();
        let (addr, conn, info) = match probe {
            Ok(p) => p,
            Err(e) => {
                unusable.push((label, e.to_string()));
                continue;
            }
        };
        if let Some(info) = &info {
            if let (Some(want), Some(got)) = (expected, info.sha1) {
                if want != got {
                    unusable.push((label, format!("serves another file ({})", hash::urn(&got))));
                    continue;
                }
            }
            if let Some(s) = size {
                if s != info.size {
                    unusable.push((label, format!("size {} differs from {s}", info.size)));
                    continue;
                }
            }
            size = Some(info.size);
            expected = expected.or(info.sha1);
        }
        sources.push(Source {
            url,
            label,
            addr: Some(addr),
            failures: 0,
            total_failures: 0,
            bytes: 0,
            dead: None,
        });
        conns.push(conn);
    }
    for (s, e) in &unusable {
        log::info!("source {s}: {e}");
    }
    let Some(size) = size.filter(|_| !sources.is_empty()) else {
        return Err(DownloadError::NoUsableSource(unusable));
    };

    // An output already in place: done if it is the file asked for.
    if req.output.exists() {
        if let Some(want) = expected {
            let out = req.output.clone();
            let got = rt::spawn_blocking(move || hash::sha1_file(&out))
                .await
                .map_err(io_err(&req.output))?;
            if got == want {
                return Ok(DownloadReport {
                    path: req.output,
                    size,
                    sha1: Some(hash::urn(&want)),
                    verified: true,
                    fetched: 0,
                    resumed: size,
                    sources: Vec::new(),
                });
            }
        }
        return Err(DownloadError::Exists(req.output));
    }

    // Resume from the sidecar when it describes this file.
    let want_b32 = expected.map(|d| data_encoding::BASE32_NOPAD.encode(&d));
    let mut state = PartState::load(&state_path)
        .filter(|s| {
            s.size == size && (s.sha1.is_none() || want_b32.is_none() || s.sha1 == want_b32)
        })
        .filter(|_| part.exists())
        .unwrap_or_else(|| PartState {
            version: STATE_VERSION,
            size,
            ..PartState::default()
        });
    state.sha1 = want_b32.clone().or(state.sha1);
    if let Some(parent) = req.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part)
        .map_err(io_err(&part))?;
    if state.done.is_empty() {
        file.set_len(0).map_err(io_err(&part))?;
    }
    file.set_len(size).map_err(io_err(&part))?;
    state.save(&state_path).map_err(io_err(&state_path))?;
    let resumed = state.done.len();

    let chunk = opts.chunk_size.max(1);
    let mut pending = VecDeque::new();
    for gap in state.done.gaps(size) {
        let mut at = gap.start;
        while at < gap.end {
            let end = (at + chunk).min(gap.end);
            pending.push_back(at..end);
            at = end;
        }
    }
    let (done_tx, done_rx) = oneshot::channel();
    let complete = pending.is_empty();
    let n_sources = sources.len();
    let shared = Arc::new(Shared {
        sched: Mutex::new(Sched {
            pending,
            inflight: Vec::new(),
            state,
            sources,
            waiters: Vec::new(),
            done_signal: Some(done_tx),
        }),
        file: Arc::new(file),
        part: part.clone(),
        state_path: state_path.clone(),
        size,
        progress: Mutex::new(Progress::new(opts.progress, size, resumed, n_sources)),
        options: opts,
        save_lock: Mutex::new(()),
        finished: AtomicBool::new(false),
    });
    shared.emit(DownloadEvent::Started {
        total: size,
        already: resumed,
        sources: n_sources,
    });
    if !complete {
        let workers = future::join_all(
            conns
                .into_iter()
                .enumerate()
                .map(|(i, c)| worker(&shared, i, c)),
        );
        futures::pin_mut!(workers);
        match future::select(workers, done_rx).await {
            Either::Left(_) | Either::Right(_) => {}
        }
    }
    shared
        .progress
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .finish();
    finish(&shared, &req.output, expected, resumed).await
}

/// After the workers: complete (verify, rename) or report what is missing.
async fn finish(
    shared: &Arc<Shared>,
    output: &Path,
    expected: Option<Sha1Digest>,
    resumed: u64,
) -> Result<DownloadReport, DownloadError> {
    let (done, sources, served) = {
        let s = shared.sched();
        let sources: Vec<SourceReport> = s
            .sources
            .iter()
            .map(|src| SourceReport {
                url: src.label.clone(),
                bytes: src.bytes,
                failures: src.total_failures,
                dropped: src.dead.clone(),
            })
            .collect();
        (s.state.done.len(), sources, s.state.served.clone())
    };
    let fetched = done - resumed;
    if done < shared.size {
        shared.save_state().map_err(io_err(&shared.state_path))?;
        return Err(DownloadError::AllSourcesFailed {
            missing: shared.size - done,
            total: shared.size,
            part: shared.part.clone(),
            errors: sources
                .iter()
                .map(|s| {
                    (
                        s.url.clone(),
                        s.dropped.clone().unwrap_or_else(|| "no answer".into()),
                    )
                })
                .collect(),
        });
    }
    shared.file.sync_all().map_err(io_err(&shared.part))?;
    let mut verified = false;
    if let Some(want) = expected {
        shared.emit(DownloadEvent::Verifying);
        shared.note("verifying SHA-1...");
        let part = shared.part.clone();
        let got = rt::spawn_blocking(move || hash::sha1_file(&part))
            .await
            .map_err(io_err(&shared.part))?;
        if got != want {
            let actual = data_encoding::BASE32_NOPAD.encode(&got);
            shared.sched().state.hash_mismatch = Some(actual.clone());
            shared.save_state().map_err(io_err(&shared.state_path))?;
            let mut by_source: Vec<(String, String)> = Vec::new();
            for s in &sources {
                let ranges = served.iter().filter(|r| r.source == s.url).count();
                by_source.push((
                    s.url.clone(),
                    format!("{} bytes in {ranges} chunks", s.bytes),
                ));
            }
            let earlier = served
                .iter()
                .filter(|r| !sources.iter().any(|s| s.url == r.source))
                .map(|r| r.end - r.start)
                .sum::<u64>();
            if earlier > 0 {
                by_source.push(("earlier runs".into(), format!("{earlier} bytes")));
            }
            return Err(DownloadError::HashMismatch {
                expected: data_encoding::BASE32_NOPAD.encode(&want),
                actual,
                part: shared.part.clone(),
                by_source,
            });
        }
        verified = true;
    }
    {
        let _one = shared.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        shared.finished.store(true, Ordering::Release);
        fs::rename(&shared.part, output).map_err(io_err(output))?;
        let _ = fs::remove_file(&shared.state_path);
    }
    Ok(DownloadReport {
        path: output.to_owned(),
        size: shared.size,
        sha1: expected.map(|d| hash::urn(&d)),
        verified,
        fetched,
        resumed,
        sources,
    })
}

struct ProbeInfo {
    size: u64,
    sha1: Option<Sha1Digest>,
}

/// HEAD on a source: its address, an open connection, and (unless busy) size and hash.
async fn probe(
    url: &HttpUrl,
    opts: &DownloadOptions,
) -> Result<(SocketAddr, Option<Connection>, Option<ProbeInfo>), FetchError> {
    let addr = url.resolve().await?;
    let mut conn = Connection::open(addr, opts.connect_timeout).await?;
    let req = request(Method::HEAD, url, None);
    let resp = conn.send(req, opts.stall_timeout).await?;
    let status = resp.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return Ok((addr, Some(conn), None));
    }
    if status != StatusCode::OK {
        return Err(FetchError::Status(status));
    }
    let size = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or(FetchError::Status(status))?;
    let sha1 = resp
        .headers()
        .get("x-gnutella-content-urn")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(hash::parse_urn));
    Ok((addr, Some(conn), Some(ProbeInfo { size, sha1 })))
}

fn request(method: Method, url: &HttpUrl, range: Option<&Range<u64>>) -> Request<Empty<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(url.path.as_str())
        .header(HOST, url.authority())
        .header(USER_AGENT, USER_AGENT_VALUE);
    if let Some(r) = range {
        b = b.header(RANGE, format!("bytes={}-{}", r.start, r.end - 1));
    }
    b.body(Empty::new())
        .unwrap_or_else(|_| Request::new(Empty::new()))
}

fn next_job(shared: &Shared, id: usize) -> Job {
    let mut s = shared.sched();
    if s.sources[id].dead.is_some() || s.state.done.len() == shared.size {
        return Job::Stop;
    }
    if let Some(r) = s.pending.pop_front() {
        s.inflight.push(Inflight {
            range: r.clone(),
            fetchers: vec![id],
            writing: false,
        });
        return Job::Chunk(r);
    }
    // End game: help with a chunk another source is still fetching.
    if let Some(inf) = s
        .inflight
        .iter_mut()
        .filter(|i| !i.writing && !i.fetchers.contains(&id) && i.fetchers.len() < 2)
        .min_by_key(|i| i.fetchers.len())
    {
        inf.fetchers.push(id);
        return Job::Chunk(inf.range.clone());
    }
    let (tx, rx) = oneshot::channel();
    s.waiters.push(tx);
    Job::Wait(rx)
}

async fn worker(shared: &Arc<Shared>, id: usize, mut conn: Option<Connection>) {
    loop {
        let range = match next_job(shared, id) {
            Job::Stop => return,
            Job::Wait(rx) => {
                let _ = rx.await;
                continue;
            }
            Job::Chunk(r) => r,
        };
        match fetch(shared, id, &mut conn, &range).await {
            Ok(Some(data)) => commit(shared, id, range, data).await,
            Ok(None) => unassign(shared, id, &range),
            Err(e) => {
                conn = None;
                let pause = fail(shared, id, &range, &e);
                if let Some(p) = pause {
                    rt::sleep(p).await;
                }
            }
        }
    }
}

/// Whether `range` no longer needs this worker (written or being written elsewhere).
fn abandoned(shared: &Shared, range: &Range<u64>) -> bool {
    let s = shared.sched();
    s.state.done.contains(range) || s.inflight.iter().any(|i| i.range == *range && i.writing)
}

/// Fetches one chunk. `Ok(None)`: abandoned because another source delivered it.
async fn fetch(
    shared: &Shared,
    id: usize,
    conn: &mut Option<Connection>,
    range: &Range<u64>,
) -> Result<Option<Bytes>, FetchError> {
    let opts = &shared.options;
    let (url, addr) = {
        let s = shared.sched();
        (s.sources[id].url.clone(), s.sources[id].addr)
    };
    let c = match conn {
        Some(c) if c.is_open() => c,
        _ => {
            let addr = match addr {
                Some(a) => a,
                None => url.resolve().await?,
            };
            conn.insert(Connection::open(addr, opts.connect_timeout).await?)
        }
    };
    let resp = c
        .send(request(Method::GET, &url, Some(range)), opts.stall_timeout)
        .await?;
    let status = resp.status();
    let want = range.end - range.start;
    match status {
        StatusCode::PARTIAL_CONTENT => {
            let cr = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let expect = format!("bytes {}-{}/{}", range.start, range.end - 1, shared.size);
            if cr != expect {
                return Err(FetchError::BadRange(cr.to_owned()));
            }
        }
        StatusCode::OK if range.start == 0 && range.end == shared.size => {}
        StatusCode::OK => return Err(FetchError::BadRange("200 without Content-Range".into())),
        StatusCode::SERVICE_UNAVAILABLE => {
            let after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map_or(opts.retry_backoff, Duration::from_secs);
            return Err(FetchError::Busy(after.min(MAX_RETRY_AFTER)));
        }
        s => return Err(FetchError::Status(s)),
    }
    let mut body = resp.into_body();
    let mut buf = BytesMut::with_capacity(want as usize);
    loop {
        let frame = match rt::timeout(opts.stall_timeout, body.frame()).await {
            Err(_) => return Err(FetchError::Stalled(opts.stall_timeout)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(FetchError::Body(e)),
            Ok(Some(Ok(f))) => f,
        };
        if let Some(d) = frame.data_ref() {
            if buf.len() as u64 + d.len() as u64 > want {
                return Err(FetchError::Length {
                    got: buf.len() as u64 + d.len() as u64,
                    want,
                });
            }
            buf.extend_from_slice(d);
            let mut p = shared.progress.lock().unwrap_or_else(|e| e.into_inner());
            let s = shared.sched();
            let inflight_bytes = buf.len() as u64;
            p.update(
                (s.state.done.len() + inflight_bytes).min(shared.size),
                s.live_sources(),
            );
        }
        if abandoned(shared, range) {
            *conn = None;
            return Ok(None);
        }
    }
    if buf.len() as u64 != want {
        return Err(FetchError::Length {
            got: buf.len() as u64,
            want,
        });
    }
    Ok(Some(buf.freeze()))
}

fn unassign(shared: &Shared, id: usize, range: &Range<u64>) {
    let mut s = shared.sched();
    if let Some(i) = s.inflight.iter_mut().find(|i| i.range == *range) {
        i.fetchers.retain(|&f| f != id);
    }
    s.inflight
        .retain(|i| !(i.range == *range && i.fetchers.is_empty() && !i.writing));
    s.notify();
}

/// Records a failure: the chunk goes back to the queue unless another source has it.
/// Returns how long this source should pause, or `None` when it is dropped.
fn fail(shared: &Shared, id: usize, range: &Range<u64>, e: &FetchError) -> Option<Duration> {
    let max = shared.options.max_source_failures;
    let (label, dropped, pause) = {
        let mut s = shared.sched();
        if let Some(pos) = s.inflight.iter().position(|i| i.range == *range) {
            let inf = &mut s.inflight[pos];
            inf.fetchers.retain(|&f| f != id);
            if inf.fetchers.is_empty() && !inf.writing {
                s.inflight.remove(pos);
                if !s.state.done.contains(range) {
                    s.pending.push_front(range.clone());
                }
            }
        }
        let src = &mut s.sources[id];
        src.failures += 1;
        src.total_failures += 1;
        let dropped = src.failures >= max;
        if dropped {
            src.dead = Some(e.to_string());
        }
        let pause = match e {
            FetchError::Busy(after) => *after,
            _ => shared.options.retry_backoff * src.failures,
        };
        let label = src.label.clone();
        s.notify();
        (label, dropped, pause)
    };
    let text = if dropped {
        format!("source {label} dropped: {e}")
    } else {
        format!("source {label}: {e}; retrying")
    };
    log::info!("{text}");
    shared.note(&text);
    shared.emit(DownloadEvent::SourceFailed {
        source: label,
        error: e.to_string(),
        dropped,
    });
    (!dropped).then_some(pause)
}

/// Writes a complete chunk (once, whichever source delivered it first), syncs it, then
/// records it in the state file.
async fn commit(shared: &Arc<Shared>, id: usize, range: Range<u64>, data: Bytes) {
    {
        let mut s = shared.sched();
        let Some(inf) = s.inflight.iter_mut().find(|i| i.range == range) else {
            return;
        };
        if inf.writing {
            inf.fetchers.retain(|&f| f != id);
            return;
        }
        inf.writing = true;
    }
    let file = Arc::clone(&shared.file);
    let start = range.start;
    let written = rt::spawn_blocking(move || {
        file.write_all_at(&data, start)?;
        file.sync_data()
    })
    .await;
    if let Err(e) = written {
        // A local write error is not the source's fault, but nothing can go on.
        log::error!("writing {}: {e}", shared.part.display());
        let mut s = shared.sched();
        s.inflight.retain(|i| i.range != range);
        s.pending.push_front(range);
        for src in &mut s.sources {
            src.dead = Some(format!("local write error: {e}"));
        }
        s.notify();
        return;
    }
    let (label, done, all_done) = {
        let mut s = shared.sched();
        s.inflight.retain(|i| i.range != range);
        s.state.done.insert(range.clone());
        let src = &mut s.sources[id];
        src.bytes += range.end - range.start;
        src.failures = 0;
        let label = src.label.clone();
        s.state.served.push(Served {
            start: range.start,
            end: range.end,
            source: label.clone(),
        });
        let done = s.state.done.len();
        s.notify();
        (label, done, done == shared.size)
    };
    let saver = Arc::clone(shared);
    if let Err(e) = rt::spawn_blocking(move || saver.save_state()).await {
        log::warn!("saving {}: {e}", shared.state_path.display());
    }
    {
        let live = shared.sched().live_sources();
        shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .update(done, live);
    }
    shared.emit(DownloadEvent::ChunkDone {
        range,
        source: label,
        done,
        total: shared.size,
    });
    if all_done {
        if let Some(tx) = shared.sched().done_signal.take() {
            let _ = tx.send(());
        }
    }
}

/// A safe local file name from a URL path's last segment (percent-decoded), or `None`.
pub fn file_name_from_url(url: &str) -> Option<String> {
    let u = HttpUrl::parse(url).ok()?;
    let path = u.path.split('?').next()?;
    let last = path.rsplit('/').next()?;
    let name = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .ok()?
        .into_owned();
    sanitize_name(&name)
}

/// Refuses names that are empty, `.`/`..`, hidden, or contain a separator or NUL.
pub fn sanitize_name(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
    {
        return None;
    }
    Some(name.to_owned())
}
