//! The per-source fetch loop: one task per source, one keep-alive connection, asking the
//! scheduler for a chunk, sending the ranged `GET`, checking the answer and reading the
//! body (reporting each frame, giving up when the scheduler says it stalled or is no
//! longer needed), then handing the bytes over to be written.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{CONTENT_RANGE, HOST, RANGE, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};

use crate::http::client::{ClientError, Connection, HttpUrl};
use crate::rt;

use super::run::{Next, Shared};
use super::sched::{Failure, SourceId, Transfer};
use super::{DownloadOptions, MAX_RETRY_AFTER, USER_AGENT_VALUE};

/// Where a source is.
pub(super) struct Endpoint {
    pub url: HttpUrl,
    /// The URL as given (names the source in reports and the sidecar).
    pub label: String,
    pub addr: Option<SocketAddr>,
}

/// Why one chunk from one source failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("busy (503), retry after {0:?}")]
    Busy(Duration),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("bad Content-Range {0:?} for the range asked")]
    BadRange(String),
    #[error("no data for {0:?}: stalled")]
    Stalled(Duration),
    #[error("body error: {0}")]
    Body(hyper::Error),
    #[error("sent {got} bytes for a {want}-byte range")]
    Length { got: u64, want: u64 },
}

impl FetchError {
    /// What the scheduler needs to know of it.
    pub fn failure(&self) -> Failure {
        match self {
            FetchError::Busy(after) => Failure::Busy {
                retry_after: *after,
            },
            _ => Failure::Error,
        }
    }
}

/// A request with our `Host`, `User-Agent` and, for a chunk, `Range` headers.
pub(super) fn request(
    method: Method,
    url: &HttpUrl,
    range: Option<&Range<u64>>,
) -> Request<Empty<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(url.path.as_str())
        .header(HOST, url.authority())
        .header(USER_AGENT, USER_AGENT_VALUE);
    if let Some(r) = range {
        b = b.header(RANGE, format!("bytes={}-{}", r.start, r.end - 1));
    }
    b.body(Empty::new())
        .unwrap_or_else(|_| Request::new(Empty::new()))
}

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
        _ => {
            let addr = match ep.addr {
                Some(a) => a,
                None => ep.url.resolve().await?,
            };
            conn.insert(Connection::open(addr, opts.connect_timeout).await?)
        }
    };
    let resp = c
        .send(
            request(Method::GET, &ep.url, Some(range)),
            opts.stall_timeout,
        )
        .await?;
    check_answer(&resp, range, shared.size, opts)?;
    // The head is progress; whether the chunk is still needed is asked after each frame.
    let _ = shared.progress(id, range, None);
    let want = range.end - range.start;
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

/// The answer to a ranged `GET` must be the exact range asked (or the whole file when
/// that was asked); a `503` is busy with its `Retry-After` (capped).
fn check_answer(
    resp: &Response<Incoming>,
    range: &Range<u64>,
    size: u64,
    opts: &DownloadOptions,
) -> Result<(), FetchError> {
    match resp.status() {
        StatusCode::PARTIAL_CONTENT => {
            let cr = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let expect = format!("bytes {}-{}/{}", range.start, range.end - 1, size);
            if cr != expect {
                return Err(FetchError::BadRange(cr.to_owned()));
            }
            Ok(())
        }
        StatusCode::OK if range.start == 0 && range.end == size => Ok(()),
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
