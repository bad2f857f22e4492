//! One download in progress, as its fetch tasks share it: the scheduler and the sources
//! behind one lock (with the wake-ups of idle sources), the part file and the sidecar
//! saves, and the download mesh's side of it: sources learned from `X-Alt` join the
//! running download (bounded, deduplicated, never our own address), and each request
//! tells the sources we verified and the ones that failed. Every decision goes through
//! the scheduler and every event out through the caller's hook.

use std::fs::File;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};

use crate::http::client::HttpUrl;
use crate::library::hash::{self, Sha1Digest};
use crate::rt;

use super::sched::{Job, Scheduler, SourceId, Transfer};
use super::source::{Endpoint, FetchError};
use super::state::RangeSet;
use super::{DownloadEvent, DownloadOptions};

/// What a fetch task does next (a [`Job`] with the wake-up to wait on).
pub(super) enum Next {
    Fetch(Range<u64>),
    Pause(Duration),
    Wait(oneshot::Receiver<()>),
    Stop,
}

/// Sources a download takes from the mesh (`X-Alt`) beyond the ones it was given: plenty
/// to spread a file over, few enough that a hostile server cannot make us dial the world.
pub(super) const MAX_LEARNED_SOURCES: usize = 16;

struct Locked {
    sched: Scheduler,
    /// Every source, by [`SourceId`] (given ones first, then learned ones).
    endpoints: Vec<Arc<Endpoint>>,
    /// Sources learned so far.
    learned: usize,
    /// Idle fetch tasks, woken on any change of the schedule.
    waiters: Vec<oneshot::Sender<()>>,
    /// Fired once when the last byte is written.
    done_signal: Option<oneshot::Sender<()>>,
}

impl Locked {
    fn notify(&mut self) {
        for w in self.waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

pub(super) struct Shared {
    locked: Mutex<Locked>,
    /// Where a learned source's id goes for the run loop to start its worker.
    new_sources: mpsc::UnboundedSender<SourceId>,
    /// The file's SHA-1: learned sources are asked for it by `/uri-res/N2R`.
    expected: Option<Sha1Digest>,
    file: Arc<File>,
    pub part: PathBuf,
    pub state_path: PathBuf,
    pub size: u64,
    pub options: DownloadOptions,
    save_lock: Mutex<()>,
    finished: AtomicBool,
    /// The scheduler's clock starts here.
    started: Instant,
}

impl Shared {
    /// The state of a download about to start, the signal fired when its last byte is
    /// written, and where sources learned mid-download come out.
    pub(super) fn new(
        sched: Scheduler,
        endpoints: Vec<Endpoint>,
        expected: Option<Sha1Digest>,
        file: File,
        paths: (PathBuf, PathBuf),
        size: u64,
        options: DownloadOptions,
    ) -> (
        Shared,
        oneshot::Receiver<()>,
        mpsc::UnboundedReceiver<SourceId>,
    ) {
        let (done_tx, done_rx) = oneshot::channel();
        let (new_tx, new_rx) = mpsc::unbounded();
        let (part, state_path) = paths;
        let shared = Shared {
            locked: Mutex::new(Locked {
                sched,
                endpoints: endpoints.into_iter().map(Arc::new).collect(),
                learned: 0,
                waiters: Vec::new(),
                done_signal: Some(done_tx),
            }),
            new_sources: new_tx,
            expected,
            file: Arc::new(file),
            part,
            state_path,
            size,
            options,
            save_lock: Mutex::new(()),
            finished: AtomicBool::new(false),
            started: Instant::now(),
        };
        (shared, done_rx, new_rx)
    }

    fn locked(&self) -> MutexGuard<'_, Locked> {
        self.locked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the scheduler.
    pub(super) fn with_sched<T>(&self, f: impl FnOnce(&mut Scheduler) -> T) -> T {
        f(&mut self.locked().sched)
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) fn endpoint(&self, id: SourceId) -> Arc<Endpoint> {
        Arc::clone(&self.locked().endpoints[id])
    }

    /// Sources an `X-Alt` named: each one new (not a source yet, not our own address)
    /// joins the download, asked for the file by its SHA-1, up to
    /// [`MAX_LEARNED_SOURCES`]. Without a SHA-1 there is no mesh (nothing to ask by).
    pub(super) fn learn(&self, addrs: &[SocketAddr]) {
        let Some(sha1) = self.expected else {
            return;
        };
        let own = self.options.own_addr;
        let mut added = Vec::new();
        {
            let mut l = self.locked();
            for &addr in addrs {
                if l.learned >= MAX_LEARNED_SOURCES {
                    break;
                }
                if Some(addr) == own || l.endpoints.iter().any(|e| e.addr == Some(addr)) {
                    continue;
                }
                let label = format!("http://{addr}/uri-res/N2R?{}", hash::urn(&sha1));
                let Ok(url) = HttpUrl::parse(&label) else {
                    continue;
                };
                let id = l.sched.add_source(label.clone());
                l.endpoints
                    .push(Arc::new(super::probe::endpoint(url, label, addr, None)));
                l.learned += 1;
                added.push(id);
            }
        }
        for id in added {
            log::info!("source {} learned from the mesh", self.endpoint(id).label);
            let _ = self.new_sources.unbounded_send(id);
        }
    }

    /// What a request to `id` tells of the others: `X-Alt` (sources that served us and
    /// are in use) and `X-Nalt` (sources dropped), by address, `id` itself left out.
    pub(super) fn mesh_for(&self, id: SourceId) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let l = self.locked();
        let (good, bad) = l.sched.good_and_bad();
        let addrs = |ids: Vec<SourceId>| -> Vec<SocketAddr> {
            ids.into_iter()
                .filter(|&i| i != id)
                .filter_map(|i| l.endpoints[i].addr)
                .take(crate::http::alt::MAX_ALTS_SENT)
                .collect()
        };
        (addrs(good), addrs(bad))
    }

    /// `id` said what it holds (`X-Available-Ranges`).
    pub(super) fn set_available(&self, id: SourceId, available: RangeSet) {
        let mut l = self.locked();
        l.sched.set_available(id, available);
        l.notify();
    }

    pub(super) fn emit(&self, e: DownloadEvent) {
        if let Some(hook) = &self.options.on_event {
            hook(&e);
        }
    }

    /// Writes the latest state (unless the download finished meanwhile).
    pub(super) fn save_state(&self) -> std::io::Result<()> {
        let _one = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let state = self.locked().sched.state().clone();
        state.save(&self.state_path)
    }

    /// Marks the download finished (no more sidecar saves) and runs `f` (the rename).
    pub(super) fn finished<T>(&self, f: impl FnOnce() -> T) -> T {
        let _one = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.finished.store(true, Ordering::Release);
        f()
    }

    pub(super) fn file(&self) -> &File {
        &self.file
    }

    pub(super) fn next_job(&self, id: SourceId) -> Next {
        let now = self.now();
        let mut l = self.locked();
        match l.sched.next_job(id, now) {
            Job::Fetch(r) => Next::Fetch(r),
            Job::Pause(p) => Next::Pause(p),
            Job::Stop => Next::Stop,
            Job::Wait => {
                let (tx, rx) = oneshot::channel();
                l.waiters.push(tx);
                Next::Wait(rx)
            }
        }
    }

    /// A frame of `range` arrived (`buffered`: bytes of it held so far, for a data frame).
    pub(super) fn progress(
        &self,
        id: SourceId,
        range: &Range<u64>,
        buffered: Option<u64>,
    ) -> Transfer {
        let now = self.now();
        let (transfer, done, live) = {
            let mut l = self.locked();
            let t = l.sched.handle_progress(id, range, now);
            (t, l.sched.done(), l.sched.live_sources())
        };
        if let Some(b) = buffered {
            self.emit(DownloadEvent::Progress {
                done: (done + b).min(self.size),
                total: self.size,
                sources: live,
            });
        }
        transfer
    }

    pub(super) fn stall_wait(&self, id: SourceId, range: &Range<u64>) -> Option<Duration> {
        let now = self.now();
        self.locked().sched.stall_wait(id, range, now)
    }

    pub(super) fn abandon(&self, id: SourceId, range: &Range<u64>) {
        let mut l = self.locked();
        l.sched.handle_abandoned(id, range);
        l.notify();
    }

    /// Records a failure (the scheduler decides: retry later, or drop the source).
    pub(super) fn fail(&self, id: SourceId, range: &Range<u64>, e: &FetchError) {
        let now = self.now();
        let failed = {
            let mut l = self.locked();
            let f = l
                .sched
                .handle_failure(id, range, e.failure(), &e.to_string(), now);
            l.notify();
            f
        };
        let label = failed.label;
        let text = if failed.dropped {
            format!("source {label} dropped: {e}")
        } else {
            format!("source {label}: {e}; retrying")
        };
        log::info!("{text}");
        self.emit(DownloadEvent::SourceFailed {
            source: label,
            error: e.to_string(),
            dropped: failed.dropped,
        });
    }

    /// Writes a complete chunk (once, whichever source delivered it first), syncs it, then
    /// records it in the state file.
    /// Writes `data` (the first `data.len()` bytes of `range`, all of it or a server's
    /// shorter answer) and records it.
    pub(super) async fn commit(self: &Arc<Self>, id: SourceId, range: Range<u64>, data: Bytes) {
        if !self.locked().sched.begin_write(id, &range) {
            return;
        }
        let file = Arc::clone(&self.file);
        let start = range.start;
        // A short answer (a 206 for the start of the chunk) commits what it served; the
        // scheduler queues the rest again.
        let data_len = (data.len() as u64).min(range.end - range.start);
        let written = rt::spawn_blocking(move || {
            file.write_all_at(&data, start)?;
            file.sync_data()
        })
        .await;
        if let Err(e) = written {
            // A local write error is not the source's fault, but nothing can go on.
            log::error!("writing {}: {e}", self.part.display());
            let mut l = self.locked();
            l.sched.handle_write_failed(&range, &e.to_string());
            l.notify();
            return;
        }
        let committed = {
            let mut l = self.locked();
            let served = range.start..range.start + data_len;
            let c = l.sched.handle_written(id, &range, served);
            l.notify();
            c
        };
        let saver = Arc::clone(self);
        if let Err(e) = rt::spawn_blocking(move || saver.save_state()).await {
            log::warn!("saving {}: {e}", self.state_path.display());
        }
        let live = self.locked().sched.live_sources();
        self.emit(DownloadEvent::Progress {
            done: committed.done,
            total: self.size,
            sources: live,
        });
        self.emit(DownloadEvent::ChunkDone {
            range,
            source: committed.label,
            done: committed.done,
            total: self.size,
        });
        if committed.complete {
            if let Some(tx) = self.locked().done_signal.take() {
                let _ = tx.send(());
            }
        }
    }
}
