//! The template fast path builds events without rendering; it must build exactly the event that
//! rendering builds, on every record it accepts, in Windows' files, ours and the independent writer's.

mod support;

use evtriage::event::{Interner, from_event_xml};
use evtriage::input::template::{Outcome, PlanCache, event_from_template};
use std::path::Path;
use std::sync::Arc;
use support::*;

/// Providers the built-in signatures read: their records must not need rendering.
const SIGNATURE_PROVIDERS: &[&str] = &[
    "MsiInstaller",
    "Service Control Manager",
    "Microsoft-Windows-RestartManager",
    "Microsoft-Windows-WindowsUpdateClient",
    "EventLog",
];

/// (records compared, records left to rendering, of which from SIGNATURE_PROVIDERS)
fn compare_file(path: &Path) -> (u64, u64, u64) {
    let settings = Arc::new(evtx::ParserSettings::new().num_threads(1));
    let Ok(mut parser) = evtx::EvtxParser::from_path(path) else {
        return (0, 0, 0);
    };
    let (mut same, mut fallback, mut ours) = (0, 0, 0);
    for chunk in parser.chunks() {
        let Ok(mut data) = chunk else { continue };
        let Ok(mut chunk) = data.parse(settings.clone()) else {
            continue;
        };
        let mut cache = PlanCache::default();
        let mut interner = Interner::default();
        for record in chunk.iter() {
            let Ok(record) = record else { continue };
            let fast = match event_from_template(&record, 0, &mut cache, &mut interner, |_| true) {
                Outcome::Event(e) => Some(*e),
                Outcome::Unwanted => unreachable!("every ID is wanted here"),
                Outcome::Render => None,
            };
            let header_id = record.event_record_id;
            let Ok(xml) = record.into_xml() else { continue };
            let Ok(slow) = from_event_xml(&xml.data, 0, header_id, &mut interner) else {
                assert!(
                    fast.is_none(),
                    "{}: record {header_id}: fast path accepted what rendering rejects",
                    path.display()
                );
                continue;
            };
            match fast {
                Some(fast) => {
                    assert_eq!(
                        fast,
                        slow,
                        "{}: record {header_id}\n{}",
                        path.display(),
                        xml.data
                    );
                    same += 1;
                }
                None => {
                    if std::env::var_os("SHOW_FALLBACK").is_some() {
                        eprintln!(
                            "fallback {} {} {}",
                            path.display(),
                            slow.provider,
                            slow.event_id
                        );
                    }
                    fallback += 1;
                    ours += u64::from(SIGNATURE_PROVIDERS.contains(&&*slow.provider));
                }
            }
        }
    }
    (same, fallback, ours)
}

fn compare_tree(dir: &Path) -> (u64, u64, u64) {
    evtx_files(dir)
        .iter()
        .map(|f| compare_file(f))
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
}

#[test]
fn fast_path_equals_rendering_on_the_samples() {
    let (same, fallback, _) = compare_tree(&samples());
    assert!(same > 3000, "{same}");
    assert_eq!(
        fallback, 0,
        "every record of our own files takes the fast path"
    );
}

#[test]
fn fast_path_equals_rendering_on_the_real_corpus() {
    let Some(corpus) = shared("corpus") else {
        return;
    };
    let (same, fallback, ours) = compare_tree(&corpus);
    eprintln!("corpus: {same} records by the fast path, {fallback} rendered");
    assert!(same > 15_000, "{same}");
    assert_eq!(
        ours, 0,
        "records of the providers the signatures read all take the fast path"
    );
}

#[test]
fn records_without_templates_are_left_to_rendering() {
    let Some(dir) = shared("scenarios") else {
        return;
    };
    let (same, fallback, _) = compare_tree(&dir);
    eprintln!("scenario: {same} records by the fast path, {fallback} rendered");
    assert!(fallback > 0);
}
