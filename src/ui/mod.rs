//! The web interface on the servent's one port: the page (`/`, its assets under `/ui/`,
//! embedded from `src/ui/assets/`), the JSON API under `/api/v1/` ([`api`]) with its event
//! stream ([`events`]), and who may use them ([`security`]). Searches run on the
//! [`Node`] and their hits are grouped by SHA-1 ([`searches`]); downloads go through
//! [`crate::download`] into the download directory ([`downloads`]); the overlay's
//! neighbours, host cache and descriptor rates are sampled from the node ([`overlay`]);
//! `compare` runs the simulator on a blocking thread ([`compare`]). The protocol is
//! described, one example per endpoint, in `protocol/ui-api.md`.

pub mod api;
pub mod compare;
pub mod downloads;
pub mod events;
pub mod overlay;
pub mod push;
pub mod searches;
pub mod security;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use hyper::Request;

use crate::http::app::{App, AppFuture};
use crate::library::Library;
use crate::net::Node;

use events::EventBus;
pub use security::UiAccess;

/// The download directory when none is given: `downloads` under the current directory.
pub const DEFAULT_DOWNLOAD_DIR: &str = "downloads";

/// How the interface is set up.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Who may use it (loopback only by default).
    pub access: UiAccess,
    /// Where downloads go; nothing is ever written outside it.
    pub download_dir: PathBuf,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            access: UiAccess::default(),
            download_dir: PathBuf::from(DEFAULT_DOWNLOAD_DIR),
        }
    }
}

/// The running interface of one servent. Keep the `Arc` for as long as the page should
/// be served: the HTTP side holds it only weakly.
pub struct Ui {
    node: Node,
    library: Option<Arc<Library>>,
    config: UiConfig,
    /// Published to every open event stream.
    pub events: EventBus,
    searches: Mutex<searches::Searches>,
    downloads: Mutex<downloads::Downloads>,
    overlay: Mutex<overlay::Overlay>,
    compare_running: AtomicBool,
}

/// What the HTTP side holds: the interface, weakly (no cycle through the node).
struct UiApp(Weak<Ui>);

impl App for UiApp {
    fn handle(&self, peer: SocketAddr, req: Request<Bytes>) -> AppFuture {
        let ui = self.0.upgrade();
        Box::pin(async move {
            match ui {
                Some(ui) => api::route(ui, peer, req).await,
                None => api::gone(),
            }
        })
    }
}

impl Ui {
    /// Serves the interface on `node`'s port (its HTTP side routes `/`, `/ui/` and
    /// `/api/` here from now on) and starts the overlay sampler. `library` is what the
    /// node shares, if anything. The listening address in `config.access` is taken from
    /// the node.
    pub fn start(node: &Node, library: Option<Arc<Library>>, mut config: UiConfig) -> Arc<Ui> {
        config.access.listen = Some(node.listen_addr());
        let ui = Arc::new(Ui {
            node: node.clone(),
            library,
            config,
            events: EventBus::default(),
            searches: Mutex::default(),
            downloads: Mutex::default(),
            overlay: Mutex::default(),
            compare_running: AtomicBool::new(false),
        });
        if !node
            .shared()
            .http
            .set_app(Arc::new(UiApp(Arc::downgrade(&ui))))
        {
            log::warn!("the web interface was already set on this servent");
        }
        overlay::start_sampler(&ui);
        ui
    }

    /// The node the interface drives.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Its configuration.
    pub fn config(&self) -> &UiConfig {
        &self.config
    }

    fn searches(&self) -> MutexGuard<'_, searches::Searches> {
        self.searches.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn downloads(&self) -> MutexGuard<'_, downloads::Downloads> {
        self.downloads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn overlay(&self) -> MutexGuard<'_, overlay::Overlay> {
        self.overlay.lock().unwrap_or_else(|e| e.into_inner())
    }
}
