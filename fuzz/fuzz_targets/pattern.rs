//! Feeds arbitrary text to keyword pattern parsing (what a Query's text becomes before
//! the library is searched): never panics, whatever the text; a pattern parsed from its
//! own text is the same pattern; matching it against names built from the input never
//! panics (the glob matcher walks UTF-8 bytes by hand).
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::library::matching::{fold, glob_match, Pattern};
use servent_fuzz::bounded;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Text then a name: split at the first newline, when there is one.
    let (query, name) = text.split_once('\n').unwrap_or((&text, &text));
    bounded(data.len(), 4096, 32, || {
        let folded = fold(name);
        let _ = glob_match(fold(query).as_bytes(), folded.as_bytes());
        let Ok(p) = Pattern::parse(query) else {
            return;
        };
        assert_eq!(
            Pattern::parse(p.text()).as_ref(),
            Ok(&p),
            "parse(text) differs"
        );
        let _ = p.matches_name(name);
        let _ = p.matches_name(query);
        for term in p.terms() {
            let _ = term.matches(&folded, &[]);
        }
    })
});
