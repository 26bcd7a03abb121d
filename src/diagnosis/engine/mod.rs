//! Correlation: per computer, anchors close in time form incidents; each incident gathers the other
//! evidence inside its windows and joins (same PID, same service, same product), is checked against
//! what the signature requires, and becomes a finding with a status, a confidence and remediation.
//! Signatures run in priority order, and an event that explains one finding cannot anchor another,
//! so an Exchange rollup failure is not reported again as a generic installer failure.

use super::finding::*;
use super::remediation;
use super::signature::{Bound, Fields, Join, Role, Severity, Signature};
use crate::diagnosis::Inputs;
use crate::event::{Event, SourceId, parse_number};
use crate::knowledge;
use crate::shared::Shared;
use chrono::{DateTime, Duration, Utc};
use rustc_hash::FxHashMap;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

mod around;
mod build;
mod correlate;
mod matching;
mod verdict;

use around::*;
use build::*;
use correlate::*;
use verdict::*;

pub use matching::{EvidenceIndex, Hit, KeptEvent, Matched, SharedHits};

/// Run every signature over every computer's events; findings come out sorted by computer and time.
pub fn diagnose(signatures: &[Signature], matched: Vec<Matched>, inputs: &Inputs) -> Vec<Finding> {
    let mut findings = Vec::new();
    diagnose_each(signatures, matched, inputs, |batch| {
        findings.extend(batch);
        ControlFlow::Continue(())
    });
    findings
}

/// The same diagnosis, handed over one computer at a time (computers by name, case-insensitively;
/// each batch by time), so that a fleet's findings never all have to be in memory at once. A
/// computer's events are freed as soon as its findings are built; `emit` may stop the run.
/// Returns, per input, how many of its events were copies of records another input also holds
/// (the same export sent twice), and that input: those are counted once.
pub fn diagnose_each(
    signatures: &[Signature],
    matched: Vec<Matched>,
    inputs: &Inputs,
    mut emit: impl FnMut(Vec<Finding>) -> ControlFlow<()>,
) -> Vec<Copies> {
    let file_names = &inputs.names[..];
    let mut copies = vec![Copies::default(); file_names.len()];
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
        let unique = without_copies(events, &mut copies);
        let events: &[Matched] = unique.as_deref().unwrap_or(events);
        let mut consumed = vec![false; events.len()];
        let mut findings = Vec::new();
        for &si in &order {
            findings.extend(run_signature(signatures, si, events, &mut consumed, inputs));
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
            return copies;
        }
    }
    copies
}

/// How many of one input's events were copies, and of which input's: the same records
/// (`events`), or the same events Windows wrote to two logs (`twice`: Windows Update's results
/// in both the System log and its Operational log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copies {
    pub events: u64,
    pub of: Option<SourceId>,
    pub twice: u64,
    pub twice_of: Option<SourceId>,
}

/// One computer's events without the copies: an event with the same record ID, time, provider,
/// event ID and extracted content as an earlier one is the same record read from another file
/// (`Application.evtx` and `Application (1).evtx`). The source IDs and header numbers of copies
/// may differ; the first one, in file order, is kept. An event of another file with another
/// record ID but the same time (to the 100 ns), provider, event ID and content is the same event
/// written to two logs, and is counted once too. `None` when there are no copies, so that the
/// usual case allocates nothing.
fn without_copies(events: &[Matched], copies: &mut [Copies]) -> Option<Vec<Matched>> {
    let mut first: FxHashMap<(u64, i64, u16), usize> = FxHashMap::default();
    let mut at_time: FxHashMap<(i64, u16), usize> = FxHashMap::default();
    let mut copy = vec![false; events.len()];
    let mut any = false;
    for (i, m) in events.iter().enumerate() {
        let e = &m.event;
        let nanos = e.time.timestamp_nanos_opt().unwrap_or(i64::MIN);
        let same = |f: &Matched| f.event.provider == e.provider && f.hits == m.hits;
        match first.entry((e.record_id, nanos, e.event_id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let f = &events[*o.get()];
                if same(f) {
                    copy[i] = true;
                    any = true;
                    if let Some(c) = copies.get_mut(e.source as usize) {
                        c.events += 1;
                        c.of.get_or_insert(f.event.source);
                    }
                    continue;
                }
            }
        }
        match at_time.entry((nanos, e.event_id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let f = &events[*o.get()];
                if f.event.source != e.source && f.event.record_id != e.record_id && same(f) {
                    copy[i] = true;
                    any = true;
                    if let Some(c) = copies.get_mut(e.source as usize) {
                        c.twice += 1;
                        c.twice_of.get_or_insert(f.event.source);
                    }
                }
            }
        }
    }
    any.then(|| {
        events
            .iter()
            .zip(copy)
            .filter(|(_, c)| !c)
            .map(|(m, _)| m.clone())
            .collect()
    })
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

#[cfg(test)]
mod rules;
