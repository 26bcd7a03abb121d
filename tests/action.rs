//! "Action required" only when action is needed (docs/signatures.md): a failure Windows retries by
//! itself needs action when it persists (two days, or again after a restart), is "too early to
//! tell" when the logs end soon after it, and otherwise says what to watch; a resolved finding
//! asks for nothing; the Application log's own restart markers resolve a pending restart.

mod support;

use serde_json::Value;

fn run(dir: &std::path::Path) -> (Value, i32) {
    support::json_run(&[dir])
}

fn fixture(name: &str) -> (Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = evtriage_gen::fixtures::fixture(name).unwrap();
    evtriage_gen::fixtures::write(&bundle, dir.path()).unwrap();
    run(dir.path())
}

fn only(r: &Value) -> &Value {
    let f = r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{f:#?}");
    &f[0]
}

#[test]
fn a_failure_windows_retries_needs_action_only_when_it_persists() {
    // Twice on two days (the existing fixture): it persists.
    let (r, code) = fixture("wu-app-package-in-use");
    let f = only(&r);
    assert_eq!((f["action_required"].as_bool(), code), (Some(true), 1));
    assert!(
        f["action_reason"]
            .as_str()
            .unwrap()
            .starts_with("it persists: it failed on 2 days, 2021-06-14 to 2021-06-15"),
        "{}",
        f["action_reason"]
    );

    // Twice on one day, with a restart between: it persists.
    let (r, code) = fixture("wu-failed-after-restart");
    let f = only(&r);
    assert_eq!((f["action_required"].as_bool(), code), (Some(true), 1));
    assert!(
        f["action_reason"]
            .as_str()
            .unwrap()
            .contains("failed again after the computer restarted (2021-06-14 11:30:02)"),
        "{}",
        f["action_reason"]
    );
    assert!(!f["remediation"].as_array().unwrap().is_empty());

    // Once, and the logs go on for three days: watch, no action, no steps.
    let (r, code) = fixture("wu-failed-once");
    let f = only(&r);
    assert_eq!((f["action_required"].as_bool(), code), (Some(false), 0));
    let why = f["action_reason"].as_str().unwrap();
    assert!(
        why.contains("Windows retries by itself") && why.contains("watch for it failing again"),
        "{why}"
    );
    assert!(f["remediation"].as_array().unwrap().is_empty(), "{f:#}");

    // Once, and the logs end half an hour later: too early to tell.
    let (r, code) = fixture("wu-failed-log-ends");
    let f = only(&r);
    assert_eq!((f["action_required"].as_bool(), code), (Some(false), 0));
    assert!(
        f["action_reason"]
            .as_str()
            .unwrap()
            .starts_with("too early to tell: the logs end"),
        "{}",
        f["action_reason"]
    );
}

#[test]
fn exchange_services_left_disabled_say_why_they_need_action() {
    let (r, code) = run(&support::samples().join("kb940006-rollup-failed"));
    let f = only(&r);
    assert_eq!((f["action_required"].as_bool(), code), (Some(true), 1));
    assert_eq!(
        f["action_reason"],
        "services it disabled are still disabled at the end of the logs"
    );
    let (r, _) = run(&support::samples().join("kb940006-services-restored"));
    for f in r["findings"].as_array().unwrap() {
        assert!(!f["action_reason"].as_str().unwrap().is_empty());
        if f["status"] == "resolved" && f["action_required"] == false {
            assert!(f["remediation"].as_array().unwrap().is_empty(), "{f:#}");
        }
    }
}

/// The real DeepBlueCLI Application log: .NET updates installed with files in use, and the
/// restart that followed shows only in the Application log (User Profile Service 1531,
/// EventSystem 4625): "restart pending" is resolved.
#[test]
fn a_restart_the_application_log_shows_resolves_a_pending_restart() {
    let Some(dir) = support::shared("corpus/deepbluecli") else {
        return;
    };
    let (r, _) = run(&dir.join("many-events-application.evtx"));
    let pending: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["signature"] == "restart-pending")
        .collect();
    assert!(!pending.is_empty());
    for f in pending {
        assert_eq!(f["status"], "resolved", "{f:#}");
        assert_eq!(f["action_required"], false);
        let recovered =
            f["evidence"].as_array().unwrap().iter().any(|e| {
                e["role"] == "recovery" && (e["event_id"] == 1531 || e["event_id"] == 4625)
            });
        assert!(recovered, "{f:#}");
    }
}

/// The Windows Update log step fits the Windows the logs show: `Get-WindowsUpdateLog` from
/// Windows 10 / Server 2016 on (boot record build 19041), `%windir%\WindowsUpdate.log` before
/// (build 7601); the finding states the version and the record it rests on, and quotes only that
/// boot record.
#[test]
fn advice_for_the_windows_that_wrote_the_log() {
    let (r, _) = fixture("wu-failed-windows-7");
    let f = only(&r);
    assert_eq!(f["windows"]["build"], 7601, "{f:#}");
    assert_eq!(f["windows"]["windows_10_or_later"], false);
    assert!(
        f["windows"]["from"]
            .as_str()
            .unwrap()
            .contains("Microsoft-Windows-Kernel-General 12")
    );
    assert_eq!(support::step_ids(f), ["read-wu-log"]);
    assert!(
        f["remediation"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("On a Windows older than Windows 10 / Server 2016 (version 6, build 7601), %windir%\\WindowsUpdate.log records"),
        "{}",
        f["remediation"][0]["text"]
    );

    let (r, _) = fixture("wu-failed-after-restart");
    let f = only(&r);
    assert_eq!(f["windows"]["build"], 19041, "{f:#}");
    // The app update's own steps; no Windows Update log step for a Store app.
    assert!(
        f["remediation"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != "read-wu-log")
    );
    let boots = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["fields"].get("os_build").is_some())
        .count();
    assert_eq!(
        boots, 1,
        "only the boot record the version rests on is quoted"
    );
}

/// The real evtx crate's system.evtx (Windows 10 build 15063): the cumulative update that failed
/// on four days gets `Get-WindowsUpdateLog`, not WindowsUpdate.log; the one-off 0x80246013 gets
/// Microsoft's meaning and no action.
#[test]
fn windows_10_advice_on_the_real_log() {
    let Some(dir) = support::shared("corpus/evtx-crate") else {
        return;
    };
    let (r, _) = run(&dir.join("system.evtx"));
    let findings = r["findings"].as_array().unwrap();
    let cu = findings
        .iter()
        .find(|f| {
            f["update"]["title"]
                .as_str()
                .unwrap_or("")
                .contains("Cumulative Update")
        })
        .unwrap();
    assert_eq!(cu["windows"]["build"], 15063);
    assert_eq!(
        support::step_ids(cu),
        ["finish-pending-update", "make-wu-log"]
    );
    // The September and October cumulative updates started (43) and never finished, with no
    // boot since July: the October one replaces the failed July one, and is what is pending.
    let pending = &cu["superseded_by"];
    assert_eq!(
        pending["update"],
        "2017-10 Cumulative Update for Windows 10 Version 1703 for x64-based Systems (KB4041676)"
    );
    assert_eq!(pending["restarted_since"], false);
    assert!(
        cu["action_reason"]
            .as_str()
            .unwrap()
            .ends_with("and the computer has not restarted since: it replaces this one"),
        "{}",
        cu["action_reason"]
    );
    assert!(!cu.to_string().contains("Windows Server 2003 to 2012 R2"));
    let msrt = findings
        .iter()
        .find(|f| f["error"]["hresult"] == "0x80246013")
        .unwrap();
    assert_eq!(msrt["action_required"], false);
    assert_eq!(
        msrt["error"]["meaning"],
        "An attempt was made to access a downloaded update that has already been removed."
    );
    assert!(msrt["remediation"].as_array().unwrap().is_empty());
}

/// A user's cancel (1602) is information, not a failure: no "Installation failed" finding, no
/// 1033 listed as missing. A finding's range is its failures': boot records and a recovery do
/// not stretch it.
#[test]
fn a_cancel_is_not_a_failure_and_a_range_is_the_failures() {
    let (r, code) = fixture("msi-install-cancelled");
    let f = only(&r);
    assert_eq!(code, 0);
    assert_eq!(f["signature"], "msi-install-cancelled");
    assert_eq!(f["status"], "informational");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("the user cancelled the installation")
    );
    assert!(
        !f["confidence"]["missing"].to_string().contains("1033"),
        "{}",
        f["confidence"]
    );

    let (r, _) = fixture("wu-failed-once");
    let f = only(&r);
    assert_eq!(
        (f["first_seen"].as_str(), f["last_seen"].as_str()),
        (Some("2021-06-14T09:12:40Z"), Some("2021-06-14T09:12:40Z"))
    );
}

/// The series rule on generated logs in the real layouts: the March cumulative update fails on
/// two days; the April one starts and never finishes (pending: finish it), or is installed
/// (the March one is resolved by it).
#[test]
fn a_later_update_of_the_series_replaces_the_failed_one() {
    let (r, code) = fixture("wu-cu-superseded");
    let f = only(&r);
    assert_eq!(code, 1);
    assert_eq!(
        f["superseded_by"]["update"],
        "2018-04 Cumulative Update for Windows 10 Version 1709 for x64-based Systems (KB4093112)"
    );
    assert_eq!(f["superseded_by"]["restarted_since"], false);
    assert_eq!(f["remediation"][0]["id"], "finish-pending-update");

    let (r, code) = fixture("wu-cu-superseded-installed");
    let f = only(&r);
    assert_eq!((f["status"].as_str(), code), (Some("resolved"), 0));
    assert!(
        f["action_reason"]
            .as_str()
            .unwrap()
            .starts_with("resolved: Windows Update installed a later update of the same series (19), 2018-04-11 03:40:02"),
        "{}",
        f["action_reason"]
    );
    assert!(f.get("superseded_by").is_none());
}
