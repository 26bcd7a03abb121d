//! What a finding's facts say, in evtriage's words, for every readable report: the error as one
//! line, each service with how it stands, the list of facts in order. Log text goes through the
//! escaper the writer passes in, the one for its own place.

use super::time;
use crate::diagnosis::finding::{ConfidenceLevel, Finding};
use crate::input::{InputReport, InputStatus};

pub(crate) fn confidence_word(f: &Finding) -> &'static str {
    match f.confidence.level {
        ConfidenceLevel::High => "high",
        ConfidenceLevel::Medium => "medium",
        ConfidenceLevel::Low => "low",
    }
}

/// Whether someone has to act, as the finding's heading says it in every format.
pub(crate) fn action_words(f: &Finding) -> &'static str {
    if f.action_required {
        "action required"
    } else {
        "no action required"
    }
}

/// The error as one line: the HRESULT, the Windows Installer code and what it means.
pub(crate) fn error_line(f: &Finding) -> Option<String> {
    let e = &f.error;
    let derived = if e.hresult_source.as_deref() == Some("derived_from_msi") {
        " (derived)"
    } else {
        ""
    };
    let code = match (&e.hresult, e.msi) {
        (Some(h), Some(m)) => format!(
            "{h}{derived} = Windows Installer {m} {}",
            e.msi_name.as_deref().unwrap_or("")
        ),
        (Some(h), None) => format!("{h} {}", e.hresult_name.as_deref().unwrap_or("")),
        (None, Some(m)) => format!(
            "Windows Installer {m} {}",
            e.msi_name.as_deref().unwrap_or("")
        ),
        (None, None) => return None,
    };
    let code = code.trim_end().to_string();
    Some(match e.meaning.as_deref() {
        Some(m) => format!("{code}: {m}"),
        None => code,
    })
}

fn utc_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// How the text logs of the finding's computer were placed in time, in one line.
pub(crate) fn clock_line(f: &Finding) -> Option<String> {
    let c = f.text_log_clock.as_ref()?;
    Some(match (&*c.basis, c.utc_offset_minutes) {
        ("anchored" | "anchored_to_transaction_start", Some(o)) => {
            let how = if c.basis == "anchored" {
                format!("{} anchor(s) in both kinds of log", c.anchors_total)
            } else {
                "anchored weakly: a run began just after the update's installer transaction".to_string()
            };
            let others: Vec<String> = c
                .offsets
                .iter()
                .filter(|v| v.utc_offset_minutes != o)
                .map(|v| utc_offset(v.utc_offset_minutes))
                .collect();
            let also = if others.is_empty() {
                String::new()
            } else {
                format!("; {} across a change of summer time", others.join(", "))
            };
            format!("text logs at {} ({how}{also})", utc_offset(o))
        }
        ("setup_log_time_zone", Some(o)) => format!(
            "text logs at {}, the zone ExchangeSetup.log states (standard time: nothing anchors them)",
            utc_offset(o)
        ),
        _ => "text logs kept at the server's wall-clock time: nothing places them against UTC (by date only)".to_string(),
    })
}

/// The verbose installer log the finding read, and the action that failed in it.
pub(crate) fn installer_log_line(f: &Finding, escape: fn(&str) -> String) -> Option<String> {
    let l = f.error.installer_log.as_ref()?;
    Some(match &l.failed_action {
        Some(a) => format!("{}: {} failed", escape(&l.file), escape(a)),
        None => escape(&l.file),
    })
}

/// What the saved start modes were worth.
pub(crate) fn saved_state_line(f: &Finding, escape: fn(&str) -> String) -> Option<String> {
    let s = f.saved_start_modes.as_ref()?;
    Some(if s.stale {
        format!(
            "{}: saved again after the services were disabled, not used",
            escape(&s.file)
        )
    } else {
        format!("{}: {}", escape(&s.file), escape(&s.note))
    })
}

/// The services setup's script disabled that were disabled already, left as they are.
pub(crate) fn already_disabled_line(f: &Finding, escape: fn(&str) -> String) -> Option<String> {
    if f.already_disabled.is_empty() {
        return None;
    }
    let names: Vec<String> = f.already_disabled.iter().map(|n| escape(n)).collect();
    Some(format!(
        "{} (disabled before the update: setup's script disabled them again, nothing changed; left as they are)",
        names.join(", ")
    ))
}

/// "name (auto, was running)" for each service, how it stands now when it is no longer disabled.
pub(crate) fn service_entries(f: &Finding) -> Vec<String> {
    f.services
        .iter()
        .map(|s| {
            let mut what = s.original_start.clone();
            match &*s.original_start_from {
                "saved_state" => what.push_str(" as saved"),
                "defaults" => what.push_str(" by default"),
                _ => {}
            }
            if s.was_running {
                what.push_str(", was running");
            }
            if !s.still_disabled {
                what.push_str(&format!(
                    ", restored to {}",
                    s.restored_to.as_deref().unwrap_or("?")
                ));
            } else if s.start_refused > 0 {
                what.push_str(&format!(", {} start refused", s.start_refused));
            }
            format!("{} ({what})", s.name)
        })
        .collect()
}

/// A finding's facts as the Markdown and HTML reports list them, key and value, each piece of log
/// text through `escape` (the format's own escaper) and evtriage's own words as they are.
pub(crate) fn facts(f: &Finding, escape: fn(&str) -> String) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    let update = f.update.title.as_deref().or(f.update.product.as_deref());
    facts.push(("Update", update.map(escape)));
    facts.push(("Error", error_line(f).map(|e| escape(&e))));
    facts.push((
        "Installer said",
        f.error.installer_message.as_deref().map(escape),
    ));
    facts.push(("Installer log", f.error.log_file.as_deref().map(escape)));
    facts.push(("Log read", installer_log_line(f, escape)));
    facts.push((
        "When",
        Some(format!(
            "{} – {} UTC",
            time(f.first_seen),
            time(f.last_seen)
        )),
    ));
    for l in &f.locked_files {
        let who = match (&l.process, l.pid) {
            (Some(p), Some(pid)) => format!("{} (PID {pid})", escape(p)),
            (Some(p), None) => escape(p),
            (None, Some(pid)) => format!("PID {pid}"),
            (None, None) => "?".into(),
        };
        let path = l.path.as_deref().map(escape).unwrap_or_default();
        facts.push(("Held by", Some(format!("{who}: {path}"))));
    }
    facts.push(("Times", clock_line(f)));
    facts.push(("Saved", saved_state_line(f, escape)));
    facts.push(("Left as is", already_disabled_line(f, escape)));
    if !f.services.is_empty() {
        let still = f.services.iter().filter(|s| s.still_disabled).count();
        let list: Vec<String> = service_entries(f).iter().map(|e| escape(e)).collect();
        facts.push((
            "Services",
            Some(format!(
                "{} disabled, {still} still disabled: {}",
                f.services.len(),
                list.join(", ")
            )),
        ));
    }
    facts
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.filter(|v| !v.is_empty())?)))
        .collect()
}

/// The inputs as the Markdown and HTML reports close with them: how many logs, how many were read
/// completely, and a line for each that was not (its path and problems through `escape`).
pub(crate) fn inputs_read(
    inputs: &[InputReport],
    escape: fn(&str) -> String,
) -> (usize, usize, Vec<String>) {
    let logs = inputs
        .iter()
        .filter(|i| i.status != InputStatus::NotAnEventLog)
        .count();
    let problems: Vec<String> = inputs
        .iter()
        .filter(|i| i.is_problem())
        .map(|i| {
            let errors: Vec<String> = i.errors.iter().map(|e| escape(e)).collect();
            format!(
                "{} ({:?}): {}",
                escape(&i.path),
                i.status,
                errors.join("; ")
            )
        })
        .collect();
    (logs, logs - problems.len(), problems)
}
