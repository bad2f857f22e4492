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
//!   chunk puts the rest back at the front of the queue.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use super::state::{PartState, Served};
use super::SourceReport;

/// Sources fetching one chunk at once: its first source plus one end-game helper, so a
/// slow source cannot hold the last chunks back while the others' bandwidth stays shared.
pub(super) const MAX_FETCHERS_PER_CHUNK: usize = 2;

/// Index of a source, in the order given to [`Scheduler::new`].
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
    /// `503` with a `Retry-After` (already capped): pause that long.
    Busy { retry_after: Duration },
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
        let sources = labels
            .into_iter()
            .map(|label| Source {
                label,
                failures: 0,
                total_failures: 0,
                bytes: 0,
                dead: None,
                paused_until: None,
            })
            .collect();
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
        if let Some(r) = self.pending.pop_front() {
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
            })
            .min_by_key(|i| i.fetchers.len())
        {
            inf.fetchers.push(me);
            return Job::Fetch(inf.range.clone());
        }
        Job::Wait
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
        src.failures += 1;
        src.total_failures += 1;
        let dropped = src.failures >= self.cfg.max_source_failures;
        if dropped {
            src.dead = Some(reason.to_owned());
        } else {
            let pause = match failure {
                Failure::Busy { retry_after } => retry_after,
                Failure::Error => self.cfg.retry_backoff * src.failures,
            };
            src.paused_until = Some(now.saturating_add(pause));
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
mod tests {
    use super::*;
    use crate::download::state::{RangeSet, STATE_VERSION};

    const CHUNK: u64 = 100;
    const STALL: Duration = Duration::from_secs(20);
    const BACKOFF: Duration = Duration::from_millis(250);
    const T0: Duration = Duration::ZERO;

    fn config() -> SchedConfig {
        SchedConfig {
            chunk_size: CHUNK,
            max_source_failures: 3,
            retry_backoff: BACKOFF,
            stall_timeout: STALL,
        }
    }

    fn fresh(size: u64) -> PartState {
        PartState {
            version: STATE_VERSION,
            size,
            ..PartState::default()
        }
    }

    fn sched(size: u64, sources: usize) -> Scheduler {
        let labels = (0..sources).map(|i| format!("http://s{i}/f")).collect();
        Scheduler::new(fresh(size), config(), labels)
    }

    fn fetch(s: &mut Scheduler, id: SourceId, now: Duration) -> Range<u64> {
        match s.next_job(id, now) {
            Job::Fetch(r) => r,
            other => panic!("source {id} got {other:?}"),
        }
    }

    fn write(s: &mut Scheduler, id: SourceId, r: &Range<u64>) -> Committed {
        assert!(s.begin_write(id, r), "{r:?} is {id}'s to write");
        s.handle_written(id, r, r.clone())
    }

    fn fail(s: &mut Scheduler, id: SourceId, r: &Range<u64>, now: Duration) -> Failed {
        s.handle_failure(id, r, Failure::Error, "connection reset", now)
    }

    #[test]
    fn chunks_are_spread_over_the_sources() {
        let mut s = sched(450, 3);
        let jobs: Vec<_> = (0..3).map(|id| fetch(&mut s, id, T0)).collect();
        assert_eq!(jobs, vec![0..100, 100..200, 200..300]);
        write(&mut s, 1, &jobs[1]);
        // The free source takes the next.
        assert_eq!(fetch(&mut s, 1, T0), 300..400);
        // The last chunk is the file's tail.
        assert_eq!(fetch(&mut s, 0, T0), 400..450);
        assert_eq!(s.done(), 100);
        let bytes: Vec<u64> = s.reports().iter().map(|r| r.bytes).collect();
        assert_eq!(bytes, vec![0, 100, 0]);
    }

    #[test]
    fn a_failed_chunk_goes_back_and_to_another_source() {
        let mut s = sched(200, 2);
        let a = fetch(&mut s, 0, T0);
        let b = fetch(&mut s, 1, T0);
        write(&mut s, 1, &b);
        let f = fail(&mut s, 0, &a, T0);
        assert!(!f.dropped);
        // The other source takes the chunk back.
        assert_eq!(fetch(&mut s, 1, T0), a);
        // The failed source backs off.
        assert_eq!(s.next_job(0, T0), Job::Pause(BACKOFF));
        // Then only helps with it (end game).
        assert_eq!(s.next_job(0, BACKOFF), Job::Fetch(a.clone()));
        let c = write(&mut s, 1, &a);
        assert!(c.complete && c.done == 200);
        assert_eq!(s.handle_progress(0, &a, BACKOFF), Transfer::Abandon);
        assert_eq!(s.reports()[0].failures, 1);
        assert_eq!(s.reports()[1].bytes, 200);
    }

    #[test]
    fn a_busy_source_waits_its_retry_after() {
        let mut s = sched(100, 1);
        let a = fetch(&mut s, 0, T0);
        let busy = Failure::Busy {
            retry_after: Duration::from_secs(7),
        };
        s.handle_failure(0, &a, busy, "busy (503)", T0);
        let later = Duration::from_secs(2);
        assert_eq!(s.next_job(0, later), Job::Pause(Duration::from_secs(5)));
        assert_eq!(fetch(&mut s, 0, Duration::from_secs(7)), a);
    }

    #[test]
    fn a_source_failing_repeatedly_is_dropped() {
        let mut s = sched(300, 2);
        let mut now = T0;
        for n in 1..=3u32 {
            let r = loop {
                match s.next_job(0, now) {
                    Job::Fetch(r) => break r,
                    Job::Pause(d) => now += d,
                    other => panic!("{other:?}"),
                }
            };
            let f = fail(&mut s, 0, &r, now);
            assert_eq!(f.dropped, n == 3, "failure {n}");
        }
        assert_eq!(s.next_job(0, now), Job::Stop);
        assert_eq!(s.live_sources(), 1);
        assert_eq!(s.reports()[0].dropped.as_deref(), Some("connection reset"));
        // The chunk it held is the other source's now, and every chunk is still there.
        let got: Vec<_> = (0..3).map(|_| fetch(&mut s, 1, now)).collect();
        assert_eq!(got, vec![0..100, 100..200, 200..300]);
    }

    #[test]
    fn a_success_resets_the_failures_in_a_row() {
        let mut s = sched(500, 1);
        let mut now = T0;
        for _ in 0..4 {
            let r = fetch(&mut s, 0, now);
            assert!(!fail(&mut s, 0, &r, now).dropped);
            now += BACKOFF;
            let r = fetch(&mut s, 0, now);
            write(&mut s, 0, &r);
        }
        assert_eq!(s.reports()[0].failures, 4);
        assert_eq!(s.live_sources(), 1);
    }

    #[test]
    fn a_stalled_source_loses_its_chunk() {
        let mut s = sched(200, 2);
        let slow = fetch(&mut s, 0, T0);
        let fast = fetch(&mut s, 1, T0);
        let head = Duration::from_secs(1);
        assert_eq!(s.handle_progress(0, &slow, head), Transfer::Continue);
        assert_eq!(s.stall_wait(0, &slow, head), Some(STALL));
        let t = Duration::from_secs(15);
        assert_eq!(s.stall_wait(0, &slow, t), Some(head + STALL - t));
        let stalled_at = head + STALL;
        assert_eq!(s.stall_wait(0, &slow, stalled_at), Some(Duration::ZERO));
        fail(&mut s, 0, &slow, stalled_at);
        write(&mut s, 1, &fast);
        // Moved to the other source.
        assert_eq!(fetch(&mut s, 1, stalled_at), slow);
        // No longer the slow one's.
        assert_eq!(s.stall_wait(0, &slow, stalled_at), None);
    }

    #[test]
    fn end_game_doubles_a_chunk_and_the_first_copy_wins() {
        let mut s = sched(200, 3);
        let a = fetch(&mut s, 0, T0);
        let b = fetch(&mut s, 1, T0);
        write(&mut s, 1, &b);
        // Idle source helps with the slow chunk.
        assert_eq!(fetch(&mut s, 1, T0), a);
        assert_eq!(s.next_job(2, T0), Job::Wait, "two fetchers at most");
        assert!(s.begin_write(1, &a));
        assert_eq!(s.handle_progress(0, &a, T0), Transfer::Abandon);
        assert!(!s.begin_write(0, &a), "the second copy is dropped");
        let c = s.handle_written(1, &a, a.clone());
        assert!(c.complete);
        assert_eq!(s.next_job(0, T0), Job::Stop);
        assert_eq!(s.reports()[0].bytes, 0);
    }

    #[test]
    fn resume_skips_committed_chunks() {
        let mut state = fresh(500);
        state.done = RangeSet::default();
        state.done.insert(0..100);
        state.done.insert(200..350);
        let mut s = Scheduler::new(state, config(), vec!["http://s0/f".into()]);
        assert_eq!(s.done(), 250);
        let got: Vec<_> = (0..3).map(|_| fetch(&mut s, 0, T0)).collect();
        assert_eq!(got, vec![100..200, 350..450, 450..500]);
        assert_eq!(s.next_job(0, T0), Job::Wait);
    }

    #[test]
    fn everything_written_means_verify() {
        let mut s = sched(250, 2);
        let mut last = None;
        for id in [0, 1, 0] {
            let r = fetch(&mut s, id, T0);
            last = Some(write(&mut s, id, &r));
        }
        assert!(last.unwrap().complete);
        assert_eq!(s.decision(), Decision::Verify);
        assert_eq!(s.next_job(1, T0), Job::Stop);
        assert_eq!(s.state().served.len(), 3);
    }

    #[test]
    fn a_complete_resume_is_verified_at_once() {
        let mut state = fresh(300);
        state.done.insert(0..300);
        let mut s = Scheduler::new(state, config(), vec!["http://s0/f".into()]);
        assert_eq!(s.next_job(0, T0), Job::Stop);
        assert_eq!(s.decision(), Decision::Verify);
    }

    #[test]
    fn last_source_dropped_fails_the_download() {
        let mut s = sched(300, 1);
        let first = fetch(&mut s, 0, T0);
        write(&mut s, 0, &first);
        let mut now = T0;
        loop {
            match s.next_job(0, now) {
                Job::Fetch(r) => {
                    s.handle_failure(0, &r, Failure::Error, "answered 404 Not Found", now);
                }
                Job::Pause(d) => now += d,
                Job::Stop => break,
                Job::Wait => panic!("nothing else fetches"),
            }
        }
        assert_eq!(s.live_sources(), 0);
        assert_eq!(
            s.decision(),
            Decision::AllSourcesFailed {
                missing: 200,
                total: 300,
                errors: vec![("http://s0/f".into(), "answered 404 Not Found".into())],
            }
        );
        assert_eq!(s.state().done.len(), 100, "what was written stays recorded");
    }

    #[test]
    fn a_local_write_error_stops_every_source() {
        let mut s = sched(200, 2);
        let a = fetch(&mut s, 0, T0);
        fetch(&mut s, 1, T0);
        assert!(s.begin_write(0, &a));
        s.handle_write_failed(&a, "No space left on device");
        assert_eq!(s.next_job(0, T0), Job::Stop);
        assert_eq!(s.next_job(1, T0), Job::Stop);
        let Decision::AllSourcesFailed { errors, .. } = s.decision() else {
            panic!("nothing was written");
        };
        assert!(errors.iter().all(|(_, e)| e.contains("local write error")));
    }

    #[test]
    fn a_short_write_puts_the_rest_back() {
        let mut s = sched(300, 2);
        let a = fetch(&mut s, 0, T0);
        assert!(s.begin_write(0, &a));
        let c = s.handle_written(0, &a, 0..40);
        assert_eq!(c.done, 40);
        // The rest of the chunk comes first.
        assert_eq!(fetch(&mut s, 1, T0), 40..100);
        assert_eq!(fetch(&mut s, 0, T0), 100..200);
        assert_eq!(s.state().served[0].end, 40);
    }
}
