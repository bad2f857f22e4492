//! The comparison chart `servent compare --svg` writes: two panels sharing a log-scale
//! x axis of messages per query; the left plots success rate, the right hops to the first
//! hit (mean, with a whisker to the 95th percentile). One mark per strategy and
//! parameter, coloured and shaped by family; a sweep's marks are joined into a curve.
//! Hand-written SVG: no dependency, and the output is small and diffable.

use std::fmt::Write as _;

use super::experiment::Summary;

const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 520.0;
const PANEL_W: f64 = 430.0;
const PANEL_H: f64 = 340.0;
const TOP: f64 = 110.0;
const LEFT: [f64; 2] = [90.0, 620.0];
/// Space kept inside each panel above its top value and below its bottom one, so marks
/// and their labels at 100% or 0 stay inside the frame.
const PAD: f64 = 22.0;

/// A label's box, for keeping labels apart.
#[derive(Clone, Copy)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

/// Places labels next to their marks without overlapping each other or other marks:
/// tries positions around the mark, nearest first, and keeps the first free one.
struct Placer {
    taken: Vec<Rect>,
    bounds: Rect,
}

impl Placer {
    fn new(left: f64) -> Placer {
        Placer {
            taken: Vec::new(),
            bounds: Rect {
                x0: left + 2.0,
                y0: TOP + 2.0,
                x1: left + PANEL_W - 2.0,
                y1: TOP + PANEL_H - 2.0,
            },
        }
    }

    fn mark(&mut self, x: f64, y: f64) {
        self.taken.push(Rect {
            x0: x - 7.0,
            y0: y - 7.0,
            x1: x + 7.0,
            y1: y + 7.0,
        });
    }

    /// Where to draw `text` for the mark at (x, y): (x, baseline y, anchor).
    fn place(&mut self, x: f64, y: f64, text: &str) -> (f64, f64, &'static str) {
        let w = 6.3 * text.chars().count() as f64;
        let h = 12.0;
        let candidates = [
            (9.0, -4.0, "start"),
            (-9.0, -4.0, "end"),
            (9.0, 12.0, "start"),
            (-9.0, 12.0, "end"),
            (0.0, -12.0, "middle"),
            (0.0, 20.0, "middle"),
            (9.0, -16.0, "start"),
            (-9.0, -16.0, "end"),
            (9.0, 24.0, "start"),
            (-9.0, 24.0, "end"),
            (0.0, -26.0, "middle"),
            (0.0, 34.0, "middle"),
        ];
        let rect_of = |(dx, dy, anchor): (f64, f64, &str)| {
            let lx = x + dx;
            let x0 = match anchor {
                "start" => lx,
                "end" => lx - w,
                _ => lx - w / 2.0,
            };
            Rect {
                x0,
                y0: y + dy - h + 2.0,
                x1: x0 + w,
                y1: y + dy + 2.0,
            }
        };
        let inside = |r: &Rect| {
            r.x0 >= self.bounds.x0
                && r.x1 <= self.bounds.x1
                && r.y0 >= self.bounds.y0
                && r.y1 <= self.bounds.y1
        };
        let chosen = candidates
            .iter()
            .copied()
            .find(|&c| {
                let r = rect_of(c);
                inside(&r) && !self.taken.iter().any(|t| t.overlaps(&r))
            })
            .or_else(|| candidates.iter().copied().find(|&c| inside(&rect_of(c))))
            .unwrap_or(candidates[0]);
        self.taken.push(rect_of(chosen));
        (x + chosen.0, y + chosen.1, chosen.2)
    }
}

/// What to draw.
pub struct Chart<'a> {
    /// Heading above both panels (escaped for SVG when drawn).
    pub title: String,
    /// Smaller line under the title: the topology and workload, say.
    pub subtitle: String,
    /// One mark per strategy: messages per query against success rate and hops.
    pub rows: &'a [Summary],
    /// Join marks of the same family into a curve (a parameter sweep).
    pub curves: bool,
}

fn family_style(family: &str) -> (&'static str, &'static str) {
    match family {
        "flood" => ("#1f5fa8", "circle"),
        "ring" => ("#d9731a", "square"),
        _ => ("#2e8b3a", "triangle"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A mark of `shape` centred at (x, y).
fn mark(out: &mut String, shape: &str, x: f64, y: f64, color: &str) {
    let _ = match shape {
        "circle" => writeln!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="6" fill="{color}" stroke="white" stroke-width="1.5"/>"#
        ),
        "square" => writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="11" height="11" fill="{color}" stroke="white" stroke-width="1.5"/>"#,
            x - 5.5,
            y - 5.5
        ),
        _ => writeln!(
            out,
            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{color}" stroke="white" stroke-width="1.5"/>"#,
            x,
            y - 7.0,
            x + 6.5,
            y + 5.0,
            x - 6.5,
            y + 5.0
        ),
    };
}

/// Groups marks of one family lying within a few pixels of each other and gives each
/// group one label: the shared `key=` once, then the values (`ttl=5/6/7`), or the labels
/// joined when they differ otherwise.
fn label_groups<'a>(
    rows: &'a [Summary],
    marks: &[Option<(f64, f64)>],
) -> Vec<(f64, f64, &'a str, String)> {
    let mut groups: Vec<(f64, f64, &str, Vec<&str>)> = Vec::new();
    for (r, m) in rows.iter().zip(marks) {
        let Some((x, y)) = *m else { continue };
        let label = param_label(&r.strategy);
        match groups
            .iter_mut()
            .find(|g| g.2 == r.family && (g.0 - x).abs() < 4.0 && (g.1 - y).abs() < 4.0)
        {
            Some(g) => g.3.push(label),
            None => groups.push((x, y, r.family, vec![label])),
        }
    }
    groups
        .into_iter()
        .map(|(x, y, family, labels)| {
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

/// `1000` -> `1k`, `2500000` -> `2.5M`.
fn short(v: f64) -> String {
    let (d, suffix) = if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if (d - d.round()).abs() < 1e-9 {
        format!("{}{suffix}", d.round())
    } else {
        format!("{d:.1}{suffix}")
    }
}

/// The parameter part of a strategy label (`walk:k=16,check=4` -> `k=16,check=4`).
fn param_label(strategy: &str) -> &str {
    strategy.split_once(':').map_or(strategy, |(_, p)| p)
}

struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    fn fit(values: impl Iterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for v in values.filter(|v| *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            (lo, hi) = (1.0, 10.0);
        }
        let lo = 10f64.powf(lo.log10().floor());
        let mut hi = 10f64.powf(hi.log10().ceil());
        if hi <= lo {
            hi = lo * 10.0;
        }
        LogAxis { lo, hi }
    }

    fn x(&self, v: f64, left: f64) -> f64 {
        let v = v.max(self.lo);
        left + PANEL_W * (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
    }
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
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="panel">{}</text>"#,
        left + PANEL_W / 2.0,
        TOP - 14.0,
        escape(title)
    );
    let mut decade = axis.lo;
    while decade <= axis.hi * 1.0001 {
        let x = axis.x(decade, left);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
            bottom + 18.0,
            short(decade)
        );
        if decade < axis.hi {
            for m in 2..10 {
                let x = axis.x(decade * m as f64, left);
                let _ = writeln!(
                    out,
                    r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{:.1}" stroke="#888"/>"##,
                    bottom - 5.0
                );
            }
        }
        decade *= 10.0;
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">messages per query (log scale)</text>"#,
        left + PANEL_W / 2.0,
        bottom + 42.0
    );
    for (y, label) in yticks {
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/>"##,
            left + PANEL_W
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{label}</text>"#,
            left - 8.0,
            y + 4.0
        );
    }
    let (cx, cy) = (left - 58.0, TOP + PANEL_H / 2.0);
    let _ = writeln!(
        out,
        r#"<text x="{cx:.1}" y="{cy:.1}" class="axis" text-anchor="middle" transform="rotate(-90 {cx:.1} {cy:.1})">{ylabel}</text>"#
    );
}

/// The two panels' scales: the shared log x axis, the success rate's linear y axis and
/// the hops' linear y axis up to `hop_top` in steps of `hop_step`.
struct Scales {
    axis: LogAxis,
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
            hop_step,
            hop_top,
        }
    }

    /// x of a row's messages per query in the panel starting at `left`.
    fn x(&self, r: &Summary, left: f64) -> f64 {
        self.axis.x(r.messages_per_query.max(1.0), left)
    }

    fn y_success(&self, rate: f64) -> f64 {
        TOP + PAD + (PANEL_H - 2.0 * PAD) * (1.0 - rate)
    }

    fn y_hops(&self, h: f64) -> f64 {
        TOP + PAD + (PANEL_H - 2.0 * PAD) * (1.0 - h / self.hop_top)
    }
}

/// The document's opening: the `<svg>` element, styles, background, title and subtitle.
fn header(out: &mut String, chart: &Chart) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">"#
    );
    out.push_str(
        "<style>.title{font-size:20px;font-weight:bold}.sub{font-size:13px;fill:#444}\
         .panel{font-size:15px;font-weight:bold;text-anchor:middle}.tick{font-size:12px;fill:#333}\
         .axis{font-size:13px}.label{font-size:11px;font-weight:bold}.legend{font-size:13px}</style>\n",
    );
    out.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    out.push('\n');
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="30" class="title" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(&chart.title)
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="52" class="sub" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(&chart.subtitle)
    );
}

/// The strategy families present in `rows`, in legend order.
fn families_of(rows: &[Summary]) -> Vec<&'static str> {
    ["flood", "ring", "walk"]
        .into_iter()
        .filter(|f| rows.iter().any(|r| r.family == *f))
        .collect()
}

/// The legend: one entry per family present.
fn legend(out: &mut String, families: &[&str]) {
    let mut lx = WIDTH / 2.0 - 90.0 * families.len() as f64 / 2.0;
    for f in families {
        let (color, shape) = family_style(f);
        mark(out, shape, lx, 74.0, color);
        let name = match *f {
            "flood" => "flooding",
            "ring" => "expanding ring",
            _ => "random walkers",
        };
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="78" class="legend">{name}</text>"#,
            lx + 12.0
        );
        lx += 150.0;
    }
}

/// Both panels' frames and axes: success rate on the left, hops to the first hit on the
/// right.
fn axes(out: &mut String, scales: &Scales) {
    let ticks: Vec<(f64, String)> = (0..=5)
        .map(|i| (scales.y_success(i as f64 / 5.0), format!("{}%", i * 20)))
        .collect();
    frame(
        out,
        LEFT[0],
        &scales.axis,
        "Success rate",
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
        "Hops to the first hit (mean, whisker to 95th pct.)",
        "hops",
        &ticks,
    );
}

/// A sweep's curves, one per family with two or more marks, in both panels (drawn before
/// the marks, so under them).
fn curves(out: &mut String, rows: &[Summary], families: &[&str], scales: &Scales) {
    for f in families {
        let (color, _) = family_style(f);
        let members: Vec<&Summary> = rows.iter().filter(|r| r.family == *f).collect();
        if members.len() < 2 {
            continue;
        }
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
        polyline(out, &pts, color);
        let pts: Vec<String> = members
            .iter()
            .filter_map(|r| {
                r.mean_hops
                    .map(|h| format!("{:.1},{:.1}", scales.x(r, LEFT[1]), scales.y_hops(h)))
            })
            .collect();
        polyline(out, &pts, color);
    }
}

fn polyline(out: &mut String, points: &[String], color: &str) {
    let _ = writeln!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2" opacity="0.7"/>"#,
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
/// (`ttl=5/6/7`).
fn labels(out: &mut String, rows: &[Summary], points: &[Point], placers: &mut [Placer; 2]) {
    let left_marks: Vec<(f64, f64)> = points.iter().map(|&(x, y, _)| (x, y)).collect();
    let right_marks: Vec<Option<(f64, f64)>> = points
        .iter()
        .map(|&(x, _, hy)| hy.map(|hy| (x - LEFT[0] + LEFT[1], hy)))
        .collect();
    for (panel, marks) in [
        (0, left_marks.into_iter().map(Some).collect::<Vec<_>>()),
        (1, right_marks),
    ] {
        for (x, y, family, text) in label_groups(rows, &marks) {
            let (color, _) = family_style(family);
            let (lx, ly, anchor) = placers[panel].place(x, y, &text);
            let _ = writeln!(
                out,
                r#"<text x="{lx:.1}" y="{ly:.1}" class="label" fill="{color}" text-anchor="{anchor}">{}</text>"#,
                escape(&text)
            );
        }
    }
}

/// Renders the chart as an SVG document.
pub fn render(chart: &Chart) -> String {
    let rows = chart.rows;
    let scales = Scales::fit(rows);
    let mut out = String::new();
    header(&mut out, chart);
    let families = families_of(rows);
    legend(&mut out, &families);
    axes(&mut out, &scales);
    if chart.curves {
        curves(&mut out, rows, &families, &scales);
    }
    // Marks first (so labels avoid every mark), then labels.
    let mut placers = [Placer::new(LEFT[0]), Placer::new(LEFT[1])];
    let points = marks(&mut out, rows, &scales, &mut placers);
    labels(&mut out, rows, &points, &mut placers);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(strategy: &str, family: &'static str, msgs: f64, success: f64) -> Summary {
        Summary {
            strategy: strategy.into(),
            parameters: strategy.into(),
            family,
            queries: 10,
            successes: (success * 10.0) as usize,
            success_rate: success,
            mean_hops: Some(3.0),
            p95_hops: Some(5),
            messages_per_query: msgs,
            messages_per_servent_per_query: msgs / 1000.0,
            query_messages_per_query: msgs,
            hit_messages_per_query: 1.0,
            check_messages_per_query: 0.0,
            visited_per_query: msgs,
            duplicate_ratio: 0.1,
            peak_load: 9,
            mean_first_hit_delay: Some(3.0),
            mean_rings: 1.0,
            satisfied_rate: success,
            max_query_messages: msgs as u64,
            events: 100,
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
    }
}
