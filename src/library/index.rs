//! The keyword index of one library snapshot: every word of every file name (folded) maps
//! to the files holding it, in a sorted map so a term that must start a word is a range
//! lookup. A query starts from its most selective term (fewest candidate files) and
//! checks the other terms on those candidates only; glob terms use their literal runs to
//! find candidates (whole word, word prefix, or a scan of the distinct words for a run
//! inside a word), so no query walks the list of names. A run's anchor holds whether the
//! glob matches one word of a name or the whole name, so the same candidates serve both.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::matching::{Pattern, RunAnchor, Term};
use super::SharedFile;

/// Most candidates checked against a query's full pattern before giving up: bounds the
/// work of a query whose terms are all very common (e.g. `*.mp3*` on a music library).
pub const MAX_CANDIDATES_CHECKED: usize = 50_000;

/// Position of a file in [`Index::files`] (not its Gnutella file index).
type Slot = u32;

/// One immutable snapshot of the library: files plus the word index over their names.
#[derive(Default)]
pub struct Index {
    files: Vec<Arc<SharedFile>>,
    by_index: HashMap<u32, Slot>,
    words: BTreeMap<Box<str>, Vec<Slot>>,
}

impl Index {
    /// Builds the index over `files` (any order; kept in file-index order).
    pub fn new(mut files: Vec<Arc<SharedFile>>) -> Index {
        files.sort_by_key(|f| f.index);
        let mut words: BTreeMap<Box<str>, Vec<Slot>> = BTreeMap::new();
        let mut by_index = HashMap::with_capacity(files.len());
        for (slot, f) in files.iter().enumerate() {
            let slot = slot as Slot;
            by_index.insert(f.index, slot);
            for w in f.words.iter() {
                let list = words.entry(w.clone()).or_default();
                if list.last() != Some(&slot) {
                    list.push(slot);
                }
            }
        }
        Index {
            files,
            by_index,
            words,
        }
    }

    /// Every shared file of the snapshot, in file-index order.
    pub fn files(&self) -> &[Arc<SharedFile>] {
        &self.files
    }

    /// Files shared in the snapshot.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The snapshot shares no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file with this Gnutella file index.
    pub fn get(&self, index: u32) -> Option<&Arc<SharedFile>> {
        self.by_index
            .get(&index)
            .map(|&slot| &self.files[slot as usize])
    }

    /// Files matching every term of `pattern`, in file-index order, at most `limit`.
    pub fn search(&self, pattern: &Pattern, limit: usize) -> Vec<Arc<SharedFile>> {
        if limit == 0 || self.files.is_empty() {
            return Vec::new();
        }
        let mut sources = self.sources(pattern);
        if sources.is_empty() {
            return Vec::new();
        }
        sources.sort_by_key(|s| s.count);
        // Start from the most selective source; intersect with the others while they
        // are small enough that merging beats checking names one by one.
        let mut candidates = sources[0].slots();
        for other in &sources[1..] {
            if candidates.is_empty() || other.count > candidates.len().saturating_mul(8) {
                break;
            }
            let set = other.slots();
            candidates = intersect(&candidates, &set);
        }
        candidates
            .into_iter()
            .take(MAX_CANDIDATES_CHECKED)
            .map(|slot| &self.files[slot as usize])
            .filter(|f| pattern.matches_folded(&f.folded, &f.words))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Candidate sources: one per plain term, one per literal run of each glob. Each is
    /// a superset of the files its term matches: a glob matching a word (`beat?es` on
    /// "The Beatles") or the whole name (`linux*.iso`) has each literal run inside a
    /// word of the name, anchored as [`RunAnchor`] says (see `matching::literal_runs`).
    fn sources<'a>(&'a self, pattern: &'a Pattern) -> Vec<Candidates<'a>> {
        let mut out = Vec::new();
        for term in pattern.terms() {
            match term {
                Term::Word(w) => out.push(self.prefix(w)),
                Term::Glob(g) => {
                    // Runs inside words need a scan of the distinct words: when the glob
                    // has anchored runs, those suffice; otherwise scan for its longest.
                    let anchored = g
                        .runs()
                        .iter()
                        .any(|r| matches!(r.anchor, RunAnchor::Word | RunAnchor::Prefix));
                    let longest = g.runs().iter().map(|r| r.text.len()).max().unwrap_or(0);
                    let mut scanned = false;
                    for r in g.runs() {
                        let inside = !matches!(r.anchor, RunAnchor::Word | RunAnchor::Prefix);
                        if inside && (anchored || scanned || r.text.len() < longest) {
                            continue;
                        }
                        scanned |= inside;
                        out.push(match r.anchor {
                            RunAnchor::Word => Candidates::new(
                                self.words.get(r.text.as_str()).into_iter().collect(),
                            ),
                            RunAnchor::Prefix => self.prefix(&r.text),
                            a => Candidates::new(
                                self.words
                                    .iter()
                                    .filter(|(w, _)| inside_matches(w, &r.text, a))
                                    .map(|(_, l)| l)
                                    .collect(),
                            ),
                        });
                    }
                }
            }
        }
        out
    }

    fn prefix<'a>(&'a self, prefix: &'a str) -> Candidates<'a> {
        Candidates::new(
            self.words
                .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(w, _)| w.starts_with(prefix))
                .map(|(_, l)| l)
                .collect(),
        )
    }
}

/// The posting lists of the words a term or glob run can match.
struct Candidates<'a> {
    lists: Vec<&'a Vec<Slot>>,
    /// Sum of the lists' lengths (an upper bound on the files).
    count: usize,
}

impl<'a> Candidates<'a> {
    fn new(lists: Vec<&'a Vec<Slot>>) -> Candidates<'a> {
        let count = lists.iter().map(|l| l.len()).sum();
        Candidates { lists, count }
    }

    /// The files, sorted and without duplicates.
    fn slots(&self) -> Vec<Slot> {
        match self.lists.as_slice() {
            [] => Vec::new(),
            [one] => (*one).clone(),
            many => {
                let mut v: Vec<Slot> = many.iter().flat_map(|l| l.iter().copied()).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
        }
    }
}

/// Elements of sorted `a` also in sorted `b`.
fn intersect(a: &[Slot], b: &[Slot]) -> Vec<Slot> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn inside_matches(word: &str, run: &str, anchor: RunAnchor) -> bool {
    match anchor {
        RunAnchor::Suffix => word.ends_with(run),
        RunAnchor::Word => word == run,
        RunAnchor::Prefix => word.starts_with(run),
        RunAnchor::Inside => word.contains(run),
    }
}
