//! The ordinary traffic of a Windows Server 2008 R2 machine (and of Exchange on it), drawn from the
//! shapes seen in the real corpus: service state changes (SCM 7036, with Windows Modules Installer,
//! WinHTTP auto-proxy and friends coming and going), BITS switching between demand and auto start
//! (7040 by SYSTEM, as in python-evtx's system.evtx), time synchronization, the Event Log's daily
//! uptime record, Windows updates installing fine, Restart Manager sessions of routine installs, and
//! Exchange's topology discovery and ESE maintenance. None of it is a failure.

use crate::events::{self, MsiProduct, SYSTEM_SID};
use crate::host::{Host, Service, StartType};
use chrono::{DateTime, Duration, Timelike, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;

const ROUTINE: &[(&str, &str)] = &[
    ("TrustedInstaller", "Windows Modules Installer"),
    (
        "WinHttpAutoProxySvc",
        "WinHTTP Web Proxy Auto-Discovery Service",
    ),
    ("AeLookupSvc", "Application Experience"),
    ("WerSvc", "Windows Error Reporting Service"),
    ("sppsvc", "Software Protection"),
    ("wmiApSrv", "WMI Performance Adapter"),
    ("WdiSystemHost", "Diagnostic System Host"),
    ("gpsvc", "Group Policy Client"),
];

const WINDOWS_UPDATES: &[(&str, &str)] = &[
    (
        "Security Update for Windows Server 2008 R2 x64 Edition (KB2618451)",
        "{6d1d3b3c-6f3c-4b6e-9a35-0a3a1f0c5e21}",
    ),
    (
        "Update for Windows Server 2008 R2 x64 Edition (KB2607047)",
        "{0f9b7c2e-5a1d-4c4e-8b9e-2d6f3a7b9c10}",
    ),
    (
        "Windows Malicious Software Removal Tool x64 - November 2011 (KB890830)",
        "{3c1b8f9e-7d2a-4e6b-9c5d-1a2b3c4d5e6f}",
    ),
];

pub struct Profile {
    /// Periods during which Exchange's services run (its own traffic stops while they are down).
    pub exchange_running: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Windows updates that install fine during the span (Windows Update 19).
    pub windows_updates: bool,
    /// The Application log's routine traffic (a product repairing itself, Restart Manager
    /// sessions, VSS and Software Protection): a server has a few a day, however busy its
    /// services are, so the large-log generator draws it once per day, not once per `--busy`.
    pub installs: bool,
}

fn seconds(rng: &mut impl Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(rng.random_range(lo..hi))
}

/// Fill `host`'s logs with ordinary traffic from `from` to `to`.
/// Routine services (key, display name) start for a while, then stop, every `gap` seconds.
pub(crate) fn routine_services(
    host: &mut Host,
    rng: &mut impl Rng,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    services: &[(&'static str, &'static str)],
    gap: (i64, i64),
) {
    let mut t = from + seconds(rng, 60, 900);
    while t < to {
        let &(key, display) = services.choose(rng).expect("non-empty");
        let s = Service {
            key,
            display,
            start: StartType::Demand,
        };
        host.service_state(t, &s, true);
        let stop = t + seconds(rng, 90, 900);
        if stop < to {
            host.service_state(stop, &s, false);
        }
        t += seconds(rng, gap.0, gap.1);
    }
}

pub fn fill(
    host: &mut Host,
    rng: &mut impl Rng,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    profile: &Profile,
) {
    routine_services(host, rng, from, to, ROUTINE, (600, 3_600));

    // BITS flips between demand and auto start as jobs come and go.
    let bits = Service {
        key: "BITS",
        display: "Background Intelligent Transfer Service",
        start: StartType::Demand,
    };
    let mut t = from + seconds(rng, 3_600, 20_000);
    while t < to {
        host.start_type(t, &bits, SYSTEM_SID, StartType::Demand, StartType::Auto);
        host.service_state(t + Duration::milliseconds(420), &bits, true);
        let back = t + seconds(rng, 300, 4_000);
        if back < to {
            host.start_type(back, &bits, SYSTEM_SID, StartType::Auto, StartType::Demand);
        }
        t += seconds(rng, 20_000, 60_000);
    }

    // Time synchronization every eight hours or so.
    let mut t = from + seconds(rng, 100, 7_200);
    while t < to {
        let p = (host.pids.w32time, host.tid());
        let e = events::time_sync(
            &host.stamp(t),
            p,
            "dc01.contoso.local (ntp.d|10.0.0.10:123->10.0.0.21:123)",
        );
        host.sys.push(t, e);
        t += seconds(rng, 27_000, 30_000);
    }

    // The Event Log's uptime record, every day at noon.
    let mut day = from
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .expect("valid")
        .and_utc();
    let mut uptime = 3 * 86_400 + 4_211;
    while day < to {
        if day > from {
            let up = uptime.to_string();
            let e = events::eventlog(
                &host.stamp(day),
                6013,
                &[Some(&up), Some("60"), Some("0 Coordinated Universal Time")],
            );
            host.sys.push(day, e);
        }
        uptime += 86_400;
        day += Duration::days(1);
    }

    if profile.windows_updates {
        let mut t = from + seconds(rng, 10_000, 40_000);
        for (i, (title, guid)) in WINDOWS_UPDATES.iter().enumerate() {
            if t >= to {
                break;
            }
            let p = (host.pids.wu, host.tid());
            let e = events::wu_result(&host.stamp(t), p, None, title, guid, 200 + i as u32);
            host.sys.push(t, e);
            t += seconds(rng, 40, 400);
        }
    }

    if profile.installs {
        routine_installs(host, rng, from, to);
    }
    for &(start, end) in &profile.exchange_running {
        exchange_traffic(host, rng, start.max(from), end.min(to));
    }
}

/// Installer activity, VSS and Software Protection in the Application log.
fn routine_installs(host: &mut Host, rng: &mut impl Rng, from: DateTime<Utc>, to: DateTime<Utc>) {
    // Routine servicing opens Restart Manager sessions that find nothing in use.
    let mut t = from + seconds(rng, 5_000, 30_000);
    let mut session = 1;
    while t < to {
        let p = (host.pids.msiserver, host.tid());
        let e = events::rm_session(&host.stamp(t), SYSTEM_SID, p, true, session, t);
        host.app.push(t, e);
        let end = t + Duration::milliseconds(rng.random_range(200..3_000));
        let e = events::rm_session(&host.stamp(end), SYSTEM_SID, p, false, session, t);
        host.app.push(end, e);
        session += 1;
        t += seconds(rng, 30_000, 90_000);
    }

    // A product reconfigures itself successfully now and then (1035-style repairs logged as 1033).
    let netfx = MsiProduct {
        name: "Microsoft .NET Framework 4 Client Profile",
        version: "4.0.30319",
        language: "1033",
        manufacturer: "Microsoft Corporation",
        product_code: "{3C3901C5-3455-3E0A-A214-0B093A5070A6}",
    };
    let t = from + seconds(rng, 40_000, 80_000);
    if t < to {
        let e = events::msi_transaction(
            &host.stamp(t),
            SYSTEM_SID,
            true,
            "{3C3901C5-3455-3E0A-A214-0B093A5070A6}",
            2204,
        );
        host.app.push(t, e);
        let done = t + seconds(rng, 20, 60);
        let ok = format!(
            "Product: {} -- Configuration completed successfully.",
            netfx.name
        );
        let e = events::msi_message(&host.stamp(done), SYSTEM_SID, &netfx, 11728, &ok);
        host.app.push(done, e);
        let e = events::msi_product_status(
            &host.stamp(done),
            SYSTEM_SID,
            &netfx,
            0,
            "d2ebf46831d2cb329af767295ab6c5bc00000000",
        );
        host.app.push(done + Duration::milliseconds(1), e);
        let e = events::msi_transaction(
            &host.stamp(done),
            SYSTEM_SID,
            false,
            "{3C3901C5-3455-3E0A-A214-0B093A5070A6}",
            2204,
        );
        host.app.push(done + Duration::milliseconds(2), e);
    }

    // The Volume Shadow Copy service shuts down when idle; Software Protection checks licensing.
    let mut t = from + seconds(rng, 200, 3_000);
    while t < to {
        let e = events::classic_app(&host.stamp(t), "VSS", 8224, 0, 4, 0, &[]);
        host.app.push(t, e);
        t += seconds(rng, 1_800, 9_000);
    }
    let mut t = from + seconds(rng, 600, 5_000);
    while t < to {
        let e = events::spp(
            &host.stamp(t),
            1003,
            &[
                "55c92734-d682-4d71-983e-d6ec3f16059f, 1, 1 [(0 [0xC004F014, 0, 0], [(?)(?)(?)(?)(?)(?)(?)(?)])(1 )(2 )]",
            ],
        );
        host.app.push(t, e);
        let e = events::spp(
            &host.stamp(t + Duration::seconds(31)),
            902,
            &["6.1.7601.17514"],
        );
        host.app.push(t + Duration::seconds(31), e);
        t += seconds(rng, 7_200, 20_000);
    }
}

fn exchange_traffic(host: &mut Host, rng: &mut impl Rng, from: DateTime<Utc>, to: DateTime<Utc>) {
    // Topology discovery every fifteen minutes (MSExchange ADAccess 2080).
    let mut t = from + seconds(rng, 30, 900);
    while t < to {
        let e = events::classic_app(
            &host.stamp(t),
            "MSExchange ADAccess",
            2080,
            16388,
            4,
            6,
            &[
                "MAD.EXE",
                "1788",
                "dc01.contoso.local\tCDG 1 7 7 1 0 1 1 7 1\n dc02.contoso.local\tCDG 1 7 7 1 0 1 1 7 1\n Out-of-site:\n",
            ],
        );
        host.app.push(t, e);
        t += Duration::seconds(900) + Duration::milliseconds(rng.random_range(0..400));
    }
    // Online defragmentation of the mailbox database every night.
    let mut day = from
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .expect("valid")
        .and_utc();
    while day < to {
        if day > from {
            let db = "First Storage Group: The database engine started online defragmentation on database 'C:\\Program Files\\Microsoft\\Exchange Server\\Mailbox\\First Storage Group\\Mailbox Database.edb'.";
            let e = events::classic_app(
                &host.stamp(day),
                "ESE",
                700,
                0,
                4,
                1,
                &["MSExchangeIS", "2480", db],
            );
            host.app.push(day, e);
            let done = day + Duration::seconds(2_700 + rng.random_range(0..1_800));
            let e = events::classic_app(
                &host.stamp(done),
                "ESE",
                701,
                0,
                4,
                1,
                &[
                    "MSExchangeIS",
                    "2480",
                    "First Storage Group: Online defragmentation has completed a full pass on database 'C:\\Program Files\\Microsoft\\Exchange Server\\Mailbox\\First Storage Group\\Mailbox Database.edb'.",
                ],
            );
            host.app.push(done, e);
        }
        day += Duration::days(1);
    }
    // Exchange Monitoring is a manual service that test cmdlets start and that stops again.
    let monitoring = Service {
        key: "MSExchangeMonitoring",
        display: "Microsoft Exchange Monitoring",
        start: StartType::Demand,
    };
    let mut t = from + seconds(rng, 2_000, 10_000);
    while t < to {
        if (6..20).contains(&t.hour()) {
            host.service_state(t, &monitoring, true);
            host.service_state(t + seconds(rng, 60, 600), &monitoring, false);
        }
        t += seconds(rng, 20_000, 50_000);
    }
}
