//! Download progress for people and scripts, drawn from the downloader's events: an
//! indicatif bar (bytes, rate, ETA, live sources) on a terminal, or JSON lines on stdout
//! (`--json`), at most a few per second.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use servent::download::{DownloadEvent, EventHook};
use servent::library::{HashHook, HashProgress};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

/// How often a JSON progress line is written at most.
const JSON_INTERVAL: Duration = Duration::from_millis(500);

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// JSON lines on stdout.
    Json,
}

/// A downloader event hook that shows its progress in `mode`.
pub fn hook(mode: ProgressMode) -> EventHook {
    let progress: Mutex<Option<Progress>> = Mutex::new(None);
    Arc::new(move |e: &DownloadEvent| {
        let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
        match e {
            DownloadEvent::Started {
                total,
                already,
                sources,
            } => *p = Some(Progress::new(mode, *total, *already, *sources)),
            DownloadEvent::Progress { done, sources, .. } => {
                if let Some(p) = p.as_mut() {
                    p.update(*done, *sources);
                }
            }
            DownloadEvent::SourceFailed {
                source,
                error,
                dropped,
            } => {
                if let Some(p) = p.as_ref() {
                    p.note(&if *dropped {
                        format!("source {source} dropped: {error}")
                    } else {
                        format!("source {source}: {error}; retrying")
                    });
                }
            }
            DownloadEvent::Transferred => {
                if let Some(p) = p.as_mut() {
                    p.finish();
                }
            }
            DownloadEvent::Verifying => {
                if let Some(p) = p.as_ref() {
                    p.note("verifying SHA-1...");
                }
            }
            DownloadEvent::ChunkDone { .. } => {}
        }
    })
}

struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
    total: u64,
    started: Instant,
    start_bytes: u64,
    last_json: Option<Instant>,
    done: u64,
    sources: usize,
}

impl Progress {
    fn new(mode: ProgressMode, total: u64, already: u64, sources: usize) -> Progress {
        let bar = (mode == ProgressMode::Auto && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_position(already);
            b.reset_eta();
            b
        });
        Progress {
            bar,
            json: mode == ProgressMode::Json,
            total,
            started: Instant::now(),
            start_bytes: already,
            last_json: None,
            done: already,
            sources,
        }
    }

    fn update(&mut self, done: u64, sources: usize) {
        self.done = done;
        self.sources = sources;
        if let Some(b) = &self.bar {
            b.set_position(done);
            b.set_message(format!(
                "{sources} source{}",
                if sources == 1 { "" } else { "s" }
            ));
        }
        if self.json && self.last_json.is_none_or(|t| t.elapsed() >= JSON_INTERVAL) {
            self.last_json = Some(Instant::now());
            self.json_line("progress");
        }
    }

    fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        (self.done.saturating_sub(self.start_bytes)) as f64 / secs
    }

    fn json_line(&self, event: &str) {
        let rate = self.rate();
        let eta = (rate > 0.0).then(|| (self.total.saturating_sub(self.done)) as f64 / rate);
        let line = json!({
            "event": event,
            "bytes": self.done,
            "total": self.total,
            "rate_bytes_per_sec": rate.round(),
            "eta_secs": eta.map(|e| (e * 10.0).round() / 10.0),
            "sources": self.sources,
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// A note for people (a source failed, verifying...).
    fn note(&self, text: &str) {
        if let Some(b) = &self.bar {
            b.println(text);
        } else if self.json {
            let line = json!({"event": "note", "message": text});
            println!("{line}");
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if self.json {
            self.json_line("transferred");
        }
    }
}

/// A library hasher hook that draws a hashing bar on stderr when it is a terminal.
pub fn hashing_hook() -> HashHook {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let terminal = std::io::stderr().is_terminal();
    Arc::new(move |p: HashProgress<'_>| {
        if !terminal {
            return;
        }
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            HashProgress::Hashing { file, done, total } => {
                let b = bar.get_or_insert_with(|| {
                    let b =
                        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                    b.set_style(
                        ProgressStyle::with_template(
                            "hashing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b
                });
                b.set_length(total);
                b.set_position(done);
                if b.message() != file {
                    b.set_message(file.to_owned());
                }
            }
            HashProgress::Idle => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    })
}
