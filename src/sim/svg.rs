//! The comparison chart `servent compare --svg` writes: two panels sharing a log-scale
//! x axis of messages per query; the left plots success rate (its axis zoomed to the
//! data), the right hops to the first hit (mean, with a whisker to the 95th percentile);
//! under them, what each strategy with checks sends per query as a bar stacked from its
//! Query messages (walker steps) and its check messages. One mark per strategy, coloured
//! and shaped by family; only a sweep's marks are joined into a curve; labels are placed
//! so that none overlaps another, or dropped. The distributions chart is in `svg_dist`.
//! Hand-written SVG: no dependency, and the output is small and diffable.

use std::fmt::Write as _;

use super::experiment::Summary;
use super::labels::{Placer, Rect};
use super::svg_bars::{bars_height, stacked_bars, stacked_rows};
use super::svg_draw::{family_style, header, log_ticks, mark, text, LogAxis, WIDTH};
pub use super::svg_draw::{font_size, FONT};

const PANEL_W: f64 = 430.0;
const PANEL_H: f64 = 340.0;
const TOP: f64 = 110.0;
const LEFT: [f64; 2] = [90.0, 620.0];
/// Space kept inside each panel above its top value and below its bottom one, so marks
/// and their labels at the extremes stay inside the frame.
const PAD: f64 = 22.0;

/// What to draw.
pub struct Chart<'a> {
    /// Heading above both panels (escaped for SVG when drawn).
    pub title: String,
    /// Smaller line under the title: the topology and workload, say.
    pub subtitle: String,
    /// One mark per strategy: messages per query against success rate and hops.
    pub rows: &'a [Summary],
    /// Join the marks of each sweep (rows with the same [`Summary::sweep`]) into a curve.
    pub curves: bool,
}

/// Marks closer than this (pixels, both ways) are drawn on top of each other: they
/// share one label.
const SAME_PLACE: f64 = 1.5;

/// Groups the marks of one sweep (or of one family's unswept strategies) that sit on
/// top of each other and gives each group one label: the shared `key=` once, then the
/// values (`ttl=5/6/7`), or the labels joined when they differ otherwise. Marks merely
/// near each other keep labels of their own.
fn label_groups<'a>(
    rows: &'a [Summary],
    marks: &[Option<(f64, f64)>],
) -> Vec<(f64, f64, &'a str, String)> {
    type Group<'a> = (f64, f64, (&'a str, Option<usize>), Vec<&'a str>);
    let mut groups: Vec<Group> = Vec::new();
    for (r, m) in rows.iter().zip(marks) {
        let Some((x, y)) = *m else { continue };
        let label = param_label(&r.strategy);
        let key = (r.family, r.sweep);
        match groups
            .iter_mut()
            .find(|g| g.2 == key && (g.0 - x).abs() < SAME_PLACE && (g.1 - y).abs() < SAME_PLACE)
        {
            Some(g) => g.3.push(label),
            None => groups.push((x, y, key, vec![label])),
        }
    }
    groups
        .into_iter()
        .map(|(x, y, (family, _), labels)| {
            let key = labels[0].split_once('=').map(|(k, _)| k);
            let same_key = labels.len() > 1
                && key.is_some()
                && labels.iter().all(|l| {
                    l.split_once('=')
                        .is_some_and(|(k, v)| Some(k) == key && !v.contains(','))
                });
            let text = if same_key {
                let values: Vec<&str> = labels
                    .iter()
                    .filter_map(|l| l.split_once('=').map(|(_, v)| v))
                    .collect();
                format!("{}={}", key.unwrap_or(""), values.join("/"))
            } else {
                labels.join(" ")
            };
            (x, y, family, text)
        })
        .collect()
}

/// The parameter part of a strategy label (`walk:k=16,check=4` -> `k=16,check=4`).
fn param_label(strategy: &str) -> &str {
    strategy.split_once(':').map_or(strategy, |(_, p)| p)
}

/// Draws the panel frame, the log x axis with decade labels and minor ticks, and the
/// linear y axis with `yticks` labelled by `ylabel`.
fn frame(
    out: &mut String,
    left: f64,
    axis: &LogAxis,
    title: &str,
    ylabel: &str,
    yticks: &[(f64, String)],
) {
    let bottom = TOP + PANEL_H;
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="#fbfbfb" stroke="#888"/>"##
    );
    text(
        out,
        left + PANEL_W / 2.0,
        TOP - 14.0,
        "panel",
        "middle",
        title,
        "",
    );
    log_ticks(out, axis, left, PANEL_W, TOP, bottom);
    text(
        out,
        left + PANEL_W / 2.0,
        bottom + 42.0,
        "axis",
        "middle",
        "messages per query (log scale)",
        "",
    );
    for (y, label) in yticks {
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/>"##,
            left + PANEL_W
        );
        text(out, left - 8.0, y + 4.0, "tick", "end", label, "");
    }
    let (cx, cy) = (left - 58.0, TOP + PANEL_H / 2.0);
    let rotate = format!(r#" transform="rotate(-90 {cx:.1} {cy:.1})""#);
    text(out, cx, cy, "axis", "middle", ylabel, &rotate);
}

/// The success axis: from `lo` to 100% in steps of `step` (fractions), zoomed so the
/// lowest success rate sits near the bottom: 94-100% when every strategy finds 94% or
/// more, 0-100% when one finds little.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuccessAxis {
    /// Bottom of the axis, a multiple of `step`.
    pub lo: f64,
    /// Distance between ticks.
    pub step: f64,
}

impl SuccessAxis {
    /// The axis for success rates `rates` (0 to 1): the smallest tick step of 0.5, 1, 2,
    /// 5, 10 or 20 points giving at most 6 intervals from the lowest rate (rounded down
    /// to the step) to 100%; an empty or all-100% input gives 95-100%.
    pub fn fit(rates: impl Iterator<Item = f64>) -> SuccessAxis {
        let min = rates.fold(1.0f64, f64::min).clamp(0.0, 1.0);
        let min = if min >= 1.0 { 0.95 } else { min };
        for step in [0.005, 0.01, 0.02, 0.05, 0.1, 0.2] {
            let lo = ((min + 1e-9) / step).floor() * step;
            if (1.0 - lo) / step <= 6.0 + 1e-9 {
                return SuccessAxis { lo, step };
            }
        }
        SuccessAxis { lo: 0.0, step: 0.2 }
    }

    fn ticks(&self) -> Vec<f64> {
        let n = ((1.0 - self.lo) / self.step).round() as usize;
        (0..=n).map(|i| self.lo + i as f64 * self.step).collect()
    }

    fn label(&self, v: f64) -> String {
        if self.step < 0.01 {
            format!("{:.1}%", 100.0 * v)
        } else {
            format!("{:.0}%", 100.0 * v)
        }
    }
}

/// The two panels' scales: the shared log x axis, the success rate's zoomed y axis and
/// the hops' linear y axis up to `hop_top` in steps of `hop_step`.
struct Scales {
    axis: LogAxis,
    success: SuccessAxis,
    hop_step: f64,
    hop_top: f64,
}

impl Scales {
    fn fit(rows: &[Summary]) -> Scales {
        let axis = LogAxis::fit(rows.iter().map(|r| r.messages_per_query.max(1.0)));
        let max_hops = rows
            .iter()
            .filter_map(|r| r.p95_hops.map(f64::from).or(r.mean_hops))
            .fold(1.0f64, f64::max);
        let hop_step = if max_hops > 40.0 {
            10.0
        } else if max_hops > 16.0 {
            5.0
        } else if max_hops > 8.0 {
            2.0
        } else {
            1.0
        };
        let hop_top = (max_hops / hop_step).ceil() * hop_step;
        Scales {
            axis,
            success: SuccessAxis::fit(rows.iter().map(|r| r.success_rate)),
            hop_step,
            hop_top,
        }
    }

    /// x of a row's messages per query in the panel starting at `left`.
    fn x(&self, r: &Summary, left: f64) -> f64 {
        self.axis.at(r.messages_per_query.max(1.0), left, PANEL_W)
    }

    fn y_success(&self, rate: f64) -> f64 {
        let f = (rate - self.success.lo) / (1.0 - self.success.lo);
        TOP + PAD + (PANEL_H - 2.0 * PAD) * (1.0 - f)
    }

    fn y_hops(&self, h: f64) -> f64 {
        TOP + PAD + (PANEL_H - 2.0 * PAD) * (1.0 - h / self.hop_top)
    }
}

/// The strategy families present in `rows`, in legend order.
fn families_of(rows: &[Summary]) -> Vec<&'static str> {
    ["flood", "ring", "walk", "dq"]
        .into_iter()
        .filter(|f| rows.iter().any(|r| r.family == *f))
        .collect()
}

/// The legend: one entry per family present.
fn legend(out: &mut String, families: &[&str]) {
    let mut lx = WIDTH / 2.0 - 150.0 * families.len() as f64 / 2.0 + 20.0;
    for f in families {
        let (color, shape) = family_style(f);
        mark(out, shape, lx, 74.0, color);
        let name = match *f {
            "flood" => "flooding",
            "ring" => "expanding ring",
            "dq" => "dynamic querying",
            _ => "random walkers",
        };
        text(out, lx + 12.0, 78.0, "legend", "start", name, "");
        lx += 150.0;
    }
}

/// Both panels' frames and axes: success rate on the left, hops to the first hit on the
/// right.
fn axes(out: &mut String, scales: &Scales) {
    let s = scales.success;
    let ticks: Vec<(f64, String)> = s
        .ticks()
        .into_iter()
        .map(|v| (scales.y_success(v), s.label(v)))
        .collect();
    let title = if s.lo > 0.0 {
        format!("Success rate (axis from {})", s.label(s.lo))
    } else {
        "Success rate".to_owned()
    };
    frame(
        out,
        LEFT[0],
        &scales.axis,
        &title,
        "queries with at least one hit",
        &ticks,
    );
    let ticks: Vec<(f64, String)> = (0..=(scales.hop_top / scales.hop_step) as usize)
        .map(|i| {
            let h = i as f64 * scales.hop_step;
            (scales.y_hops(h), format!("{h}"))
        })
        .collect();
    frame(
        out,
        LEFT[1],
        &scales.axis,
        "Hops to the first hit (mean, whisker to p95)",
        "hops",
        &ticks,
    );
}

/// Each sweep's curve (rows sharing a [`Summary::sweep`], two or more) in both panels,
/// drawn before the marks, so under them. Strategies listed on their own are not joined.
fn curves(out: &mut String, rows: &[Summary], scales: &Scales) {
    let mut sweeps: Vec<usize> = rows.iter().filter_map(|r| r.sweep).collect();
    sweeps.sort_unstable();
    sweeps.dedup();
    for sweep in sweeps {
        let members: Vec<&Summary> = rows.iter().filter(|r| r.sweep == Some(sweep)).collect();
        if members.len() < 2 {
            continue;
        }
        let (color, _) = family_style(members[0].family);
        // Sweeps of one family share its colour: the second is dashed, the third dotted.
        let dash = ["", "7 4", "2 3", "10 3 2 3"][sweep % 4];
        let pts: Vec<String> = members
            .iter()
            .map(|r| {
                format!(
                    "{:.1},{:.1}",
                    scales.x(r, LEFT[0]),
                    scales.y_success(r.success_rate)
                )
            })
            .collect();
        polyline(out, &pts, color, dash);
        let pts: Vec<String> = members
            .iter()
            .filter_map(|r| {
                r.mean_hops
                    .map(|h| format!("{:.1},{:.1}", scales.x(r, LEFT[1]), scales.y_hops(h)))
            })
            .collect();
        polyline(out, &pts, color, dash);
    }
}

fn polyline(out: &mut String, points: &[String], color: &str, dash: &str) {
    let dash = if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{dash}""#)
    };
    let _ = writeln!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2" opacity="0.7"{dash}/>"#,
        points.join(" ")
    );
}

/// Where a row's marks sit: x in the left panel, y of its success rate, y of its mean hops
/// (none without a hit).
type Point = (f64, f64, Option<f64>);

/// Every row's marks (and hop whiskers) in both panels, each registered with its panel's
/// placer so labels avoid it.
fn marks(
    out: &mut String,
    rows: &[Summary],
    scales: &Scales,
    placers: &mut [Placer; 2],
) -> Vec<Point> {
    let points: Vec<Point> = rows
        .iter()
        .map(|r| {
            let x = scales.x(r, LEFT[0]);
            (
                x,
                scales.y_success(r.success_rate),
                r.mean_hops.map(|h| scales.y_hops(h)),
            )
        })
        .collect();
    for (r, &(x, y, hy)) in rows.iter().zip(&points) {
        let (color, shape) = family_style(r.family);
        mark(out, shape, x, y, color);
        placers[0].mark(x, y);
        if let Some(hy) = hy {
            let x = x - LEFT[0] + LEFT[1];
            if let Some(p) = r.p95_hops {
                whisker(out, &mut placers[1], x, hy, scales.y_hops(p as f64), color);
            }
            mark(out, shape, x, hy, color);
            placers[1].mark(x, hy);
        }
    }
    points
}

/// The whisker from the mean hops (`hy`) to the 95th percentile (`py`) at `x`, with its cap.
fn whisker(out: &mut String, placer: &mut Placer, x: f64, hy: f64, py: f64, color: &str) {
    let _ = writeln!(
        out,
        r#"<line x1="{x:.1}" y1="{hy:.1}" x2="{x:.1}" y2="{py:.1}" stroke="{color}" stroke-width="2"/>"#
    );
    let _ = writeln!(
        out,
        r#"<line x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{color}" stroke-width="2"/>"#,
        x - 4.0,
        x + 4.0
    );
    placer.taken.push(Rect {
        x0: x - 5.0,
        y0: py.min(hy),
        x1: x + 5.0,
        y1: py.max(hy),
    });
}

/// The marks' labels in both panels: marks of one family that coincide share one label
/// (`ttl=5/6/7`); a label with no free place is dropped, one placed away from its mark
/// gets a thin leader line. Returns how many were dropped.
fn labels(
    out: &mut String,
    rows: &[Summary],
    points: &[Point],
    placers: &mut [Placer; 2],
) -> usize {
    let left_marks: Vec<Option<(f64, f64)>> =
        points.iter().map(|&(x, y, _)| Some((x, y))).collect();
    let right_marks: Vec<Option<(f64, f64)>> = points
        .iter()
        .map(|&(x, _, hy)| hy.map(|hy| (x - LEFT[0] + LEFT[1], hy)))
        .collect();
    let size = font_size("label");
    let mut dropped = 0;
    for (panel, marks) in [(0, left_marks), (1, right_marks)] {
        // Short labels first: they fit beside their marks where long ones would not.
        let mut groups = label_groups(rows, &marks);
        groups.sort_by_key(|g| g.3.chars().count());
        for (x, y, family, label) in groups {
            let (color, _) = family_style(family);
            let Some(p) = placers[panel].place(x, y, size, &label) else {
                dropped += 1;
                continue;
            };
            if p.leader {
                let _ = writeln!(
                    out,
                    r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="0.8" opacity="0.6"/>"#,
                    p.x,
                    p.y - 4.0
                );
            }
            let fill = format!(r#" fill="{color}""#);
            text(out, p.x, p.y, "label", p.anchor, &label, &fill);
        }
    }
    dropped
}

/// Renders the chart as an SVG document.
pub fn render(chart: &Chart) -> String {
    let rows = chart.rows;
    let scales = Scales::fit(rows);
    let stacked = stacked_rows(rows);
    let bars_top = TOP + PANEL_H + 60.0;
    let height = bars_top + bars_height(stacked.len()).max(10.0);
    let mut out = String::new();
    header(&mut out, &chart.title, &chart.subtitle, height);
    legend(&mut out, &families_of(rows));
    axes(&mut out, &scales);
    if chart.curves {
        curves(&mut out, rows, &scales);
    }
    // Marks first (so labels avoid every mark), then labels.
    let panel = |left: f64| Rect {
        x0: left + 2.0,
        y0: TOP + 2.0,
        x1: left + PANEL_W - 2.0,
        y1: TOP + PANEL_H - 2.0,
    };
    let mut placers = [Placer::new(panel(LEFT[0])), Placer::new(panel(LEFT[1]))];
    let points = marks(&mut out, rows, &scales, &mut placers);
    let dropped = labels(&mut out, rows, &points, &mut placers);
    if dropped > 0 {
        let _ = writeln!(out, "<!-- {dropped} label(s) dropped: no free place -->");
    }
    stacked_bars(&mut out, &stacked, bars_top);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn row(strategy: &str, family: &'static str, msgs: f64, success: f64) -> Summary {
        Summary {
            strategy: strategy.into(),
            parameters: strategy.into(),
            family,
            sweep: None,
            queries: 10,
            successes: (success * 10.0) as usize,
            success_rate: success,
            mean_hops: Some(3.0),
            mean_first_hit_steps: None,
            p95_hops: Some(5),
            messages_per_query: msgs,
            messages_per_servent_per_query: msgs / 1000.0,
            query_messages_per_query: msgs,
            hit_messages_per_query: 1.0,
            check_messages_per_query: 0.0,
            checks_per_query: 0.0,
            visited_per_query: msgs,
            duplicate_ratio: 0.1,
            peak_load: 9,
            load_median: 1,
            load_p99: 5,
            load_gini: 0.5,
            mean_first_hit_delay: Some(3.0),
            first_hit_delay_median: Some(3.0),
            first_hit_delay_p90: Some(5.0),
            first_hit_delay_p99: Some(6.0),
            mean_rings: 1.0,
            satisfied_rate: success,
            max_query_messages: msgs as u64,
            events: 100,
            churn: Default::default(),
        }
    }

    /// Asserts that no two texts of `svg` overlap.
    pub(crate) fn assert_no_overlap(svg: &str) {
        let boxes = crate::sim::labels::svg_text_boxes(svg);
        for (i, (a, ra)) in boxes.iter().enumerate() {
            for (b, rb) in &boxes[i + 1..] {
                assert!(!ra.overlaps(rb), "{a:?} {ra:?} overlaps {b:?} {rb:?}");
            }
        }
    }

    #[test]
    fn chart_has_a_mark_and_label_per_strategy_and_decade_ticks() {
        let rows = [
            row("flood:ttl=7", "flood", 38_000.0, 1.0),
            row("walk:k=16,check=4", "walk", 420.0, 0.97),
        ];
        let svg = render(&Chart {
            title: "t".into(),
            subtitle: "s <&>".into(),
            rows: &rows,
            curves: false,
        });
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("ttl=7") && svg.contains("k=16,check=4"));
        assert!(svg.contains("s &lt;&amp;&gt;"));
        for tick in [">100<", ">1k<", ">10k<", ">100k<"] {
            assert!(svg.contains(tick), "missing tick {tick}");
        }
        // One mark per row per panel plus one legend mark per family.
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<path").count(), 3);
        assert_no_overlap(&svg);
    }

    /// The PLRG chart's crowd (ring beside ttl=4..8 at 100%, a walker sweep with nearly
    /// equal costs): no two texts overlap, only the sweeps are joined, the success axis
    /// starts near the lowest rate, and walkers' totals are split into steps + checks.
    #[test]
    fn crowded_chart_has_no_overlapping_text_and_joins_only_sweeps() {
        let mut rows = Vec::new();
        for (ttl, msgs, success) in [
            (1, 4.0, 0.05),
            (2, 80.0, 0.4),
            (3, 9_000.0, 0.96),
            (4, 23_896.0, 0.994),
            (5, 25_600.0, 1.0),
            (6, 25_880.0, 1.0),
            (7, 25_898.0, 1.0),
            (8, 25_898.0, 1.0),
        ] {
            let mut r = row(&format!("flood:ttl={ttl}"), "flood", msgs, success);
            r.sweep = Some(0);
            rows.push(r);
        }
        rows.push(row("ring", "ring", 13_616.0, 1.0));
        for (k, msgs) in [
            (2, 640.0),
            (4, 650.0),
            (8, 655.0),
            (16, 661.0),
            (32, 714.0),
            (64, 720.0),
        ] {
            let mut r = row(&format!("walk:k={k}"), "walk", msgs, 0.995);
            r.sweep = Some(1);
            r.query_messages_per_query = msgs * 0.3;
            r.check_messages_per_query = msgs * 0.7;
            rows.push(r);
        }
        for c in [4, 8, 16] {
            let mut r = row(
                &format!("walk:k=16,check={c}"),
                "walk",
                600.0 + c as f64,
                0.99,
            );
            r.check_messages_per_query = 300.0;
            rows.push(r);
        }
        let svg = render(&Chart {
            title: "Search cost on plrg:n=10000,lcc".into(),
            subtitle: "9,102 servents".into(),
            rows: &rows,
            curves: true,
        });
        assert_no_overlap(&svg);
        // Two sweeps, each a curve in both panels; the check sweep is not joined.
        assert_eq!(svg.matches("<polyline").count(), 4);
        // Stacked bars: two rects (steps, checks) per row with checks, plus the key's 2.
        assert_eq!(svg.matches("% checks)").count(), 9);
        assert!(svg.contains("(70% checks)"));
        // With a 5% flood the axis runs from 0.
        assert!(svg.contains(">0%<"));
        let zoomed = render(&Chart {
            title: "t".into(),
            subtitle: "s".into(),
            rows: &rows[3..],
            curves: true,
        });
        assert!(
            zoomed.contains(">99.0%<") && !zoomed.contains(">0%<"),
            "{zoomed}"
        );
        assert_no_overlap(&zoomed);
    }

    #[test]
    fn success_axis_zooms_to_the_data() {
        let fit = |v: &[f64]| SuccessAxis::fit(v.iter().copied());
        let a = fit(&[0.947, 1.0, 0.99]);
        assert!(
            (a.lo - 0.94).abs() < 1e-9 && (a.step - 0.01).abs() < 1e-9,
            "{a:?}"
        );
        let a = fit(&[0.994, 1.0]);
        assert!((a.lo - 0.99).abs() < 1e-9 && a.step < 0.01, "{a:?}");
        assert_eq!(fit(&[0.05, 1.0]), SuccessAxis { lo: 0.0, step: 0.2 });
        let a = fit(&[1.0]);
        assert!((a.lo - 0.95).abs() < 1e-9, "{a:?}");
        let a = fit(&[0.71]);
        assert!(
            (a.lo - 0.7).abs() < 1e-9 && (a.step - 0.05).abs() < 1e-9,
            "{a:?}"
        );
    }
}
