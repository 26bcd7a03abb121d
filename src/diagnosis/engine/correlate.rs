//! Per computer and signature: anchors close in time form incidents; each incident gathers the
//! other evidence inside its windows and joins (same PID, same service, same product), by hashed
//! keys, never pairwise.

use super::*;
use std::collections::VecDeque;

/// Whole-second classic records can be stamped up to a second before manifest records written
/// earlier (`domain.md` §2.1.1): windows get this much slack.
pub(crate) const SLACK_SECONDS: i64 = 2;

#[derive(Clone, Copy)]
pub(crate) struct Item<'a> {
    /// Index into the computer's sorted events.
    pub(crate) at: usize,
    pub(crate) time: DateTime<Utc>,
    pub(crate) fields: &'a Fields,
}

/// Evidence gathered for one incident.
pub(crate) struct Incident<'a> {
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
    pub(crate) anchors: Vec<(usize, Item<'a>)>,
    pub(crate) selected: Vec<Vec<Item<'a>>>,
}

impl Incident<'_> {
    pub(crate) fn found(&self, sig: &Signature, id: &str) -> bool {
        if id == "anchor" {
            return !self.anchors.is_empty();
        }
        sig.evidence
            .iter()
            .position(|e| e.id == id)
            .is_some_and(|i| !self.selected[i].is_empty())
    }
}

pub(crate) fn run_signature(
    signatures: &[Signature],
    si: usize,
    events: &[Matched],
    consumed: &mut [bool],
    inputs: &Inputs,
) -> Vec<Finding> {
    let sig = &signatures[si];
    // Items per evidence definition, in time order. Counted first, so that each list is made at
    // its size: a log of many installs has hundreds of thousands of one signature's anchors, and
    // a list that doubles holds the old and the new at once.
    let mut counts = vec![0usize; sig.evidence.len()];
    for m in events {
        for h in m.hits.iter().filter(|h| h.signature as usize == si) {
            counts[h.evidence as usize] += 1;
        }
    }
    let mut items: Vec<Vec<Item>> = counts.iter().map(|&n| Vec::with_capacity(n)).collect();
    for (at, m) in events.iter().enumerate() {
        for h in m.hits.iter().filter(|h| h.signature as usize == si) {
            items[h.evidence as usize].push(Item {
                at,
                time: m.event.time,
                fields: &h.fields,
            });
        }
    }
    let anchor_evidence = || {
        sig.evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| e.role == Role::Anchor)
    };
    let mut anchors: Vec<(usize, Item)> =
        Vec::with_capacity(anchor_evidence().map(|(ei, _)| items[ei].len()).sum());
    anchors.extend(
        anchor_evidence()
            .flat_map(|(ei, _)| items[ei].iter().map(move |it| (ei, *it)))
            .filter(|(_, it)| !consumed[it.at]),
    );
    // No two anchors share an event and an evidence definition, so the order is total: an
    // unstable sort gives the same one without a buffer of half the anchors.
    anchors.sort_unstable_by_key(|(ei, it)| (it.time, it.at, *ei));

    // Cluster anchors into incidents.
    // An anchor joins the most recent incident it is close enough to and does not conflict with,
    // so that two updates failing in turn do not split each other's incidents.
    // Anchors come in time order, so a cluster whose last anchor is more than the gap behind the
    // current one can never be joined again: only the open ones are searched, which keeps
    // clustering linear however many anchors a log holds.
    // Each cluster becomes incidents as soon as no later anchor can join it, in the order the
    // clusters were made: a log of many installs never holds all their clusters at once.
    // Per evidence definition, its items by the value of the field its first join reads, built
    // when a window holds too many items to filter one by one.
    let mut by_join: Vec<Option<HashMap<JoinKey, Vec<usize>>>> = vec![None; sig.evidence.len()];
    let mut out = Vec::new();
    let mut finish = |cluster: Cluster, consumed: &mut [bool]| {
        for (anchors, floor) in transactions(sig, cluster.anchors) {
            out.extend(incident_finding(
                sig,
                &items,
                &mut by_join,
                anchors,
                floor,
                events,
                consumed,
                inputs,
            ));
        }
    };
    let mut clusters: VecDeque<Cluster> = VecDeque::new();
    // The index of `clusters`' front among all clusters made; `open` holds such indices.
    let mut first = 0usize;
    let mut open: Vec<usize> = Vec::new();
    for a in anchors {
        open.retain(|&c| {
            a.1.time
                - clusters[c - first]
                    .anchors
                    .last()
                    .expect("non-empty")
                    .1
                    .time
                <= sig.gap
        });
        while !clusters.is_empty() && open.first() != Some(&first) {
            finish(clusters.pop_front().expect("non-empty"), consumed);
            first += 1;
        }
        let joined = open
            .iter()
            .rev()
            .copied()
            .find(|&c| !clusters[c - first].conflicts(sig, &a));
        match joined {
            Some(c) => clusters[c - first].push(sig, a),
            None => {
                let mut cluster = Cluster::default();
                cluster.push(sig, a);
                clusters.push_back(cluster);
                open.push(first + clusters.len() - 1);
            }
        }
    }
    for cluster in clusters {
        finish(cluster, consumed);
    }
    out
}

/// One transaction's incident: its evidence gathered in its windows and joins, checked against
/// what the signature requires, and built into a finding.
#[allow(clippy::too_many_arguments)]
fn incident_finding<'a>(
    sig: &Signature,
    items: &[Vec<Item<'a>>],
    by_join: &mut [Option<HashMap<JoinKey, Vec<usize>>>],
    cluster: Vec<(usize, Item<'a>)>,
    floor: Option<DateTime<Utc>>,
    events: &[Matched],
    consumed: &mut [bool],
    inputs: &Inputs,
) -> Option<Finding> {
    let start = cluster.first().expect("non-empty").1.time;
    let end = cluster.last().expect("non-empty").1.time;
    let mut inc = Incident {
        start,
        end,
        anchors: cluster,
        selected: vec![Vec::new(); sig.evidence.len()],
    };
    for (ei, ev) in sig.evidence.iter().enumerate() {
        if ev.role == Role::Anchor {
            inc.selected[ei] = inc
                .anchors
                .iter()
                .filter(|(a, _)| *a == ei)
                .map(|(_, it)| *it)
                .collect();
            continue;
        }
        let lo = match ev.before {
            Bound::Unbounded => None,
            Bound::Within(d) => Some(start - d - Duration::seconds(SLACK_SECONDS)),
        };
        let hi = match ev.after {
            Bound::Unbounded => None,
            Bound::Within(d) => Some(end + d + Duration::seconds(SLACK_SECONDS)),
        };
        let candidates = &items[ei];
        let from = lo.map_or(0, |lo| candidates.partition_point(|it| it.time < lo));
        // Nothing of an earlier transaction of the batch.
        let from = floor.map_or(from, |f| {
            from.max(candidates.partition_point(|it| it.time <= f))
        });
        let to = hi.map_or(candidates.len(), |hi| {
            candidates.partition_point(|it| it.time <= hi)
        });
        let window = from..to.max(from);
        let mut chosen: Vec<Item> = match ev.joins.first() {
            Some(j) if window.len() > JOIN_INDEX_ABOVE => {
                let targets = join_targets(j, &inc);
                if targets.is_empty() && j.if_present {
                    candidates[window].to_vec()
                } else {
                    let index = by_join[ei].get_or_insert_with(|| {
                        let mut index: HashMap<JoinKey, Vec<usize>> = HashMap::new();
                        for (at, it) in candidates.iter().enumerate() {
                            if let Some(v) = it.fields.get(&j.field) {
                                index.entry(join_key(v)).or_default().push(at);
                            }
                        }
                        index
                    });
                    let mut at: Vec<usize> = targets
                        .iter()
                        .filter_map(|t| index.get(&join_key(t)))
                        .flat_map(|found| {
                            let lo = found.partition_point(|&p| p < window.start);
                            let hi = found.partition_point(|&p| p < window.end);
                            found[lo..hi].iter().copied()
                        })
                        .collect();
                    at.sort_unstable();
                    at.dedup();
                    at.into_iter().map(|p| candidates[p]).collect()
                }
            }
            _ => candidates[window].to_vec(),
        };
        for j in &ev.joins {
            let targets = join_targets(j, &inc);
            if targets.is_empty() && j.if_present {
                continue;
            }
            // Hashed: a hostile log can put thousands of values on each side.
            let targets: HashSet<JoinKey> = targets.into_iter().map(join_key).collect();
            chosen.retain(|it| {
                it.fields
                    .get(&j.field)
                    .is_some_and(|v| targets.contains(&join_key(v)))
            });
        }
        inc.selected[ei] = chosen;
    }
    if sig
        .evidence
        .iter()
        .enumerate()
        .any(|(ei, e)| e.role == Role::Exclusion && !inc.selected[ei].is_empty())
    {
        return None;
    }
    let holds = |groups: &[Vec<String>]| {
        groups
            .iter()
            .all(|group| group.iter().any(|id| inc.found(sig, id)))
    };
    let mut unchecked = None;
    if !holds(&sig.def.requires) {
        match sig.def.missing_log.as_ref().filter(|m| holds(&m.requires)) {
            Some(m) => match log_missing(m, &inc, events, inputs) {
                Some(why) => unchecked = Some(why),
                None => return None,
            },
            None => return None,
        }
    }
    let status = status_of(sig, &inc);
    if sig.def.report_when == crate::diagnosis::signature::ReportWhen::Unresolved
        && status == Status::Resolved
    {
        return None;
    }
    for (ei, ev) in sig.evidence.iter().enumerate() {
        if ev.role != Role::Recovery {
            for it in &inc.selected[ei] {
                consumed[it.at] = true;
            }
        }
    }
    // Where this computer's logs end: a failure just before it is too early to judge.
    let computer = &events[inc.anchors[0].1.at].event.computer;
    let logs_end = inputs
        .logs
        .iter()
        .filter(|(_, span)| span.computer.eq_ignore_ascii_case(computer))
        .map(|(_, span)| span.last)
        .max();
    Some(build_finding(
        sig,
        &inc,
        status,
        events,
        &inputs.names,
        unchecked,
        logs_end,
    ))
}

/// Anchors of one transaction, and when the transaction before it ended.
pub(crate) type Transaction<'a> = (Vec<(usize, Item<'a>)>, Option<DateTime<Utc>>);

/// A cluster's anchors as transactions (`[incident] split_at`), each with the time the previous
/// one ended: a transaction ends at the anchors that carry the field with one value (an update's
/// 1022 and 1036), and anchors without it (a 1038 restart, an 11707) belong to the first that ends
/// at or after them, or to the last.
pub(crate) fn transactions<'a>(
    sig: &Signature,
    anchors: Vec<(usize, Item<'a>)>,
) -> Vec<Transaction<'a>> {
    let Some(field) = sig.def.incident.split_at.as_deref() else {
        return vec![(anchors, None)];
    };
    // (value, end) of each transaction, in time order.
    let mut ends: Vec<(&str, DateTime<Utc>)> = Vec::new();
    for (_, it) in &anchors {
        if let Some(v) = it.fields.get(field) {
            match ends.last_mut() {
                Some((last, end)) if join_key(last) == join_key(v) => *end = it.time,
                _ => ends.push((v, it.time)),
            }
        }
    }
    if ends.len() < 2 {
        return vec![(anchors, None)];
    }
    let mut parts: Vec<Vec<(usize, Item<'a>)>> = vec![Vec::new(); ends.len()];
    let mut current = 0;
    for a in anchors {
        let k = match a.1.fields.get(field) {
            Some(v) => {
                // Anchors come in time order, so a transaction's own come after the previous end.
                while current + 1 < ends.len() && join_key(ends[current].0) != join_key(v) {
                    current += 1;
                }
                current
            }
            None => ends
                .iter()
                .position(|(_, end)| *end >= a.1.time)
                .unwrap_or(ends.len() - 1),
        };
        parts[k].push(a);
    }
    let mut out = Vec::with_capacity(parts.len());
    for (k, mut part) in parts.into_iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        part.sort_by_key(|(ei, it)| (it.time, it.at, *ei));
        out.push((part, k.checked_sub(1).map(|p| ends[p].1)));
    }
    out
}

/// Windows wider than this are narrowed through an index on the join field.
pub(crate) const JOIN_INDEX_ABOVE: usize = 64;

/// The values a join compares against: its target field in the anchors or in another evidence
/// definition's selected items.
pub(crate) fn join_targets<'a>(j: &Join, inc: &Incident<'a>) -> Vec<&'a str> {
    match j.evidence {
        None => inc
            .anchors
            .iter()
            .filter_map(|(_, it)| it.fields.get(&j.target_field))
            .collect(),
        Some(t) => inc.selected[t]
            .iter()
            .filter_map(|it| it.fields.get(&j.target_field))
            .collect(),
    }
}

/// A value as joins compare it: two values name the same thing (numerically, or ignoring case)
/// exactly when their keys are equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum JoinKey {
    Number(u64),
    Text(String),
}

pub(crate) fn join_key(v: &str) -> JoinKey {
    match parse_number(v) {
        Some(n) => JoinKey::Number(n),
        None => JoinKey::Text(v.to_lowercase()),
    }
}

/// Anchors that form one incident, with the one value each cluster key has in them: a cluster
/// never holds two different values of a key, so an anchor conflicts exactly when its value
/// differs from the one remembered, and that is one lookup however many anchors came before.
#[derive(Default)]
pub(crate) struct Cluster<'a> {
    pub(crate) anchors: Vec<(usize, Item<'a>)>,
    pub(crate) keys: Vec<(String, JoinKey)>,
}

impl<'a> Cluster<'a> {
    pub(crate) fn key_value<'s>(
        sig: &'s Signature,
        a: &(usize, Item<'a>),
    ) -> Option<(&'s str, &'a str)> {
        let key = sig.evidence[a.0].cluster_key.as_deref()?;
        Some((key, a.1.fields.get(key)?))
    }

    pub(crate) fn conflicts(&self, sig: &Signature, a: &(usize, Item<'a>)) -> bool {
        let Some((key, value)) = Self::key_value(sig, a) else {
            return false;
        };
        self.keys
            .iter()
            .any(|(k, v)| *k == key && *v != join_key(value))
    }

    pub(crate) fn push(&mut self, sig: &Signature, a: (usize, Item<'a>)) {
        if let Some((key, value)) = Self::key_value(sig, &a)
            && !self.keys.iter().any(|(k, _)| *k == key)
        {
            self.keys.push((key.to_string(), join_key(value)));
        }
        self.anchors.push(a);
    }
}

/// What a saved state of the keys says (`[status] saved`), and whether it can be trusted.
pub(crate) struct SavedState<'a> {
    /// Per key, the saved item (its `old_start` is the start mode saved).
    pub(crate) items: HashMap<JoinKey, Item<'a>>,
    /// The state was saved again after the first change (or records the changed values for
    /// most of what changed): it holds the changed values, not the ones before.
    pub(crate) stale: Option<String>,
    /// The last save the incident shows (`[status] saved_at`).
    pub(crate) last_save: Option<Item<'a>>,
}

impl SavedState<'_> {
    /// The saved start mode of a key, when the state can be trusted.
    pub(crate) fn start_of(&self, key: &str) -> Option<&str> {
        if self.stale.is_some() {
            return None;
        }
        self.items.get(&join_key(key))?.fields.get("old_start")
    }
}

/// The saved state of `[status] saved`, judged against the changes of `each` and the saves of
/// `saved_at`: `None` when the signature names none or the incident found none.
pub(crate) fn saved_state<'a>(sig: &Signature, inc: &Incident<'a>) -> Option<SavedState<'a>> {
    let st = sig.def.status.as_ref()?;
    let key = st.key.as_deref()?;
    let idx = |id: &String| sig.evidence.iter().position(|e| e.id == *id);
    let saved = idx(st.saved.as_ref()?)?;
    if inc.selected[saved].is_empty() {
        return None;
    }
    let mut items = HashMap::new();
    for it in &inc.selected[saved] {
        if let Some(k) = it.fields.get(key) {
            items.entry(join_key(k)).or_insert(*it);
        }
    }
    let changes: Vec<Item> = st
        .each
        .iter()
        .flat_map(|e| e.ids())
        .filter_map(idx)
        .flat_map(|ei| inc.selected[ei].iter().copied())
        .collect();
    let restores: Vec<DateTime<Utc>> = st
        .restored_by
        .iter()
        .flat_map(|e| e.ids())
        .filter_map(idx)
        .flat_map(|ei| inc.selected[ei].iter().map(|it| it.time))
        .collect();
    let saves: Vec<Item> = st
        .saved_at
        .as_ref()
        .and_then(idx)
        .map(|ei| inc.selected[ei].clone())
        .unwrap_or_default();
    let last_save = saves.iter().max_by_key(|s| s.time).copied();
    let first_change = changes.iter().map(|c| c.time).min();
    let mut stale = None;
    if let Some(first) = first_change
        && let Some(again) = saves
            .iter()
            .filter(|s| s.time > first)
            .min_by_key(|s| s.time)
        && !restores.iter().any(|r| *r >= first && *r <= again.time)
    {
        stale = Some(format!(
            "the start modes were saved again at {}, after the first service was disabled at {} and with nothing re-enabled in between: the saved state records Disabled for the services the first attempt disabled, not the start types they had",
            crate::escape::time(again.time),
            crate::escape::time(first)
        ));
    }
    // The file alone: when it says Disabled for most of what setup disabled, it was saved after.
    let changed: HashSet<JoinKey> = changes
        .iter()
        .filter_map(|c| c.fields.get(key))
        .map(join_key)
        .collect();
    let saved_disabled = changed
        .iter()
        .filter(|k| items.get(*k).and_then(|it| it.fields.get("old_start")) == Some("disabled"))
        .count();
    if stale.is_none() && saved_disabled >= 3 && saved_disabled * 2 >= changed.len() {
        stale = Some(format!(
            "the saved state records Disabled for {saved_disabled} of the {} services setup disabled: it was saved after they were disabled (by a retry), not before",
            changed.len()
        ));
    }
    Some(SavedState {
        items,
        stale,
        last_save,
    })
}

/// For `each` items, the latest per key within the incident, and the restore that followed it.
pub(crate) fn restores<'a>(
    sig: &Signature,
    inc: &Incident<'a>,
) -> Vec<(Item<'a>, Option<Item<'a>>)> {
    changes(sig, inc).0
}

/// [`restores`], and the keys `each` names that were no change: disabled already before it (the
/// trusted saved state says so, or the record of changes, found for the other keys, has none for
/// them).
pub(crate) fn changes<'a>(
    sig: &Signature,
    inc: &Incident<'a>,
) -> (Vec<(Item<'a>, Option<Item<'a>>)>, Vec<String>) {
    let Some(st) = &sig.def.status else {
        return (Vec::new(), Vec::new());
    };
    let (Some(each), Some(key), Some(by)) = (&st.each, &st.key, &st.restored_by) else {
        return (Vec::new(), Vec::new());
    };
    let idx = |id: &String| {
        sig.evidence
            .iter()
            .position(|e| e.id == *id)
            .expect("validated")
    };
    // By hashed key, in first-seen order: a hostile log can disable thousands of services. A
    // key's item comes from the first evidence named that has one (the 7040 that says the start
    // type before, rather than a script's line that does not), the latest of it.
    let mut latest: Vec<(usize, Item)> = Vec::new();
    let mut slot: HashMap<JoinKey, usize> = HashMap::new();
    for (rank, each) in each.ids().iter().map(idx).enumerate() {
        for it in &inc.selected[each] {
            let Some(k) = it.fields.get(key) else {
                continue;
            };
            match slot.entry(join_key(k)) {
                std::collections::hash_map::Entry::Occupied(o) => {
                    let (r, l) = &mut latest[*o.get()];
                    if *r == rank && l.time <= it.time {
                        *l = *it;
                    }
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(latest.len());
                    latest.push((rank, *it));
                }
            }
        }
    }
    // A key whose trusted saved state was already disabled was not disabled by this change: setup
    // "disables" every service of its list, and nothing is to be undone for it. Likewise a key
    // only the later evidence names while the first (the 7040s that record every change of start
    // type) names others: its start type did not change, it was disabled already.
    let saved = saved_state(sig, inc);
    let recorded = latest.iter().any(|(rank, _)| *rank == 0);
    let mut unchanged: Vec<String> = Vec::new();
    let latest: Vec<Item> = latest
        .into_iter()
        .filter(|(rank, it)| {
            let name = it.fields.get(key).unwrap_or("");
            let before = saved.as_ref().and_then(|s| s.start_of(name));
            let was_disabled = (before == Some("disabled")
                && it.fields.get("old_start").is_none_or(|o| o == "disabled"))
                || (recorded && *rank > 0);
            if was_disabled {
                unchanged.push(name.to_string());
            }
            !was_disabled
        })
        .map(|(_, it)| it)
        .collect();
    unchanged.sort_by_key(|n| n.to_lowercase());
    let mut restores_of: HashMap<JoinKey, Vec<Item>> = HashMap::new();
    for by in by.ids().iter().map(idx) {
        for r in &inc.selected[by] {
            if let Some(k) = r.fields.get(key) {
                restores_of.entry(join_key(k)).or_default().push(*r);
            }
        }
    }
    for rs in restores_of.values_mut() {
        rs.sort_by_key(|r| r.time);
    }
    let out = latest
        .into_iter()
        .map(|d| {
            let k = join_key(d.fields.get(key).unwrap_or_default());
            let restore = restores_of.get(&k).and_then(|rs| {
                rs.iter()
                    .find(|r| r.time >= d.time && r.at != d.at)
                    .copied()
            });
            (d, restore)
        })
        .collect();
    (out, unchanged)
}

/// Why the log `m` names cannot say what the incident did, or `None` when it can: among the
/// inputs, a log of that name of the same computer holds records from before the incident to
/// after it.
fn log_missing(
    m: &crate::diagnosis::signature::MissingLogDef,
    inc: &Incident,
    events: &[Matched],
    inputs: &Inputs,
) -> Option<String> {
    let computer = &*events[inc.anchors[0].1.at].event.computer;
    if inputs
        .logs
        .iter()
        .any(|(_, l)| l.covers(&m.log, computer, inc.start, inc.end))
    {
        return None;
    }
    let same: Vec<String> = inputs
        .logs
        .iter()
        .filter(|(_, l)| l.is_of(&m.log, computer))
        .map(|(id, l)| {
            format!(
                "{} holds {} to {}",
                inputs.names.get(*id as usize).map_or("?", String::as_str),
                crate::escape::time(l.first),
                crate::escape::time(l.last)
            )
        })
        .collect();
    let why = if same.is_empty() {
        format!("no {} log of {computer} is among the logs read", m.log)
    } else {
        format!(
            "the {} log of {computer} does not reach back to the failure at {} ({}): it wrapped, or was cleared or cut",
            m.log,
            crate::escape::time(inc.start),
            same.join("; ")
        )
    };
    Some(format!("{}: {} could not be checked", why, m.unchecked))
}
