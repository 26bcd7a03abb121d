//! What the logs say of the computer around a failure, beside the failure itself: the Windows
//! it ran (its boot records, else the update's title) and the later update of the same series
//! that replaces the failed one. Read from a finding's context evidence by `build_finding`.

use super::*;

/// The Windows the computer ran at the failure: the last boot record before it (Kernel-General
/// 12's version and build, Event Log 6009's), else the first after it; else what the update's
/// title says ("… for Windows 10 Version 1703"). Build 10240 is Windows 10's first, and Server
/// 2016's base: from it on, the Windows Update log is made with `Get-WindowsUpdateLog`.
pub(crate) fn windows_version(
    inc: &Incident,
    events: &[Matched],
    file_names: &[String],
    f: &Finding,
) -> Option<WindowsVersion> {
    let mut boots: Vec<(DateTime<Utc>, u32, Option<u32>, String)> = inc
        .selected
        .iter()
        .flatten()
        .filter_map(|it| {
            let build = it.fields.get("os_build").and_then(parse_number)?;
            let build = u32::try_from(build).ok()?;
            let major = it
                .fields
                .get("os_major")
                .and_then(parse_number)
                .or_else(|| {
                    it.fields
                        .get("os_version")
                        .and_then(|v| v.split('.').next())
                        .and_then(|v| v.trim().parse().ok())
                })
                .and_then(|m| u32::try_from(m).ok());
            let ev = &events[it.at].event;
            let file = file_names
                .get(ev.source as usize)
                .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
                .unwrap_or_default();
            Some((
                ev.time,
                build,
                major,
                format!(
                    "{file} record {}: {} {}, {}",
                    ev.record_id,
                    ev.provider,
                    ev.event_id,
                    crate::escape::time(ev.time)
                ),
            ))
        })
        .collect();
    boots.sort_by_key(|b| b.0);
    let at = f.first_seen;
    let chosen = boots
        .iter()
        .rev()
        .find(|b| b.0 <= at)
        .or_else(|| boots.iter().find(|b| b.0 > at));
    if let Some((_, build, major, from)) = chosen {
        let modern = *build >= 10240;
        let version = match major {
            Some(m) => format!(" (version {m}, build {build})"),
            None => format!(" (build {build})"),
        };
        return Some(WindowsVersion {
            name: format!(
                "{}{version}",
                if modern {
                    "Windows 10 / Server 2016 or later"
                } else {
                    "a Windows older than Windows 10 / Server 2016"
                }
            ),
            build: Some(*build),
            windows_10_or_later: modern,
            from: from.clone(),
        });
    }
    let title = f.update.title.as_deref()?;
    // A title that lists several Windows versions (the Malicious Software Removal Tool's "for
    // Windows 8, 8.1, 10 and Windows Server 2012, 2012 R2, 2016") says nothing of which.
    let listed = title.split("Windows").skip(1).any(|after| {
        after
            .trim_start()
            .split(' ')
            .next()
            .is_some_and(|v| v.ends_with(','))
    });
    if listed {
        return None;
    }
    let modern = [
        "Windows 10",
        "Windows 11",
        "Windows Server 2016",
        "Windows Server 2019",
        "Windows Server 2022",
        "Windows Server 2025",
        "Microsoft server operating system version",
    ]
    .iter()
    .any(|w| title.contains(w));
    let old = [
        "Windows 8.1",
        "Windows 8 ",
        "Windows 7",
        "Windows Vista",
        "Windows XP",
        "Windows Server 2003",
        "Windows Server 2008",
        "Windows Server 2012",
    ]
    .iter()
    .any(|w| title.contains(w));
    // A title naming both (the Malicious Software Removal Tool's "for Windows 8, 8.1, 10 and
    // Windows Server 2012, 2012 R2, 2016 x64 Edition") says nothing of which.
    (modern != old).then(|| WindowsVersion {
        name: if modern {
            "Windows 10 / Server 2016 or later".into()
        } else {
            "a Windows older than Windows 10 / Server 2016".into()
        },
        build: None,
        windows_10_or_later: modern,
        from: "the update's title".into(),
    })
}

/// The latest update of the failed one's series that Windows Update started installing after the
/// failure (43) and that no later record shows installed: what replaces it, still pending.
pub(crate) fn pending_in_series(
    sig: &Signature,
    inc: &Incident,
    events: &[Matched],
    f: &Finding,
) -> Option<PendingUpdate> {
    let items = |id: &str| {
        sig.evidence
            .iter()
            .position(|e| e.id == id)
            .map(|ei| inc.selected[ei].as_slice())
            .unwrap_or_default()
    };
    let own = f.update.title.as_deref().unwrap_or("");
    let installed: Vec<(&str, DateTime<Utc>)> = items("series_installed_later")
        .iter()
        .filter_map(|it| Some((it.fields.get("update")?, events[it.at].event.time)))
        .collect();
    let (update, started) = items("series_started_later")
        .iter()
        .filter_map(|it| Some((it.fields.get("update")?, events[it.at].event.time)))
        .filter(|(u, t)| {
            *u != own && *t > f.last_seen && !installed.iter().any(|(i, at)| i == u && at >= t)
        })
        .max_by_key(|(_, t)| *t)?;
    let restarts = sig
        .def
        .action
        .as_ref()
        .map(|a| a.restarts.clone())
        .unwrap_or_default();
    let restarted_since = restarts
        .iter()
        .flat_map(|id| items(id))
        .any(|it| events[it.at].event.time > started);
    Some(PendingUpdate {
        update: update.to_string(),
        started,
        restarted_since,
    })
}
