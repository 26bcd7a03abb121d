//! Kept events that wait on disk (issue 24): with a budget of one event, every kept event that
//! need not stay in memory goes to a temporary file: anchors that may be let go come back first
//! (those that can make a finding), the rest only where an incident could select it. The report must not change by a byte: on every sample bundle, every file of the corpus,
//! the scenario and every signature fixture. Runs with text logs keep everything in memory, so
//! the event-log-only inputs are where the disk is used; the collector's own test shows it is.

mod support;

use support::*;

fn same_report_when_spilled(path: &std::path::Path) {
    let (kept, code) = json_run(&[path.as_os_str()]);
    let (spilled, spilled_code) = json_run(&[
        std::ffi::OsStr::new("--spill-after"),
        std::ffi::OsStr::new("1"),
        path.as_os_str(),
    ]);
    assert_eq!(code, spilled_code, "{}", path.display());
    assert!(
        kept == spilled,
        "{}: the report changed when kept events waited on disk",
        path.display()
    );
}

#[test]
fn bundles_and_fixtures_give_the_same_report_when_kept_events_wait_on_disk() {
    let mut bundles: Vec<_> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    bundles.sort();
    assert!(bundles.len() > 5);
    for bundle in &bundles {
        same_report_when_spilled(bundle);
    }
    let dir = tempfile::tempdir().unwrap();
    for name in evtriage_gen::fixtures::NAMES {
        let out = dir.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        let bundle = evtriage_gen::fixtures::fixture(name).unwrap();
        evtriage_gen::fixtures::write(&bundle, &out).unwrap();
        same_report_when_spilled(&out);
    }
}

#[test]
fn corpus_and_scenario_give_the_same_report_when_kept_events_wait_on_disk() {
    let (Some(corpus), Some(scenarios)) = (shared("corpus"), shared("scenarios")) else {
        return;
    };
    let mut files = log_files(&corpus);
    files.sort();
    assert!(!files.is_empty());
    for file in &files {
        same_report_when_spilled(file);
    }
    same_report_when_spilled(&corpus);
    for scenario in std::fs::read_dir(scenarios).unwrap() {
        same_report_when_spilled(&scenario.unwrap().path());
    }
}
