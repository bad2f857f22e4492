//! The per-source fetch loop: one task per source, one keep-alive connection, asking the
//! scheduler for a chunk, sending the ranged `GET`, checking the answer and reading the
//! body (reporting each frame, giving up when the scheduler says it stalled or is no
//! longer needed), then handing the bytes over to be written.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_RANGE, RETRY_AFTER};
use hyper::{Method, Response, StatusCode};

use crate::http::client::Connection;
use crate::rt;

use super::sched::{SourceId, Transfer};
use super::shared::{Next, Shared};
use super::source::{open, request, FetchError};
use super::{DownloadOptions, MAX_RETRY_AFTER};

/// Runs source `id` until the scheduler stops it (file complete, or source dropped).
pub(super) async fn worker(shared: &Arc<Shared>, id: SourceId, mut conn: Option<Connection>) {
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
        match fetch(shared, id, &mut conn, &range).await {
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
    range: &Range<u64>,
) -> Result<Option<Bytes>, FetchError> {
    let opts = &shared.options;
    let ep = shared.endpoint(id);
    let c = match conn {
        Some(c) if c.is_open() => c,
        _ => conn.insert(open(&ep.url, ep.addr, ep.push, opts).await?.1),
    };
    let resp = c
        .send(
            request(Method::GET, &ep.url, Some(range)),
            opts.stall_timeout,
        )
        .await?;
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

/// What a ranged `GET` was answered with: the range the body holds. A `206` may serve
/// less than asked (RFC 9110 §14.4; gtk-gnutella caps a request to 512 KiB) as long as it
/// starts where asked and lies inside the range; `200` only for a whole-file request; a
/// `503` is busy with its `Retry-After` (capped).
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
        StatusCode::SERVICE_UNAVAILABLE => {
            let after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map_or(opts.retry_backoff, Duration::from_secs);
            Err(FetchError::Busy(after.min(MAX_RETRY_AFTER)))
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
    use super::parse_content_range;

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
