//! Entry points for the fuzz targets in `fuzz/` and for the regression tests that replay what the
//! fuzzers found (`tests/regressions.rs`, inputs in `fuzz/regressions/`): one function per
//! target, so that a crash found by `cargo fuzz` is replayed on stable Rust by `cargo test`.
//! Each runs the input through the same code a run of evtriage would, and reports through the
//! report writers, so that what the input's text does to the output is exercised too.

use evtriage::diagnosis::signature::Signature;
use evtriage::diagnosis::{Collector, Diagnoser};
use evtriage::event::Interner;
use evtriage::input::xml::from_event_xml;
use evtriage::input::{InputFile, NoProgress, READERS};
use evtriage::report::{Format, Report, Style};
use std::io::Write;
use std::sync::OnceLock;

fn builtin() -> &'static Diagnoser {
    static DIAGNOSER: OnceLock<Diagnoser> = OnceLock::new();
    DIAGNOSER.get_or_init(Diagnoser::builtin)
}

/// Read `bytes` as a file, diagnose what it holds, and write every report format; the number of
/// records read.
fn read_file(bytes: &[u8], diagnoser: &Diagnoser) -> u64 {
    read_file_as(bytes, diagnoser, None)
}

/// [`read_file`], read by the reader of `format` whatever its first bytes say, and placed on the
/// timeline as a run places text logs.
fn read_file_as(bytes: &[u8], diagnoser: &Diagnoser, format: Option<&str>) -> u64 {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return 0;
    };
    if file.write_all(bytes).and_then(|_| file.flush()).is_err() {
        return 0;
    }
    // By content, as a run recognizes it: .evtx or .evt; or the reader named.
    let reader = match format {
        Some(name) => READERS.iter().find(|r| r.format() == name),
        None => READERS
            .iter()
            .find(|r| r.recognizes(&bytes[..bytes.len().min(8)])),
    };
    let input = InputFile {
        id: 0,
        path: file.path().to_path_buf(),
        display: "fuzz.evtx".into(),
        size: bytes.len() as u64,
        format: reader.map_or("evtx", |r| r.format()),
        handle: None,
        member: None,
        modified: Some(evtriage::input::FileTime::Local(
            chrono::NaiveDate::from_ymd_opt(2023, 3, 15)
                .and_then(|d| d.and_hms_opt(14, 0, 0))
                .expect("a valid time"),
        )),
    };
    let sink = Collector::new(diagnoser);
    let mut inputs = match reader {
        Some(reader) => vec![reader.read(&input, &sink, &NoProgress)],
        None => Vec::new(),
    };
    let read = inputs.iter().map(|i| i.records_read).sum();
    let mut kept = sink.into_matched();
    evtriage::timeline::place(&mut kept, &mut inputs, &Default::default());
    let findings = diagnoser.diagnose(
        kept,
        &evtriage::diagnosis::Inputs::named(vec!["fuzz.evtx".to_string()]),
    );
    let report = Report::new(findings, inputs);
    for format in [
        Format::Table,
        Format::Json,
        Format::Jsonl,
        Format::Markdown,
        Format::Html,
    ] {
        let mut out = Vec::new();
        let mut style = Style::plain();
        style.color = true;
        style.width = Some(100);
        style.shells = evtriage::report::Shells::Both;
        report
            .write(format, &mut out, style)
            .expect("writing to memory does not fail");
        if format == Format::Table {
            let text = String::from_utf8_lossy(&out);
            assert!(
                !text.contains('\u{1b}') || style.color,
                "escape sequences only from our own colours"
            );
        }
    }
    read
}

/// The `reader` target: `bytes` as a log file (.evtx or .evt, by content), and as rendered Event
/// XML.
pub fn read_and_diagnose(bytes: &[u8]) {
    read_file(bytes, builtin());
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = from_event_xml(text, 0, Some(1), &mut Interner::default());
    }
}

/// The `evt` target: `bytes` as a classic .evt log (its first 8 bytes made the .evt signature, so
/// that every input reaches that reader), diagnosed and reported.
pub fn read_evt_and_diagnose(bytes: &[u8]) {
    let mut evt = bytes.to_vec();
    if evt.len() >= 8 {
        evt[..8].copy_from_slice(b"\x30\x00\x00\x00LfLe");
    }
    read_file(&evt, builtin());
}

/// The text-log targets (`msi_log`, `service_control`, `exchange_setup`, `clixml`): `bytes` as a
/// file of that format (read by its reader whatever its first line says), placed on the timeline,
/// diagnosed and reported.
pub fn read_text_log_and_diagnose(format: &str, bytes: &[u8]) {
    read_file_as(bytes, builtin(), Some(format));
}

/// The `archive` target: `bytes` as a zip archive found in a folder, with a small limit (1 MiB
/// a member, a few in all), its members recognized, read, placed and diagnosed as a run does.
pub fn read_archive_and_diagnose(bytes: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("case.zip");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let discovery = evtriage::input::discover_with(
        &[path.display().to_string()],
        &mut std::io::empty(),
        1 << 20,
        evtriage::input::archive::ArchiveLimits { total: 4 << 20 },
    );
    let diagnoser = builtin();
    let sink = Collector::new(diagnoser);
    let mut inputs = evtriage::input::read_all(&discovery.files, &sink, &NoProgress);
    let mut kept = sink.into_matched();
    evtriage::timeline::place(&mut kept, &mut inputs, &Default::default());
    let findings = diagnoser.diagnose(kept, &evtriage::diagnosis::Inputs::of_reports(&inputs));
    inputs.extend(discovery.rejected);
    let report = Report::new(findings, inputs);
    for format in [Format::Table, Format::Json, Format::Html] {
        let mut out = Vec::new();
        report
            .write(format, &mut out, Style::plain())
            .expect("writing to memory does not fail");
    }
}

/// The `event_xml` target: write `xml` as a log; what is written must read back.
pub fn write_event_xml(xml: &str) {
    let Ok((out, summary)) = evtriage_writer::write_xml(xml, std::io::Cursor::new(Vec::new()))
    else {
        return;
    };
    let bytes = out.into_inner();
    let read = read_file(&bytes, builtin());
    assert_eq!(
        read, summary.records,
        "the reader reads every record the writer wrote"
    );
}

/// The `signature` target: load `text` as a signature definition and run it over a sample.
pub fn load_and_run_signature(text: &str) {
    let Ok(signature) = Signature::from_toml("fuzz.toml", text) else {
        return;
    };
    let Ok(diagnoser) = Diagnoser::new(vec![signature]) else {
        return;
    };
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    let sample = SAMPLE.get_or_init(|| {
        // The KB 940006 bundle: Application and System events in one log.
        let bundle = evtriage_gen::samples::all().swap_remove(0);
        let events: Vec<_> = bundle
            .application
            .into_iter()
            .chain(bundle.system)
            .collect();
        let xml = evtriage_gen::samples::events_xml(&events);
        evtriage_writer::write_xml(&xml, std::io::Cursor::new(Vec::new()))
            .map(|(out, _)| out.into_inner())
            .unwrap_or_default()
    });
    read_file(sample, &diagnoser);
}
