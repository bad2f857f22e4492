//! Keyword and wildcard matching: a table of (pattern, name, expected) cases including
//! Unicode folding and the examples; the refusal rules; the keyword index gives
//! exactly what a linear filter gives on random libraries; the library answers Queries
//! through the core's `QueryMatcher` (keywords, by hash, max-hits, refusals); results
//! of 4 GiB and more carry size 0xFFFFFFFF and a GGEP LF extension; searching-side
//! grouping and the table.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use servent::core::{Config, LocalFile, PeerId, PeerInfo, Servent, SharedFiles};
use servent::library::hits::{group_hits, render_table, result_size, SearchHit};
use servent::library::index::Index;
use servent::library::matching::{fold, words, Pattern, QueryError, Term};
use servent::library::{hash, Library, LibraryConfig, SharedFile};
use servent::proto::payload::{Extension, Query};
use servent::proto::{Descriptor, Guid, Payload};

const CASES: &[(&str, &str, bool)] = &[
    // A plain term matches a word of the name or the start of one.
    ("beat", "Beatles - Help.mp3", true),
    ("beatles help", "Beatles - Help.mp3", true),
    ("help beatles", "Beatles - Help.mp3", true),
    ("BEATLES", "Beatles - Help.mp3", true),
    ("eatles", "Beatles - Help.mp3", false),
    ("help mp4", "Beatles - Help.mp3", false),
    ("mp3", "Beatles - Help.mp3", true),
    ("help", "Help!.mp3", true),
    // Words split on any non-alphanumeric character; so are terms.
    ("thunder", "AC_DC_Thunderstruck.mp3", true),
    ("ac/dc", "AC-DC - Thunderstruck.mp3", true),
    ("6.1 x86", "linux-6.1-x86_64.iso", true),
    ("64", "linux-6.1-x86_64.iso", true),
    ("86", "linux-6.1-x86_64.iso", false),
    // A glob with a separator (`.`, `-`, ...) covers the whole name.
    ("*.mp3", "Beatles - Help.mp3", true),
    ("*.mp3", "Beatles - Help.mp3.txt", false),
    ("*.MP3", "song.mp3", true),
    ("linux*.iso", "linux-6.1-x86_64.iso", true),
    ("linux*.iso", "Linux Mint.ISO", true),
    ("linux*.iso", "debian-12-netinst.iso", false),
    ("linux*.iso", "my linux.iso", false),
    ("linux*.iso", "linux-6.1.iso.part2", false),
    ("linux*", "linux", true),
    ("*beat?es*", "The Beatles - Help.mp3", true),
    ("*beat?es*", "beatyes.ogg", true),
    ("*beat?es*", "beates.ogg", false),
    ("*beat?es*", "beattles.ogg", false),
    ("??.txt", "ab.txt", true),
    ("??.txt", "abc.txt", false),
    ("help *.mp3", "Beatles - Help.mp3", true),
    ("help *.ogg", "Beatles - Help.mp3", false),
    ("*struck.mp3", "AC_DC_Thunderstruck.mp3", true),
    // Unicode: case folding and accents removed on both sides.
    ("cafe", "Café del Mar.mp3", true),
    ("café", "Cafe del Mar.mp3", true),
    ("CAFÉ", "café.flac", true),
    ("deja vu", "Déjà Vu.mp3", true),
    ("strasse", "Straße.txt", true),
    ("Ærø", "aero.txt", true),
    ("ünïcödé", "Unicode Test.txt", true),
    ("ÅNGSTRÖM", "ångström units.pdf", true),
    ("東京", "東京 Tokyo.mp3", true),
    ("tokyo*", "東京 Tokyo.mp3", true),
    ("*tokyo*", "東京 Tokyo.mp3", true),
    ("?e.txt", "é.txt", false),
    ("??.txt", "ée.txt", true),
    ("*mäd?hen*", "Madchen.txt", true),
    ("*mad?hen*", "Mädchen.txt", true),
    ("*mad?hen*", "Mädhen.txt", false),
];

/// Issue 10: a glob matches a word of the name or the whole name.
const WORD_GLOB_CASES: &[(&str, &str, bool)] = &[
    // The examples.
    ("beat?es", "The Beatles - Help.mp3", true),
    ("linux*.iso", "linux-6.1-amd64.iso", true),
    ("*.mp3", "The Beatles - Help.mp3", true),
    ("beat*", "The Beatles - Help.mp3", true),
    // A glob without a separator matches one word exactly, start to end.
    ("beat?es", "beatles2000.mp3", false),
    ("beat?es*", "beatles2000.mp3", true),
    ("beat?es", "beates.ogg", false),
    ("beat?es", "BEATLES", true),
    ("beat*", "Heartbeat.mp3", false),
    ("*beat", "Heartbeat.mp3", true),
    ("*beat", "Heartbeat Live.mp3", true),
    ("*beat", "Beatles.mp3", false),
    ("help*", "The Beatles - Help.mp3", true),
    ("*help", "The Beatles - Help.mp3", true),
    ("he?p", "The Beatles - Help.mp3", true),
    ("he?p", "The Beatles - Helps.mp3", false),
    ("?elp", "Help!.mp3", true),
    ("mp?", "song.mp3", true),
    ("mp?", "song.mp", false),
    ("東京*", "東京 Tokyo.mp3", true),
    ("東京?", "東京 Tokyo.mp3", false),
    // Case and accents fold on both sides, as for plain terms.
    ("d?ja", "Déjà Vu.mp3", true),
    ("DÉJ?", "deja vu.mp3", true),
    ("stra*e", "Straße.txt", true),
    // Across words only through the whole name.
    ("beatles*help", "The Beatles - Help.mp3", false),
    ("*beatles*help*", "The Beatles - Help.mp3", true),
    ("the*help*", "The Beatles - Help.mp3", true),
    ("x86?64", "linux-6.1-x86_64.iso", false),
    ("*x86?64*", "linux-6.1-x86_64.iso", true),
    ("beat?es", "beat-es", true),
    // A separator in the glob: the whole name only, never a word.
    ("linux*.iso", "my linux-6.1.iso", false),
    ("*.mp3", "my.mp3 collection.zip", false),
    ("6.1-amd*", "linux-6.1-amd64.iso", false),
    ("*6.1-amd*", "linux-6.1-amd64.iso", true),
    // Combined with plain terms, every term must still match.
    ("beat?es help", "The Beatles - Help.mp3", true),
    ("beat?es yesterday", "The Beatles - Help.mp3", false),
];

#[test]
fn matching_table() {
    assert!(CASES.len() >= 30 && WORD_GLOB_CASES.len() >= 15);
    let mut failures = Vec::new();
    for &(pattern, name, expected) in CASES.iter().chain(WORD_GLOB_CASES) {
        let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e}"));
        if p.matches_name(name) != expected {
            failures.push(format!("{pattern:?} vs {name:?}: expected {expected}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn refused_queries() {
    for (text, err) in [
        ("", QueryError::Empty),
        ("   ", QueryError::Empty),
        ("- . !", QueryError::Empty),
        ("*", QueryError::OnlyWildcards),
        ("*?* ?", QueryError::OnlyWildcards),
        ("a", QueryError::TooShort),
        ("a*", QueryError::TooShort),
        ("a b", QueryError::TooShort),
        ("é", QueryError::TooShort),
    ] {
        assert_eq!(Pattern::parse(text), Err(err), "{text:?}");
    }
    let long = "ab ".repeat(100);
    assert!(matches!(
        Pattern::parse(&long),
        Err(QueryError::TooLong { .. })
    ));
    for ok in ["ab", "*.mp3", "beatles a", "東京"] {
        assert!(Pattern::parse(ok).is_ok(), "{ok:?}");
    }
}

const SYLLABLES: &[&str] = &[
    "be", "at", "les", "help", "lin", "ux", "iso", "mp", "3", "déjà", "vu", "ca", "fé", "x86",
    "64", "ab", "ba", "Ö", "ß", "東",
];
const SEPARATORS: &[&str] = &["", "", " ", "-", "_", ".", " - ", "(", ")"];

fn random_name(rng: &mut ChaCha8Rng) -> String {
    let parts = rng.gen_range(1..8);
    let mut s = String::new();
    for _ in 0..parts {
        s.push_str(SYLLABLES[rng.gen_range(0..SYLLABLES.len())]);
        s.push_str(SEPARATORS[rng.gen_range(0..SEPARATORS.len())]);
    }
    if rng.gen_bool(0.5) {
        s.push_str([".mp3", ".iso", ".ogg", ".txt"][rng.gen_range(0..4)]);
    }
    s
}

fn random_query(rng: &mut ChaCha8Rng) -> String {
    let terms = rng.gen_range(1..4);
    let mut q = Vec::new();
    for _ in 0..terms {
        let mut t = String::new();
        for _ in 0..rng.gen_range(1..4) {
            match rng.gen_range(0..6) {
                0 => t.push('*'),
                1 => t.push('?'),
                2 => t.push('.'),
                _ => t.push_str(SYLLABLES[rng.gen_range(0..SYLLABLES.len())]),
            }
        }
        q.push(t);
    }
    q.join(" ")
}

/// A glob with no separator, so it can match one word: syllables with `*` and `?`
/// around and between them (`be*les`, `?at`, `*ux?`).
fn random_word_glob(rng: &mut ChaCha8Rng) -> String {
    let mut t = String::new();
    for _ in 0..rng.gen_range(1..4) {
        match rng.gen_range(0..5) {
            0 => t.push('*'),
            1 => t.push('?'),
            _ => t.push_str(SYLLABLES[rng.gen_range(0..SYLLABLES.len())]),
        }
    }
    if !t.contains(['*', '?']) {
        t.insert(
            rng.gen_range(0..=1) * t.len(),
            if rng.gen() { '*' } else { '?' },
        );
    }
    t
}

/// Files whose names match `p`, by checking every name.
fn linear(files: &[Arc<SharedFile>], p: &Pattern) -> Vec<u32> {
    files
        .iter()
        .filter(|f| p.matches_name(&f.name))
        .map(|f| f.index)
        .collect()
}

/// Whether some glob of `p` matches a word of `name` but not the whole name.
fn matches_by_word_only(p: &Pattern, name: &str) -> bool {
    let folded = fold(name);
    let words: Vec<Box<str>> = words(&folded).map(Box::from).collect();
    p.terms().iter().any(|t| match t {
        Term::Glob(g) => g.matches(&folded, &words) && !g.matches_whole(&folded),
        Term::Word(_) => false,
    })
}

/// The index (candidates from words, prefixes, glob runs) finds exactly what checking
/// every name finds: on random queries, and on globs that can match a single word (mixed
/// with plain terms and globs over the whole name).
#[test]
fn index_agrees_with_linear_scan() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let files: Vec<Arc<SharedFile>> = (0..1500)
        .map(|i| Arc::new(SharedFile::detached(i, &random_name(&mut rng), 1)))
        .collect();
    let index = Index::new(files.clone());
    let (mut checked, mut nonempty, mut by_word) = (0, 0, 0);
    for round in 0..1600 {
        let q = if round < 800 {
            random_query(&mut rng)
        } else if rng.gen_bool(0.7) {
            random_word_glob(&mut rng)
        } else {
            format!("{} {}", random_word_glob(&mut rng), random_query(&mut rng))
        };
        let Ok(p) = Pattern::parse(&q) else { continue };
        checked += 1;
        let got: Vec<u32> = index
            .search(&p, usize::MAX)
            .iter()
            .map(|f| f.index)
            .collect();
        let want = linear(&files, &p);
        assert_eq!(got, want, "query {q:?}");
        nonempty += usize::from(!want.is_empty());
        by_word += usize::from(
            want.iter()
                .any(|&i| matches_by_word_only(&p, &files[i as usize].name)),
        );
    }
    assert!(
        checked > 1000 && nonempty > 400 && by_word > 250,
        "{checked} {nonempty} {by_word}"
    );
}

fn library_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Arc<Library>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let lib = Library::open(LibraryConfig {
        roots: vec![dir.path().to_owned()],
        ..LibraryConfig::default()
    })
    .unwrap();
    assert!(lib.wait_hashed(Duration::from_secs(20)));
    (dir, lib)
}

#[test]
fn library_answers_queries_by_keyword_and_hash() {
    let (_dir, lib) = library_with(&[
        ("music/Beatles - Help.mp3", b"help"),
        ("music/Beatles - Yesterday.mp3", b"yesterday"),
        ("isos/linux-6.1-x86_64.iso", b"linux"),
        (".hidden/Beatles - Secret.mp3", b"secret"),
        ("music/.Beatles - Dot.mp3", b"dot"),
    ]);
    let m = lib.matcher();
    let names = |q: Query, limit| -> Vec<String> {
        let mut v: Vec<String> = m.matches(&q, limit).into_iter().map(|f| f.name).collect();
        v.sort();
        v
    };
    assert_eq!(
        names(Query::new("beat"), 10),
        ["Beatles - Help.mp3", "Beatles - Yesterday.mp3"],
        "hidden files and directories are not shared"
    );
    assert_eq!(
        names(Query::new("linux*.iso"), 10),
        ["linux-6.1-x86_64.iso"]
    );
    assert_eq!(names(Query::new("beat"), 1).len(), 1, "limit honoured");
    assert!(
        names(Query::new("*"), 10).is_empty(),
        "only wildcards: dropped"
    );
    assert!(names(Query::new("b"), 10).is_empty(), "one letter: dropped");

    let digest = hash::sha1_file(&lib.snapshot().files()[0].path).unwrap();
    let f = lib.by_sha1(&digest).unwrap();
    let mut q = Query::new("\\");
    q.extensions.push(Extension::Urn(hash::urn(&digest)));
    let hits = m.matches(&q, 10);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].index, f.index);
    assert_eq!(
        hits[0].sha1_urn.as_deref(),
        Some(hash::urn(&digest).as_str())
    );
    let mut unknown = Query::new("beatles");
    unknown
        .extensions
        .push(Extension::Urn(hash::urn(&[7u8; 20])));
    assert!(
        m.matches(&unknown, 10).is_empty(),
        "a URN query answers by hash only"
    );
    assert_eq!(lib.totals().0, 3);
}

#[test]
fn rescan_keeps_indexes_and_hash_cache_survives_restart() {
    let data = tempfile::tempdir().unwrap();
    let share = tempfile::tempdir().unwrap();
    std::fs::write(share.path().join("a one.txt"), b"one").unwrap();
    std::fs::write(share.path().join("b two.txt"), b"two").unwrap();
    let config = LibraryConfig {
        roots: vec![share.path().to_owned()],
        data_dir: Some(data.path().to_owned()),
        ..LibraryConfig::default()
    };
    let lib = Library::open(config.clone()).unwrap();
    assert!(lib.wait_hashed(Duration::from_secs(20)));
    let index_of = |lib: &Library, name: &str| {
        lib.snapshot()
            .files()
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.index)
    };
    let b = index_of(&lib, "b two.txt").unwrap();
    std::fs::remove_file(share.path().join("a one.txt")).unwrap();
    std::fs::write(share.path().join("0 zero.txt"), b"zero").unwrap();
    let report = lib.rescan();
    assert_eq!((report.added, report.removed, report.files), (1, 1, 2));
    assert_eq!(
        index_of(&lib, "b two.txt"),
        Some(b),
        "index stable across rescans"
    );
    let zero = index_of(&lib, "0 zero.txt").unwrap();
    assert!(zero > b, "new files get new indexes, never reused ones");
    assert!(lib.wait_hashed(Duration::from_secs(20)));
    drop(lib);

    // A new library over the same data directory finds every hash in the cache.
    let again = Library::open(config).unwrap();
    let files = again.snapshot();
    assert!(
        files.files().iter().all(|f| f.sha1().is_some()),
        "no rehash after restart"
    );
    assert_eq!(again.pending_hashes(), 0);
}

#[test]
fn symlinks_never_escape_the_share() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"secret").unwrap();
    let share = tempfile::tempdir().unwrap();
    std::fs::write(share.path().join("inside.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        share.path().join("link secret.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), share.path().join("outdir")).unwrap();
    std::os::unix::fs::symlink(share.path(), share.path().join("loop")).unwrap();
    std::os::unix::fs::symlink(
        share.path().join("inside.txt"),
        share.path().join("alias.txt"),
    )
    .unwrap();
    let lib = Library::open(LibraryConfig {
        roots: vec![share.path().to_owned()],
        ..LibraryConfig::default()
    })
    .unwrap();
    let snap = lib.snapshot();
    let names: Vec<&str> = snap.files().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["inside.txt"],
        "links out skipped, loops and aliases once"
    );
}

#[test]
fn large_files_advertise_lf_and_hits_group_by_sha1() {
    // A core answering a Query for a 5 GiB file: size 0xFFFFFFFF plus GGEP LF.
    let big = 5u64 << 30;
    let files = vec![LocalFile {
        index: 4,
        size: big,
        name: "big linux.iso".into(),
        sha1_urn: Some(hash::urn(&[1u8; 20])),
    }];
    let mut core = Servent::new(Config {
        servent_id: Guid::mark_modern([2; 16]),
        ..Config::default()
    });
    core.set_matcher(SharedFiles {
        matcher: Box::new(servent::core::matcher::ListMatcher(files)),
        files: 1,
        kbytes: (big / 1024) as u32,
    });
    core.handle_connected(Duration::ZERO, PeerId(1), PeerInfo::default());
    let query = Descriptor::new(
        Guid::mark_modern([9; 16]),
        3,
        0,
        Payload::Query(Query::new("linux")),
    );
    core.handle_descriptor(Duration::ZERO, PeerId(1), query);
    let mut hits = Vec::new();
    while let Some(t) = core.poll_transmit() {
        // Through the wire format and back, as the searching side sees it.
        let mut wire = Vec::new();
        t.descriptor.encode(&mut wire).unwrap();
        if let Payload::QueryHit(h) = &*servent::proto::frame::parse(&wire).unwrap().payload {
            hits.push(h.clone());
        }
    }
    assert_eq!(hits.len(), 1);
    let r = &hits[0].results[0];
    assert_eq!(r.size, 0xFFFF_FFFF);
    assert_eq!(result_size(r), big);
    assert_eq!(r.sha1_urn(), Some(hash::urn(&[1u8; 20])));
    assert_eq!(
        result_size(&servent::proto::payload::HitResult {
            index: 0,
            size: u32::MAX,
            name: Vec::new(),
            extensions: vec![servent::library::hits::lf_extension(big + 1)],
        }),
        big + 1
    );

    // Grouping on the searching side: by SHA-1, most sources first.
    let hit = |port, index, name: &str, sha: Option<u8>| SearchHit {
        addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
        servent_id: Guid::default(),
        speed: 1,
        index,
        size: 10,
        name: name.into(),
        sha1_urn: sha.map(|b| hash::urn(&[b; 20])),
    };
    let groups = group_hits(vec![
        hit(1, 0, "a.iso", Some(1)),
        hit(2, 5, "b.iso", Some(2)),
        hit(3, 7, "b.iso", Some(2)),
        hit(3, 7, "b.iso", Some(2)),
        hit(4, 1, "c.iso", None),
    ]);
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0].name, "b.iso");
    assert_eq!(groups[0].sources.len(), 2, "duplicate source counted once");
    assert_eq!(groups[0].urls()[0], "http://127.0.0.1:2/get/5/b.iso");
    let table = render_table(&groups);
    assert!(
        table.lines().count() == 4 && table.contains("b.iso"),
        "{table}"
    );
}
