//! What an incident amounts to: its status (unresolved, partially resolved, resolved) and the
//! confidence its evidence supports.

use super::*;

pub(crate) fn status_of(sig: &Signature, inc: &Incident) -> Status {
    let Some(st) = &sig.def.status else {
        return if sig.def.severity == Severity::Info {
            Status::Informational
        } else {
            Status::Unresolved
        };
    };
    if st.resolved_by.iter().any(|by| inc.found(sig, by)) {
        return Status::Resolved;
    }
    if st.each.is_some() {
        let r = restores(sig, inc);
        let restored = r.iter().filter(|(_, x)| x.is_some()).count();
        return if r.is_empty() || restored == 0 {
            if sig.def.severity == Severity::Info && r.is_empty() {
                Status::Informational
            } else {
                Status::Unresolved
            }
        } else if restored == r.len() {
            Status::Resolved
        } else {
            Status::PartiallyResolved
        };
    }
    if sig.def.severity == Severity::Info {
        Status::Informational
    } else {
        Status::Unresolved
    }
}

pub(crate) fn confidence_of(sig: &Signature, inc: &Incident) -> Confidence {
    let holds = |groups: &[Vec<String>]| {
        !groups.is_empty() && groups.iter().all(|g| g.iter().any(|id| inc.found(sig, id)))
    };
    let level = if holds(&sig.def.confidence.high) {
        ConfidenceLevel::High
    } else if holds(&sig.def.confidence.medium) {
        ConfidenceLevel::Medium
    } else {
        ConfidenceLevel::Low
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (ei, e) in sig.evidence.iter().enumerate() {
        if matches!(e.role, Role::Exclusion) {
            continue;
        }
        let n = inc.selected[ei].len();
        if n > 0 {
            found.push(if n > 1 {
                format!("{} ({n} events)", e.describe)
            } else {
                e.describe.clone()
            });
        } else if !matches!(e.role, Role::Recovery | Role::Context | Role::Impact)
            && !e
                .providers
                .iter()
                .all(|p| p.starts_with(crate::event::TEXT_PROVIDER_PREFIX))
        {
            // A text log that was not sent is not evidence that is missing: the event logs say
            // what it would.
            missing.push(e.describe.clone());
        }
    }
    Confidence {
        level,
        found,
        missing,
    }
}

/// What the verdict on action rests on, besides the incident.
pub(crate) struct Facts<'a> {
    pub status: Status,
    /// What would finish it (`done_when`) is shown.
    pub done: bool,
    pub logs_end: Option<DateTime<Utc>>,
    /// How many services it left changed.
    pub services: usize,
    /// A likely cause that outlasts the failure (the component store damaged).
    pub lasting_cause: Option<&'a LikelyCause>,
    /// For what waits for a restart: since when, and how long.
    pub waiting: Option<&'a WaitingForRestart>,
}

/// Whether someone has to act, and why (docs/signatures.md, "Action required"): information
/// never; a resolved failure only while what would finish it (`done_when`) is not shown; what
/// waits for a restart once it has waited longer than the signature allows; a failure with a
/// likely cause that outlasts it (a damaged component store) always; a failure of something
/// Windows retries by itself only when it persists (it failed on two or more days, or again
/// after a restart); any other unresolved failure always.
pub(crate) fn action_of(
    sig: &Signature,
    inc: &Incident,
    events: &[Matched],
    facts: Facts,
) -> (bool, String) {
    let Facts {
        status,
        done,
        logs_end,
        services,
        lasting_cause,
        waiting,
    } = facts;
    if status == Status::Resolved || sig.def.severity == Severity::Info {
        let recovered = sig
            .evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| e.role == Role::Recovery)
            .flat_map(|(ei, e)| inc.selected[ei].iter().map(move |it| (ei, it, e)))
            .map(|(ei, it, e)| (events[it.at].event.time, ei, e.describe.as_str()))
            // The latest; of records at the same moment, the signature's first definition (the
            // same update installed, before "an update of the same series").
            .max_by_key(|(t, ei, _)| (*t, std::cmp::Reverse(*ei)));
        let how = match recovered {
            Some((t, _, what)) => format!("{what}, {}", crate::escape::time(t)),
            None => "what it did was undone later".to_string(),
        };
        return if sig.def.severity == Severity::Info {
            if status == Status::Resolved {
                (
                    false,
                    format!("information: nothing failed; resolved: {how}"),
                )
            } else {
                (false, "information: nothing failed".into())
            }
        } else if done {
            (false, format!("resolved: {how}"))
        } else {
            (
                true,
                format!(
                    "its effects were undone ({how}), but nothing shows the update installed since: it still needs installing"
                ),
            )
        };
    }
    if let (Some(w), Some(limit)) = (
        waiting,
        sig.def
            .action
            .as_ref()
            .and_then(|a| a.waits_for_restart.as_deref())
            .and_then(crate::diagnosis::signature::parse_duration),
    ) {
        let end = logs_end.unwrap_or(w.since);
        return if end - w.since >= limit {
            (
                true,
                format!(
                    "it has waited {} for a restart ({} to the end of the logs, {}): it is not installed until the computer restarts",
                    span_words(end - w.since),
                    crate::escape::time(w.since),
                    crate::escape::time(end)
                ),
            )
        } else {
            (
                false,
                format!(
                    "a restart is pending since {} ({} before the end of the logs): it completes at the next restart; act if none comes within {}",
                    crate::escape::time(w.since),
                    span_words(end - w.since),
                    span_words(limit)
                ),
            )
        };
    }
    if let Some(c) = lasting_cause {
        return (
            true,
            format!(
                "it will not fix itself: {}; {}",
                c.means,
                c.shown_by.first().map(String::as_str).unwrap_or_default()
            ),
        );
    }
    let mut failures: Vec<DateTime<Utc>> = inc
        .anchors
        .iter()
        .map(|(_, it)| events[it.at].event.time)
        .collect();
    failures.sort();
    let (Some(&first), Some(&last)) = (failures.first(), failures.last()) else {
        return (true, "unresolved at the end of the logs".into());
    };
    match &sig.def.action {
        Some(a) if a.retried_by_windows => {
            let mut days: Vec<chrono::NaiveDate> =
                failures.iter().map(|t| t.date_naive()).collect();
            days.dedup();
            if days.len() >= 2 {
                return (
                    true,
                    format!(
                        "it persists: it failed on {} days, {} to {}, and Windows' own retries did not fix it",
                        days.len(),
                        days[0],
                        days[days.len() - 1]
                    ),
                );
            }
            let restart = a
                .restarts
                .iter()
                .filter_map(|id| sig.evidence.iter().position(|e| &e.id == id))
                .flat_map(|ei| inc.selected[ei].iter())
                .map(|it| events[it.at].event.time)
                .filter(|t| *t > first && *t < last)
                .min();
            if let Some(r) = restart {
                return (
                    true,
                    format!(
                        "it persists: it failed again after the computer restarted ({})",
                        crate::escape::time(r)
                    ),
                );
            }
            match logs_end {
                Some(end) if end - last < Duration::hours(24) => (
                    false,
                    format!(
                        "too early to tell: the logs end {} after the failure, before Windows would retry it; collect the logs again later",
                        span_words(end - last)
                    ),
                ),
                Some(end) => (
                    false,
                    format!(
                        "a failure on one day ({}) of an update Windows retries by itself, and no later failure up to the end of the logs ({}): watch for it failing again",
                        first.date_naive(),
                        crate::escape::time(end)
                    ),
                ),
                None => (
                    false,
                    format!(
                        "a failure on one day ({}) of an update Windows retries by itself: watch for it failing again",
                        first.date_naive()
                    ),
                ),
            }
        }
        _ if services > 0 && status == Status::PartiallyResolved => (
            true,
            "some of what it did was undone later, not all: services are still disabled".into(),
        ),
        _ if services > 0 => (
            true,
            "services it disabled are still disabled at the end of the logs".into(),
        ),
        _ if status == Status::PartiallyResolved => {
            (true, "some of what it did was undone later, not all".into())
        }
        _ => (
            true,
            "the failure is not undone at the end of the logs, and nothing else retries it".into(),
        ),
    }
}

/// "9 days", "3 hours", "40 minutes".
fn span_words(d: Duration) -> String {
    if d >= Duration::days(2) {
        format!("{} days", d.num_days())
    } else if d >= Duration::hours(2) {
        format!("{} hours", d.num_hours())
    } else {
        format!("{} minutes", d.num_minutes().max(0))
    }
}
