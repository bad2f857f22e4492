//! Downloads from firewalled servents: the [`Pusher`](servent::download::Pusher) over a
//! running servent and the choice of `push://` or `http://` per source live in
//! `servent::ui::push`, shared with the web interface.

pub use servent::ui::push::{source_urls, NodePusher};
