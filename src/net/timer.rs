//! The core's timer task: sleeps until [`crate::core::Servent::poll_timeout`], runs
//! `handle_timeout` then (ring and walker deadlines, route expiry), and wakes early when the
//! [`super::deadline::DeadlineBell`] rings for a sooner deadline.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{self, Either};
use futures::StreamExt;

use super::shared::Shared;
use crate::rt;

/// The shortest sleep between two runs of `handle_timeout` (5 ms): the core's deadline also
/// covers the expiry of each route entry, and on a busy servent those fall every few
/// microseconds; coalescing them bounds the task to 200 wake-ups a second, while a ring's or
/// walker's deadline fires at most this late.
const MIN_SLEEP: Duration = Duration::from_millis(5);

/// Runs until the servent shuts down (or the bell is gone with the state).
pub(super) async fn run(shared: Arc<Shared>, mut bell: mpsc::Receiver<()>) {
    loop {
        let sleep_for = {
            let mut st = shared.lock();
            if shared.is_shutting_down() {
                break;
            }
            // Read once the lock is held: a wait for it must not leave `now` short of the
            // deadline the task woke for.
            let now = shared.now();
            if st.servent.poll_timeout().is_some_and(|t| t <= now) {
                st.servent.handle_timeout(now);
                st.pump(now);
            }
            let next = st.servent.poll_timeout();
            st.deadline.arm(next);
            next.map(|at| at.saturating_sub(now).max(MIN_SLEEP))
        };
        let sleep = match sleep_for {
            Some(d) => Either::Left(rt::sleep(d)),
            None => Either::Right(future::pending::<()>()),
        };
        if let Either::Left((None, _)) = future::select(bell.next(), Box::pin(sleep)).await {
            break;
        }
    }
}
