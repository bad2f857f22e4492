//! The `servent` binary: the command line ([`cli`]) over the `servent` library.

mod cli;

/// mimalloc instead of the system allocator: a servent's reader tasks decode descriptors
/// on one thread and the router frees them on another, and glibc's per-arena locks made
/// that cross-thread free traffic about half of forwarding's time (perf on
/// `scripts/bench-route.sh`: `_int_malloc`, `_int_free` and futex waits in
/// `__lll_lock_wait_private`). mimalloc frees into the owning page without a global lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    cli::run()
}
