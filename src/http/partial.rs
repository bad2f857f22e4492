//! Serving a file still being downloaded ([`crate::library::partial`]), as gtk-gnutella
//! does for partial file sharing: every answer carries `X-Available-Ranges: bytes a-b,c-d`
//! (what is written and synced now), a range starting in an available part is served up
//! to that part's end (a `206` shorter than asked, which downloaders ask the rest of
//! again), and a range starting where nothing is written yet is refused with
//! `416 Requested range not available yet`, carrying the available ranges so the
//! downloader asks for those instead. Also the parsing of that header on the downloader's
//! side.

use std::fs::File;
use std::sync::Arc;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::answer::{Answer, FileAnswer};
use super::body::Segment;
use super::context::HttpContext;
use super::open_files::content_type;
use super::range::{self, RangePlan};
use super::response::{empty, put, respond, text, Body};
use crate::library::hash;
use crate::library::part_state::RangeSet;
use crate::library::partial::PartialFile;

/// `X-Available-Ranges`: the byte ranges a partial source holds.
pub const X_AVAILABLE_RANGES: HeaderName = HeaderName::from_static("x-available-ranges");
/// Most ranges written in one `X-Available-Ranges` (the lowest ones): gtk-gnutella keeps
/// the header to a small budget too; a downloader asks again and learns the rest later.
pub const MAX_RANGES_SENT: usize = 64;
/// Most ranges read from a source's `X-Available-Ranges` (the rest is ignored).
pub const MAX_RANGES_PARSED: usize = 512;

/// `bytes 0-1023,4096-8191` for `set` (at most [`MAX_RANGES_SENT`] ranges).
pub fn format_available_ranges(set: &RangeSet) -> String {
    let parts: Vec<String> = set
        .ranges()
        .take(MAX_RANGES_SENT)
        .map(|r| format!("{}-{}", r.start, r.end - 1))
        .collect();
    format!("bytes {}", parts.join(","))
}

/// The ranges of an `X-Available-Ranges` value for a `size`-byte file (ends past the file
/// are cut to it); `None` when it is not a `bytes` list. At most [`MAX_RANGES_PARSED`]
/// ranges are read; malformed entries are skipped.
pub fn parse_available_ranges(value: &str, size: u64) -> Option<RangeSet> {
    let value = value.trim();
    let rest = value
        .get(..5)
        .filter(|u| u.eq_ignore_ascii_case("bytes"))
        .map(|_| &value[5..])?;
    let rest = rest.trim_start_matches([' ', '=']);
    let mut set = RangeSet::default();
    for item in rest.split(',').take(MAX_RANGES_PARSED) {
        let Some((a, b)) = item.trim().split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.trim().parse::<u64>(), b.trim().parse::<u64>()) else {
            continue;
        };
        if a <= b && a < size {
            set.insert(a..b.saturating_add(1).min(size));
        }
    }
    Some(set)
}

/// Answers a `GET`/`HEAD` for a partial file (`busy`: the file server's answer when
/// every upload slot is taken). See the module documentation.
pub(super) async fn serve<B>(
    ctx: &HttpContext,
    req: &Request<B>,
    p: Arc<PartialFile>,
    busy: fn(&HttpContext) -> Response<Body>,
) -> Answer {
    let size = p.size;
    let available = p.available();
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    put(
        &mut headers,
        HeaderName::from_static("x-gnutella-content-urn"),
        &hash::urn(&p.sha1),
    );
    put(
        &mut headers,
        X_AVAILABLE_RANGES,
        &format_available_ranges(&available),
    );
    let lib = ctx.library.as_deref();
    ctx.mesh
        .exchange_for(lib, req.headers(), &p.sha1, &mut headers);
    let range_header = req
        .headers()
        .get(header::RANGE)
        .and_then(|h| h.to_str().ok());
    let asked = match range::plan(range_header, size) {
        RangePlan::Unsatisfiable => {
            put(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            return respond(StatusCode::RANGE_NOT_SATISFIABLE, headers, empty()).into();
        }
        RangePlan::Partial(ranges) => Some(ranges[0].clone()),
        RangePlan::Full => None,
    };
    if req.method() == Method::HEAD && asked.is_none() {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        return respond(StatusCode::OK, headers, empty()).into();
    }
    let want = asked.clone().unwrap_or(0..size);
    let Some(serve) = available.run_from(want.start, want.end) else {
        let mut r = text(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "Requested range not available yet\n".into(),
        );
        r.headers_mut().extend(headers);
        return r.into();
    };
    let whole = serve == (0..size) && asked.is_none();
    let status = if whole {
        StatusCode::OK
    } else {
        put(
            &mut headers,
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{size}", serve.start, serve.end - 1),
        );
        StatusCode::PARTIAL_CONTENT
    };
    let len = serve.end - serve.start;
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&p.name)),
    );
    if req.method() == Method::HEAD {
        return respond(status, headers, empty()).into();
    }
    let Some(slot) = ctx.uploads.try_acquire() else {
        let mut r = busy(ctx);
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::CONTENT_RANGE);
        r.headers_mut().extend(headers);
        return r.into();
    };
    let file: File = match p.open_part() {
        Ok(f) => f,
        Err(e) => {
            log::info!("cannot serve {}: {e}", p.part.display());
            return text(StatusCode::NOT_FOUND, "no such shared file\n".into()).into();
        }
    };
    Answer::File(FileAnswer {
        status,
        headers,
        handle: Arc::new(file),
        segments: vec![Segment::File(serve)],
        len,
        slot: Some(slot),
        path: p.part.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_ranges_both_ways() {
        let mut set = RangeSet::default();
        set.insert(0..1024);
        set.insert(4096..8192);
        let text = format_available_ranges(&set);
        assert_eq!(text, "bytes 0-1023,4096-8191");
        assert_eq!(parse_available_ranges(&text, 10_000), Some(set.clone()));
        assert_eq!(
            parse_available_ranges("bytes=0-1023, 4096-8191, junk, 9-2", 10_000),
            Some(set)
        );
        let cut = parse_available_ranges("bytes 0-99999", 100).unwrap();
        assert_eq!(cut.ranges().collect::<Vec<_>>(), vec![0..100]);
        assert_eq!(parse_available_ranges("items 0-1", 100), None);
        assert_eq!(
            parse_available_ranges("bytes 0-18446744073709551615", u64::MAX)
                .unwrap()
                .len(),
            u64::MAX
        );
    }
}
