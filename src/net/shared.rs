//! What every task of a networked servent holds: its settings and identity, the clock the
//! core runs on, the [`State`] behind its one mutex, the router's channel, the shutdown
//! flag and the HTTP side.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use futures::channel::oneshot;

use crate::core::PeerId;
use crate::http::HttpContext;
use crate::proto::Guid;

use super::config::NodeConfig;
use super::inbox::Inbox;
use super::state::{CloseReason, State};

pub struct Shared {
    pub config: NodeConfig,
    pub servent_id: Guid,
    pub listen: SocketAddr,
    epoch: Instant,
    state: Mutex<State>,
    shutting_down: AtomicBool,
    /// Dropped on shutdown: ends the accept loop, which closes the listener.
    stop_accepting: Mutex<Option<oneshot::Sender<()>>>,
    /// The router's channel, cloned by each link's reader; dropped on shutdown, so the
    /// router ends once the last reader does.
    inbox: Mutex<Option<Inbox>>,
    pub http: Arc<HttpContext>,
}

impl Shared {
    /// The shared part of a servent listening on `listen`. `http` builds the HTTP side
    /// from a weak handle on it (for `/status`); the clock starts now.
    pub(super) fn new(
        config: NodeConfig,
        servent_id: Guid,
        listen: SocketAddr,
        state: State,
        stop_accepting: oneshot::Sender<()>,
        inbox: Inbox,
        http: impl FnOnce(Weak<Shared>) -> HttpContext,
    ) -> Arc<Shared> {
        Arc::new_cyclic(|weak: &Weak<Shared>| Shared {
            servent_id,
            listen,
            epoch: Instant::now(),
            state: Mutex::new(state),
            shutting_down: AtomicBool::new(false),
            stop_accepting: Mutex::new(Some(stop_accepting)),
            inbox: Mutex::new(Some(inbox)),
            http: Arc::new(http(weak.clone())),
            config,
        })
    }

    /// Time since the node started: the core's clock.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Marks the servent as shutting down (under the state lock, which
    /// `link::establish` checks it under), stops the accept loop and wakes the
    /// timer task so it ends.
    pub fn begin_shutdown(&self) {
        {
            let mut st = self.lock();
            self.shutting_down.store(true, Ordering::SeqCst);
            st.deadline.ring();
        }
        self.stop_accepting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The channel a new link's reader sends its batches on; None once shutting down.
    pub(super) fn inbox(&self) -> Option<Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn close_link(&self, peer: PeerId, reason: CloseReason) {
        let now = self.now();
        let mut st = self.lock();
        st.close_link(now, peer, reason);
        st.pump(now);
    }

    pub fn count_encode_error(&self) {
        self.lock().counters.encode_errors += 1;
    }
}
