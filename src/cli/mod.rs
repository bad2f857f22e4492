//! The command line: one subcommand per file. Library errors are typed; this layer turns
//! them into `anyhow` reports for people.

mod browse;
mod churn;
mod compare;
mod costs;
mod demo;
mod get;
pub mod library_args;
mod mesh;
mod progress;
mod push;
mod search;
mod serve;
mod share;
mod signals;

use clap::{Parser, Subcommand};

/// A Gnutella 0.6 servent: join a mesh, search, download, and measure search strategies.
#[derive(Debug, Parser)]
#[command(name = "servent", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The demo: 20 servents on 127.0.0.1 share files; Ping and pong caches, wildcard search,
    /// multi-source download, the three strategies compared, then the simulator.
    Demo(demo::DemoArgs),
    /// Run one servent on a TCP port until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Search the mesh through a servent; print results grouped by SHA-1 (and download).
    Search(search::SearchArgs),
    /// Run N linked servents in this process on 127.0.0.1 (a local test mesh).
    Mesh(mesh::MeshArgs),
    /// Download a file over HTTP: from a URL, by urn:sha1 from several --source URLs, or
    /// from a magnet link's sources.
    Get(get::GetArgs),
    /// List the files another servent shares (browse host): name, size, SHA-1, magnet.
    Browse(browse::BrowseArgs),
    /// Share files over HTTP only (no Gnutella mesh): for seeding and benchmarks.
    Share(share::ShareArgs),
    /// Compare search strategies (flooding, expanding ring, random walkers) in the
    /// simulator: success, hops and message cost per query, as a table, JSON, CSV or SVG.
    Compare(compare::CompareArgs),
    /// The churn experiment: N separate `servent serve` processes, searches before and
    /// after SIGKILLing a fraction of them, heal time and degrees, as a table or JSON.
    Churn(churn::ChurnArgs),
}

/// Logs go to stderr through env_logger (`RUST_LOG=servent=debug` for more). A single
/// servent logs links opening and closing; commands running many servents stay quiet.
fn init_logging(command: &Command) {
    let default = match command {
        Command::Serve(_) => "servent=info",
        _ => "servent=warn",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format_timestamp_millis()
        .init();
}

pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.command);
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Mesh(args) => mesh::run(args),
        Command::Search(args) => search::run(args),
        Command::Get(args) => get::run(args),
        Command::Share(args) => share::run(args),
        Command::Browse(args) => browse::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Churn(args) => churn::run(args),
    }
}
