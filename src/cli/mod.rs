//! The command line: one subcommand per file. Library errors are typed; this layer turns
//! them into `anyhow` reports for people.

mod demo;
mod get;
pub mod library_args;
mod share;

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
    /// Run the demo: a small mesh of servents answering a Ping and a Query flood.
    Demo(demo::DemoArgs),
    /// Download a file over HTTP: from a URL, or by urn:sha1 from several --source URLs.
    Get(get::GetArgs),
    /// Share files over HTTP only (no Gnutella mesh): for seeding and benchmarks.
    Share(share::ShareArgs),
}

pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Get(args) => get::run(args),
        Command::Share(args) => share::run(args),
    }
}
