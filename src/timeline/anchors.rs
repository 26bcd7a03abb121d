//! Anchors: the moments both a text log and an event log record (a `Disabling service 'X'.`
//! line and the 7040 that disabled X, an installer log's `Info 1603` and MsiInstaller 1025 for
//! the same process…), paired to find the offset of the text log's local time.

use crate::diagnosis::Matched;
use crate::event::TEXT_PROVIDER_PREFIX;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The pairs of (text provider, text event) and (event-log provider, event) that record the same
/// moment, and the field both carry that says it is the same thing.
pub(super) const ANCHOR_KINDS: &[AnchorKind] = &[
    AnchorKind::new(
        "evtriage:service-control",
        &[30],
        "service control manager",
        &[7040],
        "service",
    ),
    AnchorKind::new(
        "evtriage:service-control",
        &[20, 21],
        "service control manager",
        &[7036],
        "service",
    ),
    AnchorKind::new("evtriage:msi-log", &[4], "msiinstaller", &[1025], "pid"),
    AnchorKind::new(
        "evtriage:msi-log",
        &[6, 7],
        "msiinstaller",
        &[1022, 1023, 1024, 1033, 1035, 1036, 11708, 11707, 11728],
        "product",
    ),
];

/// A text log's line and an event-log record that say the same moment.
pub(super) struct AnchorKind {
    text_provider: &'static str,
    text_ids: &'static [u16],
    /// Lowercase.
    log_provider: &'static str,
    log_ids: &'static [u16],
    /// The field both carry that says they are the same thing.
    field: &'static str,
}

impl AnchorKind {
    const fn new(
        text_provider: &'static str,
        text_ids: &'static [u16],
        log_provider: &'static str,
        log_ids: &'static [u16],
        field: &'static str,
    ) -> Self {
        AnchorKind {
            text_provider,
            text_ids,
            log_provider,
            log_ids,
            field,
        }
    }
}

/// Weak anchors, used only when no strong one is found for a computer: the start of a
/// service-control run or of an installer log's session, and the installer transaction of an
/// Exchange package (1040) that began just before it. No field says they are the same install:
/// a pairing counts only when exactly one such transaction is within a day of the line.
pub(super) const WEAK_ANCHOR_KINDS: &[AnchorKind] = &[
    AnchorKind::new(
        "evtriage:service-control",
        &[1],
        "msiinstaller",
        &[1040],
        "package",
    ),
    AnchorKind::new("evtriage:msi-log", &[1], "msiinstaller", &[1040], "package"),
];

/// A text line and the record it anchors to may be this far apart beyond a whole number of
/// quarter hours (the script logs before it acts; clocks drift).
pub(super) const SLACK_SECONDS: i64 = 120;
/// The same for weak anchors: a run starts minutes into its transaction.
pub(super) const WEAK_SLACK_SECONDS: i64 = 420;

pub(super) fn text_kind(provider: &str, id: u16) -> &'static str {
    match (provider.strip_prefix(TEXT_PROVIDER_PREFIX), id) {
        (Some("service-control"), 30) => "Disabling service",
        (Some("service-control"), 20) => "Stopping service",
        (Some("service-control"), 21) => "Killing service",
        (Some("msi-log"), 4) => "Info 1603 (file in use)",
        (Some("msi-log"), 6) => "the product's outcome",
        (Some("msi-log"), 7) => "Windows Installer's outcome",
        (Some("msi-log"), 1) => "the session began",
        (Some("service-control"), 1) => "the service-control run began",
        _ => "a line",
    }
}

pub(super) fn nearest(anchors: &[(DateTime<Utc>, i32)], at: DateTime<Utc>) -> Option<i32> {
    if anchors.is_empty() {
        return None;
    }
    let i = anchors.partition_point(|(t, _)| *t < at);
    let before = i.checked_sub(1).map(|j| anchors[j]);
    let after = anchors.get(i).copied();
    match (before, after) {
        (Some(b), Some(a)) => Some(if at - b.0 <= a.0 - at { b.1 } else { a.1 }),
        (Some(b), None) => Some(b.1),
        (None, Some(a)) => Some(a.1),
        (None, None) => None,
    }
}

/// The key field of an event's first hit that has it.
fn key<'a>(m: &'a Matched, field: &str) -> Option<&'a str> {
    m.hits
        .iter()
        .find_map(|h| h.fields.get(field))
        .filter(|v| !v.is_empty())
}

/// (text event, event-log event, offset in minutes) for every pairing that lands on a quarter
/// hour.
pub(super) fn find_anchors(
    matched: &[Matched],
    texts: &[usize],
    logs: &[usize],
    kinds: &[AnchorKind],
    slack: i64,
) -> Vec<(usize, usize, i32)> {
    let weak = slack > SLACK_SECONDS;
    let mut out = Vec::new();
    for kind in kinds {
        let (tp, tids, lp, lids, field) = (
            kind.text_provider,
            kind.text_ids,
            kind.log_provider,
            kind.log_ids,
            kind.field,
        );
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for &l in logs {
            let e = &matched[l].event;
            if lids.contains(&e.event_id)
                && e.provider.eq_ignore_ascii_case(lp)
                && let Some(k) = key(&matched[l], field)
            {
                by_key.entry(k.to_lowercase()).or_default().push(l);
            }
        }
        if by_key.is_empty() {
            continue;
        }
        for &t in texts {
            let e = &matched[t].event;
            if !(tids.contains(&e.event_id) && e.provider.eq_ignore_ascii_case(tp)) {
                continue;
            }
            // A weak anchor has no key of its own: every transaction is a candidate.
            let all: Vec<usize>;
            let candidates = if weak {
                all = by_key.values().flatten().copied().collect();
                &all
            } else {
                let Some(k) = key(&matched[t], field) else {
                    continue;
                };
                let Some(candidates) = by_key.get(&k.to_lowercase()) else {
                    continue;
                };
                candidates
            };
            let within_a_day: Vec<(usize, i64)> = candidates
                .iter()
                .map(|&l| (l, (e.time - matched[l].event.time).num_seconds()))
                .filter(|(_, d)| d.abs() <= 15 * 3600)
                .collect();
            if weak && within_a_day.len() != 1 {
                continue;
            }
            // The candidate closest to a quarter hour.
            let best = within_a_day
                .into_iter()
                .filter_map(|(l, d)| {
                    let q = (d as f64 / 900.0).round() as i64;
                    let off = (d - q * 900).abs();
                    let e = &matched[l].event;
                    (off <= slack && (-48..=56).contains(&q)).then_some((
                        (off, e.source, e.record_id),
                        l,
                        (q * 15) as i32,
                    ))
                })
                .min_by_key(|(k, _, _)| *k);
            if let Some((_, l, off)) = best {
                out.push((t, l, off));
            }
        }
    }
    out
}
