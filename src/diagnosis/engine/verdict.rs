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
