//! Sending a range of a shared file on a connection: on Linux with `sendfile(2)`, the
//! kernel copying from the page cache to the socket with no userspace buffer and a few
//! calls per megabyte; elsewhere, or on a file system that cannot, by reading chunks and
//! writing them. A window of the file whose first page is not in the page cache is read
//! ahead on the blocking pool first (`readahead(2)`), so the executor thread does not wait
//! for a disk inside `sendfile`. Every piece is let go by the upload limit first.

use std::fs::File;
use std::future::poll_fn;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::io::AsyncWriteExt;

use super::body::STREAM_CHUNK;
use super::deadline::DeadlineIo;
use super::disk::{self, Cached};
use super::rate::RateLimit;
use crate::rt::{self, TcpStream};

/// How much of the file is checked to be in the page cache (and read ahead if not) at a
/// time, bytes: one probe per window is noise against the `sendfile` calls in it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const CACHE_WINDOW: u64 = 4 * 1024 * 1024;

/// The connection's socket as `sendfile` needs it, made on the first large body.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) type Writer = Option<rt::SocketWriter>;
/// Nothing to keep where bodies are copied.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) type Writer = ();

/// Sends `range` of `file` on `io`; returns the bytes sent before any error, through
/// `sent`, and counts them in `served`.
pub(super) async fn send_range(
    io: &mut DeadlineIo<TcpStream>,
    writer: &mut Writer,
    file: &Arc<File>,
    range: Range<u64>,
    rate: &RateLimit,
    served: &AtomicU64,
    sent: &mut u64,
) -> io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let range = match linux::send_range(io, writer, file, range, rate, served, sent).await {
        Ok(None) => return Ok(()),
        Ok(Some(rest)) => rest,
        Err(e) => return Err(e),
    };
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let () = *writer;
    copy_range(io, file, range, rate, served, sent).await
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

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod linux {
    use std::os::fd::AsRawFd;
    use std::task::{Context, Poll};

    use super::*;

    /// Sends what it can of `range` with `sendfile`; `Ok(Some(rest))` when the file system
    /// cannot (before any byte of `rest` went), for the caller to copy.
    pub(super) async fn send_range(
        io: &mut DeadlineIo<TcpStream>,
        writer: &mut Writer,
        file: &Arc<File>,
        range: Range<u64>,
        rate: &RateLimit,
        served: &AtomicU64,
        sent: &mut u64,
    ) -> io::Result<Option<Range<u64>>> {
        let mut off = range.start;
        let mut cached_to = off;
        while off < range.end {
            if off >= cached_to {
                cached_to = (off + CACHE_WINDOW).min(range.end);
                ensure_cached(file, off, cached_to - off).await?;
            }
            let piece = rate.piece(cached_to - off);
            rate.take(piece).await;
            let piece_end = off + piece;
            while off < piece_end {
                let want = (piece_end - off) as usize;
                let n = poll_fn(|cx| {
                    io.poll_write_with(cx, |s, cx| poll_sendfile(s, writer, cx, file, off, want))
                })
                .await;
                let n = match n {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => n as u64,
                    Err(e) if off == range.start && cannot_sendfile(&e) => {
                        log::debug!("sendfile unavailable ({e}): copying instead");
                        return Ok(Some(off..range.end));
                    }
                    Err(e) => return Err(e),
                };
                off += n;
                *sent += n;
                served.fetch_add(n, Ordering::Relaxed);
            }
        }
        Ok(None)
    }

    /// Errors that say this file or socket cannot be sent with `sendfile` at all.
    fn cannot_sendfile(e: &io::Error) -> bool {
        matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
        )
    }

    /// One `sendfile` of at most `count` bytes at `offset`: pending while the socket's
    /// buffer is full (woken when it has room).
    fn poll_sendfile(
        stream: &mut TcpStream,
        writer: &mut Writer,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        count: usize,
    ) -> Poll<io::Result<usize>> {
        if writer.is_none() {
            match rt::SocketWriter::new(stream) {
                Ok(w) => *writer = Some(w),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let Some(w) = writer.as_ref() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let Ok(mut off) = libc::off_t::try_from(offset) else {
            return Poll::Ready(Err(io::ErrorKind::InvalidInput.into()));
        };
        loop {
            // SAFETY: both descriptors are open for the call (the writer and the file are
            // borrowed), and `off` is a valid offset the kernel may update.
            let n = unsafe { libc::sendfile(w.raw_fd(), file.as_raw_fd(), &mut off, count) };
            if n >= 0 {
                return Poll::Ready(Ok(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => match w.poll_writable(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                },
                _ => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Makes `len` bytes at `offset` likely cached: when their first page is not, they
    /// are read ahead on the blocking pool (a failed read-ahead only costs speed).
    async fn ensure_cached(file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        if let Cached::Data(_) = disk::read_cached(file, offset, 1)? {
            return Ok(());
        }
        let f = Arc::clone(file);
        rt::spawn_blocking(move || {
            let (Ok(off), Ok(n)) = (libc::off64_t::try_from(offset), usize::try_from(len)) else {
                return;
            };
            // SAFETY: the descriptor is open (the file is held); readahead only fills the
            // page cache.
            unsafe { libc::readahead(f.as_raw_fd(), off, n) };
        })
        .await;
        Ok(())
    }
}
