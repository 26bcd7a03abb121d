//! The template fast path builds events without rendering; it must build exactly the event that
//! rendering builds, on every record it accepts, in Windows' files, ours and the independent writer's.

mod support;

use evtriage::event::{Event, Interner, PayloadSource};
use evtriage::input::template::{Outcome, PlanCache, Viewed, event_from_template, event_view};
use evtriage::input::xml::from_event_xml;
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

/// Every chunk of the file that the evtx crate can parse, one thread per parser.
fn each_chunk(path: &Path, mut each: impl FnMut(&mut evtx::EvtxChunk)) {
    let settings = Arc::new(evtx::ParserSettings::new().num_threads(1));
    let Ok(mut parser) = evtx::EvtxParser::from_path(path) else {
        return;
    };
    for chunk in parser.chunks() {
        let Ok(mut data) = chunk else { continue };
        if let Ok(mut chunk) = data.parse(settings.clone()) {
            each(&mut chunk);
        }
    }
}

/// (records compared, records left to rendering, of which from SIGNATURE_PROVIDERS, records whose
/// payload was also read on demand)
fn compare_file(path: &Path) -> (u64, u64, u64, u64) {
    let (mut same, mut fallback, mut ours, mut viewed) = (0, 0, 0, 0u64);
    // One cache for the file, emptied for each chunk as the reader's thread does: the plans of
    // earlier chunks are found again by their shape, and must be the right ones.
    let mut cache = PlanCache::default();
    let mut views = PlanCache::default();
    each_chunk(path, |chunk| {
        cache.clear();
        views.clear();
        let mut interner = Interner::default();
        for record in chunk.iter() {
            let Ok(record) = record else { continue };
            let fast = match event_from_template(&record, 0, &mut cache, &mut interner, |_| true) {
                Outcome::Event(e) => Some(*e),
                Outcome::Unwanted => unreachable!("every ID is wanted here"),
                Outcome::Render => None,
            };
            let header_id = record.event_record_id;
            if let Some(built) = &fast {
                let start = record.binxml_offset as usize;
                let binxml = start..start + record.binxml_size as usize;
                match event_view(
                    record.chunk.data,
                    binxml,
                    header_id,
                    0,
                    &mut views,
                    &mut interner,
                    |_| true,
                    |_| true,
                    |_, _, _| true,
                ) {
                    Viewed::Event(event, view) => {
                        same_payload(built, &event, &view, path, header_id);
                        viewed += 1;
                    }
                    Viewed::Built(event) => assert_eq!(&*event, built),
                    _ => panic!(
                        "{}: record {header_id}: the view refused what the fast path read",
                        path.display()
                    ),
                }
            }
            let Ok(xml) = record.into_xml() else { continue };
            let Ok(slow) = from_event_xml(&xml.data, 0, Some(header_id), &mut interner) else {
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
    });
    (same, fallback, ours, viewed)
}

/// The payload read on demand is the payload built: every position (and one past the end), every
/// name (and one no field has), the binary; and the event around it is the same.
fn same_payload(built: &Event, event: &Event, view: &dyn PayloadSource, path: &Path, id: u64) {
    let at = || format!("{}: record {id}", path.display());
    let mut bare = built.clone();
    bare.payload = Default::default();
    assert_eq!(event, &bare, "{}", at());
    let p = &built.payload;
    for i in 0..=p.fields.len() {
        assert_eq!(
            view.positional(i).as_deref(),
            p.positional(i),
            "{}: field {i}",
            at()
        );
    }
    for name in p
        .fields
        .iter()
        .filter_map(|f| f.name.as_deref())
        .chain(["no-such-field"])
    {
        assert_eq!(
            view.named(name).as_deref(),
            p.named(name),
            "{}: field {name}",
            at()
        );
    }
    assert_eq!(
        view.binary().as_deref(),
        p.binary.as_deref(),
        "{}: binary",
        at()
    );
}

fn compare_tree(dir: &Path) -> (u64, u64, u64, u64) {
    evtx_files(dir)
        .iter()
        .map(|f| compare_file(f))
        .fold((0, 0, 0, 0), |a, b| {
            (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
        })
}

#[test]
fn fast_path_equals_rendering_on_the_samples() {
    let (same, fallback, _, viewed) = compare_tree(&samples());
    assert!(same > 3000, "{same}");
    assert_eq!(
        viewed, same,
        "every record of our own files is read on demand"
    );
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
    let (same, fallback, ours, viewed) = compare_tree(&corpus);
    eprintln!(
        "corpus: {same} records by the fast path ({viewed} of them also read on demand), {fallback} rendered"
    );
    assert!(viewed > same / 2, "{viewed} of {same}");
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
    let (same, fallback, _, _) = compare_tree(&dir);
    eprintln!("scenario: {same} records by the fast path, {fallback} rendered");
    assert!(fallback > 0);
}

/// A verdict that depends on everything a sink may read of a record's provider, ID and payload,
/// and that refuses about half of them: remembering it under a key that missed any of it would
/// soon answer for a different payload.
fn fingerprint_verdict(provider: &str, id: u16, payload: &dyn PayloadSource) -> bool {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (provider, id).hash(&mut h);
    (0..)
        .map_while(|i| payload.positional(i))
        .for_each(|f| f.hash(&mut h));
    payload.binary().hash(&mut h);
    h.finish().is_multiple_of(2)
}

/// (records, verdicts asked) reading each chunk with one cache, which remembers verdicts, checked
/// record by record against a fresh cache, which cannot.
fn remembered_verdicts(path: &Path) -> (u64, u64) {
    let (mut records, mut asked) = (0, 0);
    each_chunk(path, |chunk| {
        let mut remembering = PlanCache::default();
        let mut interner = Interner::default();
        for record in chunk.iter() {
            let Ok(record) = record else { continue };
            let start = record.binxml_offset as usize;
            let binxml = start..start + record.binxml_size as usize;
            let mut view = |cache: &mut PlanCache, asked: &mut u64| {
                let outcome = event_view(
                    record.chunk.data,
                    binxml.clone(),
                    record.event_record_id,
                    0,
                    cache,
                    &mut interner,
                    |_| true,
                    |_| true,
                    |p, id, payload| {
                        *asked += 1;
                        fingerprint_verdict(p, id, payload)
                    },
                );
                match outcome {
                    Viewed::Event(..) => Some(true),
                    Viewed::Unwanted => Some(false),
                    Viewed::Built(_) | Viewed::Render => None,
                }
            };
            let remembered = view(&mut remembering, &mut asked);
            let fresh = view(&mut PlanCache::default(), &mut 0);
            assert_eq!(
                remembered,
                fresh,
                "{}: record {}",
                path.display(),
                record.event_record_id
            );
            records += u64::from(fresh.is_some());
        }
    });
    (records, asked)
}

#[test]
fn remembered_payload_verdicts_are_the_ones_asked_for() {
    let mut dirs = vec![samples()];
    dirs.extend(shared("corpus"));
    dirs.extend(shared("scenarios"));
    let (records, asked) = dirs
        .iter()
        .flat_map(|d| evtx_files(d))
        .map(|f| remembered_verdicts(&f))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    eprintln!("{records} records read on demand, {asked} verdicts asked");
    assert!(records > 3000, "{records}");
    assert!(
        asked < records,
        "repeated payloads are answered from memory"
    );
}

/// What lets a reader skip building a record (its provider, or its payload, alone rules out every
/// signature) must never skip one that matches.
#[test]
fn payload_refusal_never_hides_a_match() {
    let diagnoser = evtriage::diagnosis::Diagnoser::builtin();
    let mut dirs = vec![samples()];
    dirs.extend(shared("corpus"));
    dirs.extend(shared("scenarios"));
    let (mut matched, mut refused) = (0, 0);
    for file in dirs.iter().flat_map(|d| evtx_files(d)) {
        let Ok(parser) = evtx::EvtxParser::from_path(&file) else {
            continue;
        };
        let settings = evtx::ParserSettings::new().num_threads(1);
        let mut interner = Interner::default();
        for record in parser.with_configuration(settings).records() {
            let Ok(record) = record else { continue };
            let Ok(event) =
                from_event_xml(&record.data, 0, Some(record.event_record_id), &mut interner)
            else {
                continue;
            };
            let may = diagnoser.payload_may_match(&event.provider, event.event_id, &event.payload);
            let wanted = diagnoser.wants_event_id(event.event_id);
            let provider = diagnoser.wants_provider(&event.provider);
            match diagnoser.match_built(event) {
                Some(_) => {
                    assert!(may, "{}: record {}", file.display(), record.event_record_id);
                    assert!(
                        provider,
                        "{}: record {}",
                        file.display(),
                        record.event_record_id
                    );
                    matched += 1;
                }
                None => refused += u64::from(wanted && !may),
            }
        }
    }
    eprintln!("{matched} records matched, {refused} of a wanted ID refused by their payload alone");
    assert!(matched > 100, "{matched}");
    assert!(refused > 1000, "{refused}");
}

/// How a record was viewed, and the provider of the event when one was built.
fn view_of(outcome: Viewed) -> (&'static str, Option<String>) {
    match outcome {
        Viewed::Event(e, _) => ("event", Some(e.provider.to_string())),
        Viewed::Built(e) => ("built", Some(e.provider.to_string())),
        Viewed::Unwanted => ("unwanted", None),
        Viewed::Render => ("render", None),
    }
}

/// A provider the sink refuses is refused before the record's values are read when its template
/// names it, from one answer remembered per template and chunk, and by the payload verdict
/// (which a sink answers alike) when a value holds it: exactly the records whose event would
/// have named it are refused, and every other record is viewed as when no provider is refused.
/// (A record left to rendering, whose provider the view cannot know, may be refused when its
/// template names one.)
#[test]
fn refusing_a_provider_refuses_its_records_alone() {
    let mut dirs = vec![samples()];
    dirs.extend(shared("corpus"));
    let (mut refused, mut early, mut kept) = (0u64, 0u64, 0u64);
    for file in dirs.iter().flat_map(|d| evtx_files(d)) {
        for victim in [
            "Service Control Manager",
            "MsiInstaller",
            "EventLog",
            "Microsoft-Windows-Security-Auditing",
        ] {
            each_chunk(&file, |chunk| {
                let mut refusing = PlanCache::default();
                let mut interner = Interner::default();
                for record in chunk.iter() {
                    let Ok(record) = record else { continue };
                    let start = record.binxml_offset as usize;
                    let binxml = start..start + record.binxml_size as usize;
                    let wants = |p: &str| !p.eq_ignore_ascii_case(victim);
                    // (cache, refuse the provider, refuse it by the payload verdict too)
                    let mut view = |cache: &mut PlanCache, by_provider: bool, by_payload: bool| {
                        view_of(event_view(
                            record.chunk.data,
                            binxml.clone(),
                            record.event_record_id,
                            0,
                            cache,
                            &mut interner,
                            |p| !by_provider || wants(p),
                            |_| true,
                            |p, _, _| !by_payload || wants(p),
                        ))
                    };
                    let whole = view(&mut PlanCache::default(), false, false);
                    assert_ne!(whole.0, "unwanted", "nothing is refused");
                    let asked = view(&mut refusing, true, true);
                    // Refused before its payload is asked about: by its template's provider.
                    let before = view(&mut PlanCache::default(), true, false);
                    let at = || {
                        format!(
                            "{}: record {}, refusing {victim}",
                            file.display(),
                            record.event_record_id
                        )
                    };
                    match &whole {
                        (_, Some(p)) if p.eq_ignore_ascii_case(victim) => {
                            assert_eq!(asked.0, "unwanted", "{}", at());
                            refused += 1;
                            early += u64::from(before.0 == "unwanted");
                        }
                        ("render", _) => {
                            assert!(matches!(asked.0, "render" | "unwanted"), "{}", at());
                            assert_eq!(asked, before, "{}", at());
                        }
                        _ => {
                            assert_eq!(asked, whole, "{}", at());
                            assert_eq!(before, whole, "{}", at());
                            kept += u64::from(whole.1.is_some());
                        }
                    }
                }
            });
        }
    }
    eprintln!(
        "{refused} records refused by their provider ({early} of them by their template's), {kept} built beside them"
    );
    assert!(early > 1000, "{early} of {refused}");
    assert!(
        refused > early,
        "{early} of {refused}: some by their payload verdict"
    );
    assert!(kept > 1000, "{kept}");
}
