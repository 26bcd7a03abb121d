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

fn finish(name: &'static str, host: Host) -> Bundle {
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
fn restart_then_starts_refused(
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

/// Exchange Server 2016's MSI product (CU23); the product code is illustrative.
const EXCHANGE_2016: MsiProduct<'static> = MsiProduct {
    name: "Microsoft Exchange Server",
    version: "15.1.2507.6",
    language: "1033",
    manufacturer: "Microsoft Corporation",
    product_code: "{CD981244-E9B8-405A-9026-6AEB9DCEF1F1}",
};

/// The SCOM agent, a service: it keeps a file of Exchange's open while it monitors the server.
const MONITORING_AGENT: Holder = Holder {
    process: "MonitoringHost",
    pid: 5124,
    image: "C:\\Program Files\\Microsoft Monitoring Agent\\Agent\\MonitoringHost.exe",
    display: "Microsoft Monitoring Agent",
    file: "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\Microsoft.Exchange.Diagnostics.dll",
    session: 0,
};

/// The Error-table sentence (MsiInstaller 11603) of an Exchange 2016 update that finds the
/// monitoring agent's file in use.
const DIAGNOSTICS_IN_USE: &str = "Product: Microsoft Exchange Server -- Error 1603. The file C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\Microsoft.Exchange.Diagnostics.dll is being held in use. Close that application and retry.";

const SU_2016_TITLE: &str = "Security Update for Exchange Server 2016 CU23 (KB5024296)";

/// (k) Issue 21's case: an Exchange 2016 security update fails through Windows Update (a file in
/// use) and is retried by hand the same afternoon, failing again; the System log wraps before
/// anyone looks. `ExchangeSetupLogs` holds the service-control log of both attempts and the start
/// modes the retry saved again over the first ones (all Disabled).
pub(crate) fn su_failed_retry_parts() -> (Host, Vec<(String, Vec<u8>)>) {
    let name = "exchange2016-su-failed-retry";
    let mut rng = rng(name);
    let (from, to) = (utc(2023, 3, 13, 8, 0, 0), utc(2023, 3, 16, 12, 30, 0));
    let mut host = Host::new(
        "EX16MBX01.fabrikam.de",
        Lang::English,
        "S-1-5-21-2417853022-1209473622-3918273511-1108",
        pids(),
        812_330,
        2_731_004,
    );
    let services = exchange2019_mailbox_services();
    let wu_update = Patch {
        product: EXCHANGE_2016,
        title: SU_2016_TITLE,
        patch_code: "{9B2D4F61-7A3C-4E85-B1D0-3C5E7F9A1B2D}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2016-KB5024296-x64-en.msp",
        wu: Some(("{c1a2b3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}", 201)),
        digest: "5d1e3f7a9b2c4d6e8f0a1b2c3d4e5f6a00000000",
    };
    let by_hand = Patch {
        package: "C:\\Users\\exadmin\\Downloads\\Exchange2016-KB5024296-x64-en.msp",
        wu: None,
        ..wu_update.clone()
    };
    let wu_log = "C:\\Windows\\TEMP\\MSI5e8c3.LOG";
    let retry_log = "C:\\ExchangeSetupLogs\\KB5024296-retry.log";
    let t1 = utc(2023, 3, 15, 2, 10, 5);
    let first = incident::install(
        &mut host,
        t1,
        &wu_update,
        &services,
        &[MONITORING_AGENT],
        &Outcome::FailsOnFileInUse {
            installer_error: (11603, DIAGNOSTICS_IN_USE),
            log_file: wu_log,
        },
    );
    // The retry finds every service stopped and disabled already: no service to stop, and SCM
    // logs no change when the script disables them again.
    let t2 = utc(2023, 3, 15, 13, 40, 5);
    let already: Vec<Service> = services
        .iter()
        .map(|s| Service {
            start: crate::host::StartType::Disabled,
            ..s.clone()
        })
        .collect();
    let second = incident::install(
        &mut host,
        t2,
        &by_hand,
        &already,
        &[MONITORING_AGENT],
        &Outcome::FailsOnFileInUse {
            installer_error: (11603, DIAGNOSTICS_IN_USE),
            log_file: retry_log,
        },
    );
    restart_then_starts_refused(
        &mut host,
        utc(2023, 3, 15, 15, 2, 40),
        utc(2023, 3, 15, 15, 21, 7),
        &services,
        &["MSExchangeIS", "MSExchangeTransport"],
    );
    let profile = Profile {
        exchange_running: vec![(from, t1 + Duration::seconds(60))],
        windows_updates: false,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    // A busy System log: what it held before the retry's end was overwritten.
    host.sys.wrap_before(t2 + Duration::minutes(40));

    let berlin = textlogs::Locale {
        offset_minutes: 60,
        date: textlogs::DateStyle::DayFirstDots,
    };
    let roles = "Mailbox,ClientAccess";
    let sc_log = textlogs::service_control_log(
        &[
            textlogs::ServiceControlRun {
                started: t1 + Duration::seconds(45),
                state_exists: false,
                roles,
                stops: &first.stops,
                disables: &first.disables,
                enables: &[],
                completed: true,
            },
            textlogs::ServiceControlRun {
                started: t2 + Duration::seconds(45),
                state_exists: true,
                roles,
                stops: &second.stops,
                disables: &second.disables,
                enables: &[],
                completed: true,
            },
        ],
        &berlin,
    );
    let modes: Vec<(&str, &str)> = services.iter().map(|s| (s.key, "Disabled")).collect();
    let states: Vec<(&str, &str, bool)> =
        services.iter().map(|s| (s.key, s.display, false)).collect();
    let session = |record, patch, calling, log_file| textlogs::MsiSession {
        product: &EXCHANGE_2016,
        patch,
        record,
        calling_process: calling,
        log_file,
        failing_action: "InstallFiles",
        computer: "EX16MBX01",
        error_message: Some(DIAGNOSTICS_IN_USE),
    };
    let files = vec![
        (
            "ExchangeSetupLogs/ServiceControl.log".to_string(),
            textlog::encode(&sc_log, TextEncoding::Ansi),
        ),
        (
            "ExchangeSetupLogs/ServiceStartupMode.xml".to_string(),
            textlog::encode(&textlog::clixml_start_modes(&modes), TextEncoding::Utf16Le),
        ),
        (
            "ExchangeSetupLogs/ServiceState.xml".to_string(),
            textlog::encode(
                &textlog::clixml_service_states(&states),
                TextEncoding::Utf16Le,
            ),
        ),
        (
            "ExchangeSetupLogs/KB5024296-retry.log".to_string(),
            textlog::encode(
                &textlogs::msi_log(
                    &session(
                        &second,
                        &by_hand,
                        "C:\\Windows\\system32\\msiexec.exe",
                        retry_log,
                    ),
                    &berlin,
                ),
                TextEncoding::Ansi,
            ),
        ),
        (
            "Temp/MSI5e8c3.LOG".to_string(),
            textlog::encode(
                &textlogs::msi_log(
                    &session(
                        &first,
                        &wu_update,
                        "C:\\Windows\\system32\\svchost.exe",
                        wu_log,
                    ),
                    &berlin,
                ),
                TextEncoding::Utf16Le,
            ),
        ),
    ];
    (host, files)
}

/// An Exchange 2016 server whose POP3 and IMAP4 services (and their back ends) the customer had
/// disabled before the update, as most servers have.
fn services_pop_imap_disabled() -> Vec<Service> {
    exchange2019_mailbox_services()
        .into_iter()
        .map(|s| {
            if s.key.to_ascii_lowercase().contains("pop3")
                || s.key.to_ascii_lowercase().contains("imap4")
            {
                Service {
                    start: crate::host::StartType::Disabled,
                    ..s
                }
            } else {
                s
            }
        })
        .collect()
}

fn su_2016_patch() -> Patch {
    Patch {
        product: EXCHANGE_2016,
        title: SU_2016_TITLE,
        patch_code: "{9B2D4F61-7A3C-4E85-B1D0-3C5E7F9A1B2D}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2016-KB5024296-x64-en.msp",
        wu: Some(("{c1a2b3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}", 201)),
        digest: "5d1e3f7a9b2c4d6e8f0a1b2c3d4e5f6a00000000",
    }
}

fn berlin(offset_minutes: i32) -> textlogs::Locale {
    textlogs::Locale {
        offset_minutes,
        date: textlogs::DateStyle::DayFirstDots,
    }
}

/// A fixture (`gen:su-failed-state-saved-before`): the security update fails once through Windows
/// Update, the System log wraps, and `ServiceStartupMode.xml` holds the start modes saved before
/// anything was disabled: POP3 and IMAP4 were disabled already, and stay so.
pub fn su_failed_state_saved_before() -> Bundle {
    let name = "su-failed-state-saved-before";
    let mut rng = rng(name);
    let (from, to) = (utc(2023, 3, 13, 8, 0, 0), utc(2023, 3, 15, 9, 30, 0));
    let mut host = Host::new(
        "EX16MBX02.fabrikam.de",
        Lang::English,
        "S-1-5-21-2417853022-1209473622-3918273511-1108",
        pids(),
        301_220,
        1_022_871,
    );
    let services = services_pop_imap_disabled();
    let patch = su_2016_patch();
    let t1 = utc(2023, 3, 15, 2, 10, 5);
    let wu_log = "C:\\Windows\\TEMP\\MSI61d0a.LOG";
    let record = incident::install(
        &mut host,
        t1,
        &patch,
        &services,
        &[MONITORING_AGENT],
        &Outcome::FailsOnFileInUse {
            installer_error: (11603, DIAGNOSTICS_IN_USE),
            log_file: wu_log,
        },
    );
    let profile = Profile {
        exchange_running: vec![(from, t1 + Duration::seconds(60))],
        windows_updates: false,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    host.sys.wrap_before(t1 + Duration::hours(3));
    let sc_log = textlogs::service_control_log(
        &[textlogs::ServiceControlRun {
            started: t1 + Duration::seconds(45),
            state_exists: true,
            roles: "Mailbox,ClientAccess",
            stops: &record.stops,
            disables: &record.disables,
            enables: &[],
            completed: true,
        }],
        &berlin(60),
    );
    let modes: Vec<(&str, &str)> = services
        .iter()
        .map(|s| (s.key, textlogs::wmi_start_mode(s.start)))
        .collect();
    let mut bundle = finish_with(name, host, Files::Evtx);
    bundle.extra = vec![
        (
            "ExchangeSetupLogs/ServiceControl.log".into(),
            textlog::encode(&sc_log, TextEncoding::Ansi),
        ),
        (
            "ExchangeSetupLogs/ServiceStartupMode.xml".into(),
            textlog::encode(&textlog::clixml_start_modes(&modes), TextEncoding::Utf16Le),
        ),
    ];
    bundle
}

/// A fixture (`gen:su-failed-across-summer-time`): one security update installs on the night the
/// clocks go forward in Berlin (UTC+1 to UTC+2 at 01:00 UTC on 26 March 2023), the next fails
/// the following night; `ServiceControl.log` holds both runs, each in the wall-clock time of its
/// night, and the System log all the 7040s that anchor them. POP3 and IMAP4 were disabled before:
/// the script "disables" them, SCM records no change.
pub fn su_failed_across_summer_time() -> Bundle {
    let name = "su-failed-across-summer-time";
    let mut rng = rng(name);
    let (from, to) = (utc(2023, 3, 25, 8, 0, 0), utc(2023, 3, 27, 9, 30, 0));
    let mut host = Host::new(
        "EX16MBX03.fabrikam.de",
        Lang::English,
        "S-1-5-21-2417853022-1209473622-3918273511-1108",
        pids(),
        410_002,
        1_500_300,
    );
    let services = services_pop_imap_disabled();
    let earlier = Patch {
        title: "Security Update for Exchange Server 2016 CU23 (KB5022143)",
        patch_code: "{1D2C3B4A-5F6E-4D7C-8B9A-0F1E2D3C4B5A}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2016-KB5022143-x64-en.msp",
        ..su_2016_patch()
    };
    let t1 = utc(2023, 3, 25, 23, 30, 5);
    let first = incident::install(&mut host, t1, &earlier, &services, &[], &Outcome::Succeeds);
    let t2 = utc(2023, 3, 27, 2, 10, 5);
    let second = incident::install(
        &mut host,
        t2,
        &su_2016_patch(),
        &services,
        &[MONITORING_AGENT],
        &Outcome::FailsOnFileInUse {
            installer_error: (11603, DIAGNOSTICS_IN_USE),
            log_file: "C:\\Windows\\TEMP\\MSI7a2e9.LOG",
        },
    );
    let profile = Profile {
        exchange_running: vec![(from, t2 + Duration::seconds(60))],
        windows_updates: false,
        installs: true,
    };
    noise::fill(&mut host, &mut rng, from, to, &profile);
    let roles = "Mailbox,ClientAccess";
    let mut sc_log = textlogs::service_control_log(
        &[
            textlogs::ServiceControlRun {
                started: t1 + Duration::seconds(45),
                state_exists: true,
                roles,
                stops: &first.stops,
                disables: &first.disables,
                enables: &[],
                completed: true,
            },
            textlogs::ServiceControlRun {
                started: first.enables.first().map_or(t1, |(_, t)| *t) - Duration::seconds(2),
                state_exists: true,
                roles,
                stops: &[],
                disables: &[],
                enables: &first.enables,
                completed: true,
            },
        ],
        &berlin(60),
    );
    sc_log.push_str(&textlogs::service_control_log(
        &[textlogs::ServiceControlRun {
            started: t2 + Duration::seconds(45),
            state_exists: true,
            roles,
            stops: &second.stops,
            disables: &second.disables,
            enables: &[],
            completed: true,
        }],
        &berlin(120),
    ));
    let mut bundle = finish_with(name, host, Files::Evtx);
    bundle.extra = vec![(
        "ExchangeSetupLogs/ServiceControl.log".into(),
        textlog::encode(&sc_log, TextEncoding::Ansi),
    )];
    bundle
}

fn su_failed_retry() -> Bundle {
    let (host, files) = su_failed_retry_parts();
    let mut bundle = finish("exchange2016-su-failed-retry", host);
    bundle.extra = files;
    bundle
}

/// The same case as the customer sends it: the folder zipped ("Send to > Compressed folder"),
/// the event logs in a folder of their own.
fn su_failed_retry_zipped() -> Bundle {
    let (host, files) = su_failed_retry_parts();
    let bundle = finish("exchange2016-su-failed-retry-zipped", host);
    let mut members: Vec<(String, Vec<u8>)> = bundle
        .logs()
        .expect("the logs of a sample are writable")
        .into_iter()
        .map(|(n, b)| (format!("EX16MBX01/EventLogs/{n}"), b))
        .collect();
    members.extend(
        files
            .into_iter()
            .map(|(n, b)| (format!("EX16MBX01/{n}"), b)),
    );
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let zip = evtriage_writer::archive::zip_members_at(
        &refs,
        evtriage_writer::archive::Packing::Deflated,
        Some((2023, 3, 15, 16, 55, 12)),
    );
    Bundle {
        name: bundle.name,
        application: Vec::new(),
        system: Vec::new(),
        files: Files::Evtx,
        extra: vec![("EX16MBX01-case.zip".to_string(), zip)],
    }
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
        su_failed_retry(),
        su_failed_retry_zipped(),
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
