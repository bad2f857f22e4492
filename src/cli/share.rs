//! `servent share`: serve the shared library over HTTP only (no Gnutella mesh), on one
//! address: for seeding a download, the HTTP benchmark and trying the file server.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;

use super::library_args::LibraryArgs;
use servent::http::serve_listener;
use servent::rt;

#[derive(Debug, Args)]
pub struct ShareArgs {
    #[command(flatten)]
    library: LibraryArgs,
    /// Address to listen on (port 0: any free port, printed on start).
    #[arg(long, default_value = "127.0.0.1:6346")]
    listen: SocketAddr,
    /// Wait until every file is hashed before serving.
    #[arg(long)]
    wait_hashed: bool,
}

pub fn run(args: ShareArgs) -> anyhow::Result<()> {
    let lib = args.library.open_library()?;
    anyhow::ensure!(lib.is_some(), "nothing to share: give --share DIR");
    if let (true, Some(l)) = (args.wait_hashed, &lib) {
        while !l.wait_hashed(std::time::Duration::from_secs(3600)) {}
    }
    let status_lib = lib.clone();
    let ctx = args.library.http_context(
        concat!("servent/", env!("CARGO_PKG_VERSION")),
        move || {
            let (files, kb) = status_lib.as_ref().map_or((0, 0), |l| l.totals());
            serde_json::json!({"files": files, "kbytes": kb}).to_string()
        },
        lib,
    );
    rt::block_on(async move {
        let listener = rt::bind(args.listen).await?;
        let handle = serve_listener(listener, Arc::new(ctx))?;
        println!("serving HTTP on {}", handle.local_addr());
        futures::future::pending::<()>().await;
        anyhow::Ok(())
    })
}
