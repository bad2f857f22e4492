//! How the core asks the shared library which files answer a Query. The library (a later
//! layer) implements [`QueryMatcher`]; tests and the simulator use small matchers.

use crate::proto::payload::Query;

/// One shared file that answers a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The file index a QueryHit result carries and a download names (`/get/<index>/`).
    pub index: u32,
    /// Size in bytes (4 GiB and more go out as `0xFFFFFFFF` plus a GGEP `LF`).
    pub size: u64,
    /// The file name as shared (no directory).
    pub name: String,
    /// `urn:sha1:<base32>` once hashed.
    pub sha1_urn: Option<String>,
}

/// Answers Queries from what a servent shares; the core calls it for every accepted Query.
pub trait QueryMatcher: Send {
    /// Files matching `query`, at most `limit` of them.
    fn matches(&self, query: &Query, limit: usize) -> Vec<LocalFile>;
}

/// What a servent shares: the matcher that answers Queries, and the totals its Pongs
/// advertise.
pub struct SharedFiles {
    /// Picks the files that answer a Query.
    pub matcher: Box<dyn QueryMatcher>,
    /// Files shared (a Pong's file count).
    pub files: u32,
    /// Kilobytes shared (a Pong's kilobyte count).
    pub kbytes: u32,
}

impl Default for SharedFiles {
    /// Nothing shared.
    fn default() -> Self {
        SharedFiles {
            matcher: Box::new(NoMatcher),
            files: 0,
            kbytes: 0,
        }
    }
}

/// Shares nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMatcher;

impl QueryMatcher for NoMatcher {
    fn matches(&self, _query: &Query, _limit: usize) -> Vec<LocalFile> {
        Vec::new()
    }
}

/// A fixed list of files matched by case-insensitive substring of every query word.
/// Enough for tests and the simulator; the real library does keywords and wildcards.
#[derive(Debug, Default, Clone)]
pub struct ListMatcher(pub Vec<LocalFile>);

impl QueryMatcher for ListMatcher {
    fn matches(&self, query: &Query, limit: usize) -> Vec<LocalFile> {
        let text = query.text_lossy().to_lowercase();
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Vec::new();
        }
        self.0
            .iter()
            .filter(|f| {
                let name = f.name.to_lowercase();
                words.iter().all(|w| name.contains(w))
            })
            .take(limit)
            .cloned()
            .collect()
    }
}
