//! The `servent` binary: the command line ([`cli`]) over the `servent` library.

mod cli;

fn main() -> anyhow::Result<()> {
    cli::run()
}
