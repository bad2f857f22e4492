//! Runs one download: builds its shared state, starts a fetch task per source, waits for
//! the file to be complete (or every source to be gone), then finishes it.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::{self, Either};

use super::fetch::worker;
use super::finish::finish;
use super::probe::Probed;
use super::sched::{SchedConfig, Scheduler};
use super::shared::Shared;
use super::state::PartState;
use super::{DownloadError, DownloadEvent, DownloadReport, DownloadRequest};

/// Fetches what `state` is missing from the probed sources into `file`, then finishes
/// (verify and rename, or report what is missing).
pub(super) async fn run(
    req: DownloadRequest,
    probed: Probed,
    file: File,
    state: PartState,
    part: PathBuf,
    state_path: PathBuf,
) -> Result<DownloadReport, DownloadError> {
    let opts = req.options;
    let size = probed.size;
    let resumed = state.done.len();
    let cfg = SchedConfig {
        chunk_size: opts.chunk_size,
        max_source_failures: opts.max_source_failures,
        retry_backoff: opts.retry_backoff,
        stall_timeout: opts.stall_timeout,
    };
    let labels = probed.endpoints.iter().map(|e| e.label.clone()).collect();
    let sched = Scheduler::new(state, cfg, labels);
    let complete = sched.is_complete();
    let n_sources = probed.endpoints.len();
    let (shared, done_rx) =
        Shared::new(sched, probed.endpoints, file, part, state_path, size, opts);
    let shared = Arc::new(shared);
    shared.emit(DownloadEvent::Started {
        total: size,
        already: resumed,
        sources: n_sources,
    });
    if !complete {
        let workers = future::join_all(
            probed
                .conns
                .into_iter()
                .enumerate()
                .map(|(i, c)| worker(&shared, i, c)),
        );
        futures::pin_mut!(workers);
        match future::select(workers, done_rx).await {
            Either::Left(_) | Either::Right(_) => {}
        }
    }
    shared.emit(DownloadEvent::Transferred);
    finish(&shared, &req.output, probed.expected, resumed).await
}
