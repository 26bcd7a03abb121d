//! The .evt reader on the one real legacy log in `../shared/corpus` (a live copy of a Windows XP
//! System log: dirty, wrapped, with a record split across the end of the file), checked against
//! libevt's `evtexport`, an independent reader; and on damaged copies of it.

mod support;

use evtriage::event::Event;
use evtriage::input::{InputReport, NoProgress, discover, read_all};
use std::path::Path;
use support::*;

fn sysevent() -> Option<std::path::PathBuf> {
    Some(shared("corpus")?.join("plaso/SysEvent.Evt"))
}

#[test]
fn a_live_wrapped_xp_system_log_reads_whole() {
    let Some(path) = sysevent() else { return };
    let (events, report) = read_evt(&path);
    assert_eq!(report.records_read, 6063, "{report:?}");
    assert_eq!(report.records_failed, 0, "{report:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // In record order, oldest first, no number twice.
    let numbers: Vec<u64> = events.iter().map(|e| e.record_id).collect();
    assert_eq!(numbers.first(), Some(&1392));
    assert_eq!(numbers.last(), Some(&7454));
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    // Record 1572 runs past the end of the file and goes on at offset 0x30.
    let split = events.iter().find(|e| e.record_id == 1572).unwrap();
    assert_eq!(&*split.provider, "LSASRV");
    assert_eq!(split.event_id, 0xa000);
    assert_eq!(split.qualifiers, Some(0x8000));
    assert_eq!(split.payload.fields.len(), 3);
    assert_eq!(split.payload.positional(1), Some("Kerberos"));
    assert!(
        split
            .payload
            .positional(2)
            .unwrap()
            .ends_with("(0xc000005e)\""),
        "{:?}",
        split.payload
    );
    assert!(report.notes.iter().any(|n| n.contains("dirty")));
}

/// One record of `evtexport`'s text output.
#[derive(Debug, PartialEq)]
struct Exported {
    number: u64,
    created: String,
    computer: String,
    source: String,
    event_id: u32,
    strings: Vec<String>,
}

fn parse_evtexport(text: &str) -> Vec<Exported> {
    let value = |block: &str, key: &str| -> String {
        block
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|rest| {
                rest.trim_start_matches('\t')
                    .trim_start_matches(": ")
                    .to_string()
            })
            .unwrap_or_default()
    };
    text.split("\nEvent number\t\t\t: ")
        .skip(1)
        .map(|block| {
            let number = block.lines().next().unwrap().trim().parse().unwrap();
            let id = value(block, "Event identifier");
            let id = id.split(' ').next().unwrap().trim_start_matches("0x");
            let count: usize = value(block, "Number of strings").parse().unwrap_or(0);
            let mut strings = Vec::new();
            for k in 1..=count {
                let start_marker = format!("\nString: {k}\t\t\t: ");
                let start = block.find(&start_marker).unwrap() + start_marker.len();
                let end = block[start..]
                    .find(&format!("\nString: {}\t\t\t: ", k + 1))
                    .map(|e| start + e)
                    .unwrap_or_else(|| block.trim_end_matches('\n').len());
                strings.push(block[start..end].to_string());
            }
            Exported {
                number,
                created: value(block, "Creation time"),
                computer: value(block, "Computer name"),
                source: value(block, "Source name"),
                event_id: u32::from_str_radix(id, 16).unwrap(),
                strings,
            }
        })
        .collect()
}

fn as_exported(e: &Event) -> Exported {
    Exported {
        number: e.record_id,
        created: format!("{} UTC", e.time.format("%b %d, %Y %H:%M:%S")),
        computer: e.computer.to_string(),
        source: e.provider.to_string(),
        event_id: (u32::from(e.qualifiers.unwrap()) << 16) | u32::from(e.event_id),
        strings: e
            .payload
            .fields
            .iter()
            .map(|f| f.value.clone().unwrap_or_else(|| "(NULL)".into()))
            .collect(),
    }
}

/// Every record, field by field, as libevt reads it.
pub fn assert_same_as_evtexport(path: &Path, events: &[Event]) {
    require("evtexport", &["-V"]);
    let out = std::process::Command::new("evtexport")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let theirs = parse_evtexport(&String::from_utf8_lossy(&out.stdout));
    assert!(!theirs.is_empty());
    let mut ours: Vec<Exported> = events.iter().map(as_exported).collect();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter_mut().zip(&theirs) {
        // Trailing `(NULL)` strings read as absent fields.
        while a.strings.len() < b.strings.len() && b.strings[a.strings.len()] == "(NULL)" {
            a.strings.push("(NULL)".into());
        }
        assert_eq!(a, b);
    }
}

#[test]
#[ignore = "needs evtexport (libevt-utils)"]
fn the_xp_system_log_reads_as_libevt_reads_it() {
    let Some(path) = sysevent() else { return };
    let (events, _) = read_evt(&path);
    assert_same_as_evtexport(&path, &events);
}

#[test]
fn damage_is_named_counted_and_read_past() {
    let Some(path) = sysevent() else { return };
    let log = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // A record's length overwritten: that record is lost, named by its offset, and the walk
    // resumes at the next one.
    let at = 0x40000 + memchr::memmem::find(&log[0x40000..], b"LfLe").unwrap() - 4;
    let mut bad = log.clone();
    bad[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let p = dir.path().join("SysEvent-bad-record.Evt");
    std::fs::write(&p, &bad).unwrap();
    let (events, report) = read_evt(&p);
    assert_eq!(report.records_read, 6062, "{report:?}");
    assert_eq!(report.records_failed, 1, "{report:?}");
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains(&format!("offset {at}"))),
        "{:?}",
        report.errors
    );
    assert_eq!(events.len(), 6062);

    // A header that claims 4 GiB: damage, said, and no allocation of that size.
    let mut big = log.clone();
    big[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = dir.path().join("SysEvent-big.Evt");
    std::fs::write(&p, &big).unwrap();
    let (_, report) = read_evt(&p);
    assert_eq!(report.records_read, 6063);
    assert!(report.errors.iter().any(|e| e.contains("4294967295")));

    // Cut in the middle, end-of-file record and all: read as far as it goes, from the header.
    let p = dir.path().join("SysEvent-cut.Evt");
    std::fs::write(&p, &log[..log.len() / 2]).unwrap();
    let (events, report) = read_evt(&p);
    assert!(!events.is_empty());
    assert!(report.is_problem(), "{report:?}");
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("end-of-file record")),
        "{:?}",
        report.errors
    );

    // Every cut of the header and first records: never a panic, always a report.
    for len in [0usize, 10, 47, 48, 60, 200, 4096] {
        let p = dir.path().join(format!("cut-{len}.evt"));
        std::fs::write(&p, &log[..len.min(log.len())]).unwrap();
        let d = discover(&[p.display().to_string()], &mut std::io::empty(), 1 << 30);
        let sink = AllEvents::default();
        let reports = read_all(&d.files, &sink, &NoProgress);
        let all: Vec<&InputReport> = reports.iter().chain(&d.rejected).collect();
        assert_eq!(all.len(), 1, "{len}");
        assert!(
            all[0].is_problem() || all[0].records_read == 0,
            "{len}: {:?}",
            all[0]
        );
    }
}
