//! Positioned reads for response bodies. [`read_cached`] returns only bytes already in
//! the page cache (Linux `preadv2` with `RWF_NOWAIT`), so the executor thread never
//! waits for a disk: cached data (the common case for a hot shared file) is read inline
//! without a hop to the blocking pool, and only a miss goes there ([`read_blocking`]).
//! Both read into fresh, uninitialised buffers: the kernel fills them, nothing is zeroed
//! first.

use std::fs::File;
use std::io;

use bytes::{Bytes, BytesMut};

/// Result of a read that must not block.
pub(super) enum Cached {
    /// Some bytes (maybe fewer than asked: only the cached prefix).
    Data(Bytes),
    /// Nothing cached at that offset: read it on the blocking pool.
    WouldBlock,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
/// Reads at most `max` bytes at `offset`, appended to `buf` (which has room for them).
fn pread_into(
    file: &File,
    buf: &mut BytesMut,
    offset: u64,
    max: usize,
    nowait: bool,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let spare = buf.spare_capacity_mut();
    let iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: spare.len().min(max),
    };
    let flags = if nowait { libc::RWF_NOWAIT } else { 0 };
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        // SAFETY: `iov` points at `iov_len` (<= spare capacity) writable bytes owned by
        // `buf`, which outlives the call; the kernel writes at most that many.
        let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, flags) };
        if n >= 0 {
            let n = n as usize;
            // SAFETY: the kernel initialised exactly `n` bytes of the spare capacity.
            unsafe { buf.set_len(buf.len() + n) };
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reads up to `len` bytes at `offset` if they are in the page cache.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn read_cached(file: &File, offset: u64, len: usize) -> io::Result<Cached> {
    let mut buf = BytesMut::with_capacity(len);
    match pread_into(file, &mut buf, offset, len, true) {
        Ok(0) if len > 0 => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(_) => Ok(Cached::Data(buf.freeze())),
        // EAGAIN: not cached; EOPNOTSUPP/EINVAL: this kernel or file system cannot say.
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock
                || matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL)) =>
        {
            Ok(Cached::WouldBlock)
        }
        Err(e) => Err(e),
    }
}

/// Without `RWF_NOWAIT`, every read goes to the blocking pool.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn read_cached(_file: &File, _offset: u64, _len: usize) -> io::Result<Cached> {
    Ok(Cached::WouldBlock)
}

/// Reads exactly `len` bytes at `offset` (blocking: call it on the blocking pool).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn read_blocking(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let at = buf.len();
        if pread_into(file, &mut buf, offset + at as u64, len - at, false)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(buf.freeze())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn read_blocking(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_exact_ranges() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let file = f.reopen().unwrap();
        assert_eq!(read_blocking(&file, 10, 70_000).unwrap(), &data[10..70_010]);
        match read_cached(&file, 99_000, 4096).unwrap() {
            Cached::Data(b) => assert_eq!(b, &data[99_000..99_000 + b.len()]),
            Cached::WouldBlock => {}
        }
        assert_eq!(
            read_blocking(&file, 99_990, 20).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
