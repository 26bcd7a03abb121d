//! What the readers' threads keep: an event some evidence definition matched, with the fields
//! each match extracted, and the index from (provider, event ID) to the definitions that may match.

use super::*;

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
pub struct SharedHits(pub(crate) std::sync::Mutex<Shared<[Hit]>>);

impl Default for SharedHits {
    fn default() -> Self {
        SharedHits(std::sync::Mutex::new(Shared::bounded(Self::MAX_LISTS)))
    }
}

impl SharedHits {
    pub(crate) const MAX_LISTS: usize = 1 << 16;

    pub fn share(&self, hits: Vec<Hit>) -> Arc<[Hit]> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.share(hits, |hits| hits.iter().all(|h| h.fields.all_shareable()))
    }
}

/// Index from (provider, event ID) to the evidence definitions that may match, for the readers'
/// early filter and for matching.
#[derive(Debug, Default)]
pub struct EvidenceIndex {
    /// Per event ID: per lowercased provider name, the (signature, evidence) pairs that read it.
    /// Looked up for every wanted record, so keyed by ID first and compared without allocating.
    pub(crate) by_id: rustc_hash::FxHashMap<u16, Vec<(String, Vec<Candidate>)>>,
    /// The IDs of `by_id` as a bit set: asked for every record of every log.
    pub(crate) wanted: Vec<u64>,
    /// Every lowercased provider name of `by_id`, once: asked once per template and chunk.
    pub(crate) providers: Vec<String>,
}

/// (signature, evidence definition) indices.
pub(crate) type Candidate = (usize, usize);

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
        let mut providers: Vec<String> = idx
            .by_id
            .values()
            .flat_map(|p| p.iter().map(|(name, _)| name.clone()))
            .collect();
        providers.sort_unstable();
        providers.dedup();
        idx.providers = providers;
        idx.wanted = vec![0; 1 << 10];
        // The IDs records of event logs are asked about. Text logs' providers use small IDs of
        // their own (1, 2, 10…), which many real providers use too: were they here, every such
        // record of every event log would be rendered for nothing. Text logs ask by provider.
        for (id, providers) in &idx.by_id {
            if providers
                .iter()
                .any(|(p, _)| !p.starts_with(crate::event::TEXT_PROVIDER_PREFIX))
            {
                idx.wanted[usize::from(*id >> 6)] |= 1 << (id & 63);
            }
        }
        idx
    }

    /// Whether any signature looks at this event ID (whatever the provider).
    pub fn wants_id(&self, id: u16) -> bool {
        self.wanted
            .get(usize::from(id >> 6))
            .is_some_and(|w| w & (1 << (id & 63)) != 0)
    }

    /// Whether any evidence definition reads events of this provider, whatever their ID.
    pub fn wants_provider(&self, provider: &str) -> bool {
        self.providers.iter().any(|p| same_provider(provider, p))
    }

    pub fn candidates(&self, provider: &str, id: u16) -> &[(usize, usize)] {
        let Some(providers) = self.by_id.get(&id) else {
            return &[];
        };
        providers
            .iter()
            .find(|(p, _)| same_provider(provider, p))
            .map_or(&[], |(_, pairs)| pairs.as_slice())
    }
}

/// Whether an event's provider is the one an evidence definition names, `lower` being that name
/// lowercased: compared without allocating when it is ASCII, as nearly every provider is.
fn same_provider(provider: &str, lower: &str) -> bool {
    if provider.is_ascii() {
        provider.eq_ignore_ascii_case(lower)
    } else {
        provider.to_lowercase() == lower
    }
}
