//! The sans-IO chunk scheduler: which byte range goes to which source, what happens when a
//! source fails, stalls or is busy, when a chunk is written and when the whole file is
//! ready to verify. No locks, no I/O, no clock: the caller passes `now` (time since the
//! download started) and acts on the decisions returned.
//!
//! Rules (the ones `servent get` has always followed):
//! - each source takes the next missing chunk ([`Scheduler::next_job`]);
//! - a chunk whose source fails goes back to the front of the queue, and the source pauses
//!   (`retry_backoff` times its failures in a row, or the `Retry-After` of a busy answer);
//! - a source failing `max_source_failures` times in a row is dropped;
//! - a fetch that sees no bytes for `stall_timeout` is stalled ([`Scheduler::stall_wait`])
//!   and fails like any other;
//! - when nothing is left to start, an idle source also fetches a chunk still in flight
//!   elsewhere (end game, [`MAX_FETCHERS_PER_CHUNK`]); the first copy written wins;
//! - a write commits a byte range ([`Scheduler::handle_written`]); a range shorter than the
//!   chunk puts the rest back at the front of the queue;
//! - a busy or queued source (`503` with `Retry-After`, `X-Queue`) is not failing: it
//!   waits what it was told and is asked again, never dropped for being busy until it has
//!   kept us waiting [`MAX_QUEUED_WAIT`] in all;
//! - a partial source (its `X-Available-Ranges`, [`Scheduler::set_available`]) is given
//!   only ranges it holds; with none we need, it is asked again after
//!   [`PARTIAL_RECHECK`] (what it holds grows), within the same total wait;
//! - sources learned mid-download (the mesh's `X-Alt`) join with
//!   [`Scheduler::add_source`].

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use super::state::{PartState, RangeSet, Served};
use super::SourceReport;

/// Sources fetching one chunk at once: its first source plus one end-game helper, so a
/// slow source cannot hold the last chunks back while the others' bandwidth stays shared.
pub(super) const MAX_FETCHERS_PER_CHUNK: usize = 2;

/// Longest a source may keep us waiting, in all, without serving a byte (busy, queued,
/// or holding nothing we need): a queue at a popular servent takes minutes, but one that
/// never moves must not hold the download's end forever.
pub(super) const MAX_QUEUED_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long a partial source holding nothing we need waits before it is asked again
/// (the file it is downloading grows meanwhile).
pub(super) const PARTIAL_RECHECK: Duration = Duration::from_secs(30);

/// Index of a source, in the order given to [`Scheduler::new`] then added.
pub(super) type SourceId = usize;

/// The scheduling knobs (from [`super::DownloadOptions`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct SchedConfig {
    /// Bytes per chunk (at least 1).
    pub chunk_size: u64,
    /// Failures in a row after which a source is dropped.
    pub max_source_failures: u32,
    /// Pause after a failure, times the failures in a row.
    pub retry_backoff: Duration,
    /// No bytes for this long: the fetch is stalled.
    pub stall_timeout: Duration,
}

/// What a source should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Job {
    /// Fetch this chunk.
    Fetch(Range<u64>),
    /// Wait this long (backing off after a failure), then ask again.
    Pause(Duration),
    /// Nothing to start: ask again when the schedule changes.
    Wait,
    /// Done (the file is complete, or this source was dropped).
    Stop,
}

/// Whether a running fetch should go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transfer {
    Continue,
    /// The chunk was written (or is being written) from another source.
    Abandon,
}

/// How a fetch failed, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// `503` with a `Retry-After` or a queue position (already capped): pause that long;
    /// not a failure (the source is honest, only busy).
    Busy { retry_after: Duration },
    /// `416` naming the ranges the source holds (a partial source): not a failure either;
    /// it is given those ranges from now on.
    Unavailable,
    /// Anything else (connection lost, bad answer, stalled).
    Error,
}

/// What a failure led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failed {
    pub label: String,
    /// The source is dropped (too many failures in a row).
    pub dropped: bool,
}

/// A range written and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Committed {
    pub label: String,
    /// Bytes of the file written so far.
    pub done: u64,
    /// Every byte is written: verify.
    pub complete: bool,
}

/// How the download ends once no source fetches any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    /// Every byte is written: check the hash (when known) and put the file in place.
    Verify,
    /// Sources are all gone with bytes missing; each source's reason.
    AllSourcesFailed {
        missing: u64,
        total: u64,
        errors: Vec<(String, String)>,
    },
}

struct Source {
    label: String,
    failures: u32,
    total_failures: u32,
    bytes: u64,
    dead: Option<String>,
    paused_until: Option<Duration>,
    /// What the source holds (`None`: the whole file).
    available: Option<RangeSet>,
    /// Since when it has kept us waiting without serving (busy, queued, nothing we need).
    waiting_since: Option<Duration>,
    /// A partial source's recheck is due: give it a chunk whatever it held.
    recheck: bool,
    /// Dropped for failing (not for a queue's wait, nor our own write error): a source
    /// our requests report bad (`X-Nalt`).
    bad: bool,
}

impl Source {
    fn new(label: String) -> Source {
        Source {
            label,
            failures: 0,
            total_failures: 0,
            bytes: 0,
            dead: None,
            paused_until: None,
            available: None,
            waiting_since: None,
            recheck: false,
            bad: false,
        }
    }

    fn holds(&self, r: &Range<u64>) -> bool {
        self.available.as_ref().is_none_or(|a| a.contains(r))
    }

    /// Starts (or goes on) waiting at `now`; true when it has waited too long in all.
    fn waited_too_long(&mut self, now: Duration) -> bool {
        let since = *self.waiting_since.get_or_insert(now);
        now.saturating_sub(since) >= MAX_QUEUED_WAIT
    }
}

struct Fetcher {
    source: SourceId,
    /// When this fetcher last saw progress (assigned, response head, body bytes).
    last_progress: Duration,
}

struct Inflight {
    range: Range<u64>,
    fetchers: Vec<Fetcher>,
    writing: bool,
}

/// The schedule of one download. See the module documentation.
pub(super) struct Scheduler {
    cfg: SchedConfig,
    pending: VecDeque<Range<u64>>,
    inflight: Vec<Inflight>,
    state: PartState,
    sources: Vec<Source>,
}

impl Scheduler {
    /// A schedule for the bytes `state` does not have yet, over sources named `labels`.
    pub(super) fn new(state: PartState, cfg: SchedConfig, labels: Vec<String>) -> Scheduler {
        let chunk = cfg.chunk_size.max(1);
        let mut pending = VecDeque::new();
        for gap in state.done.gaps(state.size) {
            let mut at = gap.start;
            while at < gap.end {
                let end = (at + chunk).min(gap.end);
                pending.push_back(at..end);
                at = end;
            }
        }
        let sources = labels.into_iter().map(Source::new).collect();
        Scheduler {
            cfg,
            pending,
            inflight: Vec::new(),
            state,
            sources,
        }
    }

    /// The sidecar as it stands (what to save).
    pub(super) fn state(&self) -> &PartState {
        &self.state
    }

    pub(super) fn size(&self) -> u64 {
        self.state.size
    }

    /// Bytes written so far.
    pub(super) fn done(&self) -> u64 {
        self.state.done.len()
    }

    pub(super) fn is_complete(&self) -> bool {
        self.done() == self.state.size
    }

    pub(super) fn live_sources(&self) -> usize {
        self.sources.iter().filter(|s| s.dead.is_none()).count()
    }

    /// Sources known (live or dropped).
    #[cfg(test)]
    pub(super) fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// A source learned mid-download (an `X-Alt`): it takes chunks like the others.
    pub(super) fn add_source(&mut self, label: String) -> SourceId {
        self.sources.push(Source::new(label));
        self.sources.len() - 1
    }

    /// `id` holds only `available` (its `X-Available-Ranges`); a source that later holds
    /// the whole file says so by the same call.
    pub(super) fn set_available(&mut self, id: SourceId, available: RangeSet) {
        let whole = available.contains(&(0..self.state.size));
        self.sources[id].available = (!whole).then_some(available);
    }

    /// Sources that served bytes and are still in use, and sources dropped for failing:
    /// what our requests' `X-Alt` and `X-Nalt` tell the others.
    pub(super) fn good_and_bad(&self) -> (Vec<SourceId>, Vec<SourceId>) {
        let good = (0..self.sources.len())
            .filter(|&i| self.sources[i].bytes > 0 && self.sources[i].dead.is_none())
            .collect();
        let bad = (0..self.sources.len())
            .filter(|&i| self.sources[i].bad)
            .collect();
        (good, bad)
    }

    /// The next job of `id`: a missing chunk, else (end game) a chunk another source is
    /// still fetching, else wait.
    pub(super) fn next_job(&mut self, id: SourceId, now: Duration) -> Job {
        if self.sources[id].dead.is_some() || self.is_complete() {
            return Job::Stop;
        }
        if let Some(until) = self.sources[id].paused_until {
            if now < until {
                return Job::Pause(until - now);
            }
            self.sources[id].paused_until = None;
        }
        let me = Fetcher {
            source: id,
            last_progress: now,
        };
        if let Some(r) = self.take_pending(id) {
            self.inflight.push(Inflight {
                range: r.clone(),
                fetchers: vec![me],
                writing: false,
            });
            return Job::Fetch(r);
        }
        if let Some(inf) = self
            .inflight
            .iter_mut()
            .filter(|i| {
                !i.writing
                    && !i.fetchers.iter().any(|f| f.source == id)
                    && i.fetchers.len() < MAX_FETCHERS_PER_CHUNK
                    && self.sources[id].holds(&i.range)
            })
            .min_by_key(|i| i.fetchers.len())
        {
            inf.fetchers.push(me);
            return Job::Fetch(inf.range.clone());
        }
        if self.pending.is_empty() {
            return Job::Wait;
        }
        // A partial source with nothing we need: ask it again later, within the cap.
        let src = &mut self.sources[id];
        if src.waited_too_long(now) {
            src.dead = Some(format!("held nothing we need for {MAX_QUEUED_WAIT:?}"));
            return Job::Stop;
        }
        src.paused_until = Some(now.saturating_add(PARTIAL_RECHECK));
        src.recheck = true;
        Job::Pause(PARTIAL_RECHECK)
    }

    /// The first pending range `id` holds (a chunk, or the part of one it holds: the rest
    /// stays queued in place). A partial source whose recheck is due takes the first
    /// chunk whatever it holds: its answer tells what it holds now.
    fn take_pending(&mut self, id: SourceId) -> Option<Range<u64>> {
        let src = &mut self.sources[id];
        let Some(av) = &src.available else {
            return self.pending.pop_front();
        };
        let found = self
            .pending
            .iter()
            .enumerate()
            .find_map(|(i, r)| av.first_within(r).map(|o| (i, o)));
        let Some((i, o)) = found else {
            // Asked again after a recheck pause: its answer tells what it holds now.
            if std::mem::take(&mut src.recheck) {
                return self.pending.pop_front();
            }
            return None;
        };
        let r = self.pending.remove(i)?;
        if o.end < r.end {
            self.pending.insert(i, o.end..r.end);
        }
        if r.start < o.start {
            self.pending.insert(i, r.start..o.start);
        }
        Some(o)
    }

    /// Progress on `chunk` from `id` (the response head, or any body frame): resets its
    /// stall clock; says whether the fetch is still needed.
    pub(super) fn handle_progress(
        &mut self,
        id: SourceId,
        chunk: &Range<u64>,
        now: Duration,
    ) -> Transfer {
        if let Some(f) = self.fetcher_mut(id, chunk) {
            f.last_progress = now;
        }
        if self.state.done.contains(chunk)
            || self.inflight.iter().any(|i| i.range == *chunk && i.writing)
        {
            Transfer::Abandon
        } else {
            Transfer::Continue
        }
    }

    /// How long `id` may still wait for bytes of `chunk` before it is stalled
    /// (`Some(ZERO)`: stalled now; `None`: no longer assigned, abandon the fetch).
    pub(super) fn stall_wait(
        &self,
        id: SourceId,
        chunk: &Range<u64>,
        now: Duration,
    ) -> Option<Duration> {
        let f = self
            .inflight
            .iter()
            .find(|i| i.range == *chunk)?
            .fetchers
            .iter()
            .find(|f| f.source == id)?;
        Some(
            f.last_progress
                .saturating_add(self.cfg.stall_timeout)
                .saturating_sub(now),
        )
    }

    /// `id` stopped fetching `chunk` because another source delivered it.
    pub(super) fn handle_abandoned(&mut self, id: SourceId, chunk: &Range<u64>) {
        if let Some(i) = self.inflight.iter_mut().find(|i| i.range == *chunk) {
            i.fetchers.retain(|f| f.source != id);
        }
        self.inflight
            .retain(|i| !(i.range == *chunk && i.fetchers.is_empty() && !i.writing));
    }

    /// `id` failed on `chunk` (`reason` is kept when the source is dropped): the chunk goes
    /// back to the queue unless another source has it, the source pauses or is dropped.
    pub(super) fn handle_failure(
        &mut self,
        id: SourceId,
        chunk: &Range<u64>,
        failure: Failure,
        reason: &str,
        now: Duration,
    ) -> Failed {
        if let Some(pos) = self.inflight.iter().position(|i| i.range == *chunk) {
            let inf = &mut self.inflight[pos];
            inf.fetchers.retain(|f| f.source != id);
            if inf.fetchers.is_empty() && !inf.writing {
                self.inflight.remove(pos);
                if !self.state.done.contains(chunk) {
                    self.pending.push_front(chunk.clone());
                }
            }
        }
        let src = &mut self.sources[id];
        let dropped = match failure {
            Failure::Busy { retry_after } => {
                let gone = src.waited_too_long(now);
                src.paused_until = Some(now.saturating_add(retry_after));
                gone
            }
            Failure::Unavailable => src.waited_too_long(now),
            Failure::Error => {
                src.failures += 1;
                src.total_failures += 1;
                let gone = src.failures >= self.cfg.max_source_failures;
                src.paused_until = Some(now.saturating_add(self.cfg.retry_backoff * src.failures));
                gone
            }
        };
        if dropped {
            src.bad = failure == Failure::Error;
            src.dead = Some(match failure {
                Failure::Error => reason.to_owned(),
                _ => format!("{reason}, for {MAX_QUEUED_WAIT:?} in all"),
            });
        }
        Failed {
            label: src.label.clone(),
            dropped,
        }
    }

    /// `id` has all of `chunk`: whether to write it (`false`: it is written or being
    /// written from another source, drop the copy).
    pub(super) fn begin_write(&mut self, id: SourceId, chunk: &Range<u64>) -> bool {
        let Some(inf) = self.inflight.iter_mut().find(|i| i.range == *chunk) else {
            return false;
        };
        if inf.writing {
            inf.fetchers.retain(|f| f.source != id);
            return false;
        }
        inf.writing = true;
        true
    }

    /// `written` (the start of `chunk`, all of it today) from `id` is on disk and synced:
    /// record it; the rest of `chunk`, if any, goes back to the front of the queue.
    pub(super) fn handle_written(
        &mut self,
        id: SourceId,
        chunk: &Range<u64>,
        written: Range<u64>,
    ) -> Committed {
        debug_assert!(chunk.start == written.start && written.end <= chunk.end);
        self.inflight.retain(|i| i.range != *chunk);
        let rest = written.end.max(chunk.start)..chunk.end;
        if !rest.is_empty() && !self.state.done.contains(&rest) {
            self.pending.push_front(rest);
        }
        self.state.done.insert(written.clone());
        let src = &mut self.sources[id];
        src.bytes += written.end - written.start;
        src.failures = 0;
        src.waiting_since = None;
        let label = src.label.clone();
        self.state.served.push(Served {
            start: written.start,
            end: written.end,
            source: label.clone(),
        });
        Committed {
            label,
            done: self.done(),
            complete: self.is_complete(),
        }
    }

    /// Writing `chunk` failed locally: not the source's fault, but nothing can go on, so
    /// every source is dropped (the chunk stays missing).
    pub(super) fn handle_write_failed(&mut self, chunk: &Range<u64>, error: &str) {
        self.inflight.retain(|i| i.range != *chunk);
        self.pending.push_front(chunk.clone());
        for src in &mut self.sources {
            src.dead = Some(format!("local write error: {error}"));
        }
    }

    /// How the download ends (asked once no source fetches any more).
    pub(super) fn decision(&self) -> Decision {
        if self.is_complete() {
            return Decision::Verify;
        }
        Decision::AllSourcesFailed {
            missing: self.size() - self.done(),
            total: self.size(),
            errors: self
                .sources
                .iter()
                .map(|s| {
                    let why = s.dead.clone().unwrap_or_else(|| "no answer".into());
                    (s.label.clone(), why)
                })
                .collect(),
        }
    }

    /// The assembled file hashed to `actual` (base32), not the SHA-1 asked for: the
    /// sidecar says so.
    pub(super) fn handle_hash_mismatch(&mut self, actual: String) {
        self.state.hash_mismatch = Some(actual);
    }

    /// Per-source counts for the report.
    pub(super) fn reports(&self) -> Vec<SourceReport> {
        self.sources
            .iter()
            .map(|s| SourceReport {
                url: s.label.clone(),
                bytes: s.bytes,
                failures: s.total_failures,
                dropped: s.dead.clone(),
            })
            .collect()
    }

    fn fetcher_mut(&mut self, id: SourceId, chunk: &Range<u64>) -> Option<&mut Fetcher> {
        self.inflight
            .iter_mut()
            .find(|i| i.range == *chunk)?
            .fetchers
            .iter_mut()
            .find(|f| f.source == id)
    }
}

#[cfg(test)]
#[path = "sched_tests.rs"]
mod tests;
