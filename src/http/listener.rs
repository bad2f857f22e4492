//! A stand-alone HTTP listener: an accept loop that hands every connection to
//! [`serve_accepted`] (caps, deadlines and counters as on the one port). The servent's one
//! port dispatches through its own loop; this one serves tests, benchmarks and HTTP-only
//! servers, and can be stopped with every open connection (as if the process had died).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::{AbortHandle, Abortable};

use super::context::HttpContext;
use super::server::serve_accepted;
use crate::rt::{self, TcpListener};

/// A running listener. Dropping it leaves it running; [`ServerHandle::stop`] ends it.
#[derive(Clone)]
pub struct ServerHandle {
    addr: SocketAddr,
    aborts: Arc<Mutex<HashMap<u64, AbortHandle>>>,
    accept: AbortHandle,
    accepted: Arc<AtomicU64>,
}

impl ServerHandle {
    /// The address the server listens on (the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::Acquire)
    }

    /// Stops accepting and drops every open connection mid-transfer.
    pub fn stop(&self) {
        self.accept.abort();
        for a in self
            .aborts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            a.1.abort();
        }
    }
}

/// Serves HTTP on `listener` until stopped.
pub fn serve_listener(listener: TcpListener, ctx: Arc<HttpContext>) -> io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let aborts: Arc<Mutex<HashMap<u64, AbortHandle>>> = Arc::default();
    let (accept, reg) = AbortHandle::new_pair();
    let conns = Arc::clone(&aborts);
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&accepted);
    let accept_loop = async move {
        let mut next_id = 0u64;
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    log::debug!("accept: {e}");
                    continue;
                }
            };
            counter.fetch_add(1, Ordering::AcqRel);
            let _ = stream.set_nodelay(true);
            let (abort, reg) = AbortHandle::new_pair();
            let id = next_id;
            next_id += 1;
            conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, abort);
            let ctx = Arc::clone(&ctx);
            let conns = Arc::clone(&conns);
            rt::spawn(Abortable::new(
                async move {
                    serve_accepted(stream, Vec::new(), Instant::now(), peer, ctx).await;
                    conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                },
                reg,
            ));
        }
    };
    rt::spawn(Abortable::new(accept_loop, reg));
    Ok(ServerHandle {
        addr,
        aborts,
        accept,
        accepted,
    })
}
