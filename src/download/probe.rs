//! Before a download: a `HEAD` on every source (in parallel) for its size, its advertised
//! SHA-1 and a warm connection, and the choice of sources that serve the file asked for;
//! what a partial source holds (`X-Available-Ranges`) and the sources its `X-Alt` names
//! are kept for the download.

use std::net::SocketAddr;

use futures::future;
use hyper::header::CONTENT_LENGTH;
use hyper::{Method, StatusCode};

use crate::http::alt::{header_alts, X_ALT};
use crate::http::client::{Connection, HttpUrl};
use crate::http::partial::{parse_available_ranges, X_AVAILABLE_RANGES};
use crate::library::hash::{self, Sha1Digest};

use super::source::{open, request, Endpoint, FetchError, PushSource, SourceUrl};
use super::state::RangeSet;
use super::{DownloadError, DownloadOptions};

/// The usable sources, in the order given, and what they agree on.
pub(super) struct Probed {
    pub endpoints: Vec<Endpoint>,
    /// The connection each probe left open (if the source is not busy).
    pub conns: Vec<Option<Connection>>,
    pub size: u64,
    /// The SHA-1 asked for, else the first one a source advertised.
    pub expected: Option<Sha1Digest>,
    /// What each partial source holds (`None`: all of the file, or not said).
    pub available: Vec<Option<RangeSet>>,
    /// Sources the probes' `X-Alt` named (deduplicated).
    pub alts: Vec<SocketAddr>,
}

struct ProbeInfo {
    size: u64,
    sha1: Option<Sha1Digest>,
    /// The raw `X-Available-Ranges` (read once the size is agreed on).
    ranges: Option<String>,
    alts: Vec<SocketAddr>,
}

/// A source as the fetchers see it (probed, or learned from the mesh).
pub(super) fn endpoint(
    url: HttpUrl,
    label: String,
    addr: SocketAddr,
    push: Option<PushSource>,
) -> Endpoint {
    Endpoint {
        url,
        label,
        addr: Some(addr),
        push,
    }
}

type ProbeResult = Result<(SocketAddr, Option<Connection>, Option<ProbeInfo>), FetchError>;

/// Probes every source and keeps those serving the file asked for (same size, same
/// SHA-1); `NoUsableSource` with each one's reason when none is left or none told a size.
pub(super) async fn probe_sources(
    urls: Vec<SourceUrl>,
    sha1: Option<Sha1Digest>,
    opts: &DownloadOptions,
) -> Result<Probed, DownloadError> {
    let probes = future::join_all(urls.iter().map(|u| probe(u, opts))).await;
    let mut expected = sha1;
    let mut size: Option<u64> = None;
    let mut endpoints = Vec::new();
    let mut conns = Vec::new();
    let mut unusable = Vec::new();
    let mut ranges = Vec::new();
    let mut alts: Vec<SocketAddr> = Vec::new();
    for (url, probe) in urls.into_iter().zip(probes) {
        let label = url.label.clone();
        let (addr, conn, info) = match probe {
            Ok(p) => p,
            Err(e) => {
                unusable.push((label, e.to_string()));
                continue;
            }
        };
        if let Some(info) = &info {
            if let (Some(want), Some(got)) = (expected, info.sha1) {
                if want != got {
                    unusable.push((label, format!("serves another file ({})", hash::urn(&got))));
                    continue;
                }
            }
            if let Some(s) = size {
                if s != info.size {
                    unusable.push((label, format!("size {} differs from {s}", info.size)));
                    continue;
                }
            }
            size = Some(info.size);
            expected = expected.or(info.sha1);
            for a in &info.alts {
                if !alts.contains(a) {
                    alts.push(*a);
                }
            }
        }
        ranges.push(info.and_then(|i| i.ranges));
        endpoints.push(endpoint(url.url, label, addr, url.push));
        conns.push(conn);
    }
    for (s, e) in &unusable {
        log::info!("source {s}: {e}");
    }
    let Some(size) = size.filter(|_| !endpoints.is_empty()) else {
        return Err(DownloadError::NoUsableSource(unusable));
    };
    let available = ranges
        .iter()
        .map(|r| r.as_deref().and_then(|v| parse_available_ranges(v, size)))
        .collect();
    Ok(Probed {
        endpoints,
        conns,
        size,
        expected,
        available,
        alts,
    })
}

/// HEAD on a source: its address, an open connection, and (unless busy) size and hash.
async fn probe(src: &SourceUrl, opts: &DownloadOptions) -> ProbeResult {
    let (addr, mut conn) = open(&src.url, None, src.push, opts).await?;
    let req = request(Method::HEAD, &src.url, None);
    let resp = conn.send(req, opts.stall_timeout).await?;
    let status = resp.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return Ok((addr, Some(conn), None));
    }
    if status != StatusCode::OK {
        return Err(FetchError::Status(status));
    }
    let size = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or(FetchError::Status(status))?;
    let sha1 = resp
        .headers()
        .get("x-gnutella-content-urn")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(hash::parse_urn));
    let ranges = resp
        .headers()
        .get(X_AVAILABLE_RANGES)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let alts = header_alts(resp.headers(), &X_ALT);
    Ok((
        addr,
        Some(conn),
        Some(ProbeInfo {
            size,
            sha1,
            ranges,
            alts,
        }),
    ))
}
