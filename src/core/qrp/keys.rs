//! What a query is routed by ([`QueryKeys`]: hash codes of its words and URNs) and what a
//! table is built from ([`table_words`]: file-name words and their prefixes).
//!
//! # Query words
//! The text is canonicalised (by default: lowercase, see [`ascii_canonical`]; the library
//! folds accents too), split on whitespace into terms, and each term into words (runs of
//! letters and digits). Only words of at least [`QRP_MIN_WORD_LENGTH`] bytes are hashed, as
//! gtk-gnutella hashes its queries: shorter ones are never in a table's promises.
//!
//! Wildcards (`*`, `?`, which our queries may carry: `linux*iso`, `*.mp3`, `beat?es`): a
//! term holding one contributes only its leading literal run, cut at the first wildcard,
//! and of that run only its first word, and only when the term does not start with a
//! wildcard and that word is at least [`QRP_MIN_WORD_LENGTH`] long: it is then a whole
//! word or a word prefix of any matching name, both of which a table holds. Every other
//! fragment is skipped. When nothing hashable remains the keys are empty and
//! [`super::QueryRoutingTable::may_route`] says true: the table cannot tell.
//!
//! # URNs
//! Each `urn:sha1:` item of the extension area is hashed as the whole URN string in lower
//! case (`urn:sha1:` and the base32 digest), as LimeWire-style tables insert them.
//! gtk-gnutella puts no URN in its own tables, so neither does [`table_words`].
//!
//! # Table words
//! Every word of every name, plus each of its prefixes down to [`QRP_MIN_WORD_LENGTH`]
//! bytes: all of them, not only gtk-gnutella's 5 cuts, since our matcher answers any word
//! prefix; a superset of gtk-gnutella's own table, so its queries route to us as to it.

use std::collections::HashSet;

use super::hash::qrp_hashcode;
use crate::proto::payload::Query;

/// Shortest query word hashed, bytes; table prefixes stop here too (gtk-gnutella's
/// `QRP_MIN_WORD_LENGTH`).
pub const QRP_MIN_WORD_LENGTH: usize = 3;
/// Most hash codes (words and URNs) kept per query (gtk-gnutella's `QRP_HVEC_MAX`).
pub const QRP_HVEC_MAX: usize = 128;

/// The hash codes a query is routed by: its words and its URNs, each deduplicated, at
/// most [`QRP_HVEC_MAX`] in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryKeys {
    words: Vec<u32>,
    urns: Vec<u32>,
}

impl QueryKeys {
    /// The default keys of a query: [`ascii_canonical`] text through
    /// [`QueryKeys::from_canonical_text`], plus its `urn:sha1:` items.
    pub fn from_query(query: &Query) -> QueryKeys {
        let mut keys = QueryKeys::from_canonical_text(&ascii_canonical(&query.text_lossy()));
        keys.add_query_urns(query);
        keys
    }

    /// Keys from already canonical query text, by the word and wildcard rules of the
    /// module documentation. No URNs.
    pub fn from_canonical_text(text: &str) -> QueryKeys {
        let mut keys = QueryKeys::default();
        for term in text.split_whitespace() {
            match term.find(['*', '?']) {
                None => {
                    for w in split_words(term) {
                        keys.add_word(w);
                    }
                }
                Some(0) => {}
                Some(cut) => {
                    let lead = &term[..cut];
                    let first = lead.split(|c: char| !c.is_alphanumeric()).next();
                    if let Some(w) = first {
                        keys.add_word(w);
                    }
                }
            }
        }
        keys
    }

    /// Adds the query's `urn:sha1:` items, lowercased.
    pub fn add_query_urns(&mut self, query: &Query) {
        for urn in query.extensions.iter().filter_map(|e| e.sha1_urn()) {
            self.add_urn(&urn.to_ascii_lowercase());
        }
    }

    /// Adds a canonical word when it is at least [`QRP_MIN_WORD_LENGTH`] bytes long, new,
    /// and there is room.
    pub fn add_word(&mut self, word: &str) {
        if word.len() >= QRP_MIN_WORD_LENGTH {
            let h = qrp_hashcode(word);
            if !self.words.contains(&h) && !self.is_full() {
                self.words.push(h);
            }
        }
    }

    /// Adds a URN (hashed as given: pass it lowercased) when new and there is room.
    pub fn add_urn(&mut self, urn: &str) {
        let h = qrp_hashcode(urn);
        if !self.urns.contains(&h) && !self.is_full() {
            self.urns.push(h);
        }
    }

    fn is_full(&self) -> bool {
        self.words.len() + self.urns.len() >= QRP_HVEC_MAX
    }

    /// Hash codes of the words, in query order.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Hash codes of the URNs.
    pub fn urns(&self) -> &[u32] {
        &self.urns
    }

    /// Whether nothing could be hashed (the table cannot judge the query).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.urns.is_empty()
    }
}

/// The default canonical form: lowercase (Unicode lowercase; no accent folding).
pub fn ascii_canonical(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

/// The words of canonical text: maximal runs of letters and digits.
pub fn split_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The words a table must hold for files named with `name_words` (canonical words):
/// each word, plus every prefix of it (cut at a character boundary) of at least
/// [`QRP_MIN_WORD_LENGTH`] bytes. Deduplicated, in first-seen order.
pub fn table_words<'a>(name_words: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: HashSet<&'a str> = HashSet::new();
    let mut out = Vec::new();
    for word in name_words {
        let cuts = word
            .char_indices()
            .map(|(i, _)| i)
            .skip(1)
            .chain(std::iter::once(word.len()));
        for end in cuts {
            if end < QRP_MIN_WORD_LENGTH && end < word.len() {
                continue;
            }
            let prefix = &word[..end];
            if seen.insert(prefix) {
                out.push(prefix.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::payload::Extension;

    fn hashes(words: &[&str]) -> Vec<u32> {
        words.iter().map(|w| qrp_hashcode(w)).collect()
    }

    #[test]
    fn plain_words_at_least_three_bytes() {
        let k = QueryKeys::from_query(&Query::new("The Beatles - Let It Be (1970).mp3"));
        assert_eq!(k.words(), hashes(&["the", "beatles", "let", "1970", "mp3"]));
        assert!(k.urns().is_empty());
        let k = QueryKeys::from_query(&Query::new("a b cd"));
        assert!(k.is_empty());
        let k = QueryKeys::from_query(&Query::new("linux LINUX linux.iso"));
        assert_eq!(k.words(), hashes(&["linux", "iso"]));
    }

    #[test]
    fn wildcard_terms_give_their_leading_word_only() {
        for (text, want) in [
            ("linux*iso", vec!["linux"]),
            ("*.mp3", vec![]),
            ("?abc", vec![]),
            ("beat?es", vec!["beat"]),
            ("li*", vec![]),
            ("my.song*", vec![]),
            ("debian.netinst*x", vec!["debian"]),
            ("beat?es abbey road*", vec!["beat", "abbey", "road"]),
            ("*", vec![]),
        ] {
            let k = QueryKeys::from_canonical_text(text);
            assert_eq!(k.words(), hashes(&want), "{text:?}");
        }
    }

    #[test]
    fn urns_are_hashed_lowercase() {
        let mut q = Query::new("");
        q.extensions.push(Extension::Urn(
            "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB".into(),
        ));
        q.extensions.push(Extension::Urn("urn:bitprint:XYZ".into()));
        let k = QueryKeys::from_query(&q);
        assert_eq!(
            k.urns(),
            hashes(&["urn:sha1:plsthipqgsszts5fjupakuzwugyqypfb"])
        );
        assert!(k.words().is_empty() && !k.is_empty());
    }

    #[test]
    fn keys_are_bounded() {
        let text: Vec<String> = (0..500).map(|i| format!("word{i}")).collect();
        let k = QueryKeys::from_canonical_text(&text.join(" "));
        assert_eq!(k.words().len(), QRP_HVEC_MAX);
    }

    #[test]
    fn table_words_hold_every_prefix() {
        let w = table_words(["beatles", "be", "beach", "été"].into_iter());
        assert_eq!(
            w,
            ["bea", "beat", "beatl", "beatle", "beatles", "be", "beac", "beach", "ét", "été"]
        );
        // "ét" is 3 bytes: gtk-gnutella counts bytes too.
    }
}
