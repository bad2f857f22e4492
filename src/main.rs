//! The `servent` binary: parses the command line and hands off to [`servent::cli`].

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("servent=info"))
        .format_timestamp_millis()
        .init();
    servent::cli::run()
}
