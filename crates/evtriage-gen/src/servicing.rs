//! Fixtures of Windows' own servicing and app deployment (issue 23): the logs beside the System
//! and Application logs that say how a failure ended (the AppX deployment service's Operational
//! log, the Setup log, Windows Update's Operational log) and what caused it (a crashed deployment
//! service, a damaged component store). Events in the layouts of `events::servicing` (sources
//! there); each extra log is an `.evtx` of its own, named as `wevtutil epl` exports are named.

use crate::events::{self, PackageState, Stamp};
use crate::fixtures::{at, numbered};
use crate::samples::{Bundle, Files, events_xml};
use evtriage_writer::xmltree::Element;

/// A log file of the bundle besides Application and System: its events numbered from `first`.
fn log_file(name: &str, events: Vec<Element>, first: u64) -> (String, Vec<u8>) {
    let mut bytes = Vec::new();
    evtriage_writer::write_xml(
        &events_xml(&numbered(events, first)),
        std::io::Cursor::new(&mut bytes),
    )
    .expect("a generated log is writable");
    (name.to_string(), bytes)
}

fn by_time(events: &mut [Element]) {
    events.sort_by_key(|e| {
        e.find("System")
            .and_then(|s| s.find("TimeCreated"))
            .and_then(|t| t.get_attr("SystemTime"))
            .unwrap_or("")
            .to_string()
    });
}

/// The event moved to another log (Windows Update's results are written to its Operational log
/// as well as to the System log).
fn in_channel(mut e: Element, channel: &str) -> Element {
    if let Some(c) = events::child_mut(&mut e, "System", "Channel") {
        c.text = Some(channel.to_string());
    }
    e
}

const WIN10: (u32, u32, u32) = (10, 0, 19044);
const APP_INSTALLER: &str = "9NBLGGH4NNS1-Microsoft.DesktopAppInstaller";
const APP_INSTALLER_NEW: &str = "Microsoft.DesktopAppInstaller_1.17.10271.0_x64__8wekyb3d8bbwe";
const APP_INSTALLER_OLD: &str = "Microsoft.DesktopAppInstaller_1.16.13405.0_x64__8wekyb3d8bbwe";

/// A Store app's update fails once with its files in use (Windows Update 20, 0x80073D02; the
/// AppX deployment service's 404 a second earlier names the running version to close), and the
/// deployment service installs it the next day (400): resolved, nothing to do.
pub fn appx_installed_next_day() -> Bundle {
    app_installer_case(
        "appx-installed-next-day",
        &["2022-03-08T10:02:14Z"],
        &[APP_INSTALLER_OLD],
        &[("2022-03-09T09:40:31Z", APP_INSTALLER_NEW)],
        Some("2022-03-10T18:00:00Z"),
    )
}

/// The same app fails on two days; each 404 names another app whose files the update needs
/// (Windows Terminal, running from its package): still failing, close Windows Terminal. The
/// running version's registration for a user between them (400 of the old version) is not the
/// update installed.
pub fn appx_in_use_twice() -> Bundle {
    app_installer_case(
        "appx-in-use-twice",
        &["2022-03-08T10:02:14Z", "2022-03-09T10:05:40Z"],
        &[
            APP_INSTALLER_OLD,
            "Microsoft.WindowsTerminal_1.12.10982.0_x64__8wekyb3d8bbwe",
        ],
        &[("2022-03-08T18:03:09Z", APP_INSTALLER_OLD)],
        None,
    )
}

/// App Installer's Store update failing with its files in use at each of `failures` on a
/// Windows 10 computer started the day before, each failure's 404 (a second earlier) naming
/// `in_use`; the deployment service's 400s `deployed` (time, package full name); the System log
/// ending with the Event Log service stopping at `stopped`, where given.
fn app_installer_case(
    name: &'static str,
    failures: &[&str],
    in_use: &[&str],
    deployed: &[(&str, &str)],
    stopped: Option<&str>,
) -> Bundle {
    let computer = "DESKTOP-3F8K2PA";
    let stamp = |time| Stamp { computer, time };
    let guid = "{2b7d4c1e-8f3a-4e6b-9c0d-1a2b3c4d5e6f}";
    let mut system = vec![events::kernel_boot_of(
        &stamp(at("2022-03-07T07:55:12Z")),
        at("2022-03-07T07:54:50Z"),
        WIN10,
    )];
    let mut appx = Vec::new();
    for t in failures {
        system.push(events::wu_result(
            &stamp(at(t)),
            (1204, 5520),
            Some(0x8007_3D02),
            APP_INSTALLER,
            guid,
            1,
        ));
        appx.push(events::appx_failed(
            &stamp(at(t) - chrono::Duration::seconds(1)),
            APP_INSTALLER_NEW,
            0x8007_3D02,
            in_use,
        ));
    }
    if let Some(t) = stopped {
        system.push(events::eventlog(&stamp(at(t)), 6006, &[]));
    }
    for (t, package) in deployed {
        appx.push(events::appx_deployed(&stamp(at(t)), package));
    }
    by_time(&mut appx);
    Bundle {
        name,
        application: Vec::new(),
        system: numbered(system, 2100),
        files: Files::Evtx,
        extra: vec![log_file(
            "Microsoft-Windows-AppXDeploymentServer%4Operational.evtx",
            appx,
            5300,
        )],
    }
}

/// The cause beside the symptom (issue 23): on a Windows 10 21H1 computer whose October
/// cumulative update failed in servicing with 0x800F0984 (Setup log 3, Windows Update 20, and a
/// WindowsServicingFailureInfo report), a Store app's update fails two days later with
/// 0x80073CF9 half a second after the AppX Deployment Service crashed (Application Error 1000 in
/// svchost.exe_AppXSvc, SCM 7031).
pub fn appx_crash_store_damaged() -> Bundle {
    let computer = "DESKTOP-R4T7Y2M";
    let stamp = |t: &str| Stamp {
        computer,
        time: at(t),
    };
    let cu =
        "2021-10 Cumulative Update for Windows 10 Version 21H1 for x64-based Systems (KB5006670)";
    let music = "9WZDNCRFJ3PT-Microsoft.ZuneMusic";
    let mut system = vec![
        events::kernel_boot_of(
            &stamp("2021-10-04T08:01:40Z"),
            at("2021-10-04T08:01:12Z"),
            (10, 0, 19043),
        ),
        events::wu_install_started(
            &stamp("2021-10-13T03:02:11Z"),
            (1156, 4410),
            cu,
            "{9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d}",
            1,
        ),
        events::wu_result(
            &stamp("2021-10-13T03:31:52Z"),
            (1156, 4410),
            Some(0x800F_0984),
            cu,
            "{9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d}",
            1,
        ),
        events::scm_terminated(
            &stamp("2021-10-15T14:20:31.120Z"),
            (740, 812),
            "AppX Deployment Service (AppXSVC)",
            "AppXSvc",
            1,
        ),
        events::wu_result(
            &stamp("2021-10-15T14:20:31.530Z"),
            (1156, 4410),
            Some(0x8007_3CF9),
            music,
            "{4c3b2a19-0f8e-4d7c-9b6a-5f4e3d2c1b0a}",
            1,
        ),
        events::eventlog(&stamp("2021-10-18T17:30:00Z"), 6006, &[]),
    ];
    by_time(&mut system);
    let application = vec![
        events::wer_report(
            &stamp("2021-10-13T03:32:05Z"),
            "WindowsServicingFailureInfo",
            &[
                "10.0.19041.1237",
                "800f0984",
                "KB5006670",
                "Installed",
                "UpdateAgentLCU",
            ],
        ),
        events::app_crash(
            &stamp("2021-10-15T14:20:31Z"),
            "svchost.exe_AppXSvc",
            "AppXDeploymentServer.dll",
            0xc000_0005,
            0x1c4c,
        ),
    ];
    let setup = vec![
        events::servicing_initiate(
            &stamp("2021-10-13T03:05:40Z"),
            "KB5006670",
            PackageState::Absent,
            PackageState::Installed,
        ),
        events::servicing_change(
            &stamp("2021-10-13T03:31:50Z"),
            3,
            "KB5006670",
            PackageState::Installed,
            0x800F_0984,
        ),
    ];
    Bundle {
        name: "appx-crash-store-damaged",
        application: numbered(application, 7700),
        system: numbered(system, 3300),
        files: Files::Evtx,
        extra: vec![log_file("Setup.evtx", setup, 410)],
    }
}

/// A Windows Server 2019 cumulative update staged on 2021-09-15 that waits for a restart
/// (Servicing 4) while the System log runs on to `logs_end`; with `restarted`, the computer
/// restarts the next night (Kernel-General 12, EventLog 6005), else not at all.
pub fn cu_waiting_for_restart(name: &'static str, logs_end: &str, restarted: bool) -> Bundle {
    let computer = "SRV-FS01.contoso.local";
    let stamp = |t: &str| Stamp {
        computer,
        time: at(t),
    };
    let cu = "2021-09 Cumulative Update for Windows Server 2019 (1809) for x64-based Systems (KB5005568)";
    let guid = "{6e5d4c3b-2a19-4f08-8e7d-6c5b4a392817}";
    let mut system = vec![
        events::kernel_boot_of(
            &stamp("2021-09-01T05:10:33Z"),
            at("2021-09-01T05:10:02Z"),
            (10, 0, 17763),
        ),
        events::wu_install_started(&stamp("2021-09-15T03:00:12Z"), (1088, 2964), cu, guid, 1),
        events::time_sync(&stamp(logs_end), (1304, 2216), "dc01.contoso.local,0x9"),
    ];
    if restarted {
        system.push(events::kernel_boot_of(
            &stamp("2021-09-16T02:01:40Z"),
            at("2021-09-16T02:01:12Z"),
            (10, 0, 17763),
        ));
        system.push(events::eventlog(&stamp("2021-09-16T02:01:52Z"), 6005, &[]));
    }
    by_time(&mut system);
    let setup = vec![
        events::servicing_initiate(
            &stamp("2021-09-15T03:02:40Z"),
            "KB5005568",
            PackageState::Absent,
            PackageState::Installed,
        ),
        events::servicing_change(
            &stamp("2021-09-15T03:24:58Z"),
            4,
            "KB5005568",
            PackageState::Installed,
            0,
        ),
    ];
    Bundle {
        name,
        application: Vec::new(),
        system: numbered(system, 9100),
        files: Files::Evtx,
        extra: vec![log_file("Setup.evtx", setup, 880)],
    }
}

/// Windows Update fails on two days, and installs the update on the third: the System log holds
/// only the failures (it was exported before), Windows Update's Operational log holds them too
/// (the same events, written to both) and the success. One finding, resolved, two attempts.
pub fn wu_installed_per_operational_log() -> Bundle {
    let computer = "DESKTOP-9KQ3W1B";
    let stamp = |t: &str| Stamp {
        computer,
        time: at(t),
    };
    let title = "2021-06 Update for Windows 10 Version 2004 for x64-based Systems (KB4023057)";
    let guid = "{1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b}";
    let failures: Vec<Element> = ["2021-06-14T09:12:40.215Z", "2021-06-15T09:14:02.771Z"]
        .iter()
        .map(|t| events::wu_result(&stamp(t), (1032, 2240), Some(0x8024_200B), title, guid, 1))
        .collect();
    let mut system = vec![events::kernel_boot_of(
        &stamp("2021-06-14T07:58:20Z"),
        at("2021-06-14T07:57:58Z"),
        (10, 0, 19041),
    )];
    system.extend(failures.iter().cloned());
    let channel = "Microsoft-Windows-WindowsUpdateClient/Operational";
    let mut operational: Vec<Element> = failures
        .into_iter()
        .map(|e| in_channel(e, channel))
        .collect();
    operational.push(in_channel(
        events::wu_result(
            &stamp("2021-06-16T09:20:11.402Z"),
            (1032, 2240),
            None,
            title,
            guid,
            1,
        ),
        channel,
    ));
    Bundle {
        name: "wu-installed-per-operational-log",
        application: Vec::new(),
        system: numbered(system, 6100),
        files: Files::Evtx,
        extra: vec![log_file(
            "Microsoft-Windows-WindowsUpdateClient%4Operational.evtx",
            operational,
            140,
        )],
    }
}
