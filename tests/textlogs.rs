//! The text logs a case holds beside the event logs (text-logs.md): the Windows Installer verbose
//! log, `ServiceControl.log`, the saved start modes and `ExchangeSetup.log`, read from the real
//! files of `../shared/corpus/textlogs` and from ones `evtriage-gen` writes in their layouts; their
//! local times placed on the event logs' UTC; and what the findings make of them: the file in use
//! from the log alone, every service and its true start type when the System log has wrapped, the
//! start modes a retry saved over the first ones, and the next update refused because of it.

mod support;

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::*;

fn run(args: &[&str]) -> (Value, i32) {
    json_run(args)
}

fn input<'a>(v: &'a Value, ends_with: &str) -> &'a Value {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(ends_with))
        .unwrap_or_else(|| panic!("no input {ends_with}: {:#}", v["inputs"]))
}

fn only_finding(v: &Value) -> &Value {
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{:#}", v["findings"]);
    &f[0]
}

fn step_ids(f: &Value) -> Vec<String> {
    f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn commands(f: &Value) -> String {
    f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["powershell"]
                .as_array()
                .unwrap()
                .iter()
                .chain(s["cmd"].as_array().unwrap())
        })
        .map(|c| c.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn fixture(name: &str, dir: &Path) -> PathBuf {
    let out = dir.join(name);
    let bundle = evtriage_gen::fixtures::fixture(name).unwrap();
    evtriage_gen::fixtures::write(&bundle, &out).unwrap();
    out
}

#[test]
fn a_real_verbose_log_of_an_install_that_succeeded_is_no_failure() {
    let Some(dir) = shared("corpus/textlogs/redball") else {
        return;
    };
    let log = dir.join("msi_install.log");
    let (v, code) = run(&[log.to_str().unwrap()]);
    assert_eq!(code, 0, "{:#}", v["findings"]);
    assert!(v["findings"].as_array().unwrap().is_empty());
    let i = input(&v, "msi_install.log");
    assert_eq!(i["format"], "msi-log");
    assert_eq!(i["status"], "complete", "{i:#}");
    assert!(i["records_read"].as_u64().unwrap() >= 5, "{i:#}");
    // UTF-16 with a byte-order mark, dates 24/03/2026: day first, proved by the file itself.
    assert!(i["notes"].as_array().unwrap().is_empty(), "{i:#}");
    assert_eq!(i["log"]["first"], "2026-03-24T05:15:49Z");
    // Its ComputerName property names the computer; no event log places its local time.
    assert_eq!(i["placed"]["computer"], "DESKTOP-OC1F01C");
    assert_eq!(i["placed"]["computer_from"], "log");
    assert_eq!(i["placed"]["basis"], "date_only");
    assert_eq!(i["clock"], "local");
}

#[test]
fn real_exchange_setup_logs_read_whole_and_find_no_disabled_service() {
    let Some(dir) = shared("corpus/textlogs/css-exchange") else {
        return;
    };
    let (v, _) = run(&[dir.to_str().unwrap()]);
    for name in [
        "ExchangeSetup_MSI_1.log",
        "ExchangeSetup_Reboot_Pending.log",
        "ExchangeSetup_ServiceControl_Reverse.log",
    ] {
        let i = input(&v, name);
        assert_eq!(i["format"], "exchange-setup-log", "{name}");
        assert_eq!(i["status"], "complete", "{name}: {i:#}");
        assert!(i["records_read"].as_u64().unwrap() > 0, "{name}");
    }
    // "Local time zone: (UTC-05:00) Bogota, …": placed with the zone setup stated, nothing better.
    let i = input(&v, "ExchangeSetup_ServiceControl_Reverse.log");
    assert_eq!(i["placed"]["basis"], "setup_log_time_zone", "{i:#}");
    assert_eq!(i["placed"]["utc_offset_minutes"], -300);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["signature"] != "exchange-setup-service-disabled"),
        "{:#}",
        v["findings"]
    );
}

#[test]
fn the_kb_bundle_cites_the_verbose_log_it_was_given() {
    let (v, code) = run(&["samples/kb940006-rollup-failed"]);
    assert_eq!(code, 1);
    let f = only_finding(&v);
    let log = &f["error"]["installer_log"];
    assert!(log["file"].as_str().unwrap().ends_with("MSI4f2a1.LOG"));
    assert_eq!(log["failed_action"], "InstallFinalize");
    assert_eq!(log["named_by_event_log"], true, "1023 names MSI4f2a1.LOG");
    assert!(
        log["context"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("is being held in use")),
        "{log:#}"
    );
    // A US server five hours behind UTC: the log's 22:02:06 is the 1025's 03:02:06Z.
    let clock = &f["text_log_clock"];
    assert_eq!(clock["utc_offset_minutes"], -300, "{clock:#}");
    assert_eq!(clock["basis"], "anchored");
    assert!(clock["anchors_total"].as_u64().unwrap() >= 2);
    let log_input = input(&v, "MSI4f2a1.LOG");
    assert_eq!(log_input["placed"]["computer"], "EXMBX01.contoso.local");
    assert_eq!(log_input["placed"]["utc_offset_minutes"], -300);
    // Read: no step sends the engineer to read it.
    let steps = step_ids(f);
    assert!(
        !steps.contains(&"find-locked-files".to_string()),
        "{steps:?}"
    );
    let in_log: Vec<&Value> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["evidence"] == "log_file_in_use")
        .collect();
    assert_eq!(in_log.len(), 2);
    // Placed at the moment its 1025 records: within a second.
    for e in in_log {
        assert!(
            e["time"]
                .as_str()
                .unwrap()
                .starts_with("2011-11-09T03:02:06"),
            "{e:#}"
        );
    }
}

#[test]
fn a_verbose_log_alone_names_the_failure_the_file_in_use_and_its_process() {
    let (v, code) = run(&["samples/msi-update-failed-file-in-use/MSI2b7d4.LOG"]);
    assert_eq!(code, 1);
    let f = only_finding(&v);
    assert_eq!(f["signature"], "msi-update-failed");
    assert_eq!(f["computer"], "FS01", "the log's ComputerName property");
    assert_eq!(f["update"]["title"], "Contoso Backup Agent 7.2 Hotfix 3");
    assert_eq!(f["error"]["msi"], 1603);
    assert_eq!(
        f["error"]["meaning"],
        "A fatal error occurred during installation."
    );
    assert!(
        f["error"]["installer_message"]
            .as_str()
            .unwrap()
            .contains("Error 1306. Another application has exclusive access"),
        "{:#}",
        f["error"]
    );
    assert_eq!(f["error"]["installer_log"]["failed_action"], "InstallFiles");
    let lf = &f["locked_files"][0];
    assert_eq!(
        lf["path"],
        "C:\\Program Files\\Contoso\\Backup Agent\\cbvss.dll"
    );
    assert_eq!(lf["process"], "cbagent");
    assert_eq!(lf["pid"], 1876);
    // No event log: its wall-clock times are kept, and said to be.
    assert_eq!(f["text_log_clock"]["basis"], "date_only");
    assert!(
        f["first_seen"]
            .as_str()
            .unwrap()
            .starts_with("2012-03-14T09:")
    );

    // The Exchange rollup's log alone is KB 940006's issue, unconfirmed without the System log.
    let (v, _) = run(&["samples/kb940006-rollup-failed/MSI4f2a1.LOG"]);
    let f = only_finding(&v);
    assert_eq!(f["signature"], "exchange-rollup-file-in-use");
    assert_eq!(f["confidence"]["level"], "medium");
    assert_eq!(f["locked_files"].as_array().unwrap().len(), 2);
    assert!(!f["unchecked"].as_array().unwrap().is_empty());
}

/// A verbose log of these lines, as msiexec writes it (UTF-16LE with a byte-order mark, CRLF).
fn verbose_log(lines: &[&str]) -> Vec<u8> {
    evtriage_writer::textlog::encode(
        &(lines.join("\n") + "\n"),
        evtriage_writer::textlog::TextEncoding::Utf16Le,
    )
}

#[test]
fn sessions_that_succeeded_are_no_failure_and_midnight_is_crossed() {
    let dir = tempfile::tempdir().unwrap();
    // Two sessions appended: the first succeeds with a restart pending (3010) and runs past
    // midnight; the second fails after midnight. Dates month first (12 is no day of month 13).
    let log = verbose_log(&[
        "=== Verbose logging started: 12/31/2022  23:59:50  Build type: SHIP UNICODE 5.00.10011.00  Calling process: C:\\Windows\\system32\\msiexec.exe ===",
        "MSI (s) (C8:50) [23:59:51:001]: Product: Fabrikam Agent -- Installation completed successfully.",
        "MSI (s) (C8:50) [00:00:04:120]: Windows Installer installed the product. Product Name: Fabrikam Agent. Product Version: 2.0. Product Language: 1033. Manufacturer: Fabrikam. Installation success or error status: 3010.",
        "MSI (c) (A4:3C) [00:00:05:000]: MainEngineThread is returning 3010",
        "=== Verbose logging stopped: 1/1/2023  00:00:05 ===",
        "=== Verbose logging started: 1/1/2023  00:10:00  Build type: SHIP UNICODE 5.00.10011.00  Calling process: C:\\Windows\\system32\\msiexec.exe ===",
        "Action start 0:10:01: InstallFiles.",
        "MSI (s) (C8:50) [00:10:02:500]: Product: Fabrikam Tools -- Error 1310. Error writing to file: C:\\Program Files\\Fabrikam\\tools.dll.  Verify that you have access to that directory.",
        "Action ended 0:10:03: InstallFiles. Return value 3.",
        "MSI (s) (C8:50) [00:10:04:000]: Product: Fabrikam Tools -- Installation failed.",
        "MSI (s) (C8:50) [00:10:04:001]: Windows Installer installed the product. Product Name: Fabrikam Tools. Product Version: 1.1. Product Language: 1033. Manufacturer: Fabrikam. Installation success or error status: 1603.",
        "MSI (c) (A4:3C) [00:10:05:000]: MainEngineThread is returning 1603",
        "=== Verbose logging stopped: 1/1/2023  00:10:05 ===",
    ]);
    let path = dir.path().join("MSIa1b2c.LOG");
    std::fs::write(&path, log).unwrap();
    let (v, code) = run(&["--text-computer", "WS07", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = only_finding(&v);
    assert_eq!(f["update"]["product"], "Fabrikam Tools");
    assert_eq!(f["computer"], "WS07");
    assert_eq!(f["error"]["installer_log"]["failed_action"], "InstallFiles");
    assert!(
        f["error"]["installer_message"]
            .as_str()
            .unwrap()
            .contains("Error 1310. Error writing to file"),
        "{:#}",
        f["error"]
    );
    assert!(
        f["first_seen"]
            .as_str()
            .unwrap()
            .starts_with("2023-01-01T00:10"),
        "{f:#}"
    );
    let i = input(&v, "MSIa1b2c.LOG");
    assert_eq!(i["placed"]["computer_from"], "flag");
    // The first session's success after midnight is dated the 1st, not the 31st.
    assert_eq!(i["log"]["first"], "2022-12-31T23:59:50Z");
    assert_eq!(i["log"]["last"], "2023-01-01T00:10:05Z");
}

#[test]
fn the_retry_case_zipped_or_not_restores_every_service_and_sees_the_stale_state() {
    let (folder, code) = run(&["samples/exchange2016-su-failed-retry"]);
    assert_eq!(code, 1);
    let (zipped, zcode) = run(&["samples/exchange2016-su-failed-retry-zipped"]);
    assert_eq!(zcode, 1);
    let f = only_finding(&folder);
    assert_eq!(f["signature"], "exchange-rollup-file-in-use");
    assert_eq!(f["update"]["kb"], "KB5024296");
    assert_eq!(f["locked_files"][0]["process"], "MonitoringHost");
    // The System log wrapped: ServiceControl.log names all 28, the retry overwrote the saved
    // start modes, so the defaults give the start types, said as such.
    let services = f["services"].as_array().unwrap();
    assert_eq!(services.len(), 28);
    assert!(
        services
            .iter()
            .all(|s| s["original_start_from"] == "defaults"),
        "{services:#?}"
    );
    assert!(services.iter().all(|s| s["still_disabled"] == true));
    let saved = &f["saved_start_modes"];
    assert_eq!(saved["stale"], true, "{saved:#}");
    assert!(
        saved["note"].as_str().unwrap().contains("saved again"),
        "{saved:#}"
    );
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("default start types")
    );
    let steps = step_ids(f);
    for s in [
        "free-locked-files",
        "restore-start-types",
        "start-services",
        "set-aside-stale-state",
    ] {
        assert!(steps.contains(&s.to_string()), "{s} in {steps:?}");
    }
    let cmds = commands(f);
    assert!(cmds.contains("Get-Service -Name 'MSExchangeIS' | Set-Service -StartupType Automatic"));
    assert!(cmds.contains("Get-Service -Name 'MSExchangePop3' | Set-Service -StartupType Manual"));
    assert!(cmds.contains(
        "Rename-Item -LiteralPath 'C:\\ExchangeSetupLogs' -NewName 'ExchangeSetupLogs-OLD'"
    ));
    // Both attempts are one finding, placed on one clock (UTC+1, from the installer logs).
    assert_eq!(f["text_log_clock"]["utc_offset_minutes"], 60);
    let sc = input(&folder, "ServiceControl.log");
    assert_eq!(sc["placed"]["basis"], "anchored");

    // The zip is the folder: the same finding, members named inside it.
    let zf = only_finding(&zipped);
    let strip = |f: &Value| {
        let mut f = f.clone();
        f.as_object_mut().unwrap().remove("evidence");
        f["error"]["installer_log"]["file"] = Value::Null;
        f["saved_start_modes"]["file"] = Value::Null;
        f
    };
    assert_eq!(strip(zf), strip(f));
    assert!(
        input(&zipped, "!/EX16MBX01/ExchangeSetupLogs/ServiceControl.log")["status"] == "complete"
    );
}

#[test]
fn start_modes_saved_before_give_the_start_types_and_keep_disabled_ones_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let case = fixture("su-failed-state-saved-before", dir.path());
    let script = dir.path().join("restore.ps1");
    let (v, code) = run(&[case.to_str().unwrap(), "--script", script.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = only_finding(&v);
    let services = f["services"].as_array().unwrap();
    assert_eq!(
        services.len(),
        24,
        "POP3, IMAP4 and their back ends were disabled before"
    );
    assert!(
        services
            .iter()
            .all(|s| s["original_start_from"] == "saved_state")
    );
    let saved = &f["saved_start_modes"];
    assert_eq!(saved["stale"], false);
    assert_eq!(
        saved["disabled_before"],
        serde_json::json!([
            "MSExchangeImap4",
            "MSExchangeIMAP4BE",
            "MSExchangePop3",
            "MSExchangePOP3BE"
        ])
    );
    let cmds = commands(f).to_lowercase();
    assert!(!cmds.contains("pop3") && !cmds.contains("imap4"), "{cmds}");
    let script = std::fs::read_to_string(script).unwrap().to_lowercase();
    assert!(
        script.contains("msexchangeis") && !script.contains("pop3") && !script.contains("imap4")
    );
    // Anchored weakly: the run began just after the update's transaction (no 7040 is left).
    assert_eq!(
        f["text_log_clock"]["basis"],
        "anchored_to_transaction_start"
    );
    assert_eq!(f["text_log_clock"]["utc_offset_minutes"], 60);
}

#[test]
fn a_log_across_a_change_to_summer_time_is_placed_right_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let case = fixture("su-failed-across-summer-time", dir.path());
    let (v, _) = run(&[case.to_str().unwrap()]);
    let f = only_finding(&v);
    let offsets: Vec<i64> = f["text_log_clock"]["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["utc_offset_minutes"].as_i64().unwrap())
        .collect();
    assert!(
        offsets.contains(&60) && offsets.contains(&120),
        "{offsets:?}"
    );
    // Every line the script wrote while disabling lands within the second (its lines have no
    // fraction) of the 7040 it caused.
    let evidence = f["evidence"].as_array().unwrap();
    let time =
        |e: &Value| chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap()).unwrap();
    let scm: Vec<&Value> = evidence
        .iter()
        .filter(|e| e["evidence"] == "service_disabled")
        .collect();
    let script: Vec<&Value> = evidence
        .iter()
        .filter(|e| e["evidence"] == "sc_disabled")
        .collect();
    assert_eq!(
        script.len(),
        28,
        "the script's lines, evidence even where they changed nothing"
    );
    let unchanged = f["already_disabled"].as_array().unwrap();
    for s in script {
        let svc = &s["fields"]["service"];
        if unchanged.contains(svc) {
            continue;
        }
        let twin = scm
            .iter()
            .find(|e| &e["fields"]["service"] == svc)
            .unwrap_or_else(|| panic!("no 7040 for {svc}"));
        let gap = (time(s) - time(twin)).num_milliseconds().abs();
        assert!(gap < 2_000, "{svc}: {gap} ms apart");
    }
}

#[test]
fn the_next_update_refused_by_services_still_disabled_is_a_finding_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let case = fixture("cu-setup-refused-after-su-failed", dir.path());
    let (v, _) = run(&[case.to_str().unwrap()]);
    let refused = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["signature"] == "exchange-setup-service-disabled")
        .unwrap_or_else(|| panic!("{:#}", v["findings"]));
    assert_eq!(
        refused["update"]["kb"], "KB5024296",
        "linked to the update that disabled them"
    );
    assert_eq!(refused["services"].as_array().unwrap().len(), 28);
    let steps = step_ids(refused);
    for s in [
        "restore-start-types",
        "start-services",
        "set-aside-stale-state",
        "run-setup-again",
    ] {
        assert!(steps.contains(&s.to_string()), "{s} in {steps:?}");
    }
}

#[test]
fn a_text_log_alone_is_of_the_computer_the_flag_names() {
    let log =
        root().join("samples/exchange2016-su-failed-retry/ExchangeSetupLogs/ServiceControl.log");
    let (v, _) = run(&[log.to_str().unwrap()]);
    assert_eq!(
        input(&v, "ServiceControl.log")["placed"]["computer"],
        "unknown"
    );
    let (v, _) = run(&["--text-computer", "EX16MBX01", log.to_str().unwrap()]);
    let i = input(&v, "ServiceControl.log");
    assert_eq!(i["placed"]["computer"], "EX16MBX01");
    assert_eq!(i["placed"]["computer_from"], "flag");
    assert_eq!(i["format"], "service-control-log");
    assert_eq!(i["records_read"], 90);
}

#[test]
fn hostile_text_logs_reach_no_command_and_break_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let src = root().join("samples/exchange2016-su-failed-retry");
    for entry in walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
    {
        let to = case.join(entry.path().strip_prefix(&src).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    // A service name made to break out of a command, and one with a terminal escape.
    let sc = case.join("ExchangeSetupLogs/ServiceControl.log");
    let mut text = std::fs::read_to_string(&sc).unwrap();
    let hostile = "[13:41:12] Disabling service 'MSExchangeX'; Remove-Item C:\\ -Recurse; $(calc)'.\r\n[13:41:12] Disabling service 'MSExchange\u{1b}[31mRED'.\r\n";
    text.push_str(hostile);
    std::fs::write(&sc, text).unwrap();
    // A verbose log that is one endless line, and one of NULs after its header.
    let mut endless =
        b"=== Verbose logging started: 3/15/2023  14:00:00  Build type: SHIP ===\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'A', 300_000));
    std::fs::write(case.join("MSIffff1.LOG"), &endless).unwrap();
    let mut nuls =
        b"=== Verbose logging started: 3/15/2023  14:00:00  Build type: SHIP ===\r\n".to_vec();
    nuls.extend(std::iter::repeat_n(0u8, 10_000));
    std::fs::write(case.join("MSIffff2.LOG"), &nuls).unwrap();
    let (v, code) = run(&["--shell", "both", case.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = only_finding(&v);
    let cmds = commands(f);
    assert!(
        !cmds.contains("calc") && !cmds.contains("Remove-Item C:") && !cmds.contains('\u{1b}'),
        "{cmds}"
    );
    let withheld: Vec<&Value> = f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["withheld"].as_array().unwrap())
        .collect();
    assert!(
        !withheld.is_empty(),
        "the hostile names are withheld, and said so"
    );
    assert!(
        input(&v, "MSIffff1.LOG")["notes"][0]
            .as_str()
            .unwrap()
            .contains("cut")
    );
    assert_eq!(input(&v, "MSIffff2.LOG")["status"], "complete");
    // The table escapes what it prints.
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--color", "never", case.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
}
