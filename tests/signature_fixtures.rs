//! Every signature's fixtures (`[fixtures]` in `signatures/*.toml`): each `match` log gives a
//! finding of that signature, each `no_match` log gives none. A fixture is a sample bundle or one
//! of its logs, a file of `../shared/corpus` (skipped, saying so, where the corpus is absent), or
//! `gen:<name>`, written by `evtriage_gen::fixtures`.

mod support;

use std::path::{Path, PathBuf};
use support::{diagnose_files, diagnoser, root};

/// The log files (.evtx, .evt) a fixture names, kept alive in `_dir` when generated.
fn logs_of(fixture: &str, dir: &Path) -> Option<Vec<PathBuf>> {
    if let Some(name) = fixture.strip_prefix("gen:") {
        let bundle = evtriage_gen::fixtures::fixture(name).unwrap_or_else(|| {
            panic!(
                "gen:{name} is not one of {:?}",
                evtriage_gen::fixtures::NAMES
            )
        });
        let out = dir.join(name);
        std::fs::create_dir_all(&out).unwrap();
        evtriage_gen::fixtures::write(&bundle, &out).unwrap();
        return Some(support::log_files(&out));
    }
    let path = root().join(fixture);
    if fixture.starts_with("../shared/") && !path.exists() {
        eprintln!("skipped: {fixture} (the shared corpus is not beside this checkout)");
        return None;
    }
    assert!(path.exists(), "fixture {fixture} does not exist");
    Some(if path.is_dir() {
        support::log_files(&path)
    } else {
        vec![path]
    })
}

#[test]
fn every_signature_finds_what_it_must_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for sig in diagnoser().signatures() {
        let id = &sig.def.id;
        let fx = &sig.def.fixtures;
        assert!(
            !fx.must_match.is_empty() && !fx.no_match.is_empty(),
            "{id}: every signature has fixtures that must match and must not"
        );
        for (fixture, must) in fx
            .must_match
            .iter()
            .map(|f| (f, true))
            .chain(fx.no_match.iter().map(|f| (f, false)))
        {
            let Some(logs) = logs_of(fixture, dir.path()) else {
                continue;
            };
            let refs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
            let found = diagnose_files(&refs)
                .iter()
                .filter(|f| f.signature == *id)
                .count();
            assert_eq!(
                found > 0,
                must,
                "{id} on {fixture}: {found} finding(s), expected {}",
                if must { "some" } else { "none" }
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} fixtures checked");
}

#[test]
fn generated_fixtures_are_all_named() {
    for name in evtriage_gen::fixtures::NAMES {
        assert!(evtriage_gen::fixtures::fixture(name).is_some(), "{name}");
    }
}

/// `evtriage --check-signatures DIR`, the authors' linter: every problem of every file, each with
/// its file and line, and exit code 2; the built-in folder passes.
#[test]
fn the_linter_reports_every_problem_with_file_and_line() {
    let ok = assert_cmd::Command::cargo_bin("evtriage")
        .unwrap()
        .arg("--check-signatures")
        .arg(root().join("signatures"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("0 problem(s)"));

    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("signatures")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let edit = |file: &str, from: &str, to: &str| {
        let p = dir.path().join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        "msi-update-failed.toml",
        "process = \"Data[2]\"",
        "proces = \"Data[2]\"",
    );
    edit(
        "restart-pending.toml",
        "{processes_list}",
        "{processes_lst}",
    );
    edit(
        "patterns.toml",
        "exchange_product = '",
        "exchange_product = '(",
    );
    let out = assert_cmd::Command::cargo_bin("evtriage")
        .unwrap()
        .arg("--check-signatures")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for expected in [
        "msi-update-failed.toml: line ",
        "unknown field name 'proces'",
        "restart-pending.toml: line 7: summary: unknown placeholder {processes_lst}",
        "patterns.toml: pattern 'exchange_product'",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 problem(s)"));
}
