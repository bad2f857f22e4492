//! Where a download starts on disk: an output already in place (done, or refused), the
//! sidecar resumed when it describes this file (else started over), and `FILE.part`
//! opened at the file's full size.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use crate::library::hash::{self, Sha1Digest};
use crate::rt;

use super::state::{PartState, STATE_VERSION};
use super::{io_err, DownloadError, DownloadReport};

/// `Ok(Some(report))` when `output` already is the file asked for, `Ok(None)` when it
/// does not exist, `Exists` when it is something else (or cannot be checked).
pub(super) async fn already_in_place(
    output: &Path,
    expected: Option<Sha1Digest>,
    size: u64,
) -> Result<Option<DownloadReport>, DownloadError> {
    if !output.exists() {
        return Ok(None);
    }
    if let Some(want) = expected {
        let out = output.to_owned();
        let got = rt::spawn_blocking(move || hash::sha1_file(&out))
            .await
            .map_err(io_err(output))?;
        if got == want {
            return Ok(Some(DownloadReport {
                path: output.to_owned(),
                size,
                sha1: Some(hash::urn(&want)),
                verified: true,
                fetched: 0,
                resumed: size,
                sources: Vec::new(),
            }));
        }
    }
    Err(DownloadError::Exists(output.to_owned()))
}

/// Opens `part` for a `size`-byte file, resuming from the sidecar at `state_path` when it
/// describes this file (same size, no other SHA-1) and `part` exists; the sidecar is saved
/// before any byte is fetched.
pub(super) fn open(
    output: &Path,
    part: &Path,
    state_path: &Path,
    size: u64,
    expected: Option<Sha1Digest>,
) -> Result<(File, PartState), DownloadError> {
    let want_b32 = expected.map(|d| data_encoding::BASE32_NOPAD.encode(&d));
    let mut state = PartState::load(state_path)
        .filter(|s| {
            s.size == size && (s.sha1.is_none() || want_b32.is_none() || s.sha1 == want_b32)
        })
        .filter(|_| part.exists())
        .unwrap_or_else(|| PartState {
            version: STATE_VERSION,
            size,
            ..PartState::default()
        });
    state.sha1 = want_b32.clone().or(state.sha1);
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(part)
        .map_err(io_err(part))?;
    if state.done.is_empty() {
        file.set_len(0).map_err(io_err(part))?;
    }
    file.set_len(size).map_err(io_err(part))?;
    state.save(state_path).map_err(io_err(state_path))?;
    Ok((file, state))
}
