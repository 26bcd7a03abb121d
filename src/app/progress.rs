//! The progress bar on stderr while logs are read: bytes and files done, rate, time left.

use evtriage::input;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct ProgressBar {
    pub bar: indicatif::ProgressBar,
    bytes: AtomicU64,
    files_done: AtomicU64,
    files: usize,
}

impl ProgressBar {
    pub fn new(total_bytes: u64, files: usize) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total_bytes),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        let progress = ProgressBar {
            bar,
            bytes: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            files,
        };
        progress.show_files(0);
        progress
    }

    fn show_files(&self, done: u64) {
        self.bar.set_message(format!("{done}/{} files", self.files));
    }
}

impl input::Progress for ProgressBar {
    fn bytes_read(&self, bytes: u64) {
        let done = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        // A log that grew after it was found can read past the total.
        let total = self.bar.length().unwrap_or(u64::MAX);
        self.bar.set_position(done.min(total));
    }

    fn file_done(&self) {
        self.show_files(self.files_done.fetch_add(1, Ordering::Relaxed) + 1);
    }
}
