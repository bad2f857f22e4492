//! `servent serve`: one servent on a TCP port, until Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;

use servent::core::RolePolicy;
use servent::net::{Node, NodeConfig};
use servent::rt;
use servent::ui::{Ui, UiAccess, UiConfig};

/// Shortest `--ui-token` taken: a token guards downloads and file writes, so it must not
/// be guessable.
const MIN_TOKEN_LEN: usize = 16;

use super::library_args::{status_with_rates, LibraryArgs, RateArgs};
use super::signals;
use servent::net::handshake::user_agent;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the one port (overlay, HTTP, push callbacks). Port 0: the OS picks.
    #[arg(long, default_value = "127.0.0.1:6346")]
    pub listen: SocketAddr,
    /// Servent to connect to at start (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<SocketAddr>,
    /// Shared folders, upload slots, and the data directory (SHA-1 cache, host cache,
    /// servent ID: a restarted servent rejoins without --peer and keeps its ID).
    #[command(flatten)]
    pub library: LibraryArgs,
    /// Bandwidth limits (shown in /status as `bandwidth`).
    #[command(flatten)]
    pub rates: RateArgs,
    /// No access log: one line per HTTP request (client, method, path, status, bytes,
    /// duration) is logged at info level otherwise.
    #[arg(long)]
    pub quiet: bool,
    /// Ultrapeer or leaf. auto: a leaf when there are servents to join, an ultrapeer when
    /// there are none or no ultrapeer takes it in (within 10 s), a leaf again when an
    /// ultrapeer says ultrapeers are not needed; as real 0.6 servents decide.
    #[arg(long, default_value_t = RolePolicy::Auto)]
    pub role: RolePolicy,
    /// As an ultrapeer, keep at least this many ultrapeer links (connect from the host
    /// cache). A leaf keeps --leaf-ultrapeers.
    #[arg(long, default_value_t = 3)]
    pub min_peers: usize,
    /// As an ultrapeer, refuse ultrapeers beyond this many links (503 with X-Try). Also our
    /// `X-Degree`: gtk-gnutella's leaves take only ultrapeers of degree 16 or more, and the
    /// real network's keep 32.
    #[arg(long, default_value_t = servent::core::role::MAX_ULTRAPEER_LINKS)]
    pub max_peers: usize,
    /// As an ultrapeer, refuse leaves beyond this many.
    #[arg(long, default_value_t = servent::core::role::MAX_LEAVES)]
    pub max_leaves: usize,
    /// As a leaf, the ultrapeers to keep.
    #[arg(long, default_value_t = servent::core::role::LEAF_ULTRAPEERS)]
    pub leaf_ultrapeers: usize,
    /// TTL + hops limit.
    #[arg(long, default_value_t = 7)]
    pub max_ttl: u8,
    /// Never compress links (deflate is offered and accepted by default).
    #[arg(long)]
    pub no_deflate: bool,
    /// Seed of the servent's RNG (descriptor IDs), for a reproducible run. Default: a
    /// fresh seed from the OS at every start (logged), so no two servents send the same IDs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// We cannot be connected to (behind a NAT or firewall): our QueryHits ask
    /// downloaders for a Push, and we connect out to them with GIV. Without it a servent
    /// counts as firewalled after 30 minutes with no incoming connection.
    #[arg(long)]
    pub firewalled: bool,
    /// Where downloads started from the web interface go (nothing is written outside it).
    #[arg(long, value_name = "DIR", default_value = servent::ui::DEFAULT_DOWNLOAD_DIR)]
    pub download_dir: std::path::PathBuf,
    /// Let non-loopback clients use the web interface and its API (on the same port),
    /// only with --ui-token. Without it only loopback clients get the page.
    #[arg(long, requires = "ui_token")]
    pub ui_remote: bool,
    /// The token remote clients must show: `Authorization: Bearer TOKEN`, or open the
    /// page once as http://HOST:PORT/?token=TOKEN (it then sets a cookie).
    #[arg(long, value_name = "TOKEN")]
    pub ui_token: Option<String>,
}

impl ServeArgs {
    /// The web interface's settings.
    pub fn ui_config(&self) -> UiConfig {
        UiConfig {
            access: UiAccess {
                listen: None,
                remote: self.ui_remote,
                token: self.ui_token.clone(),
            },
            download_dir: self.download_dir.clone(),
        }
    }

    pub fn node_config(&self) -> NodeConfig {
        NodeConfig {
            listen: self.listen,
            peers: self.peers.clone(),
            data_dir: Some(self.library.data_dir()),
            role: self.role,
            min_peers: self.min_peers,
            max_peers: self.max_peers.max(1),
            max_leaves: self.max_leaves,
            leaf_ultrapeers: self.leaf_ultrapeers.max(1),
            max_ttl: self.max_ttl,
            seed: self.seed,
            compress: !self.no_deflate,
            firewalled: self.firewalled,
            ..NodeConfig::default()
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    servent::net::fd_limit::raise_open_files_or_warn();
    let mut sigs = signals::signals()?;
    let library = args.library.open_library()?;
    let matcher = library.as_ref().map(|l| l.shared_files());
    let upload = args.rates.apply();
    let access_log = !args.quiet;
    if args.ui_remote
        && args
            .ui_token
            .as_deref()
            .is_none_or(|t| t.len() < MIN_TOKEN_LEN)
    {
        anyhow::bail!("--ui-remote needs --ui-token of at least {MIN_TOKEN_LEN} characters");
    }
    let ui_library = library.clone();
    rt::block_on(async move {
        let http_args = args.library.clone();
        let node = Node::start(args.node_config(), matcher, move |status| {
            let status = status_with_rates(status, Arc::clone(&upload));
            http_args
                .http_context(user_agent(), status, library)
                .with_upload_limit(upload)
                .with_access_log(access_log)
        })
        .await?;
        let _ui = Ui::start(&node, ui_library, args.ui_config());
        println!(
            "servent {} listening on {} as {} (web interface: http://{}/, status: http://{}/status)",
            node.servent_id(),
            node.listen_addr(),
            node.with_servent(|s| s.role()),
            node.listen_addr(),
            node.listen_addr()
        );
        // SIGHUP rescans the library (its own handler); Ctrl-C and SIGTERM end the servent.
        signals::until_shutdown(&mut sigs, || {}).await;
        log::info!("shutting down");
        node.shutdown().await;
        Ok(())
    })
}
