//! The two tasks of an established link. The reader frames descriptors (inflating first
//! on a deflate link), decodes a batch and feeds it to the core under one lock; the writer
//! drains the link's send queue in batches, encodes, compresses and writes.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

use crate::core::PeerId;
use crate::proto::{check, parse, Check, DecodeError, Descriptor};

use super::compress::{Deflater, Inflater};
use super::node::Shared;
use super::router::CloseReason;
use super::send_queue::{Batch, SendQueue};
use crate::rt::{self, TcpStream};

/// Bytes read from the socket per call.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes taken from the send queue per write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Reads descriptors until the link fails or is closed. `pending` holds bytes that
/// followed the handshake.
pub async fn read_loop(
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
pub async fn write_loop(
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
