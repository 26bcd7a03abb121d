//! Decoding on the pool: whole records, framed by the walk, in batches that share the block of the
//! file they lie in; each record the sink may want is parsed, asked about, and handed over.

use super::record::*;
use crate::event::SourceId;
use crate::input::EventSink;
use std::sync::Arc;

/// Whole records handed to the pool together, where they lie in a block of the file.
pub(super) struct Batch {
    pub(super) block: Arc<Vec<u8>>,
    /// Each record's file offset and its range in `block`.
    pub(super) records: Vec<(u64, std::ops::Range<usize>)>,
    pub(super) bytes: usize,
}

/// What decoding a batch found.
pub(super) struct Decoded {
    pub(super) used: u64,
    pub(super) failed: u64,
    pub(super) errors: Vec<String>,
}

impl Batch {
    pub(super) fn of(block: Arc<Vec<u8>>) -> Batch {
        Batch {
            block,
            records: Vec::new(),
            bytes: 0,
        }
    }

    /// Build an event from each record a signature may want, and hand it to the sink.
    pub(super) fn decode(&self, source: SourceId, channel: &str, sink: &dyn EventSink) -> Decoded {
        let mut d = Decoded {
            used: 0,
            failed: 0,
            errors: Vec::new(),
        };
        let mut names = NameCache::default();
        let mut verdicts = Verdicts::default();
        for (offset, range) in &self.records {
            let b = &self.block[range.clone()];
            let Some(fixed) = Fixed::parse(b) else {
                continue;
            };
            if !sink.wants_event_id(fixed.code()) {
                continue;
            }
            let parsed = Parsed::new(b).and_then(|p| {
                // The sink's answer depends on the source, the ID and the payload alone, and a
                // log repeats them (the same services starting and stopping all day).
                let wanted = match verdicts.get(fixed.code(), &p) {
                    Some(w) => w,
                    None => {
                        let provider = names.get(p.source);
                        let w = sink.wants_payload(&provider, fixed.code(), &p);
                        verdicts.put(w);
                        w
                    }
                };
                if !wanted {
                    return Ok(None);
                }
                p.check_strings()?;
                let event = p.event(source, channel, &mut names)?;
                Ok(Some((p, event)))
            });
            match parsed {
                Ok(Some((payload, event))) => {
                    if sink.accept(event, &payload) {
                        d.used += 1;
                    }
                }
                Ok(None) => {}
                Err(damage) => {
                    d.failed += 1;
                    d.errors.push(format!(
                        "record {} (offset {offset}): {damage}; it is not used",
                        fixed.number
                    ));
                }
            }
        }
        d
    }
}

/// The sink's answers to `wants_payload`, by the record's source, event ID, strings and data as
/// stored, kept as the .evtx path keeps them (`PlanCache::verdicts`): a key built in one reused
/// buffer and looked up by slice. Bounded, as a hostile log can make every record different.
#[derive(Default)]
struct Verdicts {
    by_key: rustc_hash::FxHashMap<Box<[u8]>, bool>,
    key: Vec<u8>,
}

impl Verdicts {
    const MAX: usize = 4096;
    /// Records longer than this are not remembered: a hostile log of large unique records would
    /// otherwise hold `MAX` of them.
    const MAX_KEY: usize = 2048;

    /// Build the key of the record: what the answer depends on, the ID, the source, how many
    /// strings, the strings and the data, as stored, each part with its length.
    /// False for a record too long to remember, whose key is not built.
    fn key(&mut self, id: u16, p: &Parsed) -> bool {
        self.key.clear();
        let parts = [
            p.source,
            p.string_count_bytes(),
            p.payload_bytes(),
            p.data.unwrap_or(&[]),
        ];
        if parts.iter().map(|part| part.len()).sum::<usize>() > Self::MAX_KEY {
            return false;
        }
        self.key.extend_from_slice(&id.to_le_bytes());
        for part in parts {
            self.key
                .extend_from_slice(&(part.len() as u32).to_le_bytes());
            self.key.extend_from_slice(part);
        }
        true
    }

    fn get(&mut self, id: u16, p: &Parsed) -> Option<bool> {
        if !self.key(id, p) {
            return None;
        }
        self.by_key.get(self.key.as_slice()).copied()
    }

    /// Remember the answer for the record last looked up with [`Verdicts::get`] (not for one
    /// too long to remember, whose key is empty).
    fn put(&mut self, wanted: bool) {
        if self.key.is_empty() {
            return;
        }
        if self.by_key.len() >= Self::MAX {
            self.by_key.clear();
        }
        self.by_key.insert(self.key.as_slice().into(), wanted);
    }
}
