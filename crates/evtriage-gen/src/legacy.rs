//! The KB's own servers: Update Rollup 4 for Exchange Server 2007 (KB940006) failing on a file in
//! use on Windows Server 2003, written as NT 5.2 writes it (classic records, `.evt` files copied
//! live, the System log wrapped); the same failure of a later rollup on Windows Server 2008; and
//! a 2003 server whose Application log is all the customer sent. Record layouts: [`events`]'
//! `nt5` (shared/reference/legacy.md §3); the sequence is the one of [`incident`], less what
//! Windows Installer 3.1 does not write (legacy.md §3.1: no 1033-1038, no 1040/1042, no Restart
//! Manager). Exchange 2007 RTM's build and UR4's KB number: domain.md §1 (verified).

use crate::events::{self, MsiProduct, SYSTEM_SID};
use crate::host::{Era, Host, Lang, Pids, Service, mailbox_cas_services};
use crate::hostile::{event_id, provider};
use crate::incident::{self, Holder, Outcome, Patch};
use crate::samples::{Bundle, Files, finish_with, rng, utc};
use chrono::{DateTime, Duration, Utc};
use evtriage_writer::evt::EvtKind;
use rand::Rng;

/// Exchange Server 2007 RTM (8.0.685.25, domain.md §1) as MSI 3.1 names it.
const EXCHANGE_2007_RTM: MsiProduct<'static> = MsiProduct {
    name: "Microsoft Exchange Server",
    version: "8.0.685.25",
    language: "1033",
    manufacturer: "Microsoft Corporation",
    product_code: "{24B2C164-DE66-44FE-B468-A46D9D5E6B31}",
};

pub const UR4_TITLE: &str = "Update Rollup 4 for Exchange Server 2007 (KB940006)";
const UR4_PATCH_CODE: &str = "{0F5C2A7E-4B19-4D3C-9E61-2A8B7C4D1E05}";
const UR4_UPDATE_ID: &str = "{8e1d5a3c-6f27-4b90-a4d2-19c3e7b05f61}";
const UR4_LOG: &str = "C:\\WINDOWS\\TEMP\\MSI2b9c4.LOG";
const UR4_ERROR: &str = "Product: Microsoft Exchange Server -- The installer has encountered an unexpected error installing this package. This may indicate a problem with this package. The error code is 2755. The arguments are: 1603, C:\\WINDOWS\\SoftwareDistribution\\Download\\Install\\Exchange2007-KB940006-x64-EN.msp, ";
const UR8_ERROR: &str = "Product: Microsoft Exchange Server -- The installer has encountered an unexpected error installing this package. This may indicate a problem with this package. The error code is 2755. The arguments are: 1603, C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2007-KB968012-x64-EN.msp, ";

/// Exchange Management Shell left open by an administrator: it holds the rollup's DLLs.
const SHELL_2003: Holder = Holder {
    process: "powershell",
    pid: 2716,
    image: "C:\\WINDOWS\\system32\\WindowsPowerShell\\v1.0\\powershell.exe",
    display: "Windows PowerShell",
    file: "C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Data.Storage.dll",
    session: 0,
};

const MMC_2003: Holder = Holder {
    process: "mmc",
    pid: 3920,
    image: "C:\\WINDOWS\\system32\\mmc.exe",
    display: "Microsoft Management Console",
    file: "C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Management.dll",
    session: 0,
};

/// Routine services of Server 2003 SP2 that start and stop on their own (display names only).
const ROUTINE_2003: &[(&str, &str)] = &[
    (
        "WinHttpAutoProxySvc",
        "WinHTTP Web Proxy Auto-Discovery Service",
    ),
    ("NtmsSvc", "Removable Storage"),
    ("wmiApSrv", "WMI Performance Adapter"),
    ("BITS", "Background Intelligent Transfer Service"),
];

fn pids() -> Pids {
    Pids {
        services: 620,
        wu: 1108,
        msiserver: 3544,
        w32time: 1108,
    }
}

/// NT 5 records carry the NetBIOS name, not the FQDN (`[XP-SYS]` in legacy.md: `WKS-WINXP32BIT`).
fn host_2003(computer: &str, app_first: u64, sys_first: u64) -> Host {
    let mut host = Host::new(
        computer,
        Lang::English,
        "S-1-5-21-2025429265-688789844-1708537768-500",
        pids(),
        app_first,
        sys_first,
    );
    host.era = Era::Server2003;
    host
}

fn seconds(rng: &mut impl Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(rng.random_range(lo..hi))
}

/// The days around the incident on a 2003 Exchange server: routine services starting and
/// stopping (System), Exchange's own chatter while it runs (Application).
fn noise_2003(
    host: &mut Host,
    rng: &mut impl Rng,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    exchange_until: DateTime<Utc>,
) {
    crate::noise::routine_services(host, rng, from, to, ROUTINE_2003, (900, 5_400));
    // MSExchange ADAccess 2080 (topology discovery) every 15 minutes, and the nightly online
    // defragmentation of ESE, while Exchange runs.
    let mut t = from + seconds(rng, 30, 600);
    while t < exchange_until.min(to) {
        let stamp = host.stamp(t);
        let e = events::nt5_other(
            &stamp,
            "MSExchange ADAccess",
            2080,
            16384,
            "Application",
            &[
                "MAD.EXE (1884)",
                "Exchange Active Directory Provider has discovered the following servers with the following characteristics: DC01.contoso.local CDG 1 7 7 1 0 1 1 7 1",
            ],
        );
        host.app.push(t, e);
        t += Duration::minutes(15) + seconds(rng, 0, 20);
    }
    let mut day = from
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .expect("valid")
        .and_utc();
    while day < exchange_until.min(to) {
        if day > from {
            for (id, what) in [(700, "is beginning"), (701, "has completed a full pass")] {
                let t = day + Duration::minutes(if id == 700 { 0 } else { 47 });
                let text = format!(
                    "MSExchangeIS (2412) First Storage Group: Online defragmentation {what} on database 'C:\\Program Files\\Microsoft\\Exchange Server\\Mailbox\\First Storage Group\\Mailbox Database.edb'."
                );
                let e = events::nt5_other(&host.stamp(t), "ESE", id, 0, "Application", &[&text]);
                host.app.push(t, e);
            }
        }
        day += Duration::days(1);
    }
}

/// Automatic Updates installs UR4 at 3 a.m.: setup stops and disables Exchange's services, files
/// are in use, Windows Installer 3.1 fails with 1603, Windows Update Agent reports 0x80070643.
fn rollup_fails_2003(host: &mut Host, t0: DateTime<Utc>, services: &[Service], holders: &[Holder]) {
    let at = |ms: i64| t0 + Duration::milliseconds(ms);
    let p = &EXCHANGE_2007_RTM;
    let none = "{00000000-0000-0000-0000-000000000000}";
    let ready = format!("\n- {UR4_TITLE}");
    let e = events::nt5_wua(
        &host.stamp(at(0)),
        18,
        &["Thursday, August 30, 2007", "3:00 AM", &ready],
        0,
        none,
        0,
    );
    host.sys.push(at(0), e);
    let disabled_at = incident::stop_and_disable(host, t0, services, SYSTEM_SID).disabled_at;
    // Windows Installer 3.1 names each file in use (1025): no Restart Manager on NT 5.
    for (i, h) in holders.iter().enumerate() {
        let ti = at(disabled_at + 25_000 + 2_000 * i as i64);
        let pid = h.pid.to_string();
        let e = events::nt5_msi(
            &host.stamp(ti),
            SYSTEM_SID,
            1025,
            4,
            &[p.name, h.file, h.process, &pid],
            p.product_code.as_bytes(),
        );
        host.app.push(ti, e);
    }
    let end = at(disabled_at + 17 * 60_000);
    let e = events::nt5_msi(
        &host.stamp(end),
        SYSTEM_SID,
        10005,
        1,
        &[UR4_ERROR],
        p.product_code.as_bytes(),
    );
    host.app.push(end, e);
    let fail = end + Duration::seconds(12);
    let failed = format!("Product: {} -- Installation operation failed.", p.name);
    let e = events::nt5_msi(
        &host.stamp(fail),
        SYSTEM_SID,
        11708,
        4,
        &[&failed],
        p.product_code.as_bytes(),
    );
    host.app.push(fail, e);
    let blob = format!("{} {UR4_PATCH_CODE} 1603", p.product_code);
    let e = events::nt5_msi(
        &host.stamp(fail),
        SYSTEM_SID,
        1023,
        1,
        &[p.name, UR4_TITLE, "1603", UR4_LOG],
        blob.as_bytes(),
    );
    host.app.push(fail + Duration::milliseconds(1), e);
    let wu_t = fail + Duration::seconds(38);
    let e = events::nt5_wua(
        &host.stamp(wu_t),
        20,
        &["0x80070643", UR4_TITLE],
        0x8007_0643,
        UR4_UPDATE_ID,
        101,
    );
    host.sys.push(wu_t, e);
}

/// `samples/kb940006-server2003`: the KB's own case, as the customer sends it (AppEvent.Evt and
/// SysEvent.Evt copied live from `C:\WINDOWS\system32\config`; the System log has wrapped).
pub fn server2003() -> Bundle {
    let name = "kb940006-server2003";
    let mut rng = rng(name);
    let (from, to) = (utc(2007, 8, 22, 8, 0, 0), utc(2007, 8, 30, 9, 30, 0));
    let mut host = host_2003("EXCH07MBX1", 2_113, 14_672);
    let services = mailbox_cas_services();
    let t0 = utc(2007, 8, 30, 3, 0, 0);
    rollup_fails_2003(&mut host, t0, &services, &[SHELL_2003, MMC_2003]);
    // The morning after: a restart does not bring Exchange back.
    host.reboot(utc(2007, 8, 30, 7, 12, 40));
    noise_2003(&mut host, &mut rng, from, to, t0 + Duration::seconds(60));
    finish_with(
        name,
        host,
        Files::Evt {
            application: (
                "AppEvent.Evt",
                EvtKind::Live {
                    max_size: 512 << 10,
                },
            ),
            system: ("SysEvent.Evt", EvtKind::Wrapped { max_size: 64 << 10 }),
        },
    )
}

/// `samples/kb940006-application-only`: another 2003 server's UR4 failure, and only its
/// Application log (saved with Event Viewer) was sent.
pub fn application_only() -> Bundle {
    let name = "kb940006-application-only";
    let mut rng = rng(name);
    let (from, to) = (utc(2007, 8, 27, 8, 0, 0), utc(2007, 8, 30, 11, 0, 0));
    let mut host = host_2003("EXCH07MBX2", 5_380, 22_019);
    let services = mailbox_cas_services();
    let t0 = utc(2007, 8, 30, 3, 0, 0);
    rollup_fails_2003(&mut host, t0, &services, &[SHELL_2003]);
    noise_2003(&mut host, &mut rng, from, to, t0 + Duration::seconds(60));
    // The System log was not sent.
    host.sys = crate::host::Timeline::new(1);
    finish_with(
        name,
        host,
        Files::Evt {
            application: ("Application.evt", EvtKind::Saved),
            system: ("System.evt", EvtKind::Saved),
        },
    )
}

/// Exchange 2007 SP1 Update Rollup 8 (KB968012, build 8.1.375.2: domain.md §1, verified).
fn sp1_ur8() -> Patch {
    Patch {
        product: MsiProduct {
            version: "8.1.240.6",
            ..crate::samples::EXCHANGE
        },
        title: "Update Rollup 8 for Exchange Server 2007 Service Pack 1 (KB968012)",
        patch_code: "{3D8A1F62-7C4B-4E19-8B2D-5F6E0A9C1B37}",
        package: "C:\\Windows\\SoftwareDistribution\\Download\\Install\\Exchange2007-KB968012-x64-EN.msp",
        wu: Some(("{c4a2e816-0b5d-4f93-9e7a-3d1b6f28a054}", 103)),
        digest: "2c7e9a4b1d3f5e6a8b0c2d4e6f8a1b3c00000000",
    }
}

/// `samples/kb940006-server2008`: the same failure of a later rollup on Windows Server 2008 (NT
/// 6.0): SCM's 7040 without the key name, and Windows Installer 4.0, which writes no 1040/1042
/// (legacy.md §3.1, likely). The rest is laid out as on 2008 R2 (domain.md §7.4).
pub fn server2008() -> Bundle {
    let name = "kb940006-server2008";
    let mut rng = rng(name);
    let (from, to) = (utc(2009, 6, 8, 9, 0, 0), utc(2009, 6, 10, 9, 40, 0));
    let mut host = Host::new(
        "EXMBX08.contoso.local",
        Lang::English,
        "S-1-5-21-3623811015-3361044348-30300820-1013",
        crate::samples::pids(),
        31_877,
        61_240,
    );
    host.era = Era::Server2008;
    let t0 = utc(2009, 6, 10, 3, 0, 5);
    let services = mailbox_cas_services();
    incident::install(
        &mut host,
        t0,
        &sp1_ur8(),
        &services,
        &[crate::samples::EXCHANGE_SHELL],
        &Outcome::FailsOnFileInUse {
            installer_error: (10005, UR8_ERROR),
            log_file: "C:\\Windows\\TEMP\\MSI7c3e2.LOG",
        },
    );
    host.reboot(utc(2009, 6, 10, 7, 5, 30));
    let profile = crate::noise::Profile {
        exchange_running: vec![(from, t0 + Duration::seconds(60))],
        windows_updates: true,
        installs: false,
    };
    crate::noise::fill(&mut host, &mut rng, from, to, &profile);
    // Windows Installer 4.0: no transaction records.
    host.app
        .retain(|e| !(provider(e) == "MsiInstaller" && matches!(event_id(e), Some(1040 | 1042))));
    finish_with(name, host, Files::Evtx)
}
