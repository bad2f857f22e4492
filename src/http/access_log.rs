//! The access log: one line per HTTP request at info level (target
//! [`ACCESS_LOG_TARGET`]) once its answer is sent: client address, method, path, status,
//! body bytes sent and duration, as web servers log them. [`Logged`] writes the line for an
//! answer hyper sends (when hyper drops its body); the fast path calls [`line`] itself.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use super::response::Body;

/// The log target of access lines (`RUST_LOG=servent::http::access=off` silences them).
pub const ACCESS_LOG_TARGET: &str = "servent::http::access";

/// Longest request target written as it is (bytes): a longer one is cut, so a hostile
/// client cannot make each line 64 KiB.
const MAX_LOGGED_TARGET: usize = 512;

/// Whether requests are logged: the context asks for it and the logger takes info lines
/// of [`ACCESS_LOG_TARGET`] (checked per request: nothing is built for a line not logged).
pub(super) fn enabled(ctx_wants: bool) -> bool {
    ctx_wants && log::log_enabled!(target: ACCESS_LOG_TARGET, log::Level::Info)
}

/// What is known of a request when it arrives.
pub(super) struct Request {
    pub peer: SocketAddr,
    pub method: String,
    pub target: String,
    pub started: Instant,
}

impl Request {
    /// A request from `peer` for `target` (path and query), arriving now.
    pub(super) fn new(peer: SocketAddr, method: &str, target: &str) -> Request {
        Request {
            peer,
            method: method.to_owned(),
            target: target.to_owned(),
            started: Instant::now(),
        }
    }
}

/// Writes the line of `req`, answered with `status` and `bytes` of body.
pub(super) fn line(req: &Request, status: u16, bytes: u64) {
    if !log::log_enabled!(target: ACCESS_LOG_TARGET, log::Level::Info) {
        return;
    }
    let mut target: String = req
        .target
        .chars()
        .flat_map(char::escape_default)
        .take(MAX_LOGGED_TARGET)
        .collect();
    if target.len() >= MAX_LOGGED_TARGET {
        target.push_str("...");
    }
    let ms = req.started.elapsed().as_secs_f64() * 1000.0;
    log::info!(
        target: ACCESS_LOG_TARGET,
        "{} \"{} {}\" {} {} {:.1}ms",
        req.peer,
        req.method.escape_default(),
        target,
        status,
        bytes,
        ms
    );
}

/// An answer's body that counts the bytes hyper takes from it and logs the request's line
/// when hyper drops it (after its last byte, or when the client went away).
pub(super) struct Logged {
    inner: Body,
    req: Request,
    status: u16,
    bytes: u64,
}

impl Logged {
    pub(super) fn new(inner: Body, req: Request, status: u16) -> Logged {
        Logged {
            inner,
            req,
            status,
            bytes: 0,
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        line(&self.req, self.status, self.bytes);
    }
}

impl hyper::body::Body for Logged {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &poll {
            if let Some(d) = f.data_ref() {
                this.bytes += d.len() as u64;
            }
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
