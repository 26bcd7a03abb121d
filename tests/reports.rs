//! The readable reports (issue 15): the table a support engineer reads, the fleet overview, the
//! Markdown for a ticket and the HTML page to attach to it. Snapshots of every sample bundle in
//! each format; the KB sample's answer on one screen; eight servers named in the first lines;
//! the page loaded in a real browser.

mod support;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use support::*;

fn evtriage() -> Command {
    let mut c = Command::cargo_bin("evtriage").unwrap();
    c.current_dir(root());
    c
}

fn report(args: &[&str], paths: &[&Path]) -> String {
    let out = evtriage()
        .args(["--color", "never"])
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bundles() -> Vec<PathBuf> {
    let mut b: Vec<PathBuf> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    b.sort();
    b
}

/// Paths as the run from the project's root names them, so that snapshots do not hold the
/// checkout's location.
fn relative(p: &Path) -> PathBuf {
    p.strip_prefix(root()).unwrap().to_path_buf()
}

#[test]
fn every_sample_bundle_in_every_readable_format() {
    for bundle in bundles() {
        let name = bundle.file_name().unwrap().to_str().unwrap().to_string();
        let path = relative(&bundle);
        for (format, ext) in [("table", "txt"), ("markdown", "md"), ("html", "html")] {
            let text = report(&["--format", format], &[&path]);
            insta::assert_snapshot!(format!("{name}.{ext}"), text);
        }
    }
}

/// The answer first: for the KB sample, everything up to the evidence (what failed, where, what
/// held the files, the services, what to run) fits 70 lines of 120 columns, in one shell.
#[test]
fn the_kb_answer_fits_one_screen() {
    let text = report(&[], &[Path::new("samples/kb940006-rollup-failed")]);
    let answer: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim_start().starts_with("Evidence ("))
        .collect();
    assert!(
        answer.len() <= 70,
        "{} lines:\n{}",
        answer.len(),
        answer.join("\n")
    );
    for l in &answer {
        // Commands are never cut or wrapped; everything else fits the width.
        if !l.trim_start().starts_with("PS>") {
            assert!(
                l.chars().count() <= 120,
                "{} columns: {l}",
                l.chars().count()
            );
        }
    }
    let answer = answer.join("\n");
    for part in [
        "Update Rollup 5 for Exchange Server 2007 Service Pack 3 (KB2602324)",
        "0x80070643 = Windows Installer 1603",
        "powershell (PID 3412): C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Data.Storage.dll",
        "MSExchangeTransportLogSearch (auto, was running)",
        "PS> Get-Service -Name 'MSExchangeADTopology' | Set-Service -StartupType Automatic",
        "PS> Get-Service -Name 'MSExchangeADTopology' | Start-Service",
    ] {
        assert!(answer.contains(part), "{part} not on the first screen");
    }
    // One shell by default; both, or the other, when asked.
    assert!(!text.contains("cmd>"));
    let both = report(
        &["--shell", "both"],
        &[Path::new("samples/kb940006-rollup-failed")],
    );
    assert!(
        both.contains("PS> ") && both.contains("cmd> sc.exe config MSExchangePOP3 start= demand")
    );
    let cmd = report(
        &["--shell", "cmd"],
        &[Path::new("samples/kb940006-rollup-failed")],
    );
    assert!(!cmd.contains("PS> ") && cmd.contains("cmd> net start MSExchangeADTopology"));
    // The evidence is one line a record; --evidence gives every field.
    let evidence = report(
        &["--evidence"],
        &[Path::new("samples/kb940006-rollup-failed")],
    );
    assert!(evidence.contains("What it shows") && evidence.contains("found: "));
}

/// Eight servers: the report opens with one row per computer and finding, worst first, and names
/// every server in its first 30 lines; `--summary` prints only that.
#[test]
fn a_fleet_opens_with_every_server_worst_first() {
    let dir = tempfile::tempdir().unwrap();
    evtriage_gen::biglog::run(&evtriage_gen::biglog::Options {
        out: dir.path().to_path_buf(),
        size: 256 << 10,
        hosts: 8,
        incidents: 1,
        seed: 11,
        busy: 1,
    })
    .unwrap();
    let text = report(&[], &[dir.path()]);
    let first: Vec<&str> = text.lines().take(30).collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let hosts = manifest["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 8);
    for h in hosts {
        let name = h["computer"].as_str().unwrap();
        assert!(
            first.iter().any(|l| l.starts_with(name)),
            "{name} not in the first 30 lines:\n{}",
            first.join("\n")
        );
    }
    let summary = report(&["--summary"], &[dir.path()]);
    assert!(
        summary.lines().filter(|l| !l.is_empty()).count() <= 11,
        "{summary}"
    );
    assert!(!summary.contains("What to run"));
    // Worst first, on the sample servers, whose findings differ: errors with services still
    // disabled, then the other failures, the resolved one, and the pending restart last.
    let summary = report(&["--summary"], &[Path::new("samples")]);
    let order: Vec<&str> = summary
        .lines()
        .skip_while(|l| !l.starts_with("Computer"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "EX16MBX01.fabrikam.de",
            "EX19MBX01.contoso.local",
            "EXCH07MBX1",
            "EXJP01.contoso.co.jp",
            "EXMBX01.contoso.local",
            "EXMBX08.contoso.local",
            "EXCAS03.contoso.local",
            "EXCH07MBX2",
            "FS01.contoso.local",
            "EXMBX02.contoso.local",
            "EXHUB01.contoso.local",
        ],
        "{summary}"
    );
}

/// The page in a real browser: headless Chromium loads it without a console error, its DOM holds
/// the finding, and its screenshot is not blank.
#[test]
#[ignore = "needs chromium (.ci/run installs it)"]
fn the_html_page_in_a_real_browser() {
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("this test needs chromium: install it (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let html = report(
        &["--format", "html"],
        &[Path::new("samples/kb940006-rollup-failed")],
    );
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    let chrome = |extra: &[&str]| {
        std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let dom = chrome(&["--dump-dom"]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    for part in [
        "Exchange update rollup failed on a file in use",
        "EXMBX01.contoso.local",
        "Microsoft.Exchange.Data.Storage.dll",
        "Get-Service -Name 'MSExchangeADTopology' | Set-Service -StartupType Automatic",
        "<svg class=\"timeline\"",
    ] {
        assert!(dom_text.contains(part), "{part} not in the DOM");
    }
    let console = String::from_utf8_lossy(&dom.stderr);
    assert!(
        !console.contains("CONSOLE") && !console.contains("Uncaught"),
        "console: {console}"
    );
    let shot = dir.path().join("shot.png");
    let out = chrome(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1200,1600",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // A blank page compresses to a few kilobytes; this one holds text, tables and a timeline.
    assert!(
        png.len() > 40_000,
        "screenshot of {} bytes: blank?",
        png.len()
    );
    // And it prints (the page's print style): a PDF of more than a blank page's worth.
    let pdf = dir.path().join("report.pdf");
    let out = chrome(&[
        &format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
}
