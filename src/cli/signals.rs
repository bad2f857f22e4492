//! Process signals as async events: Ctrl-C / SIGTERM ask for a clean shutdown, SIGHUP for
//! a library rescan.

use futures::channel::mpsc;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Shutdown,
    Rescan,
}

/// A stream of signals, fed by a small thread that blocks on the OS.
pub fn signals() -> anyhow::Result<mpsc::UnboundedReceiver<Signal>> {
    let (tx, rx) = mpsc::unbounded();
    let mut sigs = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in sigs.forever() {
                let sig = if s == SIGHUP {
                    Signal::Rescan
                } else {
                    Signal::Shutdown
                };
                if tx.unbounded_send(sig).is_err() {
                    break;
                }
            }
        })?;
    Ok(rx)
}

/// Waits for Ctrl-C or SIGTERM (SIGHUPs in between are passed to `on_rescan`).
pub async fn until_shutdown(rx: &mut mpsc::UnboundedReceiver<Signal>, mut on_rescan: impl FnMut()) {
    use futures::StreamExt;
    while let Some(s) = rx.next().await {
        match s {
            Signal::Shutdown => return,
            Signal::Rescan => on_rescan(),
        }
    }
}
