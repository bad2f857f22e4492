//! The channel from a servent's link readers to its router (`router.rs`): whole batches
//! of decoded descriptors, and the end of a link after them, in the order each link's
//! reader sent them.

use futures::channel::mpsc;

use crate::core::PeerId;
use crate::proto::{DecodeError, Descriptor};

use super::state::CloseReason;

/// Batches waiting for the router beyond each reader's own slot: a few reads' worth, so
/// readers keep decoding while the core works, and memory stays bounded.
const INBOX_BATCHES: usize = 8;

/// What a link's reader sends its servent's router.
pub(super) enum Input {
    /// Descriptors (or why one did not decode) that arrived on a link, in order.
    Batch(PeerId, Vec<Result<Descriptor, DecodeError>>),
    /// The link's reader ended: the link closes after everything it sent before.
    Closed(PeerId, CloseReason),
}

/// The sending side readers clone.
pub(super) type Inbox = mpsc::Sender<Input>;

/// A router's channel: readers send on the first, `router::run` takes the second.
pub(super) fn channel() -> (Inbox, mpsc::Receiver<Input>) {
    mpsc::channel(INBOX_BATCHES)
}
