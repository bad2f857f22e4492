//! Serving shared files: `GET`/`HEAD` `/get/<index>/<name>` and `/uri-res/N2R?urn:sha1:`,
//! with ranges (single 206, several as 206 `multipart/byteranges`, 416 when
//! unsatisfiable), `If-Range` against our `ETag` or `Last-Modified`, upload slots (503 with
//! `Retry-After` when all are busy) and bodies read from disk in bounded chunks.
//!
//! A request only ever names a file index or a hash: the file served is looked up in the
//! library, whose paths come from the scan, so nothing in a request reaches the file
//! system. Small bodies (one range up to [`INLINE_READ_MAX`]) are read with one positioned
//! read on a kept-open handle, inline: a page-cache hit costs microseconds, less than a
//! hop to the blocking pool. Larger bodies stream in [`STREAM_CHUNK`] pieces, each read
//! on the blocking pool, so memory per upload stays at one chunk.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::future::Future;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;

use super::disk::{self, Cached};
use super::range::{self, RangePlan};
use super::server::{text, Body, HttpContext};
use crate::library::{hash, SharedFile};
use crate::rt::{self, JoinHandle};

/// Largest single-range body read inline on the executor thread (one `pread`).
pub const INLINE_READ_MAX: u64 = 64 * 1024;
/// Size of each read while streaming a body: large enough that per-read costs (a
/// syscall, a buffer, a wake-up when the socket drains) are noise, small enough that an
/// upload holds little memory.
pub const STREAM_CHUNK: u64 = 512 * 1024;
/// What a busy servent asks a downloader to wait before trying again.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Kept-open file handles (least recently used ones are closed first): a hot file is
/// served without an `open` per request, and the process never holds many descriptors.
pub const OPEN_FILES_MAX: usize = 64;

/// Upload slots: how many file bodies may be sent at once.
pub struct UploadSlots {
    max: usize,
    active: Arc<AtomicUsize>,
}

/// Holds one upload slot until dropped (when the body is sent or the client goes).
pub struct SlotGuard(Arc<AtomicUsize>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl UploadSlots {
    pub fn new(max: usize) -> UploadSlots {
        UploadSlots {
            max,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// A slot, or `None` when all are in use.
    pub fn try_acquire(&self) -> Option<SlotGuard> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| SlotGuard(Arc::clone(&self.active)))
    }
}

/// Counters of the HTTP side (shown in `/status`, read by tests).
#[derive(Default)]
pub struct HttpStats {
    pub requests: AtomicU64,
    /// Body bytes of shared files handed to the connection.
    pub bytes_served: Arc<AtomicU64>,
    pub busy_refusals: AtomicU64,
}

/// Response headers of one file, built once per open handle rather than per request.
pub struct FileHeaders {
    content_type: HeaderValue,
    etag: HeaderValue,
    last_modified: HeaderValue,
    urn: Option<HeaderValue>,
    validators: Validators,
}

impl FileHeaders {
    fn new(f: &SharedFile) -> FileHeaders {
        let v = validators(f);
        let hv = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
        FileHeaders {
            content_type: HeaderValue::from_static(content_type(&f.name)),
            etag: hv(&v.etag),
            last_modified: hv(&v.last_modified),
            urn: f.sha1_urn().map(|u| hv(&u)),
            validators: v,
        }
    }
}

/// A kept-open handle: the library entry it was checked against, the handle, its
/// headers, last use.
type OpenFile = (Arc<SharedFile>, Arc<File>, Arc<FileHeaders>, u64);

/// Kept-open handles of recently served files, checked against the library entry.
#[derive(Default)]
pub struct OpenFiles {
    map: Mutex<HashMap<u32, OpenFile>>,
    tick: AtomicU64,
}

impl OpenFiles {
    /// The open handle of `f` and its headers, opening (and checking) it if needed.
    pub fn get(&self, f: &Arc<SharedFile>) -> io::Result<(Arc<File>, Arc<FileHeaders>)> {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((shared, file, headers, used)) = map.get_mut(&f.index) {
            if Arc::ptr_eq(shared, f) {
                *used = tick;
                if headers.urn.is_none() && f.sha1().is_some() {
                    *headers = Arc::new(FileHeaders::new(f));
                }
                return Ok((Arc::clone(file), Arc::clone(headers)));
            }
        }
        let file = Arc::new(f.open_checked()?);
        if map.len() >= OPEN_FILES_MAX {
            if let Some(oldest) = map.iter().min_by_key(|(_, v)| v.3).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        let headers = Arc::new(FileHeaders::new(f));
        map.insert(
            f.index,
            (Arc::clone(f), Arc::clone(&file), Arc::clone(&headers), tick),
        );
        Ok((file, headers))
    }

    /// Closes every kept handle (after a rescan).
    pub fn clear(&self) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// `GET`/`HEAD /get/<index>/<name>`: the index and the name must agree.
pub async fn get_by_index(ctx: &HttpContext, req: &Request<Incoming>) -> Response<Body> {
    let Some(lib) = &ctx.library else {
        return text(
            StatusCode::NOT_FOUND,
            "this servent shares no files\n".into(),
        );
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
        return not_found();
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
pub async fn get_by_urn(ctx: &HttpContext, req: &Request<Incoming>) -> Response<Body> {
    let Some(lib) = &ctx.library else {
        return text(
            StatusCode::NOT_FOUND,
            "this servent shares no files\n".into(),
        );
    };
    let query = req.uri().query().unwrap_or("");
    let query = percent_decode_str(query).decode_utf8_lossy();
    let Some(digest) = hash::parse_urn(&query) else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected /uri-res/N2R?urn:sha1:<32 base32 characters>\n".into(),
        );
    };
    match lib.by_sha1(&digest) {
        Some(file) => serve(ctx, req, file).await,
        None => not_found(),
    }
}

fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "no such shared file\n".into())
}

/// Validators of a file: strong ETags we accept, the one we send, Last-Modified.
struct Validators {
    etag: String,
    accepted: Vec<String>,
    last_modified: String,
}

fn validators(f: &SharedFile) -> Validators {
    let secs = f
        .mtime
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stat_tag = format!("\"{secs:x}-{:x}\"", f.size);
    let mut accepted = vec![stat_tag.clone()];
    let etag = match f.sha1_urn() {
        Some(u) => {
            let t = format!("\"{u}\"");
            accepted.push(t.clone());
            t
        }
        None => stat_tag,
    };
    Validators {
        etag,
        accepted,
        last_modified: http_date(f.mtime),
    }
}

/// RFC 9110 §13.1.5: a strong entity-tag must match one of ours exactly; a date must
/// equal our Last-Modified; anything else (weak tags included) does not match.
fn if_range_matches(value: &str, v: &Validators) -> bool {
    let value = value.trim();
    if value.starts_with("W/") {
        return false;
    }
    if value.starts_with('"') {
        return v.accepted.iter().any(|t| t == value);
    }
    value == v.last_modified
}

/// Answers a request for one shared file.
async fn serve(
    ctx: &HttpContext,
    req: &Request<Incoming>,
    file: Arc<SharedFile>,
) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let len = file.size;
    let (handle, fh) = match ctx.open_files.get(&file) {
        Ok(h) => h,
        Err(e) => {
            log::info!("cannot serve {}: {e}", file.path.display());
            return text(
                StatusCode::NOT_FOUND,
                "the shared file changed or disappeared; it is back after a rescan\n".into(),
            );
        }
    };
    let range_header = req
        .headers()
        .get(header::RANGE)
        .and_then(|h| h.to_str().ok());
    let honour_range = match req.headers().get(header::IF_RANGE) {
        Some(ir) => ir
            .to_str()
            .is_ok_and(|s| if_range_matches(s, &fh.validators)),
        None => true,
    };
    let plan = if honour_range {
        range::plan(range_header, len)
    } else {
        RangePlan::Full
    };
    let mut headers = HeaderMap::with_capacity(10);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, fh.etag.clone());
    headers.insert(header::LAST_MODIFIED, fh.last_modified.clone());
    if let Some(u) = &fh.urn {
        headers.insert(X_GNUTELLA_CONTENT_URN, u.clone());
    }
    if let RangePlan::Unsatisfiable = plan {
        put(
            &mut headers,
            header::CONTENT_RANGE,
            &format!("bytes */{len}"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
        return respond(StatusCode::RANGE_NOT_SATISFIABLE, headers, empty());
    }
    let slot = if head {
        None
    } else {
        match ctx.uploads.try_acquire() {
            Some(s) => Some(s),
            None => {
                ctx.stats.busy_refusals.fetch_add(1, Ordering::Relaxed);
                let mut r = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("all {} upload slots are busy\n", ctx.uploads.max()),
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(BUSY_RETRY_AFTER.as_secs()),
                );
                return r;
            }
        }
    };
    let (status, segments, body_len) = match plan {
        RangePlan::Full | RangePlan::Unsatisfiable => {
            headers.insert(header::CONTENT_TYPE, fh.content_type.clone());
            (StatusCode::OK, vec![Segment::File(0..len)], len)
        }
        RangePlan::Partial(ranges) if ranges.len() == 1 => {
            let r = ranges[0].clone();
            headers.insert(header::CONTENT_TYPE, fh.content_type.clone());
            put(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{len}", r.start, r.end - 1),
            );
            let n = r.end - r.start;
            (StatusCode::PARTIAL_CONTENT, vec![Segment::File(r)], n)
        }
        RangePlan::Partial(ranges) => {
            let boundary = boundary();
            put(
                &mut headers,
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
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    if head {
        return respond(status, headers, empty());
    }
    // One small range: one positioned read, inline when cached.
    if let [Segment::File(r)] = segments.as_slice() {
        let n = (r.end - r.start) as usize;
        if n as u64 <= INLINE_READ_MAX {
            let start = r.start;
            let read = match disk::read_cached(&handle, start, n) {
                Ok(Cached::Data(b)) if b.len() == n => Ok(b),
                Ok(_) => {
                    let h = Arc::clone(&handle);
                    rt::spawn_blocking(move || disk::read_blocking(&h, start, n)).await
                }
                Err(e) => Err(e),
            };
            return match read {
                Ok(b) => {
                    ctx.stats
                        .bytes_served
                        .fetch_add(b.len() as u64, Ordering::Relaxed);
                    drop(slot);
                    respond(status, headers, full(b))
                }
                Err(e) => {
                    log::warn!("reading {}: {e}", file.path.display());
                    text(StatusCode::INTERNAL_SERVER_ERROR, "read error\n".into())
                }
            };
        }
    }
    let body = FileBody {
        file: handle,
        segments: segments.into(),
        reading: None,
        remaining: body_len,
        served: Arc::clone(&ctx.stats.bytes_served),
        _slot: slot,
    };
    respond(status, headers, body.boxed())
}

/// Header naming the SHA-1 of the file served (HUGE).
const X_GNUTELLA_CONTENT_URN: HeaderName = HeaderName::from_static("x-gnutella-content-urn");

fn put(h: &mut HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

fn empty() -> Body {
    full(Bytes::new())
}

fn full(b: Bytes) -> Body {
    http_body_util::Full::new(b)
        .map_err(|never| match never {})
        .boxed()
}

/// A multipart/byteranges boundary: unpredictable enough never to occur in a file by
/// chance (64 bits from the clock and a counter, mixed).
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("servent-{z:016x}")
}

/// Parts of a multipart/byteranges body and its exact length.
fn multipart(
    ranges: &[Range<u64>],
    len: u64,
    content_type: &str,
    boundary: &str,
) -> (Vec<Segment>, u64) {
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut total = 0u64;
    for r in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
            r.start,
            r.end - 1
        );
        total += head.len() as u64 + (r.end - r.start);
        segments.push(Segment::Bytes(Bytes::from(head)));
        segments.push(Segment::File(r.clone()));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    total += tail.len() as u64;
    segments.push(Segment::Bytes(Bytes::from(tail)));
    (segments, total)
}

enum Segment {
    Bytes(Bytes),
    File(Range<u64>),
}

/// A response body read from a file in chunks on the blocking pool, one chunk in flight.
struct FileBody {
    file: Arc<File>,
    segments: VecDeque<Segment>,
    reading: Option<JoinHandle<io::Result<Bytes>>>,
    remaining: u64,
    served: Arc<AtomicU64>,
    _slot: Option<SlotGuard>,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(reading) = &mut this.reading {
                let result = match Pin::new(reading).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                };
                this.reading = None;
                return Poll::Ready(Some(result.map(|b| {
                    this.remaining -= b.len() as u64;
                    this.served.fetch_add(b.len() as u64, Ordering::Relaxed);
                    Frame::data(b)
                })));
            }
            match this.segments.pop_front() {
                None => return Poll::Ready(None),
                Some(Segment::Bytes(b)) => {
                    this.remaining -= b.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Some(Segment::File(r)) if r.is_empty() => continue,
                Some(Segment::File(r)) => {
                    let n = (r.end - r.start).min(STREAM_CHUNK) as usize;
                    let start = r.start;
                    match disk::read_cached(&this.file, start, n) {
                        Ok(Cached::Data(b)) => {
                            let got = b.len() as u64;
                            if start + got < r.end {
                                this.segments.push_front(Segment::File(start + got..r.end));
                            }
                            this.remaining -= got;
                            this.served.fetch_add(got, Ordering::Relaxed);
                            return Poll::Ready(Some(Ok(Frame::data(b))));
                        }
                        Ok(Cached::WouldBlock) => {
                            if start + (n as u64) < r.end {
                                this.segments
                                    .push_front(Segment::File(start + n as u64..r.end));
                            }
                            let file = Arc::clone(&this.file);
                            this.reading = Some(rt::spawn_blocking(move || {
                                disk::read_blocking(&file, start, n)
                            }));
                        }
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && self.reading.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Content-Type from the file name's extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "mp4" | "m4v" => "video/mp4",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "mpg" | "mpeg" => "video/mpeg",
        "iso" => "application/x-iso9660-image",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "pdf" => "application/pdf",
        "epub" => "application/epub+zip",
        "json" => "application/json",
        "txt" | "md" | "nfo" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

/// Drains a request body we do not use (bounded), so keep-alive can go on.
pub async fn discard_body(body: Incoming, limit: usize) -> bool {
    let mut body = body;
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    seen += d.len();
                    if seen > limit {
                        return false;
                    }
                }
            }
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn names() {
        assert!(name_agrees("Beatles%20-%20Help.mp3", "Beatles - Help.mp3"));
        assert!(name_agrees("Beatles+-+Help.mp3", "Beatles - Help.mp3"));
        assert!(name_agrees("100%.txt", "100%.txt"));
        assert!(!name_agrees("..%2F..%2Fetc%2Fpasswd", "a.txt"));
        assert!(!name_agrees("a%252Etxt", "a.txt"), "decoded once only");
    }
}
