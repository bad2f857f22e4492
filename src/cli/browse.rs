//! `servent browse HOST:PORT`: lists the files another servent shares (browse host, as
//! gtk-gnutella and LimeWire offer it): name, size, SHA-1 and a magnet link for each, as
//! a table or, with `--json`, one JSON object per file and a summary last.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::search::parse_duration;
use servent::download::browse::{browse_host, Browse, BrowseOptions, DEFAULT_MAX_BROWSE_FILES};
use servent::library::hits::human_size;
use servent::rt;

#[derive(Debug, Args)]
pub struct BrowseArgs {
    /// The servent to browse (its Gnutella/HTTP port).
    host: String,
    /// One JSON object per file (name, size, sha1, magnet), then a summary object.
    #[arg(long)]
    json: bool,
    /// Longest wait for the answer or its next bytes.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    timeout: Duration,
    /// Refuse a listing of more files than this.
    #[arg(long, default_value_t = DEFAULT_MAX_BROWSE_FILES)]
    max_files: usize,
}

pub fn run(args: BrowseArgs) -> anyhow::Result<()> {
    // IPv4 first: servents listen on IPv4 (`localhost` may resolve to ::1 first).
    let addrs: Vec<SocketAddr> = args
        .host
        .to_socket_addrs()
        .with_context(|| format!("expected HOST:PORT, got {:?}", args.host))?
        .collect();
    let addr = *addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .with_context(|| format!("{} has no address", args.host))?;
    let opts = BrowseOptions {
        stall_timeout: args.timeout,
        max_files: args.max_files,
        ..BrowseOptions::default()
    };
    let result = rt::block_on(browse_host(addr, &opts));
    match result {
        Ok(b) if args.json => print_json(&b),
        Ok(b) => print_table(&b),
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"event": "error", "error": e.to_string()})
                );
            }
            return Err(e.into());
        }
    }
    Ok(())
}

fn print_json(b: &Browse) {
    for f in &b.files {
        println!("{}", serde_json::json!(f));
    }
    println!(
        "{}",
        serde_json::json!({"browse": {
            "host": b.host.to_string(), "server": b.server, "deflated": b.deflated,
            "hits": b.hits, "files": b.files.len(), "servent_id": b.servent_id,
        }})
    );
}

/// One row per file (index, size, the SHA-1's first characters, name) with its magnet
/// link under it.
fn print_table(b: &Browse) {
    println!(
        "{} ({}): {} file{} in {} QueryHit{}{}",
        b.host,
        b.server.as_deref().unwrap_or("no Server header"),
        b.files.len(),
        if b.files.len() == 1 { "" } else { "s" },
        b.hits,
        if b.hits == 1 { "" } else { "s" },
        if b.deflated { ", deflated" } else { "" }
    );
    if b.files.is_empty() {
        return;
    }
    println!("{:>6}  {:>10}  {:<12}  name", "index", "size", "sha1");
    for f in &b.files {
        let sha = f
            .sha1
            .as_deref()
            .map_or("-".to_owned(), |u| u.chars().skip(9).take(12).collect());
        println!(
            "{:>6}  {:>10}  {:<12}  {}",
            f.index,
            human_size(f.size),
            sha,
            f.name
        );
        println!("{:>6}  {}", "", f.magnet);
    }
}
