//! The `servent` binary: hands the command line to [`servent::cli`].

fn main() -> anyhow::Result<()> {
    servent::cli::run()
}
