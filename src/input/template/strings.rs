//! The System strings that recur in every record of a chunk (provider, computer, channel),
//! decoded once per distinct value and shared.

use super::*;

/// The System strings that recur in every record (provider, computer, channel), trimmed and
/// shared: decoded once per chunk for each distinct value, and compared with the previous
/// record's value before anything is hashed.
#[derive(Default)]
pub struct SharedStrings {
    pub(crate) by_bytes: HashMap<(bool, Box<[u8]>), Arc<str>>,
    /// Per System field: the last value seen.
    pub(crate) recent: [Option<Recent>; 3],
}

/// A shared string as last seen: whether it was a template literal, its bytes, its text.
pub(crate) type Recent = (bool, Box<[u8]>, Arc<str>);

#[derive(Clone, Copy)]
pub(crate) enum Shared {
    Provider = 0,
    Computer = 1,
    Channel = 2,
}

impl SharedStrings {
    pub(crate) fn get(
        &mut self,
        field: Shared,
        literal: bool,
        bytes: &[u8],
        make: impl FnOnce() -> Option<Arc<str>>,
    ) -> Option<Arc<str>> {
        let recent = &mut self.recent[field as usize];
        if let Some((l, b, s)) = recent
            && *l == literal
            && **b == *bytes
        {
            return Some(s.clone());
        }
        let key = (literal, Box::<[u8]>::from(bytes));
        let s = match self.by_bytes.get(&key) {
            Some(s) => s.clone(),
            None => {
                let s = make()?;
                // Hostile input could make every record's value new: past a bound, stop remembering.
                if self.by_bytes.len() < 1024 {
                    self.by_bytes.insert(key.clone(), s.clone());
                }
                s
            }
        };
        *recent = Some((key.0, key.1, s.clone()));
        Some(s)
    }
}

/// A System string that recurs in every record; `Some(None)` when absent or null.
pub(crate) fn slot_shared(
    field: Shared,
    slot: &Slot,
    chunk: &[u8],
    values: &[RawValue],
    strings: &mut SharedStrings,
    interner: &mut Interner,
) -> Option<Option<Arc<str>>> {
    match slot {
        Slot::Subst(i) if values.get(usize::from(*i))?.ty == value_type::STRING => {
            let bytes = values[usize::from(*i)].bytes(chunk);
            strings
                .get(field, false, bytes, || {
                    Some(interner.get(utf16(bytes)?.trim()))
                })
                .map(Some)
        }
        Slot::Literal(text) => strings
            .get(field, true, text.as_bytes(), || {
                Some(interner.get(text.trim()))
            })
            .map(Some),
        _ => Some(slot_text(slot, chunk, values)?.map(|s| interner.get(s.trim()))),
    }
}
