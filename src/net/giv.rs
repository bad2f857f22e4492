//! Push and GIV, the connections. As a firewalled servent: answering a Push for us by
//! connecting to its address, sending `GIV` and serving HTTP on that connection with the
//! listener's server code. As a downloader: [`push_and_wait`] sends a Push and waits for
//! the GIV connection, which the port hands over here ([`accept_giv`]); an unsolicited
//! or malformed GIV is counted and closed. What to answer and who waits is `push.rs`'s.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

use crate::http::server::serve_accepted;
use crate::proto::giv::{Giv, GivError};
use crate::proto::payload::Push;
use crate::proto::Guid;
use crate::rt::{self, TcpStream};

use super::push::{GivConnection, PushError};
use super::shared::Shared;

/// Starts the connect-back task of a servent; the driver's state then passes it Pushes.
/// The task holds the servent weakly: it ends when the servent is gone (its state, with
/// the sending end, dropped) or shutting down.
pub(super) fn start(shared: &Arc<Shared>) {
    let (tx, rx) = mpsc::unbounded();
    shared.lock().push.to_answer = Some(tx);
    rt::spawn(answer_pushes(Arc::downgrade(shared), rx));
}

async fn answer_pushes(weak: Weak<Shared>, mut rx: mpsc::UnboundedReceiver<Push>) {
    while let Some(push) = rx.next().await {
        let Some(shared) = weak.upgrade() else {
            break;
        };
        if shared.is_shutting_down() {
            break;
        }
        rt::spawn(async move {
            give(&shared, &push).await;
            shared.lock().push.in_flight -= 1;
        });
    }
}

/// Connects to the Push's address, sends our GIV and serves HTTP on the connection with
/// the listener's server code (its gate, limits and counters).
async fn give(shared: &Arc<Shared>, push: &Push) {
    let to = SocketAddrV4::new(push.ip, push.port);
    let timing = &shared.config.timing;
    let mut stream = match rt::connect(SocketAddr::V4(to), timing.connect_timeout).await {
        Ok(s) => s,
        Err(e) => {
            log::info!("push: cannot connect to {to}: {e}");
            let now = shared.now();
            shared.lock().push.connect_failed(now, to);
            return;
        }
    };
    // gtk-gnutella writes `file` for the name; we give the real one when we share it.
    let name = shared
        .http
        .library
        .as_ref()
        .and_then(|l| l.get(push.file_index))
        .map_or_else(|| "file".to_owned(), |f| f.name.clone());
    let block = Giv::encode(push.file_index, shared.servent_id, &name);
    let sent = rt::timeout(timing.handshake_timeout, stream.write_all(&block)).await;
    if !matches!(sent, Ok(Ok(()))) {
        log::info!("push: could not send GIV to {to}");
        let now = shared.now();
        shared.lock().push.connect_failed(now, to);
        return;
    }
    shared.lock().push.counters.givs_sent += 1;
    log::info!("push: sent GIV {} to {to}", push.file_index);
    let end = serve_accepted(
        stream,
        Vec::new(),
        Instant::now(),
        SocketAddr::V4(to),
        Arc::clone(&shared.http),
    )
    .await;
    log::debug!("push: HTTP on the GIV connection to {to} ended: {end:?}");
}

/// A connection whose first bytes were `GIV `: reads the rest of the block (bounded in
/// length and time), parses it and hands the connection to the download waiting for that
/// servent; anything else is counted and closed.
pub(super) async fn accept_giv(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    remote: SocketAddr,
    mut buf: Vec<u8>,
) {
    let within = shared.config.timing.handshake_timeout;
    let read = async {
        let mut chunk = [0u8; 256];
        loop {
            if let Some(n) = Giv::block_len(&buf).map_err(GivError::name)? {
                return Ok(n);
            }
            match stream.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return Err("closed"),
            }
        }
    };
    let parsed = match rt::timeout(within, read).await {
        Err(rt::TimedOut) => Err("timeout"),
        Ok(Err(why)) => Err(why),
        // The downloader speaks first on a GIV connection: bytes after the block are not
        // ours to have.
        Ok(Ok(n)) if n < buf.len() => Err("extra-data"),
        Ok(Ok(n)) => Giv::parse(&buf[..n]).map_err(GivError::name),
    };
    let giv = match parsed {
        Ok(g) => g,
        Err(why) => {
            log::info!("GIV from {remote} refused: {why}");
            let mut st = shared.lock();
            *st.push.counters.giv_malformed.entry(why).or_default() += 1;
            return;
        }
    };
    log::info!("GIV {}:{} from {remote}", giv.index, giv.servent_id);
    let conn = GivConnection {
        stream,
        remote,
        giv,
    };
    let mut st = shared.lock();
    match st.push.hand_over(conn) {
        Ok(()) => st.push.counters.giv_matched += 1,
        Err(conn) => {
            st.push.counters.giv_unsolicited += 1;
            drop(st);
            log::info!("unsolicited GIV from {remote}: closed");
            let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Removes a waiter when its download stops waiting (got its GIV, timed out or dropped).
struct WaiterGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().push.forget_waiter(self.id);
    }
}

/// Sends a Push asking the servent `servent_id` to connect back to us for file `index`
/// and waits at most `within` for its GIV connection ([`crate::net::Node::push_and_wait`]).
pub(super) async fn push_and_wait(
    shared: &Shared,
    servent_id: Guid,
    index: u32,
    within: Duration,
) -> Result<GivConnection, PushError> {
    let now = shared.now();
    let (tx, rx) = oneshot::channel();
    let id = {
        let mut st = shared.lock();
        let (ip, port) = (st.servent.config().ip, st.servent.config().port);
        let Some(id) = st.push.wait_for(servent_id, index, tx) else {
            return Err(PushError::TooManyWaiting);
        };
        let push = Push {
            servent_id,
            file_index: index,
            ip,
            port,
            ggep: None,
        };
        if !st.servent.push(now, push) {
            st.push.forget_waiter(id);
            st.push.counters.no_route += 1;
            return Err(PushError::NoRoute);
        }
        st.push.counters.sent += 1;
        st.pump(now);
        id
    };
    let _guard = WaiterGuard { shared, id };
    match rt::timeout(within, rx).await {
        Ok(Ok(conn)) => Ok(conn),
        _ => {
            shared.lock().push.counters.giv_timeouts += 1;
            Err(PushError::Timeout(within))
        }
    }
}
