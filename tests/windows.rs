//! The Windows build, run under Wine: the same findings as the Linux build on every sample
//! (same JSON apart from paths), Windows paths as users type them, files and scripts written,
//! UTF-8 output, `--live` on logs staged where Windows keeps them, and `evtriage collect` whose
//! zip the Linux build reads back as the case.
//!
//! Needs the Windows executable (`cargo build --profile dist --target x86_64-pc-windows-gnu`),
//! MinGW-w64's gcc and Debian's `wine64` (run as `/usr/lib/wine/wine64`: the `wine` wrapper
//! wants 32-bit support). `.ci/run` installs and builds them; a plain `cargo test` ignores these.
//! Wine 8 lacks `bcryptprimitives.dll`, whose `ProcessPrng` Rust's standard library calls for
//! random numbers: the tests build a stand-in (`tests/wine/bcryptprimitives.c`) beside the
//! executable they run. It is for Wine only and never shipped; Windows 10 has the real one.
//!
//! Not covered here: the progress bar (Wine gives a program no console when its output is a
//! pipe, so it is not drawn; it is tested on Linux in tests/progress.rs) and colors on a real
//! console (`enable-ansi-support` turns them on, or they are left off).

mod support;

use assert_cmd::Command as Bin;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use support::{require, root, samples};

const WINE: &str = "/usr/lib/wine/wine64";

fn exe() -> PathBuf {
    root().join("target/x86_64-pc-windows-gnu/dist/evtriage.exe")
}

/// The executable and the stand-in DLL, in a folder of their own (a DLL beside the program is
/// the first place Windows looks).
fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        require(WINE, &["--version"]);
        require("x86_64-w64-mingw32-gcc", &["--version"]);
        assert!(
            exe().is_file(),
            "{} is missing: cargo build --profile dist --target x86_64-pc-windows-gnu --bin evtriage (.ci/run does)",
            exe().display()
        );
        let dir = root().join("target/wine/bin");
        std::fs::create_dir_all(&dir).unwrap();
        let built = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-o"])
            .arg(dir.join("bcryptprimitives.dll"))
            .arg(root().join("tests/wine/bcryptprimitives.c"))
            .arg("-lbcrypt")
            .output()
            .unwrap();
        assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        std::fs::copy(exe(), dir.join("evtriage.exe")).unwrap();
        dir
    })
}

/// One booted Wine prefix, which every test's prefix copies. A Wine 8 prefix is about 700 MB
/// (its `system32` holds real copies of Wine's DLLs), and booting one takes 10-15 s: five booted
/// prefixes filled 3.5 GB of `target/` and a minute of CI. The copies hard-link the files of
/// `drive_c`, which Wine only reads; what it writes (the registry, saved by writing a new file
/// and renaming it) is copied.
fn booted() -> &'static Path {
    static BOOTED: OnceLock<PathBuf> = OnceLock::new();
    BOOTED.get_or_init(|| {
        let path = root().join("target/wine/booted");
        // Wine 8's first boot of a prefix fails now and then ("could not load kernel32.dll",
        // seen once in a CI dry run while other tests ran Wine): a prefix that did not boot is
        // removed and booted again, three times at most.
        let mut attempts = 0;
        while !path.join("system.reg").is_file() {
            attempts += 1;
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            let boot = Command::new(WINE)
                .args(["wineboot", "-i"])
                .env("WINEPREFIX", &path)
                .env("WINEDEBUG", "-all")
                .output()
                .unwrap();
            if boot.status.success() && path.join("system.reg").is_file() {
                break;
            }
            // The end of what Wine said is where the reason is; the start is always the same
            // complaint about the 32-bit rundll32 that a 64-bit-only Wine lacks.
            let said = String::from_utf8_lossy(&boot.stderr);
            let tail: String = said
                .chars()
                .rev()
                .take(1500)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                attempts < 3,
                "wineboot failed {attempts} times ({}; free space where the prefix is: {}): ...{tail}",
                boot.status,
                free_space(&path)
            );
        }
        path
    })
}

/// `df -h` of a folder, to tell a full disk from Wine's own failures.
fn free_space(dir: &Path) -> String {
    Command::new("df")
        .args(["-h", "--output=avail"])
        .arg(dir.parent().unwrap_or(dir))
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .last()
                .unwrap_or("?")
                .to_string()
        })
        .unwrap_or_else(|e| format!("df: {e}"))
}

/// A Wine prefix of its own for each test that stages files in `C:\`, made once per run from
/// the booted one (anything a failed earlier run left is replaced).
fn prefix(name: &str) -> PathBuf {
    static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let path = root().join("target/wine").join(format!("prefix-{name}"));
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.iter().any(|m| m == name) {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        let from = booted();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            match name.to_str() {
                Some("drive_c") => link_tree(&entry.path(), &path.join(&name)),
                Some("dosdevices") => copy_links(&entry.path(), &path.join(&name)),
                // Names the wineserver of the booted prefix: a copy would share it.
                Some("wineserver") => {}
                _ => {
                    std::fs::copy(entry.path(), path.join(&name)).unwrap();
                }
            }
        }
        made.push(name.to_string());
    }
    path
}

/// `to` as a copy of `from` whose files are hard links and whose symbolic links say the same.
fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            link_tree(&src, &dst);
        } else {
            std::fs::hard_link(&src, &dst).unwrap();
        }
    }
}

/// A folder of symbolic links (Wine's drive letters), copied as links.
fn copy_links(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(
            std::fs::read_link(entry.path()).unwrap(),
            to.join(entry.file_name()),
        )
        .unwrap();
    }
}

/// Puts a file in a prefix: the old one is removed first, since it may be a hard link to the
/// booted prefix's file, which writing through it would change for every test.
fn place(src: &Path, dst: &Path) {
    let _ = std::fs::remove_file(dst);
    std::fs::copy(src, dst).unwrap();
}

/// `evtriage.exe ARGS` under Wine, from the repository's root (`Z:\…\main`).
fn windows(prefix_name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(WINE);
    c.arg(bin().join("evtriage.exe"))
        .args(args)
        .current_dir(root())
        .env("WINEPREFIX", prefix(prefix_name))
        .env("WINEDEBUG", "-all");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn linux(args: &[&str]) -> Output {
    Bin::cargo_bin("evtriage")
        .unwrap()
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

/// Paths of the repository's files as the other build names them: `samples\x\y.evtx` and
/// `samples/x/y.evtx` are the same file. Paths from the logs (`C:\Program Files\…`) are left.
fn same_paths(v: &mut Value) {
    static SAMPLE_PATH: OnceLock<regex::Regex> = OnceLock::new();
    let re = SAMPLE_PATH.get_or_init(|| regex::Regex::new(r#"samples\\[^\s"',;()]*"#).unwrap());
    match v {
        Value::String(s) if s.contains("samples\\") => {
            *s = re
                .replace_all(s, |c: &regex::Captures| c[0].replace('\\', "/"))
                .into_owned();
        }
        Value::Array(a) => a.iter_mut().for_each(same_paths),
        Value::Object(o) => o.values_mut().for_each(same_paths),
        _ => {}
    }
}

fn bundles() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "needs the Windows build, MinGW-w64 and wine64 (.ci/run installs them)"]
fn every_sample_gives_the_linux_findings() {
    for bundle in bundles() {
        let win = windows(
            "main",
            &["--format", "json", &format!("samples\\{bundle}")],
            &[],
        );
        let lin = linux(&["--format", "json", &format!("samples/{bundle}")]);
        assert_eq!(
            win.status.code(),
            lin.status.code(),
            "{bundle}: {}",
            String::from_utf8_lossy(&win.stderr)
        );
        let mut w: Value = serde_json::from_slice(&win.stdout)
            .unwrap_or_else(|e| panic!("{bundle}: {e}: {}", String::from_utf8_lossy(&win.stderr)));
        let l: Value = serde_json::from_slice(&lin.stdout).unwrap();
        same_paths(&mut w);
        assert!(
            w == l,
            "{bundle}: the Windows build's report differs from the Linux build's"
        );
        // Kept events waiting in Windows' temporary file (issue 24; bundles without text logs):
        // the same report again.
        let spilled = windows(
            "main",
            &[
                "--format",
                "json",
                "--spill-after",
                "1",
                &format!("samples\\{bundle}"),
            ],
            &[],
        );
        assert_eq!(spilled.status.code(), lin.status.code(), "{bundle}");
        let mut s: Value = serde_json::from_slice(&spilled.stdout).unwrap_or_else(|e| {
            panic!(
                "{bundle}: {e}: {}",
                String::from_utf8_lossy(&spilled.stderr)
            )
        });
        same_paths(&mut s);
        assert!(
            s == l,
            "{bundle}: the Windows build's report differs when kept events wait on disk"
        );
        // Every path the Windows build names has one kind of separator (backslashes), but for
        // the names inside a zip, which are the zip's own.
        for input in w["inputs"].as_array().unwrap() {
            let p = input["path"].as_str().unwrap();
            let outside = p.split("!/").next().unwrap();
            assert!(!outside.contains('\\') && !outside.contains("\\\\"), "{p}");
        }
        let raw = String::from_utf8_lossy(&win.stdout);
        assert!(
            !raw.contains("/Application.evtx") || bundle.contains("zipped"),
            "{bundle}"
        );
    }
}

#[test]
#[ignore = "needs the Windows build, MinGW-w64 and wine64 (.ci/run installs them)"]
fn windows_paths_as_users_type_them() {
    let repo = format!("Z:{}", root().display().to_string().replace('/', "\\"));
    // A customer's folder with letters from outside ASCII.
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("Fälle").join("Ñandú 1234");
    std::fs::create_dir_all(&cases).unwrap();
    for f in ["Application.evtx", "System.evtx"] {
        std::fs::copy(
            samples().join("kb940006-rollup-failed").join(f),
            cases.join(f),
        )
        .unwrap();
    }
    let unicode = format!("Z:{}\\", cases.display().to_string().replace('/', "\\"));
    let forms = [
        format!("{repo}\\samples\\kb940006-rollup-failed\\"),
        "Z:samples\\kb940006-rollup-failed".to_string(),
        "samples\\kb940006-rollup-*\\*.evtx".to_string(),
        format!("{repo}/samples/kb940006-rollup-failed/System.evtx"),
        unicode.clone(),
    ];
    for form in &forms {
        let out = windows("main", &["--format", "json", form], &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{form}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["findings"].as_array().unwrap().len(), 1, "{form}");
        for input in r["inputs"].as_array().unwrap() {
            let p = input["path"].as_str().unwrap();
            assert!(!p.contains('/') && !p.contains("\\\\"), "{form}: {p}");
        }
        if form == &unicode {
            let p = r["inputs"][0]["path"].as_str().unwrap();
            assert!(p.contains("Fälle\\Ñandú 1234\\"), "{p}");
        }
    }
}

#[test]
#[ignore = "needs the Windows build, MinGW-w64 and wine64 (.ci/run installs them)"]
fn reports_and_scripts_are_written_and_the_table_is_utf8_without_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = format!("Z:{}", dir.path().display().to_string().replace('/', "\\"));
    let report = format!("{out_dir}\\report.html");
    let script = format!("{out_dir}\\restore.ps1");
    let out = windows(
        "main",
        &[
            "--format",
            "html",
            "--output",
            &report,
            "--script",
            &script,
            "samples\\kb940006-rollup-failed",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<html") && html.contains("MSExchangeIS"));
    let ps1 = std::fs::read(dir.path().join("restore.ps1")).unwrap();
    let text = String::from_utf8(ps1).unwrap();
    assert!(
        text.contains("ChangeStartMode") && text.contains("MSExchangeIS"),
        "{text}"
    );
    assert_eq!(
        text.matches("\r\n").count(),
        text.matches('\n').count(),
        "CRLF throughout"
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("restore.ps1") && !said.contains('/'),
        "{said}"
    );

    // The table, in Japanese, to a pipe: UTF-8 and no escape codes.
    let out = windows("main", &["samples\\kb940006-japanese"], &[]);
    let table = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(table.contains("の更新プログラム ロールアップ 5"), "{table}");
    assert!(!table.contains('\u{1b}'));
    let help = windows("main", &["--help"], &[]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("evtriage merge"));
}

/// Stages a sample's logs where Windows and Exchange keep them, in a prefix of its own.
fn stage(prefix_name: &str, bundle: &str) -> PathBuf {
    let p = prefix(prefix_name);
    let c = p.join("drive_c");
    let logs = c.join("windows/system32/winevt/Logs");
    std::fs::create_dir_all(&logs).unwrap();
    let b = samples().join(bundle);
    for log in ["Application", "System"] {
        place(
            &b.join(format!("{log}.evtx")),
            &logs.join(format!("{log}.evtx")),
        );
    }
    let setup_logs = c.join("ExchangeSetupLogs");
    let _ = std::fs::remove_dir_all(&setup_logs);
    if b.join("ExchangeSetupLogs").is_dir() {
        std::fs::create_dir_all(&setup_logs).unwrap();
        for e in std::fs::read_dir(b.join("ExchangeSetupLogs")).unwrap() {
            let e = e.unwrap();
            place(&e.path(), &setup_logs.join(e.file_name()));
        }
    }
    let temp = c.join("windows/temp");
    std::fs::create_dir_all(&temp).unwrap();
    for dir in [b.clone(), b.join("Temp")] {
        for e in std::fs::read_dir(&dir).into_iter().flatten() {
            let e = e.unwrap();
            if e.file_name()
                .to_string_lossy()
                .to_uppercase()
                .starts_with("MSI")
            {
                place(&e.path(), &temp.join(e.file_name()));
            }
        }
    }
    p
}

/// The findings' parts that do not name files.
fn gist(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            serde_json::json!([
                f["signature"],
                f["status"],
                f["first_seen"],
                f["last_seen"],
                f["summary"],
                f["services"],
                f["locked_files"],
                f["update"]
            ])
        })
        .collect()
}

#[test]
#[ignore = "needs the Windows build, MinGW-w64 and wine64 (.ci/run installs them)"]
fn live_reads_this_computers_logs_where_they_are() {
    // Each sample's server and the zone its text logs were written in (New York in November
    // 2011, Berlin in March 2023): --live learns it from Windows, which Wine sets from TZ.
    for (name, bundle, zone) in [
        ("live-kb", "kb940006-rollup-failed", "America/New_York"),
        ("live-ex16", "exchange2016-su-failed-retry", "Europe/Berlin"),
    ] {
        stage(name, bundle);
        let out = windows(name, &["--live", "--format", "json"], &[("TZ", zone)]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bundle}: {said}");
        let live: Value = serde_json::from_slice(&out.stdout).unwrap();
        let folder: Value = serde_json::from_slice(
            &linux(&["--format", "json", &format!("samples/{bundle}")]).stdout,
        )
        .unwrap();
        assert_eq!(gist(&live), gist(&folder), "{bundle}");
        let paths: Vec<&str> = live["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["path"].as_str().unwrap())
            .collect();
        assert!(
            paths.iter().any(|p| p
                .to_lowercase()
                .ends_with("system32\\winevt\\logs\\system.evtx")),
            "{paths:?}"
        );
        assert!(
            said.contains("no event log at") && said.contains("Setup.evtx"),
            "{said}"
        );
        if bundle.starts_with("exchange2016") {
            let clock = &live["findings"][0]["text_log_clock"];
            assert_eq!(clock["basis"], "live", "{clock}");
            assert_eq!(clock["utc_offset_minutes"], 60, "{clock}");
        }
    }
}

#[test]
#[ignore = "needs the Windows build, MinGW-w64 and wine64 (.ci/run installs them)"]
fn collect_writes_a_case_the_linux_build_reads_back() {
    stage("collect", "exchange2016-su-failed-retry");
    let dir = tempfile::tempdir().unwrap();
    let zip = format!(
        "Z:{}\\case.zip",
        dir.path().display().to_string().replace('/', "\\")
    );
    let out = windows(
        "collect",
        &["collect", "--output", &zip],
        &[("TZ", "Europe/Berlin")],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    // Setup.evtx is not in the staged prefix: a partial collection says so and exits 3.
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("not collected") && said.contains("Setup"),
        "{said}"
    );
    assert!(said.contains("wrote"), "{said}");
    let zip_path = dir.path().join("case.zip");
    let r = linux(&["--format", "json", zip_path.to_str().unwrap()]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let case: Value = serde_json::from_slice(&r.stdout).unwrap();
    let folder: Value = serde_json::from_slice(
        &linux(&["--format", "json", "samples/exchange2016-su-failed-retry"]).stdout,
    )
    .unwrap();
    assert_eq!(gist(&case), gist(&folder));
    let clock = &case["findings"][0]["text_log_clock"];
    assert_eq!(clock["basis"], "manifest", "{clock}");
    assert_eq!(clock["utc_offset_minutes"], 60);
    let manifest = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["format"] == "evtriage-manifest")
        .unwrap();
    assert!(
        manifest["notes"][0]
            .as_str()
            .unwrap()
            .contains("by evtriage 0."),
        "{manifest}"
    );
    // Wine's computer is not the staged logs' server: said on each text log, which goes with
    // the event logs collected beside it.
    let control = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("ServiceControl.log"))
        .unwrap();
    assert_eq!(control["placed"]["computer"], "EX16MBX01.fabrikam.de");
    assert!(
        control["notes"]
            .to_string()
            .contains("the collection's manifest names the computer"),
        "{control}"
    );
}

/// An installer log outside the places `--live` looks in, named by the Application log's 1023:
/// read after the logs that name it.
#[test]
#[ignore = "needs the Windows build, MinGW-w64 and wine64 (.ci/run installs them)"]
fn live_reads_the_installer_log_the_event_log_names() {
    let p = stage("live-named", "kb940006-rollup-failed");
    let c = p.join("drive_c");
    let _ = std::fs::remove_file(c.join("windows/temp/MSI4f2a1.LOG"));
    let named = "C:\\Admin\\logs\\rollup-retry.log";
    let xml = support::sample_xml("kb940006-rollup-failed", "Application")
        .replace("C:\\Windows\\TEMP\\MSI4f2a1.LOG", named);
    assert!(xml.contains(named));
    evtriage_writer::write_xml(
        &xml,
        std::fs::File::create(c.join("windows/system32/winevt/Logs/Application.evtx")).unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(c.join("Admin/logs")).unwrap();
    std::fs::copy(
        samples().join("kb940006-rollup-failed/MSI4f2a1.LOG"),
        c.join("Admin/logs/rollup-retry.log"),
    )
    .unwrap();
    let out = windows(
        "live-named",
        &["--live", "--format", "json"],
        &[("TZ", "America/New_York")],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let log = &r["findings"][0]["error"]["installer_log"];
    assert_eq!(log["file"], named, "{log}");
    assert_eq!(log["named_by_event_log"], true);
    assert_eq!(log["failed_action"], "InstallFinalize", "{log}");

    // And collected: the Linux build reads the same log from the zip.
    let dir = tempfile::tempdir().unwrap();
    let zip = format!(
        "Z:{}\\case.zip",
        dir.path().display().to_string().replace('/', "\\")
    );
    let out = windows(
        "live-named",
        &["collect", "--output", &zip],
        &[("TZ", "America/New_York")],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("the Application log names C:\\Admin\\logs\\rollup-retry.log"),
        "{said}"
    );
    let r = linux(&[
        "--format",
        "json",
        dir.path().join("case.zip").to_str().unwrap(),
    ]);
    let case: Value = serde_json::from_slice(&r.stdout).unwrap();
    let file = case["findings"][0]["error"]["installer_log"]["file"]
        .as_str()
        .unwrap();
    assert!(
        file.ends_with("case.zip!/InstallerLogs/named/rollup-retry.log"),
        "{file}"
    );
}
