//! The keyword index of one library snapshot: every word of every file name (folded) maps
//! to the files holding it, in a sorted map so a term that must start a word is a range
//! lookup. A query starts from its most selective term (fewest candidate files) and
//! checks the other terms on those candidates only; glob terms use their literal runs to
//! find candidates (whole word, word prefix, or a scan of the distinct words for a run
//! inside a word), so no query walks the list of names.

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

/// How a query's candidates are found.
enum Source<'a> {
    /// Files holding exactly this word.
    Word(&'a str),
    /// Files holding a word starting with this.
    Prefix(&'a str),
    /// Files holding a word that contains (or ends with) this: a scan of distinct words.
    Inside(&'a str, RunAnchor),
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

    pub fn files(&self) -> &[Arc<SharedFile>] {
        &self.files
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

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
        let Some(source) = self.best_source(pattern) else {
            return Vec::new();
        };
        let mut candidates = self.candidates(&source);
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .take(MAX_CANDIDATES_CHECKED)
            .map(|slot| &self.files[slot as usize])
            .filter(|f| pattern.matches_folded(&f.folded, &f.words))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The term source with the fewest candidate files (counting stops once a source is
    /// worse than the best so far).
    fn best_source<'a>(&self, pattern: &'a Pattern) -> Option<Source<'a>> {
        let mut best: Option<(usize, Source<'a>)> = None;
        for term in pattern.terms() {
            let sources: Vec<Source<'a>> = match term {
                Term::Word(w) => vec![Source::Prefix(w)],
                Term::Glob(g) => g
                    .runs()
                    .iter()
                    .map(|r| match r.anchor {
                        RunAnchor::Word => Source::Word(&r.text),
                        RunAnchor::Prefix => Source::Prefix(&r.text),
                        a => Source::Inside(&r.text, a),
                    })
                    .collect(),
            };
            for s in sources {
                let bound = best.as_ref().map_or(usize::MAX, |(n, _)| *n);
                let n = self.count(&s, bound);
                if n < bound {
                    best = Some((n, s));
                }
            }
        }
        best.map(|(_, s)| s)
    }

    /// Candidate count of a source, or at least `bound` when it has that many.
    fn count(&self, source: &Source<'_>, bound: usize) -> usize {
        let mut n = 0;
        match source {
            Source::Word(w) => n = self.words.get(*w).map_or(0, Vec::len),
            Source::Prefix(p) => {
                for (_, list) in self.prefix_range(p) {
                    n += list.len();
                    if n >= bound {
                        break;
                    }
                }
            }
            Source::Inside(run, anchor) => {
                // A scan of distinct words: rank it behind every indexed lookup of the
                // same size, and never above the number of files.
                for (w, list) in &self.words {
                    if inside_matches(w, run, *anchor) {
                        n += list.len();
                        if n >= bound {
                            break;
                        }
                    }
                }
            }
        }
        n
    }

    fn prefix_range<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s Box<str>, &'s Vec<Slot>)> + 's {
        self.words
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(w, _)| w.starts_with(prefix))
    }

    fn candidates(&self, source: &Source<'_>) -> Vec<Slot> {
        match source {
            Source::Word(w) => self.words.get(*w).cloned().unwrap_or_default(),
            Source::Prefix(p) => self
                .prefix_range(p)
                .flat_map(|(_, l)| l.iter().copied())
                .collect(),
            Source::Inside(run, anchor) => self
                .words
                .iter()
                .filter(|(w, _)| inside_matches(w, run, *anchor))
                .flat_map(|(_, l)| l.iter().copied())
                .collect(),
        }
    }
}

fn inside_matches(word: &str, run: &str, anchor: RunAnchor) -> bool {
    match anchor {
        RunAnchor::Suffix => word.ends_with(run),
        RunAnchor::Word => word == run,
        RunAnchor::Prefix => word.starts_with(run),
        RunAnchor::Inside => word.contains(run),
    }
}
