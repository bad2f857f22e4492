//! Tests of the chunk scheduler ([`super`]): spreading, failures, stalls, the end game,
//! resumes, short writes, busy and queued sources, partial sources, sources added mid-way.

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

fn busy(secs: u64) -> Failure {
    Failure::Busy {
        retry_after: Duration::from_secs(secs),
    }
}

#[test]
fn a_busy_source_is_never_dropped_for_being_busy_until_the_cap() {
    let mut s = sched(100, 1);
    let mut now = T0;
    // Far more busy answers than max_source_failures: still kept.
    for _ in 0..10 {
        let r = fetch(&mut s, 0, now);
        assert!(!s.handle_failure(0, &r, busy(60), "busy (503)", now).dropped);
        now += Duration::from_secs(60);
    }
    assert_eq!(s.reports()[0].failures, 0, "busy is not a failure");
    // Then it serves: the wait starts over.
    let r = fetch(&mut s, 0, now);
    assert!(s.begin_write(0, &r));
    s.handle_written(0, &r, 0..50);
    let r = fetch(&mut s, 0, now);
    let start = now;
    while now < start + MAX_QUEUED_WAIT - Duration::from_secs(60) {
        assert!(!s.handle_failure(0, &r, busy(60), "busy", now).dropped);
        now += Duration::from_secs(60);
        assert_eq!(fetch(&mut s, 0, now), r);
    }
    now = start + MAX_QUEUED_WAIT;
    let f = s.handle_failure(0, &r, busy(60), "busy (503)", now);
    assert!(f.dropped, "queued past the cap");
    assert!(s.reports()[0]
        .dropped
        .as_deref()
        .unwrap()
        .contains("in all"));
}

fn holding(ranges: &[Range<u64>]) -> RangeSet {
    let mut set = RangeSet::default();
    for r in ranges {
        set.insert(r.clone());
    }
    set
}

#[test]
fn a_partial_source_gets_only_what_it_holds() {
    let mut s = sched(400, 2);
    s.set_available(0, holding(&[50..150, 300..400]));
    // The part of the first chunk it holds, then the next.
    assert_eq!(fetch(&mut s, 0, T0), 50..100);
    assert_eq!(fetch(&mut s, 0, T0), 100..150);
    // The other source takes what is left, in order.
    assert_eq!(fetch(&mut s, 1, T0), 0..50);
    assert_eq!(fetch(&mut s, 1, T0), 150..200);
    assert_eq!(fetch(&mut s, 0, T0), 300..400);
    assert_eq!(fetch(&mut s, 1, T0), 200..300);
    // Nothing pending: the end game only doubles chunks it holds.
    assert_eq!(s.next_job(0, T0), Job::Wait);
    // A whole-file answer later makes it a full source again.
    s.set_available(0, holding(&[0..200, 200..400]));
    assert_eq!(fetch(&mut s, 0, T0), 0..50);
}

#[test]
fn a_partial_source_with_nothing_we_need_is_asked_again_later() {
    let mut s = sched(200, 1);
    s.set_available(0, holding(&[]));
    assert_eq!(s.next_job(0, T0), Job::Pause(PARTIAL_RECHECK));
    // Due: it is asked for the first chunk; a 416 with its ranges is not a failure.
    let r = fetch(&mut s, 0, PARTIAL_RECHECK);
    assert_eq!(r, 0..100);
    s.set_available(0, holding(&[150..160, 160..200]));
    let f = s.handle_failure(0, &r, Failure::Unavailable, "not yet", PARTIAL_RECHECK);
    assert!(!f.dropped);
    assert_eq!(fetch(&mut s, 0, PARTIAL_RECHECK), 150..200);
    assert_eq!(s.reports()[0].failures, 0);
    // Never growing, it is dropped at the cap.
    let mut now = PARTIAL_RECHECK;
    loop {
        match s.next_job(0, now) {
            Job::Pause(d) => now += d,
            Job::Fetch(r) => {
                s.handle_failure(0, &r, Failure::Unavailable, "not yet", now);
            }
            Job::Stop => break,
            Job::Wait => panic!("chunks are pending"),
        }
        assert!(
            now <= MAX_QUEUED_WAIT + PARTIAL_RECHECK,
            "dropped by the cap"
        );
    }
}

#[test]
fn a_source_added_midway_takes_chunks_and_is_reported() {
    let mut s = sched(300, 1);
    let a = fetch(&mut s, 0, T0);
    let id = s.add_source("http://s9/uri-res".into());
    assert_eq!(id, 1);
    let b = fetch(&mut s, id, T0);
    assert_eq!(b, 100..200);
    write(&mut s, id, &b);
    write(&mut s, 0, &a);
    let (good, bad) = s.good_and_bad();
    assert_eq!(good, vec![0, 1]);
    assert!(bad.is_empty());
    assert_eq!(s.reports()[1].bytes, 100);
    assert_eq!(s.source_count(), 2);
}

#[test]
fn only_sources_dropped_for_failing_are_reported_bad() {
    let mut s = sched(300, 3);
    let mut now = T0;
    // Source 0 fails until dropped; source 1 is busy past the cap; source 2 serves.
    loop {
        match s.next_job(0, now) {
            Job::Fetch(r) => {
                fail(&mut s, 0, &r, now);
            }
            Job::Pause(d) => now += d,
            Job::Stop => break,
            Job::Wait => panic!("chunks are pending"),
        }
    }
    let r = fetch(&mut s, 1, now);
    s.handle_failure(1, &r, busy(1), "busy", now);
    s.handle_failure(1, &r, busy(1), "busy", now + MAX_QUEUED_WAIT);
    let r = fetch(&mut s, 2, now);
    write(&mut s, 2, &r);
    assert_eq!(s.live_sources(), 1);
    assert_eq!(s.good_and_bad(), (vec![2], vec![0]));
}
