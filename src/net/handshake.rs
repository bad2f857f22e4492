//! What both sides of the 0.6 connection handshake use (`accept` the server's, `connect`
//! the client's): our headers, reading a bounded block with a deadline,
//! what the peer's headers mean for the link (compression, Bye support, its servent ID and
//! listening address, hosts to try), and counting failures.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncReadExt};

use crate::core::{PeerInfo, Role, WALKER_HEADER, WALKER_VERSION};
use crate::proto::handshake::{self, HandshakeCheck, HandshakeError, HandshakeMessage, Headers};
use crate::proto::limits::MAX_HANDSHAKE_LEN;
use crate::proto::Guid;

use super::shared::Shared;
use crate::rt;

/// The query routing protocol version of `X-Query-Routing` and
/// `X-Ultrapeer-Query-Routing`.
pub const QRP_VERSION: &str = "0.1";
/// The dynamic querying version of `X-Dynamic-Querying`.
pub const DYNAMIC_QUERYING_VERSION: &str = "0.1";

/// Hosts offered in `X-Try` when refusing a connection.
const X_TRY_HOSTS: usize = 10;

/// Our `User-Agent`: never another servent's name (gtk-gnutella bans impostors).
pub fn user_agent() -> String {
    format!("servent/{}", env!("CARGO_PKG_VERSION"))
}

/// Why a handshake failed (counted by kind in `/status`).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeFailure {
    /// A handshake block (or the first bytes of a connection) did not arrive within the
    /// handshake timeout.
    #[error("handshake timed out")]
    Timeout,
    /// The peer closed the connection before a complete handshake block.
    #[error("connection closed during handshake")]
    Closed,
    /// Reading or writing the socket failed.
    #[error("i/o error during handshake: {0}")]
    Io(#[from] std::io::Error),
    /// A block that is not a valid handshake: malformed, over the size limit
    /// (`MAX_HANDSHAKE_LEN` bytes) or with too many headers.
    #[error("bad handshake: {0}")]
    Protocol(#[from] HandshakeError),
    /// We refused the peer (409 to ourselves or a duplicate, 503 when full). Counted as
    /// `refused_duplicate` / `refused_full` in `/status`, not as a handshake failure.
    #[error("we refused: {code} {reason}")]
    WeRefused {
        /// The status code we sent (409 or 503).
        code: u16,
        /// The reason phrase we sent.
        reason: &'static str,
    },
    /// The peer answered with a status other than 200: it refused us.
    #[error("refused: {code} {reason}")]
    Refused {
        /// The status code (e.g. 503, 409).
        code: u16,
        /// The status line's reason phrase (or the whole start line).
        reason: String,
    },
    /// A well-formed block that is not the one this step expects (e.g. a CONNECT where a
    /// status was due); holds its start line.
    #[error("unexpected handshake message: {0}")]
    Unexpected(String),
}

impl HandshakeFailure {
    /// Short name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Closed => "closed",
            HandshakeFailure::Io(_) => "io",
            HandshakeFailure::Protocol(HandshakeError::TooLarge { .. }) => "too-large",
            HandshakeFailure::Protocol(HandshakeError::TooManyHeaders { .. }) => "too-many-headers",
            HandshakeFailure::Protocol(_) => "malformed",
            HandshakeFailure::WeRefused { .. } => "we-refused",
            HandshakeFailure::Refused { .. } => "refused",
            HandshakeFailure::Unexpected(_) => "unexpected",
        }
    }
}

/// What we tell peers about ourselves.
#[derive(Debug, Clone)]
pub struct Ours {
    /// Our servent ID (the `GUID` header).
    pub servent_id: Guid,
    /// Where we accept connections (the `Listen-IP` header).
    pub listen: SocketAddr,
    /// The TTL + hops limit we enforce (the `X-Max-TTL` header).
    pub max_ttl: u8,
    /// The most neighbours we keep (the `X-Degree` header).
    pub max_peers: usize,
    /// Whether we offer deflate-compressed links (`Accept-Encoding: deflate`).
    pub compress: bool,
    /// Our role now (`X-Ultrapeer`, and the query routing headers each role sends).
    pub role: Role,
}

/// What this servent tells peers about itself.
pub fn ours(shared: &Shared) -> Ours {
    Ours {
        servent_id: shared.servent_id,
        listen: shared.listen,
        max_ttl: shared.config.max_ttl,
        max_peers: shared.config.max_peers,
        compress: shared.config.compress,
        role: shared.lock().servent.role(),
    }
}

/// Headers of a refusal (503 full, 409 duplicate): our name and hosts to try instead.
pub fn try_header(shared: &Shared, remote: Option<SocketAddr>) -> Headers {
    let mut h = Headers::new();
    h.push("User-Agent", user_agent());
    push_try_hosts(shared, &mut h, remote);
    h
}

/// Adds `X-Try` and `X-Try-Ultrapeers` (the header 0.6 servents read) with up to
/// [`X_TRY_HOSTS`] ultrapeers: our ultrapeer neighbours first (known alive), then the host
/// cache's most recently seen (which holds only ultrapeers); never a leaf, `remote` (the
/// peer we tell) nor ourselves. Sent with every handshake reply, refusals and `200 OK`
/// alike.
pub fn push_try_hosts(shared: &Shared, headers: &mut Headers, remote: Option<SocketAddr>) {
    let hosts: Vec<String> = {
        let st = shared.lock();
        let mut hosts: Vec<SocketAddr> = st
            .links
            .values()
            .filter(|l| l.ultrapeer)
            .filter_map(|l| l.listen)
            .collect();
        hosts.sort();
        for a in st.hosts.sample(X_TRY_HOSTS + hosts.len() + 1) {
            if !hosts.contains(&a) {
                hosts.push(a);
            }
        }
        hosts
            .into_iter()
            .filter(|a| Some(*a) != remote && *a != shared.listen)
            .take(X_TRY_HOSTS)
            .map(|a| a.to_string())
            .collect()
    };
    if !hosts.is_empty() {
        let list = hosts.join(",");
        headers.push("X-Try", list.clone());
        headers.push("X-Try-Ultrapeers", list);
    }
}

/// Puts the hosts a peer offered (`X-Try`, `X-Try-Ultrapeers`) in the host cache.
pub fn learn_try_hosts(shared: &Shared, headers: &Headers) {
    let now = shared.now();
    let mut st = shared.lock();
    for h in x_try(headers) {
        if h != shared.listen {
            st.hosts.add(h, now);
        }
    }
}

/// Counts a failed handshake by kind (`/status`).
pub fn count_failure(shared: &Shared, e: &HandshakeFailure) {
    if matches!(e, HandshakeFailure::WeRefused { .. }) {
        // Counted once where we refused (refused_full / refused_duplicate).
        return;
    }
    *shared
        .lock()
        .counters
        .handshake_failures
        .entry(e.kind())
        .or_default() += 1;
}

/// Headers of our CONNECT (step 1) and of our 200 reply (step 2).
pub fn our_headers(ours: &Ours, remote: SocketAddr) -> Headers {
    let mut h = Headers::new();
    h.push("User-Agent", user_agent());
    h.push("X-Ultrapeer", ours.role.x_ultrapeer());
    // Leaves send us their query routing tables and take ours (QRP 0.1); ultrapeers also
    // exchange merged tables, so last-hop Queries go only where they may match.
    h.push("X-Query-Routing", QRP_VERSION);
    if ours.role == Role::Ultrapeer {
        h.push("X-Ultrapeer-Query-Routing", QRP_VERSION);
    }
    h.push("X-Dynamic-Querying", DYNAMIC_QUERYING_VERSION);
    h.push("GUID", ours.servent_id.to_string());
    h.push("Listen-IP", ours.listen.to_string());
    h.push("Remote-IP", remote.ip().to_string());
    h.push("Bye-Packet", "0.1");
    // Every servent answers browse host on its port (an empty list when it shares
    // nothing), so say so, as gtk-gnutella and LimeWire do.
    h.push("X-Features", "browse/1.0");
    h.push("GGEP", "0.5");
    h.push("X-Max-TTL", ours.max_ttl.to_string());
    h.push("X-Degree", ours.max_peers.to_string());
    if ours.compress {
        h.push("Accept-Encoding", "deflate");
    }
    // Random walkers and their checks go only to servents that announce this.
    h.push(WALKER_HEADER, WALKER_VERSION);
    h
}

/// Whether a header lists `deflate` (comma-separated, case-insensitive).
pub fn says_deflate(headers: &Headers, name: &str) -> bool {
    headers
        .get_list(name)
        .iter()
        .any(|v| v.eq_ignore_ascii_case("deflate"))
}

/// The peer as its headers describe it.
pub fn peer_info(headers: &Headers, remote: SocketAddr) -> PeerInfo {
    PeerInfo {
        addr: Some(remote),
        user_agent: headers
            .get("User-Agent")
            .unwrap_or("")
            .chars()
            .take(120)
            .collect(),
        bye_supported: headers.get("Bye-Packet").is_some(),
        ultrapeer: super::roles::says_ultrapeer(headers),
        legacy_04: false,
        walker_support: headers
            .get(WALKER_HEADER)
            .is_some_and(|v| v.trim() == WALKER_VERSION),
        servent_id: peer_guid(headers),
        query_routing: headers
            .get("X-Query-Routing")
            .is_some_and(|v| v.trim().starts_with("0.")),
        ultrapeer_query_routing: headers
            .get("X-Ultrapeer-Query-Routing")
            .is_some_and(|v| v.trim().starts_with("0.")),
        dynamic_querying: headers
            .get("X-Dynamic-Querying")
            .is_some_and(|v| v.trim().starts_with("0.")),
        degree: headers.get("X-Degree").and_then(|v| v.trim().parse().ok()),
        max_ttl: headers.get("X-Max-TTL").and_then(|v| v.trim().parse().ok()),
    }
}

/// The peer's servent ID from its `GUID:` header.
pub fn peer_guid(headers: &Headers) -> Option<Guid> {
    headers.get("GUID").and_then(Guid::from_hex)
}

/// Where the peer listens: its `Listen-IP` (or `X-My-Address`), with the address we see
/// when it sent only a port or an unspecified address.
pub fn peer_listen(headers: &Headers, remote: SocketAddr) -> Option<SocketAddr> {
    let v = headers
        .get("Listen-IP")
        .or_else(|| headers.get("X-My-Address"))?;
    let addr: SocketAddr = v.trim().parse().ok()?;
    Some(if addr.ip().is_unspecified() {
        SocketAddr::new(remote.ip(), addr.port())
    } else {
        addr
    })
}

/// Hosts from `X-Try` and `X-Try-Ultrapeers`.
pub fn x_try(headers: &Headers) -> Vec<SocketAddr> {
    headers
        .get_list("X-Try")
        .into_iter()
        .chain(headers.get_list("X-Try-Ultrapeers"))
        .filter_map(|h| h.split_whitespace().next().and_then(|a| a.parse().ok()))
        .take(50)
        .collect()
}

/// Reads one handshake block. `buf` holds bytes already read; on success it is left with
/// the bytes that followed the block (start of the descriptor stream).
pub async fn read_block<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    within: Duration,
) -> Result<HandshakeMessage, HandshakeFailure> {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 2048];
    loop {
        if let HandshakeCheck::Complete(n) = handshake::check(buf)? {
            let msg = handshake::parse(&buf[..n])?;
            buf.drain(..n);
            return Ok(msg);
        }
        if buf.len() >= MAX_HANDSHAKE_LEN {
            return Err(HandshakeError::TooLarge {
                limit: MAX_HANDSHAKE_LEN,
            }
            .into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let want = chunk.len().min(MAX_HANDSHAKE_LEN + 1 - buf.len());
        match rt::timeout(left, stream.read(&mut chunk[..want])).await {
            Err(_) => return Err(HandshakeFailure::Timeout),
            Ok(Ok(0)) => return Err(HandshakeFailure::Closed),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(e.into()),
        }
    }
}
