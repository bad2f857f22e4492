//! The per-source fetch loop: one task per source, one keep-alive connection, asking the
//! scheduler for a chunk, sending the ranged `GET`, checking the answer and reading the
//! body (reporting each frame, giving up when the scheduler says it stalled or is no
//! longer needed), then handing the bytes over to be written.
//!
//! Each request carries the mesh (`X-Alt` of the sources that served us, `X-Nalt` of the
//! ones dropped) and, when the source queued us (PARQ), our `X-Queued` ID; each answer's
//! `X-Alt` brings new sources and its `X-Available-Ranges` what a partial source holds.
//! A `503` is busy or queued, never a failure: its `Retry-After`, LimeWire's
//! `X-Queue: ...pollMin=` or PARQ's `X-Queued: ...retry=` says when to ask again.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_RANGE, RETRY_AFTER};
use hyper::{Method, Response, StatusCode};

use crate::http::alt::{format_alt_list, header_alts, X_ALT, X_NALT};
use crate::http::client::Connection;
use crate::http::partial::{parse_available_ranges, X_AVAILABLE_RANGES};
use crate::rt;

use super::sched::{SourceId, Transfer};
use super::shared::{Next, Shared};
use super::source::{open, request, FetchError};
use super::{DownloadOptions, MAX_RETRY_AFTER};

/// Runs source `id` until the scheduler stops it (file complete, or source dropped).
pub(super) async fn worker(shared: &Arc<Shared>, id: SourceId, mut conn: Option<Connection>) {
    let mut queue_id = None;
    loop {
        let range = match shared.next_job(id) {
            Next::Stop => return,
            Next::Wait(rx) => {
                let _ = rx.await;
                continue;
            }
            Next::Pause(p) => {
                rt::sleep(p).await;
                continue;
            }
            Next::Fetch(r) => r,
        };
        match fetch(shared, id, &mut conn, &mut queue_id, &range).await {
            Ok(Some(data)) => shared.commit(id, range, data).await,
            Ok(None) => shared.abandon(id, &range),
            Err(e) => {
                conn = None;
                shared.fail(id, &range, &e);
            }
        }
    }
}

/// Fetches one chunk. `Ok(None)`: abandoned because another source delivered it.
async fn fetch(
    shared: &Shared,
    id: SourceId,
    conn: &mut Option<Connection>,
    queue_id: &mut Option<String>,
    range: &Range<u64>,
) -> Result<Option<Bytes>, FetchError> {
    let opts = &shared.options;
    let ep = shared.endpoint(id);
    let c = match conn {
        Some(c) if c.is_open() => c,
        _ => conn.insert(open(&ep.url, ep.addr, ep.push, opts).await?.1),
    };
    let mut req = request(Method::GET, &ep.url, Some(range));
    mesh_headers(shared, id, queue_id.as_deref(), req.headers_mut());
    let resp = c.send(req, opts.stall_timeout).await?;
    read_mesh(shared, id, resp.headers(), queue_id);
    let served = check_answer(&resp, range, shared.size, opts)?;
    if served != *range {
        log::debug!(
            "{}: served {}-{} of {}-{} (the rest is asked again)",
            ep.url,
            served.start,
            served.end,
            range.start,
            range.end
        );
    }
    // The head is progress; whether the chunk is still needed is asked after each frame.
    let _ = shared.progress(id, range, None);
    let want = served.end - served.start;
    let mut body = resp.into_body();
    let mut buf = BytesMut::with_capacity(want as usize);
    loop {
        let Some(wait) = shared.stall_wait(id, range) else {
            *conn = None;
            return Ok(None);
        };
        let frame = match rt::timeout(wait, body.frame()).await {
            Err(_) => return Err(FetchError::Stalled(opts.stall_timeout)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(FetchError::Body(e)),
            Ok(Some(Ok(f))) => f,
        };
        let mut buffered = None;
        if let Some(d) = frame.data_ref() {
            let got = buf.len() as u64 + d.len() as u64;
            if got > want {
                return Err(FetchError::Length { got, want });
            }
            buf.extend_from_slice(d);
            crate::http::rate::download().take(d.len() as u64).await;
            buffered = Some(got);
        }
        if shared.progress(id, range, buffered) == Transfer::Abandon {
            *conn = None;
            return Ok(None);
        }
    }
    if buf.len() as u64 != want {
        return Err(FetchError::Length {
            got: buf.len() as u64,
            want,
        });
    }
    Ok(Some(buf.freeze()))
}

/// PARQ's header: our place in a source's queue (`position=2; ID=...; retry=...`).
const X_QUEUED: HeaderName = HeaderName::from_static("x-queued");
/// LimeWire's queue header (`position=2,length=5,limit=4,pollMin=45,pollMax=120`).
const X_QUEUE: HeaderName = HeaderName::from_static("x-queue");
/// Longest PARQ ID kept and sent back (gtk-gnutella's are 32 hex digits).
const MAX_QUEUE_ID_LEN: usize = 64;
/// Longest poll interval honoured from a queue (`X-Queue` `pollMin`, `X-Queued` `retry`):
/// a queue drops a place not polled within its lifetime (PARQ: minutes), so we come back
/// when told, up to this.
const MAX_QUEUE_POLL: Duration = Duration::from_secs(300);
/// What our requests say of queueing: PARQ 1.0 understood (gtk-gnutella keeps our place
/// and finds it again by the `X-Queued` ID we send back).
const QUEUE_VERSION: HeaderValue = HeaderValue::from_static("1.0");

/// Adds what a request to `id` tells: the mesh and our queue ID.
fn mesh_headers(shared: &Shared, id: SourceId, queue_id: Option<&str>, h: &mut HeaderMap) {
    let (good, bad) = shared.mesh_for(id);
    for (name, list) in [(X_ALT, good), (X_NALT, bad)] {
        if let (false, Ok(v)) = (
            list.is_empty(),
            HeaderValue::from_str(&format_alt_list(&list)),
        ) {
            h.insert(name, v);
        }
    }
    h.insert(X_QUEUE, QUEUE_VERSION);
    if let Some(v) = queue_id.and_then(|q| HeaderValue::from_str(&format!("ID={q}")).ok()) {
        h.insert(X_QUEUED, v);
    }
}

/// Takes what an answer tells besides the body: sources (`X-Alt`), what the source holds
/// (`X-Available-Ranges`), our queue ID.
fn read_mesh(shared: &Shared, id: SourceId, h: &HeaderMap, queue_id: &mut Option<String>) {
    let alts = header_alts(h, &X_ALT);
    if !alts.is_empty() {
        shared.learn(&alts);
    }
    let ranges = h.get(X_AVAILABLE_RANGES).and_then(|v| v.to_str().ok());
    if let Some(set) = ranges.and_then(|v| parse_available_ranges(v, shared.size)) {
        shared.set_available(id, set);
    }
    if let Some(q) = h.get(X_QUEUED).and_then(|v| v.to_str().ok()) {
        if let Some(qid) = queue_param(q, "id").filter(|s| s.len() <= MAX_QUEUE_ID_LEN) {
            *queue_id = Some(qid.to_owned());
        }
    }
}

/// The value of `key` (any case) in a `k=v` list separated by `,` or `;`.
fn queue_param<'a>(value: &'a str, key: &str) -> Option<&'a str> {
    value.split([',', ';']).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}

/// How long a `503` asks us to wait: a queue's poll interval (`X-Queue` `pollMin`,
/// `X-Queued` `retry`, or `Retry-After` if longer) up to [`MAX_QUEUE_POLL`]; else its
/// `Retry-After` up to [`MAX_RETRY_AFTER`]; else our backoff, never less.
fn busy_wait(h: &HeaderMap, opts: &DownloadOptions) -> Duration {
    let header = |n: &HeaderName| h.get(n).and_then(|v| v.to_str().ok());
    let secs = |v: &str| v.trim().parse::<u64>().ok().map(Duration::from_secs);
    let after = header(&RETRY_AFTER).and_then(secs);
    let poll = header(&X_QUEUE)
        .and_then(|q| queue_param(q, "pollmin").and_then(secs))
        .or_else(|| header(&X_QUEUED).and_then(|q| queue_param(q, "retry").and_then(secs)));
    let wait = match (poll, after) {
        (Some(p), a) => p.max(a.unwrap_or_default()).min(MAX_QUEUE_POLL),
        (None, Some(a)) => a.min(MAX_RETRY_AFTER),
        (None, None) => opts.retry_backoff,
    };
    wait.max(opts.retry_backoff)
}

/// What a ranged `GET` was answered with: the range the body holds. A `206` may serve
/// less than asked (RFC 9110 §14.4; gtk-gnutella caps a request to 512 KiB) as long as it
/// starts where asked and lies inside the range; `200` only for a whole-file request; a
/// `503` is busy ([`busy_wait`]); a `416` with `X-Available-Ranges` is a partial source
/// lacking the range (what it holds is already noted).
fn check_answer(
    resp: &Response<Incoming>,
    range: &Range<u64>,
    size: u64,
    opts: &DownloadOptions,
) -> Result<Range<u64>, FetchError> {
    match resp.status() {
        StatusCode::PARTIAL_CONTENT => {
            let cr = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match parse_content_range(cr) {
                Some((served, total))
                    if total == size && served.start == range.start && served.end <= range.end =>
                {
                    Ok(served)
                }
                _ => Err(FetchError::BadRange(cr.to_owned())),
            }
        }
        StatusCode::OK if range.start == 0 && range.end == size => Ok(range.clone()),
        StatusCode::OK => Err(FetchError::BadRange("200 without Content-Range".into())),
        StatusCode::SERVICE_UNAVAILABLE => Err(FetchError::Busy(busy_wait(resp.headers(), opts))),
        StatusCode::RANGE_NOT_SATISFIABLE if resp.headers().contains_key(X_AVAILABLE_RANGES) => {
            Err(FetchError::Unavailable)
        }
        s => Err(FetchError::Status(s)),
    }
}

/// `bytes FIRST-LAST/TOTAL` as the served range `FIRST..LAST+1` and the total; `None`
/// for anything else (a `*` total, a last before the first, an overflow).
fn parse_content_range(v: &str) -> Option<(Range<u64>, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    let total: u64 = total.trim().parse().ok()?;
    if last < first || last >= total {
        return None;
    }
    Some((first..last + 1, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_waits_from_retry_after_and_queues() {
        let opts = DownloadOptions::default();
        let wait = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            busy_wait(&h, &opts)
        };
        assert_eq!(wait(&[("retry-after", "7")]), Duration::from_secs(7));
        assert_eq!(
            wait(&[(
                "x-queue",
                "position=2,length=5,limit=4,pollMin=45,pollMax=120"
            )]),
            Duration::from_secs(45)
        );
        assert_eq!(
            wait(&[(
                "x-queued",
                "position=3; ID=abc; length=9; retry=20; lifetime=300"
            )]),
            Duration::from_secs(20)
        );
        assert_eq!(
            wait(&[("x-queued", "retry=200"), ("retry-after", "90")]),
            Duration::from_secs(200),
            "a queue's poll is honoured past MAX_RETRY_AFTER"
        );
        assert_eq!(wait(&[("x-queue", "pollMin=9000")]), MAX_QUEUE_POLL);
        assert_eq!(wait(&[("retry-after", "86400")]), MAX_RETRY_AFTER);
        assert_eq!(wait(&[("retry-after", "0")]), opts.retry_backoff);
        assert_eq!(wait(&[("x-queue", "pollMin=junk")]), opts.retry_backoff);
        assert_eq!(
            queue_param("position=3; ID=0123abcd; retry=20", "id"),
            Some("0123abcd")
        );
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-524287/3145728"),
            Some((0..524_288, 3_145_728))
        );
        assert_eq!(parse_content_range("bytes 5-5/6"), Some((5..6, 6)));
        for bad in [
            "",
            "bytes */6",
            "bytes 5-4/6",
            "bytes 0-6/6",
            "bytes 0-1",
            "items 0-1/2",
            "bytes 0-18446744073709551615/18446744073709551615",
            "bytes -1-2/3",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
