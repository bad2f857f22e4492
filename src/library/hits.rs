//! The searching side: received QueryHit results as [`SearchHit`]s (with the 64-bit size
//! of a GGEP `LF` extension), filtered by the full pattern (other servents do not know
//! wildcards), grouped by SHA-1 into [`HitGroup`]s (one file, many sources) and rendered
//! as a table for people.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::proto::ggep::{cobs_encode, GgepBlock, GgepExtension};
use crate::proto::payload::{Extension, HitResult, QueryHit};
use crate::proto::Guid;

use super::matching::Pattern;

/// Size field of a result whose real size is in a GGEP `LF` extension (files >= 4 GiB).
pub const LARGE_FILE_SIZE_MARK: u32 = 0xFFFF_FFFF;

/// Characters percent-encoded in a `/get/<index>/<name>` path segment.
pub const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The GGEP `LF` extension for a size: little-endian, without trailing zero bytes (as
/// LimeWire writes it), COBS-encoded when it holds a zero byte (a result's extension
/// area ends at the first NUL).
pub fn lf_extension(size: u64) -> Extension {
    let le = size.to_le_bytes();
    let raw = &le[..(8 - (size.leading_zeros() / 8) as usize).max(1)];
    let mut lf = GgepExtension::new("LF", raw.to_vec());
    if raw.contains(&0) {
        lf.cobs = true;
        lf.data = cobs_encode(raw);
    }
    Extension::Ggep(GgepBlock::Parsed(vec![lf]))
}

/// The size of a result: the `LF` extension's 64-bit value when present, else the
/// 32-bit field.
pub fn result_size(r: &HitResult) -> u64 {
    for e in &r.extensions {
        if let Extension::Ggep(block) = e {
            if let Some(lf) = block.get("LF") {
                if let Ok(data) = lf.decoded() {
                    if (1..=8).contains(&data.len()) {
                        let mut b = [0u8; 8];
                        b[..data.len()].copy_from_slice(&data);
                        return u64::from_le_bytes(b);
                    }
                }
            }
        }
    }
    u64::from(r.size)
}

/// One result of one QueryHit, as the searching side keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// Where to download from (the QueryHit's address and port).
    pub addr: SocketAddrV4,
    /// The responding servent's ID (QueryHit trailer): where a Push would go.
    pub servent_id: Guid,
    /// Advertised speed, kbit/s.
    pub speed: u32,
    /// The file index on that servent, for `/get/<index>/<name>`.
    pub index: u32,
    /// Size in bytes (from GGEP `LF` for files of 4 GiB and more).
    pub size: u64,
    /// The file name as sent (invalid UTF-8 replaced).
    pub name: String,
    /// `urn:sha1:<BASE32>` (prefix lower-case, hash upper-case) when the result had one,
    /// as a text URN or as a GGEP `H`.
    pub sha1_urn: Option<String>,
}

impl SearchHit {
    /// Every result of a QueryHit.
    pub fn from_query_hit(hit: &QueryHit) -> Vec<SearchHit> {
        hit.results
            .iter()
            .map(|r| SearchHit {
                addr: SocketAddrV4::new(hit.ip, hit.port),
                servent_id: hit.servent_id,
                speed: hit.speed,
                index: r.index,
                size: result_size(r),
                name: r.name_lossy().into_owned(),
                // Text URN or GGEP `H`, normalised: groups do not split on the form.
                sha1_urn: r.sha1_urn(),
            })
            .collect()
    }

    /// `http://ip:port/get/<index>/<name>`.
    pub fn url(&self) -> String {
        format!(
            "http://{}/get/{}/{}",
            self.addr,
            self.index,
            utf8_percent_encode(&self.name, PATH_SEGMENT)
        )
    }

    /// Whether its address can be reached directly (not 0.0.0.0, not multicast).
    pub fn is_routable(&self) -> bool {
        let ip: Ipv4Addr = *self.addr.ip();
        !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast() && self.addr.port() != 0
    }
}

/// Keeps only the hits whose name matches the full pattern (wildcards included).
pub fn filter_hits(pattern: &Pattern, hits: Vec<SearchHit>) -> Vec<SearchHit> {
    hits.into_iter()
        .filter(|h| pattern.matches_name(&h.name))
        .collect()
}

/// One file (by SHA-1, or by name and size when a servent sent no hash) and its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitGroup {
    /// The SHA-1 URN the sources share; `None` for a group by name and size.
    pub sha1_urn: Option<String>,
    /// The name most sources use.
    pub name: String,
    /// Size in bytes: the one most sources give (the smaller on a tie).
    pub size: u64,
    /// One per distinct (address, file index).
    pub sources: Vec<SearchHit>,
}

impl HitGroup {
    /// Download URLs of every reachable source.
    pub fn urls(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|s| s.is_routable())
            .map(SearchHit::url)
            .collect()
    }
}

/// Groups hits by SHA-1 (hits without one by name and size), most sources first, then
/// larger files, then by name. Duplicate sources (same address and index) count once.
pub fn group_hits(hits: impl IntoIterator<Item = SearchHit>) -> Vec<HitGroup> {
    #[derive(PartialEq, Eq, Hash)]
    enum Key {
        Sha1(String),
        NameSize(String, u64),
    }
    let mut order: Vec<Key> = Vec::new();
    let mut groups: HashMap<Key, Vec<SearchHit>> = HashMap::new();
    for h in hits {
        let key = match &h.sha1_urn {
            Some(u) => Key::Sha1(u.clone()),
            None => Key::NameSize(h.name.clone(), h.size),
        };
        let list = groups.entry(key).or_insert_with_key(|k| {
            order.push(match k {
                Key::Sha1(u) => Key::Sha1(u.clone()),
                Key::NameSize(n, s) => Key::NameSize(n.clone(), *s),
            });
            Vec::new()
        });
        if !list.iter().any(|s| s.addr == h.addr && s.index == h.index) {
            list.push(h);
        }
    }
    let mut out: Vec<HitGroup> = order
        .into_iter()
        .filter_map(|k| {
            let sources = groups.remove(&k)?;
            let mut names: HashMap<&str, usize> = HashMap::new();
            for s in &sources {
                *names.entry(s.name.as_str()).or_default() += 1;
            }
            let name = names
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.to_owned())
                .unwrap_or_default();
            // Sizes can disagree between liars and honest servents: take the most common.
            let mut sizes: HashMap<u64, usize> = HashMap::new();
            for s in &sources {
                *sizes.entry(s.size).or_default() += 1;
            }
            let size = sizes
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map_or(0, |(s, _)| s);
            Some(HitGroup {
                sha1_urn: match k {
                    Key::Sha1(u) => Some(u),
                    Key::NameSize(..) => None,
                },
                name,
                size,
                sources,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.sources
            .len()
            .cmp(&a.sources.len())
            .then(b.size.cmp(&a.size))
            .then(a.name.cmp(&b.name))
    });
    out
}

/// A size for people: `512 B`, `1.5 KiB`, `4.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The results table: one row per group.
pub fn render_table(groups: &[HitGroup]) -> String {
    const NAME_WIDTH: usize = 48;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>3}  {:>7}  {:>10}  {:<NAME_WIDTH$}  sha1",
        "#", "sources", "size", "name"
    );
    for (i, g) in groups.iter().enumerate() {
        let sha = g
            .sha1_urn
            .as_deref()
            .map_or("-".to_owned(), |u| u[9..].chars().take(12).collect());
        let _ = writeln!(
            out,
            "{:>3}  {:>7}  {:>10}  {:<NAME_WIDTH$}  {}",
            i + 1,
            g.sources.len(),
            human_size(g.size),
            truncate(&g.name, NAME_WIDTH),
            sha
        );
    }
    out
}

/// `SocketAddr` of a hit source, for callers that connect.
pub fn source_addr(h: &SearchHit) -> SocketAddr {
    SocketAddr::V4(h.addr)
}
