//! The body of a shared file's answer: its segments (file ranges, multipart part
//! headers) read from disk in bounded chunks, one chunk in flight on the blocking pool,
//! each chunk let go by the upload limit ([`super::rate`]) first.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use super::disk::{self, Cached};
use super::rate::RateLimit;
use super::uploads::SlotGuard;
use crate::rt::{self, JoinHandle};

/// Size of each read while streaming a body: large enough that per-read costs (a
/// syscall, a buffer, a wake-up when the socket drains) are noise, small enough that an
/// upload holds little memory.
pub(super) const STREAM_CHUNK: u64 = 512 * 1024;

/// A multipart/byteranges boundary: unpredictable enough never to occur in a file by
/// chance (64 bits from the clock and a counter, mixed).
pub(super) fn boundary() -> String {
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
pub(super) fn multipart(
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

/// A piece of a body: bytes we made (multipart part headers) or a range of the file.
pub(super) enum Segment {
    Bytes(Bytes),
    File(Range<u64>),
}

/// A response body read from a file in chunks on the blocking pool, one chunk in flight.
pub(super) struct FileBody {
    file: Arc<File>,
    segments: VecDeque<Segment>,
    reading: Option<JoinHandle<io::Result<Bytes>>>,
    remaining: u64,
    served: Arc<AtomicU64>,
    _slot: Option<SlotGuard>,
    /// The upload limit, the bytes it let go that are not read yet, and the wait for it.
    rate: Option<Arc<RateLimit>>,
    granted: u64,
    pacing: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
}

impl FileBody {
    /// The body of `segments` of `file` (`len` bytes in all), counting what it sends in
    /// `served`, holding `slot` until it is sent or dropped.
    pub(super) fn new(
        file: Arc<File>,
        segments: Vec<Segment>,
        len: u64,
        served: Arc<AtomicU64>,
        slot: Option<SlotGuard>,
    ) -> FileBody {
        FileBody {
            file,
            segments: segments.into(),
            reading: None,
            remaining: len,
            served,
            _slot: slot,
            rate: None,
            granted: 0,
            pacing: None,
        }
    }

    /// The same body, each chunk let go by `rate` first.
    pub(super) fn paced(mut self, rate: Arc<RateLimit>) -> FileBody {
        self.rate = Some(rate);
        self
    }

    /// How much of a chunk of at most `n` bytes may be read now: all when unpaced; else
    /// what the limit let go, once its wait is over (`None`: still waiting).
    fn grant(&mut self, cx: &mut Context<'_>, n: u64) -> Option<u64> {
        let Some(rate) = &self.rate else {
            return Some(n);
        };
        if self.granted == 0 {
            let want = rate.piece(n);
            let wait = rate.reserve(want);
            self.granted = want;
            if !wait.is_zero() {
                self.pacing = Some(Box::pin(rt::sleep(wait)));
            }
        }
        if let Some(p) = &mut self.pacing {
            if p.as_mut().poll(cx).is_pending() {
                return None;
            }
            self.pacing = None;
        }
        let n = n.min(self.granted);
        self.granted -= n;
        Some(n)
    }
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
                    let Some(n) = this.grant(cx, (r.end - r.start).min(STREAM_CHUNK)) else {
                        this.segments.push_front(Segment::File(r));
                        return Poll::Pending;
                    };
                    let n = n as usize;
                    let start = r.start;
                    match disk::read_cached(&this.file, start, n) {
                        Ok(Cached::Data(b)) => {
                            let got = b.len() as u64;
                            if this.rate.is_some() {
                                // Only a cached prefix: the rest of the grant stays.
                                this.granted += n as u64 - got;
                            }
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
