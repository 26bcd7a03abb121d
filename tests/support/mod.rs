//! Shared by the integration tests: where the shared material is, and how to say a test skipped.
#![allow(dead_code)]

pub mod pwsh;

use evtriage::diagnosis::{Collector, Diagnoser, Finding, Inputs, Matched};
use evtriage::input::{NoProgress, READERS};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The built-in signatures, loaded once per test binary.
pub fn diagnoser() -> &'static Diagnoser {
    static D: OnceLock<Diagnoser> = OnceLock::new();
    D.get_or_init(Diagnoser::builtin)
}

/// The events some signature keeps from these .evtx files, each file with its own source ID.
pub fn kept(files: &[&Path]) -> Vec<Matched> {
    read_kept(files).0
}

/// The kept events, and the inputs they came from: found, read and placed on one timeline as a
/// run does (text logs' local times against the event logs' UTC).
fn read_kept(files: &[&Path]) -> (Vec<Matched>, Inputs) {
    let sink = Collector::new(diagnoser());
    let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let d = evtriage::input::discover(&args, &mut std::io::empty(), 1 << 30);
    assert!(
        d.rejected.is_empty(),
        "every file is one evtriage reads: {:?}",
        d.rejected
    );
    let mut reports = evtriage::input::read_all(&d.files, &sink, &NoProgress);
    for r in &reports {
        assert_eq!(r.records_failed, 0, "{}", r.path);
    }
    let mut matched = sink.into_matched();
    evtriage::timeline::place(&mut matched, &mut reports, &Default::default());
    (matched, Inputs::of_reports(&reports))
}

/// The kept events and the reports of these files, read but not yet placed on one timeline.
pub fn read_unplaced(files: &[&Path]) -> (Vec<Matched>, Vec<evtriage::input::InputReport>) {
    let sink = Collector::new(diagnoser());
    let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let d = evtriage::input::discover(&args, &mut std::io::empty(), 1 << 30);
    let reports = evtriage::input::read_all(&d.files, &sink, &NoProgress);
    (sink.into_matched(), reports)
}

/// The findings of these files, diagnosed in-process.
pub fn diagnose_files(files: &[&Path]) -> Vec<Finding> {
    let (matched, inputs) = read_kept(files);
    diagnoser().diagnose(matched, &inputs)
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn samples() -> PathBuf {
    root().join("samples")
}

/// `../shared/<name>` when it exists; otherwise prints why the caller skips and returns None.
pub fn shared(name: &str) -> Option<PathBuf> {
    let dir = root().join("..").join("shared").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} does not exist (the shared material is not beside this checkout)",
            dir.display()
        );
        None
    }
}

/// Tests that need a program from outside Rust are `#[ignore]`d with the program's name, so that
/// `cargo test` passes on a machine with nothing but Rust; `.ci/run` installs the programs and runs
/// them with `--include-ignored`. Run that way, a missing program is a failure, not a skip: a
/// cross-check that silently did not run would prove nothing.
pub fn require(cmd: &str, probe: &[&str]) {
    let ok = std::process::Command::new(cmd)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test needs `{cmd} {}` to succeed: install it (.ci/run does)",
        probe.join(" ")
    );
}

/// The logs of a folder that evtriage reads, recognized by content as a run does: event logs and
/// the text logs beside them.
pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    use std::io::Read;
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let mut head = Vec::new();
            std::fs::File::open(p)
                .and_then(|f| f.take(1024).read_to_end(&mut head))
                .is_ok()
                && READERS.iter().any(|r| r.recognizes(&head))
        })
        .collect();
    v.sort();
    v
}

pub fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .collect();
    v.sort();
    v
}

/// Records the evtx crate reads from a file (checksums validated), failing on any error.
pub fn evtx_crate_count(path: &Path) -> usize {
    let settings = evtx::ParserSettings::new()
        .validate_checksums(true)
        .num_threads(1);
    let mut parser = evtx::EvtxParser::from_path(path)
        .unwrap()
        .with_configuration(settings);
    let mut n = 0;
    for r in parser.records() {
        if let Err(e) = r {
            panic!("{}: {e}", path.display());
        }
        n += 1;
    }
    n
}

/// A sample bundle's log as Event XML, from the generator that wrote it (the committed files are
/// checked to be its output).
pub fn sample_xml(bundle: &str, log: &str) -> String {
    let b = evtriage_gen::samples::all()
        .into_iter()
        .find(|b| b.name == bundle)
        .unwrap_or_else(|| panic!("no sample bundle {bundle}"));
    let events = if log == "Application" {
        &b.application
    } else {
        &b.system
    };
    evtriage_gen::samples::events_xml(events)
}

/// A JSON array of strings, as `&str`s.
pub fn strs(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default()
}

/// `evtriage --format json ARGS…` from the project's root: the report and the exit code (the
/// report must parse; stderr is shown when it does not).
pub fn json_run<A: AsRef<std::ffi::OsStr>>(args: &[A]) -> (serde_json::Value, i32) {
    let out = assert_cmd::Command::cargo_bin("evtriage")
        .unwrap()
        .current_dir(root())
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (report, out.status.code().unwrap())
}

/// The IDs of a JSON finding's remediation steps, in order.
pub fn step_ids(finding: &serde_json::Value) -> Vec<&str> {
    finding["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

/// A JSON finding's remediation step with this ID.
pub fn step<'a>(finding: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    finding["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

use evtriage::event::{Event, Field, PayloadSource};
use evtriage::input::{EventFilter, EventSink, InputReport, discover, read_all};
use std::sync::Mutex;

const MAX_FIELDS: usize = 64;

/// Takes every record, its payload copied into the event.
#[derive(Default)]
pub struct AllEvents(Mutex<Vec<Event>>);

impl EventFilter for AllEvents {
    fn wants_event_id(&self, _id: u16) -> bool {
        true
    }
}

impl EventSink for AllEvents {
    fn accept(&self, mut event: Event, payload: &dyn PayloadSource) -> bool {
        // Readers hand the payload apart from the event: copied back, field by field, up to the
        // last present one (a `(NULL)` reads as absent).
        let mut fields: Vec<Option<String>> = (0..MAX_FIELDS)
            .map(|i| payload.positional(i).map(|v| v.into_owned()))
            .collect();
        while fields.last().is_some_and(Option::is_none) {
            fields.pop();
        }
        event.payload.fields = fields
            .into_iter()
            .map(|value| Field { name: None, value })
            .collect();
        event.payload.binary = payload.binary().map(|b| b.into_owned());
        self.0.lock().unwrap().push(event);
        true
    }
}

/// Every record of one .evt file, in record order, and its report.
pub fn read_evt(path: &Path) -> (Vec<Event>, InputReport) {
    let d = discover(
        &[path.display().to_string()],
        &mut std::io::empty(),
        1 << 30,
    );
    assert_eq!(d.files.len(), 1, "{:?}", d.rejected);
    assert_eq!(d.files[0].format, "evt");
    let sink = AllEvents::default();
    let mut reports = read_all(&d.files, &sink, &NoProgress);
    let mut events = sink.0.into_inner().unwrap();
    events.sort_by_key(|e| e.record_id);
    (events, reports.remove(0))
}
