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
mod feasible;
mod matching;
mod relevance;
mod verdict;

use around::*;
use build::*;
use correlate::*;
use verdict::*;

pub use feasible::{Feasible, Seen, Verdicts};
pub use matching::{EvidenceIndex, Hit, KeptEvent, Matched, SharedHits};
pub use relevance::Relevance;
pub(crate) use relevance::is_anchor as relevance_is_anchor;

/// Run every signature over every computer's events, handed over one computer at a time
/// (computers by name, case-insensitively; each batch by time), so that a fleet's findings never
/// all have to be in memory at once. The events are those some incident could select
/// ([`Relevance`]: `Diagnoser::diagnose_each` narrows them first). A computer's events are freed as
/// soon as its findings are built; `emit` may stop the run. Returns, per input, how many of its
/// events were copies of records another input also holds (the same export sent twice), and that
/// input: those are counted once.
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
        .map(|name| (relevance::computer_key(&name), name))
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
///
/// Copies share their time, and `events` is sorted by time: each run of events at one moment is
/// compared within itself (a map only for a run longer than a few dozen, which only a crafted
/// log makes), so that no map of all the computer's events is built.
fn without_copies(events: &[Matched], copies: &mut [Copies]) -> Option<Vec<Matched>> {
    let mut copy: Option<Vec<bool>> = None;
    let mut mark = |i: usize, of: &Matched, same_record: bool, copies: &mut [Copies]| {
        copy.get_or_insert_with(|| vec![false; events.len()])[i] = true;
        if let Some(c) = copies.get_mut(events[i].event.source as usize) {
            if same_record {
                c.events += 1;
                c.of.get_or_insert(of.event.source);
            } else {
                c.twice += 1;
                c.twice_of.get_or_insert(of.event.source);
            }
        }
    };
    // What makes `b` a copy of the earlier `a`: the same record, or the same event in another log.
    let copy_of = |a: &Matched, b: &Matched| -> Option<bool> {
        let (x, y) = (&a.event, &b.event);
        if x.event_id != y.event_id || x.provider != y.provider || a.hits != b.hits {
            return None;
        }
        if x.record_id == y.record_id {
            Some(true)
        } else if x.source != y.source {
            Some(false)
        } else {
            None
        }
    };
    const SMALL_RUN: usize = 32;
    let mut start = 0;
    while start < events.len() {
        let time = events[start].event.time;
        let end = start
            + events[start..]
                .iter()
                .position(|m| m.event.time != time)
                .unwrap_or(events.len() - start);
        if end - start > 1 {
            if end - start <= SMALL_RUN {
                for i in start + 1..end {
                    if let Some((j, same_record)) =
                        (start..i).find_map(|j| copy_of(&events[j], &events[i]).map(|s| (j, s)))
                    {
                        mark(i, &events[j], same_record, copies);
                    }
                }
            } else {
                // A long run at one moment: the first event of each (event ID, provider, content)
                // and of each record, by map.
                let mut first_record: FxHashMap<(u64, u16), usize> = FxHashMap::default();
                let mut first_event: FxHashMap<(u16, &str, &[Hit]), usize> = FxHashMap::default();
                for i in start..end {
                    let e = &events[i].event;
                    if let Some(&j) = first_record.get(&(e.record_id, e.event_id))
                        && copy_of(&events[j], &events[i]) == Some(true)
                    {
                        mark(i, &events[j], true, copies);
                        continue;
                    }
                    first_record.entry((e.record_id, e.event_id)).or_insert(i);
                    let key = (e.event_id, &*e.provider, &*events[i].hits);
                    match first_event.get(&key) {
                        Some(&j) if copy_of(&events[j], &events[i]) == Some(false) => {
                            mark(i, &events[j], false, copies)
                        }
                        Some(_) => {}
                        None => {
                            first_event.insert(key, i);
                        }
                    }
                }
            }
        }
        start = end;
    }
    let copy = copy?;
    Some(
        events
            .iter()
            .zip(copy)
            .filter(|(_, c)| !c)
            .map(|(m, _)| m.clone())
            .collect(),
    )
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

    fn kept(source: u32, record_id: u64, second: i64, service: &str) -> Matched {
        Matched {
            event: KeptEvent {
                source,
                event_id: 7036,
                record_id,
                header_record_id: None,
                time: DateTime::from_timestamp(1_600_000_000 + second, 0).unwrap(),
                computer: Arc::from("SRV"),
                provider: Arc::from("Service Control Manager"),
            },
            hits: hit(service).into(),
        }
    }

    #[test]
    fn copies_are_counted_once_in_short_and_long_runs_at_one_moment() {
        for run in [3usize, 200] {
            // File 0 holds `run` events at one second; file 1 the same records again (an export
            // sent twice), and file 2 the same events under other record IDs (another log).
            let mut events = Vec::new();
            for i in 0..run {
                let service = format!("Service{i}");
                events.push(kept(0, 100 + i as u64, 0, &service));
                events.push(kept(1, 100 + i as u64, 0, &service));
                events.push(kept(2, 9000 + i as u64, 0, &service));
            }
            // Not copies: another moment, another content, another record of the same file.
            events.push(kept(0, 5, 1, "Service0"));
            events.push(kept(0, 6, 0, "Other"));
            events.push(kept(0, 7, 0, "Other"));
            events.sort_by_key(|m| (m.event.time, m.event.source, m.event.record_id));
            let mut copies = vec![Copies::default(); 3];
            let unique = without_copies(&events, &mut copies).expect("copies found");
            assert_eq!(unique.len(), run + 3, "run of {run}");
            assert_eq!((copies[1].events, copies[1].of), (run as u64, Some(0)));
            assert_eq!((copies[2].twice, copies[2].twice_of), (run as u64, Some(0)));
            assert_eq!(copies[0], Copies::default());
        }
        let single = vec![kept(0, 1, 0, "A"), kept(1, 2, 1, "A")];
        assert!(without_copies(&single, &mut [Copies::default(); 2]).is_none());
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
