//! `servent get`: download one file over HTTP, from a URL or by SHA-1 from several
//! sources, resumable, verified, with progress (a bar on a terminal, `--json` lines
//! otherwise) and a summary table per source.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure};
use clap::Args;

use super::progress::{self, ProgressMode};
use servent::download::{
    download, file_name_from_url, DownloadOptions, DownloadRequest, DEFAULT_CHUNK_SIZE,
};
use servent::library::hash;
use servent::library::hits::human_size;
use servent::rt;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// `http://HOST:PORT/get/INDEX/NAME` (or any http:// URL), or `urn:sha1:BASE32` with
    /// one or more --source.
    target: String,
    /// Another URL serving the same file (repeatable): chunks are fetched in parallel.
    #[arg(long = "source", value_name = "URL")]
    sources: Vec<String>,
    /// Where to save [default: the name in the URL]. FILE.part and FILE.part.state hold
    /// the download until it is complete and verified.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Progress and result as JSON lines on stdout.
    #[arg(long)]
    json: bool,
    /// Bytes per chunk (one ranged GET each).
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE)]
    chunk_size: u64,
    /// Seconds without data before a source is called stalled and its chunk moved.
    #[arg(long, default_value_t = 20)]
    stall_timeout: u64,
    /// Download limit (bytes per second, all sources together).
    #[command(flatten)]
    rates: super::library_args::DownloadRateArgs,
}

pub fn run(args: GetArgs) -> anyhow::Result<()> {
    args.rates.apply();
    let (sources, sha1) = if let Some(d) = hash::parse_urn(&args.target) {
        ensure!(
            !args.sources.is_empty(),
            "downloading by hash needs at least one --source URL"
        );
        (args.sources.clone(), Some(d))
    } else if args.target.starts_with("http://") {
        let mut s = vec![args.target.clone()];
        s.extend(args.sources.iter().cloned());
        (s, None)
    } else {
        bail!(
            "expected an http:// URL or urn:sha1:<32 base32 characters>, got {:?}",
            args.target
        );
    };
    let output = match &args.output {
        Some(o) => o.clone(),
        None => match sources
            .iter()
            .find_map(|s| s.contains("/get/").then(|| file_name_from_url(s)).flatten())
        {
            Some(n) => PathBuf::from(n),
            None => match sha1 {
                Some(d) => PathBuf::from(data_encoding::BASE32_NOPAD.encode(&d)),
                None => bail!("cannot tell a file name from the URL: give -o FILE"),
            },
        },
    };
    ensure!(args.chunk_size > 0, "--chunk-size must be positive");
    let req = DownloadRequest {
        sources,
        sha1,
        output,
        options: DownloadOptions {
            chunk_size: args.chunk_size,
            stall_timeout: Duration::from_secs(args.stall_timeout.max(1)),
            on_event: Some(progress::hook(if args.json {
                ProgressMode::Json
            } else {
                ProgressMode::Auto
            })),
            ..DownloadOptions::default()
        },
    };
    let report = rt::block_on(download(req));
    match report {
        Ok(r) if args.json => {
            println!("{}", serde_json::json!({"event": "done", "report": r}));
            Ok(())
        }
        Ok(r) => {
            let check = match (&r.sha1, r.verified) {
                (Some(u), true) => format!("SHA-1 verified, {u}"),
                (Some(u), false) => format!("{u}, not verified"),
                (None, _) => "not verified: no SHA-1 known".into(),
            };
            println!(
                "saved {} ({}; {check}); fetched {}, resumed {}",
                r.path.display(),
                human_size(r.size),
                human_size(r.fetched),
                human_size(r.resumed)
            );
            if !r.sources.is_empty() {
                println!("{:>10}  {:>8}  source", "bytes", "failures");
                for s in &r.sources {
                    let note = s
                        .dropped
                        .as_deref()
                        .map(|d| format!("  (dropped: {d})"))
                        .unwrap_or_default();
                    println!(
                        "{:>10}  {:>8}  {}{note}",
                        human_size(s.bytes),
                        s.failures,
                        s.url
                    );
                }
            }
            Ok(())
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"event": "error", "error": e.to_string()})
                );
            }
            Err(e.into())
        }
    }
}
