//! Query answering over a 100,000-file library: time per Query through the keyword index
//! against the baseline of checking the full pattern on every name (a linear scan), both
//! in the same run, for keyword, prefix, several-term and glob queries.
//!
//! Run: `cargo bench --bench library` (or `scripts/bench-library.sh`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use servent::library::index::Index;
use servent::library::matching::Pattern;
use servent::library::SharedFile;

const FILES: u32 = 100_000;
const MIN_TIME: Duration = Duration::from_millis(500);
/// Results asked per query, as a Query without max-hits gets.
const LIMIT: usize = 255;

const ARTISTS: &[&str] = &[
    "Beatles",
    "Björk",
    "Bach",
    "Coltrane",
    "Daft Punk",
    "Debussy",
    "Holst",
    "Ravel",
    "Radiohead",
    "Sigur Rós",
    "Miles Davis",
    "Nina Simone",
    "Queen",
    "Pixies",
];
const WORDS: &[&str] = &[
    "help",
    "yesterday",
    "live",
    "remaster",
    "planets",
    "suite",
    "nocturne",
    "blue",
    "train",
    "night",
    "day",
    "love",
    "song",
    "symphony",
    "concerto",
    "mix",
    "demo",
    "session",
    "acoustic",
    "edit",
    "version",
    "part",
    "one",
    "two",
    "three",
];
const EXTS: &[&str] = &["mp3", "ogg", "flac", "iso", "mkv", "txt", "pdf", "zip"];

fn name(rng: &mut ChaCha8Rng, i: u32) -> String {
    let mut s = format!("{} - ", ARTISTS[rng.gen_range(0..ARTISTS.len())]);
    for _ in 0..rng.gen_range(1..5) {
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
        s.push(' ');
    }
    // A unique-ish token, as real names have (track numbers, years, catalogue ids).
    s.push_str(&format!("{:05x}", i.wrapping_mul(2_654_435_761) >> 12));
    s.push('.');
    s.push_str(EXTS[rng.gen_range(0..EXTS.len())]);
    s
}

fn per_query(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let start = Instant::now();
    let mut n = 0u32;
    let mut hits = 0;
    while start.elapsed() < MIN_TIME {
        hits = f();
        n += 1;
    }
    (start.elapsed() / n, hits)
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let files: Vec<Arc<SharedFile>> = (0..FILES)
        .map(|i| Arc::new(SharedFile::detached(i, &name(&mut rng, i), 1 << 20)))
        .collect();
    let built = Instant::now();
    let index = Index::new(files.clone());
    println!(
        "library: {FILES} files, index built in {:.0} ms",
        built.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "{:<24} {:>8} {:>14} {:>14} {:>9}",
        "query", "hits", "index (µs)", "linear (µs)", "speed-up"
    );
    for q in [
        "beatles help",
        "coltrane blue train",
        "sigur ros",
        "bjork",
        "rem",
        "3fa2",
        "*.iso",
        "debussy*.flac",
        "*noc?urne*",
        "nothingmatches",
    ] {
        let p = Pattern::parse(q).expect("valid query");
        let (t_index, hits) = per_query(|| black_box(index.search(&p, LIMIT)).len());
        let (t_linear, _) = per_query(|| {
            files
                .iter()
                .filter(|f| p.matches_name(&f.name))
                .take(LIMIT)
                .count()
        });
        println!(
            "{:<24} {:>8} {:>14.1} {:>14.1} {:>8.0}x",
            q,
            hits,
            t_index.as_secs_f64() * 1e6,
            t_linear.as_secs_f64() * 1e6,
            t_linear.as_secs_f64() / t_index.as_secs_f64()
        );
    }
}
