//! The end of a download, as the scheduler decides it: every byte written -> verify the
//! SHA-1 (when known) and rename `FILE.part` into place; bytes missing -> save the sidecar
//! and report each source's reason. Nothing fetched is deleted on a mismatch.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use crate::library::hash::{self, Sha1Digest};
use crate::rt;

use super::sched::Decision;
use super::shared::Shared;
use super::state::Served;
use super::{io_err, DownloadError, DownloadEvent, DownloadReport, SourceReport};

/// After the fetch tasks: complete (verify, rename) or report what is missing.
pub(super) async fn finish(
    shared: &Arc<Shared>,
    output: &Path,
    expected: Option<Sha1Digest>,
    resumed: u64,
) -> Result<DownloadReport, DownloadError> {
    let (decision, done, sources) = shared.with_sched(|s| (s.decision(), s.done(), s.reports()));
    if let Decision::AllSourcesFailed {
        missing,
        total,
        errors,
    } = decision
    {
        shared.save_state().map_err(io_err(&shared.state_path))?;
        return Err(DownloadError::AllSourcesFailed {
            missing,
            total,
            part: shared.part.clone(),
            errors,
        });
    }
    shared.file().sync_all().map_err(io_err(&shared.part))?;
    let mut verified = false;
    if let Some(want) = expected {
        shared.emit(DownloadEvent::Verifying);
        let part = shared.part.clone();
        let got = rt::spawn_blocking(move || hash::sha1_file(&part))
            .await
            .map_err(io_err(&shared.part))?;
        if got != want {
            let actual = data_encoding::BASE32_NOPAD.encode(&got);
            let served = shared.with_sched(|s| {
                s.handle_hash_mismatch(actual.clone());
                s.state().served.clone()
            });
            let by_source = by_source(&sources, &served);
            shared.save_state().map_err(io_err(&shared.state_path))?;
            return Err(DownloadError::HashMismatch {
                expected: data_encoding::BASE32_NOPAD.encode(&want),
                actual,
                part: shared.part.clone(),
                by_source,
            });
        }
        verified = true;
    }
    shared.finished(|| {
        fs::rename(&shared.part, output).map_err(io_err(output))?;
        let _ = fs::remove_file(&shared.state_path);
        Ok::<_, DownloadError>(())
    })?;
    Ok(DownloadReport {
        path: output.to_owned(),
        size: shared.size,
        sha1: expected.map(|d| hash::urn(&d)),
        verified,
        fetched: done - resumed,
        resumed,
        sources,
    })
}

/// How many bytes (in how many chunks) each source wrote, and earlier runs' share: what a
/// hash mismatch names so the source to blame can be found.
fn by_source(sources: &[SourceReport], served: &[Served]) -> Vec<(String, String)> {
    let mut by_source: Vec<(String, String)> = sources
        .iter()
        .map(|s| {
            let ranges = served.iter().filter(|r| r.source == s.url).count();
            (
                s.url.clone(),
                format!("{} bytes in {ranges} chunks", s.bytes),
            )
        })
        .collect();
    let earlier = served
        .iter()
        .filter(|r| !sources.iter().any(|s| s.url == r.source))
        .map(|r| r.end - r.start)
        .sum::<u64>();
    if earlier > 0 {
        by_source.push(("earlier runs".into(), format!("{earlier} bytes")));
    }
    by_source
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(start: u64, end: u64, source: &str) -> Served {
        Served {
            start,
            end,
            source: source.into(),
        }
    }

    #[test]
    fn a_mismatch_names_bytes_per_source_and_earlier_runs() {
        let sources = vec![SourceReport {
            url: "http://s0/f".into(),
            bytes: 200,
            failures: 0,
            dropped: None,
        }];
        let served = [
            served(0, 100, "http://gone/f"),
            served(100, 200, "http://s0/f"),
            served(200, 300, "http://s0/f"),
        ];
        assert_eq!(
            by_source(&sources, &served),
            vec![
                ("http://s0/f".into(), "200 bytes in 2 chunks".into()),
                ("earlier runs".into(), "100 bytes".into()),
            ]
        );
    }
}
