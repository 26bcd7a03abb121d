//! `evtriage merge`: a fleet's runs merged into one report equal one run over all their logs,
//! another schema is refused by name, a computer in two reports is said, a cut report is an
//! input problem; and `evtriage collect --script` is a script an independent parser reads.

mod support;

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::root;

fn evtriage() -> Command {
    let mut c = Command::cargo_bin("evtriage").unwrap();
    c.current_dir(root());
    c
}

/// A generated fleet of 6 hosts, each in its own folder.
fn fleet() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    evtriage_gen::biglog::run(&evtriage_gen::biglog::Options {
        out: dir.path().to_path_buf(),
        size: 1 << 20,
        hosts: 6,
        incidents: 2,
        seed: 22,
        busy: 2,
    })
    .unwrap();
    // The generator's own record of what it planted is not a log of the fleet.
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let mut hosts: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    hosts.sort();
    assert_eq!(hosts.len(), 6);
    (dir, hosts)
}

fn run(args: &[&str]) -> (Vec<u8>, String, i32) {
    let out = evtriage().args(args).output().unwrap();
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The report without what differs between runs by nature: the tool line is the same, the
/// inputs are compared by path and counts.
fn comparable(report: &Value) -> (Value, Value, Vec<(String, u64, String)>) {
    let mut inputs: Vec<(String, u64, String)> = report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_string(),
                i["records_read"].as_u64().unwrap(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    inputs.sort();
    (
        report["summary"].clone(),
        report["findings"].clone(),
        inputs,
    )
}

#[test]
fn three_runs_merged_equal_one_run_over_all_the_logs() {
    let (dir, hosts) = fleet();
    let (whole, _, whole_code) = run(&["--format", "json", s(dir.path())]);
    let whole: Value = serde_json::from_slice(&whole).unwrap();
    assert_eq!(whole_code, 1);
    assert!(whole["findings"].as_array().unwrap().len() >= 6);

    // Three runs: two in JSONL (one of them two hosts written into one file by two runs, as a
    // scheduled task appending to a share would), one in JSON; hosts split out of order.
    let reports = tempfile::tempdir().unwrap();
    let a = reports.path().join("a.jsonl");
    let b = reports.path().join("b.json");
    let c = reports.path().join("c.jsonl");
    let mut appended = Vec::new();
    for host in [&hosts[4], &hosts[0]] {
        let (out, _, _) = run(&["--format", "jsonl", s(host)]);
        appended.extend(out);
    }
    std::fs::write(&a, appended).unwrap();
    let (out, _, _) = run(&["--format", "json", s(&hosts[1]), s(&hosts[3])]);
    std::fs::write(&b, out).unwrap();
    let (out, _, _) = run(&["--format", "jsonl", s(&hosts[2]), s(&hosts[5])]);
    std::fs::write(&c, out).unwrap();

    let (merged, stderr, code) = run(&["merge", "--format", "json", s(reports.path())]);
    assert_eq!(code, whole_code, "{stderr}");
    let merged: Value = serde_json::from_slice(&merged).unwrap();
    let (merged, whole) = (comparable(&merged), comparable(&whole));
    assert_eq!(merged.0, whole.0, "summary");
    assert_eq!(merged.2, whole.2, "inputs");
    assert!(merged.1 == whole.1, "the findings differ");
    assert!(!stderr.contains("two reports"), "{stderr}");

    // Every format renders from the reports alone, with the single run's summary order.
    for format in ["table", "markdown", "html", "jsonl"] {
        let (one, _, _) = run(&["--format", format, "--color", "never", s(dir.path())]);
        let (many, _, code) = run(&[
            "merge",
            "--format",
            format,
            "--color",
            "never",
            s(&a),
            s(&b),
            s(&c),
        ]);
        assert_eq!(code, 1);
        let (one, many) = (
            String::from_utf8(one).unwrap(),
            String::from_utf8(many).unwrap(),
        );
        if format == "jsonl" {
            let findings = |t: &str| -> Vec<String> {
                t.lines()
                    .filter(|l| l.starts_with("{\"signature\""))
                    .map(String::from)
                    .collect()
            };
            assert_eq!(findings(&one), findings(&many));
        } else {
            // The overview (worst first) and every finding's section are the same; the inputs
            // section lists the same files.
            let overview = |t: &str| t.lines().take(40).collect::<Vec<_>>().join("\n");
            assert_eq!(overview(&one), overview(&many), "{format}");
        }
    }
}

#[test]
fn another_schema_a_cut_report_and_a_computer_twice_are_said() {
    let (_dir, hosts) = fleet();
    let reports = tempfile::tempdir().unwrap();
    let (out, _, _) = run(&["--format", "jsonl", s(&hosts[0])]);
    let text = String::from_utf8(out).unwrap();
    let good = reports.path().join("good.jsonl");
    std::fs::write(&good, &text).unwrap();

    let old = reports.path().join("old.jsonl");
    std::fs::write(
        &old,
        text.replace("{\"schema_version\":2", "{\"schema_version\":1"),
    )
    .unwrap();
    let (_, stderr, code) = run(&["merge", "--format", "json", s(&good), s(&old)]);
    assert!(
        stderr.contains("old.jsonl: not read: line 1: a report of schema_version 1; this evtriage reads schema_version 2"),
        "{stderr}"
    );
    assert_eq!(code, 1, "the good report's findings still count");

    // Cut before its closing line: what was read is kept, the report is an input problem.
    let lines: Vec<&str> = text.lines().collect();
    let cut = reports.path().join("cut.jsonl");
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).unwrap();
    let (out, stderr, code) = run(&["merge", "--format", "json", s(&cut)]);
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(r["findings"].as_array().unwrap().len(), lines.len() - 2);
    assert!(stderr.contains("has no closing line"), "{stderr}");
    assert_eq!(code, 1);

    // The same host in two reports.
    let again = reports.path().join("again.jsonl");
    std::fs::write(&again, &text).unwrap();
    let (_, stderr, _) = run(&["merge", "--format", "table", s(&good), s(&again)]);
    assert!(stderr.contains("is in two reports"), "{stderr}");

    // Not a report at all.
    let junk = reports.path().join("junk.json");
    std::fs::write(&junk, "hello").unwrap();
    let (_, stderr, code) = run(&["merge", s(&junk)]);
    assert!(
        stderr.contains("junk.json: not read: not a report evtriage wrote"),
        "{stderr}"
    );
    assert_eq!(code, 2, "nothing readable");
}

/// The exit code of a merge follows the inputs: a fleet whose runs found nothing, but one of
/// whose logs was damaged, exits 3 like one run over the same logs.
#[test]
fn input_problems_carry_through_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = root().join("samples/healthy");
    let broken = dir.path().join("System.evtx");
    std::fs::write(&broken, b"ElfFile\0 cut short").unwrap();
    let (whole, _, code) = run(&["--format", "json", s(&healthy), s(&broken)]);
    assert_eq!(code, 3);
    let report = dir.path().join("r.json");
    std::fs::write(&report, whole).unwrap();
    let (_, _, code) = run(&["merge", s(&report)]);
    assert_eq!(code, 3);
}

/// `evtriage collect --script` writes static text that tree-sitter-powershell (PyPI; `.ci/run`
/// installs it) reads without an error.
#[test]
#[ignore = "needs tree-sitter-powershell from PyPI (.ci/run installs it)"]
fn the_collection_script_parses() {
    support::require(
        "python3",
        &["-c", "import tree_sitter, tree_sitter_powershell"],
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("collect.ps1");
    let (_, stderr, code) = run(&["collect", "--script", s(&script)]);
    assert_eq!(code, 0, "{stderr}");
    let bytes = std::fs::read(&script).unwrap();
    assert!(
        bytes.starts_with(b"\xef\xbb\xbf"),
        "a UTF-8 byte order mark for PowerShell 2.0"
    );
    const READ: &str = r#"
import sys, tree_sitter, tree_sitter_powershell
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
src = open(sys.argv[1], "rb").read().lstrip(b"\xef\xbb\xbf")
tree = parser.parse(src)
def walk(n):
    yield n
    for c in n.children:
        yield from walk(c)
bad = [n for n in walk(tree.root_node) if n.type == "ERROR" or n.is_missing]
for n in bad[:5]:
    print(n.start_point, src[n.start_byte:n.end_byte][:80])
functions = [n for n in walk(tree.root_node) if n.type == "function_statement"]
print("functions", len(functions))
sys.exit(1 if bad else 0)
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", READ])
        .arg(&script)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("functions 9"), "{said}");
}
