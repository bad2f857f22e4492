//! The command line: one subcommand per file. Library errors are typed; this layer turns
//! them into `anyhow` reports for people.

mod compare;
mod demo;

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
    /// Compare search strategies (flooding, expanding ring, random walkers) in the
    /// simulator: success, hops and message cost per query, as a table, JSON, CSV or SVG.
    Compare(compare::CompareArgs),
}

pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Compare(args) => compare::run(args),
    }
}
