//! The caps and timeouts of the HTTP side ([`HttpLimits`]) and their defaults, each with
//! its reason; the gate ([`super::admission`]) and the deadlines ([`super::deadline`])
//! enforce them.

use std::time::Duration;

/// HTTP connections open at once. Far above the upload slots (8 by default), so keep-alive
/// clients and status polls fit; each holds a task and buffers, so a flood cannot grow it.
pub const MAX_HTTP_CONNECTIONS: usize = 256;
/// HTTP connections open at once from one client address (an IPv6 client: its /64). A
/// browser or a downloader uses a handful; one address cannot take every slot.
pub const MAX_HTTP_PER_ADDRESS: usize = 8;
/// A request head (request line and headers) must arrive whole within this of its first
/// byte: one deadline for the head, so a byte every few seconds cannot hold a slot.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection waits this long for the next request, then is closed: an idle
/// connection costs a slot and gives nothing.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// A client that reads nothing of an answer for this long is cut: a stalled download
/// otherwise holds its slot (and an upload slot) for as long as the TCP connection lives.
/// As long as a Gnutella link's write-stall bound.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The caps and timeouts of the HTTP side (defaults: the constants above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// HTTP connections open at once ([`MAX_HTTP_CONNECTIONS`]).
    pub max_connections: usize,
    /// HTTP connections open at once from one address ([`MAX_HTTP_PER_ADDRESS`]).
    pub max_per_address: usize,
    /// Longest time from a request head's first byte to its end ([`HEAD_TIMEOUT`]).
    pub head_timeout: Duration,
    /// Longest wait for the next request on a keep-alive connection ([`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// Longest time a write may stay blocked on a client that reads nothing
    /// ([`WRITE_STALL_TIMEOUT`]).
    pub write_stall_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: MAX_HTTP_CONNECTIONS,
            max_per_address: MAX_HTTP_PER_ADDRESS,
            head_timeout: HEAD_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            write_stall_timeout: WRITE_STALL_TIMEOUT,
        }
    }
}
