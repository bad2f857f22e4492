//! Shared by the fuzz targets: an allocator that records the largest single allocation,
//! so a target can assert that decoding never allocates by a length the input claims
//! (only by bytes actually present, or by a fixed limit).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, recording the largest block asked for since [`reset_peak`].
pub struct PeakAlloc;

static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        PEAK.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Starts a new measurement of the largest allocation.
pub fn reset_peak() {
    PEAK.store(0, Ordering::Relaxed);
}

/// The largest single allocation since [`reset_peak`], bytes.
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Runs `f` and panics if any single allocation it made exceeded `fixed` bytes plus
/// `per_input_byte` times the input's length: a decoder may allocate for what is there
/// (and copies of it), or up to a fixed limit, never for a length the input claims.
pub fn bounded<T>(
    input_len: usize,
    fixed: usize,
    per_input_byte: usize,
    f: impl FnOnce() -> T,
) -> T {
    reset_peak();
    let out = f();
    let limit = fixed + per_input_byte * input_len;
    let peak = peak();
    assert!(
        peak <= limit,
        "allocated {peak} bytes at once for a {input_len}-byte input (limit {limit})"
    );
    out
}
