//! Drawing pieces the charts share: text classes and their font sizes, escaped text,
//! family colours and mark shapes, logarithmic axes with decade ticks, and the
//! document's opening (size, styles, title).

use std::fmt::Write as _;

/// Width of every chart, in pixels.
pub const WIDTH: f64 = 1100.0;

/// Font size in pixels of each text class the charts use (the test on label boxes
/// reads them from here too).
pub const FONT: [(&str, f64); 7] = [
    ("title", 20.0),
    ("sub", 13.0),
    ("panel", 15.0),
    ("tick", 12.0),
    ("axis", 13.0),
    ("label", 11.0),
    ("legend", 13.0),
];

/// The font size of text class `class`.
pub fn font_size(class: &str) -> f64 {
    FONT.iter().find(|f| f.0 == class).map_or(12.0, |f| f.1)
}

/// The colour and mark shape of a strategy family.
pub fn family_style(family: &str) -> (&'static str, &'static str) {
    match family {
        "flood" => ("#1f5fa8", "circle"),
        "ring" => ("#d9731a", "square"),
        "dq" => ("#8a3ab9", "diamond"),
        _ => ("#2e8b3a", "triangle"),
    }
}

/// `s` with `&`, `<` and `>` escaped for SVG text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A `<text>` of class `class` at (x, baseline y), anchored `anchor`, with `extra`
/// attributes (fill, transform).
pub fn text(out: &mut String, x: f64, y: f64, class: &str, anchor: &str, s: &str, extra: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" class="{class}" text-anchor="{anchor}"{extra}>{}</text>"#,
        escape(s)
    );
}

/// A mark of `shape` centred at (x, y).
pub fn mark(out: &mut String, shape: &str, x: f64, y: f64, color: &str) {
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
        "diamond" => writeln!(
            out,
            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{color}" stroke="white" stroke-width="1.5"/>"#,
            x,
            y - 7.0,
            x + 7.0,
            y,
            x,
            y + 7.0,
            x - 7.0,
            y
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

/// `1000` -> `1k`, `2500000` -> `2.5M`.
pub fn short(v: f64) -> String {
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

/// A logarithmic axis over whole decades.
pub struct LogAxis {
    /// The axis' first decade.
    pub lo: f64,
    /// The axis' last decade.
    pub hi: f64,
}

impl LogAxis {
    /// The whole decades spanning the positive `values` (1 to 10 without any).
    pub fn fit(values: impl Iterator<Item = f64>) -> LogAxis {
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

    /// x of `v` on an axis `width` wide starting at `left` (values below the axis at
    /// its left end).
    pub fn at(&self, v: f64, left: f64, width: f64) -> f64 {
        let v = v.max(self.lo);
        left + width * (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
    }
}

/// Decade grid lines, labels and minor ticks of `axis` under a panel `width` wide at
/// `left` whose frame spans `top..bottom`.
pub fn log_ticks(out: &mut String, axis: &LogAxis, left: f64, width: f64, top: f64, bottom: f64) {
    let mut decade = axis.lo;
    while decade <= axis.hi * 1.0001 {
        let x = axis.at(decade, left, width);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/>"##
        );
        text(out, x, bottom + 18.0, "tick", "middle", &short(decade), "");
        if decade < axis.hi {
            for m in 2..10 {
                let x = axis.at(decade * m as f64, left, width);
                let _ = writeln!(
                    out,
                    r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{:.1}" stroke="#888"/>"##,
                    bottom - 5.0
                );
            }
        }
        decade *= 10.0;
    }
}

/// The document's opening: the `<svg>` element `height` tall, styles, background, title
/// and subtitle.
pub fn header(out: &mut String, title: &str, subtitle: &str, height: f64) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">"#
    );
    out.push_str("<style>");
    for (class, size) in FONT {
        let extra = match class {
            "title" | "panel" | "label" => ";font-weight:bold",
            "sub" => ";fill:#444",
            "tick" => ";fill:#333",
            _ => "",
        };
        let _ = write!(out, ".{class}{{font-size:{size}px{extra}}}");
    }
    out.push_str("</style>\n");
    out.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    out.push('\n');
    text(out, WIDTH / 2.0, 30.0, "title", "middle", title, "");
    text(out, WIDTH / 2.0, 52.0, "sub", "middle", subtitle, "");
}
