//! Bandwidth limits (`--max-upload-rate`, `--max-download-rate`): one token bucket per
//! direction, shared by every transfer in it, so the limit holds for their sum. A transfer
//! asks the bucket before sending (or after receiving) each piece and sleeps for the debt
//! it ran up; the bucket holds at most [`BURST`] worth of unused rate, so an idle moment
//! never lets a later transfer run far over the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::rt;

/// How much unused rate a bucket keeps (as time at the limit): enough that pieces of a
/// few KiB go out without a sleep each, small enough that a burst stays near the limit.
pub const BURST: Duration = Duration::from_millis(250);
/// The smallest bucket (bytes), whatever the rate: one piece of a body always fits.
pub const MIN_BURST_BYTES: u64 = 16 * 1024;
/// Largest piece a limited transfer sends at once (bytes): pieces this small keep the
/// pace smooth (a 512 KiB chunk at 100 KiB/s would be five seconds of silence, then a
/// burst).
pub const MAX_LIMITED_PIECE: u64 = 64 * 1024;

/// A token bucket of `rate` bytes per second (or none: unlimited), with the bytes that
/// went through it.
#[derive(Debug, Default)]
pub struct RateLimit {
    /// Bytes per second; 0 is unlimited.
    rate: u64,
    bucket: Mutex<Bucket>,
    /// Bytes counted through this limit (limited or not).
    total: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    /// Unused bytes (negative: debt the next piece waits out).
    tokens: f64,
    last: Instant,
}

impl Default for Bucket {
    fn default() -> Bucket {
        Bucket {
            tokens: 0.0,
            last: Instant::now(),
        }
    }
}

impl RateLimit {
    /// No limit (bytes are still counted).
    pub fn unlimited() -> RateLimit {
        RateLimit::default()
    }

    /// At most `bytes_per_sec` (`None` or 0: unlimited); the bucket starts full.
    pub fn new(bytes_per_sec: Option<u64>) -> RateLimit {
        let rate = bytes_per_sec.unwrap_or(0);
        let limit = RateLimit {
            rate,
            ..RateLimit::default()
        };
        limit.lock().tokens = limit.burst() as f64;
        limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limit in bytes per second, if there is one.
    pub fn rate(&self) -> Option<u64> {
        (self.rate > 0).then_some(self.rate)
    }

    /// The most the bucket holds (bytes): [`BURST`] at the rate, at least
    /// [`MIN_BURST_BYTES`]. A transfer of `n` bytes takes at least `(n - burst) / rate`.
    pub fn burst(&self) -> u64 {
        let at_rate = (self.rate as f64 * BURST.as_secs_f64()) as u64;
        at_rate.max(MIN_BURST_BYTES)
    }

    /// Bytes counted through this limit so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The largest piece to send before asking again: unlimited, `max`; limited, at most
    /// [`MAX_LIMITED_PIECE`].
    pub fn piece(&self, max: u64) -> u64 {
        if self.rate == 0 {
            max
        } else {
            max.min(MAX_LIMITED_PIECE)
        }
    }

    /// Counts `n` bytes and returns how long to wait before they may go (zero when
    /// unlimited or the bucket has them).
    pub fn reserve(&self, n: u64) -> Duration {
        self.total.fetch_add(n, Ordering::Relaxed);
        if self.rate == 0 {
            return Duration::ZERO;
        }
        let rate = self.rate as f64;
        let mut b = self.lock();
        let now = Instant::now();
        let refill = now.saturating_duration_since(b.last).as_secs_f64() * rate;
        b.last = now;
        b.tokens = (b.tokens + refill).min(self.burst() as f64) - n as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate)
        }
    }

    /// Counts `n` bytes and sleeps until the limit lets them go.
    pub async fn take(&self, n: u64) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            rt::sleep(wait).await;
        }
    }

    /// The limit and the bytes through it, for `/status`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({ "limit_bytes_per_sec": self.rate(), "bytes": self.total() })
    }
}

static DOWNLOAD: OnceLock<RateLimit> = OnceLock::new();

/// The process's download limit, shared by every download (unlimited unless
/// [`set_download_limit`] was called first).
pub fn download() -> &'static RateLimit {
    DOWNLOAD.get_or_init(RateLimit::unlimited)
}

/// Sets the process's download limit (`None`: unlimited). Only the first call (before any
/// download) takes effect; returns whether this one did.
pub fn set_download_limit(bytes_per_sec: Option<u64>) -> bool {
    DOWNLOAD.set(RateLimit::new(bytes_per_sec)).is_ok()
}

/// Parses a rate in bytes per second: a number with an optional `K`, `M` or `G` (powers of
/// 1024), optionally followed by `B`, `iB` and `/s`: `500K`, `2M`, `1.5MiB/s`, `100000`.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1u64 << 20),
        Some('G') => (&t[..t.len() - 1], 1u64 << 30),
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a rate like 500K or 2M (bytes per second), got {s:?}"))?;
    if !v.is_finite() || v < 1.0 {
        return Err(format!(
            "a rate must be at least 1 byte per second, got {s:?}"
        ));
    }
    let bytes = v * scale as f64;
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("rate {s:?} is too large"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_with_suffixes() {
        assert_eq!(parse_rate("100000"), Ok(100_000));
        assert_eq!(parse_rate("500K"), Ok(500 * 1024));
        assert_eq!(parse_rate("2M"), Ok(2 << 20));
        assert_eq!(parse_rate("2m"), Ok(2 << 20));
        assert_eq!(parse_rate("1.5MiB/s"), Ok(3 << 19));
        assert_eq!(parse_rate("1G"), Ok(1 << 30));
        assert_eq!(parse_rate("64KB"), Ok(64 * 1024));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-5K").is_err());
        assert!(parse_rate("").is_err());
        assert!(parse_rate("1e30G").is_err());
    }

    #[test]
    fn unlimited_never_waits_and_counts() {
        let l = RateLimit::unlimited();
        assert_eq!(l.reserve(1 << 30), Duration::ZERO);
        assert_eq!(l.total(), 1 << 30);
        assert_eq!(l.rate(), None);
        assert_eq!(l.piece(1 << 20), 1 << 20);
    }

    #[test]
    fn a_limited_bucket_makes_debt_wait_at_the_rate() {
        let l = RateLimit::new(Some(100_000));
        assert_eq!(l.burst(), 25_000);
        assert_eq!(l.reserve(25_000), Duration::ZERO, "the first burst is free");
        let wait = l.reserve(50_000);
        // 50,000 bytes of debt at 100,000 B/s (less the few microseconds of refill).
        assert!(wait > Duration::from_millis(490) && wait <= Duration::from_millis(500));
        assert_eq!(l.piece(1 << 20), MAX_LIMITED_PIECE);
    }

    #[test]
    fn a_small_rate_still_fits_one_piece() {
        assert_eq!(RateLimit::new(Some(1000)).burst(), MIN_BURST_BYTES);
    }
}
