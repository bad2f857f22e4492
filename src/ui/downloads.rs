//! Downloads started from the page: one multi-source, SHA-1-verified download
//! ([`crate::download::download`]) per entry, into the download directory under a name
//! that cannot leave it ([`safe_name`]). Pause stops the transfer and keeps `FILE.part`
//! and its sidecar (resume starts it again from there); cancel stops it and removes
//! them, so nothing half-written stays behind. At most [`MAX_ACTIVE_DOWNLOADS`] run at
//! once; the others wait, queued. Each change is published as a `download` event
//! (progress at most every [`PROGRESS_EVERY`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::future::{AbortHandle, Abortable};
use serde_json::{json, Value};

use crate::download::state::part_paths;
use crate::download::{
    download, sanitize_name, DownloadError, DownloadEvent, DownloadOptions, DownloadReport,
    DownloadRequest,
};
use crate::library::hash::Sha1Digest;
use crate::rt::{self, JoinHandle};

use super::api::ApiError;
use super::push::NodePusher;
use super::Ui;

/// Downloads transferring at once; more wait, queued, and start as others end.
pub const MAX_ACTIVE_DOWNLOADS: usize = 4;
/// Downloads remembered (finished ones included); one more is refused until the list is
/// shorter (cancelled and finished ones are forgotten first).
pub const MAX_DOWNLOADS: usize = 256;
/// A progress event per download at most this often: the page redraws smoothly and a
/// fast transfer does not flood the event stream.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Recent source failures kept per download, shown on the page.
const SOURCE_ERRORS_KEPT: usize = 5;
/// Speed is measured over windows of at least this long.
const SPEED_WINDOW: Duration = Duration::from_millis(500);

/// Where a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadState {
    /// Transferring (or probing its sources, or verifying).
    Running,
    /// Stopped by the user; `FILE.part` is kept.
    Paused,
    /// Waiting for a free place among the active downloads.
    Queued,
    /// In place (verified when its SHA-1 was known).
    Done,
    /// Ended without the file in place (see its error).
    Failed,
    /// Stopped by the user and its partial file removed.
    Cancelled,
}

impl DownloadState {
    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            DownloadState::Running => "running",
            DownloadState::Paused => "paused",
            DownloadState::Queued => "queued",
            DownloadState::Done => "done",
            DownloadState::Failed => "failed",
            DownloadState::Cancelled => "cancelled",
        }
    }

    fn is_over(self) -> bool {
        matches!(
            self,
            DownloadState::Done | DownloadState::Failed | DownloadState::Cancelled
        )
    }
}

/// A file name for the download directory: one plain path component, no separator,
/// NUL or control character, not hidden, not `.` or `..`; `None` when there is none.
pub fn safe_name(name: &str) -> Option<String> {
    let name = sanitize_name(name)?;
    if name.chars().any(char::is_control) {
        return None;
    }
    let mut parts = Path::new(&name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) => Some(name),
        _ => None,
    }
}

struct Task {
    abort: AbortHandle,
    join: JoinHandle<()>,
}

struct Entry {
    name: String,
    path: PathBuf,
    size: Option<u64>,
    done: u64,
    sources: usize,
    state: DownloadState,
    verdict: Option<&'static str>,
    error: Option<String>,
    source_errors: VecDeque<String>,
    request: DownloadRequest,
    /// Sources for a second try when no source of the first could be used.
    fallback: Option<Vec<String>>,
    task: Option<Task>,
    /// Bumped at every start: events of an earlier run are ignored.
    run: u64,
    speed_bps: f64,
    speed_mark: Option<(Instant, u64)>,
    last_event: Option<Instant>,
}

impl Entry {
    fn json(&self, id: u64) -> Value {
        let left = self.size.map(|s| s.saturating_sub(self.done));
        let eta = match (left, self.state) {
            (Some(l), DownloadState::Running) if self.speed_bps > 0.0 => {
                Some((l as f64 / self.speed_bps).ceil() as u64)
            }
            _ => None,
        };
        json!({
            "id": id, "name": self.name, "size": self.size, "done": self.done,
            "speed_bps": if self.state == DownloadState::Running { self.speed_bps.round() as u64 } else { 0 },
            "sources": self.sources, "eta_s": eta, "state": self.state.name(),
            "verdict": self.verdict, "error": self.error,
            "source_errors": self.source_errors,
        })
    }

    fn measure(&mut self, now: Instant) {
        match self.speed_mark {
            Some((t, bytes)) if now.duration_since(t) >= SPEED_WINDOW => {
                let rate =
                    self.done.saturating_sub(bytes) as f64 / now.duration_since(t).as_secs_f64();
                self.speed_bps = if self.speed_bps == 0.0 {
                    rate
                } else {
                    0.5 * self.speed_bps + 0.5 * rate
                };
                self.speed_mark = Some((now, self.done));
            }
            Some(_) => {}
            None => self.speed_mark = Some((now, self.done)),
        }
    }
}

/// Every download of the interface, by ID.
#[derive(Default)]
pub struct Downloads {
    next_id: u64,
    by_id: BTreeMap<u64, Entry>,
}

/// What the page asks to download.
pub struct NewDownload {
    /// The name asked for (made safe, or refused).
    pub name: String,
    /// Source URLs (`http://...`, or `push://...` for firewalled servents).
    pub sources: Vec<String>,
    /// The sources to try instead when none of `sources` can be used (every one by Push).
    pub fallback: Option<Vec<String>>,
    /// The SHA-1 the file must have, when known.
    pub sha1: Option<Sha1Digest>,
    /// The size when known (shown before the transfer starts).
    pub size: Option<u64>,
}

impl Ui {
    /// Adds a download (running at once, or queued); returns its ID.
    pub fn add_download(self: &Arc<Self>, new: NewDownload) -> Result<u64, ApiError> {
        let name = safe_name(&new.name).ok_or_else(|| {
            ApiError::bad(format!(
                "{:?} cannot be a file name in the download directory",
                new.name
            ))
        })?;
        if new.sources.is_empty() {
            return Err(ApiError::bad("no source to download from".to_owned()));
        }
        let dir = &self.config.download_dir;
        std::fs::create_dir_all(dir).map_err(|e| {
            ApiError::new(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}: {e}", dir.display()),
            )
        })?;
        let path = dir.join(&name);
        let id = {
            let mut all = self.downloads();
            if all
                .by_id
                .values()
                .any(|e| e.path == path && !e.state.is_over())
            {
                return Err(ApiError::new(
                    hyper::StatusCode::CONFLICT,
                    format!("{name} is already being downloaded"),
                ));
            }
            if all.by_id.len() >= MAX_DOWNLOADS {
                let old = all
                    .by_id
                    .iter()
                    .find(|(_, e)| e.state.is_over())
                    .map(|(id, _)| *id);
                match old {
                    Some(old) => drop(all.by_id.remove(&old)),
                    None => {
                        return Err(ApiError::new(
                            hyper::StatusCode::TOO_MANY_REQUESTS,
                            "too many downloads".to_owned(),
                        ))
                    }
                }
            }
            all.next_id += 1;
            let id = all.next_id;
            let request = DownloadRequest {
                sources: new.sources.clone(),
                sha1: new.sha1,
                output: path.clone(),
                options: DownloadOptions {
                    own_addr: Some(self.node.listen_addr()),
                    pusher: Some(Arc::new(NodePusher(self.node.clone()))),
                    ..DownloadOptions::default()
                },
            };
            all.by_id.insert(
                id,
                Entry {
                    name,
                    path,
                    size: new.size,
                    done: 0,
                    sources: new.sources.len(),
                    state: DownloadState::Queued,
                    verdict: None,
                    error: None,
                    source_errors: VecDeque::new(),
                    request,
                    fallback: new.fallback.filter(|f| *f != new.sources),
                    task: None,
                    run: 0,
                    speed_bps: 0.0,
                    speed_mark: None,
                    last_event: None,
                },
            );
            id
        };
        self.start_queued();
        self.publish_download(id);
        Ok(id)
    }

    /// Starts queued downloads while fewer than [`MAX_ACTIVE_DOWNLOADS`] run.
    fn start_queued(self: &Arc<Self>) {
        let started: Vec<u64> = {
            let mut all = self.downloads();
            let running = all
                .by_id
                .values()
                .filter(|e| e.state == DownloadState::Running)
                .count();
            let queued: Vec<u64> = all
                .by_id
                .iter()
                .filter(|(_, e)| e.state == DownloadState::Queued)
                .map(|(id, _)| *id)
                .take(MAX_ACTIVE_DOWNLOADS.saturating_sub(running))
                .collect();
            for id in &queued {
                if let Some(e) = all.by_id.get_mut(id) {
                    self.spawn_run(*id, e);
                }
            }
            queued
        };
        for id in started {
            self.publish_download(id);
        }
    }

    /// Starts one run of the download `e` (under the downloads lock).
    fn spawn_run(self: &Arc<Self>, id: u64, e: &mut Entry) {
        e.run += 1;
        e.state = DownloadState::Running;
        e.error = None;
        e.speed_bps = 0.0;
        e.speed_mark = None;
        let run = e.run;
        let mut req = e.request.clone();
        let weak: Weak<Ui> = Arc::downgrade(self);
        let hook = weak.clone();
        req.options.on_event = Some(Arc::new(move |ev: &DownloadEvent| {
            if let Some(ui) = hook.upgrade() {
                ui.on_download_event(id, run, ev);
            }
        }));
        let (abort, reg) = AbortHandle::new_pair();
        let join = rt::spawn_joinable(async move {
            if let Ok(result) = Abortable::new(download(req), reg).await {
                if let Some(ui) = weak.upgrade() {
                    ui.on_download_end(id, run, result);
                }
            }
        });
        e.task = Some(Task { abort, join });
    }

    fn on_download_event(&self, id: u64, run: u64, ev: &DownloadEvent) {
        let publish = {
            let mut all = self.downloads();
            let Some(e) = all.by_id.get_mut(&id).filter(|e| e.run == run) else {
                return;
            };
            let now = Instant::now();
            let mut urgent = false;
            match ev {
                DownloadEvent::Started {
                    total,
                    already,
                    sources,
                } => {
                    e.size = Some(*total);
                    e.done = *already;
                    e.sources = *sources;
                    e.speed_mark = Some((now, *already));
                    urgent = true;
                }
                DownloadEvent::Progress {
                    done,
                    total,
                    sources,
                } => {
                    e.size = Some(*total);
                    e.done = *done;
                    e.sources = *sources;
                }
                DownloadEvent::ChunkDone { done, .. } => e.done = e.done.max(*done),
                DownloadEvent::SourceFailed {
                    source,
                    error,
                    dropped,
                } => {
                    let what = if *dropped { "dropped" } else { "will retry" };
                    e.source_errors
                        .push_back(format!("{source}: {error} ({what})"));
                    while e.source_errors.len() > SOURCE_ERRORS_KEPT {
                        e.source_errors.pop_front();
                    }
                    urgent = true;
                }
                DownloadEvent::Verifying | DownloadEvent::Transferred => urgent = true,
            }
            e.measure(now);
            let due = e
                .last_event
                .is_none_or(|t| now.duration_since(t) >= PROGRESS_EVERY);
            if urgent || due {
                e.last_event = Some(now);
                Some(e.json(id))
            } else {
                None
            }
        };
        if let Some(v) = publish {
            self.events.publish("download", v);
        }
    }

    fn on_download_end(
        self: &Arc<Self>,
        id: u64,
        run: u64,
        result: Result<DownloadReport, DownloadError>,
    ) {
        {
            let mut all = self.downloads();
            let Some(e) = all.by_id.get_mut(&id).filter(|e| e.run == run) else {
                return;
            };
            e.task = None;
            match result {
                Err(DownloadError::NoUsableSource(why)) if e.fallback.is_some() => {
                    // No direct connect worked: ask every source to push.
                    e.source_errors.push_back(format!(
                        "no source could be used directly ({} failed): asking them by Push",
                        why.len()
                    ));
                    e.request.sources = e.fallback.take().unwrap_or_default();
                    self.spawn_run(id, e);
                }
                Ok(report) => {
                    e.state = DownloadState::Done;
                    e.size = Some(report.size);
                    e.done = report.size;
                    e.verdict = report.verified.then_some("verified");
                }
                Err(err) => {
                    e.state = DownloadState::Failed;
                    if matches!(err, DownloadError::HashMismatch { .. }) {
                        e.verdict = Some("mismatch");
                    }
                    e.error = Some(err.to_string());
                }
            }
        }
        self.publish_download(id);
        self.start_queued();
    }

    /// Stops the run of download `id`, if any, and waits until it let go of its files.
    async fn stop_run(&self, id: u64) {
        let task = self
            .downloads()
            .by_id
            .get_mut(&id)
            .and_then(|e| e.task.take());
        if let Some(t) = task {
            t.abort.abort();
            t.join.await;
        }
    }

    /// `pause`, `resume` or `cancel` on download `id`; answers its object.
    pub async fn download_action(
        self: &Arc<Self>,
        id: u64,
        action: &str,
    ) -> Result<Value, ApiError> {
        let state = self
            .downloads()
            .by_id
            .get(&id)
            .map(|e| e.state)
            .ok_or_else(|| ApiError::not_found(format!("no download {id}")))?;
        match action {
            "pause" if matches!(state, DownloadState::Running | DownloadState::Queued) => {
                self.stop_run(id).await;
                self.set_state(id, DownloadState::Paused);
                self.start_queued();
            }
            "resume" if matches!(state, DownloadState::Paused | DownloadState::Failed) => {
                self.set_state(id, DownloadState::Queued);
                self.start_queued();
            }
            "cancel" if !matches!(state, DownloadState::Done | DownloadState::Cancelled) => {
                self.stop_run(id).await;
                let path = self.downloads().by_id.get(&id).map(|e| e.path.clone());
                if let Some(path) = path {
                    let (part, sidecar) = part_paths(&path);
                    for p in [part, sidecar] {
                        if let Err(e) = std::fs::remove_file(&p) {
                            if e.kind() != std::io::ErrorKind::NotFound {
                                log::warn!("cannot remove {}: {e}", p.display());
                            }
                        }
                    }
                }
                self.set_state(id, DownloadState::Cancelled);
                self.start_queued();
            }
            "pause" | "resume" | "cancel" => {
                return Err(ApiError::new(
                    hyper::StatusCode::CONFLICT,
                    format!("cannot {action} a download that is {}", state.name()),
                ))
            }
            _ => return Err(ApiError::not_found(format!("no action {action:?}"))),
        }
        self.publish_download(id);
        self.download_json(id)
            .ok_or_else(|| ApiError::not_found(format!("no download {id}")))
    }

    fn set_state(&self, id: u64, state: DownloadState) {
        // A download that ended in place meanwhile stays done.
        if let Some(e) = self
            .downloads()
            .by_id
            .get_mut(&id)
            .filter(|e| e.state != DownloadState::Done)
        {
            e.state = state;
            if state != DownloadState::Running {
                e.run += 1;
            }
        }
    }

    fn publish_download(&self, id: u64) {
        if let Some(v) = self.download_json(id) {
            self.events.publish("download", v);
        }
    }

    /// One download's object.
    pub fn download_json(&self, id: u64) -> Option<Value> {
        self.downloads().by_id.get(&id).map(|e| e.json(id))
    }

    /// `GET /api/v1/downloads`: every download, oldest first.
    pub fn download_list(&self) -> Value {
        let all = self.downloads();
        Value::Array(all.by_id.iter().map(|(id, e)| e.json(*id)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_directory_are_refused() {
        for bad in [
            "..",
            ".",
            "../x",
            "a/b",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            "",
            "  ",
            ".hidden",
            "x\ny",
        ] {
            assert_eq!(safe_name(bad), None, "{bad:?}");
        }
        assert_eq!(safe_name("linux 1.iso").as_deref(), Some("linux 1.iso"));
        assert_eq!(safe_name(" a.txt ").as_deref(), Some("a.txt"));
    }
}
