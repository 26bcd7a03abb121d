//! Properties (proptest): the diagnosis does not depend on the order in which events arrive (files
//! are read in parallel, so any order is possible, ties in time included); splitting one log into
//! two files does not change it; and any string survives the writer and the reader, as rendering
//! shows it.

mod support;

use support::{diagnoser, kept};

use evtriage::diagnosis::{Inputs, Matched};
use evtriage::event::{Event, Interner};
use evtriage::input::template::{Outcome, PlanCache, event_from_template};
use evtriage::input::xml::from_event_xml;
use evtriage_gen::events::{self, Stamp};
use evtriage_gen::samples;
use evtriage_writer::EvtxWriter;
use evtriage_writer::xmltree::Element;
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Findings as JSON, without what names the files (the same events come from other files when a
/// log is split).
fn diagnosis(matched: Vec<Matched>, files: usize) -> serde_json::Value {
    let names: Vec<String> = (0..files).map(|i| format!("file{i}")).collect();
    let mut v = serde_json::to_value(diagnoser().diagnose(matched, &Inputs::named(names))).unwrap();
    strip_files(&mut v);
    v
}

fn strip_files(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("file");
            map.values_mut().for_each(strip_files);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_files),
        _ => {}
    }
}

/// Fisher-Yates with a small PRNG seeded by proptest, so that failures replay.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn kb_bundle() -> [std::path::PathBuf; 2] {
    let dir = support::samples().join("kb940006-rollup-failed");
    [dir.join("Application.evtx"), dir.join("System.evtx")]
}

fn write_log(events: &[Element], path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = EvtxWriter::new(std::io::BufWriter::new(file)).unwrap();
    for e in events {
        w.write_event(e).unwrap();
    }
    w.finish().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Events arrive in whatever order the reader threads deliver them; the sample has ties in
    /// time (two 1025s in one second, 1023 and 1036 in another), and any order gives one diagnosis.
    #[test]
    fn diagnosis_does_not_depend_on_event_order(seed in any::<u64>()) {
        let [app, sys] = kb_bundle();
        let baseline = diagnosis(kept(&[&app, &sys]), 2);
        let mut shuffled = kept(&[&app, &sys]);
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(diagnosis(shuffled, 2), baseline);
    }

    /// Text logs too: whatever order the events of the retry case (event logs, installer logs,
    /// `ServiceControl.log`, saved start modes) arrive in, they are placed on one timeline and
    /// diagnosed the same: the offset, its anchors, every service and its start type, the stale
    /// saved state.
    #[test]
    fn placing_text_logs_does_not_depend_on_event_order(seed in any::<u64>()) {
        let files = support::log_files(&support::samples().join("exchange2016-su-failed-retry"));
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let place_and_diagnose = |mut matched: Vec<Matched>, mut reports: Vec<evtriage::input::InputReport>| {
            evtriage::timeline::place(&mut matched, &mut reports, &Default::default());
            let mut v = serde_json::to_value(
                diagnoser().diagnose(matched, &Inputs::of_reports(&reports)),
            )
            .unwrap();
            strip_files(&mut v);
            (v, serde_json::to_value(&reports).unwrap())
        };
        let (matched, reports) = support::read_unplaced(&refs);
        let baseline = place_and_diagnose(matched.clone(), reports.clone());
        prop_assert_eq!(baseline.0.as_array().unwrap().len(), 1);
        let mut shuffled = matched;
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(place_and_diagnose(shuffled, reports), baseline);
    }

    /// Any name a `ServiceControl.log` line gives a service reaches a command only when it is a
    /// service key name; anything else is withheld, never printed into a command.
    #[test]
    fn any_service_name_in_a_text_log_reaches_commands_only_when_valid(name in "MSExchange[^\\r\\n']{0,40}") {
        let dir = tempfile::tempdir().unwrap();
        let src = support::samples().join("exchange2016-su-failed-retry");
        for f in support::log_files(&src) {
            let to = dir.path().join(f.strip_prefix(&src).unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&f, &to).unwrap();
        }
        let sc = dir.path().join("ExchangeSetupLogs/ServiceControl.log");
        let mut log = std::fs::read(&sc).unwrap();
        log.extend_from_slice(format!("[13:41:12] Disabling service '{name}'.\r\n").as_bytes());
        std::fs::write(&sc, log).unwrap();
        let files = support::log_files(dir.path());
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let findings = support::diagnose_files(&refs);
        prop_assert_eq!(findings.len(), 1);
        let valid = name.len() <= 256
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.$-".contains(c));
        // Where a service's name stands in a command: the PowerShell selector, sc.exe, net.
        let forms = [
            format!("-Name '{name}'"),
            format!("config {name} "),
            format!("net start {name}"),
        ];
        for step in &findings[0].remediation {
            for c in step.powershell.iter().chain(&step.cmd) {
                prop_assert!(
                    valid || forms.iter().all(|f| !c.contains(f.as_str())),
                    "{name:?} in {c}"
                );
            }
        }
    }

    /// The order of the input files does not matter either.
    #[test]
    fn diagnosis_does_not_depend_on_file_order(reverse in any::<bool>()) {
        let [app, sys] = kb_bundle();
        let forward = diagnosis(kept(&[&app, &sys]), 2);
        let files: Vec<&Path> = if reverse { vec![&sys, &app] } else { vec![&app, &sys] };
        prop_assert_eq!(diagnosis(kept(&files), 2), forward);
    }

    /// An Application log cut into two files at any record gives the diagnosis of the whole.
    #[test]
    fn splitting_a_log_into_two_files_changes_nothing(cut in 0.0f64..1.0) {
        let bundle = samples::all().swap_remove(0);
        assert_eq!(bundle.name, "kb940006-rollup-failed");
        let dir = tempfile::tempdir().unwrap();
        let at = (bundle.application.len() as f64 * cut) as usize;
        let (first, second) = bundle.application.split_at(at);
        let (a, b, s) = (dir.path().join("a.evtx"), dir.path().join("b.evtx"), dir.path().join("s.evtx"));
        write_log(first, &a);
        write_log(second, &b);
        write_log(&bundle.system, &s);
        let whole = dir.path().join("whole.evtx");
        write_log(&bundle.application, &whole);
        let baseline = diagnosis(kept(&[&whole, &s]), 2);
        prop_assert!(!baseline.as_array().unwrap().is_empty());
        prop_assert_eq!(diagnosis(kept(&[&a, &b, &s]), 3), baseline);
    }

    /// Any string (any Unicode, control characters, empty, very long) written into an event comes
    /// back as rendering shows it, by the fast path and by rendering alike: characters XML cannot
    /// carry become `_`, CR LF and CR become LF, `(NULL)` is no value. NUL ends a string in a
    /// string array, so it is not generated.
    #[test]
    fn any_string_round_trips(
        strings in prop::collection::vec(
            prop_oneof![
                "[^\u{0}]{0,40}",
                "[\u{1}-\u{1f}\u{7f}-\u{9f}\u{2028}\u{2029}\u{fffe}\u{ffff}a\r\n]{0,12}",
                Just(String::new()),
                Just("(NULL)".to_string()),
                "[a-z\u{10000}-\u{10ffff}]{2000,6000}",
            ],
            1..5,
        )
    ) {
        let stamp = Stamp {
            computer: "EXMBX01.contoso.local",
            time: chrono::DateTime::parse_from_rfc3339("2011-11-09T03:00:00Z").unwrap().to_utc(),
        };
        let refs: Vec<&str> = strings.iter().map(String::as_str).collect();
        let classic = events::classic_app(&stamp, "MsiInstaller", 11707, 0, 4, 0, &refs);
        // A manifest provider's named field carries the first string.
        let named = events::scm_start_type(&stamp, (496, 1000), "S-1-5-18", &strings[0], "auto start", "disabled", "Svc");
        let mut all = vec![classic, named];
        for (i, e) in all.iter_mut().enumerate() {
            events::set_record_id(e, i as u64 + 1);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strings.evtx");
        write_log(&all, &path);
        let read = read_both_ways(&path);
        prop_assert_eq!(read.len(), 2);
        let expected: Vec<Option<String>> = strings.iter().map(|s| rendered(s)).collect();
        let classic_values: Vec<Option<String>> =
            read[0].payload.fields.iter().map(|f| f.value.clone()).collect();
        prop_assert_eq!(classic_values, expected.clone());
        prop_assert_eq!(read[1].payload.named("param1").map(str::to_string), expected[0].clone());
    }
}

/// A string as the reader gives it back.
fn rendered(s: &str) -> Option<String> {
    let unfit = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
    };
    let s: String = s.chars().map(|c| if unfit(c) { '_' } else { c }).collect();
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    (s != "(NULL)").then_some(s)
}

/// Every record of the file, built by the fast path and by rendering, which must agree.
fn read_both_ways(path: &Path) -> Vec<Event> {
    let settings = Arc::new(evtx::ParserSettings::new().num_threads(1));
    let mut parser = evtx::EvtxParser::from_path(path).unwrap();
    let mut out = Vec::new();
    for chunk in parser.chunks() {
        let mut data = chunk.unwrap();
        let mut chunk = data.parse(settings.clone()).unwrap();
        let mut cache = PlanCache::default();
        let mut interner = Interner::default();
        for record in chunk.iter() {
            let record = record.unwrap();
            let fast = match event_from_template(&record, 0, &mut cache, &mut interner, |_| true) {
                Outcome::Event(e) => *e,
                _ => panic!("our own records take the fast path"),
            };
            let id = record.event_record_id;
            let xml = record.into_xml().unwrap();
            let slow = from_event_xml(&xml.data, 0, Some(id), &mut interner).unwrap();
            assert_eq!(fast, slow, "{}", xml.data);
            out.push(fast);
        }
    }
    out
}
