//! The download mesh (`X-Alt`, `X-Nalt`, as gtk-gnutella's dmesh and LimeWire use them):
//! per SHA-1, the other servents known to serve the file. Downloaders tell a server the
//! sources they verified (`X-Alt` on their requests) and the ones that failed (`X-Nalt`);
//! the server remembers them, bounded and expiring, and hands some back in `X-Alt` on its
//! answers, so each source a downloader uses teaches it more.
//!
//! The wire form is gtk-gnutella's compact one: a comma-separated list of `ip:port` (a
//! bare `ip` means port 6346; gtk-gnutella's `tls=` hint is skipped; `;` separates too).
//! The lists are peer input: parsing is bounded and an entry that is not an address is
//! skipped, never an error.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::library::hash::Sha1Digest;
use crate::library::Library;

/// `X-Alt`: sources of the file known good.
pub const X_ALT: HeaderName = HeaderName::from_static("x-alt");
/// `X-Nalt`: sources of the file found bad (unreachable, wrong data).
pub const X_NALT: HeaderName = HeaderName::from_static("x-nalt");

/// Port of an `X-Alt` entry written without one (Gnutella's default port).
pub const DEFAULT_ALT_PORT: u16 = 6346;
/// Most entries read from one `X-Alt` or `X-Nalt` header: a downloader sends a handful;
/// more is noise or an attack on our memory.
pub const MAX_ALTS_PARSED: usize = 64;
/// Longest `X-Alt` value read (bytes): 64 IPv6 entries fit.
pub const MAX_ALT_HEADER_LEN: usize = 4096;
/// Sources remembered per SHA-1 (the oldest is replaced beyond): gtk-gnutella keeps 256;
/// a few dozen are more than a downloader ever uses.
pub const MAX_ALTS_PER_FILE: usize = 64;
/// SHA-1s the mesh remembers sources for (the least recently told is forgotten beyond).
pub const MAX_MESH_FILES: usize = 4096;
/// How long a source told us stays in the mesh without being told again (gtk-gnutella
/// keeps alternate locations of shared files an hour).
pub const ALT_LIFETIME: Duration = Duration::from_secs(3600);
/// Most sources put in one answer's `X-Alt` (gtk-gnutella fills about 160 bytes: ten
/// IPv4 entries).
pub const MAX_ALTS_SENT: usize = 10;

/// The addresses of an `X-Alt`/`X-Nalt` value, deduplicated, at most
/// [`MAX_ALTS_PARSED`]; entries that are not a usable address are skipped.
pub fn parse_alt_list(value: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    if value.len() > MAX_ALT_HEADER_LEN {
        return out;
    }
    for item in value.split([',', ';']) {
        if out.len() >= MAX_ALTS_PARSED {
            break;
        }
        let item = item.trim();
        if item.is_empty()
            || item
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("tls="))
        {
            continue;
        }
        let addr = item.parse::<SocketAddr>().ok().or_else(|| {
            let ip: IpAddr = item.parse().ok()?;
            Some(SocketAddr::new(ip, DEFAULT_ALT_PORT))
        });
        if let Some(a) = addr.filter(usable) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The compact list of `addrs` (`ip:port, ip:port`).
pub fn format_alt_list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an address can be a source: a port, a unicast address.
fn usable(a: &SocketAddr) -> bool {
    a.port() != 0
        && !a.ip().is_unspecified()
        && !a.ip().is_multicast()
        && a.ip() != IpAddr::from([255, 255, 255, 255])
}

/// Every address of the `name` headers of `headers`, deduplicated and bounded.
pub fn header_alts(headers: &HeaderMap, name: &HeaderName) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for v in headers.get_all(name).iter().take(MAX_ALTS_PARSED) {
        for a in v.to_str().map(parse_alt_list).unwrap_or_default() {
            if out.len() < MAX_ALTS_PARSED && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The `ip:port` of each `http://ip:port/...` URL (names are not resolved: a mesh entry
/// is an address).
pub fn source_addrs(urls: &[String]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for u in urls {
        let host = u.strip_prefix("http://").unwrap_or(u);
        let host = host.split('/').next().unwrap_or("");
        if let Some(a) = host.parse::<SocketAddr>().ok().filter(usable) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// `response` with the `X-Alt` of `headers` (a busy answer still teaches other sources,
/// as gtk-gnutella's 503s do).
pub(super) fn onto<B>(mut response: hyper::Response<B>, headers: &HeaderMap) -> hyper::Response<B> {
    if let Some(v) = headers.get(X_ALT) {
        response.headers_mut().insert(X_ALT, v.clone());
    }
    response
}

struct Alt {
    addr: SocketAddr,
    seen: Instant,
}

/// The server's mesh: per SHA-1, the sources downloaders told it. See the module
/// documentation.
#[derive(Default)]
pub struct AltMesh {
    files: Mutex<HashMap<Sha1Digest, Vec<Alt>>>,
}

impl AltMesh {
    /// Remembers `addrs` as sources of `sha1` (told at `now`).
    pub fn learn(&self, sha1: &Sha1Digest, addrs: &[SocketAddr], now: Instant) {
        if addrs.is_empty() {
            return;
        }
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if !files.contains_key(sha1) && files.len() >= MAX_MESH_FILES {
            files.retain(|_, alts| {
                alts.retain(|a| now.saturating_duration_since(a.seen) < ALT_LIFETIME);
                !alts.is_empty()
            });
            if files.len() >= MAX_MESH_FILES {
                let stalest = files
                    .iter()
                    .min_by_key(|(_, alts)| alts.iter().map(|a| a.seen).max())
                    .map(|(k, _)| *k);
                if let Some(k) = stalest {
                    files.remove(&k);
                }
            }
        }
        let alts = files.entry(*sha1).or_default();
        for &addr in addrs.iter().filter(|a| usable(a)) {
            if let Some(a) = alts.iter_mut().find(|a| a.addr == addr) {
                a.seen = now;
                continue;
            }
            if alts.len() >= MAX_ALTS_PER_FILE {
                if let Some(oldest) = alts.iter().enumerate().min_by_key(|(_, a)| a.seen) {
                    let i = oldest.0;
                    alts.swap_remove(i);
                }
            }
            alts.push(Alt { addr, seen: now });
        }
    }

    /// Forgets `addrs` as sources of `sha1` (an `X-Nalt`).
    pub fn forget(&self, sha1: &Sha1Digest, addrs: &[SocketAddr]) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(alts) = files.get_mut(sha1) {
            alts.retain(|a| !addrs.contains(&a.addr));
            if alts.is_empty() {
                files.remove(sha1);
            }
        }
    }

    /// Up to `n` live sources of `sha1`, the most recently told first, none of `exclude`.
    pub fn alternates(
        &self,
        sha1: &Sha1Digest,
        n: usize,
        exclude: &[SocketAddr],
        now: Instant,
    ) -> Vec<SocketAddr> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let Some(alts) = files.get_mut(sha1) else {
            return Vec::new();
        };
        alts.retain(|a| now.saturating_duration_since(a.seen) < ALT_LIFETIME);
        alts.sort_by_key(|a| std::cmp::Reverse(a.seen));
        alts.iter()
            .map(|a| a.addr)
            .filter(|a| !exclude.contains(a))
            .take(n)
            .collect()
    }

    /// Whether any source is remembered for `sha1`.
    fn knows(&self, sha1: &Sha1Digest) -> bool {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.contains_key(sha1)
    }

    /// Sources remembered for `sha1` (expired ones included until next asked).
    pub fn count(&self, sha1: &Sha1Digest) -> usize {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.get(sha1).map_or(0, Vec::len)
    }

    /// [`AltMesh::exchange`] with the sources `lib` says this servent downloaded the
    /// file from as the verified ones.
    pub fn exchange_for(
        &self,
        lib: Option<&Library>,
        request: &HeaderMap,
        sha1: &Sha1Digest,
        out: &mut HeaderMap,
    ) {
        let verified = lib.map_or_else(Vec::new, |l| source_addrs(&l.verified_sources(sha1)));
        self.exchange(request, sha1, &verified, out);
    }

    /// One answer's part of the mesh: learns the request's `X-Alt` for `sha1`, forgets
    /// its `X-Nalt`, and puts in `out` an `X-Alt` of up to [`MAX_ALTS_SENT`] sources
    /// (`verified` first: the ones this servent fetched the file from itself), none the
    /// downloader already told us or reported bad.
    pub fn exchange(
        &self,
        request: &HeaderMap,
        sha1: &Sha1Digest,
        verified: &[SocketAddr],
        out: &mut HeaderMap,
    ) {
        let told = header_alts(request, &X_ALT);
        let bad = header_alts(request, &X_NALT);
        if told.is_empty() && verified.is_empty() && !self.knows(sha1) {
            // The common case of a servent nobody told of others: no clock, one lookup.
            return;
        }
        let now = Instant::now();
        self.learn(sha1, &told, now);
        if !bad.is_empty() {
            self.forget(sha1, &bad);
        }
        let known: Vec<SocketAddr> = told.iter().chain(&bad).copied().collect();
        let mut send: Vec<SocketAddr> = verified
            .iter()
            .filter(|a| usable(a) && !known.contains(a))
            .take(MAX_ALTS_SENT)
            .copied()
            .collect();
        for a in self.alternates(sha1, MAX_ALTS_SENT, &known, now) {
            if send.len() < MAX_ALTS_SENT && !send.contains(&a) {
                send.push(a);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&format_alt_list(&send)) {
            if !send.is_empty() {
                out.insert(X_ALT, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn compact_lists_as_gtk_gnutella_writes_them() {
        assert_eq!(
            parse_alt_list(
                "1.2.3.4:6347, 5.6.7.8,tls=3; [::1]:7000, junk, 1.2.3.4:6347, 9.9.9.9:0"
            ),
            vec![a("1.2.3.4:6347"), a("5.6.7.8:6346"), a("[::1]:7000")]
        );
        assert_eq!(
            format_alt_list(&[a("1.2.3.4:6347"), a("5.6.7.8:6346")]),
            "1.2.3.4:6347, 5.6.7.8:6346"
        );
        let long = vec!["10.0.0.1:1"; 10_000].join(",");
        assert!(
            parse_alt_list(&long).is_empty(),
            "an oversized header is not read"
        );
        let many: Vec<String> = (1..200).map(|p| format!("10.0.0.1:{p}")).collect();
        assert_eq!(parse_alt_list(&many.join(",")).len(), MAX_ALTS_PARSED);
    }

    #[test]
    fn the_mesh_learns_forgets_expires_and_bounds() {
        let m = AltMesh::default();
        let sha1 = [1u8; 20];
        let t0 = Instant::now();
        m.learn(&sha1, &[a("10.0.0.1:1"), a("10.0.0.2:2")], t0);
        m.learn(&sha1, &[a("10.0.0.1:1")], t0 + Duration::from_secs(5));
        let now = t0 + Duration::from_secs(6);
        assert_eq!(
            m.alternates(&sha1, 10, &[], now),
            vec![a("10.0.0.1:1"), a("10.0.0.2:2")]
        );
        assert_eq!(
            m.alternates(&sha1, 10, &[a("10.0.0.1:1")], now),
            vec![a("10.0.0.2:2")]
        );
        m.forget(&sha1, &[a("10.0.0.1:1")]);
        assert_eq!(m.alternates(&sha1, 10, &[], now), vec![a("10.0.0.2:2")]);
        let later = t0 + ALT_LIFETIME + Duration::from_secs(1);
        assert!(m.alternates(&sha1, 10, &[], later).is_empty(), "expired");
        let many: Vec<SocketAddr> = (1..=200)
            .map(|p| SocketAddr::from(([10, 0, 0, 3], p)))
            .collect();
        m.learn(&sha1, &many, later);
        assert_eq!(m.count(&sha1), MAX_ALTS_PER_FILE);
    }

    #[test]
    fn an_exchange_learns_the_request_and_answers_others() {
        let m = AltMesh::default();
        let sha1 = [2u8; 20];
        m.learn(&sha1, &[a("10.0.0.9:9")], Instant::now());
        let mut req = HeaderMap::new();
        req.insert(X_ALT, HeaderValue::from_static("10.0.0.1:1, 10.0.0.2:2"));
        req.insert(X_NALT, HeaderValue::from_static("10.0.0.9:9"));
        let mut out = HeaderMap::new();
        m.exchange(&req, &sha1, &[a("10.0.0.5:5")], &mut out);
        assert_eq!(out.get(X_ALT).unwrap(), "10.0.0.5:5");
        assert_eq!(m.count(&sha1), 2, "learned two, forgot the bad one");
        let mut out = HeaderMap::new();
        m.exchange(&HeaderMap::new(), &sha1, &[], &mut out);
        let sent = parse_alt_list(out.get(X_ALT).unwrap().to_str().unwrap());
        assert_eq!(sent.len(), 2);
    }
}
