//! The stock [`EventSink`]: what a run's readers deliver goes through the signatures' filters, the
//! run's scope (time and computers), and matching, and what some evidence definition wants is
//! kept for correlation. The binary, the fuzz targets, the tests and the benchmarks all read
//! through it. With a budget ([`Collector::spilling_after`]), kept events that need not stay in
//! memory (all but the anchors of signatures whose anchors are never let go) wait on disk past
//! it ([`super::spill`]), so that memory does not grow with the input.

use super::spill::{SpillWriter, Spilled};
use super::{Diagnoser, Matched, engine};
use crate::event::{Event, PayloadSource};
use crate::input::{EventFilter, EventSink};
use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// Which events a run looks at: between two times, on some computers. Empty means all.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Lowercase; a short name matches the FQDN (`exmbx01` matches `EXMBX01.contoso.local`).
    pub computers: Vec<String>,
}

impl Scope {
    pub fn holds(&self, event: &Event) -> bool {
        self.holds_at(event.time, &event.computer)
    }

    /// Whether an event of `computer` at `time` is in scope.
    pub fn holds_at(&self, time: DateTime<Utc>, computer: &str) -> bool {
        if self.since.is_some_and(|s| time < s) || self.until.is_some_and(|u| time > u) {
            return false;
        }
        self.computers.is_empty() || {
            let c = computer.to_lowercase();
            self.computers
                .iter()
                .any(|w| c == *w || c.split('.').next() == Some(w.as_str()))
        }
    }
}

/// Keeps the events a [`Diagnoser`] wants, within a [`Scope`], for [`Diagnoser::diagnose`].
pub struct Collector<'d> {
    diagnoser: &'d Diagnoser,
    scope: Scope,
    matched: Mutex<Blocks>,
    waiting: Option<Waiting>,
}

/// Kept events in blocks of a fixed size, not one growing vector: a vector that doubles holds
/// the old and the new buffer at once, and past a few hundred thousand events that was the
/// run's peak (the 16 GiB host: 50 MiB for 28 MiB of events).
#[derive(Default)]
pub struct Blocks {
    full: Vec<Vec<Matched>>,
    current: Vec<Matched>,
}

impl Blocks {
    const EVENTS: usize = 1 << 14;

    pub fn push(&mut self, m: Matched) {
        if self.current.len() >= Self::EVENTS {
            let next = Vec::with_capacity(Self::EVENTS);
            self.full.push(std::mem::replace(&mut self.current, next));
        }
        self.current.push(m);
    }

    pub fn len(&self) -> usize {
        self.full.iter().map(Vec::len).sum::<usize>() + self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &Matched> {
        self.full.iter().flatten().chain(&self.current)
    }

    /// Keeps the events `keep` says, block by block.
    pub fn retain(&mut self, mut keep: impl FnMut(&Matched) -> bool) {
        for block in self
            .full
            .iter_mut()
            .chain(std::iter::once(&mut self.current))
        {
            block.retain(&mut keep);
        }
    }

    /// Each event as `f` makes it, or let go where it says `None`, block by block.
    pub fn filter_map(&mut self, mut f: impl FnMut(Matched) -> Option<Matched>) {
        for block in self
            .full
            .iter_mut()
            .chain(std::iter::once(&mut self.current))
        {
            *block = std::mem::take(block)
                .into_iter()
                .filter_map(&mut f)
                .collect();
        }
    }

    /// One vector of exactly the events, each block freed as soon as it is moved.
    pub fn into_vec(self) -> Vec<Matched> {
        if self.full.is_empty() {
            return self.current;
        }
        let mut all = Vec::with_capacity(self.len());
        for block in self.full.into_iter().chain(std::iter::once(self.current)) {
            all.extend(block);
        }
        all
    }
}

impl Extend<Matched> for Blocks {
    fn extend<I: IntoIterator<Item = Matched>>(&mut self, events: I) {
        for m in events {
            self.push(m);
        }
    }
}

/// Kept events that need not stay in memory, held up to a budget and then written to disk: on
/// one side anchors that may be let go (read back first, before relevance is known), on the
/// other everything else, each side with its own file and half the budget in memory.
struct Waiting {
    /// Per side.
    budget: usize,
    sides: [Side; 2],
    /// What the events written to disk show of the evidence that decides which anchors can
    /// never make a finding (`engine::Feasible`): they are not read back before that is known.
    seen: Mutex<engine::Seen>,
}

const OTHERS: usize = 0;
const ANCHORS: usize = 1;

#[derive(Default)]
struct Side {
    events: Mutex<Vec<Matched>>,
    spill: Mutex<Spill>,
}

#[derive(Default)]
enum Spill {
    #[default]
    None,
    Writing(SpillWriter),
    /// The file could not be made, or refused a batch: from then on everything stays in memory,
    /// as without a budget, and the batches written before are still read back.
    Failed(Option<SpillWriter>),
}

/// What a [`Collector`] kept: in memory (the anchors that must stay, every text log's event, what
/// stayed under the budget), and on disk.
#[derive(Default)]
pub struct Kept {
    pub memory: Blocks,
    pub spilled: Option<Spilled>,
    /// Anchors that may be let go, written to disk apart: read back before the rest.
    pub spilled_anchors: Option<Spilled>,
    /// What the files on disk show of the evidence that decides futile anchors
    /// (`engine::Feasible`).
    pub seen: engine::Seen,
}

impl From<Vec<Matched>> for Kept {
    /// Events already in one vector, kept as they are (one block, not copied).
    fn from(events: Vec<Matched>) -> Self {
        Kept {
            memory: Blocks {
                full: Vec::new(),
                current: events,
            },
            spilled: None,
            spilled_anchors: None,
            seen: Default::default(),
        }
    }
}

impl<'d> Collector<'d> {
    pub fn new(diagnoser: &'d Diagnoser) -> Self {
        Self::with_scope(diagnoser, Scope::default())
    }

    pub fn with_scope(diagnoser: &'d Diagnoser, scope: Scope) -> Self {
        Collector {
            diagnoser,
            scope,
            matched: Mutex::new(Blocks::default()),
            waiting: None,
        }
    }

    /// Writes kept events that need not stay in memory (`Diagnoser::must_stay`) to temporary
    /// files once more than `budget` of them are held. Such a collector is finished with
    /// [`Collector::into_kept`], and what it kept is diagnosed with [`Diagnoser::diagnose_each`].
    /// Not for text logs' events, which are placed in time against the event logs' kept records
    /// once all are read: those stay in memory.
    pub fn spilling_after(mut self, budget: usize) -> Self {
        self.waiting = Some(Waiting {
            budget: (budget / 2).max(1),
            sides: Default::default(),
            seen: Mutex::new(Default::default()),
        });
        self
    }

    /// What was kept, in the order it arrived: for a collector without a budget.
    pub fn into_matched(self) -> Vec<Matched> {
        debug_assert!(self.waiting.is_none(), "finish with into_kept");
        self.matched
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_vec()
    }

    /// What was kept: fails only when the events written to disk cannot be finished there.
    pub fn into_kept(self) -> std::io::Result<Kept> {
        let mut memory = self.matched.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut spilled: [Option<Spilled>; 2] = [None, None];
        let mut seen = engine::Seen::default();
        if let Some(w) = self.waiting {
            seen = w.seen.into_inner().unwrap_or_else(|p| p.into_inner());
            for (side, out) in w.sides.into_iter().zip(&mut spilled) {
                memory.extend(side.events.into_inner().unwrap_or_else(|p| p.into_inner()));
                if let Spill::Writing(writer) | Spill::Failed(Some(writer)) =
                    side.spill.into_inner().unwrap_or_else(|p| p.into_inner())
                {
                    *out = Some(writer.finish()?);
                }
            }
        }
        let [spilled, spilled_anchors] = spilled;
        Ok(Kept {
            memory,
            spilled,
            spilled_anchors,
            seen,
        })
    }

    /// How many events wait on disk so far.
    pub fn spilled(&self) -> u64 {
        let Some(w) = self.waiting.as_ref() else {
            return 0;
        };
        w.sides
            .iter()
            .map(|side| match &*lock(&side.spill) {
                Spill::Writing(writer) | Spill::Failed(Some(writer)) => writer.events(),
                _ => 0,
            })
            .sum()
    }

    fn keep(&self, m: Matched, from_text_log: bool) {
        let Some(w) = self
            .waiting
            .as_ref()
            .filter(|_| !from_text_log && !self.diagnoser.must_stay(&m))
        else {
            lock(&self.matched).push(m);
            return;
        };
        let side = &w.sides[if self.diagnoser.is_anchor(&m) {
            ANCHORS
        } else {
            OTHERS
        }];
        let batch = {
            let mut events = lock(&side.events);
            events.push(m);
            if events.len() < w.budget {
                return;
            }
            std::mem::take(&mut *events)
        };
        // Written outside the lock on held events, so that other readers go on keeping.
        let mut spill = lock(&side.spill);
        if let Spill::None = *spill {
            *spill = SpillWriter::new().map_or(Spill::Failed(None), Spill::Writing);
        }
        let written = match &mut *spill {
            Spill::Writing(writer) => writer.write(&batch).is_ok(),
            _ => false,
        };
        if written {
            let mut seen = lock(&w.seen);
            for m in &batch {
                seen.see(self.diagnoser.feasible(), m);
            }
        } else {
            // A disk that refuses costs memory, never events: the batch stays, and so does
            // everything after it.
            *spill = match std::mem::replace(&mut *spill, Spill::None) {
                Spill::Writing(writer) => Spill::Failed(Some(writer)),
                other => other,
            };
            drop(spill);
            lock(&self.matched).extend(batch);
        }
    }
}

impl EventFilter for Collector<'_> {
    fn wants_event_id(&self, id: u16) -> bool {
        self.diagnoser.wants_event_id(id)
    }

    fn wants_provider(&self, provider: &str) -> bool {
        self.diagnoser.wants_provider(provider)
    }

    fn wants_payload(&self, provider: &str, event_id: u16, payload: &dyn PayloadSource) -> bool {
        self.diagnoser
            .payload_may_match(provider, event_id, payload)
    }
}

impl EventSink for Collector<'_> {
    fn accept(&self, event: Event, payload: &dyn PayloadSource) -> bool {
        // A text log's event has no computer and no UTC time until it is placed
        // (`crate::timeline`): its scope is checked then.
        if !event.from_text_log && !self.scope.holds(&event) {
            return false;
        }
        let from_text_log = event.from_text_log;
        match self.diagnoser.match_event(event, payload) {
            Some(m) => {
                self.keep(m, from_text_log);
                true
            }
            None => false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
