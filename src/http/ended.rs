//! How each HTTP connection ended ([`HttpEnd`]), counted once per connection
//! ([`EndCounters`], shown under `connections.http_ended` in `/status`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// How one HTTP connection ended: exactly one of these per connection handed to HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpEnd {
    /// The client closed between requests, or a `Connection: close` answer was sent.
    Completed,
    /// A request head did not arrive whole within the head deadline (slow-loris).
    HeadTimeout,
    /// No byte of a next request within the keep-alive idle timeout.
    IdleTimeout,
    /// Closed while idle between requests to make room for a new client (all slots taken).
    EvictedIdle,
    /// A client stopped reading an answer: no byte of it could be written for the
    /// write-stall timeout.
    WriteStalled,
    /// A head hyper could not parse (answered 400 or 431 by hyper).
    BadRequest,
    /// Reset, an i/o error, or closed mid-request.
    Reset,
    /// Refused with 503: this client address already had its share of connections open.
    OverAddressCap,
    /// Refused with 503: every HTTP slot was taken by a connection in use.
    OverGlobalCap,
}

impl HttpEnd {
    /// Every way a connection can end, in the order `/status` lists them.
    pub const ALL: [HttpEnd; 9] = [
        HttpEnd::Completed,
        HttpEnd::HeadTimeout,
        HttpEnd::IdleTimeout,
        HttpEnd::EvictedIdle,
        HttpEnd::WriteStalled,
        HttpEnd::BadRequest,
        HttpEnd::Reset,
        HttpEnd::OverAddressCap,
        HttpEnd::OverGlobalCap,
    ];

    /// Name in `/status`.
    pub fn name(self) -> &'static str {
        match self {
            HttpEnd::Completed => "completed",
            HttpEnd::HeadTimeout => "head_timeout",
            HttpEnd::IdleTimeout => "idle_timeout",
            HttpEnd::EvictedIdle => "evicted_idle",
            HttpEnd::WriteStalled => "write_stalled",
            HttpEnd::BadRequest => "bad_request",
            HttpEnd::Reset => "reset",
            HttpEnd::OverAddressCap => "over_address_cap",
            HttpEnd::OverGlobalCap => "over_global_cap",
        }
    }

    /// Whether the connection was refused at admission (never served).
    pub fn refused(self) -> bool {
        matches!(self, HttpEnd::OverAddressCap | HttpEnd::OverGlobalCap)
    }
}

/// One counter per [`HttpEnd`].
#[derive(Default)]
pub struct EndCounters([AtomicU64; HttpEnd::ALL.len()]);

impl EndCounters {
    pub fn count(&self, end: HttpEnd) {
        self.0[end as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, end: HttpEnd) -> u64 {
        self.0[end as usize].load(Ordering::Relaxed)
    }

    /// Every counter by name (zeros included, so a reader sees the whole set).
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        HttpEnd::ALL
            .iter()
            .map(|&e| (e.name(), self.get(e)))
            .collect()
    }

    /// Connections ended so far, all kinds.
    pub fn total(&self) -> u64 {
        HttpEnd::ALL.iter().map(|&e| self.get(e)).sum()
    }
}
