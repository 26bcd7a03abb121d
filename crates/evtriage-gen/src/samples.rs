//! The bundles under `samples/`: one server each, its Application and System logs around one story
//! (what happened is told in `samples/README.md`). Deterministic: the same code writes the same
//! bytes, which a test checks against the committed files.

use crate::events::MsiProduct;
use crate::host::{
    Host, Lang, Pids, Service, exchange2019_mailbox_services, hub_services, mailbox_cas_services,
};
use crate::incident::{self, Holder, Outcome, Patch};
use crate::noise::{self, Profile};
use crate::textlogs;
use chrono::{DateTime, Duration, TimeZone, Utc};
use evtriage_writer::evt::{self, EvtKind};
use evtriage_writer::textlog::{self, TextEncoding};
use evtriage_writer::xmltree::Element;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub struct Bundle {
    pub name: &'static str,
    pub application: Vec<Element>,
    pub system: Vec<Element>,
    pub files: Files,
    /// Other files sent with the logs (text logs, a zip of the case), by their path inside the
    /// bundle's folder (`ExchangeSetupLogs/ServiceControl.log`).
    pub extra: Vec<(String, Vec<u8>)>,
}

/// The files a bundle's logs are written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// `Application.evtx` and `System.evtx`.
    Evtx,
    /// Classic logs: each log's file name and how the file was made.
    Evt {
        application: (&'static str, EvtKind),
        system: (&'static str, EvtKind),
    },
}

impl Bundle {
    /// Each log file's name and bytes; a log with no events is not written (it was not sent).
    pub fn logs(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut out = Vec::new();
        for (log, events) in [("Application", &self.application), ("System", &self.system)] {
            if events.is_empty() {
                continue;
            }
            let (name, bytes) = match self.files {
                Files::Evtx => {
                    let mut bytes = Vec::new();
                    evtriage_writer::write_xml(
                        &events_xml(events),
                        std::io::Cursor::new(&mut bytes),
                    )
                    .map_err(|e| format!("{}/{log}.evtx: {e}", self.name))?;
                    (format!("{log}.evtx"), bytes)
                }
                Files::Evt {
                    application,
                    system,
                } => {
                    let (name, kind) = if log == "Application" {
                        application
                    } else {
                        system
                    };
                    let records = evt::records_of(events)?;
                    let bytes = evt::write_evt(&records, kind)
                        .map_err(|e| format!("{}/{name}: {e}", self.name))?;
                    (name.to_string(), bytes)
                }
            };
            out.push((name, bytes));
        }
        out.extend(self.extra.iter().cloned());
        Ok(out)
    }
}

pub(crate) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid time")
}

pub(crate) fn rng(name: &str) -> ChaCha8Rng {
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    ChaCha8Rng::seed_from_u64(seed)
}

/// Exchange Server 2007's MSI product. The product code is the one `domain.md` §7.4 recalls for
/// x64 (confidence low); nothing in evtriage depends on it.
pub const EXCHANGE: MsiProduct<'static> = MsiProduct {
    name: "Microsoft Exchange Server",
    version: "8.3.83.6",
    language: "1033",
    manufacturer: "Microsoft Corporation",
    product_code: "{24B2C164-DE66-44FE-B468-A46D9D5E6B31}",
};

pub const ROLLUP_TITLE: &str =
    "Update Rollup 5 for Exchange Server 2007 Service Pack 3 (KB2602324)";
const ROLLUP_TITLE_JA: &str =
    "Exchange Server 2007 Service Pack 3 の更新プログラム ロールアップ 5 (KB2602324)";

pub fn exchange_rollup(title: &'static str) -> Patch {
    Patch {
        product: EXCHANGE,
        title,
        patch_code: "{7E9B1C38-2D84-4F0B-9C51-6A0D3B2E8F47}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2007-KB2602324-x64-EN.msp",
        wu: Some(("{5b1e2c7a-93d4-4f6e-a8b0-c2d9e1f40a36}", 102)),
        digest: "8f3c5a2e71b94d06a1e2c3b4d5e6f70800000000",
    }
}

pub const ROLLUP_ERROR: (u16, &str) = (
    10005,
    "Product: Microsoft Exchange Server -- The installer has encountered an unexpected error installing this package. This may indicate a problem with this package. The error code is 2755. The arguments are: 1603, C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2007-KB2602324-x64-EN.msp, ",
);

pub const EXCHANGE_SHELL: Holder = Holder {
    process: "powershell",
    pid: 3412,
    image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    display: "Windows PowerShell",
    file: "C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Data.Storage.dll",
    session: 2,
};

const EXCHANGE_CONSOLE: Holder = Holder {
    process: "mmc",
    pid: 4388,
    image: "C:\\Windows\\System32\\mmc.exe",
    display: "Microsoft Management Console",
    file: "C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Management.dll",
    session: 2,
};

pub(crate) fn pids() -> Pids {
    Pids {
        services: 496,
        wu: 968,
        msiserver: 2996,
        w32time: 1048,
    }
}

pub(crate) fn finish(name: &'static str, host: Host) -> Bundle {
    finish_with(name, host, Files::Evtx)
}

pub(crate) fn finish_with(name: &'static str, host: Host, files: Files) -> Bundle {
    Bundle {
        name,
        application: host.app.into_events(),
        system: host.sys.into_events(),
        files,
        extra: Vec::new(),
    }
}

/// The server restarts, which does not help: later, starting the services named by `keys` fails
/// with 1058, as they are still disabled.
pub(crate) fn restart_then_starts_refused(
    host: &mut Host,
    reboot: DateTime<Utc>,
    refused: DateTime<Utc>,
    services: &[Service],
    keys: &[&str],
) {
    host.reboot(reboot);
    let core: Vec<Service> = services
        .iter()
        .filter(|s| keys.contains(&s.key))
        .cloned()
        .collect();
    incident::admin_start_fails(host, refused, &core);
}

/// (a) KB 940006: Windows Update installs the rollup at night, files are in use, the install fails
/// with 1603 / 0x80070643 and the Exchange services stay disabled. A reboot does not help.
fn rollup_failed() -> Bundle {
    let name = "kb940006-rollup-failed";
    let mut rng = rng(name);
    let (from, to) = (utc(2011, 11, 7, 9, 12, 0), utc(2011, 11, 9, 10, 5, 0));
    let mut host = Host::new(
        "EXMBX01.contoso.local",
        Lang::English,
        "S-1-5-21-1004336348-1177238915-682003330-1105",
        pids(),
        48_211,
        90_103,
    );
    let t0 = utc(2011, 11, 9, 3, 0, 5);
    let services = mailbox_cas_services();
    let rollup = exchange_rollup(ROLLUP_TITLE);
    let log_file = "C:\\Windows\\TEMP\\MSI4f2a1.LOG";
    let record = incident::install(
        &mut host,
        t0,
        &rollup,
        &services,
        &[EXCHANGE_SHELL, EXCHANGE_CONSOLE],
        &Outcome::FailsOnFileInUse {
            installer_error: ROLLUP_ERROR,
            log_file,
        },
    );
    // The verbose log Windows Update's install wrote (1023 names it), in the ANSI code page of
    // a US server five hours behind UTC.
    let us_eastern = textlogs::Locale {
        offset_minutes: -300,
        date: textlogs::DateStyle::MonthFirst,
    };
    let msi_log = textlogs::msi_log(
        &textlogs::MsiSession {
            product: &EXCHANGE,
            patch: &rollup,
            record: &record,
            calling_process: "C:\\Windows\\system32\\svchost.exe",
            log_file,
            failing_action: "InstallFinalize",
            error_message: Some(ROLLUP_ERROR.1),
            computer: "EXMBX01",
        },
        &us_eastern,
    );
    restart_then_starts_refused(
        &mut host,
        utc(2011, 11, 9, 6, 40, 12),
        utc(2011, 11, 9, 6, 52, 40),
        &services,
        &["MSExchangeIS", "MSExchangeSA"],
    );
    let profile = Profile {
        exchange_running: vec![(from, t0 + Duration::seconds(60))],
        windows_updates: true,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    let mut bundle = finish(name, host);
    bundle.extra.push((
        "MSI4f2a1.LOG".into(),
        textlog::encode(&msi_log, TextEncoding::Ansi),
    ));
    bundle
}

/// (b) The same failure; hours later an administrator restores every service by hand. The rollup
/// itself is still not installed.
fn services_restored() -> Bundle {
    let name = "kb940006-services-restored";
    let mut rng = rng(name);
    let (from, to) = (utc(2011, 11, 14, 8, 0, 0), utc(2011, 11, 16, 16, 30, 0));
    let mut host = Host::new(
        "EXMBX02.contoso.local",
        Lang::English,
        "S-1-5-21-1004336348-1177238915-682003330-1107",
        pids(),
        61_877,
        120_455,
    );
    let t0 = utc(2011, 11, 16, 2, 10, 11);
    let services = mailbox_cas_services();
    let owa = Holder {
        process: "w3wp",
        pid: 2688,
        image: "c:\\windows\\system32\\inetsrv\\w3wp.exe",
        display: "IIS Worker Process",
        file: "C:\\Program Files\\Microsoft\\Exchange Server\\ClientAccess\\Owa\\bin\\Microsoft.Exchange.Clients.Owa.dll",
        session: 0,
    };
    incident::install(
        &mut host,
        t0,
        &exchange_rollup(ROLLUP_TITLE),
        &services,
        &[owa],
        &Outcome::FailsOnFileInUse {
            installer_error: ROLLUP_ERROR,
            log_file: "C:\\Windows\\TEMP\\MSI7c01e.LOG",
        },
    );
    let restored = utc(2011, 11, 16, 7, 45, 30);
    incident::admin_restores(&mut host, restored, &services);
    let profile = Profile {
        exchange_running: vec![
            (from, t0 + Duration::seconds(60)),
            (restored + Duration::minutes(12), to),
        ],
        windows_updates: true,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    finish(name, host)
}

/// (c) The rollup installs although a file was in use: setup disables and re-enables the services
/// itself, and the file is replaced at the next restart (3010). Nothing to fix.
fn rollup_succeeded() -> Bundle {
    let name = "rollup-succeeded-files-in-use";
    let mut rng = rng(name);
    let (from, to) = (utc(2011, 11, 8, 7, 30, 0), utc(2011, 11, 10, 9, 0, 0));
    let mut host = Host::new(
        "EXHUB01.contoso.local",
        Lang::English,
        "S-1-5-21-1004336348-1177238915-682003330-1105",
        pids(),
        30_448,
        77_902,
    );
    let t0 = utc(2011, 11, 9, 3, 0, 9);
    let scom = Holder {
        process: "HealthService",
        pid: 1520,
        image: "C:\\Program Files\\System Center Operations Manager 2007\\HealthService.exe",
        display: "System Center Management",
        file: "C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Net.dll",
        session: 0,
    };
    incident::install(
        &mut host,
        t0,
        &exchange_rollup(ROLLUP_TITLE),
        &hub_services(),
        &[scom],
        &Outcome::SucceedsRestartPending,
    );
    let profile = Profile {
        exchange_running: vec![
            (from, t0 + Duration::seconds(60)),
            (t0 + Duration::minutes(20), to),
        ],
        windows_updates: true,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    finish(name, host)
}

/// (d) A third-party product's MSI update, pushed silently by a software-distribution tool, fails
/// because its own service holds a file (Error 1306).
fn other_msi_file_in_use() -> Bundle {
    let name = "msi-update-failed-file-in-use";
    let mut rng = rng(name);
    let (from, to) = (utc(2012, 3, 12, 8, 0, 0), utc(2012, 3, 14, 9, 30, 0));
    let mut host = Host::new(
        "FS01.contoso.local",
        Lang::English,
        "S-1-5-21-1004336348-1177238915-682003330-1105",
        pids(),
        15_020,
        44_310,
    );
    let product = MsiProduct {
        name: "Contoso Backup Agent",
        version: "7.2.0.1410",
        language: "1033",
        manufacturer: "Contoso Ltd.",
        product_code: "{8A1E4D2C-3B5F-4E61-9C7A-0D2B4F6A8C1E}",
    };
    let patch = Patch {
        product: product.clone(),
        title: "Contoso Backup Agent 7.2 Hotfix 3",
        patch_code: "{C4F7A2D9-1E3B-4A6C-8D5E-7F9B0C2A4E61}",
        package: "C:\\Windows\\ccmcache\\1f\\CBAgent72-HF3.msp",
        wu: None,
        digest: "0c5e7a9b2d4f6e8a1c3b5d7f9e2a4c6b00000000",
    };
    let agent = Holder {
        process: "cbagent",
        pid: 1876,
        image: "C:\\Program Files\\Contoso\\Backup Agent\\cbagent.exe",
        display: "Contoso Backup Agent Service",
        file: "C:\\Program Files\\Contoso\\Backup Agent\\cbvss.dll",
        session: 0,
    };
    let error_1306 = "Product: Contoso Backup Agent -- Error 1306. Another application has exclusive access to the file 'C:\\Program Files\\Contoso\\Backup Agent\\cbvss.dll'.  Please shut down all other applications, then click Retry.";
    let log_file = "C:\\Windows\\TEMP\\MSI2b7d4.LOG";
    let record = incident::install(
        &mut host,
        utc(2012, 3, 13, 22, 30, 2),
        &patch,
        &[],
        &[agent],
        &Outcome::FailsOnFileInUse {
            installer_error: (11306, error_1306),
            log_file,
        },
    );
    let profile = Profile {
        exchange_running: vec![],
        windows_updates: true,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    // Its verbose log, UTF-16 as msiexec writes it, on a server in Sydney (UTC+11 in March, a
    // day-first locale): the install ran the next morning by the server's clock.
    let sydney = textlogs::Locale {
        offset_minutes: 660,
        date: textlogs::DateStyle::DayFirstSlashes,
    };
    let log = textlogs::msi_log(
        &textlogs::MsiSession {
            product: &product,
            patch: &patch,
            record: &record,
            calling_process: "C:\\Windows\\CCM\\CcmExec.exe",
            log_file,
            failing_action: "InstallFiles",
            error_message: Some(error_1306),
            computer: "FS01",
        },
        &sydney,
    );
    let mut bundle = finish(name, host);
    bundle.extra.push((
        "MSI2b7d4.LOG".into(),
        textlog::encode(&log, TextEncoding::Utf16Le),
    ));
    bundle
}

/// (e) On an Exchange server, a .NET Framework security update fails with 0x80070643 because a
/// registry key cannot be opened (Error 1402): no file in use, no service touched, and Exchange is
/// not involved.
fn other_cause() -> Bundle {
    let name = "update-failed-other-cause";
    let mut rng = rng(name);
    let (from, to) = (utc(2012, 1, 9, 8, 0, 0), utc(2012, 1, 11, 11, 0, 0));
    let mut host = Host::new(
        "EXCAS03.contoso.local",
        Lang::English,
        "S-1-5-21-1004336348-1177238915-682003330-1105",
        pids(),
        22_906,
        70_114,
    );
    let product = MsiProduct {
        name: "Microsoft .NET Framework 4 Extended",
        version: "4.0.30319",
        language: "1033",
        manufacturer: "Microsoft Corporation",
        product_code: "{8E34682C-8118-31F1-BC4C-98CD9675E1C2}",
    };
    let patch = Patch {
        product,
        title: "Security Update for Microsoft .NET Framework 4 on Windows XP, Windows Server 2003, Windows Vista, Windows 7, Windows Server 2008, Windows Server 2008 R2 for x64-based Systems (KB2656351)",
        patch_code: "{A5B1E3F7-6C2D-4B8E-9F0A-1D3C5E7B9A2F}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\NDP40-KB2656351-x64.msp",
        wu: Some(("{2f4a6c8e-1b3d-4f5a-8c7e-9d0b2a4c6e8f}", 101)),
        digest: "5d7f9b1e3a5c7e9f2b4d6a8c0e1f3a5b00000000",
    };
    incident::install(
        &mut host,
        utc(2012, 1, 11, 3, 0, 3),
        &patch,
        &[],
        &[],
        &Outcome::FailsOtherwise {
            installer_error: (
                11402,
                "Product: Microsoft .NET Framework 4 Extended -- Error 1402. Could not open key: UNKNOWN\\Components\\0B8A7D5A3C2B4E1F9A6D8C0E2F4B6A8D\\5E7C9A1B3D5F7A9C1E3B5D7F9A2C4E6B.  Verify that you have sufficient access to that key, or contact your support personnel.",
            ),
            log_file: "C:\\Windows\\TEMP\\MSI5e2c9.LOG",
        },
    );
    let profile = Profile {
        exchange_running: vec![(from, to)],
        windows_updates: true,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    finish(name, host)
}

/// (f) A healthy Exchange server: the rollup installs cleanly (setup disables and re-enables the
/// services by design), Windows updates install, services come and go.
fn healthy() -> Bundle {
    let name = "healthy";
    let mut rng = rng(name);
    let (from, to) = (utc(2011, 11, 8, 6, 0, 0), utc(2011, 11, 10, 12, 0, 0));
    let mut host = Host::new(
        "EXMBX03.contoso.local",
        Lang::English,
        "S-1-5-21-1004336348-1177238915-682003330-1105",
        pids(),
        52_090,
        98_775,
    );
    let t0 = utc(2011, 11, 9, 3, 0, 2);
    incident::install(
        &mut host,
        t0,
        &exchange_rollup(ROLLUP_TITLE),
        &mailbox_cas_services(),
        &[],
        &Outcome::Succeeds,
    );
    let profile = Profile {
        exchange_running: vec![
            (from, t0 + Duration::seconds(60)),
            (t0 + Duration::minutes(20), to),
        ],
        windows_updates: true,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    finish(name, host)
}

/// (g) Case (a) on a Japanese server: start types, states and the update title are localized.
fn japanese() -> Bundle {
    let name = "kb940006-japanese";
    let mut rng = rng(name);
    let (from, to) = (utc(2011, 11, 7, 23, 0, 0), utc(2011, 11, 9, 2, 0, 0));
    let mut host = Host::new(
        "EXJP01.contoso.co.jp",
        Lang::Japanese,
        "S-1-5-21-2111576348-1177238915-682003330-1203",
        pids(),
        10_482,
        33_761,
    );
    let t0 = utc(2011, 11, 8, 18, 0, 4);
    let shell = Holder {
        pid: 2964,
        ..EXCHANGE_SHELL
    };
    incident::install(
        &mut host,
        t0,
        &exchange_rollup(ROLLUP_TITLE_JA),
        &mailbox_cas_services(),
        &[shell],
        &Outcome::FailsOnFileInUse {
            installer_error: ROLLUP_ERROR,
            log_file: "C:\\Windows\\TEMP\\MSI3a9f0.LOG",
        },
    );
    let profile = Profile {
        exchange_running: vec![(from, t0 + Duration::seconds(60))],
        windows_updates: false,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    finish(name, host)
}

/// Exchange Server 2019's MSI product, as the real 1036 of an Exchange 2019 CU12 security update
/// names it (`domain.md` §2.1.3); the product code is illustrative.
const EXCHANGE_2019: MsiProduct<'static> = MsiProduct {
    name: "Microsoft Exchange Server",
    version: "15.2.1118.7",
    language: "1033",
    manufacturer: "Microsoft Corporation",
    product_code: "{CD981244-E9B8-405A-9026-6AEB9DCEF1F1}",
};

/// (h) Today's form of the failure (Exchange 2013-2019 security updates, "Known issues" of e.g.
/// KB4523171): Windows Update installs an Exchange 2019 security update at night, setup disables
/// 28 services while it installs, the update installs (11707, 1022, 1036 with status 0, Windows
/// Update 19), but its service control script does not set them back. After the next restart the
/// administrator cannot start the Information Store or Transport (7000, 1058).
fn su_services_left_disabled() -> Bundle {
    let name = "exchange2019-su-services-disabled";
    let mut rng = rng(name);
    let (from, to) = (utc(2022, 11, 8, 8, 0, 0), utc(2022, 11, 9, 9, 30, 0));
    let mut host = Host::new(
        "EX19MBX01.contoso.local",
        Lang::English,
        "S-1-5-21-3623811015-3361044348-30300820-1013",
        pids(),
        187_402,
        402_117,
    );
    let t0 = utc(2022, 11, 9, 2, 10, 5);
    let services = exchange2019_mailbox_services();
    let update = Patch {
        product: EXCHANGE_2019,
        title: "Security Update for Exchange Server 2019 Cumulative Update 12 (KB5019758) 15.2.1118.20",
        patch_code: "{3F6D1E2A-5B7C-4D8E-9F01-2A3B4C5D6E7F}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2019-KB5019758-x64-en.msp",
        wu: Some(("{a7c4e1b2-3d5f-4e6a-8b9c-0d1e2f3a4b5c}", 200)),
        digest: "2c7e9a4b61d84f03b5a6c7d8e9f0a1b200000000",
    };
    incident::install(
        &mut host,
        t0,
        &update,
        &services,
        &[],
        &Outcome::SucceedsServicesLeftDisabled,
    );
    restart_then_starts_refused(
        &mut host,
        utc(2022, 11, 9, 6, 15, 30),
        utc(2022, 11, 9, 6, 31, 12),
        &services,
        &["MSExchangeIS", "MSExchangeTransport"],
    );
    let profile = Profile {
        exchange_running: vec![(from, t0 + Duration::seconds(60))],
        windows_updates: false,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    finish(name, host)
}

pub fn all() -> Vec<Bundle> {
    vec![
        rollup_failed(),
        services_restored(),
        rollup_succeeded(),
        other_msi_file_in_use(),
        other_cause(),
        healthy(),
        japanese(),
        su_services_left_disabled(),
        crate::legacy::server2003(),
        crate::legacy::server2008(),
        crate::legacy::application_only(),
        crate::exchange2016::su_failed_retry(),
        crate::exchange2016::su_failed_retry_zipped(),
    ]
}

/// Event XML as `wevtutil qe /f:xml` / Event Viewer export it: an `<Events>` root.
pub fn events_xml(events: &[Element]) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n<Events>\n");
    for e in events {
        e.write_indented(&mut s, 0);
    }
    s.push_str("</Events>\n");
    s
}
