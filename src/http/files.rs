//! Serving shared files: `GET`/`HEAD` `/get/<index>/<name>` and `/uri-res/N2R?urn:sha1:`,
//! with ranges (single 206, several as 206 `multipart/byteranges`, 416 when
//! unsatisfiable), `If-Range` against our `ETag` or `Last-Modified`, upload slots (503 with
//! `Retry-After` when all are busy) and bodies read from disk in bounded chunks.
//!
//! A request only ever names a file index or a hash: the file served is looked up in the
//! library, whose paths come from the scan, so nothing in a request reaches the file
//! system. Small bodies (one range up to [`INLINE_READ_MAX`]) are read with one positioned
//! read on a kept-open handle, inline: a page-cache hit costs microseconds, less than a
//! hop to the blocking pool. Larger bodies stream in [`super::body::STREAM_CHUNK`] pieces, each read
//! on the blocking pool, so memory per upload stays at one chunk.
//!
//! A route answers with an [`Answer`]: a finished response (an error, a `HEAD`), or the
//! file body to send ([`FileAnswer`]), which hyper's path turns into a streamed body
//! ([`FileAnswer::into_response`]) and the fast path (`super::fast`) writes itself.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;

pub(super) use super::answer::{Answer, FileAnswer};
use super::body::{boundary, multipart, FileBody, Segment};
use super::context::HttpContext;
use super::disk::{self, Cached};
use super::open_files::FileHeaders;
use super::range::{self, RangePlan};
use super::rate::RateLimit;
use super::response::{empty, full, put, respond, text, Body};
use crate::library::{hash, SharedFile};
use crate::rt;

/// Largest single-range body read inline on the executor thread (one `pread`).
pub(super) const INLINE_READ_MAX: u64 = 64 * 1024;
/// What a busy servent asks a downloader to wait before trying again.
pub(super) const BUSY_RETRY_AFTER: Duration = Duration::from_secs(30);

impl Answer {
    /// The answer as hyper sends it.
    pub(super) async fn into_response(self, ctx: &HttpContext) -> Response<Body> {
        match self {
            Answer::Done(r) => r,
            Answer::File(f) => f.into_response(ctx).await,
        }
    }
}

/// `GET`/`HEAD /get/<index>/<name>`: the index and the name must agree.
pub(super) async fn get_by_index<B>(ctx: &HttpContext, req: &Request<B>) -> Answer {
    let Some(lib) = &ctx.library else {
        return no_files();
    };
    let rest = &req.uri().path()["/get/".len()..];
    let Some((index, name)) = rest.split_once('/') else {
        return not_found();
    };
    if index.is_empty() || index.len() > 10 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return not_found();
    }
    let Ok(index) = index.parse::<u32>() else {
        return not_found();
    };
    let Some(file) = lib.get(index) else {
        return match lib.partial(index).filter(|p| name_agrees(name, &p.name)) {
            Some(p) => super::partial::serve(ctx, req, p, busy).await,
            None => not_found(),
        };
    };
    if !name_agrees(name, &file.name) {
        return not_found();
    }
    serve(ctx, req, file).await
}

/// Whether the request's name segment names `name`: percent-decoded once (or raw, or
/// with `+` for spaces as old servents write it). Never decoded twice.
fn name_agrees(segment: &str, name: &str) -> bool {
    if segment == name {
        return true;
    }
    let decoded = percent_decode_str(segment).collect::<Vec<u8>>();
    if decoded == name.as_bytes() {
        return true;
    }
    let plus = segment.replace('+', " ");
    percent_decode_str(&plus).collect::<Vec<u8>>() == name.as_bytes()
}

/// `GET`/`HEAD /uri-res/N2R?urn:sha1:<base32>`.
pub(super) async fn get_by_urn<B>(ctx: &HttpContext, req: &Request<B>) -> Answer {
    let Some(lib) = &ctx.library else {
        return no_files();
    };
    let query = req.uri().query().unwrap_or("");
    let query = percent_decode_str(query).decode_utf8_lossy();
    let Some(digest) = hash::parse_urn(&query) else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected /uri-res/N2R?urn:sha1:<32 base32 characters>\n".into(),
        )
        .into();
    };
    match lib.by_sha1(&digest) {
        Some(file) => serve(ctx, req, file).await,
        None => match lib.partial_by_sha1(&digest) {
            Some(p) => super::partial::serve(ctx, req, p, busy).await,
            None => not_found(),
        },
    }
}

fn not_found() -> Answer {
    text(StatusCode::NOT_FOUND, "no such shared file\n".into()).into()
}

fn no_files() -> Answer {
    text(
        StatusCode::NOT_FOUND,
        "this servent shares no files\n".into(),
    )
    .into()
}

/// Answers a request for one shared file.
async fn serve<B>(ctx: &HttpContext, req: &Request<B>, file: Arc<SharedFile>) -> Answer {
    let head = req.method() == Method::HEAD;
    let len = file.size;
    let (handle, fh) = match ctx.open_files.get(&file) {
        Ok(h) => h,
        Err(e) => {
            log::info!("cannot serve {}: {e}", file.path.display());
            return text(
                StatusCode::NOT_FOUND,
                "the shared file changed or disappeared; it is back after a rescan\n".into(),
            )
            .into();
        }
    };
    let plan = range_plan(req, &fh, len);
    let mut headers = file_headers(&fh);
    if let Some(d) = file.sha1() {
        let lib = ctx.library.as_deref();
        ctx.mesh.exchange_for(lib, req.headers(), &d, &mut headers);
    }
    if let RangePlan::Unsatisfiable = plan {
        put(
            &mut headers,
            header::CONTENT_RANGE,
            &format!("bytes */{len}"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
        return respond(StatusCode::RANGE_NOT_SATISFIABLE, headers, empty()).into();
    }
    let slot = if head {
        None
    } else {
        match ctx.uploads.try_acquire() {
            Some(s) => Some(s),
            None => return super::alt::onto(busy(ctx), &headers).into(),
        }
    };
    let (status, segments, body_len) = body_plan(plan, &fh, len, &mut headers);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    if head {
        return respond(status, headers, empty()).into();
    }
    Answer::File(FileAnswer {
        status,
        headers,
        handle,
        segments,
        len: body_len,
        slot,
        path: file.path.clone(),
    })
}

impl FileAnswer {
    /// The answer as hyper sends it: one small range read at once (inline when cached),
    /// anything else streamed in chunks ([`FileBody`]), both paced by the upload limit.
    pub(super) async fn into_response(self, ctx: &HttpContext) -> Response<Body> {
        let FileAnswer {
            status,
            headers,
            handle,
            segments,
            len,
            slot,
            path,
        } = self;
        if let [Segment::File(r)] = segments.as_slice() {
            if r.end - r.start <= INLINE_READ_MAX {
                return match read_small(&handle, r.clone(), &ctx.upload_rate).await {
                    Ok(b) => {
                        ctx.stats
                            .bytes_served
                            .fetch_add(b.len() as u64, Ordering::Relaxed);
                        drop(slot);
                        respond(status, headers, full(b))
                    }
                    Err(e) => {
                        log::warn!("reading {}: {e}", path.display());
                        text(StatusCode::INTERNAL_SERVER_ERROR, "read error\n".into())
                    }
                };
            }
        }
        let served = Arc::clone(&ctx.stats.bytes_served);
        let rate = Arc::clone(&ctx.upload_rate);
        let body = FileBody::new(handle, segments, len, served, slot).paced(rate);
        respond(status, headers, body.boxed())
    }
}

/// What the request's `Range` asks for, unless its `If-Range` names another version of
/// the file (then the whole file).
fn range_plan<B>(req: &Request<B>, fh: &FileHeaders, len: u64) -> RangePlan {
    let range_header = req
        .headers()
        .get(header::RANGE)
        .and_then(|h| h.to_str().ok());
    let honour_range = match req.headers().get(header::IF_RANGE) {
        Some(ir) => ir.to_str().is_ok_and(|s| fh.if_range_matches(s)),
        None => true,
    };
    if honour_range {
        range::plan(range_header, len)
    } else {
        RangePlan::Full
    }
}

/// The headers every answer about the file carries: ranges accepted, its validators, its
/// SHA-1 when known.
fn file_headers(fh: &FileHeaders) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(10);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, fh.etag.clone());
    headers.insert(header::LAST_MODIFIED, fh.last_modified.clone());
    if let Some(u) = &fh.urn {
        headers.insert(X_GNUTELLA_CONTENT_URN, u.clone());
    }
    headers
}

/// 503 when every upload slot is taken, with when to come back.
fn busy(ctx: &HttpContext) -> Response<Body> {
    ctx.stats.busy_refusals.fetch_add(1, Ordering::Relaxed);
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("all {} upload slots are busy\n", ctx.uploads.max()),
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(BUSY_RETRY_AFTER.as_secs()),
    );
    r
}

/// The status, body segments and body length of a satisfiable plan; sets the content
/// headers (type, and range for a single range).
fn body_plan(
    plan: RangePlan,
    fh: &FileHeaders,
    len: u64,
    headers: &mut HeaderMap,
) -> (StatusCode, Vec<Segment>, u64) {
    match plan {
        RangePlan::Full | RangePlan::Unsatisfiable => {
            headers.insert(header::CONTENT_TYPE, fh.content_type.clone());
            (StatusCode::OK, vec![Segment::File(0..len)], len)
        }
        RangePlan::Partial(ranges) if ranges.len() == 1 => {
            let r = ranges[0].clone();
            headers.insert(header::CONTENT_TYPE, fh.content_type.clone());
            put(
                headers,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{len}", r.start, r.end - 1),
            );
            let n = r.end - r.start;
            (StatusCode::PARTIAL_CONTENT, vec![Segment::File(r)], n)
        }
        RangePlan::Partial(ranges) => {
            let boundary = boundary();
            put(
                headers,
                header::CONTENT_TYPE,
                &format!("multipart/byteranges; boundary={boundary}"),
            );
            let ct = fh
                .content_type
                .to_str()
                .unwrap_or("application/octet-stream");
            let (segments, n) = multipart(&ranges, len, ct, &boundary);
            (StatusCode::PARTIAL_CONTENT, segments, n)
        }
    }
}

/// Reads one small range with one positioned read, once the upload limit lets it go:
/// inline when the page cache has it, else on the blocking pool.
pub(super) async fn read_small(
    handle: &Arc<File>,
    r: Range<u64>,
    rate: &RateLimit,
) -> io::Result<Bytes> {
    rate.take(r.end - r.start).await;
    let n = (r.end - r.start) as usize;
    let start = r.start;
    match disk::read_cached(handle, start, n) {
        Ok(Cached::Data(b)) if b.len() == n => Ok(b),
        Ok(_) => {
            let h = Arc::clone(handle);
            rt::spawn_blocking(move || disk::read_blocking(&h, start, n)).await
        }
        Err(e) => Err(e),
    }
}

/// Header naming the SHA-1 of the file served (HUGE).
const X_GNUTELLA_CONTENT_URN: HeaderName = HeaderName::from_static("x-gnutella-content-urn");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_agrees("Beatles%20-%20Help.mp3", "Beatles - Help.mp3"));
        assert!(name_agrees("Beatles+-+Help.mp3", "Beatles - Help.mp3"));
        assert!(name_agrees("100%.txt", "100%.txt"));
        assert!(!name_agrees("..%2F..%2Fetc%2Fpasswd", "a.txt"));
        assert!(!name_agrees("a%252Etxt", "a.txt"), "decoded once only");
    }
}
