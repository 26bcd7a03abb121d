//! From an incident to a [`Finding`]: the update, the error and its meaning, the files in use,
//! the services with their start types, the evidence, capped where a hostile log would make them
//! endless, and the remediation.

use super::*;
use std::borrow::Cow;

/// The first value of `field` among the incident's items, in evidence order.
pub(crate) fn first<'a>(inc: &'a Incident, field: &str) -> Option<&'a str> {
    inc.selected
        .iter()
        .flatten()
        .find_map(|it| it.fields.get(field))
        .filter(|v| !v.is_empty())
}

/// Windows Installer's own words about the failure: of every message the incident holds, the
/// one nearest in time to the failure it explains (the anchors that carry no message), one that
/// gives a reason before a bare outcome ("Installation failed.", "Configuration failed.").
fn installer_message(inc: &Incident, events: &[Matched]) -> Option<String> {
    const OUTCOME_ONLY: [u16; 4] = [11708, 11725, 11727, 11729];
    let failures: Vec<DateTime<Utc>> = inc
        .anchors
        .iter()
        .filter(|(_, it)| it.fields.get("message").is_none())
        .map(|(_, it)| it.time)
        .collect();
    let distance = |t: DateTime<Utc>| {
        failures
            .iter()
            .map(|f| (t - *f).abs())
            .min()
            .unwrap_or_default()
    };
    inc.selected
        .iter()
        .flatten()
        .filter_map(|it| Some((it, it.fields.get("message").filter(|m| !m.is_empty())?)))
        .min_by_key(|(it, _)| {
            let e = &events[it.at].event;
            // A verbose log's outcome sentences (`Product: X -- Installation failed.`) are
            // outcomes too.
            let outcome_only = if e.provider.starts_with(crate::event::TEXT_PROVIDER_PREFIX) {
                e.event_id == crate::input::text::msi_log::ids::PRODUCT_OUTCOME
            } else {
                OUTCOME_ONLY.contains(&e.event_id)
            };
            (outcome_only, distance(it.time))
        })
        .map(|(_, m)| m.to_string())
}

/// The verbose installer log among the inputs that the incident read, and what it said of the
/// failure.
fn installer_log(
    inc: &Incident,
    events: &[Matched],
    file_names: &[String],
) -> Option<InstallerLog> {
    let from_log = inc.selected.iter().flatten().find(|it| {
        events[it.at]
            .event
            .provider
            .eq_ignore_ascii_case("evtriage:msi-log")
    })?;
    let file = file_names
        .get(events[from_log.at].event.source as usize)?
        .clone();
    let failed = inc
        .selected
        .iter()
        .flatten()
        .find(|it| it.fields.get("action").is_some());
    // The log 1023 names, by file name (its path is the server's; the input's is wherever the
    // engineer put it).
    let base = |p: &str| p.rsplit(['\\', '/']).next().unwrap_or(p).to_lowercase();
    let named_logs: Vec<String> = inc
        .selected
        .iter()
        .flatten()
        .filter(|it| {
            !events[it.at]
                .event
                .provider
                .starts_with(crate::event::TEXT_PROVIDER_PREFIX)
        })
        .filter_map(|it| it.fields.get("log_file"))
        .map(base)
        .collect();
    let named = (!named_logs.is_empty()).then(|| named_logs.contains(&base(&file)));
    Some(InstallerLog {
        named_by_event_log: named,
        file,
        failed_action: failed
            .and_then(|it| it.fields.get("action"))
            .map(str::to_string),
        context: failed
            .and_then(|it| it.fields.get("context"))
            .map(|c| c.lines().map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

pub(crate) fn build_finding(
    sig: &Signature,
    inc: &Incident,
    status: Status,
    events: &[Matched],
    file_names: &[String],
    unchecked: Option<String>,
    logs_end: Option<DateTime<Utc>>,
) -> Finding {
    let computer = events[inc.anchors[0].1.at].event.computer.to_string();
    let title = first(inc, "update").map(str::to_string);
    let update = UpdateInfo {
        kb: title.as_deref().and_then(knowledge::kb_of),
        title,
        product: first(inc, "product").map(str::to_string),
        package: first(inc, "package").map(str::to_string),
    };

    let msi = inc
        .selected
        .iter()
        .flatten()
        .filter_map(|it| it.fields.get("msi_error").and_then(parse_number))
        .find(|c| *c != 0);
    let logged_hresult = first(inc, "hresult")
        .and_then(parse_number)
        .and_then(|h| u32::try_from(h).ok());
    let (hresult, hresult_source) = match (
        logged_hresult,
        msi.and_then(crate::codes::hresult_from_win32),
    ) {
        (Some(h), _) => (Some(h), Some("windows_update")),
        (None, Some(h)) => (Some(h), Some("derived_from_msi")),
        (None, None) => (None, None),
    };
    let msi_info = msi.and_then(crate::codes::msi_code);
    let hr_info = hresult.and_then(crate::codes::hresult);
    let error = ErrorInfo {
        hresult: hresult.map(|h| format!("0x{h:08X}")),
        hresult_source: hresult_source.map(Cow::Borrowed),
        hresult_name: hr_info.map(|i| i.name.into()),
        msi,
        msi_name: msi_info.map(|i| i.name.into()),
        meaning: msi_info
            .or(hr_info)
            .map(|i| i.meaning)
            .or((msi.is_some() || hresult.is_some()).then_some(crate::codes::UNKNOWN))
            .map(Cow::Borrowed),
        installer_message: installer_message(inc, events),
        log_file: first(inc, "log_file").map(str::to_string),
        installer_log: installer_log(inc, events, file_names),
    };

    let mut left_out = Vec::new();
    let mut locked_files = locked_files(sig, inc);
    cap(
        &mut locked_files,
        MAX_LOCKED_FILES,
        "files in use",
        &mut left_out,
    );
    // Once: the services setup changed, with their restores, and those it did not change.
    let (changed, already_disabled) = changes(sig, inc);
    let mut services = services(sig, inc, changed);
    cap(&mut services, MAX_SERVICES, "services", &mut left_out);
    let saved_start_modes =
        saved_start_modes(sig, inc, events, file_names, &services, &already_disabled);
    let mut confidence = confidence_of(sig, inc);
    if unchecked.is_some() {
        // The evidence `missing_log.requires` asks for holds, and what the missing log would
        // have shown is not known: medium, whatever the levels that count on that log say.
        confidence.level = ConfidenceLevel::Medium;
    }
    let severity = sig.def.severity;
    let done = sig
        .def
        .done_when
        .iter()
        .all(|group| group.iter().any(|id| inc.found(sig, id)));
    let likely_causes = likely_causes(sig, inc, events, file_names);
    let waiting_for_restart = waiting_for_restart(sig, inc, events, logs_end);
    let (action_required, action_reason) = super::verdict::action_of(
        sig,
        inc,
        events,
        super::verdict::Facts {
            status,
            done,
            logs_end,
            services: services.len(),
            lasting_cause: likely_causes
                .iter()
                .find(|c| crate::diagnosis::vocabulary::cause(&c.cause).is_some_and(|c| c.lasting)),
            waiting: waiting_for_restart.as_ref(),
        },
    );
    let mut apps_to_close: Vec<String> = Vec::new();
    for it in inc.selected.iter().flatten() {
        for name in it
            .fields
            .get("apps_to_close")
            .into_iter()
            .flat_map(|v| v.split(", "))
        {
            if !name.is_empty() && !apps_to_close.iter().any(|a| a == name) {
                apps_to_close.push(name.to_string());
            }
        }
    }
    cap(
        &mut apps_to_close,
        MAX_LOCKED_FILES,
        "apps to close",
        &mut left_out,
    );

    let mut evidence = Vec::new();
    for (ei, e) in sig.evidence.iter().enumerate() {
        let selected = &inc.selected[ei];
        if selected.len() > MAX_EVIDENCE_EACH {
            left_out.push(format!(
                "{} more events of \"{}\" (the first {MAX_EVIDENCE_EACH} are listed)",
                selected.len() - MAX_EVIDENCE_EACH,
                e.describe
            ));
        }
        for it in selected.iter().take(MAX_EVIDENCE_EACH) {
            let ev = &events[it.at].event;
            evidence.push(EvidenceRef {
                evidence: e.id.clone(),
                role: e.role,
                describe: e.describe.clone(),
                file: file_names[ev.source as usize].clone(),
                record_id: ev.record_id,
                header_record_id: ev.header_record_id,
                time: ev.time,
                provider: ev.provider.to_string(),
                event_id: ev.event_id,
                fields: it
                    .fields
                    .quoted()
                    .map(|(n, raw)| (n.to_string(), raw.to_string()))
                    .collect(),
            });
        }
    }
    evidence.sort_by(|a, b| (a.time, &a.file, a.record_id).cmp(&(b.time, &b.file, b.record_id)));
    // The incident's range: the failure and what it did, not its recovery (named apart in
    // `action_reason` and the evidence) nor what describes the computer around it.
    let dates = |e: &EvidenceRef| {
        e.role != Role::Recovery
            && sig
                .evidence
                .iter()
                .find(|d| d.id == e.evidence)
                .is_none_or(|d| d.dates_incident)
    };
    let mut dating: Vec<DateTime<Utc>> = evidence
        .iter()
        .filter(|e| dates(e))
        .map(|e| e.time)
        .collect();
    if dating.is_empty() {
        dating = evidence.iter().map(|e| e.time).collect();
    }

    let mut finding = Finding {
        signature: sig.def.id.clone(),
        title: sig.def.title.clone(),
        kb_article: sig.def.kb.clone(),
        severity,
        status,
        action_required,
        action_reason,
        confidence,
        computer,
        first_seen: dating.first().copied().unwrap_or(inc.start),
        last_seen: dating.last().copied().unwrap_or(inc.end),
        summary: String::new(),
        update,
        error,
        locked_files,
        services,
        remediation: Vec::new(),
        evidence,
        left_out,
        unchecked: unchecked.into_iter().collect(),
        text_log_clock: None,
        already_disabled,
        saved_start_modes,
        windows: None,
        superseded_by: None,
        likely_causes,
        apps_to_close,
        waiting_for_restart,
    };
    finding.windows = windows_version(inc, events, file_names, &finding);
    finding.superseded_by = pending_in_series(sig, inc, events, &finding);
    if let Some(p) = &finding.superseded_by
        && finding.status != Status::Resolved
    {
        finding.action_reason.push_str(&format!(
            "; a later update of the same series, {}, started installing on {} and has not finished{}: it replaces this one",
            p.update,
            crate::escape::time(p.started),
            if p.restarted_since {
                ""
            } else {
                ", and the computer has not restarted since"
            }
        ));
    }
    // Of the boot records, only the one the Windows version rests on is quoted: the others say
    // the same, and a month of boots would bury the failure's own evidence.
    let rests_on = finding.windows.as_ref().map(|w| w.from.clone());
    finding.evidence.retain(|e| {
        !e.fields.contains_key("os_build")
            || rests_on.as_deref().is_some_and(|from| {
                let file = e.file.rsplit(['/', '\\']).next().unwrap_or(&e.file);
                from.starts_with(&format!("{file} record {}:", e.record_id))
            })
    });
    fill_default_starts(&mut finding);
    let (mut summary, steps) = remediation::render(sig, &finding, done);
    for c in &finding.likely_causes {
        summary.push_str(&format!(" Likely cause: {}; {}.", c.means, c.shown_by[0]));
    }
    finding.summary = summary;
    finding.remediation = steps;
    finding
}

/// The likely causes the incident's cause evidence shows (`likely_cause`), each with the records
/// that show it, in the order the signature defines them.
fn likely_causes(
    sig: &Signature,
    inc: &Incident,
    events: &[Matched],
    file_names: &[String],
) -> Vec<LikelyCause> {
    let mut out: Vec<LikelyCause> = Vec::new();
    for (ei, e) in sig.evidence.iter().enumerate() {
        let Some(cause) = e.likely_cause else {
            continue;
        };
        let mut shown_by: Vec<String> = inc.selected[ei]
            .iter()
            .take(MAX_EVIDENCE_EACH)
            .map(|it| {
                let ev = &events[it.at].event;
                let file = file_names
                    .get(ev.source as usize)
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
                    .unwrap_or_default();
                format!(
                    "{}: {file} record {}, {} UTC",
                    e.describe,
                    ev.record_id,
                    crate::escape::time(ev.time)
                )
            })
            .collect();
        if shown_by.is_empty() {
            continue;
        }
        match out.iter_mut().find(|c| c.cause == cause.name) {
            Some(c) => c.shown_by.append(&mut shown_by),
            None => out.push(LikelyCause {
                cause: Cow::Borrowed(cause.name),
                means: cause.means.to_string(),
                shown_by,
            }),
        }
    }
    out
}

/// For a signature whose finding waits for a restart (`[action] waits_for_restart`): since its
/// first anchor, and how many whole days to the end of the logs.
fn waiting_for_restart(
    sig: &Signature,
    inc: &Incident,
    events: &[Matched],
    logs_end: Option<DateTime<Utc>>,
) -> Option<WaitingForRestart> {
    sig.def.action.as_ref()?.waits_for_restart.as_ref()?;
    let since = inc
        .anchors
        .iter()
        .map(|(_, it)| events[it.at].event.time)
        .min()?;
    let end = logs_end.unwrap_or(since).max(since);
    Some(WaitingForRestart {
        since,
        days: (end - since).num_days(),
    })
}

/// What one finding lists at most. Real incidents hold a few dozen services and a handful of
/// files in use; past these, a log is hostile or broken, and listing it all would cost minutes
/// and bury the answer. What is cut is said in the finding's `left_out`.
pub(crate) const MAX_SERVICES: usize = 500;

pub(crate) const MAX_LOCKED_FILES: usize = 100;

pub(crate) const MAX_EVIDENCE_EACH: usize = 200;

pub(crate) fn cap<T>(list: &mut Vec<T>, max: usize, what: &str, left_out: &mut Vec<String>) {
    if list.len() > max {
        left_out.push(format!(
            "{} more {what} (the first {max} are listed)",
            list.len() - max
        ));
        list.truncate(max);
    }
}

pub(crate) fn locked_files(sig: &Signature, inc: &Incident) -> Vec<LockedFile> {
    let mut out: Vec<LockedFile> = Vec::new();
    // Entries by PID, and the (PID, path) pairs already listed: lookups, not passes.
    let mut by_pid: HashMap<Option<u32>, Vec<usize>> = HashMap::new();
    let mut listed: HashSet<(Option<u32>, Option<String>)> = HashSet::new();
    for (ei, e) in sig.evidence.iter().enumerate() {
        if e.role != Role::Cause {
            continue;
        }
        for it in &inc.selected[ei] {
            let pid = it
                .fields
                .get("pid")
                .and_then(parse_number)
                .and_then(|p| u32::try_from(p).ok());
            let path = it.fields.get("path").map(str::to_string);
            let image = it.fields.get("image").map(str::to_string);
            let process = it.fields.get("process").map(str::to_string).or_else(|| {
                image.as_deref().map(|i| {
                    let base = i.rsplit(['\\', '/']).next().unwrap_or(i);
                    base.strip_suffix(".exe").unwrap_or(base).to_string()
                })
            });
            if pid.is_none() && path.is_none() {
                continue;
            }
            // Restart Manager names the process of a file Windows Installer already named: merge.
            let same_process = pid.is_some().then(|| by_pid.get(&pid)).flatten();
            if let Some(&i) = same_process.and_then(|entries| {
                entries.iter().find(|&&i| {
                    let l = &out[i];
                    l.path.is_none() || path.is_none() || l.path == path
                })
            }) {
                let existing = &mut out[i];
                listed.remove(&(existing.pid, existing.path.clone()));
                if existing.path.is_none() {
                    existing.path = path;
                }
                if existing.image.is_none() {
                    existing.image = image;
                }
                if existing.process.is_none() {
                    existing.process = process;
                }
                listed.insert((existing.pid, existing.path.clone()));
                continue;
            }
            if !listed.insert((pid, path.clone())) {
                continue;
            }
            by_pid.entry(pid).or_default().push(out.len());
            out.push(LockedFile {
                path,
                process,
                pid,
                image,
            });
        }
    }
    out
}

/// What the finding says of the saved start modes, where the incident read them.
fn saved_start_modes(
    sig: &Signature,
    inc: &Incident,
    events: &[Matched],
    file_names: &[String],
    services: &[ServiceInfo],
    unchanged: &[String],
) -> Option<SavedStartModes> {
    let saved = saved_state(sig, inc)?;
    let any = saved.items.values().next()?;
    let file = file_names
        .get(events[any.at].event.source as usize)
        .cloned()
        .unwrap_or_default();
    let used = services
        .iter()
        .filter(|s| s.original_start_from == "saved_state")
        .count();
    // Of the keys the incident found unchanged (see `changes`), those the saved state shows were
    // disabled before.
    let disabled_before: Vec<String> = if saved.stale.is_none() {
        unchanged
            .iter()
            .filter(|n| saved.start_of(n) == Some("disabled"))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let note = match &saved.stale {
        Some(why) => {
            format!("{why}. Not used: restoring from it would leave the services disabled")
        }
        None => format!(
            "saved before the services were disabled: the start type of {used} service(s) comes from it"
        ),
    };
    Some(SavedStartModes {
        file,
        services: saved.items.len(),
        last_saved: saved.last_save.map(|s| s.time),
        stale: saved.stale.is_some(),
        note,
        disabled_before,
    })
}

/// Services whose start type no log gives take the Exchange version's default, said as such.
fn fill_default_starts(f: &mut Finding) {
    if !f.services.iter().any(|s| s.original_start == "unknown") {
        return;
    }
    let Some(version) = [&f.update.title, &f.update.product]
        .into_iter()
        .flatten()
        .find_map(|t| crate::services::exchange_version(t))
    else {
        return;
    };
    let defaults = crate::services::defaults(version);
    for s in f
        .services
        .iter_mut()
        .filter(|s| s.original_start == "unknown")
    {
        if let Some(d) = defaults
            .iter()
            .find(|d| d.key.eq_ignore_ascii_case(&s.name))
        {
            s.original_start = d.start.as_str().to_string();
            s.original_start_from = Cow::Borrowed("defaults");
        }
    }
}

/// The services of `changed` (each disabling and its restore, from [`changes`]).
pub(crate) fn services<'a>(
    sig: &Signature,
    inc: &Incident<'a>,
    changed: Vec<(Item<'a>, Option<Item<'a>>)>,
) -> Vec<ServiceInfo> {
    let Some(key) = sig.def.status.as_ref().and_then(|s| s.key.as_deref()) else {
        return Vec::new();
    };
    let effect_items: Vec<&Item> = sig
        .evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.role, Role::Effect))
        .flat_map(|(ei, _)| inc.selected[ei].iter())
        .collect();
    let impact_items: Vec<&Item> = sig
        .evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| e.role == Role::Impact)
        .flat_map(|(ei, _)| inc.selected[ei].iter())
        .collect();
    // Indexed by hashed key once, so that each service costs lookups, not a pass over them all.
    let mut stopped: HashMap<JoinKey, Vec<&Item>> = HashMap::new();
    for it in effect_items
        .iter()
        .filter(|it| it.fields.get("state").is_some_and(|s| s == "1"))
    {
        if let Some(k) = it.fields.get(key) {
            stopped.entry(join_key(k)).or_default().push(it);
        }
    }
    let mut impact_by_key: HashMap<JoinKey, Vec<(usize, &Item)>> = HashMap::new();
    let mut impact_by_display: HashMap<JoinKey, Vec<(usize, &Item)>> = HashMap::new();
    for (n, it) in impact_items.iter().enumerate() {
        if let Some(k) = it.fields.get(key) {
            impact_by_key.entry(join_key(k)).or_default().push((n, it));
        }
        if let Some(dn) = it.fields.get("display_name") {
            impact_by_display
                .entry(join_key(dn))
                .or_default()
                .push((n, it));
        }
    }
    let saved = saved_state(sig, inc);
    let mut out: Vec<ServiceInfo> = changed
        .into_iter()
        .map(|(d, r)| {
            let name = d.fields.get(key).unwrap_or_default().to_string();
            let display = d.fields.get("display_name").map(str::to_string);
            let was_running = stopped.get(&join_key(&name)).is_some_and(|its| {
                its.iter()
                    .any(|it| it.time <= d.time + Duration::minutes(10))
            });
            let mut refused: Vec<usize> = impact_by_key
                .get(&join_key(&name))
                .into_iter()
                .chain(
                    display
                        .as_deref()
                        .and_then(|dn| impact_by_display.get(&join_key(dn))),
                )
                .flatten()
                .filter(|(_, it)| it.time >= d.time)
                .map(|(n, _)| *n)
                .collect();
            refused.sort_unstable();
            refused.dedup();
            let start_refused = refused.len() as u32;
            let (original, from) = match d.fields.get("old_start") {
                Some(o) => (Some(o), "event_log"),
                None => match saved.as_ref().and_then(|s| s.start_of(&name)) {
                    Some(o) => (Some(o), "saved_state"),
                    None => (None, "unknown"),
                },
            };
            ServiceInfo {
                // Without the key name (param4), the service field fell back to the display
                // name: commands must then look the service up by display name.
                name_is_key: display.as_deref() != Some(name.as_str()),
                display_name: display,
                original_start: original.unwrap_or("unknown").to_string(),
                original_start_from: Cow::Borrowed(from),
                disabled_at: d.time,
                disabled_by: d.fields.get("sid").map(str::to_string),
                was_running,
                still_disabled: r.is_none(),
                restored_at: r.map(|r| r.time),
                restored_to: r
                    .and_then(|r| r.fields.get("new_start"))
                    .map(str::to_string),
                restored_by: r.and_then(|r| r.fields.get("sid")).map(str::to_string),
                start_refused,
                name,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (
            knowledge::start_order(&a.name),
            a.disabled_at,
            a.name.to_lowercase(),
        )
            .cmp(&(
                knowledge::start_order(&b.name),
                b.disabled_at,
                b.name.to_lowercase(),
            ))
    });
    let mut seen = HashSet::new();
    out.retain(|s| seen.insert(s.name.to_lowercase()));
    out
}
