//! The client side of the handshake: connect, send CONNECT/0.6, read the answer (200, or
//! 503 with hosts to try), send the final 200 and start the link.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::io::AsyncWriteExt;

use crate::core::{PeerId, Role};
use crate::proto::handshake::HandshakeMessage;

use super::handshake::{self as hs, HandshakeFailure};
use super::link::{self, NewLink};
use super::roles::{self, Answer};
use super::shared::Shared;
use super::state::Direction;
use crate::rt;

/// Why an outgoing connection did not become a link.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connect failed or timed out.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The 0.6 handshake failed (refused, timed out, malformed...).
    #[error("handshake with {addr} failed: {source}")]
    Handshake {
        addr: SocketAddr,
        source: HandshakeFailure,
    },
    /// The handshake completed but the servent is shutting down.
    #[error("the servent is shutting down")]
    ShuttingDown,
    /// The address is ours, already a neighbour's, or being connected to.
    #[error("already connected or connecting to {0}")]
    Duplicate(SocketAddr),
}

pub(super) async fn connect(
    shared: &Arc<Shared>,
    addr: SocketAddr,
) -> Result<PeerId, ConnectError> {
    {
        let mut st = shared.lock();
        if addr == shared.listen
            || st.is_connected_to(None, Some(addr))
            || !st.connecting.insert(addr)
        {
            return Err(ConnectError::Duplicate(addr));
        }
    }
    let result = attempt(shared, addr).await;
    let now = shared.now();
    let mut st = shared.lock();
    st.connecting.remove(&addr);
    let backoff = shared.config.timing.reconnect_backoff;
    match &result {
        Ok(_) => st.hosts.mark_ok(addr, now),
        Err(ConnectError::Handshake { source, .. }) => {
            *st.counters
                .handshake_failures
                .entry(source.kind())
                .or_default() += 1;
            if let HandshakeFailure::WeRefused { .. } = source {
                // A leaf (we being a leaf too), or an ultrapeer full of ultrapeers: alive,
                // later.
                st.hosts.mark_busy(addr, now, backoff);
            } else if matches!(source, HandshakeFailure::Refused { .. }) {
                // Alive but full (or a duplicate): try it again later, others first.
                st.hosts.mark_busy(addr, now, backoff);
            } else {
                st.hosts.mark_failed(addr, now, backoff);
            }
        }
        Err(ConnectError::Duplicate(_)) => {}
        Err(_) => st.hosts.mark_failed(addr, now, backoff),
    }
    result
}

async fn attempt(shared: &Arc<Shared>, addr: SocketAddr) -> Result<PeerId, ConnectError> {
    let timing = &shared.config.timing;
    let mut stream = rt::connect(addr, timing.connect_timeout)
        .await
        .map_err(|source| ConnectError::Connect { addr, source })?;
    let fail = |source: HandshakeFailure| ConnectError::Handshake { addr, source };
    let remote = stream.peer_addr().unwrap_or(addr);
    let hello = HandshakeMessage::connect(hs::our_headers(&hs::ours(shared), remote));
    stream
        .write_all(&hello.encode())
        .await
        .map_err(|e| fail(e.into()))?;
    let mut buf = Vec::new();
    let reply = hs::read_block(&mut stream, &mut buf, timing.handshake_timeout)
        .await
        .map_err(fail)?;
    let theirs = reply.headers.clone();
    // Hosts to try come with refusals and acceptances alike.
    hs::learn_try_hosts(shared, &theirs);
    match reply.code() {
        Some(200) => {}
        Some(code) => {
            let reason = match &reply.start {
                crate::proto::handshake::StartLine::Status { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            return Err(fail(HandshakeFailure::Refused { code, reason }));
        }
        None => return Err(fail(HandshakeFailure::Unexpected(reply.start.to_string()))),
    }
    let guid = hs::peer_guid(&theirs);
    if guid == Some(shared.servent_id) {
        return Err(fail(HandshakeFailure::Refused {
            code: 409,
            reason: "connected to self".into(),
        }));
    }
    let peer_ultrapeer = roles::says_ultrapeer(&theirs);
    let verdict = {
        let st = shared.lock();
        let may_switch = st
            .last_role_switch
            .is_none_or(|t| shared.now().saturating_sub(t) >= timing.role_switch_min_interval);
        let mut have = st.link_counts();
        have.ultrapeers = have.ultrapeers.saturating_sub(1); // this connect
        roles::answer(
            shared.config.role,
            st.servent.role(),
            have,
            peer_ultrapeer,
            roles::ultrapeer_needed(&theirs),
            may_switch,
        )
    };
    if let Answer::Decline(reason) = verdict {
        let no = HandshakeMessage::status(503, reason, hs::try_header(shared, Some(addr)));
        let _ = stream.write_all(&no.encode()).await;
        return Err(fail(HandshakeFailure::WeRefused { code: 503, reason }));
    }
    let deflate_out = shared.config.compress && hs::says_deflate(&theirs, "Accept-Encoding");
    let deflate_in = shared.config.compress && hs::says_deflate(&theirs, "Content-Encoding");
    let mut fin = crate::proto::handshake::Headers::new();
    if deflate_out {
        fin.push("Content-Encoding", "deflate");
    }
    if verdict == Answer::BecomeLeaf {
        fin.push("X-Ultrapeer", "False");
    }
    hs::push_try_hosts(shared, &mut fin, Some(addr));
    stream
        .write_all(&HandshakeMessage::ok(fin).encode())
        .await
        .map_err(|e| fail(e.into()))?;
    let peer = link::establish(
        shared,
        NewLink {
            info: hs::peer_info(&theirs, remote),
            stream,
            remote,
            listen: Some(addr),
            servent_id: guid,
            direction: Direction::Outgoing,
            deflate_in,
            deflate_out,
            pending: buf,
        },
    )
    .ok_or(ConnectError::ShuttingDown)?;
    if verdict == Answer::BecomeLeaf {
        let now = shared.now();
        let mut st = shared.lock();
        st.switch_role(now, Role::Leaf, Some(peer));
        st.pump(now);
    }
    Ok(peer)
}
