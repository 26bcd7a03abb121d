//! What the fuzzers found, replayed on stable Rust: every file under `fuzz/regressions/<target>/`
//! goes through the same entry point as its fuzz target (`crates/evtriage-fuzzing/src/lib.rs`). Each file is an input
//! that once crashed evtriage, or a hand-made hostile input of the same family; see
//! `fuzz/README.md` for how they were found and how to add one.

/// The workspace root, where `fuzz/regressions/` is.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

use std::path::Path;

fn replay(target: &str, run: impl Fn(&[u8])) {
    let dir = root().join("fuzz").join("regressions").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no regression inputs", dir.display());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        eprintln!(
            "replaying {}",
            f.strip_prefix(root()).unwrap_or(Path::new("")).display()
        );
        run(&bytes);
    }
}

#[test]
fn reader_regressions() {
    replay("reader", evtriage_fuzzing::read_and_diagnose);
}

#[test]
fn evt_regressions() {
    replay("evt", evtriage_fuzzing::read_evt_and_diagnose);
}

#[test]
fn event_xml_regressions() {
    replay("event_xml", |b| {
        if let Ok(s) = std::str::from_utf8(b) {
            evtriage_fuzzing::write_event_xml(s);
        }
    });
}

#[test]
fn signature_regressions() {
    replay("signature", |b| {
        if let Ok(s) = std::str::from_utf8(b) {
            evtriage_fuzzing::load_and_run_signature(s);
        }
    });
}

#[test]
fn text_log_regressions() {
    for (target, format) in [
        ("msi_log", "msi-log"),
        ("service_control", "service-control-log"),
        ("exchange_setup", "exchange-setup-log"),
        ("clixml", "clixml"),
    ] {
        replay(target, |b| {
            evtriage_fuzzing::read_text_log_and_diagnose(format, b)
        });
    }
}

#[test]
fn archive_regressions() {
    replay("archive", evtriage_fuzzing::read_archive_and_diagnose);
}
