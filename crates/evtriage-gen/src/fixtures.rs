//! Logs that signature fixtures name as `gen:<name>` (`[fixtures]` in `signatures/*.toml`), for
//! the cases no sample bundle shows on its own. Each follows the layout of `events.rs` (Windows
//! Server 2008 R2, shared/reference/domain.md §2).

use crate::events::{self, Stamp};
use crate::samples::{Bundle, Files};
use chrono::{DateTime, Utc};
use evtriage_writer::xmltree::Element;

/// The names `gen:` fixtures may use.
pub const NAMES: &[&str] = &[
    "kb-system-scm-only",
    "admin-disabled-pop3",
    "wu-failed-non-exchange",
    "wu-app-package-in-use",
    "wu-failed-once",
    "wu-failed-after-restart",
    "wu-failed-log-ends",
    "wu-failed-windows-7",
    "msi-install-cancelled",
    "wu-cu-superseded",
    "wu-cu-superseded-installed",
    "appx-installed-next-day",
    "appx-in-use-twice",
    "appx-crash-store-damaged",
    "cu-waiting-for-restart",
    "cu-restart-pending-recent",
    "cu-restarted",
    "wu-installed-per-operational-log",
    "kb-services-untouched",
    "cu-setup-refused-after-su-failed",
    "su-failed-state-saved-before",
    "su-failed-across-summer-time",
];

pub fn fixture(name: &str) -> Option<Bundle> {
    match name {
        "kb-system-scm-only" => Some(kb_system_scm_only()),
        "admin-disabled-pop3" => Some(admin_disabled_pop3()),
        "wu-failed-non-exchange" => Some(wu_failed_non_exchange()),
        "wu-app-package-in-use" => Some(wu_app_package_in_use()),
        "wu-failed-once" => Some(wu_action_case(
            "wu-failed-once",
            &["2021-06-14T09:12:40Z"],
            &["2021-06-17T08:00:05Z"],
        )),
        "wu-failed-after-restart" => Some(wu_action_case(
            "wu-failed-after-restart",
            &["2021-06-14T09:12:40Z", "2021-06-14T15:02:11Z"],
            &["2021-06-14T11:30:02Z"],
        )),
        "wu-failed-log-ends" => Some(wu_action_case(
            "wu-failed-log-ends",
            &["2021-06-14T09:12:40Z"],
            &["2021-06-14T08:00:02Z"],
        )),
        "wu-failed-windows-7" => Some(wu_failed_windows_7()),
        "msi-install-cancelled" => Some(msi_install_cancelled()),
        "wu-cu-superseded" => Some(wu_cu_superseded("wu-cu-superseded", false)),
        "wu-cu-superseded-installed" => Some(wu_cu_superseded("wu-cu-superseded-installed", true)),
        "appx-installed-next-day" => Some(crate::servicing::appx_installed_next_day()),
        "appx-in-use-twice" => Some(crate::servicing::appx_in_use_twice()),
        "appx-crash-store-damaged" => Some(crate::servicing::appx_crash_store_damaged()),
        "cu-waiting-for-restart" => Some(crate::servicing::cu_waiting_for_restart(
            "cu-waiting-for-restart",
            "2021-09-24T16:40:00Z",
            false,
        )),
        "cu-restart-pending-recent" => Some(crate::servicing::cu_waiting_for_restart(
            "cu-restart-pending-recent",
            "2021-09-15T09:10:00Z",
            false,
        )),
        "cu-restarted" => Some(crate::servicing::cu_waiting_for_restart(
            "cu-restarted",
            "2021-09-24T16:40:00Z",
            true,
        )),
        "wu-installed-per-operational-log" => {
            Some(crate::servicing::wu_installed_per_operational_log())
        }
        "kb-services-untouched" => Some(kb_services_untouched()),
        "cu-setup-refused-after-su-failed" => Some(cu_setup_refused_after_su_failed()),
        "su-failed-state-saved-before" => Some(crate::exchange2016::su_failed_state_saved_before()),
        "su-failed-across-summer-time" => Some(crate::exchange2016::su_failed_across_summer_time()),
        _ => None,
    }
}

/// `samples/exchange2016-su-failed-retry`, and the next morning the cumulative update's setup,
/// which stops because the services the security update disabled are still disabled.
fn cu_setup_refused_after_su_failed() -> Bundle {
    let (host, mut files) = crate::exchange2016::su_failed_retry_parts();
    let berlin = crate::exchange2016::berlin(60);
    let log = crate::textlogs::exchange_setup_refused(
        at("2023-03-16T07:42:09Z"),
        &berlin,
        "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna.",
    );
    files.push((
        "ExchangeSetupLogs/ExchangeSetup.log".into(),
        evtriage_writer::textlog::encode(&log, evtriage_writer::textlog::TextEncoding::Ansi),
    ));
    let mut b = crate::samples::finish_with("cu-setup-refused-after-su-failed", host, Files::Evtx);
    b.extra = files;
    b
}

pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a valid time")
        .to_utc()
}

pub(crate) fn numbered(mut events: Vec<Element>, first: u64) -> Vec<Element> {
    for (i, e) in events.iter_mut().enumerate() {
        events::set_record_id(e, first + i as u64);
    }
    events
}

/// The KB 940006 sample's System log without Windows Update's events, and no Application log: the
/// services setup disabled, with nothing that names the update.
fn kb_system_scm_only() -> Bundle {
    let mut b = crate::hostile::kb_bundle();
    b.application.clear();
    b.system
        .retain(|e| crate::hostile::provider(e) != "Microsoft-Windows-WindowsUpdateClient");
    b
}

/// The KB 940006 sample with a System log that covers the failure but in which no service was
/// disabled: the rollup failed on a file in use, and the System log says the services were not
/// the casualty (it is not the KB's issue then, only a failed install).
fn kb_services_untouched() -> Bundle {
    let mut b = crate::hostile::kb_bundle();
    let first = b
        .system
        .first()
        .and_then(|e| e.find("System")?.find("EventRecordID")?.text.clone())
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let kept: Vec<Element> = b
        .system
        .into_iter()
        .filter(|e| crate::hostile::event_id(e) != Some(7040))
        .collect();
    b.system = numbered(kept, first);
    b
}

/// An administrator (not SYSTEM) stops and disables Microsoft Exchange POP3 by hand.
fn admin_disabled_pop3() -> Bundle {
    let stamp = Stamp {
        computer: "EXMBX09.contoso.local",
        time: at("2011-11-09T10:15:00Z"),
    };
    let admin = "S-1-5-21-1004336348-1177238915-682003330-1105";
    let pop3 = "Microsoft Exchange POP3";
    let system = vec![
        events::scm_state(&stamp, (496, 1200), pop3, "stopped", "MSExchangePOP3", 1),
        events::scm_start_type(
            &stamp,
            (496, 1200),
            admin,
            pop3,
            "demand start",
            "disabled",
            "MSExchangePOP3",
        ),
    ];
    Bundle {
        name: "admin-disabled-pop3",
        application: Vec::new(),
        system: numbered(system, 100),
        files: Files::Evtx,
        extra: Vec::new(),
    }
}

/// One Windows Update failure of `title` with `hresult` at each of `times` on `computer`.
fn wu_failures(
    name: &'static str,
    computer: &str,
    title: &str,
    hresult: u32,
    times: &[&str],
    first_record: u64,
) -> Bundle {
    let guid = "{8c5a8f0e-6d4e-4d3c-9a1b-2f7e3c4d5a6b}";
    let system = times
        .iter()
        .map(|t| {
            let stamp = Stamp {
                computer,
                time: at(t),
            };
            events::wu_result(&stamp, (1032, 2240), Some(hresult), title, guid, 201)
        })
        .collect();
    Bundle {
        name,
        application: Vec::new(),
        system: numbered(system, first_record),
        files: Files::Evtx,
        extra: Vec::new(),
    }
}

/// Windows Update fails to install a .NET Framework update with 0x80070643, twice.
fn wu_failed_non_exchange() -> Bundle {
    wu_failures(
        "wu-failed-non-exchange",
        "APP01.contoso.local",
        "Security Update for Microsoft .NET Framework 3.5 SP1 (KB2604111)",
        0x8007_0643,
        &["2011-11-10T03:05:12Z", "2011-11-11T03:04:58Z"],
        5000,
    )
}

/// Windows Update fails to update a Microsoft Store app whose files are in use (0x80073D02), twice,
/// on Windows 10. The title is the form users report for Store updates in event 20 (Store ID,
/// hyphen, package name); no such record is in `../shared/corpus`.
fn wu_app_package_in_use() -> Bundle {
    wu_failures(
        "wu-app-package-in-use",
        "DESKTOP-7Q2M4KD",
        "9WZDNCRFHVN5-Microsoft.WindowsCalculator",
        0x8007_3D02,
        &["2021-06-14T09:12:40Z", "2021-06-15T09:13:02Z"],
        8800,
    )
}

/// The action rule's cases (docs/signatures.md, "Action required"): a Store app update that
/// fails at `failures` on a Windows 10 computer that starts (EventLog 6005, as the System log
/// records a start) at `starts`; the System log ends with the last of them.
fn wu_action_case(name: &'static str, failures: &[&str], starts: &[&str]) -> Bundle {
    let computer = "DESKTOP-7Q2M4KD";
    let mut b = wu_failures(
        name,
        computer,
        "9WZDNCRFHVN5-Microsoft.WindowsCalculator",
        0x8007_3D02,
        failures,
        8800,
    );
    let mut system = b.system;
    for t in starts {
        let stamp = Stamp {
            computer,
            time: at(t),
        };
        // Windows 10 2004 starting: its boot record, then the Event Log service's.
        system.push(events::kernel_boot_of(&stamp, at(t), (10, 0, 19041)));
        system.push(events::eventlog(&stamp, 6005, &[]));
    }
    // In time order, as a log holds them.
    system.sort_by_key(|e| {
        e.find("System")
            .and_then(|s| s.find("TimeCreated"))
            .and_then(|t| t.get_attr("SystemTime"))
            .unwrap_or("")
            .to_string()
    });
    b.system = numbered(system, 8800);
    b
}

/// A .NET update failing on two days on a Windows 7 SP1 computer that started the day before
/// (Kernel-General 12, 6.1.7601): the advice is WindowsUpdate.log, not Get-WindowsUpdateLog.
fn wu_failed_windows_7() -> Bundle {
    let computer = "PC-WIN7-01";
    let mut b = wu_failures(
        "wu-failed-windows-7",
        computer,
        "Security Update for Microsoft .NET Framework 4.5.2 on Windows 7 (KB3122656)",
        0x8007_0643,
        &["2016-01-13T03:05:12Z", "2016-01-14T03:04:58Z"],
        300,
    );
    let stamp = Stamp {
        computer,
        time: at("2016-01-12T07:58:40Z"),
    };
    let mut system = vec![events::kernel_boot(&stamp, at("2016-01-12T07:58:20Z"))];
    system.append(&mut b.system);
    b.system = numbered(system, 300);
    b
}

/// An administrator starts installing a product and cancels it: Windows Installer writes
/// "Installation failed" (11708) and 1033 with status 1602 (the layouts of `events::msi`, from
/// domain.md §3). A user's cancel, not a failure.
fn msi_install_cancelled() -> Bundle {
    let product = events::MsiProduct {
        name: "Contoso Backup Agent",
        version: "7.2.1040",
        language: "1033",
        manufacturer: "Contoso Ltd.",
        product_code: "{6B1F3A2C-4D5E-4F60-8A71-92B3C4D5E6F7}",
    };
    let sid = "S-1-5-21-1004336348-1177238915-682003330-1105";
    let stamp = |t: &str| Stamp {
        computer: "FS02.contoso.local",
        time: at(t),
    };
    let application = vec![
        events::msi_message(
            &stamp("2021-03-02T14:21:07Z"),
            sid,
            &product,
            11708,
            "Product: Contoso Backup Agent -- Installation failed.",
        ),
        events::msi_product_status(&stamp("2021-03-02T14:21:07Z"), sid, &product, 1602, "0"),
    ];
    Bundle {
        name: "msi-install-cancelled",
        application: numbered(application, 4100),
        system: Vec::new(),
        files: Files::Evtx,
        extra: Vec::new(),
    }
}

/// A Windows 10 1709 computer (booted on 2018-03-01) where the March cumulative update fails on
/// two days; the April one of the same series then starts installing (43) and, with
/// `installed`, is installed (19), else never finishes. Titles and records as in
/// `../shared/corpus/evtx-crate/system.evtx`.
fn wu_cu_superseded(name: &'static str, installed: bool) -> Bundle {
    let computer = "DESKTOP-8H2K5LQ";
    let stamp = |t: &str| Stamp {
        computer,
        time: at(t),
    };
    let march =
        "2018-03 Cumulative Update for Windows 10 Version 1709 for x64-based Systems (KB4088776)";
    let april =
        "2018-04 Cumulative Update for Windows 10 Version 1709 for x64-based Systems (KB4093112)";
    let (g3, g4) = (
        "{0c7c5e12-9d3a-4f60-a7b1-3e2d5f6a7b80}",
        "{5d1e2f30-4a5b-4c6d-8e9f-0a1b2c3d4e5f}",
    );
    let mut system = vec![
        events::kernel_boot_of(
            &stamp("2018-03-01T08:00:20Z"),
            at("2018-03-01T08:00:00Z"),
            (10, 0, 16299),
        ),
        events::wu_install_started(&stamp("2018-03-14T03:10:02Z"), (1020, 3300), march, g3, 1),
        events::wu_result(
            &stamp("2018-03-14T03:10:40Z"),
            (1020, 3300),
            Some(0x8024_8007),
            march,
            g3,
            1,
        ),
        events::wu_install_started(&stamp("2018-03-15T03:09:51Z"), (1020, 3300), march, g3, 1),
        events::wu_result(
            &stamp("2018-03-15T03:10:27Z"),
            (1020, 3300),
            Some(0x8024_8007),
            march,
            g3,
            1,
        ),
        events::wu_install_started(&stamp("2018-04-11T03:12:15Z"), (1020, 3300), april, g4, 1),
    ];
    if installed {
        system.push(events::wu_result(
            &stamp("2018-04-11T03:40:02Z"),
            (1020, 3300),
            None,
            april,
            g4,
            1,
        ));
    }
    Bundle {
        name,
        application: Vec::new(),
        system: numbered(system, 7100),
        files: Files::Evtx,
        extra: Vec::new(),
    }
}

/// The bundle's logs in `dir`, in the bundle's formats (a log with no events is not written).
pub fn write(bundle: &Bundle, dir: &std::path::Path) -> Result<(), String> {
    for (name, bytes) in bundle.logs()? {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
