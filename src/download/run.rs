//! Runs one download: builds its shared state, starts a fetch task per source (and one
//! per source the mesh teaches on the way), waits for the file to be complete (or every
//! source to be gone), then finishes it.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::future::{self, Either};
use futures::stream::{FuturesUnordered, StreamExt};

use crate::http::client::Connection;

use super::fetch::worker;
use super::finish::finish;
use super::probe::Probed;
use super::sched::{SchedConfig, Scheduler, SourceId};
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
    let mut sched = Scheduler::new(state, cfg, labels);
    for (id, av) in probed.available.into_iter().enumerate() {
        if let Some(av) = av {
            sched.set_available(id, av);
        }
    }
    let complete = sched.is_complete();
    let n_sources = probed.endpoints.len();
    let (shared, done_rx, new_rx) = Shared::new(
        sched,
        probed.endpoints,
        probed.expected,
        file,
        (part, state_path),
        size,
        opts,
    );
    let shared = Arc::new(shared);
    shared.emit(DownloadEvent::Started {
        total: size,
        already: resumed,
        sources: n_sources,
    });
    if !complete {
        shared.learn(&probed.alts);
        let all = run_workers(&shared, probed.conns, new_rx);
        futures::pin_mut!(all);
        match future::select(all, done_rx).await {
            Either::Left(_) | Either::Right(_) => {}
        }
    }
    shared.emit(DownloadEvent::Transferred);
    finish(&shared, &req.output, probed.expected, resumed).await
}

/// Drives a worker per source until none is left, starting one for each source learned
/// meanwhile (a worker that learns a source sends it before it ends, so none is missed).
async fn run_workers(
    shared: &Arc<Shared>,
    conns: Vec<Option<Connection>>,
    mut new_rx: mpsc::UnboundedReceiver<SourceId>,
) {
    let mut workers: FuturesUnordered<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| worker(shared, i, c))
        .collect();
    loop {
        while let Ok(id) = new_rx.try_recv() {
            workers.push(worker(shared, id, None));
        }
        if workers.is_empty() {
            return;
        }
        let next_worker = workers.next();
        let next_source = new_rx.next();
        if let Either::Right((Some(id), _)) = future::select(next_worker, next_source).await {
            workers.push(worker(shared, id, None));
        }
    }
}
