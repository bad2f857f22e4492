//! The downloader (`servent get`): one file from one or more HTTP sources, cut into
//! chunks fetched in parallel (one keep-alive connection per source), written into
//! `FILE.part` with a sidecar state file ([`state`]), resumable after any interruption,
//! verified against its SHA-1 when known, and renamed into place only then.
//!
//! Layout: `sched` decides (the sans-IO chunk scheduler: which chunk to which source,
//! failures, stalls, commits, the end); `probe` picks the sources, `part` opens
//! `FILE.part`, `source` says where a source is and how a fetch from it fails, `fetch`
//! runs one task per source, `shared` holds the state the tasks drive the scheduler
//! through, `run` starts them and waits, `finish` verifies and renames. Progress goes out
//! as [`DownloadEvent`]s to the caller's hook (the command line draws its bar from them).
//!
//! Scheduling: each source's worker takes the next missing chunk; a chunk whose source
//! fails (connection lost, bad answer, no data for `stall_timeout`) goes back to the
//! queue for another source, and a source failing `max_source_failures` times in a row is
//! dropped. When no chunk is left to start, idle workers also fetch chunks still in
//! flight elsewhere (end game), so one slow source cannot hold the download back; the
//! first complete copy is written, the other dropped. A chunk is written only once all
//! its bytes arrived, so memory stays at one chunk per source.
//!
//! As servents transfer: a busy or queued source (`503`, `Retry-After`, `X-Queue`,
//! PARQ's `X-Queued`) waits and is asked again, never dropped for being busy (within a
//! total cap); a partial source (`X-Available-Ranges`) is asked only for what it holds;
//! and the download mesh (`X-Alt`) adds the sources each answer names to the running
//! download, while our requests tell each source the others that served us (`X-Alt`)
//! and the ones that failed (`X-Nalt`).
//!
//! Nothing fetched is ever deleted: when the final hash does not match, `FILE.part` and
//! its state are kept, the error names the expected and actual hashes and how many bytes
//! each source served.

pub mod browse;
mod fetch;
mod finish;
pub mod magnet;
mod names;
mod part;
mod probe;
mod push;
mod run;
mod sched;
mod shared;
mod source;
pub mod state;

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::http::client::ClientError;
use crate::library::hash::Sha1Digest;

pub use names::{file_name_from_url, sanitize_name};
pub use push::{push_url, PushFuture, PushedConnection, Pusher};
use state::part_paths;

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
    /// The sources are probed and `FILE.part` is open: the transfer begins.
    Started {
        /// Size of the file, in bytes.
        total: u64,
        /// Bytes already on disk from an earlier run (resumed, not fetched again).
        already: u64,
        /// Sources that passed the probe (same size and SHA-1) and will be fetched from.
        sources: usize,
    },
    /// A chunk was written and synced to `FILE.part` and recorded in the sidecar.
    ChunkDone {
        /// Byte offsets of the chunk in the file.
        range: Range<u64>,
        /// URL of the source that served it.
        source: String,
        /// Bytes of the file written so far (this chunk included).
        done: u64,
        /// Size of the file, in bytes.
        total: u64,
    },
    /// A fetch from a source failed (its chunk goes back to the queue).
    SourceFailed {
        /// URL of the source.
        source: String,
        /// What went wrong (connection, status, bad `Content-Range`, stall, length).
        error: String,
        /// The source is dropped (`max_source_failures` failures in a row); otherwise it
        /// is retried after a pause.
        dropped: bool,
    },
    /// Bytes held so far (written, plus the fetched part of chunks in flight), with the
    /// sources still in use: for a progress display (at most one per body frame).
    Progress {
        /// Bytes held so far (never more than `total`).
        done: u64,
        /// Size of the file, in bytes.
        total: u64,
        /// Sources not dropped.
        sources: usize,
    },
    /// Every chunk is written; the SHA-1 check of the whole file begins.
    Verifying,
    /// The transfer part is over (the file is then verified and renamed, or the error
    /// returned).
    Transferred,
}

/// The caller's hook for [`DownloadEvent`]s; called from the fetch tasks, so it must be
/// quick (it runs while the download waits).
pub type EventHook = Arc<dyn Fn(&DownloadEvent) + Send + Sync>;

/// How a download fetches (the defaults are the `DEFAULT_*` constants).
#[derive(Clone)]
pub struct DownloadOptions {
    /// Bytes per chunk, the unit of one ranged `GET` (0 is taken as 1).
    pub chunk_size: u64,
    /// Longest wait for the TCP connect to a source.
    pub connect_timeout: Duration,
    /// Longest wait for a response head or the next body bytes before the source is
    /// stalled and its chunk goes to another.
    pub stall_timeout: Duration,
    /// Failures in a row after which a source is dropped.
    pub max_source_failures: u32,
    /// Pause before retrying a source, times its failures in a row (also the wait after a
    /// `503` without `Retry-After`).
    pub retry_backoff: Duration,
    /// Called with every [`DownloadEvent`]; `None`: nobody watches.
    pub on_event: Option<EventHook>,
    /// Sends the Pushes of `push://` sources; `None`: such sources cannot be used.
    pub pusher: Option<Arc<dyn Pusher>>,
    /// Our own listening address, if we have one: never taken as a source from the
    /// mesh's `X-Alt`.
    pub own_addr: Option<SocketAddr>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_source_failures: DEFAULT_MAX_SOURCE_FAILURES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            on_event: None,
            pusher: None,
            own_addr: None,
        }
    }
}

/// What to download.
#[derive(Clone)]
pub struct DownloadRequest {
    /// `http://host:port/get/<index>/<name>` or `.../uri-res/N2R?urn:sha1:...` URLs, or
    /// `push://<servent ID>:host:port/...` for firewalled sources (with
    /// [`DownloadOptions::pusher`]).
    pub sources: Vec<String>,
    /// The SHA-1 the file must have; when `None`, the one sources advertise (if any).
    pub sha1: Option<Sha1Digest>,
    /// Final path; `FILE.part` and `FILE.part.state` sit beside it.
    pub output: PathBuf,
    /// How to fetch.
    pub options: DownloadOptions,
}

/// What one source did in a download.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceReport {
    /// The source's URL.
    pub url: String,
    /// Bytes of this source written into the file.
    pub bytes: u64,
    /// Failed fetches from it in this run (all of them, not only the last in a row).
    pub failures: u32,
    /// Why the source was dropped, if it was.
    pub dropped: Option<String>,
}

/// A download that ended with the file in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DownloadReport {
    /// Where the file is (the requested output).
    pub path: PathBuf,
    /// Size of the file, in bytes.
    pub size: u64,
    /// `urn:sha1:...` of the file when known.
    pub sha1: Option<String>,
    /// Whether the SHA-1 was checked.
    pub verified: bool,
    /// Bytes fetched by this run.
    pub fetched: u64,
    /// Bytes already on disk from an earlier run.
    pub resumed: u64,
    /// Each usable source, in the order given, then the ones learned from the mesh (empty
    /// when the output already was the file asked for).
    pub sources: Vec<SourceReport>,
}

/// Why a download did not put the file in place.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The request named no source.
    #[error("no source given")]
    NoSources,
    /// A source is not a valid `http://` URL.
    #[error(transparent)]
    Url(#[from] ClientError),
    /// Every source failed its probe (`HEAD`), serves another file (other size or SHA-1),
    /// or none told a size: each source's URL with its reason.
    #[error("no source can be used:{}", list(.0))]
    NoUsableSource(Vec<(String, String)>),
    /// The output exists and is not the file asked for (its SHA-1 differs, or no SHA-1 is
    /// known to check it by); nothing is overwritten.
    #[error("{} already exists (and is not the file asked for): remove it or choose another output", .0.display())]
    Exists(PathBuf),
    /// A local file (output, `FILE.part`, the sidecar or their directory) could not be
    /// read, written, synced or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    #[error(
        "every source failed with {missing} of {total} bytes missing; the bytes fetched are kept in {} and running the same command again resumes:{}",
        part.display(), list(errors)
    )]
    /// Every source was dropped (or a local write failed) with bytes still missing; what
    /// was fetched stays in `FILE.part` for the next run to resume.
    AllSourcesFailed {
        /// Bytes not written, out of `total`.
        missing: u64,
        /// Size of the file, in bytes.
        total: u64,
        /// The `FILE.part` holding what was fetched.
        part: PathBuf,
        /// Each source's URL with why it was dropped.
        errors: Vec<(String, String)>,
    },
    #[error(
        "SHA-1 mismatch: expected urn:sha1:{expected} but the assembled file is urn:sha1:{actual}. Nothing was put in place; {} and its state are kept (remove both to start over). Bytes written per source:{}",
        part.display(), list(by_source)
    )]
    /// Every byte was written but the file's SHA-1 is not the one asked for (or
    /// advertised); `FILE.part` and its sidecar are kept, nothing is renamed.
    HashMismatch {
        /// The SHA-1 the file must have (base32, without `urn:sha1:`).
        expected: String,
        /// The SHA-1 of the assembled file (base32, without `urn:sha1:`).
        actual: String,
        /// The `FILE.part` holding the assembled file.
        part: PathBuf,
        /// Bytes and chunks each source wrote (and earlier runs' share), to find the
        /// source to blame.
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

/// Downloads one file. See the module documentation.
pub async fn download(req: DownloadRequest) -> Result<DownloadReport, DownloadError> {
    if req.sources.is_empty() {
        return Err(DownloadError::NoSources);
    }
    let urls: Vec<source::SourceUrl> = req
        .sources
        .iter()
        .map(|s| source::SourceUrl::parse(s))
        .collect::<Result<_, _>>()?;
    let (part, state_path) = part_paths(&req.output);
    let probed = probe::probe_sources(urls, req.sha1, &req.options).await?;
    if let Some(done) = part::already_in_place(&req.output, probed.expected, probed.size).await? {
        return Ok(done);
    }
    let (file, state) = part::open(
        &req.output,
        &part,
        &state_path,
        probed.size,
        probed.expected,
    )?;
    run::run(req, probed, file, state, part, state_path).await
}
