//! The JSON writer assembles the document from findings as they stream; it must be exactly the
//! report serialized whole.

use evtriage::diagnosis::{Diagnoser, Inputs};
use evtriage::event::Interner;
use evtriage::input::xml::from_event_xml;
use evtriage::report::{Format, Report, Style};
use evtriage_gen::samples::{self, Bundle};

/// Every bundled sample's events, diagnosed as one run over two files.
fn report_of(bundles: &[Bundle]) -> Report {
    let diagnoser = Diagnoser::builtin();
    let mut interner = Interner::default();
    let mut matched = Vec::new();
    for b in bundles {
        for (source, events) in [(0, &b.application), (1, &b.system)] {
            for e in events {
                let mut xml = String::new();
                e.write_indented(&mut xml, 0);
                let ev = from_event_xml(&xml, source, None, &mut interner).expect("sample parses");
                matched.extend(diagnoser.match_built(ev));
            }
        }
    }
    let names = ["Application.evtx".to_string(), "System.evtx".to_string()];
    let findings = diagnoser.diagnose(matched, &Inputs::named(names.to_vec()));
    Report::new(findings, Vec::new())
}

fn assembled_equals_serialized(report: &Report) {
    let mut out = Vec::new();
    let style = Style::plain();
    report.write(Format::Json, &mut out, style).unwrap();
    let mut expected = serde_json::to_vec_pretty(report).unwrap();
    expected.push(b'\n');
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(expected).unwrap()
    );
}

#[test]
fn the_document_is_the_report_serialized() {
    assembled_equals_serialized(&report_of(&[]));
    let report = report_of(&samples::all());
    assert!(!report.findings.is_empty(), "the sample has findings");
    assembled_equals_serialized(&report);
}
