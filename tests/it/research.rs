//! `servent compare` as a researcher uses it: several seeds with confidence intervals,
//! per-query rows, fixed origins, origins in the largest component by default, and
//! charts whose texts never overlap.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn servent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servent"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> Output {
    let out = servent(args);
    assert!(
        out.status.success(),
        "servent {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("servent-research-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SMALL: [&str; 10] = [
    "compare",
    "--topology",
    "random:n=300,degree=4,lcc",
    "--strategies",
    "flood:ttl=3,walk:k=4",
    "--queries",
    "30",
    "--objects",
    "10",
    "--threads=1",
];

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_slice(&ok(&a).stdout).unwrap()
}

/// The half-width of every column's interval shrinks from 4 seeds to 16, and the mean
/// in `results` is the mean of the seeds' own results.
#[test]
fn seed_intervals_shrink_with_more_seeds() {
    let run = |seeds: &str| {
        let mut a = SMALL.to_vec();
        a.extend(["--seeds", seeds]);
        json(&a)
    };
    let (four, sixteen) = (run("4"), run("16"));
    assert_eq!(four["seeds"].as_array().unwrap().len(), 4);
    assert_eq!(sixteen["per_seed"].as_array().unwrap().len(), 16);
    for si in 0..2 {
        for col in ["messages_per_query", "visited_per_query", "load_p99"] {
            let half = |v: &serde_json::Value| {
                v["intervals"][si]["columns"][col]["ci95"].as_f64().unwrap()
            };
            let (h4, h16) = (half(&four), half(&sixteen));
            assert!(h16 < h4 && h16 > 0.0, "strategy {si} {col}: {h4} -> {h16}");
        }
        let per_seed: Vec<f64> = sixteen["per_seed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run[si]["messages_per_query"].as_f64().unwrap())
            .collect();
        let mean = per_seed.iter().sum::<f64>() / 16.0;
        let shown = sixteen["results"][si]["messages_per_query"]
            .as_f64()
            .unwrap();
        assert!(
            (shown - mean).abs() < 1e-9 * mean.max(1.0),
            "{shown} vs {mean}"
        );
        assert_eq!(
            sixteen["intervals"][si]["columns"]["messages_per_query"]["n"],
            16
        );
    }
    // Seed 1 alone is the first of the sixteen.
    let mut a = SMALL.to_vec();
    a.extend(["--seed", "1"]);
    let one = json(&a);
    assert_eq!(one["results"], sixteen["per_seed"][0]);
    assert!(one.get("intervals").is_none());
    // The table writes mean±half-width.
    let mut a = SMALL.to_vec();
    a.extend(["--seeds", "4"]);
    let text = String::from_utf8(ok(&a).stdout).unwrap();
    let row = text.lines().find(|l| l.starts_with("walk:k=4")).unwrap();
    assert!(row.contains('±'), "{text}");
    assert!(text.contains("over 4 seeds"), "{text}");
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            l.split(',')
                .map(|c| c.trim_matches('"').to_owned())
                .collect()
        })
        .collect()
}

/// `--per-query` writes one row per query per strategy per seed whose sums are the
/// summary's; `--origins` starts the queries at the listed servents in turn and refuses
/// a servent the topology lacks.
#[test]
fn per_query_rows_and_fixed_origins() {
    let d = dir("pq");
    let (pq, origins) = (d.join("q.csv"), d.join("origins.txt"));
    std::fs::write(&origins, "# three servents\n0\n17\n\n5  # a comment\n").unwrap();
    let mut a = SMALL.to_vec();
    a.extend([
        "--seeds",
        "2",
        "--per-query",
        pq.to_str().unwrap(),
        "--origins",
        origins.to_str().unwrap(),
    ]);
    let v = json(&a);
    let rows = read_csv(&pq);
    let header = &rows[0];
    assert_eq!(rows.len(), 1 + 2 * 2 * 30);
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (seed, strategy, origin, messages) =
        (col("seed"), col("strategy"), col("origin"), col("messages"));
    let first: Vec<&Vec<String>> = rows[1..]
        .iter()
        .filter(|r| r[seed] == "1" && r[strategy] == "walk:k=4")
        .collect();
    assert_eq!(first.len(), 30);
    let starts: Vec<&str> = first.iter().take(4).map(|r| r[origin].as_str()).collect();
    assert_eq!(starts, ["0", "17", "5", "0"]);
    // Seed 1's walk rows sum to its summary's messages per query.
    let sum: f64 = first
        .iter()
        .map(|r| r[messages].parse::<f64>().unwrap())
        .sum();
    let summary = v["per_seed"][0][1]["messages_per_query"].as_f64().unwrap();
    assert!((sum / 30.0 - summary).abs() < 1e-9, "{sum} vs {summary}");
    assert!(v["origins"].as_str().unwrap().contains("3 fixed origin"));
    // Walker steps at the first find: there for every walk that found, never fewer than
    // the hit's return hops (walkers share one reverse route); absent for floods.
    let (success, hops, steps) = (
        col("success"),
        col("first_hit_hops"),
        col("first_hit_steps"),
    );
    let found: Vec<_> = first.iter().filter(|r| r[success] == "1").collect();
    assert!(!found.is_empty());
    for r in found {
        let (h, st): (u32, u32) = (r[hops].parse().unwrap(), r[steps].parse().unwrap());
        assert!(st >= h, "steps {st} < hops {h}");
    }
    assert!(rows[1..]
        .iter()
        .filter(|r| !r[strategy].starts_with("walk"))
        .all(|r| r[steps].is_empty()));

    for (text, want) in [
        ("0\n100000\n", "servent 100000 is not in the topology"),
        ("0\nseven\n", "is not a servent index"),
        ("# nothing\n", "no origin listed"),
    ] {
        std::fs::write(&origins, text).unwrap();
        let mut a = SMALL.to_vec();
        a.extend(["--origins", origins.to_str().unwrap()]);
        let out = servent(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{text:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Without `lcc` origins come from the largest component, and the output says so;
/// `--all-origins` draws from every servent.
#[test]
fn origins_default_to_the_largest_component_and_say_so() {
    let base = [
        "compare",
        "--topology",
        "random:n=300,degree=2",
        "--strategies",
        "flood:ttl=8",
        "--queries",
        "60",
        "--objects",
        "5",
    ];
    let v = json(&base);
    let text = v["origins"].as_str().unwrap();
    assert!(text.contains("largest component"), "{text}");
    let largest = v["topology"]["largest_components"][0].as_u64().unwrap();
    assert!(text.contains(&largest.to_string()), "{text}");
    let mut a = base.to_vec();
    a.push("--all-origins");
    let all = json(&a);
    assert!(all["origins"].as_str().unwrap().starts_with("any of 300"));
    // Origins outside the giant component find less.
    let rate = |v: &serde_json::Value| v["results"][0]["success_rate"].as_f64().unwrap();
    assert!(rate(&v) >= rate(&all), "{} vs {}", rate(&v), rate(&all));
}

/// The charts of a real sweep: every text's box (font size x character count) is
/// apart from every other's, and only the sweep is joined by a line.
#[test]
fn compare_charts_have_no_overlapping_text() {
    let d = dir("svg");
    let (svg, dist) = (d.join("c.svg"), d.join("d.svg"));
    ok(&[
        "compare",
        "--topology",
        "plrg:n=1500,lcc",
        "--strategies",
        "ring,walk:k=16,walk:k=32",
        "--sweep",
        "flood:ttl=1..6",
        "--sweep",
        "walk:k=2..64*2",
        "--queries",
        "40",
        "--svg",
        svg.to_str().unwrap(),
        "--svg-dist",
        dist.to_str().unwrap(),
    ]);
    for path in [&svg, &dist] {
        let doc = std::fs::read_to_string(path).unwrap();
        let boxes = servent::sim::labels::svg_text_boxes(&doc);
        assert!(boxes.len() > 20, "{}", boxes.len());
        for (i, (a, ra)) in boxes.iter().enumerate() {
            for (b, rb) in &boxes[i + 1..] {
                assert!(!ra.overlaps(rb), "{}: {a:?} overlaps {b:?}", path.display());
            }
        }
    }
    let doc = std::fs::read_to_string(&svg).unwrap();
    // Two sweeps, a curve each in both panels; ring and the listed walkers unjoined.
    assert_eq!(doc.matches("<polyline").count(), 4);
    std::fs::remove_dir_all(&d).unwrap();
}
