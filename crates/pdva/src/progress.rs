//! Progress of long work: a bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// Shows progress of store and generator work.
pub struct CliProgress {
    bar: Mutex<Option<ProgressBar>>,
    done: AtomicU64,
    total: AtomicU64,
    what: Mutex<String>,
    terminal: bool,
}

impl CliProgress {
    /// Progress for this process's stderr.
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            what: Mutex::new(String::new()),
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl pdva_store::Progress for CliProgress {
    fn start(&self, what: &str, total: u64) {
        let mut bar = self.bar.lock().expect("progress lock");
        if let Some(old) = bar.take() {
            old.finish();
        }
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        *self.what.lock().expect("progress lock") = what.to_owned();
        if self.terminal {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len} ({eta} left)")
                    .expect("template")
                    .progress_chars("=> "),
            );
            b.set_message(what.to_owned());
            *bar = Some(b);
        } else {
            tracing::info!(total, "{what}");
        }
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("progress lock").as_ref() {
            b.inc(n);
            if b.position() >= b.length().unwrap_or(u64::MAX) {
                b.finish();
            }
            return;
        }
        // Without a terminal: a log line at every tenth.
        let total = self.total.load(Ordering::Relaxed).max(1);
        let before = self.done.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        if after * 10 / total > before * 10 / total {
            let what = self.what.lock().expect("progress lock").clone();
            tracing::info!(done = after, total, "{what}: {}%", after * 100 / total);
        }
    }
}
