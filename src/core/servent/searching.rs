//! What a servent keeps for searches, boxed on first write (`Lazy`): its own searches, the
//! walkers it holds for a verdict and the dynamic queries it runs. A servent that only
//! relays never allocates it.

use std::collections::{BTreeMap, VecDeque};

use super::dq::DqRun;
use super::state::{HeldWalker, SearchState, WalkerKey};
use crate::core::lazy::Empty;
use crate::core::strategy::SearchId;
use crate::proto::Guid;

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
