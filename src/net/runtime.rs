//! The one place that names the async runtime (async-std, discontinued upstream). Every
//! other module uses these re-exports and wrappers, so moving to smol touches this file.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

pub use async_std::net::{TcpListener, TcpStream};
pub use async_std::task::JoinHandle;

/// Runs a future to completion on the current thread (the binary's entry point, tests).
pub fn block_on<F: Future>(future: F) -> F::Output {
    async_std::task::block_on(future)
}

/// Spawns a task on the runtime's executor.
pub fn spawn<F, T>(future: F) -> JoinHandle<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    async_std::task::spawn(future)
}

/// Runs blocking work (file hashing, disk reads) off the executor threads.
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

/// Binds a listener (port 0 lets the OS choose; read it back with `local_addr`).
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
