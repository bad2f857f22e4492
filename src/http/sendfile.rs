//! Sending a large range of a shared file on a connection. On Linux, `sendfile(2)` on the
//! blocking pool: the kernel copies from the page cache to the socket with no userspace
//! buffer, and between calls the thread waits for room with `poll(2)` on the socket (no
//! reactor round trip, no executor wake-up per megabyte, and a disk read never holds an
//! executor thread). The wait is bounded by the write-stall timeout, every piece is let
//! go by the upload limit first, and a connection dropped mid-transfer (the server
//! stopped) shuts its socket down so the thread stops too. Elsewhere, or on a file system
//! that cannot `sendfile`, chunks are read and written ([`copy_range`]).

use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::io::AsyncWriteExt;

use super::body::STREAM_CHUNK;
use super::context::HttpContext;
use super::deadline::DeadlineIo;
use super::disk::{self, Cached};
use super::rate::RateLimit;
use crate::rt::{self, TcpStream};

/// Sends `range` of `file` on `io`, adding the bytes sent to `sent` (also on error) and
/// to the served counter. A client that takes nothing for the write-stall timeout is cut
/// ([`HttpEnd::WriteStalled`]).
pub(super) async fn send_range(
    io: &mut DeadlineIo<TcpStream>,
    ctx: &HttpContext,
    file: &Arc<File>,
    range: Range<u64>,
    sent: &mut u64,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    let range = match linux::send_range(io, ctx, file, range, sent).await? {
        None => return Ok(()),
        Some(rest) => rest,
    };
    copy_range(
        io,
        file,
        range,
        &ctx.upload_rate,
        &ctx.stats.bytes_served,
        sent,
    )
    .await
}

/// The portable way: chunks read (inline when cached) and written.
async fn copy_range(
    io: &mut DeadlineIo<TcpStream>,
    file: &Arc<File>,
    range: Range<u64>,
    rate: &RateLimit,
    served: &AtomicU64,
    sent: &mut u64,
) -> io::Result<()> {
    let mut off = range.start;
    while off < range.end {
        let n = rate.piece((range.end - off).min(STREAM_CHUNK));
        rate.take(n).await;
        let chunk = match disk::read_cached(file, off, n as usize)? {
            Cached::Data(b) => b,
            Cached::WouldBlock => {
                let f = Arc::clone(file);
                rt::spawn_blocking(move || disk::read_blocking(&f, off, n as usize)).await?
            }
        };
        io.write_all(&chunk).await?;
        let got = chunk.len() as u64;
        off += got;
        *sent += got;
        served.fetch_add(got, Ordering::Relaxed);
    }
    Ok(())
}

/// Why a transfer on the blocking pool ended early.
#[cfg(target_os = "linux")]
enum Stop {
    /// This file or socket cannot be sent with `sendfile`: copy from this offset.
    Unsupported(u64),
    /// The client took nothing for the whole write-stall timeout.
    Stalled,
    Failed(io::Error),
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::time::{Duration, Instant};

    use super::super::ended::HttpEnd;
    use super::*;

    /// Sends `range` with `sendfile` on the blocking pool; `Ok(Some(rest))` when the file
    /// system cannot (nothing of `rest` sent), for the caller to copy.
    pub(super) async fn send_range(
        io: &mut DeadlineIo<TcpStream>,
        ctx: &HttpContext,
        file: &Arc<File>,
        range: Range<u64>,
        sent: &mut u64,
    ) -> io::Result<Option<Range<u64>>> {
        io.flush().await?;
        let sock = rt::socket_fd(io.get_ref())?;
        let job = Job {
            sock,
            file: Arc::clone(file),
            range: range.clone(),
            rate: Arc::clone(&ctx.upload_rate),
            served: Arc::clone(&ctx.stats.bytes_served),
            stall: ctx.gate.limits().write_stall_timeout,
        };
        let guard = InFlight(Some(rt::socket_raw_fd(io.get_ref())));
        let (n, result) = rt::spawn_blocking(move || job.run()).await;
        guard.disarm();
        *sent += n;
        match result {
            Ok(()) => Ok(None),
            Err(Stop::Unsupported(at)) => {
                log::debug!("sendfile cannot send this file: copying instead");
                Ok(Some(at..range.end))
            }
            Err(Stop::Stalled) => {
                io.watch().cut_for(HttpEnd::WriteStalled);
                Err(io::Error::new(io::ErrorKind::TimedOut, "write stalled"))
            }
            Err(Stop::Failed(e)) => Err(e),
        }
    }

    /// Shuts the socket down if the transfer's future is dropped before the thread is
    /// done (the connection was aborted): the thread's next call fails and it ends.
    struct InFlight(Option<RawFd>);

    impl InFlight {
        fn disarm(mut self) {
            self.0 = None;
        }
    }

    impl Drop for InFlight {
        fn drop(&mut self) {
            if let Some(fd) = self.0 {
                // SAFETY: the connection's stream (which owns `fd`) outlives this guard:
                // it is borrowed by the future holding it.
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            }
        }
    }

    /// One transfer, run on the blocking pool.
    struct Job {
        sock: OwnedFd,
        file: Arc<File>,
        range: Range<u64>,
        rate: Arc<RateLimit>,
        served: Arc<AtomicU64>,
        stall: Duration,
    }

    /// Largest count asked of one `sendfile` (bytes): nginx's `sendfile_max_chunk`
    /// default. Larger calls fill the whole send buffer at once, and on loopback the
    /// receiver's share of the work then runs in our call, charged to us.
    const MAX_SENDFILE: u64 = 2 * 1024 * 1024;

    impl Job {
        /// Sends the range; the bytes sent, and how it ended.
        fn run(self) -> (u64, Result<(), Stop>) {
            let mut off = self.range.start;
            let end = self.range.end;
            let mut last_progress = Instant::now();
            while off < end {
                let piece = self.rate.piece((end - off).min(MAX_SENDFILE));
                let wait = self.rate.reserve(piece);
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                let piece_end = off + piece;
                while off < piece_end {
                    match self.sendfile(off, (piece_end - off) as usize) {
                        Ok(0) => {
                            let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
                            return (off - self.range.start, Err(Stop::Failed(eof)));
                        }
                        Ok(n) => {
                            off += n as u64;
                            self.served.fetch_add(n as u64, Ordering::Relaxed);
                            last_progress = Instant::now();
                            if off < piece_end {
                                // A short send: the buffer is full; wait for room.
                                if let Err(stop) = self.wait_room(last_progress) {
                                    return (off - self.range.start, Err(stop));
                                }
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if let Err(stop) = self.wait_room(last_progress) {
                                return (off - self.range.start, Err(stop));
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if off == self.range.start && cannot_sendfile(&e) => {
                            return (0, Err(Stop::Unsupported(off)));
                        }
                        Err(e) => return (off - self.range.start, Err(Stop::Failed(e))),
                    }
                }
            }
            (off - self.range.start, Ok(()))
        }

        fn sendfile(&self, offset: u64, count: usize) -> io::Result<usize> {
            let mut off = libc::off_t::try_from(offset)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: both descriptors are open (owned by this job), and `off` is a valid
            // offset the kernel may update.
            let n = unsafe {
                libc::sendfile(
                    self.sock.as_raw_fd(),
                    self.file.as_raw_fd(),
                    &mut off,
                    count,
                )
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        }

        /// Waits until the socket has room, at most until the stall timeout since the
        /// last progress.
        fn wait_room(&self, last_progress: Instant) -> Result<(), Stop> {
            loop {
                let left = self.stall.saturating_sub(last_progress.elapsed());
                if left.is_zero() {
                    return Err(Stop::Stalled);
                }
                let mut pfd = libc::pollfd {
                    fd: self.sock.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // Rounded up: poll's milliseconds must not end the wait before the
                // timeout has passed; a timed-out poll goes round to check the clock.
                let ms = left.as_micros().div_ceil(1000).max(1);
                let ms = libc::c_int::try_from(ms).unwrap_or(i32::MAX);
                // SAFETY: one valid pollfd for the duration of the call.
                match unsafe { libc::poll(&mut pfd, 1, ms) } {
                    n if n > 0 => return Ok(()),
                    0 => continue,
                    _ => {
                        let e = io::Error::last_os_error();
                        if e.kind() != io::ErrorKind::Interrupted {
                            return Err(Stop::Failed(e));
                        }
                    }
                }
            }
        }
    }

    /// Errors that say this file or socket cannot be sent with `sendfile` at all.
    fn cannot_sendfile(e: &io::Error) -> bool {
        matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
        )
    }
}
