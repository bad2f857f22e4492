//! An established link: registering it with the core once its handshake is done, then its
//! two tasks. The reader frames descriptors (inflating first on a deflate link), decodes a
//! batch and feeds it to the core under one lock; the writer drains the link's send queue
//! in batches, encodes, compresses and writes.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

use crate::core::{PeerId, PeerInfo};
use crate::proto::{check, parse, Check, DecodeError, Descriptor, Guid};

use super::compress::{Deflater, Inflater};
use super::send_queue::{Batch, SendQueue};
use super::shared::Shared;
use super::state::{CloseReason, Direction, Link};
use crate::rt::{self, TcpStream};

/// Bytes read from the socket per call.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes taken from the send queue per write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// What a newly handshaken link is.
pub(super) struct NewLink {
    pub stream: TcpStream,
    pub remote: SocketAddr,
    pub listen: Option<SocketAddr>,
    pub servent_id: Option<Guid>,
    pub info: PeerInfo,
    pub direction: Direction,
    pub deflate_in: bool,
    pub deflate_out: bool,
    /// Bytes read after the handshake: the start of the descriptor stream.
    pub pending: Vec<u8>,
}

/// Whether `addr` is where we accept connections: our `Listen-IP`, or the local address
/// this very connection reached (which also covers a wildcard listener).
fn is_our_address(shared: &Shared, stream: &TcpStream, addr: SocketAddr) -> bool {
    addr == shared.listen || stream.local_addr().is_ok_and(|local| local == addr)
}

/// Registers an established link with the core and starts its tasks. None (and the
/// connection closed) when the servent is shutting down.
pub(super) fn establish(shared: &Arc<Shared>, link: NewLink) -> Option<PeerId> {
    // Both directions (accepted and connected) pass here: descriptors are small, and
    // Nagle would hold each behind the ACK of the one before (up to a delayed-ACK wait).
    if let Err(e) = rt::set_nodelay(&link.stream) {
        log::debug!("{}: TCP_NODELAY not set: {e}", link.remote);
    }
    let now = shared.now();
    // A peer naming our own address as its Listen-IP (under another GUID) would put us in
    // our own host cache, to be dialled and offered to others: that address is dropped.
    let listen = link
        .listen
        .filter(|&l| !is_our_address(shared, &link.stream, l));
    let (queue, doorbell) = SendQueue::new(shared.config.send_queue);
    let queue = Arc::new(queue);
    let peer = {
        let mut st = shared.lock();
        // Checked under the lock that shutdown takes to close every link: a handshake
        // finishing late cannot leave a link behind.
        if shared.is_shutting_down() {
            let _ = link.stream.shutdown(std::net::Shutdown::Both);
            return None;
        }
        let peer = st.next_peer_id();
        st.counters.links_opened += 1;
        // Only ultrapeers take connections: a leaf's address is no place to connect.
        if let Some(l) = listen.filter(|_| link.info.ultrapeer) {
            st.hosts.add(l, now);
            st.hosts.mark_ok(l, now);
        }
        st.links.insert(
            peer,
            Link {
                queue: Arc::clone(&queue),
                stream: link.stream.clone(),
                remote: link.remote,
                listen,
                servent_id: link.servent_id,
                user_agent: link.info.user_agent.clone(),
                ultrapeer: link.info.ultrapeer,
                direction: link.direction,
                deflate_in: link.deflate_in,
                deflate_out: link.deflate_out,
                last_rx: now,
                last_alive_ping: now,
            },
        );
        st.servent.handle_connected(now, peer, link.info.clone());
        // Ask a new ultrapeer for the hosts it knows (its Pong and its cached ones); a
        // leaf knows none worth asking for.
        if link.info.ultrapeer {
            st.servent.discover_from(now, peer);
        }
        st.pump(now);
        peer
    };
    log::info!(
        "link {} {} opened ({:?}, {}, deflate in/out {}/{})",
        peer.0,
        link.remote,
        link.direction,
        if link.info.user_agent.is_empty() {
            "?"
        } else {
            &link.info.user_agent
        },
        link.deflate_in,
        link.deflate_out
    );
    rt::spawn(write_loop(
        Arc::clone(shared),
        peer,
        queue,
        doorbell,
        link.stream.clone(),
        link.deflate_out,
    ));
    rt::spawn(read_loop(
        Arc::clone(shared),
        peer,
        link.stream,
        link.pending,
        link.deflate_in,
    ));
    Some(peer)
}

/// Reads descriptors until the link fails or is closed. `pending` holds bytes that
/// followed the handshake.
pub(super) async fn read_loop(
    shared: Arc<Shared>,
    peer: PeerId,
    mut stream: TcpStream,
    pending: Vec<u8>,
    deflate: bool,
) {
    let mut inflater = deflate.then(Inflater::default);
    let mut frames: Vec<u8> = Vec::with_capacity(2 * READ_CHUNK);
    let mut raw = vec![0u8; READ_CHUNK];
    let mut input = pending;
    let reason = 'link: loop {
        // Turn `input` into frame bytes (inflating in bounded chunks), handing complete
        // descriptors to the core as they appear.
        let mut consumed = 0;
        while consumed < input.len() {
            let before = frames.len();
            match inflater.as_mut() {
                Some(inf) => match inf.inflate(&input[consumed..], &mut frames) {
                    Ok(used) => {
                        consumed += used;
                        if used == 0 && frames.len() == before {
                            break; // no progress: wait for more input
                        }
                    }
                    Err(e) => {
                        log::debug!("link {}: {e}", peer.0);
                        break 'link CloseReason::BadCompression;
                    }
                },
                None => {
                    frames.extend_from_slice(&input[consumed..]);
                    consumed = input.len();
                }
            }
            if let Err(reason) = deliver_frames(&shared, peer, &mut frames) {
                break 'link reason;
            }
        }
        input.clear();
        // Fairness: after each chunk, let the writers and other links on this thread run.
        rt::yield_now().await;
        match stream.read(&mut raw).await {
            Ok(0) => break CloseReason::PeerClosed,
            Ok(n) => input.extend_from_slice(&raw[..n]),
            Err(_) => break CloseReason::Io,
        }
    };
    shared.close_link(peer, reason);
}

/// Decodes every complete descriptor at the front of `frames` and feeds them to the core
/// in one batch; leaves a partial descriptor in place.
fn deliver_frames(shared: &Shared, peer: PeerId, frames: &mut Vec<u8>) -> Result<(), CloseReason> {
    let mut batch: Vec<Result<Descriptor, DecodeError>> = Vec::new();
    let mut pos = 0;
    let mut fatal = None;
    loop {
        match check(&frames[pos..]) {
            Ok(Check::Complete(n)) => {
                batch.push(parse(&frames[pos..pos + n]));
                pos += n;
            }
            Ok(Check::Incomplete) => break,
            Err(e) => {
                log::debug!("link {}: {e}", peer.0);
                fatal = Some(CloseReason::FrameTooLarge);
                break;
            }
        }
    }
    frames.drain(..pos);
    if !batch.is_empty() {
        shared.handle_batch(peer, batch);
    }
    fatal.map_or(Ok(()), Err)
}

/// Writes queued descriptors until the queue is closed or the socket fails.
pub(super) async fn write_loop(
    shared: Arc<Shared>,
    peer: PeerId,
    queue: Arc<SendQueue>,
    mut doorbell: mpsc::Receiver<()>,
    mut stream: TcpStream,
    deflate: bool,
) {
    let mut deflater = deflate.then(Deflater::default);
    let mut plain = Vec::with_capacity(64 * 1024);
    let mut wire = Vec::new();
    let stall = shared.config.timing.write_stall_timeout;
    let failure = loop {
        plain.clear();
        match queue.take(&mut plain, WRITE_BATCH_BYTES) {
            Batch::Descriptors(_) => {}
            Batch::Closed => break None,
            Batch::Empty => {
                if doorbell.next().await.is_none() {
                    break None;
                }
                continue;
            }
        }
        let bytes = match deflater.as_mut() {
            Some(def) => {
                wire.clear();
                if def.compress(&plain, &mut wire).is_err() {
                    break Some(CloseReason::Io);
                }
                &wire
            }
            None => &plain,
        };
        match rt::timeout(stall, stream.write_all(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break Some(CloseReason::Io),
            Err(_) => break Some(CloseReason::WriteStalled),
        }
    };
    let _ = rt::timeout(stall, stream.flush()).await;
    let _ = stream.shutdown(std::net::Shutdown::Both);
    if let Some(reason) = failure {
        shared.close_link(peer, reason);
    }
}
