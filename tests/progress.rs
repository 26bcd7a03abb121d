//! Progress accounting: the bytes and files the progress bar shows reach their totals exactly when
//! reading ends, whatever the inputs hold: whole logs, one cut inside a chunk, one that is only a
//! file header, one whose header is damaged. (Whether the bar is drawn at all is indicatif's
//! decision: only when stderr is a terminal, and never with `--quiet`.)

mod support;

use evtriage::event::{Event, PayloadSource};
use evtriage::input::{EventFilter, EventSink, Progress, discover, read_all};
use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use support::*;

#[derive(Default)]
struct Counting {
    bytes: AtomicU64,
    files: AtomicU64,
    events: AtomicU64,
}

impl EventFilter for Counting {
    fn wants_event_id(&self, _id: u16) -> bool {
        true
    }
}

impl EventSink for Counting {
    fn accept(&self, _event: Event, _payload: &dyn PayloadSource) -> bool {
        self.events.fetch_add(1, Ordering::Relaxed);
        false
    }
}

impl Progress for Counting {
    fn bytes_read(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn file_done(&self) {
        self.files.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn bytes_and_files_done_reach_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let log = fs::read(samples().join("kb940006-rollup-failed/Application.evtx")).unwrap();
    assert!(
        log.len() > 4096 + 65536,
        "the sample holds at least one whole chunk"
    );
    // Cut inside the first chunk, after its header.
    fs::write(dir.path().join("cut.evtx"), &log[..4096 + 9000]).unwrap();
    // The file header and nothing else.
    fs::write(dir.path().join("header-only.evtx"), &log[..4096]).unwrap();
    // A damaged header checksum: the chunks are read anyway.
    let mut bad = log.clone();
    bad[0x7c] ^= 0xff;
    fs::write(dir.path().join("bad-header-crc.evtx"), &bad).unwrap();

    // A classic .evt cut short, and one with a damaged record (the walk searches ahead and comes
    // back), and an Event XML export.
    let evt = fs::read(samples().join("kb940006-server2003/SysEvent.Evt")).unwrap();
    fs::write(dir.path().join("cut.evt"), &evt[..evt.len() * 2 / 3]).unwrap();
    let mut bad = evt.clone();
    let at = bad
        .windows(4)
        .skip(0x800)
        .position(|w| w == b"LfLe")
        .unwrap()
        + 0x800
        - 4;
    bad[at..at + 4].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    fs::write(dir.path().join("bad-record.evt"), &bad).unwrap();
    fs::write(
        dir.path().join("export.xml"),
        sample_xml("kb940006-rollup-failed", "System"),
    )
    .unwrap();
    let args = [
        samples().display().to_string(),
        dir.path().display().to_string(),
    ];
    let discovery = discover(
        &args,
        &mut std::io::empty(),
        evtriage::input::STDIN_LIMIT_DEFAULT,
    );
    let files = discovery.files.len() as u64;
    assert!(files >= 10, "samples and the damaged copies: {files} files");
    let total: u64 = discovery.files.iter().map(|f| f.size).sum();

    let sink = Counting::default();
    let reports = read_all(&discovery.files, &sink, &sink);

    assert_eq!(reports.len() as u64, files);
    assert_eq!(sink.files.load(Ordering::Relaxed), files);
    assert_eq!(sink.bytes.load(Ordering::Relaxed), total);
    assert!(sink.events.load(Ordering::Relaxed) > 0);
}

/// Runs evtriage with a terminal as its stderr (through `script`, which gives it a pseudo-terminal)
/// and stdout to a file; returns what the terminal showed and the report.
fn on_a_terminal(extra: &str) -> (String, serde_json::Value) {
    require("script", &["--version"]);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let bin = assert_cmd::cargo::cargo_bin("evtriage");
    let command = format!(
        "'{}' {extra} --format json '{}' > '{}'",
        bin.display(),
        samples().join("kb940006-rollup-failed").display(),
        report.display()
    );
    let out = assert_cmd::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.code().is_some(),
        "evtriage did not finish with a terminal on stderr (a hang): {shown}"
    );
    let report = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    (shown, report)
}

/// The report of the same run without a terminal.
fn off_a_terminal() -> serde_json::Value {
    let out = assert_cmd::Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "json"])
        .arg(samples().join("kb940006-rollup-failed"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs script from util-linux for a pseudo-terminal (.ci/run installs it)"]
fn the_bar_is_drawn_on_a_terminal_and_the_run_finishes() {
    let (shown, report) = on_a_terminal("");
    assert!(shown.contains("/3 files"), "no progress bar: {shown:?}");
    assert_eq!(report, off_a_terminal());
}

#[test]
#[ignore = "needs script from util-linux for a pseudo-terminal (.ci/run installs it)"]
fn quiet_draws_no_bar_on_a_terminal() {
    let (shown, report) = on_a_terminal("--quiet");
    assert!(!shown.contains("files"), "a bar despite --quiet: {shown:?}");
    assert_eq!(report, off_a_terminal());
}
