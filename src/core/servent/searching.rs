//! What a servent keeps for searches, boxed on first write (`Lazy`): its own searches, the
//! walkers it holds for a verdict and the dynamic queries it runs (their records are here;
//! the rules that run them in `dq.rs`). A servent that only relays never allocates it.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::state::{HeldWalker, SearchState, WalkerKey};
use crate::core::lazy::Empty;
use crate::core::peer::PeerId;
use crate::core::strategy::SearchId;
use crate::proto::{Descriptor, Guid};

/// What a servent keeps for searches: its own (running and recently finished), walkers
/// passing through that wait for a verdict, and the dynamic queries it runs.
#[derive(Default)]
pub(crate) struct Searching {
    /// Our searches, running and recently finished (bounded by `max_searches_kept`).
    pub(super) searches: BTreeMap<SearchId, SearchState>,
    /// Finished searches, oldest first, for eviction.
    pub(super) finished: VecDeque<SearchId>,
    /// Every descriptor ID of our searches -> its search.
    pub(super) search_of: BTreeMap<Guid, SearchId>,
    /// Walkers waiting for the requester's verdict, by (query GUID, walker number).
    pub(super) held: BTreeMap<WalkerKey, HeldWalker>,
    /// Dynamic queries we run as an ultrapeer, ours and our leaves', by query ID.
    pub(super) dynamic: BTreeMap<Guid, DqRun>,
}

impl Empty for Searching {
    const EMPTY: &'static Searching = &Searching {
        searches: BTreeMap::new(),
        finished: VecDeque::new(),
        search_of: BTreeMap::new(),
        held: BTreeMap::new(),
        dynamic: BTreeMap::new(),
    };
}

/// Who a dynamic query runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DqFor {
    /// Our own search.
    Local(SearchId),
    /// The leaf that sent us the Query.
    Leaf(PeerId),
}

/// One dynamic query this ultrapeer runs.
pub(crate) struct DqRun {
    pub(super) who: DqFor,
    /// The Query as it leaves us (TTL set per step).
    pub(super) template: Descriptor,
    pub(super) want: u32,
    pub(super) max_ttl: u8,
    pub(super) probe_ttl: Option<u8>,
    /// Ultrapeer neighbours in the order they are tried (shuffled once, from the core's
    /// RNG over servent-ID order).
    pub(super) order: Vec<PeerId>,
    /// TTL each ultrapeer was sent, and whether it was the probe's.
    pub(super) queried: BTreeMap<PeerId, (u8, bool)>,
    /// Ultrapeers theoretically reached so far.
    pub(super) reached: f64,
    /// Results of hits we routed to the leaf.
    pub(super) routed: u32,
    /// The leaf's last report, and results routed since.
    pub(super) kept: Option<u16>,
    pub(super) routed_since_status: u32,
    /// Ask the leaf for its kept results (it announced dynamic querying).
    pub(super) guided: bool,
    pub(super) waiting_status: bool,
    pub(super) status_timeouts: u8,
    pub(super) queried_at_status: usize,
    pub(super) deadline: Option<Duration>,
    pub(super) started: Duration,
}
