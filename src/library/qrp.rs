//! The library's side of query routing: the words of its query routing table (every
//! folded word of every shared name, with its prefixes) and a Query's keys, folded the
//! way [`super::matching`] folds names, so that accents and case route as they match.

use super::index::Index;
use super::matching::{fold, words};
use crate::core::qrp::{table_words, QueryKeys};
use crate::proto::payload::Query;

/// The table words of every file of a snapshot ([`table_words`] over the folded name
/// words the index already holds).
pub fn index_words(index: &Index) -> Vec<String> {
    table_words(
        index
            .files()
            .iter()
            .flat_map(|f| f.words.iter().map(|w| &**w)),
    )
}

/// The table words of names, folded and split as the library folds and splits them.
pub fn name_words<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let folded: Vec<String> = names.into_iter().map(fold).collect();
    table_words(folded.iter().flat_map(|n| words(n)))
}

/// A Query's keys: the text folded with [`fold`], then the word and wildcard rules of
/// [`crate::core::qrp::keys`], plus its `urn:sha1:` items.
pub fn query_keys(query: &Query) -> QueryKeys {
    let mut keys = QueryKeys::from_canonical_text(&fold(&query.text_lossy()));
    keys.add_query_urns(query);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::qrp::{QueryRoutingTable, DEFAULT_TABLE_BITS};
    use crate::library::matching::Pattern;
    use crate::library::SharedFile;
    use std::sync::Arc;

    const NAMES: [&str; 6] = [
        "The Beatles - Abbey Road (1969).flac",
        "Café del Mar - Ibiza Sunset.mp3",
        "Straße nach Süden.ogg",
        "debian-12.5.0-amd64-netinst.iso",
        "Ænima by Tool.mp3",
        "linux_kernel_guide.pdf",
    ];

    fn table() -> QueryRoutingTable {
        QueryRoutingTable::from_keywords(name_words(NAMES), DEFAULT_TABLE_BITS)
    }

    #[test]
    fn index_and_names_agree() {
        let files: Vec<Arc<SharedFile>> = NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| Arc::new(SharedFile::detached(i as u32, n, 1)))
            .collect();
        let index = Index::new(files);
        let mut a = index_words(&index);
        let mut b = name_words(NAMES);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    /// Every query the library answers by whole word or word prefix routes to the table.
    #[test]
    fn every_matching_query_routes() {
        let t = table();
        let queries = [
            "beatles",
            "BEAT",
            "abbey road",
            "cafe",
            "CAFÉ DEL",
            "strasse",
            "straße süd",
            "sud",
            "aenima",
            "ænim tool",
            "debian netinst",
            "deb amd64",
            "linux guide",
            "linux*guide*",
            "beat?es",
            "*.iso",
            "1969 flac",
        ];
        for q in queries {
            let query = Query::new(q);
            let pattern = Pattern::parse(q).unwrap();
            let matched = NAMES.iter().any(|n| pattern.matches_name(n));
            assert!(matched, "the library should match {q:?}");
            assert!(t.may_route(&query_keys(&query)), "{q:?} should route");
        }
    }

    #[test]
    fn absent_words_do_not_route() {
        let t = table();
        for q in ["zeppelin", "metallica master", "beatles zeppelin"] {
            let keys = query_keys(&Query::new(q));
            // Skip a word that collides in the table by chance (none does today).
            let collides = keys.words().iter().all(|&h| t.contains_hashcode(h));
            assert!(!collides && !t.may_route(&keys), "{q:?}");
        }
    }
}
