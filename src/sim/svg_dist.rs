//! The distributions chart `servent compare --svg-dist` writes, one row per strategy:
//! how the descriptors it made servents handle spread over the servents (median, 99th
//! percentile and maximum on a log axis, with the load's Gini coefficient beside), and
//! how long its queries waited for their first hit (median, 90th and 99th percentile,
//! also on a log axis).

use std::fmt::Write as _;

use super::labels::CHAR_EM;
use super::svg::Chart;
use super::svg_draw::{family_style, font_size, header, log_ticks, mark, text, LogAxis};

const TOP: f64 = 120.0;
/// Height of one strategy's row.
const ROW: f64 = 26.0;
/// Right edge of the strategy names.
const NAMES_RIGHT: f64 = 232.0;
const LOAD: (f64, f64) = (240.0, 600.0);
const GINI_X: f64 = 640.0;
const TIME: (f64, f64) = (690.0, 1070.0);

/// `s` cut to fit `width` pixels in a font of `size` (an ellipsis marks the cut).
fn fit(s: &str, width: f64, size: f64) -> String {
    let max = (width / (CHAR_EM * size)).floor() as usize;
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// A panel's frame, title and the key of its three marks.
fn panel(out: &mut String, (x0, x1): (f64, f64), bottom: f64, title: &str, keys: [&str; 3]) {
    let _ = writeln!(
        out,
        r##"<rect x="{x0}" y="{TOP}" width="{}" height="{:.1}" fill="#fbfbfb" stroke="#888"/>"##,
        x1 - x0,
        bottom - TOP
    );
    text(
        out,
        (x0 + x1) / 2.0,
        TOP - 34.0,
        "panel",
        "middle",
        title,
        "",
    );
    let mut kx = x0 + 10.0;
    for (i, key) in keys.iter().enumerate() {
        point(out, i, kx, TOP - 14.0, "#555");
        text(out, kx + 9.0, TOP - 10.0, "legend", "start", key, "");
        kx += 20.0 + CHAR_EM * font_size("legend") * key.chars().count() as f64;
    }
}

/// Mark `i` of a row: a circle (median), a bar (the middle percentile), a cross (the top).
fn point(out: &mut String, i: usize, x: f64, y: f64, color: &str) {
    let _ = match i {
        0 => writeln!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.5" fill="{color}"/>"#
        ),
        1 => writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{color}" stroke-width="3"/>"#,
            y - 7.0,
            y + 7.0
        ),
        _ => writeln!(
            out,
            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{color}" stroke-width="2.5"/>"#,
            x - 5.0,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0,
            y + 5.0,
            x + 5.0,
            y - 5.0
        ),
    };
}

/// One row's three values joined by a line on the x positions given.
fn range(out: &mut String, xs: [f64; 3], y: f64, color: &str) {
    let _ = writeln!(
        out,
        r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="1.5" opacity="0.6"/>"#,
        xs[0], xs[2]
    );
    for (i, x) in xs.into_iter().enumerate() {
        point(out, i, x, y, color);
    }
}

/// Renders the distributions chart of `chart.rows` as an SVG document.
pub fn render_distributions(chart: &Chart) -> String {
    let rows = chart.rows;
    let bottom = TOP + 10.0 + ROW * rows.len().max(1) as f64;
    let height = bottom + 70.0;
    let mut out = String::new();
    header(&mut out, &chart.title, &chart.subtitle, height);
    panel(
        &mut out,
        LOAD,
        bottom,
        "Descriptors each servent handled",
        ["median", "p99", "max"],
    );
    panel(
        &mut out,
        TIME,
        bottom,
        "Time to the first hit",
        ["median", "p90", "p99"],
    );
    text(&mut out, GINI_X, TOP - 10.0, "legend", "middle", "Gini", "");

    let load = LogAxis::fit(
        rows.iter()
            .flat_map(|r| [r.load_median, r.load_p99, r.peak_load])
            .map(|v| v as f64),
    );
    log_ticks(&mut out, &load, LOAD.0, LOAD.1 - LOAD.0, TOP, bottom);
    text(
        &mut out,
        (LOAD.0 + LOAD.1) / 2.0,
        bottom + 42.0,
        "axis",
        "middle",
        "descriptors over the query set (log; 0 at the left end)",
        "",
    );
    let time = LogAxis::fit(rows.iter().flat_map(|r| {
        [
            r.first_hit_delay_median,
            r.first_hit_delay_p90,
            r.first_hit_delay_p99,
        ]
        .into_iter()
        .flatten()
    }));
    log_ticks(&mut out, &time, TIME.0, TIME.1 - TIME.0, TOP, bottom);
    let tx = |v: f64| time.at(v, TIME.0, TIME.1 - TIME.0);
    text(
        &mut out,
        (TIME.0 + TIME.1) / 2.0,
        bottom + 42.0,
        "axis",
        "middle",
        "link latencies, the Query out and the hit back (log)",
        "",
    );

    let name_size = font_size("tick");
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + 10.0 + ROW * (i as f64 + 0.5);
        let (color, shape) = family_style(r.family);
        mark(&mut out, shape, 16.0, y, color);
        let name = fit(&r.strategy, NAMES_RIGHT - 30.0, name_size);
        text(&mut out, 28.0, y + 4.0, "tick", "start", &name, "");
        let lx = |v: u64| load.at(v as f64, LOAD.0, LOAD.1 - LOAD.0);
        range(
            &mut out,
            [lx(r.load_median), lx(r.load_p99), lx(r.peak_load)],
            y,
            color,
        );
        text(
            &mut out,
            GINI_X,
            y + 4.0,
            "tick",
            "middle",
            &format!("{:.2}", r.load_gini),
            "",
        );
        if let (Some(m), Some(p90), Some(p99)) = (
            r.first_hit_delay_median,
            r.first_hit_delay_p90,
            r.first_hit_delay_p99,
        ) {
            range(&mut out, [tx(m), tx(p90), tx(p99)], y, color);
        } else {
            text(
                &mut out,
                tx(0.0) + 4.0,
                y + 4.0,
                "tick",
                "start",
                "no hit",
                "",
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::svg::tests::{assert_no_overlap, row};

    #[test]
    fn distribution_chart_has_a_row_per_strategy_and_no_overlapping_text() {
        let mut rows = vec![
            row("flood:ttl=7", "flood", 25_000.0, 1.0),
            row("ring", "ring", 13_000.0, 1.0),
            row(
                "walk:k=16,check=4,steps=1024,remember=true",
                "walk",
                600.0,
                0.99,
            ),
        ];
        rows[0].peak_load = 2_000_000;
        rows[0].load_p99 = 40_000;
        rows[0].load_median = 900;
        rows[2].load_median = 0;
        rows[1].first_hit_delay_median = None;
        let svg = render_distributions(&Chart {
            title: "Load and time to the first hit on plrg:n=10000".into(),
            subtitle: "s".into(),
            rows: &rows,
            curves: false,
        });
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(">ring<") && svg.contains("walk:k=16,check=4,steps"));
        assert!(svg.contains('…'), "the long name is cut");
        assert!(svg.contains(">no hit<"));
        assert!(svg.contains(">1M<") || svg.contains(">10M<"));
        assert_no_overlap(&svg);
    }
}
