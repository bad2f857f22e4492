//! Query text to a [`Pattern`]: folding (case and accents), splitting into words, plain
//! terms (a word of the file name or the start of one) and glob terms (`*` and `?` over
//! one word of the file name or over the whole name), and the rules that refuse queries
//! no one can answer sensibly.
//!
//! Both sides use the same rules: the answering side through the keyword index
//! ([`super::index`]), the searching side through [`Pattern::matches_name`] on every hit
//! it receives (other servents treat `*` as a separator, so their hits are filtered here).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Longest query text accepted, in bytes. gtk-gnutella drops queries over 256 bytes and
/// real ones are far shorter; it also bounds the glob matcher's work per name.
pub const MAX_QUERY_TEXT_LEN: usize = 256;

/// Most terms in one query: each term is checked against every candidate name.
pub const MAX_TERMS: usize = 16;

/// Shortest run of letters or digits a query needs somewhere: one-letter queries match
/// nearly everything (gtk-gnutella drops them too).
pub const MIN_WORD_LEN: usize = 2;

/// Why a query text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No letters, digits or wildcards at all (empty or only separators).
    #[error("the query is empty: give at least one word")]
    Empty,
    /// Wildcards (`*`, `?`) but no letter or digit.
    #[error("the query has no letters or digits, only wildcards: add a word (e.g. '*.iso' rather than '*')")]
    OnlyWildcards,
    /// No run of letters or digits is at least [`MIN_WORD_LEN`] (2) characters long.
    #[error("the query is too short: at least one term needs {MIN_WORD_LEN} letters or digits")]
    TooShort,
    /// Longer than [`MAX_QUERY_TEXT_LEN`] (256) bytes.
    #[error("the query is {len} bytes long; at most {MAX_QUERY_TEXT_LEN} are allowed")]
    TooLong {
        /// The text's length in bytes.
        len: usize,
    },
    /// More than [`MAX_TERMS`] (16) distinct terms (words and globs).
    #[error("the query has {count} terms; at most {MAX_TERMS} are allowed")]
    TooManyTerms {
        /// Distinct terms after splitting plain terms into words.
        count: usize,
    },
}

/// Folds text for matching: compatibility decomposition, combining marks (accents)
/// removed, lower case, and a few letters that do not decompose spelled out
/// (`ß` -> `ss`, `æ` -> `ae`, `ø` -> `o`, ...). `*` and `?` are left alone.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd() {
        for l in c.to_lowercase() {
            if is_combining_mark(l) {
                continue;
            }
            match l {
                'ß' => out.push_str("ss"),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'ø' => out.push('o'),
                'đ' | 'ð' => out.push('d'),
                'ł' => out.push('l'),
                'ı' => out.push('i'),
                'þ' => out.push_str("th"),
                _ => out.push(l),
            }
        }
    }
    out
}

/// The words of folded text: maximal runs of letters and digits.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Where a literal run of a glob must sit inside one word of a matching name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAnchor {
    /// The run is a whole word.
    Word,
    /// The run starts a word.
    Prefix,
    /// The run ends a word.
    Suffix,
    /// The run is somewhere inside a word.
    Inside,
}

/// A run of letters and digits of a glob, and what it implies about a matching name:
/// used by the index to find candidates without scanning every name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralRun {
    /// The run, folded: letters and digits only.
    pub text: String,
    /// Where it must sit in a word of a matching name.
    pub anchor: RunAnchor,
}

/// A glob term: `*` matches any run of characters (also none), `?` exactly one; the
/// glob must match one word of the folded file name or the whole folded name. A glob
/// with a literal separator (`.`, `-`, ...) can only match the whole name, since words
/// hold letters and digits only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    folded: String,
    runs: Vec<LiteralRun>,
    /// Every character that is not `*` or `?` is a letter or digit.
    word_glob: bool,
}

impl Glob {
    fn new(folded: String) -> Glob {
        let runs = literal_runs(&folded);
        let word_glob = folded
            .chars()
            .all(|c| matches!(c, '*' | '?') || c.is_alphanumeric());
        Glob {
            folded,
            runs,
            word_glob,
        }
    }

    /// The folded pattern text.
    pub fn as_str(&self) -> &str {
        &self.folded
    }

    /// Its runs of letters and digits, each with where it must sit in a word.
    pub fn runs(&self) -> &[LiteralRun] {
        &self.runs
    }

    /// Whether the glob can match a single word (it has no literal separator).
    pub fn can_match_word(&self) -> bool {
        self.word_glob
    }

    /// Whether the glob matches a word of the name or the whole name, given the name
    /// folded and split into words.
    pub fn matches(&self, folded_name: &str, name_words: &[Box<str>]) -> bool {
        (self.word_glob && name_words.iter().any(|w| self.matches_whole(w)))
            || self.matches_whole(folded_name)
    }

    /// Whether the glob matches the whole of `folded_text` (already folded): a name, or
    /// one word of it.
    pub fn matches_whole(&self, folded_text: &str) -> bool {
        glob_match(self.folded.as_bytes(), folded_text.as_bytes())
    }
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Folded letters and digits: matches a word of the name that starts with it.
    Word(String),
    /// Contains `*` or `?`: matches a word of the name or the whole name.
    Glob(Glob),
}

impl Term {
    /// Whether this term matches a name given folded and split into words.
    pub fn matches(&self, folded_name: &str, name_words: &[Box<str>]) -> bool {
        match self {
            Term::Word(w) => name_words.iter().any(|n| n.starts_with(w.as_str())),
            Term::Glob(g) => g.matches(folded_name, name_words),
        }
    }
}

/// A parsed, valid query: every term must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    terms: Vec<Term>,
}

impl Pattern {
    /// Parses query text. Terms are split on whitespace; a term with `*` or `?` is a
    /// glob over a word of the name or the whole name; any other term is split on non-alphanumerics into
    /// words, each of which must start a word of the name.
    pub fn parse(text: &str) -> Result<Pattern, QueryError> {
        if text.len() > MAX_QUERY_TEXT_LEN {
            return Err(QueryError::TooLong { len: text.len() });
        }
        let mut terms = Vec::new();
        let mut longest_run = 0;
        let mut wildcards = false;
        for raw in text.split_whitespace() {
            let folded = fold(raw);
            longest_run =
                longest_run.max(words(&folded).map(|w| w.chars().count()).max().unwrap_or(0));
            if folded.contains(['*', '?']) {
                wildcards = true;
                let glob = Term::Glob(Glob::new(folded));
                if !terms.contains(&glob) {
                    terms.push(glob);
                }
            } else {
                for w in words(&folded) {
                    let word = Term::Word(w.to_owned());
                    if !terms.contains(&word) {
                        terms.push(word);
                    }
                }
            }
        }
        if longest_run == 0 {
            return Err(if wildcards {
                QueryError::OnlyWildcards
            } else {
                QueryError::Empty
            });
        }
        if longest_run < MIN_WORD_LEN {
            return Err(QueryError::TooShort);
        }
        if terms.len() > MAX_TERMS {
            return Err(QueryError::TooManyTerms { count: terms.len() });
        }
        Ok(Pattern {
            text: text.trim().to_owned(),
            terms,
        })
    }

    /// The query text as given (trimmed): what goes on the wire.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its distinct terms (folded words and globs), in query order; every one must match.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Whether a file name (as received, not folded) matches every term.
    pub fn matches_name(&self, name: &str) -> bool {
        let folded = fold(name);
        let name_words: Vec<Box<str>> = words(&folded).map(Box::from).collect();
        self.matches_folded(&folded, &name_words)
    }

    /// Same as [`Pattern::matches_name`] on a name already folded and split.
    pub fn matches_folded(&self, folded: &str, name_words: &[Box<str>]) -> bool {
        self.terms.iter().all(|t| t.matches(folded, name_words))
    }
}

fn is_word_byte_start(c: char) -> bool {
    c.is_alphanumeric()
}

/// The maximal runs of letters and digits in a folded glob, with their anchors: a run
/// preceded by the pattern start or by a literal non-alphanumeric character starts a
/// word of any matching name; followed by the pattern end or such a character, it ends
/// one. A run next to `*` or `?` may sit inside a longer word. This holds for both ways
/// a glob matches: over the whole name (its start and end are a word's start and end
/// when the character there is a letter or digit) and over one word (then the glob has
/// no literal separator, and its start and end are the word's).
fn literal_runs(folded: &str) -> Vec<LiteralRun> {
    let chars: Vec<char> = folded.chars().collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_word_byte_start(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let bounded = |c: Option<&char>| match c {
            None => true,
            Some('*' | '?') => false,
            Some(_) => true,
        };
        let left = bounded(start.checked_sub(1).and_then(|p| chars.get(p)));
        let right = bounded(chars.get(i));
        let anchor = match (left, right) {
            (true, true) => RunAnchor::Word,
            (true, false) => RunAnchor::Prefix,
            (false, true) => RunAnchor::Suffix,
            (false, false) => RunAnchor::Inside,
        };
        runs.push(LiteralRun {
            text: chars[start..i].iter().collect(),
            anchor,
        });
    }
    runs
}

/// Width of the UTF-8 sequence starting with `b` (1 for a stray continuation byte so
/// the matcher always advances).
fn utf8_width(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Glob matching over UTF-8 bytes: `*` any run, `?` one character, anything else
/// literally. Iterative with one backtrack point: O(len(pattern) * len(text)) at worst.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                t += utf8_width(text[t]);
                continue;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                let next = st + utf8_width(text[st]);
                star = Some((sp, next));
                p = sp + 1;
                t = next;
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_case() {
        assert_eq!(fold("Beyoncé – Déjà Vu"), "beyonce – deja vu");
        assert_eq!(fold("STRAßE"), "strasse");
        assert_eq!(fold("Ærø"), "aero");
    }

    #[test]
    fn glob_basics() {
        assert!(glob_match(b"*.mp3", b"a.mp3"));
        assert!(!glob_match(b"*.mp3", b"a.mp3.txt"));
        assert!(glob_match(b"a?c", "aéc".as_bytes()));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"?", b""));
        assert!(glob_match(b"*a*b*c*", b"xxaxxbxxcxx"));
    }

    #[test]
    fn runs_are_anchored() {
        let g = Glob::new("linux*.iso".into());
        assert_eq!(
            g.runs(),
            &[
                LiteralRun {
                    text: "linux".into(),
                    anchor: RunAnchor::Prefix
                },
                LiteralRun {
                    text: "iso".into(),
                    anchor: RunAnchor::Word
                }
            ]
        );
        let g = Glob::new("*beat?es*".into());
        assert_eq!(g.runs()[0].anchor, RunAnchor::Inside);
    }

    #[test]
    fn globs_match_a_word_or_the_whole_name() {
        let matches = |glob: &str, name: &str| {
            let g = Glob::new(fold(glob));
            let folded = fold(name);
            let words: Vec<Box<str>> = words(&folded).map(Box::from).collect();
            g.matches(&folded, &words)
        };
        assert!(Glob::new("beat?es".into()).can_match_word());
        assert!(!Glob::new("*.mp3".into()).can_match_word());
        assert!(matches("beat?es", "The Beatles - Help.mp3"));
        assert!(!matches("beat?es", "beatles2000.mp3"));
        assert!(matches("beat?es*", "beatles2000.mp3"));
        assert!(matches("linux*.iso", "linux-6.1-amd64.iso"));
        assert!(
            !matches("6.1-amd*", "linux-6.1-amd64.iso"),
            "a separator: whole name only"
        );
        assert!(
            matches("beat?es", "beat-es"),
            "? matches a separator in the whole name"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(Pattern::parse("   "), Err(QueryError::Empty));
        assert_eq!(Pattern::parse("* ?"), Err(QueryError::OnlyWildcards));
        assert_eq!(Pattern::parse("a"), Err(QueryError::TooShort));
        assert_eq!(Pattern::parse("a*"), Err(QueryError::TooShort));
        assert!(Pattern::parse("ab").is_ok());
    }
}
