//! How the core asks the shared library which files answer a Query. The library (a later
//! layer) implements [`QueryMatcher`]; tests and the simulator use small matchers.

use crate::core::qrp::keys::{ascii_canonical, split_words, table_words};
use crate::core::qrp::QueryKeys;
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

    /// The canonical words (with their prefixes) our query routing table must hold for
    /// the files shared ([`crate::core::qrp::table_words`]). None by default: a leaf
    /// whose matcher does not say gets an empty table.
    fn qrp_words(&self) -> Vec<String> {
        Vec::new()
    }

    /// The keys a Query is routed by, canonicalised as this matcher canonicalises names.
    fn query_keys(&self, query: &Query) -> QueryKeys {
        QueryKeys::from_query(query)
    }
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

    /// Lowercased words of the names and their prefixes. Substring matches inside a word
    /// (which this matcher also answers) are not in the table.
    fn qrp_words(&self) -> Vec<String> {
        let names: Vec<String> = self.0.iter().map(|f| ascii_canonical(&f.name)).collect();
        table_words(names.iter().flat_map(|n| split_words(n)))
    }
}
