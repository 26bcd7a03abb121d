//! Diagnosis: signatures (declarative TOML files under `signatures/`, compiled in) correlate
//! normalized events into findings with evidence. [`Diagnoser::match_event`] runs on the readers'
//! threads and keeps only events some evidence definition wants; [`Diagnoser::diagnose`] correlates
//! what was kept once everything has been read.

pub mod collect;
pub mod command;
pub mod engine;
pub mod finding;
pub mod remediation;
pub mod signature;
pub mod spill;
pub mod vocabulary;

use crate::event::{Event, PayloadSource, SourceId};
pub use collect::{Blocks, Collector, Kept, Scope};
pub use engine::{Hit, KeptEvent, Matched};
pub use finding::{Finding, LikelyCause};
use signature::{Signature, SignatureError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

// BUILTIN (every `signatures/*.toml`) and SHARED_PATTERNS, found by build.rs.
include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The patterns of `signatures/patterns.toml`, that every signature may name.
pub fn shared_patterns() -> &'static BTreeMap<String, String> {
    static PATTERNS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        parse_patterns(SHARED_PATTERNS)
            .unwrap_or_else(|e| panic!("signatures/patterns.toml is invalid: {e}"))
    })
}

/// A patterns file: a `[patterns]` table of names and regexes, each regex checked.
pub fn parse_patterns(text: &str) -> Result<BTreeMap<String, String>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PatternsFile {
        patterns: BTreeMap<String, String>,
    }
    let file: PatternsFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for (name, re) in &file.patterns {
        regex::Regex::new(re).map_err(|e| format!("pattern '{name}': {e}"))?;
    }
    Ok(file.patterns)
}

/// A signature file is a few KiB; one larger than this is not one.
pub const SIGNATURE_FILE_MAX: u64 = 1 << 20;

/// A signature file's text: a regular file (not a FIFO that would block, nor a device that
/// reads without end, whatever a link points to) of at most [`SIGNATURE_FILE_MAX`] bytes.
fn read_signature_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file (a device, FIFO or socket)".into());
    }
    if meta.len() > SIGNATURE_FILE_MAX {
        return Err(format!(
            "{} bytes: larger than a signature file can be ({SIGNATURE_FILE_MAX} bytes)",
            meta.len()
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SIGNATURE_FILE_MAX + 1).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > SIGNATURE_FILE_MAX {
        return Err(format!(
            "larger than a signature file can be ({SIGNATURE_FILE_MAX} bytes)"
        ));
    }
    Ok(text)
}

/// What a folder of signature files holds: the signatures that loaded, and every error, each
/// naming its file and line (`evtriage --check-signatures` prints them all).
pub struct LoadedDir {
    pub files: usize,
    pub signatures: Vec<Signature>,
    pub errors: Vec<SignatureError>,
}

/// Every `*.toml` of `dir`: `patterns.toml` adds to the shared patterns, the others are
/// signatures. Reading goes on past an error, so that one run shows them all.
pub fn load_dir(dir: &Path) -> LoadedDir {
    let mut out = LoadedDir {
        files: 0,
        signatures: Vec::new(),
        errors: Vec::new(),
    };
    let error = |file: &Path, message: String| SignatureError {
        file: file.display().to_string(),
        message,
    };
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            out.errors.push(error(dir, e.to_string()));
            return out;
        }
    };
    paths.sort();
    let mut patterns = shared_patterns().clone();
    let (pattern_files, signature_files): (Vec<_>, Vec<_>) = paths
        .into_iter()
        .partition(|p| p.file_name().is_some_and(|n| n == "patterns.toml"));
    for p in pattern_files {
        out.files += 1;
        match read_signature_file(&p).and_then(|text| parse_patterns(&text)) {
            Ok(more) => patterns.extend(more),
            Err(message) => out.errors.push(error(&p, message)),
        }
    }
    for p in signature_files {
        out.files += 1;
        let loaded = read_signature_file(&p)
            .map_err(|message| error(&p, message))
            .and_then(|text| Signature::from_toml_with(&p.display().to_string(), &text, &patterns));
        match loaded {
            Ok(s) => out.signatures.push(s),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// What a run read, as the diagnosis needs it: each input's name by source ID, and the log each
/// holds with the time it covers (a finding says what it could not check when a log is missing).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub names: Vec<String>,
    /// Source ID and span of each input that said which log it holds.
    pub logs: Vec<(SourceId, crate::input::LogSpan)>,
}

impl Inputs {
    /// Inputs known by name only: no log counts as read.
    pub fn named(names: Vec<String>) -> Self {
        Inputs {
            names,
            logs: Vec::new(),
        }
    }

    /// The inputs of reports in source-ID order.
    pub fn of_reports<'a>(
        reports: impl IntoIterator<Item = &'a crate::input::InputReport>,
    ) -> Self {
        let mut inputs = Inputs::default();
        for (id, r) in reports.into_iter().enumerate() {
            inputs.names.push(r.path.clone());
            if let Some(span) = &r.log {
                inputs.logs.push((id as SourceId, span.clone()));
            }
        }
        inputs
    }
}

/// An event-log record whose source poses as one of evtriage's text-log providers.
fn forged_text_event(event: &Event) -> bool {
    !event.from_text_log
        && event
            .provider
            .get(..crate::event::TEXT_PROVIDER_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(crate::event::TEXT_PROVIDER_PREFIX))
}

pub struct Diagnoser {
    signatures: Vec<Signature>,
    index: engine::EvidenceIndex,
    feasible: engine::Feasible,
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
        let feasible = engine::Feasible::new(&signatures);
        Ok(Diagnoser {
            signatures,
            index,
            feasible,
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
        let loaded = load_dir(dir);
        if let Some(e) = loaded.errors.into_iter().next() {
            return Err(e);
        }
        for s in loaded.signatures {
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

    /// Whether any record from this provider could matter; false lets readers skip its records
    /// without reading their values.
    pub fn wants_provider(&self, provider: &str) -> bool {
        self.index.wants_provider(provider)
    }

    /// Every evidence definition the event satisfies, reading its payload from `payload`; `None`
    /// when it satisfies none. A kept event has no payload: what correlation needs of it is in
    /// the hits' fields, and a large input keeps many events until everything has been read.
    pub fn match_event(&self, event: Event, payload: &dyn PayloadSource) -> Option<Matched> {
        let candidates = self.index.candidates(&event.provider, event.event_id);
        if candidates.is_empty() || forged_text_event(&event) {
            return None;
        }
        let mut seen = signature::Extracted::default();
        let record = signature::Record {
            event: Some(&event),
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

    /// Whether an event from `provider` with this ID and payload can match any evidence,
    /// whatever its other fields: false lets a reader skip building it. It depends on these
    /// three alone, so readers may remember it for records that repeat them.
    pub fn payload_may_match(
        &self,
        provider: &str,
        event_id: u16,
        payload: &dyn PayloadSource,
    ) -> bool {
        let mut seen = signature::Extracted::default();
        self.index
            .candidates(provider, event_id)
            .iter()
            .any(|&(si, ei)| {
                signature::payload_may_match(&self.signatures[si].evidence[ei], payload, &mut seen)
            })
    }

    /// [`Diagnoser::match_event`] for an event that carries its payload.
    pub fn match_built(&self, mut event: Event) -> Option<Matched> {
        let payload = std::mem::take(&mut event.payload);
        self.match_event(event, &payload)
    }

    /// Correlate the matched events of a run with what its inputs are; findings come out sorted
    /// by computer and time.
    pub fn diagnose(&self, matched: Vec<Matched>, inputs: &Inputs) -> Vec<Finding> {
        let mut findings = Vec::new();
        // Events handed over whole have no file to read back, so no error can come of it.
        let _ = self.diagnose_each(Kept::from(matched), inputs, |batch| {
            findings.extend(batch);
            std::ops::ControlFlow::Continue(())
        });
        findings
    }

    /// The same, one computer's findings at a time (see [`engine::diagnose_each`]), for what a
    /// [`Collector`] kept: only what some incident could select ([`engine::Relevance`]) goes on,
    /// and events it wrote to disk come back only then. When that file cannot be read back whole,
    /// what came back is diagnosed all the same, and the error is handed back beside the copies.
    pub fn diagnose_each(
        &self,
        kept: Kept,
        inputs: &Inputs,
        emit: impl FnMut(Vec<Finding>) -> std::ops::ControlFlow<()>,
    ) -> (Vec<engine::Copies>, Option<std::io::Error>) {
        let Kept {
            mut memory,
            spilled,
            mut spilled_anchors,
            seen,
        } = kept;
        // Anchors that can never make a finding are let go first, so that nothing is kept for
        // them either; those that can are back in memory before relevance is known.
        let mut verdicts = self
            .feasible
            .any()
            .then(|| engine::Verdicts::new(&self.feasible, seen, memory.iter()));
        let mut prune = |m: Matched| match verdicts.as_mut() {
            Some(v) => v.prune(m),
            None => Some(m),
        };
        memory.filter_map(&mut prune);
        let mut read_back: Option<std::io::Error> = None;
        // What is still an anchor comes back now. What is left of the others (a routine
        // install is also a possible sign that a failed product was installed later) comes back
        // below, only where an incident could select it: held here, it was the 16 GiB host's
        // peak (42 MiB of 380,000 events, heaptrack).
        if let Some(s) = spilled_anchors.as_mut()
            && let Err(e) = s.read_each(self, |m| {
                memory.extend(prune(m).filter(|m| self.is_anchor(m)));
            })
        {
            read_back = Some(e);
        }
        {
            // Freed before correlation.
            let relevance = engine::Relevance::of(&self.signatures, memory.iter());
            let mut tester = relevance.tester(&self.signatures);
            memory.retain(|m| tester.keeps(m));
            if let Some(mut s) = spilled_anchors
                && let Err(e) = s.read_each(self, |m| {
                    if let Some(m) = prune(m)
                        && !self.is_anchor(&m)
                        && tester.keeps(&m)
                    {
                        memory.push(m);
                    }
                })
            {
                read_back.get_or_insert(e);
            }
            // The rest anchors nothing: only what some incident could select comes back.
            if let Some(mut s) = spilled
                && let Err(e) = s.read_each(self, |m| {
                    if tester.keeps(&m) {
                        memory.push(m);
                    }
                })
            {
                read_back.get_or_insert(e);
            }
        }
        let copies = engine::diagnose_each(&self.signatures, memory.into_vec(), inputs, emit);
        (copies, read_back)
    }

    pub(crate) fn feasible(&self) -> &engine::Feasible {
        &self.feasible
    }

    /// Whether a kept event must stay in memory until everything is read: an anchor of a
    /// signature whose anchors are never let go ([`engine::Feasible::must_stay`]).
    pub(crate) fn must_stay(&self, m: &Matched) -> bool {
        self.feasible.must_stay(&self.signatures, m)
    }

    /// Whether a kept event anchors an incident of some signature.
    pub(crate) fn is_anchor(&self, m: &Matched) -> bool {
        m.hits
            .iter()
            .any(|h| engine::relevance_is_anchor(&self.signatures, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Field, Payload};

    fn payload(fields: &[(&str, &str)], binary: Option<&str>) -> Payload {
        Payload {
            fields: fields
                .iter()
                .map(|(n, v)| Field {
                    name: Some(n.to_string()),
                    value: Some(v.to_string()),
                })
                .collect(),
            // SCM's binary data: UTF-16LE with a terminating NUL.
            binary: binary.map(|s| {
                s.encode_utf16()
                    .chain([0])
                    .flat_map(u16::to_le_bytes)
                    .collect()
            }),
            user_data: None,
        }
    }

    fn service_state(display: &str, key_state: &str) -> Payload {
        payload(&[("param1", display), ("param2", "")], Some(key_state))
    }

    #[test]
    fn payload_alone_refuses_only_what_no_evidence_can_match() {
        let d = Diagnoser::builtin();
        assert!(d.wants_event_id(7036) && d.wants_event_id(1023) && d.wants_event_id(19));
        assert!(!d.wants_event_id(7035) && !d.wants_event_id(0) && !d.wants_event_id(u16::MAX));
        let scm = "Service Control Manager";
        // Only the payload is known: conditions on who made the change cannot refuse it.
        let disabled = payload(
            &[
                ("param1", "Microsoft Exchange Information Store"),
                ("param2", "auto start"),
                ("param3", "disabled"),
                ("param4", "MSExchangeIS"),
            ],
            None,
        );
        assert!(d.payload_may_match(scm, 7040, &disabled));
        assert!(d.payload_may_match("service control manager", 7040, &disabled));
        assert!(!d.payload_may_match("Some Other Source", 7040, &disabled));
        assert!(!d.payload_may_match(scm, 7035, &disabled));

        let exchange = "Microsoft Exchange Information Store";
        assert!(d.payload_may_match(scm, 7036, &service_state(exchange, "MSExchangeIS/1")));
        assert!(d.payload_may_match(scm, 7036, &service_state("IIS Admin", "IISADMIN/1")));
        assert!(!d.payload_may_match(scm, 7036, &service_state(exchange, "MSExchangeIS/4")));
        assert!(!d.payload_may_match(
            scm,
            7036,
            &service_state("Windows Modules Installer", "TrustedInstaller/1")
        ));
    }

    #[test]
    fn conditions_on_the_user_or_process_wait_for_the_event() {
        let sig = Signature::from_toml(
            "test.toml",
            r#"
id = "by-someone"
title = "t"
severity = "info"
priority = 1
summary = "s"
requires = [["anchor"]]
[incident]
gap = "1h"
[[evidence]]
id = "anchor"
role = "anchor"
describe = "d"
provider = "P"
event_ids = [1]
fields = { product = "param1", sid = "UserSid", pid = "ProcessId", service = "param2|UserSid" }
where = [{ field = "product", equals = "x" }, { field = "sid", equals = "S-1-5-18" }, { field = "pid", equals = 4 }, { field = "service", equals = "y" }]
"#,
        )
        .unwrap();
        let d = Diagnoser::new(vec![sig]).unwrap();
        // Only `product` reads the payload alone. `service` falls back to the user SID, so it
        // waits for the event even when its payload source is there.
        assert!(d.payload_may_match("P", 1, &payload(&[("param1", "x")], None)));
        assert!(d.payload_may_match("P", 1, &payload(&[("param1", "x"), ("param2", "z")], None)));
        assert!(!d.payload_may_match("P", 1, &payload(&[("param1", "w")], None)));
    }
}
