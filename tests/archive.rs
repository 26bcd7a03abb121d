//! Zip archives as input: a customer's zipped case folder reads as the folder it holds, members
//! named `case.zip!/…`, one level of nesting, names in UTF-8 or the OEM code page; and what a
//! hostile or broken archive cannot do: unpack past its limit, lie about a member's size, pass a
//! zip bomb, or hide that it was cut.

mod support;

use assert_cmd::Command;
use evtriage_writer::archive::{Packing, zip_dir, zip_members};
use serde_json::Value;
use std::path::Path;
use support::*;

fn json_of(args: &[&str]) -> (Value, i32) {
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// (path, status, first error) of every input.
fn inputs(v: &Value) -> Vec<(String, String, String)> {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                i["errors"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The findings without where their evidence came from: what a diagnosis says.
fn findings_without_paths(v: &Value) -> Value {
    let mut f = v["findings"].clone();
    for finding in f.as_array_mut().unwrap() {
        for e in finding["evidence"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("file");
        }
        if let Some(log) = finding["error"]["installer_log"].as_object_mut() {
            log.remove("file");
        }
    }
    f
}

#[test]
fn a_zipped_case_folder_reads_as_the_folder() {
    let bundle = samples().join("kb940006-rollup-failed");
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = json_of(&[bundle.to_str().unwrap()]);
    for packing in [Packing::Deflated, Packing::Stored] {
        let zip = zip_dir(&bundle, "EXMBX01/EventLogs", packing).unwrap();
        let path = write(dir.path(), "case.zip", &zip);
        let (zipped, code) = json_of(&[&path]);
        assert_eq!(code, 1, "action required, as for the folder");
        assert_eq!(
            findings_without_paths(&zipped),
            findings_without_paths(&folder)
        );
        let names: Vec<String> = inputs(&zipped).into_iter().map(|i| i.0).collect();
        assert_eq!(
            names,
            [
                format!("{path}!/EXMBX01/EventLogs/Application.evtx"),
                format!("{path}!/EXMBX01/EventLogs/MSI4f2a1.LOG"),
                format!("{path}!/EXMBX01/EventLogs/System.evtx"),
            ]
        );
        let evidence = &zipped["findings"][0]["evidence"][0]["file"];
        assert!(
            evidence
                .as_str()
                .unwrap()
                .starts_with(&format!("{path}!/EXMBX01/EventLogs/")),
            "{evidence}"
        );
    }
}

#[test]
fn a_zip_inside_the_zip_is_opened_one_level_deep() {
    let bundle = samples().join("kb940006-rollup-failed");
    let app = std::fs::read(bundle.join("Application.evtx")).unwrap();
    let sys = std::fs::read(bundle.join("System.evtx")).unwrap();
    let inner = zip_members(&[("System.evtx", &sys)], Packing::Deflated);
    let deeper = zip_members(&[("deep.zip", &inner)], Packing::Deflated);
    let outer = zip_members(
        &[
            ("logs/Application.evtx", &app),
            ("logs/system.zip", &inner),
            ("logs/twice.zip", &deeper),
            ("notes.txt", b"customer's notes"),
        ],
        Packing::Deflated,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "case.zip", &outer);
    let (v, _) = json_of(&[&path]);
    let got = inputs(&v);
    let find = |name: &str| {
        got.iter()
            .find(|i| i.0 == format!("{path}!/{name}"))
            .unwrap_or_else(|| panic!("{name} in {got:?}"))
            .clone()
    };
    assert_eq!(find("logs/system.zip!/System.evtx").1, "complete");
    assert_eq!(find("logs/Application.evtx").1, "complete");
    assert_eq!(find("notes.txt").1, "not_an_event_log");
    let twice = find("logs/twice.zip!/deep.zip");
    assert_eq!(twice.1, "unreadable");
    assert!(twice.2.contains("one level of nesting"), "{twice:?}");
    assert_eq!(v["findings"][0]["signature"], "exchange-rollup-file-in-use");
    assert_eq!(v["findings"][0]["services"].as_array().unwrap().len(), 14);
}

/// Byte offsets of every local header (`PK\3\4`) and central directory entry (`PK\1\2`).
fn headers(zip: &[u8]) -> (Vec<usize>, Vec<usize>) {
    let find = |sig: &[u8]| -> Vec<usize> {
        zip.windows(4)
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .map(|(i, _)| i)
            .collect()
    };
    (find(b"PK\x03\x04"), find(b"PK\x01\x02"))
}

#[test]
fn names_in_the_oem_code_page_are_read_as_such() {
    // An archiver that does not set the UTF-8 flag writes names in the OEM code page: 0x82 is
    // "é" in code page 437 (what the zip format assumes without the flag).
    let log = std::fs::read(samples().join("kb940006-rollup-failed/System.evtx")).unwrap();
    let mut zip = zip_members(&[("CafX/System.evtx", &log)], Packing::Deflated);
    let (local, central) = headers(&zip);
    for at in [local[0] + 30 + 3, central[0] + 46 + 3] {
        assert_eq!(zip[at], b'X');
        zip[at] = 0x82;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "case.zip", &zip);
    let (v, _) = json_of(&[&path]);
    assert_eq!(inputs(&v)[0].0, format!("{path}!/Café/System.evtx"));
    assert_eq!(inputs(&v)[0].1, "complete");
}

#[test]
fn a_member_that_unpacks_past_what_it_declares_is_refused() {
    let log = std::fs::read(samples().join("kb940006-rollup-failed/System.evtx")).unwrap();
    let mut zip = zip_members(&[("System.evtx", &log)], Packing::Deflated);
    let (local, central) = headers(&zip);
    // Declared: 4096 bytes, in both headers; the data still inflates to the whole log.
    zip[local[0] + 22..local[0] + 26].copy_from_slice(&4096u32.to_le_bytes());
    zip[central[0] + 24..central[0] + 28].copy_from_slice(&4096u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "case.zip", &zip);
    let (v, code) = json_of(&[&path]);
    let got = inputs(&v);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "unreadable", "{got:?}");
    assert!(
        got[0].2.contains("4096 bytes its header declares")
            && got[0].2.contains("larger than its declared"),
        "{got:?}"
    );
    assert_eq!(code, 2, "no log could be read");
}

#[test]
fn a_zip_bomb_and_an_archive_over_its_limit_are_named_not_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB of zeros deflate more than 1000:1.
    let zeros = vec![0u8; 64 << 20];
    let bomb = zip_members(&[("System.evtx", &zeros)], Packing::Deflated);
    assert!(bomb.len() < 100_000);
    let path = write(dir.path(), "bomb.zip", &bomb);
    let (v, code) = json_of(&[&path]);
    let got = inputs(&v);
    assert_eq!(got[0].1, "unreadable");
    assert!(got[0].2.contains("zip bomb"), "{got:?}");
    assert_eq!(code, 2, "no log could be read");

    // Notes and two logs, with room for the notes and one log.
    let bundle = samples().join("kb940006-rollup-failed");
    let app = std::fs::read(bundle.join("Application.evtx")).unwrap();
    let sys = std::fs::read(bundle.join("System.evtx")).unwrap();
    // Text that does not compress much, so that only the limit can refuse it.
    let notes: Vec<u8> = (0u32..900_000)
        .map(|i| b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26)
        .collect();
    let zip = zip_members(
        &[
            ("notes.txt", &notes),
            ("Application.evtx", &app),
            ("System.evtx", &sys),
        ],
        Packing::Deflated,
    );
    assert!(notes.len() + app.len() <= 1 << 20 && notes.len() + app.len() + sys.len() > 1 << 20);
    let path = write(dir.path(), "case.zip", &zip);
    let (v, _) = json_of(&["--archive-limit", "1", &path]);
    let got = inputs(&v);
    let over: Vec<_> = got.iter().filter(|i| i.1 == "unreadable").collect();
    assert_eq!(over.len(), 1, "{got:?}");
    assert!(over[0].0.ends_with("!/System.evtx"), "{got:?}");
    assert!(over[0].2.contains("--archive-limit"), "{got:?}");
}

#[test]
fn a_cut_or_encrypted_archive_is_a_named_problem() {
    let bundle = samples().join("kb940006-rollup-failed");
    let zip = zip_dir(&bundle, "", Packing::Deflated).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = write(dir.path(), "cut.zip", &zip[..zip.len() / 2]);
    let (v, code) = json_of(&[&cut]);
    let got = inputs(&v);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, cut);
    assert!(got[0].2.contains("not a readable zip archive"), "{got:?}");
    assert_eq!(code, 2, "no log could be read");

    let mut locked = zip.clone();
    let (local, central) = headers(&locked);
    locked[local[0] + 6] |= 1;
    locked[central[0] + 8] |= 1;
    let path = write(dir.path(), "locked.zip", &locked);
    let (v, _) = json_of(&[&path]);
    let got = inputs(&v);
    let first = got
        .iter()
        .find(|i| i.0.ends_with("!/Application.evtx"))
        .unwrap();
    assert_eq!(first.1, "unreadable");
    assert!(first.2.contains("encrypted"), "{got:?}");
    // The other member is read.
    assert!(
        got.iter()
            .any(|i| i.0.ends_with("!/System.evtx") && i.1 == "complete")
    );
}
