//! What the HTTP side needs from the rest of the servent ([`HttpContext`]: `/status`, the
//! server name, the shared library) and what it keeps across connections (the admission
//! gate, upload slots, kept-open files, counters).

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use hyper::header::HeaderValue;

use super::admission::Gate;
use super::alt::AltMesh;
use super::app::App;
use super::ended::EndCounters;
use super::limits::HttpLimits;
use super::open_files::OpenFiles;
use super::rate::RateLimit;
use super::uploads::UploadSlots;
use crate::library::Library;

/// Upload slots when none are configured: a handful of parallel uploads, as servents
/// on home links offer.
pub const DEFAULT_MAX_UPLOADS: usize = 8;

/// What the HTTP side needs from the rest of the servent. Build it with
/// [`HttpContext::new`] and the `with_*` setters.
pub struct HttpContext {
    /// Renders `/status` as JSON.
    pub status: Box<dyn Fn() -> String + Send + Sync>,
    /// `User-Agent`/`Server` value.
    pub server_name: String,
    /// The shared files; `None` shares nothing.
    pub library: Option<Arc<Library>>,
    /// Upload slots: how many file bodies may be sent at once (503 beyond).
    pub uploads: UploadSlots,
    /// Connection caps and timeouts, and who holds a slot.
    pub gate: Gate,
    /// Request, byte and refusal counters for `/status`.
    pub stats: HttpStats,
    /// The upload limit shared by every file body sent (`--max-upload-rate`).
    pub upload_rate: Arc<RateLimit>,
    /// Whether each request is logged at info level (the access log; off with `--quiet`).
    pub access_log: bool,
    /// Alternate locations per SHA-1 told by downloaders (`X-Alt`), handed back to others.
    pub mesh: AltMesh,
    /// Our servent ID, named in browse-host QueryHits (so a browser can Push to us);
    /// `None` outside a servent: a random one per process.
    pub servent_id: Option<[u8; 16]>,
    /// The application served on `/`, `/ui/` and `/api/` (the web interface), set once
    /// the servent runs ([`HttpContext::set_app`]); unset: those paths are 404.
    pub app: OnceLock<Arc<dyn App>>,
    pub(crate) open_files: OpenFiles,
    server_header: OnceLock<Option<HeaderValue>>,
}

impl HttpContext {
    /// A server named `server_name` (sent as `Server`) whose `/status` is rendered by
    /// `status`; it shares nothing until [`HttpContext::with_library`].
    pub fn new(
        server_name: impl Into<String>,
        status: impl Fn() -> String + Send + Sync + 'static,
    ) -> HttpContext {
        HttpContext {
            status: Box::new(status),
            server_name: server_name.into(),
            library: None,
            uploads: UploadSlots::new(DEFAULT_MAX_UPLOADS),
            gate: Gate::new(HttpLimits::default()),
            stats: HttpStats::default(),
            upload_rate: Arc::new(RateLimit::unlimited()),
            access_log: true,
            mesh: AltMesh::default(),
            servent_id: None,
            app: OnceLock::new(),
            open_files: OpenFiles::default(),
            server_header: OnceLock::new(),
        }
    }

    /// Names `servent_id` as ours in browse-host QueryHits.
    pub fn with_servent_id(mut self, servent_id: [u8; 16]) -> HttpContext {
        self.servent_id = Some(servent_id);
        self
    }

    /// Serves the files of `library`.
    pub fn with_library(mut self, library: Arc<Library>) -> HttpContext {
        self.library = Some(library);
        self
    }

    /// The `Server` header value (built once; none when the name is not a valid value).
    pub fn server_header(&self) -> Option<&HeaderValue> {
        self.server_header
            .get_or_init(|| HeaderValue::from_str(&self.server_name).ok())
            .as_ref()
    }

    /// At most `n` file bodies at once; more get 503 with `Retry-After`.
    pub fn with_max_uploads(mut self, n: usize) -> HttpContext {
        self.uploads = UploadSlots::new(n);
        self
    }

    /// File bodies sent within `limit`, all together (`--max-upload-rate`).
    pub fn with_upload_limit(mut self, limit: Arc<RateLimit>) -> HttpContext {
        self.upload_rate = limit;
        self
    }

    /// Logs one line per request (true, the default) or none.
    pub fn with_access_log(mut self, on: bool) -> HttpContext {
        self.access_log = on;
        self
    }

    /// Serves `app` on `/`, `/ui/` and `/api/` from now on; false when one is already set.
    pub fn set_app(&self, app: Arc<dyn App>) -> bool {
        self.app.set(app).is_ok()
    }

    /// Other connection caps and timeouts than the defaults (tests use short ones).
    pub fn with_limits(mut self, limits: HttpLimits) -> HttpContext {
        self.gate = Gate::new(limits);
        self
    }
}

/// Counters of the HTTP side (shown in `/status`, read by tests).
#[derive(Default)]
pub struct HttpStats {
    /// HTTP requests answered (any status).
    pub requests: AtomicU64,
    /// Body bytes of shared files handed to the connection.
    pub bytes_served: Arc<AtomicU64>,
    /// File requests refused with 503 because every upload slot was taken.
    pub busy_refusals: AtomicU64,
    /// How connections ended, one count per connection.
    pub ended: EndCounters,
}
