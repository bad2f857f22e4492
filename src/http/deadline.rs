//! Deadlines of one HTTP connection: the whole request head within
//! [`HttpLimits::head_timeout`] of its first byte (one deadline, not per byte), and the
//! next request within [`HttpLimits::idle_timeout`] of the last answer. [`Watch`] holds
//! where the connection is; [`DeadlineIo`] cuts the socket when a deadline passes (or the
//! gate evicts the connection) and fails a write blocked for
//! [`HttpLimits::write_stall_timeout`] on a client that reads nothing; [`Tracked`] tells
//! the watch when an answer is done.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use futures::task::AtomicWaker;
use hyper::body::{Frame, SizeHint};

use super::ended::HttpEnd;
use super::limits::HttpLimits;
use super::response::Body;
use crate::rt;

/// Where a connection is between its requests.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Reading a request head whose first byte arrived then.
    Head(Instant),
    /// A request is being answered: no deadline of ours (the body has its own pace).
    Request,
    /// Waiting for the next request since the last answer ended then.
    Idle(Instant),
}

struct WatchState {
    phase: Phase,
    /// Why we cut the connection, once we did.
    cut: Option<HttpEnd>,
}

/// The phase of one connection, shared by its socket, its service and the gate.
pub struct Watch {
    state: Mutex<WatchState>,
    /// The connection's reader, woken when the gate evicts it.
    reader: AtomicWaker,
}

impl Watch {
    /// A connection whose first request head started arriving at `head_started`.
    pub fn new(head_started: Instant) -> Watch {
        Watch {
            state: Mutex::new(WatchState {
                phase: Phase::Head(head_started),
                cut: None,
            }),
            reader: AtomicWaker::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A whole head arrived: the service is answering it.
    pub fn request_started(&self) {
        self.lock().phase = Phase::Request;
    }

    /// The answer's body is done (sent or dropped): the idle timeout starts. The reader is
    /// woken to arm it (hyper may have left a read pending while answering).
    pub fn response_done(&self) {
        self.lock().phase = Phase::Idle(Instant::now());
        self.reader.wake();
    }

    /// Bytes came in at `now`: while idle they are the first of the next head.
    fn bytes_arrived(&self, now: Instant) {
        let mut st = self.lock();
        if let Phase::Idle(_) = st.phase {
            st.phase = Phase::Head(now);
        }
    }

    /// Since when the connection waits for a next request, if it does.
    pub fn idle_since(&self) -> Option<Instant> {
        match self.lock().phase {
            Phase::Idle(t) => Some(t),
            _ => None,
        }
    }

    /// Closes the connection at its next read (made now: its reader is woken).
    pub fn evict(&self) {
        self.cut_for(HttpEnd::EvictedIdle);
        self.reader.wake();
    }

    /// Records why we cut the connection (the first reason stays).
    pub(super) fn cut_for(&self, end: HttpEnd) {
        self.lock().cut.get_or_insert(end);
    }

    /// Why we cut the connection, if we did.
    pub fn cut(&self) -> Option<HttpEnd> {
        self.lock().cut
    }

    /// The deadline now in force and what passing it means; `Err` once cut.
    fn deadline(&self, limits: &HttpLimits) -> Result<Option<(Instant, HttpEnd)>, HttpEnd> {
        let st = self.lock();
        if let Some(end) = st.cut {
            return Err(end);
        }
        Ok(match st.phase {
            Phase::Head(t) => Some((t + limits.head_timeout, HttpEnd::HeadTimeout)),
            Phase::Request => None,
            Phase::Idle(t) => Some((t + limits.idle_timeout, HttpEnd::IdleTimeout)),
        })
    }
}

fn cut_error(end: HttpEnd) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, end.name())
}

/// A sleep armed for one deadline.
type Timer = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A socket whose reads fail once the connection's deadline passes.
pub(super) struct DeadlineIo<S> {
    inner: S,
    watch: Arc<Watch>,
    limits: HttpLimits,
    /// The timer armed for the deadline it was armed for.
    timer: Option<(Instant, Timer)>,
    /// Armed when a write found the socket full; disarmed by any write that goes through.
    stall: Option<Timer>,
}

impl<S> DeadlineIo<S> {
    pub(super) fn new(inner: S, watch: Arc<Watch>, limits: HttpLimits) -> Self {
        DeadlineIo {
            inner,
            watch,
            limits,
            timer: None,
            stall: None,
        }
    }

    /// What a write that returned `poll` means: progress disarms the stall timer; a
    /// blocked write arms it, and fails once it has been blocked the whole timeout.
    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stall = None;
            return poll;
        }
        let wait = self.limits.write_stall_timeout;
        let timer = self.stall.get_or_insert_with(|| Box::pin(rt::sleep(wait)));
        if timer.as_mut().poll(cx).is_ready() {
            self.stall = None;
            self.watch.cut_for(HttpEnd::WriteStalled);
            return Poll::Ready(Err(cut_error(HttpEnd::WriteStalled)));
        }
        Poll::Pending
    }

    /// The socket (for a write made on it directly: `sendfile`).
    pub(super) fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The connection's watch.
    pub(super) fn watch(&self) -> &Watch {
        &self.watch
    }

    /// Pending until the deadline in force passes; then the error to fail the read with.
    ///
    /// One timer serves many deadlines: a deadline that moved later (the next idle
    /// period, after each answer) keeps the armed timer, which on firing early is armed
    /// again for the deadline then in force. So a keep-alive connection does not make
    /// and drop a timer per request (each one a wake-up of the reactor).
    fn poll_deadline(&mut self, cx: &mut Context<'_>, now: Instant) -> Poll<io::Error> {
        self.watch.reader.register(cx.waker());
        let (at, end) = match self.watch.deadline(&self.limits) {
            Err(end) => return Poll::Ready(cut_error(end)),
            // No deadline while answering: an armed timer may stay (it only wakes us).
            Ok(None) => return Poll::Pending,
            Ok(Some(d)) => d,
        };
        if now >= at {
            self.watch.cut_for(end);
            return Poll::Ready(cut_error(end));
        }
        loop {
            if self.timer.as_ref().is_none_or(|t| t.0 > at) {
                let now = Instant::now();
                self.timer = Some((at, Box::pin(rt::sleep(at.saturating_duration_since(now)))));
            }
            match self.timer.as_mut().map(|t| t.1.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    self.timer = None;
                    if Instant::now() >= at {
                        self.watch.cut_for(end);
                        return Poll::Ready(cut_error(end));
                    }
                    // Armed for an earlier deadline: arm it for this one.
                }
                _ => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DeadlineIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let now = Instant::now();
        // Checked before reading too: a trickle of bytes never leaves the read pending.
        if let Poll::Ready(e) = this.poll_deadline(cx, now) {
            return Poll::Ready(Err(e));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.watch.bytes_arrived(now);
                }
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.after_write(cx, poll)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// An answer's body that tells the connection's [`Watch`] when it is done (dropped by
/// hyper after its last byte, or on error).
pub(super) struct Tracked {
    inner: Body,
    done: Arc<Watch>,
}

impl Tracked {
    pub(super) fn new(inner: Body, done: Arc<Watch>) -> Tracked {
        Tracked { inner, done }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.done.response_done();
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
