//! Every log of the computer (issue 23): a finding's status and cause come from all the logs sent
//! with it, not only Application and System. The AppX deployment service's Operational log
//! resolves an app update it installed and names the apps to close; the Setup log's servicing
//! failures and pending restarts are findings of their own; Windows Update's Operational log
//! resolves what the System log leaves open, without counting an event twice; a crashed
//! deployment service and a damaged component store are named beside the failure, with DISM and
//! sfc where the store is damaged. Logs written by `evtriage-gen` in the layouts its
//! `events::servicing` module cites.

mod support;

use serde_json::Value;

fn fixture(name: &str) -> (Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = evtriage_gen::fixtures::fixture(name).unwrap();
    evtriage_gen::fixtures::write(&bundle, dir.path()).unwrap();
    support::json_run(&[dir.path()])
}

fn by_signature<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["signature"] == id)
        .collect()
}

fn reason(f: &Value) -> &str {
    f["action_reason"].as_str().unwrap()
}

#[test]
fn the_app_deployment_log_resolves_an_app_update_installed_the_next_day() {
    let (r, code) = fixture("appx-installed-next-day");
    let f = by_signature(&r, "app-package-in-use");
    assert_eq!(f.len(), 1, "{r:#}");
    let f = f[0];
    assert_eq!(f["status"], "resolved");
    assert_eq!((f["action_required"].as_bool(), code), (Some(false), 0));
    assert!(
        reason(f).starts_with(
            "resolved: the AppX deployment service installed the app's package later (400"
        ) && reason(f).contains("2022-03-09 09:40:31"),
        "{}",
        reason(f)
    );
    assert!(f["remediation"].as_array().unwrap().is_empty());
    // The range is the failure's; the recovery is named apart.
    assert_eq!(f["last_seen"], "2022-03-08T10:02:14Z");
    assert!(f["evidence"].as_array().unwrap().iter().any(|e| {
        e["evidence"] == "appx_installed_later"
            && e["file"]
                .as_str()
                .unwrap()
                .ends_with("Microsoft-Windows-AppXDeploymentServer%4Operational.evtx")
            && e["record_id"] == 5301
    }));
}

#[test]
fn the_apps_the_deployment_service_names_are_the_ones_to_close() {
    let (r, code) = fixture("appx-in-use-twice");
    let f = by_signature(&r, "app-package-in-use");
    assert_eq!(f.len(), 1, "{r:#}");
    let f = f[0];
    assert_eq!((f["action_required"].as_bool(), code), (Some(true), 1));
    assert_eq!(
        support::strs(&f["apps_to_close"]),
        vec![
            "Microsoft.DesktopAppInstaller_1.16.13405.0_x64__8wekyb3d8bbwe",
            "Microsoft.WindowsTerminal_1.12.10982.0_x64__8wekyb3d8bbwe"
        ]
    );
    // One step per app, by its name; the generic step (the app itself) is not given.
    assert_eq!(
        support::step_ids(f),
        vec!["close-named-apps", "retry-app-update"]
    );
    let close = support::step(f, "close-named-apps");
    let ps = support::strs(&close["powershell"]).join("\n");
    assert!(
        ps.contains("('*\\WindowsApps\\' + 'Microsoft.WindowsTerminal' + '_*')"),
        "{ps}"
    );
    assert!(ps.contains("'Microsoft.DesktopAppInstaller'"), "{ps}");
}

#[test]
fn a_servicing_failure_and_a_crashed_deployment_service_are_named_as_causes() {
    let (r, code) = fixture("appx-crash-store-damaged");
    assert_eq!(code, 1);

    // The cumulative update's servicing failure: one finding (Windows Update's 20 for the same KB
    // is its evidence, not a second finding or a second attempt), titled as Windows Update names
    // it, with the damaged store as its lasting cause and DISM, sfc as the steps.
    let s = by_signature(&r, "windows-servicing-failed");
    assert_eq!(s.len(), 1, "{r:#}");
    let s = s[0];
    assert_eq!(
        s["update"]["title"],
        "2021-10 Cumulative Update for Windows 10 Version 21H1 for x64-based Systems (KB5006670)"
    );
    assert_eq!(s["update"]["kb"], "KB5006670");
    assert_eq!(s["error"]["hresult"], "0x800F0984");
    assert_eq!(s["error"]["hresult_name"], "PSFX_E_MATCHING_BINARY_MISSING");
    assert!(
        s["summary"].as_str().unwrap().contains("1 time(s)"),
        "{}",
        s["summary"]
    );
    assert_eq!(s["action_required"], true);
    assert!(reason(s).starts_with("it will not fix itself: Windows' component store is damaged"));
    assert_eq!(support::step_ids(s), vec!["repair-component-store"]);
    let repair = support::step(s, "repair-component-store");
    assert_eq!(
        support::strs(&repair["powershell"]),
        vec![
            "DISM.exe /Online /Cleanup-Image /RestoreHealth",
            "sfc.exe /scannow"
        ]
    );
    assert!(
        by_signature(&r, "windows-update-failed")
            .iter()
            .all(|f| f["update"]["kb"] != "KB5006670"),
        "the CU's Windows Update event is not reported again"
    );

    // The Store app's failure: a one-off of something Windows retries, but beside two causes,
    // one of which does not go away by itself.
    let w = by_signature(&r, "windows-update-failed");
    assert_eq!(w.len(), 1, "{r:#}");
    let w = w[0];
    assert_eq!(w["update"]["title"], "9WZDNCRFJ3PT-Microsoft.ZuneMusic");
    let causes: Vec<&str> = w["likely_causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        vec!["deployment_service_crashed", "component_store_damaged"]
    );
    let crashed = &w["likely_causes"][0]["shown_by"];
    assert!(
        support::strs(crashed)
            .iter()
            .any(|s| s.contains("Application Error 1000")
                && s.contains("Application.evtx record 7701")),
        "{crashed}"
    );
    assert!(
        support::strs(crashed)
            .iter()
            .any(|s| s.contains("7031") && s.contains("System.evtx")),
        "{crashed}"
    );
    let summary = w["summary"].as_str().unwrap();
    assert!(
        summary.contains("Likely cause: the service that performs the install crashed as it ran"),
        "{summary}"
    );
    assert_eq!(w["action_required"], true);
    assert!(reason(w).starts_with("it will not fix itself"));
    assert_eq!(support::step_ids(w)[0], "repair-component-store");
}

#[test]
fn an_update_waiting_for_its_restart_needs_action_after_a_week() {
    let (r, code) = fixture("cu-waiting-for-restart");
    let f = by_signature(&r, "update-waiting-for-restart");
    assert_eq!(f.len(), 1, "{r:#}");
    let f = f[0];
    assert_eq!((f["action_required"].as_bool(), code), (Some(true), 1));
    assert!(
        reason(f).starts_with("it has waited 9 days for a restart"),
        "{}",
        reason(f)
    );
    assert_eq!(f["waiting_for_restart"]["days"], 9);
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("it has waited 9 day(s) to their end"),
        "{}",
        f["summary"]
    );
    assert_eq!(support::step_ids(f), vec!["restart"]);

    // Five hours: the restart is still to come; nothing to do yet, nothing said of days.
    let (r, code) = fixture("cu-restart-pending-recent");
    let f = by_signature(&r, "update-waiting-for-restart")[0];
    assert_eq!((f["action_required"].as_bool(), code), (Some(false), 0));
    assert!(
        reason(f).contains("act if none comes within 7 days"),
        "{}",
        reason(f)
    );
    assert!(!f["summary"].as_str().unwrap().contains("day(s)"));
    assert!(f["remediation"].as_array().unwrap().is_empty());
}

#[test]
fn windows_updates_operational_log_resolves_and_counts_each_event_once() {
    let (r, code) = fixture("wu-installed-per-operational-log");
    let f = by_signature(&r, "windows-update-failed");
    assert_eq!(f.len(), 1, "{r:#}");
    let f = f[0];
    assert_eq!((f["status"].as_str(), code), (Some("resolved"), 0));
    assert!(
        reason(f).starts_with("resolved: Windows Update installed the same update later (19)"),
        "{}",
        reason(f)
    );
    // Two failures, each written to both logs: two attempts, not four.
    assert!(
        f["summary"].as_str().unwrap().contains("2 time(s)"),
        "{}",
        f["summary"]
    );
    let system = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("System.evtx"))
        .unwrap();
    assert!(
        support::strs(&system["notes"])
            .iter()
            .any(|n| n.starts_with(
                "2 event(s) evtriage used from this file are the same events Windows also wrote to"
            )),
        "{system:#}"
    );
}

/// The new fields (`likely_causes`, `apps_to_close`, `waiting_for_restart`) are read back by
/// `evtriage merge` as they were written.
#[test]
fn merge_reads_the_new_fields_back() {
    // evtriage with these arguments, which finds something to act on (exit 1): its output.
    let run = |args: &[&std::ffi::OsStr]| -> Vec<u8> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_evtriage"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let out = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    let mut direct = Vec::new();
    for name in [
        "appx-crash-store-damaged",
        "cu-waiting-for-restart",
        "appx-in-use-twice",
    ] {
        let dir = out.path().join(name);
        let bundle = evtriage_gen::fixtures::fixture(name).unwrap();
        evtriage_gen::fixtures::write(&bundle, &dir).unwrap();
        let report = out.path().join(format!("{name}.jsonl"));
        run(&[
            dir.as_os_str(),
            "--format".as_ref(),
            "jsonl".as_ref(),
            "--output".as_ref(),
            report.as_os_str(),
        ]);
        let (r, _) = support::json_run(&[&dir]);
        direct.extend(r["findings"].as_array().unwrap().iter().cloned());
        reports.push(report);
    }
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["merge".as_ref(), "--format".as_ref(), "json".as_ref()];
    args.extend(reports.iter().map(|r| r.as_os_str()));
    let merged: Value = serde_json::from_slice(&run(&args)).unwrap();
    let pick = |fs: &[Value], field: &str| -> Vec<Value> {
        let mut v: Vec<Value> = fs.iter().map(|f| f[field].clone()).collect();
        v.sort_by_key(|x| x.to_string());
        v
    };
    let merged = merged["findings"].as_array().unwrap().clone();
    for field in [
        "likely_causes",
        "apps_to_close",
        "waiting_for_restart",
        "action_reason",
    ] {
        assert_eq!(pick(&merged, field), pick(&direct, field), "{field}");
    }
    assert!(merged.iter().any(|f| !f["likely_causes"].is_null()));
}
