//! The one runtime seam: the only file that names the async runtime (async-std).
//!
//! Everything above the sans-IO core that needs a task, a timer or a socket takes it from
//! here: the driver (`net`), the HTTP server and client (`http`), the downloader
//! (`download`) and the binary. `core`, `proto` and `sim` never use this file.
//!
//! # Moving to another runtime (smol, say)
//! A move is a change to this file alone, as long as it keeps these promises:
//! - [`spawn`] **detaches**: the task runs to completion even if nobody keeps its handle.
//!   async-std's tasks detach when their handle drops; smol's (async-task's) are *cancelled*
//!   on drop, so under smol [`spawn`] must call `.detach()` (a dropped task would kill a
//!   link's reader), and the handles of [`spawn_joinable`] and [`spawn_blocking`] are
//!   awaited by their callers.
//! - [`JoinHandle`] is a future of the task's output that does not itself fail (async-std's
//!   does not; tokio's yields `Result`).
//! - [`TcpStream`] is `AsyncRead + AsyncWrite + Clone` (one clone reads, one writes);
//!   smol's `Async<std::net::TcpStream>` is not `Clone` and needs an `Arc` wrapper here.
//! - [`worker_threads`] is read once when the executor first starts; smol reads
//!   `SMOL_THREADS` instead of `ASYNC_STD_THREAD_COUNT`.
//! - [`spawn_blocking`] runs on a separate, growing pool, never on an executor thread.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use async_std::net::{TcpListener, TcpStream, UdpSocket};
pub use async_std::task::JoinHandle;

/// Environment variable async-std reads for its executor's thread count (when first used).
const THREAD_COUNT_VAR: &str = "ASYNC_STD_THREAD_COUNT";

/// Runs a future to completion on the current thread (the binary's entry point, tests).
pub fn block_on<F: Future>(future: F) -> F::Output {
    async_std::task::block_on(future)
}

/// Spawns a detached task: it runs to completion whether or not anyone keeps a handle, and
/// its output is dropped.
pub fn spawn<F>(future: F)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // async-std detaches a task whose handle is dropped.
    drop(async_std::task::spawn(future));
}

/// Spawns a task whose output the caller awaits through the returned handle.
pub fn spawn_joinable<F, T>(future: F) -> JoinHandle<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    async_std::task::spawn(future)
}

/// Runs blocking work (file hashing, disk reads, name lookups) off the executor threads.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    async_std::task::spawn_blocking(f)
}

/// Lets other tasks on this worker thread run: a link whose socket always has data
/// would otherwise keep its thread to itself.
pub async fn yield_now() {
    async_std::task::yield_now().await
}

/// Sleeps for `duration` without blocking the worker thread.
pub async fn sleep(duration: Duration) {
    async_std::task::sleep(duration).await
}

/// Error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct TimedOut;

/// Awaits `future` for at most `duration`.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, TimedOut> {
    async_std::future::timeout(duration, future)
        .await
        .map_err(|_| TimedOut)
}

/// Connects with a deadline.
pub async fn connect(addr: SocketAddr, within: Duration) -> io::Result<TcpStream> {
    match timeout(within, TcpStream::connect(addr)).await {
        Ok(r) => r,
        Err(TimedOut) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

/// Turns Nagle's algorithm off (`TCP_NODELAY`) on a connected stream, so a small write
/// (a descriptor) goes out at once instead of waiting for the ACK of the previous one.
pub fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)
}

/// Binds a listener (port 0 lets the OS choose; read it back with `local_addr`).
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Binds a UDP socket (the servent's datagram port, beside its TCP one). Returns the
/// runtime's socket, for receiving, and a non-blocking clone of the same socket, for
/// sending from code that must not await (the driver sends under its state lock; a
/// datagram that would block is dropped, as UDP may drop it anyway).
pub fn bind_udp(addr: SocketAddr) -> io::Result<(UdpSocket, std::net::UdpSocket)> {
    let socket = std::net::UdpSocket::bind(addr)?;
    let sender = socket.try_clone()?;
    sender.set_nonblocking(true)?;
    Ok((UdpSocket::from(socket), sender))
}

/// Sets the executor's worker thread count. Takes effect only before the first task is
/// spawned or blocked on (the executor starts once per process); call it first in `main`.
pub fn set_worker_threads(n: usize) {
    std::env::set_var(THREAD_COUNT_VAR, n.max(1).to_string());
}

/// The executor's worker thread count: the configured one, else one per CPU (as async-std
/// chooses when nothing is set).
pub fn worker_threads() -> usize {
    std::env::var(THREAD_COUNT_VAR)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// A duplicate of a connected stream's socket descriptor, for writes made with raw system
/// calls on the blocking pool (`sendfile`); the stream keeps working as before.
#[cfg(unix)]
pub fn socket_fd(stream: &TcpStream) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, BorrowedFd};
    // SAFETY: the stream owns the descriptor and is borrowed for the whole call.
    unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) }.try_clone_to_owned()
}

/// A stream's socket descriptor itself (valid while the stream lives).
#[cfg(unix)]
pub fn socket_raw_fd(stream: &TcpStream) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    stream.as_raw_fd()
}

/// hyper's timer on this runtime: hyper's own deadlines (`header_read_timeout`) sleep
/// through it, so they follow the same clock and executor as every other timer here.
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperTimer;

/// One of hyper's sleeps: the runtime's sleep behind a mutex, since hyper wants `Sync`.
struct HyperSleep(Mutex<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut sleep = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Mutex::new(Box::pin(sleep(duration)))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep(deadline.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_nodelay_turns_nagle_off_on_both_ends() {
        block_on(async {
            let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) =
                futures::join!(connect(addr, Duration::from_secs(5)), listener.accept());
            let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
            assert!(!client.nodelay().unwrap() && !server.nodelay().unwrap());
            set_nodelay(&client).unwrap();
            set_nodelay(&server).unwrap();
            assert!(client.nodelay().unwrap() && server.nodelay().unwrap());
        });
    }

    #[test]
    fn a_udp_socket_receives_what_its_clone_sends() {
        block_on(async {
            let (a, a_send) = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
            let (b, _) = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
            a_send.send_to(b"ping", b.local_addr().unwrap()).unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = timeout(Duration::from_secs(5), b.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
        });
    }

    use hyper::rt::Timer;

    #[test]
    fn hypers_sleeps_run_on_this_runtime_and_wait_their_time() {
        let wait = Duration::from_millis(30);
        let began = Instant::now();
        block_on(HyperTimer.sleep(wait));
        assert!(began.elapsed() >= wait);
        let began = Instant::now();
        block_on(HyperTimer.sleep_until(began + wait));
        assert!(began.elapsed() >= wait);
    }
}
