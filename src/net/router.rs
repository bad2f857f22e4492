//! The servent's router task: the one consumer of what every link's reader decoded. A
//! reader frames and decodes on its own (in parallel with the core on another thread) and
//! sends whole batches here over a bounded channel; this task feeds them to the core and
//! pumps its outputs, many batches under one lock acquisition. A full channel holds the
//! readers back, so a peer sending faster than the core routes is slowed by TCP, not
//! buffered without bound.
//!
//! Flow control: when a link's send queue passes half full, the router stops taking
//! input until that link's writer brings it down to a quarter, for at most
//! [`FLOW_WAIT`]; a writer that cannot (its peer is slow or stuck) marks the link
//! flow-controlled, and its full queue drops by priority (relayed first) without being
//! waited for again until it drains to a quarter. So a consumer that keeps up on average
//! loses nothing to a moment's scheduling delay, and a stuck one costs the others one
//! short pause.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;

use crate::core::PeerId;

use super::inbox::Input;
use super::shared::Shared;
use super::state::RELIEVED;
use crate::rt;

/// Longest wait for a congested link's writer to make room before its queue drops.
pub(super) const FLOW_WAIT: Duration = Duration::from_millis(50);

/// Most inputs handled under one lock acquisition: other tasks (timer, status, searches)
/// get the lock between runs of this many.
const INPUTS_PER_LOCK: usize = 16;

/// Runs until every sender is gone (the servent shut down and its links ended).
pub(super) async fn run(shared: Arc<Shared>, mut inputs: mpsc::Receiver<Input>) {
    let mut congested = Vec::new();
    while let Some(first) = inputs.next().await {
        handle_inputs(&shared, first, &mut inputs, &mut congested);
        for (peer, queue) in congested.drain(..) {
            let relieved = queue.capacity() / 4 * RELIEVED;
            if rt::timeout(FLOW_WAIT, queue.drained(relieved))
                .await
                .is_err()
            {
                log::debug!("link {}: flow control (send queue stays full)", peer.0);
                if let Some(link) = shared.lock().links.get_mut(&peer) {
                    link.flow_controlled = true;
                }
            }
        }
    }
}

/// Feeds `first` and whatever else is waiting (up to [`INPUTS_PER_LOCK`], and not past a
/// congested link) to the core under one lock; leaves the congested links in `congested`.
fn handle_inputs(
    shared: &Shared,
    first: Input,
    inputs: &mut mpsc::Receiver<Input>,
    congested: &mut Vec<(PeerId, Arc<super::send_queue::SendQueue>)>,
) {
    let mut st = shared.lock();
    let now = shared.now();
    let mut next = Some(first);
    let mut handled = 0;
    while let Some(input) = next.take() {
        match input {
            Input::Batch(peer, mut batch) => st.handle_batch(now, peer, &mut batch),
            Input::Closed(peer, reason) => st.close_link(now, peer, reason),
        }
        st.pump(now);
        handled += 1;
        if handled < INPUTS_PER_LOCK && st.congested.is_empty() {
            next = inputs.try_recv().ok();
        }
    }
    std::mem::swap(congested, &mut st.congested);
}
