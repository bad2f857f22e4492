//! Options shared by every command that shares files (`--share`, `--share-hidden`,
//! `--data-dir`, `--max-uploads`): flatten [`LibraryArgs`] into a command's arguments and
//! build the library and the HTTP context from it; and the bandwidth limits
//! ([`RateArgs`], [`DownloadRateArgs`]).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use servent::http::limits::{HttpLimits, MAX_HTTP_PER_ADDRESS};
use servent::http::rate::{self, parse_rate, RateLimit};
use servent::http::server::{HttpContext, DEFAULT_MAX_UPLOADS};
use servent::library::{Library, LibraryConfig};

#[derive(Debug, Clone, Args)]
pub struct LibraryArgs {
    /// Share the files under DIR, recursively (repeatable). Rescanned on SIGHUP or
    /// `POST /library/rescan` from loopback.
    #[arg(long = "share", value_name = "DIR")]
    pub share: Vec<PathBuf>,
    /// Share hidden files and directories (names starting with a dot) too.
    #[arg(long)]
    pub share_hidden: bool,
    /// Where the SHA-1 cache is kept [default: $XDG_DATA_HOME/servent, else
    /// ~/.local/share/servent].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Upload slots: file bodies sent at once; more requests get 503 + Retry-After.
    #[arg(long, default_value_t = DEFAULT_MAX_UPLOADS)]
    pub max_uploads: usize,
    /// HTTP connections open at once from one client address (an IPv6 client: its /64);
    /// more are refused with 503. Raise it for a benchmark whose clients all come from one
    /// address.
    #[arg(long, value_name = "N", default_value_t = MAX_HTTP_PER_ADDRESS)]
    pub max_http_per_address: usize,
}

impl LibraryArgs {
    /// The data directory (given, or the XDG default).
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("servent");
        }
        match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".local/share/servent"),
            None => PathBuf::from(".servent"),
        }
    }

    /// Scans the shares (hashing goes on in the background, with a progress bar on a
    /// terminal) and arranges a rescan on SIGHUP. `None` when nothing is shared.
    pub fn open_library(&self) -> anyhow::Result<Option<Arc<Library>>> {
        if self.share.is_empty() {
            return Ok(None);
        }
        let lib = Library::open(LibraryConfig {
            roots: self.share.clone(),
            data_dir: Some(self.data_dir()),
            include_hidden: self.share_hidden,
            progress: Some(super::progress::hashing_hook()),
        })
        .context("opening the shared library")?;
        lib.rescan_on_sighup()
            .context("installing the SIGHUP handler")?;
        Ok(Some(lib))
    }

    /// The HTTP context for these options.
    pub fn http_context(
        &self,
        server_name: impl Into<String>,
        status: impl Fn() -> String + Send + Sync + 'static,
        library: Option<Arc<Library>>,
    ) -> HttpContext {
        let limits = HttpLimits {
            max_per_address: self.max_http_per_address.max(1),
            ..HttpLimits::default()
        };
        let ctx = HttpContext::new(server_name, status)
            .with_max_uploads(self.max_uploads)
            .with_limits(limits);
        match library {
            Some(l) => ctx.with_library(l),
            None => ctx,
        }
    }
}

/// `--max-upload-rate` and `--max-download-rate`: token buckets shared by every upload,
/// and by every download, of the process.
#[derive(Debug, Clone, Args)]
pub struct RateArgs {
    /// Upload limit for every file body served, together, in bytes per second (500K, 2M:
    /// K, M and G are powers of 1024) [default: unlimited].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_upload_rate: Option<u64>,
    #[command(flatten)]
    pub download: DownloadRateArgs,
}

/// `--max-download-rate` alone, for commands that only download.
#[derive(Debug, Clone, Args)]
pub struct DownloadRateArgs {
    /// Download limit for every download, together, in bytes per second (500K, 2M: K, M
    /// and G are powers of 1024) [default: unlimited].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_download_rate: Option<u64>,
}

impl DownloadRateArgs {
    /// Sets the process's download limit (call before the first download).
    pub fn apply(&self) {
        rate::set_download_limit(self.max_download_rate);
    }
}

impl RateArgs {
    /// Sets the download limit and returns the upload limit to give the HTTP context.
    pub fn apply(&self) -> Arc<RateLimit> {
        self.download.apply();
        Arc::new(RateLimit::new(self.max_upload_rate))
    }
}

/// `status` with the bandwidth limits and the bytes through them added to its JSON object
/// (as `bandwidth`: `upload` and `download`, each `limit_bytes_per_sec` and `bytes`).
pub fn status_with_rates(
    status: impl Fn() -> String + Send + Sync + 'static,
    upload: Arc<RateLimit>,
) -> impl Fn() -> String + Send + Sync + 'static {
    move || {
        let text = status();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(mut o)) => {
                o.insert(
                    "bandwidth".into(),
                    serde_json::json!({
                        "upload": upload.status(),
                        "download": rate::download().status(),
                    }),
                );
                serde_json::Value::Object(o).to_string()
            }
            _ => text,
        }
    }
}
