//! The format of a download's files on disk: `FILE.part` (the bytes, at their offsets)
//! and `FILE.part.state` (a small JSON sidecar: size, expected SHA-1, the byte ranges
//! already written and synced, and which source served each). The downloader rewrites the
//! sidecar (to a temporary name, then renamed) only after the data it describes is
//! synced, so after a crash or a stop it never claims bytes that are not on disk; that is
//! also what lets the library share a partial file for exactly those ranges. It lives in
//! the library (the downloader re-exports it) because both sides read it.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A set of disjoint, sorted byte ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSet(Vec<(u64, u64)>);

impl RangeSet {
    /// Adds `r`, merging it with the ranges it overlaps or touches (an empty `r` is
    /// ignored).
    pub fn insert(&mut self, r: Range<u64>) {
        if r.is_empty() {
            return;
        }
        let (mut start, mut end) = (r.start, r.end);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.0 {
            if b < start {
                out.push((a, b));
            } else if end < a {
                if !placed {
                    out.push((start, end));
                    placed = true;
                }
                out.push((a, b));
            } else {
                start = start.min(a);
                end = end.max(b);
            }
        }
        if !placed {
            out.push((start, end));
        }
        self.0 = out;
    }

    /// Total bytes covered.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|(a, b)| b - a).sum()
    }

    /// Whether no byte is covered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether all of `r` lies within one range of the set.
    pub fn contains(&self, r: &Range<u64>) -> bool {
        self.0.iter().any(|&(a, b)| a <= r.start && r.end <= b)
    }

    /// The parts of `0..size` not covered.
    pub fn gaps(&self, size: u64) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut at = 0;
        for &(a, b) in &self.0 {
            if a > at {
                gaps.push(at..a.min(size));
            }
            at = at.max(b);
        }
        if at < size {
            gaps.push(at..size);
        }
        gaps.retain(|g| !g.is_empty());
        gaps
    }

    /// Whether the ranges are what [`RangeSet::insert`] builds (each non-empty, sorted,
    /// neither overlapping nor touching) and end by `size`: a sidecar edited or corrupted
    /// otherwise (found by fuzzing: `[[60,30]]`) would make `len` underflow.
    fn is_canonical_within(&self, size: u64) -> bool {
        self.0.iter().all(|&(a, b)| a < b && b <= size)
            && self.0.windows(2).all(|w| w[0].1 < w[1].0)
    }

    /// The ranges, in order of offset.
    pub fn ranges(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.0.iter().map(|&(a, b)| a..b)
    }

    /// Number of disjoint ranges.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The first (lowest) part of `r` the set covers, if any.
    pub fn first_within(&self, r: &Range<u64>) -> Option<Range<u64>> {
        self.0
            .iter()
            .map(|&(a, b)| a.max(r.start)..b.min(r.end))
            .find(|o| !o.is_empty())
    }

    /// The covered range starting at or before `at` and running past it, cut at `end`:
    /// how much of a request starting at `at` can be answered.
    pub fn run_from(&self, at: u64, end: u64) -> Option<Range<u64>> {
        self.0
            .iter()
            .find(|&&(a, b)| a <= at && at < b)
            .map(|&(_, b)| at..b.min(end))
            .filter(|r| !r.is_empty())
    }
}

/// One range written, and the source that served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// Offset of the range's first byte.
    pub start: u64,
    /// Offset just past the range's last byte.
    pub end: u64,
    /// URL of the source that served it.
    pub source: String,
}

/// The sidecar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    /// Format of the sidecar ([`STATE_VERSION`]; another version is not resumed).
    pub version: u32,
    /// Size of the complete file, in bytes.
    pub size: u64,
    /// Base32 SHA-1 the file must have, when known.
    pub sha1: Option<String>,
    /// Ranges written and synced.
    pub done: RangeSet,
    /// Who served what (to name the sources when the final hash fails).
    pub served: Vec<Served>,
    /// Set when the complete file failed its hash check.
    pub hash_mismatch: Option<String>,
}

/// Sidecar format written by this version; a sidecar of another is ignored (the download
/// starts over).
pub const STATE_VERSION: u32 = 1;

/// `FILE.part` and `FILE.part.state` for an output `FILE`.
pub fn part_paths(output: &Path) -> (PathBuf, PathBuf) {
    let mut part = output.as_os_str().to_owned();
    part.push(".part");
    let mut state = part.clone();
    state.push(".state");
    (PathBuf::from(part), PathBuf::from(state))
}

impl PartState {
    /// Reads a sidecar; `None` when absent or unreadable (the download starts over).
    pub fn load(path: &Path) -> Option<PartState> {
        Self::from_json(&fs::read_to_string(path).ok()?)
    }

    /// Decodes a sidecar's text (what [`PartState::load`] reads); `None` when it is not a
    /// sidecar of this version. Public so the fuzz target reaches it without a file.
    pub fn from_json(text: &str) -> Option<PartState> {
        let s: PartState = serde_json::from_str(text).ok()?;
        (s.version == STATE_VERSION && s.done.is_canonical_within(s.size)).then_some(s)
    }

    /// Writes the sidecar atomically (temporary name, sync, rename).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        {
            use std::io::Write;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_set() {
        let mut s = RangeSet::default();
        s.insert(10..20);
        s.insert(30..40);
        s.insert(20..30);
        assert_eq!(s.0, vec![(10, 40)]);
        s.insert(0..5);
        s.insert(50..60);
        assert_eq!(s.gaps(70), vec![5..10, 40..50, 60..70]);
        assert_eq!(s.len(), 45);
        assert!(s.contains(&(12..40)));
        assert!(!s.contains(&(12..41)));
        assert_eq!(s.first_within(&(6..45)), Some(10..40));
        assert_eq!(s.first_within(&(40..50)), None);
        assert_eq!(s.run_from(12, 100), Some(12..40));
        assert_eq!(s.run_from(12, 30), Some(12..30));
        assert_eq!(s.run_from(40, 100), None);
        assert_eq!(s.count(), 3);
        s.insert(3..55);
        assert_eq!(s.0, vec![(0, 60)]);
    }
}
