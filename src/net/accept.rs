//! The server side of the handshake on the one port: read the CONNECT, refuse (409 to
//! ourselves, to a peer claiming our address, or a duplicate; 503 when full; with hosts
//! to try) or answer 200 with our headers and hosts, read the final 200 and start the
//! link. A 0.4 CONNECT gets the 0.4 OK.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::io::AsyncWriteExt;

use crate::proto::handshake::{HandshakeMessage, StartLine};

use super::handshake::{self as hs, HandshakeFailure};
use super::link::{self, NewLink};
use super::roles::{self, Admission};
use super::shared::Shared;
use super::state::Direction;
use crate::rt::TcpStream;

/// Runs the handshake on a connection whose first bytes, `buf`, said `GNUTELLA CONNECT/`.
pub(super) async fn accept_gnutella(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    remote: SocketAddr,
    mut buf: Vec<u8>,
) -> Result<(), HandshakeFailure> {
    let within = shared.config.timing.handshake_timeout;
    let connect = hs::read_block(&mut stream, &mut buf, within).await?;
    let version = match connect.start {
        StartLine::Connect { version } => version,
        other => return Err(HandshakeFailure::Unexpected(other.to_string())),
    };
    if version.major == 0 && version.minor < 6 {
        return accept_04(shared, stream, remote, buf).await;
    }
    let theirs = &connect.headers;
    hs::learn_try_hosts(shared, theirs);
    let guid = hs::peer_guid(theirs);
    let listen = hs::peer_listen(theirs, remote);
    let peer_ultrapeer = roles::says_ultrapeer(theirs);
    // Only a servent that states its role can follow guidance (come as our leaf).
    let guidable = theirs.get("X-Ultrapeer").is_some();
    let admitted = admission(shared, guid, listen, peer_ultrapeer, guidable);
    if let Err((code, reason)) = admitted {
        {
            let mut st = shared.lock();
            if code == 503 {
                st.counters.refused_full += 1;
            } else {
                st.counters.refused_duplicate += 1;
            }
            // An ultrapeer we had no room for is worth trying later; a leaf is not.
            if let Some(l) = listen.filter(|&l| l != shared.listen && peer_ultrapeer) {
                st.hosts.add(l, shared.now());
            }
        }
        let msg = HandshakeMessage::status(code, reason, hs::try_header(shared, listen));
        stream.write_all(&msg.encode()).await?;
        let _ = stream.flush().await;
        return Err(HandshakeFailure::WeRefused { code, reason });
    }
    let deflate_out = shared.config.compress && hs::says_deflate(theirs, "Accept-Encoding");
    let mut headers = hs::our_headers(&hs::ours(shared), remote);
    if deflate_out {
        headers.push("Content-Encoding", "deflate");
    }
    if let Ok(Some(needed)) = admitted {
        headers.push("X-Ultrapeer-Needed", if needed { "true" } else { "false" });
    }
    hs::push_try_hosts(shared, &mut headers, listen);
    stream
        .write_all(&HandshakeMessage::ok(headers).encode())
        .await?;
    let fin = hs::read_block(&mut stream, &mut buf, within).await?;
    match fin.code() {
        Some(200) => {}
        Some(code) => {
            return Err(HandshakeFailure::Refused {
                code,
                reason: fin.start.to_string(),
            })
        }
        None => return Err(HandshakeFailure::Unexpected(fin.start.to_string())),
    }
    hs::learn_try_hosts(shared, &fin.headers);
    let mut info = hs::peer_info(theirs, remote);
    // Taken only as a leaf (we are full of ultrapeers): one that stays an ultrapeer goes.
    // An ultrapeer we told ultrapeers are not needed may come as our leaf: its final 200
    // says `X-Ultrapeer: False`.
    if peer_ultrapeer && fin.headers.get("X-Ultrapeer").is_some() {
        info.ultrapeer = roles::says_ultrapeer(&fin.headers);
    }
    if info.ultrapeer && admitted == Ok(Some(false)) {
        shared.lock().counters.refused_full += 1;
        return Err(HandshakeFailure::WeRefused {
            code: 503,
            reason: "Full of ultrapeers",
        });
    }
    let deflate_in = shared.config.compress && hs::says_deflate(&fin.headers, "Content-Encoding");
    link::establish(
        shared,
        NewLink {
            info,
            stream,
            remote,
            listen,
            servent_id: guid,
            direction: Direction::Incoming,
            deflate_in,
            deflate_out,
            pending: buf,
        },
    );
    Ok(())
}

/// Gnutella 0.4: no headers, no third step; the peer relays like an ultrapeer of the
/// flat network.
async fn accept_04(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    remote: SocketAddr,
    buf: Vec<u8>,
) -> Result<(), HandshakeFailure> {
    stream
        .write_all(&HandshakeMessage::ok_04().encode())
        .await?;
    let info = crate::core::PeerInfo {
        addr: Some(remote),
        legacy_04: true,
        ultrapeer: true,
        ..Default::default()
    };
    link::establish(
        shared,
        NewLink {
            stream,
            remote,
            listen: None,
            servent_id: None,
            info,
            direction: Direction::Incoming,
            deflate_in: false,
            deflate_out: false,
            pending: buf,
        },
    );
    Ok(())
}

/// Whether we take this CONNECT: `Ok` with the `X-Ultrapeer-Needed` to send, or the
/// refusal's code and reason (409 to ourselves, to a peer claiming our address or a
/// duplicate; 503 shutting down, or what our role's limits say).
fn admission(
    shared: &Shared,
    guid: Option<crate::proto::Guid>,
    listen: Option<SocketAddr>,
    peer_ultrapeer: bool,
    guidable: bool,
) -> Result<Option<bool>, (u16, &'static str)> {
    let st = shared.lock();
    if guid == Some(shared.servent_id) {
        return Err((409, "Connected to self"));
    }
    if listen == Some(shared.listen) {
        // Another GUID claiming our address: a liar or a copy of our data directory.
        return Err((409, "Listen-IP is ours"));
    }
    if st.is_connected_to(guid, listen) {
        return Err((409, "Already connected"));
    }
    if shared.is_shutting_down() {
        return Err((503, "Shutting down"));
    }
    let limits = shared.config.role_limits();
    match roles::admit(st.servent.role(), peer_ultrapeer, st.link_counts(), &limits) {
        Admission::Refuse(reason) => Err((503, reason)),
        Admission::Accept {
            ultrapeer_needed: Some(false),
        } if !guidable => Err((503, "Full")),
        Admission::Accept { ultrapeer_needed } => Ok(ultrapeer_needed),
    }
}
