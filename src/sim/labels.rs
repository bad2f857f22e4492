//! Placing chart labels so that no two overlap: each label's box is estimated from its
//! font size and character count, positions around its mark are tried nearest first,
//! and a label with no free position is dropped rather than drawn over another.

use super::svg_draw::font_size;

/// Width of one character as a fraction of the font size: bold Helvetica/Arial digits
/// and lower-case letters average about 0.55 em, so 0.62 keeps a margin.
pub const CHAR_EM: f64 = 0.62;

/// A box in SVG coordinates (y grows downwards).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left.
    pub x0: f64,
    /// Top.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
}

impl Rect {
    /// Distance from the point (x, y) to the box (0 inside it).
    pub fn distance(&self, x: f64, y: f64) -> f64 {
        let dx = (self.x0 - x).max(x - self.x1).max(0.0);
        let dy = (self.y0 - y).max(y - self.y1).max(0.0);
        dx.hypot(dy)
    }

    /// The two boxes share some area (touching edges do not count).
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// `self` lies within `o`.
    pub fn inside(&self, o: &Rect) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }
}

/// The box of `text` drawn at (x, baseline y) with `anchor` (`start`, `middle`, `end`)
/// in a font of `size` pixels: ascent 0.85 em above the baseline, descent 0.25 em below.
pub fn text_box(x: f64, y: f64, size: f64, anchor: &str, text: &str) -> Rect {
    let w = CHAR_EM * size * text.chars().count() as f64;
    let x0 = match anchor {
        "start" => x,
        "end" => x - w,
        _ => x - w / 2.0,
    };
    Rect {
        x0,
        y0: y - 0.85 * size,
        x1: x0 + w,
        y1: y + 0.25 * size,
    }
}

/// Where a placed label goes: baseline position, anchor, and whether it sits far enough
/// from its mark to need a leader line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    /// x of the anchor point.
    pub x: f64,
    /// Baseline y.
    pub y: f64,
    /// `start`, `middle` or `end`.
    pub anchor: &'static str,
    /// Drawn away from its mark: join them with a line.
    pub leader: bool,
}

/// Keeps the boxes already used in one panel (marks, whiskers, labels) and places new
/// labels where they overlap none of them. A label beside its mark must also be nearer
/// its own mark than any other, so a reader cannot pin it on a neighbour; one placed
/// further out gets a leader line instead.
pub struct Placer {
    /// Boxes taken so far.
    pub taken: Vec<Rect>,
    /// Centres of the marks.
    centres: Vec<(f64, f64)>,
    bounds: Rect,
}

/// Offsets from the mark tried for a label, nearest first: (dx, dy of the baseline,
/// anchor). The first ring sits beside the mark; the others further out get a leader.
const NEAR: [(f64, f64, &str); 6] = [
    (9.0, -4.0, "start"),
    (-9.0, -4.0, "end"),
    (9.0, 12.0, "start"),
    (-9.0, 12.0, "end"),
    (0.0, -12.0, "middle"),
    (0.0, 21.0, "middle"),
];

impl Placer {
    /// A placer for labels that must stay inside `bounds`.
    pub fn new(bounds: Rect) -> Placer {
        Placer {
            taken: Vec::new(),
            centres: Vec::new(),
            bounds,
        }
    }

    /// Reserves the area of a mark of radius about 7 pixels at (x, y).
    pub fn mark(&mut self, x: f64, y: f64) {
        self.centres.push((x, y));
        self.taken.push(Rect {
            x0: x - 7.0,
            y0: y - 7.0,
            x1: x + 7.0,
            y1: y + 7.0,
        });
    }

    /// Finds a free place for `text` (font `size`) near the mark at (x, y) and reserves
    /// it; `None` when every candidate overlaps something or leaves the bounds (the
    /// label is then dropped).
    pub fn place(&mut self, x: f64, y: f64, size: f64, text: &str) -> Option<Placed> {
        let far = (1..=4).flat_map(|ring| {
            let d = 14.0 * ring as f64;
            [
                (9.0 + d, -4.0 - d, "start", true),
                (-9.0 - d, -4.0 - d, "end", true),
                (9.0 + d, 12.0 + d, "start", true),
                (-9.0 - d, 12.0 + d, "end", true),
                (0.0, -12.0 - d, "middle", true),
                (0.0, 21.0 + d, "middle", true),
            ]
        });
        let candidates = NEAR
            .iter()
            .map(|&(dx, dy, a)| (dx, dy, a, false))
            .chain(far);
        for (dx, dy, anchor, leader) in candidates {
            let r = text_box(x + dx, y + dy, size, anchor, text);
            let own = r.distance(x, y);
            let ambiguous = !leader
                && self.centres.iter().any(|&(cx, cy)| {
                    (cx - x).abs() + (cy - y).abs() > 0.5 && r.distance(cx, cy) <= own + 3.0
                });
            if r.inside(&self.bounds) && !ambiguous && !self.taken.iter().any(|t| t.overlaps(&r)) {
                self.taken.push(r);
                return Some(Placed {
                    x: x + dx,
                    y: y + dy,
                    anchor,
                    leader,
                });
            }
        }
        None
    }
}

/// Every `<text>` of an SVG document this module's charts write, with its box: the font
/// size from its class, the width from its character count (entities counted as one), the
/// anchor, and a quarter turn for `rotate(-90 ...)`. What the overlap tests measure; a text
/// without a number for `x` or `y` is left out.
pub fn svg_text_boxes(svg: &str) -> Vec<(String, Rect)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..].split('"').next()?.to_owned())
    };
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text ") {
        let Some(tag_end) = rest[start..].find('>').map(|e| start + e) else {
            break;
        };
        let Some(close) = rest[tag_end..].find("</text>").map(|c| tag_end + c) else {
            break;
        };
        let tag = &rest[start..tag_end];
        let content = rest[tag_end + 1..close]
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
        rest = &rest[close..];
        let num = |n: &str| attr(tag, n).and_then(|v| v.parse::<f64>().ok());
        let (Some(x), Some(y)) = (num("x"), num("y")) else {
            continue;
        };
        let size = font_size(&attr(tag, "class").unwrap_or_default());
        let anchor = attr(tag, "text-anchor").unwrap_or_else(|| "start".into());
        let mut b = text_box(x, y, size, &anchor, &content);
        if attr(tag, "transform").is_some_and(|t| t.starts_with("rotate(-90")) {
            // Rotated a quarter turn about (x, y): widths run up the page.
            b = Rect {
                x0: x - (y - b.y0),
                y0: y - (b.x1 - x),
                x1: x + (b.y1 - y),
                y1: y - (b.x0 - x),
            };
        }
        out.push((content, b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_overlap_and_are_dropped_when_crowded() {
        let bounds = Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 200.0,
            y1: 100.0,
        };
        let mut p = Placer::new(bounds);
        p.mark(100.0, 50.0);
        let mut placed = 0;
        for _ in 0..40 {
            if p.place(100.0, 50.0, 11.0, "ttl=5/6").is_some() {
                placed += 1;
            }
        }
        assert!((4..40).contains(&placed), "{placed}");
        let labels = &p.taken[1..];
        for (i, a) in labels.iter().enumerate() {
            assert!(a.inside(&bounds));
            for b in &labels[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} {b:?}");
            }
        }
    }
}
