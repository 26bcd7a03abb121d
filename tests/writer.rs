//! The EVTX writer and what it wrote: samples reproducible from their XML, every file readable with
//! checksums by the evtx crate and by two independent parsers, XML round trips, chunk rollover,
//! clear errors, and the large-log generator.

mod support;

use evtriage_gen::samples;
use evtriage_writer::xmltree::{self, Element};
use evtriage_writer::{self as evtxwrite, EvtxWriter, verify};
use std::io::Cursor;
use std::process::Command;
use support::*;

#[test]
fn committed_samples_are_what_the_generator_writes() {
    let mut written = 0;
    for bundle in samples::all() {
        let dir = samples().join(bundle.name);
        for (name, bytes) in bundle.logs().unwrap() {
            let committed = std::fs::read(dir.join(&name)).unwrap();
            assert!(
                committed == bytes,
                "{}/{name} is stale: run `cargo run -p evtriage-gen -- samples`",
                bundle.name
            );
            written += 1;
        }
        // Nothing else: a file left from an older generator would be read as a log.
        let on_disk = walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count();
        assert_eq!(on_disk, bundle.logs().unwrap().len(), "{}", dir.display());
    }
    assert!(written >= 2 * 8);
}

#[test]
fn every_sample_round_trips_through_the_evtx_crate() {
    let mut files = 0;
    for bundle in samples::all() {
        for (name, _) in bundle.logs().unwrap() {
            if !name.ends_with(".evtx") {
                continue;
            }
            let written = if name.starts_with("Application") {
                &bundle.application
            } else {
                &bundle.system
            };
            let evtx = samples().join(bundle.name).join(&name);
            assert!(
                written.len() > 80,
                "{}: only {} events",
                evtx.display(),
                written.len()
            );
            let read = verify::read_back(&evtx).unwrap();
            verify::compare(written, &read).unwrap_or_else(|e| panic!("{}: {e}", evtx.display()));
            files += 1;
        }
    }
    assert_eq!(files, evtx_files(&samples()).len());
}

#[test]
#[ignore = "needs python-evtx (.ci/run installs it)"]
fn python_evtx_reads_every_sample_like_the_evtx_crate() {
    require("python3", &["-c", "import Evtx"]);
    for evtx in evtx_files(&samples()) {
        let out = Command::new("python3")
            .args(["-c", "import sys\nfrom Evtx.Evtx import Evtx\nn=0\nwith Evtx(sys.argv[1]) as l:\n    for r in l.records():\n        r.xml(); n+=1\nprint(n)"])
            .arg(&evtx)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            evtx.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(n, evtx_crate_count(&evtx), "{}", evtx.display());
    }
}

#[test]
#[ignore = "needs evtxexport from libevtx-utils (.ci/run installs it)"]
fn libevtx_reads_every_sample_like_the_evtx_crate() {
    require("evtxexport", &["-V"]);
    for evtx in evtx_files(&samples()) {
        let out = Command::new("evtxexport").arg(&evtx).output().unwrap();
        assert!(out.status.success(), "{}", evtx.display());
        let text = String::from_utf8_lossy(&out.stdout);
        let n = text
            .lines()
            .filter(|l| l.starts_with("Event number"))
            .count();
        assert_eq!(n, evtx_crate_count(&evtx), "{}", evtx.display());
        let info = Command::new("evtxinfo").arg(&evtx).output().unwrap();
        assert!(
            !String::from_utf8_lossy(&info.stdout).contains("Is corrupted"),
            "{}",
            evtx.display()
        );
    }
}

fn event(id: u64, data: &str) -> Element {
    let xml = format!(
        r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="MsiInstaller" />
<EventID Qualifiers="0">1025</EventID><Level>4</Level><Task>0</Task><Keywords>0x80000000000000</Keywords>
<TimeCreated SystemTime="2016-09-01T20:48:12.000000000Z" /><EventRecordID>{id}</EventRecordID><Channel>Application</Channel>
<Computer>HOST</Computer><Security UserID="S-1-5-18" /></System><EventData><Data>{data}</Data><Data>(NULL)</Data><Data /></EventData></Event>"#
    );
    xmltree::parse_document(&xml).unwrap()
}

#[test]
fn records_roll_over_into_new_chunks_with_their_own_templates() {
    let mut w = EvtxWriter::new(Cursor::new(Vec::new())).unwrap();
    let events: Vec<Element> = (1..=3000)
        .map(|i| event(i, &format!("value {i} {}", "x".repeat((i % 200) as usize))))
        .collect();
    for e in &events {
        w.write_event(e).unwrap();
    }
    let (out, summary) = w.finish().unwrap();
    assert!(summary.chunks >= 8, "{summary:?}");
    assert_eq!(summary.records, 3000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roll.evtx");
    std::fs::write(&path, out.into_inner()).unwrap();
    let read = verify::read_back(&path).unwrap();
    verify::compare(&events, &read).unwrap();
    // Each chunk defines the template again at its first record: a record references only its chunk.
    let bytes = std::fs::read(&path).unwrap();
    for c in 0..summary.chunks as usize {
        let chunk = &bytes[4096 + c * 65536..4096 + (c + 1) * 65536];
        let table: Vec<u32> = (0..32)
            .map(|i| u32::from_le_bytes(chunk[384 + 4 * i..388 + 4 * i].try_into().unwrap()))
            .collect();
        assert_eq!(
            table.iter().filter(|o| **o != 0).count(),
            2,
            "chunk {c}: System and EventData templates"
        );
    }
}

#[test]
fn damaged_bytes_fail_the_checksums() {
    let mut w = EvtxWriter::new(Cursor::new(Vec::new())).unwrap();
    w.write_event(&event(1, "intact")).unwrap();
    let (out, _) = w.finish().unwrap();
    let mut bytes = out.into_inner();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.evtx");
    std::fs::write(&good, &bytes).unwrap();
    assert_eq!(evtx_crate_count(&good), 1);
    bytes[4096 + 600] ^= 0x20; // inside the first record
    let bad = dir.path().join("bad.evtx");
    std::fs::write(&bad, &bytes).unwrap();
    let mut parser = evtx::EvtxParser::from_path(&bad)
        .unwrap()
        .with_configuration(
            evtx::ParserSettings::new()
                .validate_checksums(true)
                .num_threads(1),
        );
    assert!(parser.records().all(|r| r.is_err()));
}

#[test]
fn writer_errors_name_the_event_and_the_problem() {
    let mut w = EvtxWriter::new(Cursor::new(Vec::new())).unwrap();
    w.write_event(&event(5, "a")).unwrap();
    let e = w.write_event(&event(4, "b")).unwrap_err().to_string();
    assert!(
        e.contains("event 1") && e.contains("does not follow 5"),
        "{e}"
    );
    let e = w
        .write_event(&event(6, &"y".repeat(70_000)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("event 2") && e.contains("too large"), "{e}");
    let e = evtxwrite::write_xml("<Events><Event><System>", Cursor::new(Vec::new()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("XML error"), "{e}");
    let no_time =
        "<Events><Event><System><Provider Name='x'/><EventID>1</EventID></System></Event></Events>";
    let e = evtxwrite::write_xml(no_time, Cursor::new(Vec::new()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("TimeCreated"), "{e}");
}

/// python-evtx and libevtx count `records` in `path`.
fn independent_parsers_agree(path: &std::path::Path, records: u64) {
    let out = Command::new("evtxexport").arg(path).output().unwrap();
    let n = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Event number"))
        .count();
    assert_eq!(n as u64, records, "evtxexport {}", path.display());
    let out = Command::new("python3")
        .args(["-c", "import sys\nfrom Evtx.Evtx import Evtx\nn=0\nwith Evtx(sys.argv[1]) as l:\n    for r in l.records():\n        n+=1\nprint(n)"])
        .arg(path)
        .output()
        .unwrap();
    let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(n, records, "python-evtx {}", path.display());
}

/// The generator's logs read by python-evtx and libevtx: as many records as its manifest says.
#[test]
#[ignore = "needs python-evtx and evtxexport (.ci/run installs them)"]
fn independent_parsers_read_the_generators_logs_whole() {
    require("python3", &["-c", "import Evtx"]);
    require("evtxexport", &["-V"]);
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    for h in manifest["hosts"].as_array().unwrap() {
        for log in ["application", "system"] {
            let path = dir.path().join(h[log]["file"].as_str().unwrap());
            independent_parsers_agree(&path, h[log]["records"].as_u64().unwrap());
        }
    }
}

/// What `evtriage-gen logs --size 3MiB --hosts 2 --incidents 2 --seed 7` writes.
fn generate(out: &std::path::Path) {
    evtriage_gen::biglog::run(&evtriage_gen::biglog::Options {
        out: out.to_path_buf(),
        size: 3 << 20,
        hosts: 2,
        incidents: 2,
        seed: 7,
        busy: 8,
    })
    .unwrap();
}

#[test]
fn generator_plants_incidents_and_its_logs_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let hosts = manifest["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    for h in hosts {
        assert_eq!(h["incidents"].as_array().unwrap().len(), 2);
        for log in ["application", "system"] {
            let path = dir.path().join(h[log]["file"].as_str().unwrap());
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(
                (1_400_000..2_700_000).contains(&size),
                "{}: {size} bytes",
                path.display()
            );
            let records = h[log]["records"].as_u64().unwrap();
            assert_eq!(evtx_crate_count(&path) as u64, records);
        }
    }
    // The same seed writes the same bytes.
    let again = tempfile::tempdir().unwrap();
    generate(again.path());
    for f in ["host0001/System.evtx", "host0002/Application.evtx"] {
        assert!(
            std::fs::read(dir.path().join(f)).unwrap()
                == std::fs::read(again.path().join(f)).unwrap(),
            "{f}"
        );
    }
}
