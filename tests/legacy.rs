//! The KB's own servers: Windows Server 2003 (.evt, classic records), Server 2008 (7040 without
//! the key name), the Application log sent alone or a System log that wrapped, .evt converted to
//! .evtx, and Event XML exports. Each gives the diagnosis the Server 2008 R2 bundle gives, or says
//! what it could not check.

mod support;

use evtriage_writer::evt::{EvtKind, EvtRecord, records_of, write_evt};
use serde_json::Value;
use std::path::Path;
use support::*;

fn run(paths: &[&Path]) -> Value {
    json_run(paths).0
}

fn only_finding(r: &Value) -> &Value {
    let f = r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{:#}", r["findings"]);
    &f[0]
}

/// Services as (key name, original start type, still disabled), sorted.
fn services(f: &Value) -> Vec<(String, String, bool)> {
    let mut v: Vec<(String, String, bool)> = f["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["name_is_key"], true, "{s}");
            (
                s["name"].as_str().unwrap().to_string(),
                s["original_start"].as_str().unwrap().to_string(),
                s["still_disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn server_2003_and_2008_give_the_2008_r2_finding() {
    let r2 = run(&[Path::new("samples/kb940006-rollup-failed")]);
    let modern = only_finding(&r2);
    for (bundle, kb, files) in [
        ("samples/kb940006-server2003", "KB940006", 2),
        ("samples/kb940006-server2008", "KB968012", 2),
    ] {
        let r = run(&[Path::new(bundle)]);
        assert_eq!(r["inputs"].as_array().unwrap().len(), files, "{bundle}");
        let f = only_finding(&r);
        assert_eq!(f["signature"], "exchange-rollup-file-in-use", "{bundle}");
        assert_eq!(f["confidence"]["level"], "high", "{bundle}");
        assert_eq!(f["update"]["kb"], kb, "{bundle}");
        // 0x80070643 as Windows Update reported it, not derived from 1603.
        assert_eq!(f["error"]["hresult"], "0x80070643", "{bundle}");
        assert_eq!(f["error"]["hresult_source"], "windows_update", "{bundle}");
        assert_eq!(f["error"]["msi"], 1603, "{bundle}");
        let held = &f["locked_files"][0];
        assert_eq!(held["process"], "powershell", "{bundle}");
        assert!(held["pid"].as_u64().is_some(), "{bundle}");
        assert!(
            held["path"]
                .as_str()
                .unwrap()
                .ends_with("Microsoft.Exchange.Data.Storage.dll"),
            "{bundle}"
        );
        // Every service by key name, with the start type it had, as on 2008 R2.
        assert_eq!(services(f), services(modern), "{bundle}");
        assert!(f["unchecked"].is_null(), "{bundle}");
        // Commands name services by key, quoted.
        let restore = step(f, "restore-start-types");
        assert!(
            strs(&restore["powershell"])
                .contains(&"Get-Service -Name 'MSExchangeIS' | Set-Service -StartupType Automatic"),
            "{bundle}: {restore:#}"
        );
    }
    // The 2003 logs are what a customer copies from system32\config: the System log wrapped.
    let sys = std::fs::read(root().join("samples/kb940006-server2003/SysEvent.Evt")).unwrap();
    let flags = u32::from_le_bytes(sys[36..40].try_into().unwrap());
    assert_eq!(flags & 0x3, 0x3, "dirty and wrapped");
}

/// The KB case's Application log alone: still the KB's issue, with what could not be checked.
fn assert_application_only(f: &Value, version: &str) {
    assert_eq!(f["signature"], "exchange-rollup-file-in-use");
    assert_eq!(f["confidence"]["level"], "medium");
    assert_eq!(f["services"].as_array().unwrap().len(), 0);
    let unchecked = f["unchecked"][0].as_str().unwrap();
    assert!(unchecked.contains("System log"), "{unchecked}");
    assert!(f["summary"].as_str().unwrap().contains("KB 940006"));
    let steps = step_ids(f);
    for id in [
        "free-locked-files",
        "list-disabled-services",
        "restore-default-start-types",
        "start-default-services",
    ] {
        assert!(steps.contains(&id), "{id} not in {steps:?}");
    }
    assert!(!steps.contains(&"restore-start-types"));
    // PowerShell 1.0/2.0: start types through WMI, never Get-Service's StartType (PS 5).
    let list = step(f, "list-disabled-services");
    let ps = list["powershell"][0].as_str().unwrap();
    assert!(ps.starts_with("Get-WmiObject Win32_Service"), "{ps}");
    let restore = step(f, "restore-default-start-types");
    assert!(
        restore["text"]
            .as_str()
            .unwrap()
            .contains(&format!("default start types of Exchange Server {version}")),
        "{restore:#}"
    );
    let cmds = strs(&restore["powershell"]);
    assert!(
        cmds.contains(&"Get-WmiObject Win32_Service | Where-Object { $_.Name -eq 'MSExchangeIS' -and $_.StartMode -eq 'Disabled' } | ForEach-Object { Set-Service -Name $_.Name -StartupType Automatic }"),
        "{cmds:#?}"
    );
    assert!(cmds.iter().all(|c| !c.contains("StartType")));
}

#[test]
fn the_application_log_alone_is_still_the_kb_issue() {
    let r = run(&[Path::new("samples/kb940006-application-only")]);
    let f = only_finding(&r);
    assert_application_only(f, "2007");
    assert!(
        f["unchecked"][0]
            .as_str()
            .unwrap()
            .starts_with("no System log of EXCH07MBX2 is among the logs read")
    );
    // Today's layout, Application.evtx sent alone: the same.
    let r = run(&[Path::new("samples/kb940006-rollup-failed/Application.evtx")]);
    assert_application_only(only_finding(&r), "2007");
}

#[test]
fn a_system_log_that_wrapped_after_the_failure_is_said_to() {
    // The 2003 server's System log, its records from the morning after the failure only.
    let bundle = evtriage_gen::samples::all()
        .into_iter()
        .find(|b| b.name == "kb940006-server2003")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = root().join("samples/kb940006-server2003/AppEvent.Evt");
    let mut records: Vec<EvtRecord> = records_of(&bundle.system).unwrap();
    let failure = records
        .iter()
        .find(|r| r.source == "Windows Update Agent" && r.event_id & 0xFFFF == 20)
        .unwrap()
        .time;
    records.retain(|r| r.time > failure + 3600);
    let sys = dir.path().join("SysEvent.Evt");
    std::fs::write(&sys, write_evt(&records, EvtKind::Saved).unwrap()).unwrap();
    let r = run(&[&app, &sys]);
    let f = only_finding(&r);
    assert_application_only(f, "2007");
    let unchecked = f["unchecked"][0].as_str().unwrap();
    assert!(
        unchecked.contains("does not reach back to the failure")
            && unchecked.contains("SysEvent.Evt"),
        "{unchecked}"
    );
}

#[test]
fn evt_converted_to_evtx_reads_the_same() {
    // `wevtutil epl AppEvent.Evt app.evtx /lf:true` keeps the classic records: provider without
    // Guid, Qualifiers, unnamed <Data>, <Binary>. The generator's classic events are that layout.
    for name in ["kb940006-server2003", "kb940006-application-only"] {
        let bundle = evtriage_gen::samples::all()
            .into_iter()
            .find(|b| b.name == name)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        evtriage_gen::fixtures::write(
            &evtriage_gen::samples::Bundle {
                files: evtriage_gen::samples::Files::Evtx,
                ..bundle
            },
            dir.path(),
        )
        .unwrap();
        let from_evt = run(&[&root().join("samples").join(name)]);
        let from_evtx = run(&[dir.path()]);
        let (a, b) = (only_finding(&from_evt), only_finding(&from_evtx));
        for key in [
            "signature",
            "status",
            "confidence",
            "update",
            "error",
            "locked_files",
        ] {
            assert_eq!(a[key], b[key], "{name}: {key}");
        }
        assert_eq!(services(a), services(b), "{name}");
    }
}

#[test]
fn event_xml_exports_read_like_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let xml_dir = dir.path().join("xml");
    std::fs::create_dir(&xml_dir).unwrap();
    // What `evtriage-gen event-xml` writes.
    for bundle in evtriage_gen::samples::all() {
        for (log, events) in [
            ("Application", &bundle.application),
            ("System", &bundle.system),
        ] {
            if !events.is_empty() {
                std::fs::write(
                    xml_dir.join(format!("{}-{log}.xml", bundle.name)),
                    evtriage_gen::samples::events_xml(events),
                )
                .unwrap();
            }
        }
    }
    for bundle in evtriage_gen::samples::all() {
        // The event logs alone: Event XML is their export, not the text logs'.
        let logs: Vec<std::path::PathBuf> = bundle
            .logs()
            .unwrap()
            .into_iter()
            .map(|(name, _)| root().join("samples").join(bundle.name).join(name))
            .filter(|p| {
                p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("evtx") || e.eq_ignore_ascii_case("evt")
                })
            })
            .collect();
        if logs.is_empty() {
            continue;
        }
        let log_refs: Vec<&Path> = logs.iter().map(|p| p.as_path()).collect();
        let from_logs = run(&log_refs);
        let files: Vec<std::path::PathBuf> = ["Application", "System"]
            .iter()
            .map(|log| xml_dir.join(format!("{}-{log}.xml", bundle.name)))
            .filter(|p| p.exists())
            .collect();
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let from_xml = run(&refs);
        let strip = |r: &Value| -> Vec<Value> {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    // Evidence names its file; the rest must be the same.
                    f.as_object_mut().unwrap().remove("evidence");
                    // What a missing log could not check names its file, in the summary too.
                    if f["unchecked"].as_array().is_some_and(|u| !u.is_empty()) {
                        f["summary"] = Value::Null;
                    }
                    f["unchecked"] = Value::Null;
                    f
                })
                .collect()
        };
        if bundle.name == "kb940006-application-only" {
            // XML carries the log's name: the finding says the same about the missing log.
            assert_eq!(
                from_xml["findings"][0]["unchecked"],
                from_logs["findings"][0]["unchecked"]
            );
        }
        assert_eq!(strip(&from_xml), strip(&from_logs), "{}", bundle.name);
        for input in from_xml["inputs"].as_array().unwrap() {
            assert_eq!(input["format"], "event-xml");
            assert_eq!(input["status"], "complete", "{input}");
        }
    }
}

#[test]
fn wevtutil_xml_in_utf16_with_rendering_info_and_a_cut_end() {
    let xml = sample_xml("kb940006-rollup-failed", "System");
    let body = xml
        .split_once("<Events>")
        .unwrap()
        .1
        .rsplit_once("</Events>")
        .unwrap()
        .0;
    // wevtutil qe /f:xml /e:... has no root; /rd with rendering: a <RenderingInfo> per event.
    let rendered = body.replace(
        "</EventData>",
        "</EventData><RenderingInfo Culture=\"en-US\"><Message>The Microsoft Exchange &lt;b&gt; service</Message><Level>Error</Level><Task /><Opcode>Info</Opcode><Channel>Security</Channel><Provider>X</Provider><Keywords><Keyword>Classic</Keyword></Keywords></RenderingInfo>",
    );
    let dir = tempfile::tempdir().unwrap();
    // PowerShell's `>` writes UTF-16LE with a byte-order mark.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in rendered.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let sys = dir.path().join("system.xml");
    std::fs::write(&sys, &utf16).unwrap();
    let app = dir.path().join("app.xml");
    std::fs::write(&app, sample_xml("kb940006-rollup-failed", "Application")).unwrap();
    let r = run(&[&app, &sys]);
    let f = only_finding(&r);
    assert_eq!(f["confidence"]["level"], "high");
    assert_eq!(f["services"].as_array().unwrap().len(), 14);
    let inputs = r["inputs"].as_array().unwrap();
    assert!(
        inputs
            .iter()
            .all(|i| i["log"]["name"] == "System" || i["log"]["name"] == "Application")
    );

    // Cut in the middle of an event: the events before it are read, the cut one is named.
    let cut = dir.path().join("cut.xml");
    let text = sample_xml("kb940006-rollup-failed", "System");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let r = run(&[&cut]);
    let input = &r["inputs"][0];
    assert_eq!(input["status"], "incomplete", "{input}");
    assert_eq!(input["records_failed"], 1);
    assert!(
        input["errors"][0]
            .as_str()
            .unwrap()
            .contains("cut by the end of the file")
    );
    assert!(input["records_read"].as_u64().unwrap() > 50);
}

#[test]
fn an_xml_file_that_is_not_event_xml_is_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("report.xml"),
        "<?xml version=\"1.0\"?><html><body/></html>",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("Events.xml"),
        "<?xml version=\"1.0\"?>\n<!-- exported -->\n<Events>\n</Events>\n",
    )
    .unwrap();
    let r = run(&[dir.path()]);
    let inputs = r["inputs"].as_array().unwrap();
    let by = |name: &str| {
        inputs
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    assert_eq!(by("report.xml")["status"], "not_an_event_log");
    let empty = by("Events.xml");
    assert_eq!(empty["format"], "event-xml");
    assert!(
        empty["errors"][0]
            .as_str()
            .unwrap()
            .contains("no <Event> element")
    );
}

#[test]
fn every_evt_kind_reads_back_as_written() {
    // The 2003 bundle's System events, written saved, live and wrapped (small enough that a
    // record splits at the end of the file, and that NT's 0x27 padding fills a short tail).
    let bundle = evtriage_gen::samples::all()
        .into_iter()
        .find(|b| b.name == "kb940006-server2003")
        .unwrap();
    let records = records_of(&bundle.system).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut padded = false;
    let mut split = false;
    for (name, kind) in [
        ("saved.evt", EvtKind::Saved),
        ("live.evt", EvtKind::Live { max_size: 1 << 20 }),
        ("wrapped-64k.evt", EvtKind::Wrapped { max_size: 64 << 10 }),
        ("wrapped-40k.evt", EvtKind::Wrapped { max_size: 40_960 }),
        ("wrapped-48k.evt", EvtKind::Wrapped { max_size: 49_152 }),
        ("wrapped-52k.evt", EvtKind::Wrapped { max_size: 53_248 }),
    ] {
        let bytes = write_evt(&records, kind).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let (events, report) = read_evt(&path);
        assert_eq!(report.records_failed, 0, "{name}: {report:?}");
        assert!(report.errors.is_empty(), "{name}: {:?}", report.errors);
        // The newest records, oldest first, as written.
        let kept = &records[records.len() - events.len()..];
        assert!(!events.is_empty());
        for (e, r) in events.iter().zip(kept) {
            assert_eq!(e.record_id, u64::from(r.number), "{name}");
            assert_eq!(&*e.provider, r.source, "{name}");
            assert_eq!(e.time.timestamp(), i64::from(r.time), "{name}");
        }
        if matches!(kind, EvtKind::Wrapped { .. }) {
            let (begin, end) = eof_offsets(&bytes);
            assert!(begin > end, "{name}: wrapped");
            padded |= bytes[bytes.len() - 4..] == 0x27u32.to_le_bytes();
            split |= tail_is_split(&bytes, begin);
        } else {
            assert_eq!(events.len(), records.len(), "{name}");
        }
    }
    assert!(
        split,
        "some size splits a record across the end of the file"
    );
    assert!(padded, "some size pads the end of the file with 0x27");

    // The end-of-file record itself split across the end of the file (ReactOS: "EVENTLOGEOF can
    // be splitted"; likely): at these sizes its fields, then its signature, run past the end.
    let mut eof_split = 0;
    for size in (50_228..=50_248).step_by(4) {
        let bytes = write_evt(&records, EvtKind::Wrapped { max_size: size }).unwrap();
        let sig = [
            0x11u8, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0x33, 0x33, 0x33, 0x33,
        ];
        let whole_eof = bytes
            .windows(40)
            .any(|w| w[4..16] == sig && w[36..40] == [0x28, 0, 0, 0]);
        eof_split += usize::from(!whole_eof);
        let path = dir.path().join(format!("eof-split-{size}.evt"));
        std::fs::write(&path, &bytes).unwrap();
        let (events, report) = read_evt(&path);
        assert!(report.errors.is_empty(), "{size}: {:?}", report.errors);
        assert_eq!(report.records_failed, 0, "{size}");
        assert_eq!(
            events.last().map(|e| e.record_id),
            records.last().map(|r| u64::from(r.number)),
            "{size}"
        );
        assert!(events.len() > 100, "{size}: {}", events.len());
    }
    assert!(eof_split >= 2, "{eof_split}");
}

/// The end-of-file record's begin and end offsets.
fn eof_offsets(bytes: &[u8]) -> (u32, u32) {
    let sig = [0x11u8, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22];
    let at = bytes.windows(8).position(|w| w == sig).unwrap() - 4;
    let word = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    (word(at + 20), word(at + 24))
}

/// Whether the last record before the end of the file continues at 0x30.
fn tail_is_split(bytes: &[u8], begin: u32) -> bool {
    let mut at = begin as usize;
    while at + 8 <= bytes.len() && &bytes[at + 4..at + 8] == b"LfLe" {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if at + len > bytes.len() {
            return true;
        }
        at += len;
    }
    false
}

#[test]
#[ignore = "needs evtexport (libevt-utils)"]
fn libevt_reads_the_written_evt_files_as_evtriage_does() {
    require("evtexport", &["-V"]);
    let bundle = evtriage_gen::samples::all()
        .into_iter()
        .find(|b| b.name == "kb940006-server2003")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<std::path::PathBuf> = ["AppEvent.Evt", "SysEvent.Evt"]
        .iter()
        .map(|f| root().join("samples/kb940006-server2003").join(f))
        .collect();
    files.push(root().join("samples/kb940006-application-only/Application.evt"));
    let records = records_of(&bundle.system).unwrap();
    // libevt stops at NT's 0x27 padding (legacy.md §1.7): the sizes here wrap without it.
    for (name, kind) in [
        ("saved.evt", EvtKind::Saved),
        ("live.evt", EvtKind::Live { max_size: 1 << 20 }),
        ("wrapped.evt", EvtKind::Wrapped { max_size: 40_960 }),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, write_evt(&records, kind).unwrap()).unwrap();
        files.push(path);
    }
    for f in files {
        let out = std::process::Command::new("evtexport")
            .arg(&f)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", f.display());
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Event number"))
            .map(|l| {
                l.trim_start_matches(['\t', ' ', ':'])
                    .trim()
                    .parse()
                    .unwrap()
            })
            .collect();
        let (events, _) = read_evt(&f);
        let ours: Vec<u64> = events.iter().map(|e| e.record_id).collect();
        assert_eq!(ours, theirs, "{}", f.display());
        // And their strings, source and computer, record by record.
        let blocks: Vec<&str> = text.split("\nEvent number").skip(1).collect();
        for (e, block) in events.iter().zip(blocks) {
            assert!(
                block.contains(&format!("Source name\t\t\t: {}", e.provider)),
                "{}",
                f.display()
            );
            assert!(
                block.contains(&format!("Computer name\t\t\t: {}", e.computer)),
                "{}",
                f.display()
            );
        }
    }
}

#[test]
fn scm_records_without_key_names_anywhere_still_say_what_ran() {
    // 7040 without param4 and 7036 without its binary key/state, as Server 2008 (NT 6.0) may
    // write them (domain.md §2.4: both confirmed only on NT 6.1): services are named from their
    // display names, and "was running" is read from the state word.
    let mut b = evtriage_gen::hostile::kb_bundle();
    for e in &mut b.system {
        let id = evtriage_gen::hostile::event_id(e);
        if let Some(ed) = e.children.iter_mut().find(|c| c.name == "EventData") {
            match id {
                Some(7040) => ed.children.retain(|d| d.get_attr("Name") != Some("param4")),
                Some(7036) | Some(7000) => ed.children.retain(|d| d.name != "Binary"),
                _ => {}
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    evtriage_gen::fixtures::write(&b, dir.path()).unwrap();
    let r = run(&[dir.path()]);
    let f = only_finding(&r);
    let modern = run(&[Path::new("samples/kb940006-rollup-failed")]);
    assert_eq!(services(f), services(only_finding(&modern)));
    let running: Vec<bool> = f["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["was_running"].as_bool().unwrap())
        .collect();
    assert_eq!(running.iter().filter(|r| **r).count(), 11, "{running:?}");
}

#[test]
fn an_evt_that_is_evtx_inside_is_read_as_evtx() {
    // BackupEventLog on Vista and later writes EVTX whatever the name (legacy.md §5).
    let dir = tempfile::tempdir().unwrap();
    for log in ["Application", "System"] {
        std::fs::copy(
            root().join(format!("samples/kb940006-rollup-failed/{log}.evtx")),
            dir.path().join(format!("{log}.evt")),
        )
        .unwrap();
    }
    let r = run(&[dir.path()]);
    for input in r["inputs"].as_array().unwrap() {
        assert_eq!(input["format"], "evtx", "{input}");
        assert_eq!(input["status"], "complete", "{input}");
    }
    assert_eq!(only_finding(&r)["confidence"]["level"], "high");
}
