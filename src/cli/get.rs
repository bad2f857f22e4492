//! `servent get`: download one file over HTTP, from a URL, by SHA-1 from several sources
//! or from a magnet link's sources, resumable, verified, with progress (a bar on a
//! terminal, `--json` lines otherwise) and a summary table per source.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure};
use clap::Args;

use super::progress::{self, ProgressMode};
use servent::download::magnet::Magnet;
use servent::download::{
    download, file_name_from_url, sanitize_name, DownloadOptions, DownloadRequest,
    DEFAULT_CHUNK_SIZE,
};
use servent::library::hash;
use servent::library::hits::human_size;
use servent::rt;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// `http://HOST:PORT/get/INDEX/NAME` (or any http:// URL), `urn:sha1:BASE32` with
    /// one or more --source, or a magnet link (`'magnet:?xt=urn:sha1:...&dn=...&xs=...'`,
    /// quoted for the shell) downloaded from its sources and verified by its SHA-1.
    target: String,
    /// Another URL serving the same file (repeatable): chunks are fetched in parallel.
    #[arg(long = "source", value_name = "URL")]
    sources: Vec<String>,
    /// Where to save [default: the magnet's name, or the name in the URL]. FILE.part and
    /// FILE.part.state hold the download until it is complete and verified.
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

/// What to fetch: the sources, the SHA-1 to verify by, a name to save under, and the
/// size a magnet announced.
struct Target {
    sources: Vec<String>,
    sha1: Option<hash::Sha1Digest>,
    name: Option<String>,
    size: Option<u64>,
}

fn target(args: &GetArgs) -> anyhow::Result<Target> {
    let t = &args.target;
    let (mut sources, sha1, name, size) = if let Some(d) = hash::parse_urn(t) {
        (Vec::new(), Some(d), None, None)
    } else if t.starts_with("http://") {
        (vec![t.clone()], None, None, None)
    } else if t
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        let m = Magnet::parse(t).map_err(|e| anyhow::anyhow!("cannot read the magnet: {e}"))?;
        for (url, why) in &m.ignored {
            eprintln!("warning: magnet source {url} skipped: {why}");
        }
        if m.sha1.is_none() {
            eprintln!("warning: the magnet names no SHA-1: the file cannot be verified");
        }
        (m.sources, m.sha1, m.name, m.size)
    } else {
        bail!(
            "expected an http:// URL, urn:sha1:<32 base32 characters> or a magnet:? link, got {:?}",
            t
        );
    };
    sources.extend(args.sources.iter().cloned());
    ensure!(
        !sources.is_empty(),
        "no source to download from (a magnet names them in xs=): give one or more --source URL"
    );
    Ok(Target {
        sources,
        sha1,
        name,
        size,
    })
}

pub fn run(args: GetArgs) -> anyhow::Result<()> {
    args.rates.apply();
    let Target {
        sources,
        sha1,
        name,
        size,
    } = target(&args)?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None => match name.as_deref().and_then(sanitize_name).or_else(|| {
            sources
                .iter()
                .find_map(|s| s.contains("/get/").then(|| file_name_from_url(s)).flatten())
        }) {
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
    if let (Ok(r), Some(xl)) = (&report, size) {
        if r.size != xl {
            eprintln!(
                "warning: the magnet said {xl} bytes (xl), the file has {}",
                r.size
            );
        }
    }
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
