//! Correlation: per computer, anchors close in time form incidents; each incident gathers the other
//! evidence inside its windows and joins (same PID, same service, same product), is checked against
//! what the signature requires, and becomes a finding with a status, a confidence and remediation.
//! Signatures run in priority order, and an event that explains one finding cannot anchor another,
//! so an Exchange rollup failure is not reported again as a generic installer failure.

use super::finding::*;
use super::remediation;
use super::signature::{Bound, Fields, Join, Role, Severity, Signature};
use crate::event::{Event, SourceId, parse_number};
use crate::knowledge;
use crate::shared::Shared;
use chrono::{DateTime, Duration, Utc};
use rustc_hash::FxHashMap;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

/// One event that some evidence definition matched, with the fields each match extracted. A
/// large input keeps many of these until everything is read, so they hold only what correlation
/// and evidence quote: the payload, SID and PID live on in the hits' fields where signatures
/// asked for them.
#[derive(Debug, Clone)]
pub struct Matched {
    pub event: KeptEvent,
    pub hits: Arc<[Hit]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeptEvent {
    pub source: SourceId,
    pub event_id: u16,
    pub record_id: u64,
    pub header_record_id: Option<u64>,
    pub time: DateTime<Utc>,
    pub computer: Arc<str>,
    pub provider: Arc<str>,
}

impl From<&Event> for KeptEvent {
    fn from(e: &Event) -> Self {
        KeptEvent {
            source: e.source,
            event_id: e.event_id,
            record_id: e.record_id,
            header_record_id: e.header_record_id,
            time: e.time,
            computer: e.computer.clone(),
            provider: e.provider.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hit {
    pub signature: u32,
    pub evidence: u32,
    pub fields: Fields,
}

/// One copy of each distinct hit list for the whole run. On a fleet most kept events are
/// service-state changes whose fields (service, state, start types) repeat across thousands of
/// hosts, so their lists are worth sharing whole. Bounded like the values in them: past the
/// limit, and for lists holding values too long to share, each event keeps its own list.
pub struct SharedHits(std::sync::Mutex<Shared<[Hit]>>);

impl Default for SharedHits {
    fn default() -> Self {
        SharedHits(std::sync::Mutex::new(Shared::bounded(Self::MAX_LISTS)))
    }
}

impl SharedHits {
    const MAX_LISTS: usize = 1 << 16;

    pub fn share(&self, hits: Vec<Hit>) -> Arc<[Hit]> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.share(hits, |hits| hits.iter().all(|h| h.fields.all_shareable()))
    }
}

/// Whole-second classic records can be stamped up to a second before manifest records written
/// earlier (`domain.md` §2.1.1): windows get this much slack.
const SLACK_SECONDS: i64 = 2;

#[derive(Clone, Copy)]
struct Item<'a> {
    /// Index into the computer's sorted events.
    at: usize,
    time: DateTime<Utc>,
    fields: &'a Fields,
}

/// Evidence gathered for one incident.
struct Incident<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    anchors: Vec<(usize, Item<'a>)>,
    selected: Vec<Vec<Item<'a>>>,
}

impl Incident<'_> {
    fn found(&self, sig: &Signature, id: &str) -> bool {
        if id == "anchor" {
            return !self.anchors.is_empty();
        }
        sig.evidence
            .iter()
            .position(|e| e.id == id)
            .is_some_and(|i| !self.selected[i].is_empty())
    }
}

/// Run every signature over every computer's events; findings come out sorted by computer and time.
pub fn diagnose(
    signatures: &[Signature],
    matched: Vec<Matched>,
    file_names: &[String],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    diagnose_each(signatures, matched, file_names, |batch| {
        findings.extend(batch);
        ControlFlow::Continue(())
    });
    findings
}

/// The same diagnosis, handed over one computer at a time (computers by name, case-insensitively;
/// each batch by time), so that a fleet's findings never all have to be in memory at once. A
/// computer's events are freed as soon as its findings are built; `emit` may stop the run.
pub fn diagnose_each(
    signatures: &[Signature],
    matched: Vec<Matched>,
    file_names: &[String],
    mut emit: impl FnMut(Vec<Finding>) -> ControlFlow<()>,
) {
    let mut matched = matched;
    // Sorted in place rather than regrouped, so that a large input's events are never held twice.
    // Computers by name case-insensitively; within one, a total order independent of the order
    // files were read in.
    let spellings: HashSet<Arc<str>> = matched.iter().map(|m| m.event.computer.clone()).collect();
    let mut names: Vec<(String, Arc<str>)> = spellings
        .into_iter()
        .map(|name| (name.trim().to_lowercase(), name))
        .collect();
    names.sort();
    let mut computers: HashMap<Arc<str>, u32> = HashMap::new();
    let mut rank = 0;
    for (i, (key, name)) in names.iter().enumerate() {
        if i > 0 && names[i - 1].0 != *key {
            rank += 1;
        }
        computers.insert(name.clone(), rank);
    }
    // Ranked by the address of each name's shared string, so that the sort compares integers;
    // the names stay alive in `matched` for as long as the map is used.
    let address = |m: &Matched| Arc::as_ptr(&m.event.computer) as *const u8 as usize;
    let mut by_address: FxHashMap<usize, u32> = FxHashMap::default();
    for m in &matched {
        by_address
            .entry(address(m))
            .or_insert_with(|| computers[&*m.event.computer]);
    }
    let rank_of = |m: &Matched| by_address[&address(m)];
    let mut file_rank = vec![0u32; file_names.len()];
    let mut files: Vec<usize> = (0..file_names.len()).collect();
    files.sort_by(|&a, &b| file_names[a].cmp(&file_names[b]));
    for (rank, &source) in files.iter().enumerate() {
        file_rank[source] = rank as u32;
    }
    // Unstable: a stable sort would borrow a buffer half the size of all kept events, and events
    // that tie on every key here are the same record read twice.
    matched.sort_unstable_by_key(|m| {
        (
            rank_of(m),
            m.event.time,
            file_rank[m.event.source as usize],
            m.event.record_id,
        )
    });
    let mut order: Vec<usize> = (0..signatures.len()).collect();
    order.sort_by_key(|&i| (signatures[i].def.priority, signatures[i].def.id.clone()));

    for events in matched.chunk_by(|a, b| rank_of(a) == rank_of(b)) {
        let mut consumed = vec![false; events.len()];
        let mut findings = Vec::new();
        for &si in &order {
            findings.extend(run_signature(
                signatures,
                si,
                events,
                &mut consumed,
                file_names,
            ));
        }
        // One computer's events can carry differently-cased names: the displayed one breaks ties.
        findings.sort_by(|a, b| {
            (a.first_seen, &a.signature, &a.computer).cmp(&(
                b.first_seen,
                &b.signature,
                &b.computer,
            ))
        });
        if !findings.is_empty() && emit(findings).is_break() {
            return;
        }
    }
}

fn run_signature(
    signatures: &[Signature],
    si: usize,
    events: &[Matched],
    consumed: &mut [bool],
    file_names: &[String],
) -> Vec<Finding> {
    let sig = &signatures[si];
    // Items per evidence definition, in time order.
    let mut items: Vec<Vec<Item>> = vec![Vec::new(); sig.evidence.len()];
    for (at, m) in events.iter().enumerate() {
        for h in m.hits.iter().filter(|h| h.signature as usize == si) {
            items[h.evidence as usize].push(Item {
                at,
                time: m.event.time,
                fields: &h.fields,
            });
        }
    }
    let mut anchors: Vec<(usize, Item)> = sig
        .evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| e.role == Role::Anchor)
        .flat_map(|(ei, _)| items[ei].iter().map(move |it| (ei, *it)))
        .filter(|(_, it)| !consumed[it.at])
        .collect();
    anchors.sort_by_key(|(ei, it)| (it.time, it.at, *ei));

    // Cluster anchors into incidents.
    // An anchor joins the most recent incident it is close enough to and does not conflict with,
    // so that two updates failing in turn do not split each other's incidents.
    // Anchors come in time order, so a cluster whose last anchor is more than the gap behind the
    // current one can never be joined again: only the open ones are searched, which keeps
    // clustering linear however many anchors a log holds.
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for a in anchors {
        open.retain(|&c| {
            a.1.time - clusters[c].anchors.last().expect("non-empty").1.time <= sig.gap
        });
        let joined = open
            .iter()
            .rev()
            .copied()
            .find(|&c| !clusters[c].conflicts(sig, &a));
        match joined {
            Some(c) => clusters[c].push(sig, a),
            None => {
                let mut cluster = Cluster::default();
                cluster.push(sig, a);
                clusters.push(cluster);
                open.push(clusters.len() - 1);
            }
        }
    }
    // Per evidence definition, its items by the value of the field its first join reads, built
    // when a window holds too many items to filter one by one.
    let mut by_join: Vec<Option<HashMap<JoinKey, Vec<usize>>>> = vec![None; sig.evidence.len()];

    let mut out = Vec::new();
    for Cluster {
        anchors: cluster, ..
    } in clusters
    {
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
            continue;
        }
        if !sig
            .def
            .requires
            .iter()
            .all(|group| group.iter().any(|id| inc.found(sig, id)))
        {
            continue;
        }
        let status = status_of(sig, &inc);
        if sig.def.report_when == super::signature::ReportWhen::Unresolved
            && status == Status::Resolved
        {
            continue;
        }
        for (ei, ev) in sig.evidence.iter().enumerate() {
            if ev.role != Role::Recovery {
                for it in &inc.selected[ei] {
                    consumed[it.at] = true;
                }
            }
        }
        out.push(build_finding(sig, &inc, status, events, file_names));
    }
    out
}

/// Windows wider than this are narrowed through an index on the join field.
const JOIN_INDEX_ABOVE: usize = 64;

/// The values a join compares against: its target field in the anchors or in another evidence
/// definition's selected items.
fn join_targets<'a>(j: &Join, inc: &Incident<'a>) -> Vec<&'a str> {
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
enum JoinKey {
    Number(u64),
    Text(String),
}

fn join_key(v: &str) -> JoinKey {
    match parse_number(v) {
        Some(n) => JoinKey::Number(n),
        None => JoinKey::Text(v.to_lowercase()),
    }
}

/// Anchors that form one incident, with the one value each cluster key has in them: a cluster
/// never holds two different values of a key, so an anchor conflicts exactly when its value
/// differs from the one remembered, and that is one lookup however many anchors came before.
#[derive(Default)]
struct Cluster<'a> {
    anchors: Vec<(usize, Item<'a>)>,
    keys: Vec<(String, JoinKey)>,
}

impl<'a> Cluster<'a> {
    fn key_value<'s>(sig: &'s Signature, a: &(usize, Item<'a>)) -> Option<(&'s str, &'a str)> {
        let key = sig.evidence[a.0].cluster_key.as_deref()?;
        Some((key, a.1.fields.get(key)?))
    }

    fn conflicts(&self, sig: &Signature, a: &(usize, Item<'a>)) -> bool {
        let Some((key, value)) = Self::key_value(sig, a) else {
            return false;
        };
        self.keys
            .iter()
            .any(|(k, v)| *k == key && *v != join_key(value))
    }

    fn push(&mut self, sig: &Signature, a: (usize, Item<'a>)) {
        if let Some((key, value)) = Self::key_value(sig, &a)
            && !self.keys.iter().any(|(k, _)| *k == key)
        {
            self.keys.push((key.to_string(), join_key(value)));
        }
        self.anchors.push(a);
    }
}

/// For `each` items, the latest per key within the incident, and the restore that followed it.
fn restores<'a>(sig: &Signature, inc: &Incident<'a>) -> Vec<(Item<'a>, Option<Item<'a>>)> {
    let Some(st) = &sig.def.status else {
        return Vec::new();
    };
    let (Some(each), Some(key), Some(by)) = (&st.each, &st.key, &st.restored_by) else {
        return Vec::new();
    };
    let idx = |id: &str| {
        sig.evidence
            .iter()
            .position(|e| e.id == *id)
            .expect("validated")
    };
    let (each, by) = (idx(each), idx(by));
    // By hashed key, in first-seen order: a hostile log can disable thousands of services.
    let mut latest: Vec<Item> = Vec::new();
    let mut slot: HashMap<JoinKey, usize> = HashMap::new();
    for it in &inc.selected[each] {
        let Some(k) = it.fields.get(key) else {
            continue;
        };
        match slot.entry(join_key(k)) {
            std::collections::hash_map::Entry::Occupied(o) => {
                let l = &mut latest[*o.get()];
                if l.time <= it.time {
                    *l = *it;
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(latest.len());
                latest.push(*it);
            }
        }
    }
    let mut restores_of: HashMap<JoinKey, Vec<Item>> = HashMap::new();
    for r in &inc.selected[by] {
        if let Some(k) = r.fields.get(key) {
            restores_of.entry(join_key(k)).or_default().push(*r);
        }
    }
    latest
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
        .collect()
}

fn status_of(sig: &Signature, inc: &Incident) -> Status {
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

fn confidence_of(sig: &Signature, inc: &Incident) -> Confidence {
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
        } else if !matches!(e.role, Role::Recovery | Role::Context | Role::Impact) {
            missing.push(e.describe.clone());
        }
    }
    Confidence {
        level,
        found,
        missing,
    }
}

/// The first value of `field` among the incident's items, in evidence order.
fn first<'a>(inc: &'a Incident, field: &str) -> Option<&'a str> {
    inc.selected
        .iter()
        .flatten()
        .find_map(|it| it.fields.get(field))
        .filter(|v| !v.is_empty())
}

fn build_finding(
    sig: &Signature,
    inc: &Incident,
    status: Status,
    events: &[Matched],
    file_names: &[String],
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
    let (hresult, hresult_source) =
        match (logged_hresult, msi.and_then(knowledge::hresult_from_win32)) {
            (Some(h), _) => (Some(h), Some("windows_update")),
            (None, Some(h)) => (Some(h), Some("derived_from_msi")),
            (None, None) => (None, None),
        };
    let msi_info = msi.and_then(knowledge::msi_code);
    let hr_info = hresult.and_then(knowledge::hresult);
    let error = ErrorInfo {
        hresult: hresult.map(|h| format!("0x{h:08X}")),
        hresult_source,
        hresult_name: hr_info.map(|i| i.name),
        msi,
        msi_name: msi_info.map(|i| i.name),
        meaning: msi_info.or(hr_info).map(|i| i.meaning),
        installer_message: first(inc, "message").map(str::to_string),
        log_file: first(inc, "log_file").map(str::to_string),
    };

    let mut left_out = Vec::new();
    let mut locked_files = locked_files(sig, inc);
    cap(
        &mut locked_files,
        MAX_LOCKED_FILES,
        "files in use",
        &mut left_out,
    );
    let mut services = services(sig, inc);
    cap(&mut services, MAX_SERVICES, "services", &mut left_out);
    let confidence = confidence_of(sig, inc);
    let severity = sig.def.severity;
    let done = sig
        .def
        .done_when
        .iter()
        .all(|group| group.iter().any(|id| inc.found(sig, id)));
    let action_required = severity != Severity::Info && !(status == Status::Resolved && done);

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

    let mut finding = Finding {
        signature: sig.def.id.clone(),
        title: sig.def.title.clone(),
        kb_article: sig.def.kb.clone(),
        severity,
        status,
        action_required,
        confidence,
        computer,
        first_seen: evidence.first().map_or(inc.start, |e| e.time),
        last_seen: evidence.last().map_or(inc.end, |e| e.time),
        summary: String::new(),
        update,
        error,
        locked_files,
        services,
        remediation: Vec::new(),
        evidence,
        left_out,
    };
    let (summary, steps) = remediation::render(sig, &finding, done);
    finding.summary = summary;
    finding.remediation = steps;
    finding
}

/// What one finding lists at most. Real incidents hold a few dozen services and a handful of
/// files in use; past these, a log is hostile or broken, and listing it all would cost minutes
/// and bury the answer. What is cut is said in the finding's `left_out`.
const MAX_SERVICES: usize = 500;
const MAX_LOCKED_FILES: usize = 100;
const MAX_EVIDENCE_EACH: usize = 200;

fn cap<T>(list: &mut Vec<T>, max: usize, what: &str, left_out: &mut Vec<String>) {
    if list.len() > max {
        left_out.push(format!(
            "{} more {what} (the first {max} are listed)",
            list.len() - max
        ));
        list.truncate(max);
    }
}

fn locked_files(sig: &Signature, inc: &Incident) -> Vec<LockedFile> {
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

fn services(sig: &Signature, inc: &Incident) -> Vec<ServiceInfo> {
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
    let mut out: Vec<ServiceInfo> = restores(sig, inc)
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
            ServiceInfo {
                // Without the key name (param4), the service field fell back to the display
                // name: commands must then look the service up by display name.
                name_is_key: display.as_deref() != Some(name.as_str()),
                display_name: display,
                original_start: d.fields.get("old_start").unwrap_or("unknown").to_string(),
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

/// Index from (provider, event ID) to the evidence definitions that may match, for the readers'
/// early filter and for matching.
#[derive(Debug, Default)]
pub struct EvidenceIndex {
    /// Per event ID: per lowercased provider name, the (signature, evidence) pairs that read it.
    /// Looked up for every wanted record, so keyed by ID first and compared without allocating.
    by_id: rustc_hash::FxHashMap<u16, Vec<(String, Vec<Candidate>)>>,
    /// The IDs of `by_id` as a bit set: asked for every record of every log.
    wanted: Vec<u64>,
}

/// (signature, evidence definition) indices.
type Candidate = (usize, usize);

impl EvidenceIndex {
    pub fn new(signatures: &[Signature]) -> Self {
        let mut idx = EvidenceIndex::default();
        for (si, s) in signatures.iter().enumerate() {
            for (ei, e) in s.evidence.iter().enumerate() {
                for p in &e.providers {
                    for id in &e.event_ids {
                        let providers = idx.by_id.entry(*id).or_default();
                        let at = match providers.iter().position(|(q, _)| q == p) {
                            Some(i) => i,
                            None => {
                                providers.push((p.clone(), Vec::new()));
                                providers.len() - 1
                            }
                        };
                        providers[at].1.push((si, ei));
                    }
                }
            }
        }
        idx.wanted = vec![0; 1 << 10];
        for id in idx.by_id.keys() {
            idx.wanted[usize::from(*id >> 6)] |= 1 << (id & 63);
        }
        idx
    }

    /// Whether any signature looks at this event ID (whatever the provider).
    pub fn wants_id(&self, id: u16) -> bool {
        self.wanted
            .get(usize::from(id >> 6))
            .is_some_and(|w| w & (1 << (id & 63)) != 0)
    }

    pub fn candidates(&self, provider: &str, id: u16) -> &[(usize, usize)] {
        let Some(providers) = self.by_id.get(&id) else {
            return &[];
        };
        let same = |lower: &str| {
            if provider.is_ascii() {
                provider.eq_ignore_ascii_case(lower)
            } else {
                provider.to_lowercase() == lower
            }
        };
        providers
            .iter()
            .find(|(p, _)| same(p))
            .map_or(&[], |(_, pairs)| pairs.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(service: &str) -> Vec<Hit> {
        vec![Hit {
            signature: 0,
            evidence: 1,
            fields: Fields::of(&[("service", service), ("state", "stopped")]),
        }]
    }

    #[test]
    fn shared_hits_are_one_copy_and_bounded() {
        let shared = SharedHits::default();
        let a = shared.share(hit("MSExchangeIS"));
        let b = shared.share(hit("MSExchangeIS"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &shared.share(hit("MSExchangeSA"))));

        let long = "x".repeat(4096);
        let l1 = shared.share(hit(&long));
        let l2 = shared.share(hit(&long));
        assert_eq!(l1, l2);
        assert!(
            !Arc::ptr_eq(&l1, &l2),
            "lists with long values are not kept"
        );

        for i in 0..SharedHits::MAX_LISTS + 1000 {
            let h = shared.share(hit(&format!("service {i}")));
            assert_eq!(
                h[0].fields.get("service"),
                Some(format!("service {i}").as_str())
            );
        }
        assert_eq!(shared.0.lock().unwrap().len(), SharedHits::MAX_LISTS);
    }
}
