//! The stock [`EventSink`]: what a run's readers deliver goes through the signatures' filters, the
//! run's scope (time and computers), and matching, and what some evidence definition wants is
//! kept for correlation. The binary, the fuzz targets, the tests and the benchmarks all read
//! through it.

use super::{Diagnoser, Matched};
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
    matched: Mutex<Vec<Matched>>,
}

impl<'d> Collector<'d> {
    pub fn new(diagnoser: &'d Diagnoser) -> Self {
        Self::with_scope(diagnoser, Scope::default())
    }

    pub fn with_scope(diagnoser: &'d Diagnoser, scope: Scope) -> Self {
        Collector {
            diagnoser,
            scope,
            matched: Mutex::new(Vec::new()),
        }
    }

    /// What was kept, in the order it arrived.
    pub fn into_matched(self) -> Vec<Matched> {
        self.matched.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl EventFilter for Collector<'_> {
    fn wants_event_id(&self, id: u16) -> bool {
        self.diagnoser.wants_event_id(id)
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
        match self.diagnoser.match_event(event, payload) {
            Some(m) => {
                self.matched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(m);
                true
            }
            None => false,
        }
    }
}
