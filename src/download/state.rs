//! What a download has on disk: `FILE.part` and its sidecar `FILE.part.state`. The
//! sidecar's format lives in the library ([`crate::library::part_state`]), which reads it
//! to share partial files; the downloader writes it. Re-exported here under the names the
//! downloader always used.

pub use crate::library::part_state::{part_paths, PartState, RangeSet, Served, STATE_VERSION};
