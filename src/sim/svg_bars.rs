//! The panel under the cost chart's scatter plots: for each strategy that sends checks
//! (walkers, dynamic querying's status messages), its messages per query as one bar
//! stacked from its Query messages (for walkers, their steps) and its check messages,
//! with the figures and the checks' share at the bar's end.

use std::fmt::Write as _;

use super::experiment::Summary;
use super::svg_draw::{family_style, text, WIDTH};

/// Height of one bar, gap included.
const BAR_ROW: f64 = 24.0;
/// Left edge of the bars (strategy names end just before it).
const BARS_LEFT: f64 = 240.0;

/// Rows that send checks (walkers, dq's status messages): the stacked bars' rows.
pub(super) fn stacked_rows(rows: &[Summary]) -> Vec<&Summary> {
    rows.iter()
        .filter(|r| r.check_messages_per_query > 0.0)
        .collect()
}

/// Height of the stacked-bars panel for `n` bars (0 without bars).
pub(super) fn bars_height(n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        70.0 + BAR_ROW * n as f64
    }
}

/// The panel under the scatter plots: for each strategy with checks, its messages per
/// query as a bar of Query messages (for walkers, their steps) then check messages, on a
/// linear axis, with the two figures and their sum at the bar's end.
pub(super) fn stacked_bars(out: &mut String, rows: &[&Summary], top: f64) {
    if rows.is_empty() {
        return;
    }
    let (left, right) = (BARS_LEFT, WIDTH - 200.0);
    let max = rows
        .iter()
        .map(|r| r.query_messages_per_query + r.check_messages_per_query)
        .fold(1.0f64, f64::max);
    let scale = (right - left) / max;
    text(
        out,
        WIDTH / 2.0,
        top + 16.0,
        "panel",
        "middle",
        "Messages per query: Query messages (walker steps) + check messages",
        "",
    );
    let key_y = top + 36.0;
    let _ = writeln!(
        out,
        r##"<rect x="{left:.1}" y="{:.1}" width="14" height="10" fill="#2e8b3a"/>"##,
        key_y - 9.0
    );
    text(
        out,
        left + 20.0,
        key_y,
        "legend",
        "start",
        "Query messages (steps)",
        "",
    );
    let kx = left + 220.0;
    let _ = writeln!(
        out,
        r##"<rect x="{kx:.1}" y="{:.1}" width="14" height="10" fill="#b8b8b8"/>"##,
        key_y - 9.0
    );
    text(
        out,
        kx + 20.0,
        key_y,
        "legend",
        "start",
        "check messages",
        "",
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + 50.0 + BAR_ROW * i as f64;
        let (color, _) = family_style(r.family);
        let q = r.query_messages_per_query;
        let c = r.check_messages_per_query;
        text(out, left - 8.0, y + 13.0, "tick", "end", &r.strategy, "");
        let _ = writeln!(
            out,
            r#"<rect x="{left:.1}" y="{y:.1}" width="{:.1}" height="17" fill="{color}"/>"#,
            q * scale
        );
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="17" fill="#b8b8b8"/>"##,
            left + q * scale,
            c * scale
        );
        let figures = format!(
            "{:.0} + {:.0} = {:.0} ({:.0}% checks)",
            q,
            c,
            q + c,
            100.0 * c / (q + c).max(1e-9)
        );
        text(
            out,
            left + (q + c) * scale + 6.0,
            y + 13.0,
            "tick",
            "start",
            &figures,
            "",
        );
    }
}
