//! What names one search of ours and how it ended: shared by the cost record, the events
//! and the servent's search bookkeeping.

use std::fmt;

use crate::proto::Guid;

/// Identifies one search of ours: the descriptor ID of its first Query (an expanding ring
/// sends one fresh ID per ring; they all belong to the first ring's search).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct SearchId(pub Guid);

impl fmt::Display for SearchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SearchEnd {
    /// It got the hits it wanted.
    Satisfied,
    /// It ran out of rings, walker steps or time without them (or never had any peer).
    Exhausted,
}
