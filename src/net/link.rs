//! An established link: registering it with the core once its handshake is done, then its
//! two tasks. The reader frames descriptors (inflating first on a deflate link), decodes a
//! batch and feeds it to the core under one lock; the writer drains the link's send queue
//! in batches, compresses and writes. Buffers grow with what a link carries and shrink
//! when it goes quiet, so an idle link costs a few KiB.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::{SinkExt, StreamExt};

use crate::core::{PeerId, PeerInfo};
use crate::proto::{check, parse, Check, DecodeError, Descriptor, Guid};

use super::compress::{Deflater, Inflater};
use super::inbox::{Inbox, Input};
use super::send_queue::{Batch, SendQueue, KEEP_IDLE_BYTES};
use super::shared::Shared;
use super::state::{CloseReason, Direction, Link};
use crate::rt::{self, TcpStream};

/// Most bytes read from the socket per call (a busy link; a quiet one reads less).
const READ_CHUNK: usize = 64 * 1024;
/// Most bytes taken from the send queue per write: a whole default queue, so a backed-up
/// link catches up in one system call.
const WRITE_BATCH_BYTES: usize = super::send_queue::SEND_QUEUE_BYTES;

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
    // None only once shutdown began, which the check under the lock below catches.
    let inbox = shared.inbox();
    let (peer, inbox) = {
        let mut st = shared.lock();
        // Checked under the lock that shutdown takes to close every link: a handshake
        // finishing late cannot leave a link behind.
        let Some(inbox) = inbox.filter(|_| !shared.is_shutting_down()) else {
            let _ = link.stream.shutdown(std::net::Shutdown::Both);
            return None;
        };
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
                outbox: Default::default(),
                flow_controlled: false,
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
        if link.info.ultrapeer && shared.config.discover_hosts {
            st.servent.discover_from(now, peer);
        }
        st.pump(now);
        (peer, inbox)
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
        inbox,
        peer,
        link.stream,
        link.pending,
        link.deflate_in,
    ));
    Some(peer)
}

/// Reads descriptors until the link fails or is closed. `pending` holds bytes that
/// followed the handshake. Plain bytes are read straight onto the end of the frame buffer;
/// deflated ones into an input buffer and inflated onto it. Every complete descriptor is
/// handed to the core as soon as it is there, a whole read's worth under one lock.
pub(super) async fn read_loop(
    mut inbox: Inbox,
    peer: PeerId,
    mut stream: TcpStream,
    pending: Vec<u8>,
    deflate: bool,
) {
    let mut inflater = deflate.then(Inflater::default);
    let mut frames: Vec<u8> = Vec::new();
    let mut input = pending;
    let mut batch = Vec::new();
    let mut size = ReadSize::default();
    let reason = 'link: loop {
        match inflater.as_mut() {
            None => {
                if !input.is_empty() {
                    frames.append(&mut input);
                }
                let framed = frame(peer, &mut frames, &mut batch);
                if !deliver(&mut inbox, peer, &mut batch).await {
                    return;
                }
                if let Err(reason) = framed {
                    break 'link reason;
                }
            }
            Some(inf) => {
                // Inflate in bounded chunks, delivering descriptors as they appear.
                let mut consumed = 0;
                while consumed < input.len() {
                    let before = frames.len();
                    match inf.inflate_at_most(&input[consumed..], &mut frames, 4 * size.0) {
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
                    }
                    let framed = frame(peer, &mut frames, &mut batch);
                    if !deliver(&mut inbox, peer, &mut batch).await {
                        return;
                    }
                    if let Err(reason) = framed {
                        break 'link reason;
                    }
                }
                input.clear();
            }
        }
        let buf = if inflater.is_some() {
            &mut input
        } else {
            &mut frames
        };
        let start = buf.len();
        buf.resize(start + size.0, 0);
        match rt::timeout(IDLE_SHRINK, stream.read(&mut buf[start..])).await {
            Ok(Ok(0)) => break CloseReason::PeerClosed,
            Ok(Ok(n)) => {
                buf.truncate(start + n);
                let filled = n == size.0;
                size.after_read(n);
                if filled {
                    // More is probably waiting: let the writers and other links on this
                    // thread run first.
                    rt::yield_now().await;
                }
            }
            Ok(Err(_)) => break CloseReason::Io,
            Err(rt::TimedOut) => {
                // Quiet: keep only what a quiet link needs for its next read.
                buf.truncate(start);
                size = ReadSize::default();
                shrink(&mut frames, MIN_READ);
                shrink(&mut input, MIN_READ);
                if batch.capacity() > MIN_BATCH {
                    batch = Vec::new();
                }
            }
        }
    };
    // After every batch sent before it; the router is gone only when we shut down.
    let _ = inbox.send(Input::Closed(peer, reason)).await;
}

/// Hands a non-empty batch to the router (waiting while its channel is full: the peer
/// is slowed by TCP). False when the router is gone (shutting down).
async fn deliver(
    inbox: &mut Inbox,
    peer: PeerId,
    batch: &mut Vec<Result<Descriptor, DecodeError>>,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let next = Vec::with_capacity(batch.len());
    inbox
        .send(Input::Batch(peer, std::mem::replace(batch, next)))
        .await
        .is_ok()
}

/// Smallest read: what a quiet link asks the socket for (and holds while it waits).
const MIN_READ: usize = 2 * 1024;
/// Descriptors a quiet link's batch vector keeps room for.
const MIN_BATCH: usize = 64;
/// A link that received nothing for this long gives back its read buffers.
const IDLE_SHRINK: std::time::Duration = std::time::Duration::from_secs(2);

/// How much the next read asks for: doubles after a read that filled it (a busy link
/// reads up to [`READ_CHUNK`] per call), halves after one that used under a quarter.
struct ReadSize(usize);

impl Default for ReadSize {
    fn default() -> Self {
        ReadSize(MIN_READ)
    }
}

impl ReadSize {
    fn after_read(&mut self, n: usize) {
        if n >= self.0 {
            self.0 = (self.0 * 2).min(READ_CHUNK);
        } else if n < self.0 / 4 {
            self.0 = (self.0 / 2).max(MIN_READ);
        }
    }
}

/// Frees most of a buffer's spare room, keeping its bytes and about `keep` more.
fn shrink(buf: &mut Vec<u8>, keep: usize) {
    if buf.capacity() > buf.len() + 2 * keep {
        buf.shrink_to(buf.len() + keep);
    }
}

/// Decodes every complete descriptor at the front of `frames` onto `batch`; leaves a
/// partial descriptor. An error when the stream cannot be framed any more.
fn frame(
    peer: PeerId,
    frames: &mut Vec<u8>,
    batch: &mut Vec<Result<Descriptor, DecodeError>>,
) -> Result<(), CloseReason> {
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
    fatal.map_or(Ok(()), Err)
}

/// A writer with nothing to send for this long drops its compressor (see `compress.rs`);
/// the next batch starts a fresh one that continues the stream.
const DEFLATE_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes queued descriptors until the queue is closed or the socket fails.
pub(super) async fn write_loop(
    shared: Arc<Shared>,
    peer: PeerId,
    queue: Arc<SendQueue>,
    mut doorbell: mpsc::Receiver<()>,
    mut stream: TcpStream,
    deflate: bool,
) {
    let mut deflater: Option<Deflater> = None;
    // Whether the zlib header went out: a later compressor continues the stream raw.
    let mut started = false;
    let mut plain = Vec::new();
    let mut wire = Vec::new();
    let stall = shared.config.timing.write_stall_timeout;
    let failure = loop {
        plain.clear();
        match queue.take(&mut plain, WRITE_BATCH_BYTES) {
            Batch::Descriptors(_) => {}
            Batch::Closed => break None,
            Batch::Empty => {
                // Idle: keep only small buffers; after a while, drop the compressor.
                for buf in [&mut plain, &mut wire] {
                    if buf.capacity() > KEEP_IDLE_BYTES {
                        *buf = Vec::new();
                    }
                }
                let rung = if deflater.is_some() {
                    match rt::timeout(DEFLATE_IDLE, doorbell.next()).await {
                        Ok(rung) => rung,
                        Err(rt::TimedOut) => {
                            deflater = None;
                            continue;
                        }
                    }
                } else {
                    doorbell.next().await
                };
                if rung.is_none() {
                    break None;
                }
                continue;
            }
        }
        let bytes = if deflate {
            let def = deflater.get_or_insert_with(|| {
                if std::mem::replace(&mut started, true) {
                    Deflater::resume()
                } else {
                    Deflater::default()
                }
            });
            wire.clear();
            if def.compress(&plain, &mut wire).is_err() {
                break Some(CloseReason::Io);
            }
            &wire
        } else {
            &plain
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
