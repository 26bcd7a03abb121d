//! The Exchange 2016 security-update bundles and fixtures with the text logs beside the event
//! logs (issue 21's case): the update failing twice with a wrapped System log, zipped or not; the
//! start modes saved before; a change of summer time inside one `ServiceControl.log`. Apart from
//! `samples.rs`, which holds the event-log-only bundles and what every bundle shares.

use crate::events::MsiProduct;
use crate::host::{Host, Lang, Service, exchange2019_mailbox_services};
use crate::incident::{self, Holder, Outcome, Patch};
use crate::noise::{self, Profile};
use crate::samples::{
    Bundle, Files, finish, finish_with, pids, restart_then_starts_refused, rng, utc,
};
use crate::textlogs;
use chrono::Duration;
use evtriage_writer::textlog::{self, TextEncoding};

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

    let berlin = berlin(60);
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

/// A Berlin server's clock (UTC+1, or +2 in summer) and German short dates (`15.03.2023`).
pub(crate) fn berlin(offset_minutes: i32) -> textlogs::Locale {
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

pub(crate) fn su_failed_retry() -> Bundle {
    let (host, files) = su_failed_retry_parts();
    let mut bundle = finish("exchange2016-su-failed-retry", host);
    bundle.extra = files;
    bundle
}

/// The same case as the customer sends it: the folder zipped ("Send to > Compressed folder"),
/// the event logs in a folder of their own.
pub(crate) fn su_failed_retry_zipped() -> Bundle {
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
