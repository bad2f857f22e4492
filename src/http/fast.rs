//! The fast path of an HTTP connection: plain `GET`/`HEAD` requests for shared files
//! (`/get/...`, `/uri-res/N2R?...`) are parsed here (httparse) and answered by writing
//! the head and body ourselves: a small body in the same write as its head, a large one
//! with `sendfile` ([`super::sendfile`]), then the next request on the same connection.
//! Anything else (another path or method, HTTP/1.0, a request body, `Expect`, `Upgrade`,
//! a head that does not parse or is over [`MAX_FAST_HEAD`]) is handed to hyper with every
//! byte read so far, and hyper serves the connection from there on, as it did every
//! connection before. The answers are the file routes' own ([`super::files`]); deadlines
//! are the connection's ([`super::deadline`]), since every read and write goes through
//! its [`DeadlineIo`].

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::BodyExt;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};

use super::access_log;
use super::answer::{Answer, FileAnswer};
use super::body::Segment;
use super::context::HttpContext;
use super::deadline::{DeadlineIo, Watch};
use super::ended::HttpEnd;
use super::files::{self, INLINE_READ_MAX};
use super::open_files::http_date;
use super::response::Body;
use super::sendfile;
use crate::rt::TcpStream;

/// Longest request head the fast path reads (bytes); a longer one goes to hyper, which
/// applies its own limits (414, 431).
pub(super) const MAX_FAST_HEAD: usize = 8 * 1024;
/// Most header lines the fast path parses; a request with more goes to hyper.
const MAX_FAST_HEADERS: usize = 48;
/// Bytes read at a time while a head arrives.
const READ_STEP: usize = 4 * 1024;

/// How the fast path left a connection.
pub(super) enum Fast {
    /// It is over (not counted yet).
    Ended(HttpEnd),
    /// hyper serves it from here: these bytes were read and not answered.
    Handoff(Vec<u8>),
}

/// A request the fast path answers.
struct FastRequest {
    req: Request<()>,
    /// `Connection: close`: the connection ends after the answer.
    close: bool,
}

/// Serves the connection's requests while they are plain file requests; `buf` holds
/// bytes already read.
pub(super) async fn serve(
    io: &mut DeadlineIo<TcpStream>,
    mut buf: Vec<u8>,
    peer: SocketAddr,
    ctx: &Arc<HttpContext>,
    watch: &Watch,
) -> Fast {
    loop {
        let next = match read_request(io, &mut buf).await {
            Ok(n) => n,
            // Cut by a deadline: hyper's read meets the same cut and ends it as before.
            Err(_) if watch.cut().is_some() => return Fast::Handoff(buf),
            Err(_) => return Fast::Ended(HttpEnd::Reset),
        };
        let Some(FastRequest { req, close }) = next else {
            return Fast::Handoff(buf);
        };
        watch.request_started();
        let result = answer(io, ctx, peer, req, close).await;
        watch.response_done();
        match result {
            Ok(()) if !close => continue,
            Ok(()) => {
                let _ = io.close().await;
                return Fast::Ended(HttpEnd::Completed);
            }
            Err(e) => {
                log::debug!("http connection from {peer}: {e}");
                return Fast::Ended(watch.cut().unwrap_or(HttpEnd::Reset));
            }
        }
    }
}

/// Reads until `buf` starts with a whole head the fast path serves (removed from `buf`),
/// or one it leaves to hyper (kept: `None`), or the client closed (`None`).
async fn read_request(
    io: &mut DeadlineIo<TcpStream>,
    buf: &mut Vec<u8>,
) -> io::Result<Option<FastRequest>> {
    loop {
        if !buf.is_empty() {
            match parse(buf) {
                Parsed::Request(r, len) => {
                    buf.drain(..len);
                    return Ok(Some(r));
                }
                Parsed::Partial if buf.len() < MAX_FAST_HEAD => {}
                Parsed::Partial | Parsed::NotOurs => return Ok(None),
            }
        }
        let old = buf.len();
        buf.resize(old + READ_STEP, 0);
        let n = io.read(&mut buf[old..]).await;
        buf.truncate(old + *n.as_ref().unwrap_or(&0));
        if n? == 0 {
            return Ok(None);
        }
    }
}

/// What the bytes of a head say (the request is moved out at once: its size is fine).
#[allow(clippy::large_enum_variant)]
enum Parsed {
    Request(FastRequest, usize),
    Partial,
    NotOurs,
}

/// Parses the head at the start of `buf`, if it is whole and one the fast path serves.
fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_FAST_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let len = match head.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::NotOurs,
    };
    let method = match head.method {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        _ => return Parsed::NotOurs,
    };
    let (Some(1), Some(path)) = (head.version, head.path) else {
        return Parsed::NotOurs;
    };
    if !is_file_route(path) {
        return Parsed::NotOurs;
    }
    let Ok(uri) = path.parse::<Uri>() else {
        return Parsed::NotOurs;
    };
    let mut map = HeaderMap::with_capacity(head.headers.len());
    let mut close = false;
    for h in head.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Parsed::NotOurs;
        };
        match name {
            header::TRANSFER_ENCODING | header::EXPECT | header::UPGRADE => return Parsed::NotOurs,
            header::CONTENT_LENGTH if value.as_bytes() != b"0" => return Parsed::NotOurs,
            header::CONNECTION => {
                let v = value.to_str().unwrap_or("");
                if v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
                {
                    return Parsed::NotOurs;
                }
                close |= v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
            }
            _ => {}
        }
        map.append(name, value);
    }
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = map;
    Parsed::Request(FastRequest { req, close }, len)
}

/// Whether a request target (origin form) names a shared file's route.
fn is_file_route(path: &str) -> bool {
    path.starts_with("/get/")
        || path
            .strip_prefix("/uri-res/N2R")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
}

/// Answers one request: the file route's answer, written, and its access log line.
async fn answer(
    io: &mut DeadlineIo<TcpStream>,
    ctx: &Arc<HttpContext>,
    peer: SocketAddr,
    req: Request<()>,
    close: bool,
) -> io::Result<()> {
    ctx.stats.requests.fetch_add(1, Ordering::Relaxed);
    let line = access_log::enabled(ctx.access_log).then(|| {
        let target = req.uri().path_and_query().map_or("", |p| p.as_str());
        access_log::Request::new(peer, req.method().as_str(), target)
    });
    let head_only = req.method() == Method::HEAD;
    let answer = if req.uri().path().starts_with("/get/") {
        files::get_by_index(ctx, &req).await
    } else {
        files::get_by_urn(ctx, &req).await
    };
    let mut sent = 0u64;
    let (status, result) = match answer {
        Answer::Done(r) => {
            let status = r.status();
            (
                status,
                write_done(io, ctx, r, head_only, close, &mut sent).await,
            )
        }
        Answer::File(f) => {
            let status = f.status;
            (status, write_file(io, ctx, f, close, &mut sent).await)
        }
    };
    if let Some(line) = &line {
        access_log::line(line, status.as_u16(), sent);
    }
    result
}

/// Writes a finished response (its body is in memory).
async fn write_done(
    io: &mut DeadlineIo<TcpStream>,
    ctx: &HttpContext,
    r: Response<Body>,
    head_only: bool,
    close: bool,
    sent: &mut u64,
) -> io::Result<()> {
    let (parts, body) = r.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut headers = parts.headers;
    if !headers.contains_key(header::CONTENT_LENGTH) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let mut out = vec![encode_head(parts.status, &headers, ctx, close)];
    let len = body.len() as u64;
    if !head_only && len > 0 {
        out.push(body);
    }
    write_all(io, &mut out).await?;
    if !head_only {
        *sent += len;
    }
    Ok(())
}

/// Writes a file's answer: the head with the small pieces of its body in one write, a
/// large range with `sendfile`.
async fn write_file(
    io: &mut DeadlineIo<TcpStream>,
    ctx: &HttpContext,
    f: FileAnswer,
    close: bool,
    sent: &mut u64,
) -> io::Result<()> {
    let FileAnswer {
        status,
        headers,
        handle,
        segments,
        slot,
        path,
        ..
    } = f;
    let mut out = vec![encode_head(status, &headers, ctx, close)];
    let mut pending = 0u64;
    for segment in segments {
        match segment {
            Segment::Bytes(b) => {
                pending += b.len() as u64;
                out.push(b);
            }
            Segment::File(r) if r.end - r.start <= INLINE_READ_MAX => {
                let b = files::read_small(&handle, r, &ctx.upload_rate)
                    .await
                    .inspect_err(|e| log::warn!("reading {}: {e}", path.display()))?;
                ctx.stats
                    .bytes_served
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
                pending += b.len() as u64;
                out.push(b);
            }
            Segment::File(r) => {
                write_all(io, &mut out).await?;
                *sent += std::mem::take(&mut pending);
                sendfile::send_range(io, ctx, &handle, r, sent).await?;
            }
        }
    }
    write_all(io, &mut out).await?;
    *sent += pending;
    drop(slot);
    Ok(())
}

/// Writes every buffer of `out` (one `writev` when the socket takes them all) and
/// empties it.
async fn write_all(io: &mut DeadlineIo<TcpStream>, out: &mut Vec<Bytes>) -> io::Result<()> {
    let mut first = 0;
    while first < out.len() {
        let slices: Vec<IoSlice<'_>> = out[first..].iter().map(|b| IoSlice::new(b)).collect();
        let mut n = io.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let len = out[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                let rest = out[first].slice(n..);
                out[first] = rest;
                n = 0;
            }
        }
    }
    out.clear();
    Ok(())
}

/// A response head as hyper writes it: status line, the headers (`Server` added), a
/// `Connection: close` when the connection ends after it, and `Date`.
fn encode_head(status: StatusCode, headers: &HeaderMap, ctx: &HttpContext, close: bool) -> Bytes {
    let mut h = Vec::with_capacity(320);
    h.extend_from_slice(b"HTTP/1.1 ");
    h.extend_from_slice(status.as_str().as_bytes());
    h.push(b' ');
    h.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    h.extend_from_slice(b"\r\n");
    let mut line = |name: &[u8], value: &[u8]| {
        h.extend_from_slice(name);
        h.extend_from_slice(b": ");
        h.extend_from_slice(value);
        h.extend_from_slice(b"\r\n");
    };
    for (name, value) in headers {
        line(name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(server) = ctx.server_header() {
        if !headers.contains_key(header::SERVER) {
            line(b"server", server.as_bytes());
        }
    }
    if close {
        line(b"connection", b"close");
    }
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |t| t.as_secs());
        if d.0 != secs || d.1.is_empty() {
            *d = (secs, http_date(now));
        }
        line(b"date", d.1.as_bytes());
    });
    h.extend_from_slice(b"\r\n");
    Bytes::from(h)
}

thread_local! {
    /// The `Date` of this second, formatted once per second per thread.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &[u8]) -> Option<(FastRequest, usize)> {
        match parse(raw) {
            Parsed::Request(r, n) => Some((r, n)),
            _ => None,
        }
    }

    #[test]
    fn plain_file_requests_are_ours() {
        let raw = b"GET /get/0/a%20b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\nGET ";
        let (r, n) = parsed(raw).unwrap();
        assert_eq!(n, raw.len() - 4);
        assert_eq!(r.req.uri().path(), "/get/0/a%20b.txt");
        assert_eq!(r.req.headers()["range"], "bytes=0-9");
        assert!(!r.close);
        let raw = b"HEAD /uri-res/N2R?urn:sha1:X HTTP/1.1\r\nConnection: close\r\n\r\n";
        let (r, _) = parsed(raw).unwrap();
        assert_eq!(r.req.method(), Method::HEAD);
        assert!(r.close);
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for raw in [
            &b"GET /status HTTP/1.1\r\n\r\n"[..],
            b"POST /get/0/a HTTP/1.1\r\n\r\n",
            b"GET /get/0/a HTTP/1.0\r\n\r\n",
            b"GET /get/0/a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /get/0/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /get/0/a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            b"GET /get/0/a HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n",
            b"GET /get/0/\xc3\xa9\xff HTTP/1.1\r\n\r\n",
            b"GET /get/0/a HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /uri-res/N2Rx HTTP/1.1\r\n\r\n",
            b"GET http://h/get/0/a HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Parsed::NotOurs),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("GET /get/0/a HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(parse(raw.as_bytes()), Parsed::NotOurs));
        assert!(matches!(
            parse(b"GET /get/0/a HTTP/1.1\r\nHo"),
            Parsed::Partial
        ));
    }

    #[test]
    fn heads_look_like_hypers() {
        let ctx = HttpContext::new("servent-test", String::new);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(5u64));
        let head = encode_head(StatusCode::PARTIAL_CONTENT, &h, &ctx, true);
        let text = std::str::from_utf8(&head).unwrap();
        assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\ncontent-length: 5\r\n"));
        assert!(text.contains("\r\nserver: servent-test\r\nconnection: close\r\ndate: "));
        assert!(text.ends_with(" GMT\r\n\r\n"));
    }
}
