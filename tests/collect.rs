//! A collection (`evtriage collect`'s zip, made here by the same library function from a
//! sample's logs staged at a server's places) read back as a case: the same finding as the
//! sample's folder, its text logs placed by the manifest's zone instead of anchors; every file
//! listed with its size and SHA-256; what is missing said. The collector itself runs on Windows
//! (tests/windows.rs, under Wine).

mod support;

use chrono::{DateTime, TimeZone as _, Utc};
use evtriage::collection::{self, manifest};
use evtriage::live::Place;
use serde_json::Value;
use sha2::Digest;
use std::path::Path;
use support::samples;

/// Berlin's offset in 2023: summer time from 26 March 01:00 UTC to 29 October 01:00 UTC.
fn berlin(at: DateTime<Utc>) -> i32 {
    let start = Utc.with_ymd_and_hms(2023, 3, 26, 1, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2023, 10, 29, 1, 0, 0).unwrap();
    if at >= start && at < end { 120 } else { 60 }
}

struct Quiet(Vec<String>);

impl collection::Report for Quiet {
    fn step(&mut self, what: &str) {
        self.0.push(what.to_string());
    }
}

fn json(args: &[&str]) -> (Value, i32) {
    support::json_run(args)
}

#[test]
fn a_collection_is_read_back_as_its_case() {
    let bundle = samples().join("exchange2016-su-failed-retry");
    let places = vec![
        Place {
            path: bundle.join("Application.evtx"),
            pattern: None,
            what: "event log",
            event_log: Some("Application"),
            optional: false,
        },
        Place {
            path: bundle.join("System.evtx"),
            pattern: None,
            what: "event log",
            event_log: Some("System"),
            optional: false,
        },
        Place {
            path: bundle.join("no-Setup.evtx"),
            pattern: None,
            what: "event log",
            event_log: Some("Setup"),
            optional: false,
        },
        // Not on every Windows, and not here: no gap in the collection.
        Place {
            path: bundle.join("Microsoft-Windows-AppXDeploymentServer%4Operational.evtx"),
            pattern: None,
            what: "event log",
            event_log: Some("Microsoft-Windows-AppXDeploymentServer/Operational"),
            optional: true,
        },
        Place {
            path: bundle.join("ExchangeSetupLogs"),
            pattern: None,
            what: "Exchange setup logs (ExchangeSetup.log, ServiceControl.log, saved start modes)",
            event_log: None,
            optional: false,
        },
        Place {
            path: bundle.join("Temp"),
            pattern: Some("MSI*.LOG"),
            what: "Windows Installer logs",
            event_log: None,
            optional: false,
        },
    ];
    let from = Utc.with_ymd_and_hms(2022, 10, 1, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2023, 12, 1, 0, 0, 0).unwrap();
    let system = manifest::System {
        computer: "EX16MBX01.fabrikam.de".into(),
        os: manifest::Os {
            product: Some("Windows Server 2016 Standard".into()),
            version: Some("10.0.14393.5786".into()),
        },
        time_zone: manifest::TimeZone {
            name: Some("W. Europe Standard Time".into()),
            utc_offset_minutes: 60,
            offsets: manifest::offsets_over(from, to, &berlin),
        },
        exchange: Some(manifest::Exchange {
            version: Some("15.1.2507.6".into()),
            install_path: Some("C:\\Program Files\\Microsoft\\Exchange Server\\V15\\".into()),
        }),
    };
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("EX16MBX01-collection.zip");
    let mut said = Quiet(Vec::new());
    // wevtutil is Windows': here the export fails and the logs are copied, as on a server
    // without it.
    let no_wevtutil = |_: &str, _: &Path| Err("wevtutil is not on this computer".to_string());
    let m = collection::collect(
        &places,
        system,
        &no_wevtutil,
        std::fs::File::create(&zip_path).unwrap(),
        &mut said,
    )
    .unwrap();
    assert!(
        said.0
            .iter()
            .any(|s| s.contains("copying the file with shared reading"))
    );
    assert_eq!(m.missing.len(), 1, "{:?}", m.missing);
    assert!(m.missing[0].what.contains("Setup.evtx"), "{:?}", m.missing);
    let names: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "EventLogs/Application.evtx",
            "EventLogs/System.evtx",
            "ExchangeSetupLogs/KB5024296-retry.log",
            "ExchangeSetupLogs/ServiceControl.log",
            "ExchangeSetupLogs/ServiceStartupMode.xml",
            "ExchangeSetupLogs/ServiceState.xml",
            "InstallerLogs/MSI5e8c3.LOG"
        ]
    );
    for f in &m.files {
        let bytes = std::fs::read(&f.source).unwrap();
        assert_eq!(f.size, bytes.len() as u64);
        let digest: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f.sha256, digest, "{}", f.path);
        assert_eq!(
            f.how,
            if f.path.starts_with("EventLogs") {
                "shared-read copy"
            } else {
                "copy"
            }
        );
    }

    let (folder, code) = json(&[bundle.to_str().unwrap()]);
    let (case, case_code) = json(&[zip_path.to_str().unwrap()]);
    assert_eq!((code, case_code), (1, 1));
    let (a, b) = (&folder["findings"][0], &case["findings"][0]);
    for key in [
        "signature",
        "status",
        "computer",
        "first_seen",
        "last_seen",
        "summary",
        "services",
        "locked_files",
        "error",
    ] {
        if key == "error" {
            assert_eq!(a[key]["hresult"], b[key]["hresult"]);
            continue;
        }
        assert_eq!(a[key], b[key], "{key}");
    }
    let clock = &b["text_log_clock"];
    assert_eq!(clock["basis"], "manifest", "{clock}");
    assert_eq!(clock["utc_offset_minutes"], 60);
    assert_eq!(clock["computer"], "EX16MBX01.fabrikam.de");
    let inputs = case["inputs"].as_array().unwrap();
    let listed = inputs
        .iter()
        .find(|i| i["format"] == "evtriage-manifest")
        .expect("the manifest is listed among the inputs");
    let notes = listed["notes"].to_string();
    assert!(
        notes.contains("a collection of EX16MBX01.fabrikam.de"),
        "{notes}"
    );
    assert!(
        notes.contains("not collected: Setup.evtx") || notes.contains("no-Setup.evtx"),
        "{notes}"
    );
    let control = inputs
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("ServiceControl.log"))
        .unwrap();
    assert_eq!(control["placed"]["basis"], "manifest");
    assert_eq!(control["placed"]["computer_from"], "manifest");
}

#[test]
fn a_damaged_manifest_is_an_input_problem_and_the_logs_are_read_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = samples().join("kb940006-rollup-failed");
    for f in ["Application.evtx", "System.evtx", "MSI4f2a1.LOG"] {
        std::fs::copy(bundle.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("evtriage-manifest.json"),
        "{\"evtriage_collection\": 1, \"computer\": 12}",
    )
    .unwrap();
    let (r, code) = json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(r["findings"].as_array().unwrap().len(), 1);
    let m = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["format"] == "evtriage-manifest")
        .unwrap();
    assert_eq!(m["status"], "unreadable");
    assert!(
        m["errors"][0]
            .as_str()
            .unwrap()
            .contains("not a collection manifest")
    );
}
