//! Diagnosis: signatures (declarative TOML files under `signatures/`, compiled in) correlate
//! normalized events into findings with evidence. [`Diagnoser::match_event`] runs on the readers'
//! threads and keeps only events some evidence definition wants; [`Diagnoser::diagnose`] correlates
//! what was kept once everything has been read.

pub mod engine;
pub mod finding;
pub mod remediation;
pub mod signature;

use crate::event::{Event, PayloadSource};
pub use engine::{Hit, KeptEvent, Matched};
pub use finding::Finding;
use signature::{Signature, SignatureError};
use std::path::Path;

/// The signatures shipped with evtriage, in `signatures/`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "exchange-rollup-file-in-use.toml",
        include_str!("../../signatures/exchange-rollup-file-in-use.toml"),
    ),
    (
        "exchange-services-left-disabled.toml",
        include_str!("../../signatures/exchange-services-left-disabled.toml"),
    ),
    (
        "msi-update-failed.toml",
        include_str!("../../signatures/msi-update-failed.toml"),
    ),
    (
        "windows-update-failed.toml",
        include_str!("../../signatures/windows-update-failed.toml"),
    ),
    (
        "restart-pending.toml",
        include_str!("../../signatures/restart-pending.toml"),
    ),
    (
        "exchange-service-disabled-manually.toml",
        include_str!("../../signatures/exchange-service-disabled-manually.toml"),
    ),
];

pub struct Diagnoser {
    signatures: Vec<Signature>,
    index: engine::EvidenceIndex,
    shared_values: signature::SharedValues,
    shared_hits: engine::SharedHits,
}

impl Diagnoser {
    pub fn new(signatures: Vec<Signature>) -> Result<Self, SignatureError> {
        let mut ids = std::collections::HashSet::new();
        for s in &signatures {
            if !ids.insert(s.def.id.clone()) {
                return Err(SignatureError {
                    file: s.def.id.clone(),
                    message: "two signatures share this ID".into(),
                });
            }
        }
        let index = engine::EvidenceIndex::new(&signatures);
        Ok(Diagnoser {
            signatures,
            index,
            shared_values: Default::default(),
            shared_hits: Default::default(),
        })
    }

    pub fn builtin() -> Self {
        let sigs = BUILTIN
            .iter()
            .map(|(name, text)| {
                Signature::from_toml(name, text)
                    .unwrap_or_else(|e| panic!("built-in signature is invalid: {e}"))
            })
            .collect();
        Diagnoser::new(sigs).unwrap_or_else(|e| panic!("built-in signatures are invalid: {e}"))
    }

    /// The built-in signatures plus every `*.toml` in `dir` (a file with a built-in's ID replaces it).
    pub fn with_dir(dir: &Path) -> Result<Self, SignatureError> {
        let mut sigs: Vec<Signature> = BUILTIN
            .iter()
            .map(|(name, text)| Signature::from_toml(name, text))
            .collect::<Result<_, _>>()?;
        let io_err = |e: std::io::Error| SignatureError {
            file: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| SignatureError {
                file: p.display().to_string(),
                message: e.to_string(),
            })?;
            let s = Signature::from_toml(&p.display().to_string(), &text)?;
            sigs.retain(|b| b.def.id != s.def.id);
            sigs.push(s);
        }
        Diagnoser::new(sigs)
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Whether a record with this event ID could matter; false lets readers skip rendering it.
    pub fn wants_event_id(&self, id: u16) -> bool {
        self.index.wants_id(id)
    }

    /// Every evidence definition the event satisfies, reading its payload from `payload`; `None`
    /// when it satisfies none. A kept event has no payload: what correlation needs of it is in
    /// the hits' fields, and a large input keeps many events until everything has been read.
    pub fn match_event(&self, event: Event, payload: &dyn PayloadSource) -> Option<Matched> {
        let candidates = self.index.candidates(&event.provider, event.event_id);
        if candidates.is_empty() {
            return None;
        }
        let mut seen = signature::Extracted::default();
        let record = signature::Record {
            event: &event,
            payload,
        };
        let mut hits: Vec<Hit> = Vec::new();
        for &(si, ei) in candidates {
            let evidence = &self.signatures[si].evidence[ei];
            if let Some(mut fields) =
                signature::evaluate(evidence, record, &mut seen, &self.shared_values)
            {
                if let Some(earlier) = hits.iter().find(|h| h.fields == fields) {
                    fields.share_with(&earlier.fields);
                }
                hits.push(Hit {
                    signature: si as u32,
                    evidence: ei as u32,
                    fields,
                });
            }
        }
        if hits.is_empty() {
            return None;
        }
        Some(Matched {
            event: KeptEvent::from(&event),
            hits: self.shared_hits.share(hits),
        })
    }

    /// [`Diagnoser::match_event`] for an event that carries its payload.
    pub fn match_built(&self, mut event: Event) -> Option<Matched> {
        let payload = std::mem::take(&mut event.payload);
        self.match_event(event, &payload)
    }

    /// Correlate the matched events of a run; `file_names` names each input by its source ID.
    pub fn diagnose(&self, matched: Vec<Matched>, file_names: &[String]) -> Vec<Finding> {
        engine::diagnose(&self.signatures, matched, file_names)
    }

    /// The same, one computer's findings at a time (see [`engine::diagnose_each`]).
    pub fn diagnose_each(
        &self,
        matched: Vec<Matched>,
        file_names: &[String],
        emit: impl FnMut(Vec<Finding>) -> std::ops::ControlFlow<()>,
    ) {
        engine::diagnose_each(&self.signatures, matched, file_names, emit)
    }
}
