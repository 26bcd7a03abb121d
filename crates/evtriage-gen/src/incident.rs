//! Installs as they unfold in the logs: an MSI patch applied silently (by Windows Update or a
//! management tool) that either fails on a file in use, leaving services disabled (KB 940006), or
//! succeeds with files in use and a restart pending; and the administrator's later repair. The event
//! sequence follows `domain.md` §7.1 and the real .NET 4.5 install of §2.1.1.

use crate::events::{self, MsiProduct, RmApp, SYSTEM_SID};
use crate::host::{Host, Service, StartType};
use chrono::{DateTime, Duration, Utc};

/// A process that holds a file the patch must replace.
#[derive(Debug, Clone)]
pub struct Holder {
    pub process: &'static str,
    pub pid: u32,
    pub image: &'static str,
    pub display: &'static str,
    pub file: &'static str,
    /// Terminal-services session of the process (Restart Manager reports it; 0 for services).
    pub session: u32,
}

/// The update being applied.
#[derive(Debug, Clone)]
pub struct Patch {
    pub product: MsiProduct<'static>,
    pub title: &'static str,
    pub patch_code: &'static str,
    pub package: &'static str,
    /// Windows Update's identity of the update, when Windows Update installed it.
    pub wu: Option<(&'static str, u32)>,
    /// Opaque tail of the 1033/1036/1038 binary.
    pub digest: &'static str,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Fails with 1603 because files are in use; the services stay disabled.
    FailsOnFileInUse {
        installer_error: (u16, &'static str),
        log_file: &'static str,
    },
    /// Fails with 1603 for another reason, reported by the installer's own message.
    FailsOtherwise {
        installer_error: (u16, &'static str),
        log_file: &'static str,
    },
    /// Succeeds; files in use are replaced at the next restart (3010).
    SucceedsRestartPending,
    /// Succeeds cleanly.
    Succeeds,
    /// Succeeds, but setup's service control script does not set the services back: they stay
    /// disabled (the known issue of Exchange 2013-2019 security updates, e.g. KB4523171).
    SucceedsServicesLeftDisabled,
}

/// What an install left behind, for manifests and README text, and the moments the text logs
/// of the same install record (`crate::textlogs`).
#[derive(Debug, Clone)]
pub struct InstallRecord {
    pub started: DateTime<Utc>,
    pub failed_at: Option<DateTime<Utc>>,
    pub disabled: Vec<Service>,
    /// The installer transaction began (1040).
    pub transaction_at: DateTime<Utc>,
    /// Each running service setup stopped, and when (7036).
    pub stops: Vec<(Service, DateTime<Utc>)>,
    /// Each service setup disabled, and when (7040).
    pub disables: Vec<(Service, DateTime<Utc>)>,
    /// Each service setup set back to its start type when it succeeded, and when (7040).
    pub enables: Vec<(Service, DateTime<Utc>)>,
    /// Each holder Restart Manager found (10010), and each file in use (1025), with their times.
    pub holders: Vec<(Holder, DateTime<Utc>, DateTime<Utc>)>,
    /// The installer's outcome: when, and its status (1603, 0, 3010).
    pub ended: DateTime<Utc>,
    pub status: u32,
}

/// The services setup stopped and disabled, and when.
pub struct StopAndDisable {
    /// Offset (ms from `t0`) of the first 7040.
    pub disabled_at: i64,
    pub stops: Vec<(Service, DateTime<Utc>)>,
    pub disables: Vec<(Service, DateTime<Utc>)>,
}

/// Apply `patch` on `host` from `t0`, stopping and disabling `services` as Exchange's rollup setup
/// does (pass none for products that touch no service), with `holders` keeping files in use.
pub fn install(
    host: &mut Host,
    t0: DateTime<Utc>,
    patch: &Patch,
    services: &[Service],
    holders: &[Holder],
    outcome: &Outcome,
) -> InstallRecord {
    let sid = SYSTEM_SID;
    let p = &patch.product;
    let client_pid = if patch.wu.is_some() {
        host.pids.wu
    } else {
        3844
    };
    let msi_proc = (host.pids.msiserver, host.tid());
    let at = |secs: i64| t0 + Duration::milliseconds(secs);

    let s = host.stamp(at(2_000));
    let e = events::msi_transaction(&s, sid, true, patch.package, client_pid);
    host.app.push(at(2_000), e);
    let rm_start = at(4_137);
    let e = events::rm_session(&host.stamp(rm_start), sid, msi_proc, true, 0, rm_start);
    host.app.push(rm_start, e);

    let done = stop_and_disable(host, t0, services, sid);
    let disabled_at = done.disabled_at;
    let mut holder_times = Vec::new();

    // Restart Manager finds the holders; Windows Installer logs each file in use.
    let rm_t = disabled_at + 25_000;
    for (i, h) in holders.iter().enumerate() {
        let app = RmApp {
            pid: h.pid,
            full_path: h.image,
            display_name: h.display,
            app_type: if h.session == 0 { 3 } else { 0 },
            ts_session: h.session,
        };
        let ti = at(rm_t + 3 * i as i64);
        let e = events::rm_unsupported_restart(&host.stamp(ti), sid, msi_proc, 0, &app);
        host.app.push(ti, e);
    }
    if !holders.is_empty() {
        let mut apps: Vec<&str> = holders.iter().map(|h| h.display).collect();
        apps.push("Windows Installer");
        let ti = at(rm_t + 40);
        let e = events::rm_restart_required(&host.stamp(ti), sid, msi_proc, 0, &apps, 18);
        host.app.push(ti, e);
    }
    for (i, h) in holders.iter().enumerate() {
        // Written after the RM records, stamped with whole seconds (observation b of §2.1.1).
        let ti = at(rm_t + 9_600 + 2 * i as i64);
        let e = events::msi_file_in_use(&host.stamp(ti), sid, p, h.file, h.process, h.pid);
        host.app.push(ti, e);
        holder_times.push((h.clone(), at(rm_t + 3 * i as i64), ti));
    }

    let end = rm_t + 16 * 60_000 + 50_000;
    let mut record = InstallRecord {
        started: t0,
        failed_at: None,
        disabled: services.to_vec(),
        transaction_at: at(2_000),
        stops: done.stops,
        disables: done.disables,
        holders: holder_times,
        enables: Vec::new(),
        ended: at(end),
        status: 0,
    };
    match outcome {
        Outcome::FailsOnFileInUse {
            installer_error,
            log_file,
        }
        | Outcome::FailsOtherwise {
            installer_error,
            log_file,
        } => {
            let e = events::msi_message(
                &host.stamp(at(end)),
                sid,
                p,
                installer_error.0,
                installer_error.1,
            );
            host.app.push(at(end), e);
            let fail = at(end + 12_000);
            let failed_text = format!("Product: {} -- Installation operation failed.", p.name);
            let e = events::msi_message(&host.stamp(fail), sid, p, 11708, &failed_text);
            host.app.push(fail, e);
            let e = events::msi_update_result(
                &host.stamp(fail),
                sid,
                p,
                patch.title,
                patch.patch_code,
                1603,
                Some(log_file),
            );
            host.app.push(fail + Duration::milliseconds(1), e);
            let e = events::msi_update_status(
                &host.stamp(fail),
                sid,
                p,
                patch.title,
                1603,
                patch.digest,
            );
            host.app.push(fail + Duration::milliseconds(2), e);
            let e =
                events::msi_transaction(&host.stamp(fail), sid, false, patch.package, client_pid);
            host.app.push(fail + Duration::milliseconds(3), e);
            let e = events::rm_session(
                &host.stamp(fail + Duration::milliseconds(900)),
                sid,
                msi_proc,
                false,
                0,
                rm_start,
            );
            host.app.push(fail + Duration::milliseconds(900), e);
            if let Some((guid, rev)) = patch.wu {
                let wu_t = fail + Duration::milliseconds(38_512);
                let wu_proc = (host.pids.wu, host.tid());
                let e = events::wu_result(
                    &host.stamp(wu_t),
                    wu_proc,
                    Some(0x8007_0643),
                    patch.title,
                    guid,
                    rev,
                );
                host.sys.push(wu_t, e);
            }
            record.failed_at = Some(fail);
            record.ended = fail;
            record.status = 1603;
        }
        Outcome::SucceedsRestartPending
        | Outcome::Succeeds
        | Outcome::SucceedsServicesLeftDisabled => {
            // Setup puts the services back and starts the automatic ones before it finishes,
            // unless its script fails to.
            let back = end - 40_000;
            let left = matches!(outcome, Outcome::SucceedsServicesLeftDisabled);
            // SCM logs a change only: a service that was disabled before stays so, unlogged.
            for (i, svc) in services
                .iter()
                .enumerate()
                .filter(|(_, s)| !left && s.start != StartType::Disabled)
            {
                host.start_type(
                    at(back + 150 * i as i64),
                    svc,
                    sid,
                    StartType::Disabled,
                    svc.start,
                );
                record
                    .enables
                    .push((svc.clone(), at(back + 150 * i as i64)));
            }
            let mut t = back + 6_000;
            for svc in services
                .iter()
                .rev()
                .filter(|s| s.start == StartType::Auto && !left)
            {
                host.service_state(at(t), svc, true);
                t += 2_300;
            }
            let done = at(end);
            let ok_text = format!(
                "Product: {} -- Installation completed successfully.",
                p.name
            );
            let e = events::msi_message(&host.stamp(done), sid, p, 11707, &ok_text);
            host.app.push(done, e);
            let e = events::msi_update_result(
                &host.stamp(done),
                sid,
                p,
                patch.title,
                patch.patch_code,
                0,
                None,
            );
            host.app.push(done + Duration::milliseconds(1), e);
            let restart = matches!(outcome, Outcome::SucceedsRestartPending);
            let status = if restart { 3010 } else { 0 };
            record.status = status;
            let e = events::msi_update_status(
                &host.stamp(done),
                sid,
                p,
                patch.title,
                status,
                patch.digest,
            );
            host.app.push(done + Duration::milliseconds(2), e);
            if restart {
                let e = events::msi_restart_required(&host.stamp(done), sid, p, 2, 1, patch.digest);
                host.app.push(done + Duration::milliseconds(3), e);
                let e = events::msi_restart_deferred(&host.stamp(done), sid, p);
                host.app.push(done + Duration::milliseconds(4), e);
            }
            let e =
                events::msi_transaction(&host.stamp(done), sid, false, patch.package, client_pid);
            host.app.push(done + Duration::milliseconds(5), e);
            let e = events::rm_session(
                &host.stamp(done + Duration::milliseconds(700)),
                sid,
                msi_proc,
                false,
                0,
                rm_start,
            );
            host.app.push(done + Duration::milliseconds(700), e);
            if let Some((guid, rev)) = patch.wu {
                let wu_t = done + Duration::milliseconds(41_020);
                let wu_proc = (host.pids.wu, host.tid());
                let e = events::wu_result(&host.stamp(wu_t), wu_proc, None, patch.title, guid, rev);
                host.sys.push(wu_t, e);
            }
        }
    }
    record
}

/// Setup stops the running services a minute into the install, then disables every one it
/// manages, as `sid`; the offset (ms from `t0`) of the first 7040. On Server 2003 each stop is
/// preceded by SCM's 7035 (a stop control sent by `sid`), which later Windows no longer logs.
pub fn stop_and_disable(
    host: &mut Host,
    t0: DateTime<Utc>,
    services: &[Service],
    sid: &str,
) -> StopAndDisable {
    let at = |ms: i64| t0 + Duration::milliseconds(ms);
    let mut t = 61_000;
    let mut stops = Vec::new();
    for svc in services.iter().filter(|s| s.start == StartType::Auto) {
        if host.era == crate::host::Era::Server2003 {
            let e = events::nt5_scm_control(&host.stamp(at(t)), sid, svc.display, true);
            host.sys.push(at(t), e);
            host.service_state(at(t + 900), svc, false);
        } else {
            host.service_state(at(t), svc, false);
        }
        stops.push((svc.clone(), at(t)));
        t += 1_700 + (t % 900);
    }
    let disabled_at = t + 1_200;
    let mut disables = Vec::new();
    for (i, svc) in services.iter().enumerate() {
        let when = at(disabled_at + 140 * i as i64);
        // SCM logs a change only: a service disabled already gets no 7040 (setup's script
        // still says it disables it).
        if svc.start != StartType::Disabled {
            host.start_type(when, svc, sid, svc.start, StartType::Disabled);
        }
        disables.push((svc.clone(), when));
    }
    StopAndDisable {
        disabled_at,
        stops,
        disables,
    }
}

/// An administrator puts every service back to its previous start type and starts the automatic
/// ones (Active Directory Topology first), by hand in services.msc.
pub fn admin_restores(host: &mut Host, t0: DateTime<Utc>, services: &[Service]) {
    let sid = host.admin_sid.clone();
    for (i, svc) in services.iter().rev().enumerate() {
        host.start_type(
            t0 + Duration::seconds(35 * i as i64),
            svc,
            &sid,
            StartType::Disabled,
            svc.start,
        );
    }
    let mut t = t0 + Duration::seconds(35 * services.len() as i64 + 20);
    for svc in services.iter().rev().filter(|s| s.start == StartType::Auto) {
        host.service_state(t, svc, true);
        t += Duration::seconds(4);
    }
}

/// An administrator tries to start disabled services and gets ERROR_SERVICE_DISABLED.
pub fn admin_start_fails(host: &mut Host, t0: DateTime<Utc>, services: &[Service]) {
    for (i, svc) in services.iter().enumerate() {
        let t = t0 + Duration::seconds(9 * i as i64);
        let p = host.scm();
        let e = events::scm_start_failed(&host.stamp(t), p, svc.display, "%%1058", svc.key);
        host.sys.push(t, e);
    }
}
