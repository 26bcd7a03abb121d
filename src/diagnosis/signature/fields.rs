//! The values pulled out of one event for one evidence definition, held compactly by every kept
//! event until the whole input is read.

use super::*;

/// Values pulled out of one event for one evidence definition. Every kept event holds these
/// until the whole input is read, so they are compact: names are shared with the signature,
/// values with every other event that has them (see [`SharedValues`]), the quoted form is stored
/// only where it differs from the normalized value, and two evidence definitions that pulled the
/// same fields from one event share one list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Fields(pub(crate) Arc<[FieldValue]>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldValue {
    pub(crate) name: Arc<str>,
    pub(crate) value: Arc<str>,
    pub(crate) quoted: Option<Arc<str>>,
}

impl Fields {
    /// The normalized value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|f| &*f.name == name).map(|f| &*f.value)
    }

    /// Each field's name and value as evidence quotes it (the log's own words).
    pub fn quoted(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|f| (&*f.name, f.quoted.as_deref().unwrap_or(&f.value)))
    }

    /// Whether every value is one that [`SharedValues`] keeps a single copy of: only such lists
    /// are worth keeping for the whole run in a shared set.
    pub fn all_shareable(&self) -> bool {
        self.0.iter().all(|f| {
            SharedValues::keeps(&f.value) && f.quoted.as_deref().is_none_or(SharedValues::keeps)
        })
    }

    /// A list of plain values, for tests of what holds these lists.
    #[cfg(test)]
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|&(name, value)| FieldValue {
                    name: name.into(),
                    value: value.into(),
                    quoted: None,
                })
                .collect(),
        )
    }

    /// The same list, sharing `other`'s storage when the contents are equal.
    pub fn share_with(&mut self, other: &Fields) {
        if !Arc::ptr_eq(&self.0, &other.0) && self.0 == other.0 {
            self.0 = other.0.clone();
        }
    }
}

/// One copy of each short field value for the whole run: a fleet's kept events repeat the same
/// service names, start types and product names hundreds of thousands of times. Bounded, so
/// that a log of unique values costs what it would without sharing.
pub struct SharedValues(pub(crate) Mutex<Shared<str>>);

impl Default for SharedValues {
    fn default() -> Self {
        SharedValues(Mutex::new(Shared::bounded(Self::MAX_VALUES)))
    }
}

impl SharedValues {
    pub(crate) const MAX_VALUES: usize = 1 << 16;
    pub(crate) const MAX_LEN: usize = 128;

    /// Long values are rarely repeated: keeping them would only cost memory.
    pub(crate) fn keeps(value: &str) -> bool {
        value.len() <= Self::MAX_LEN
    }

    pub(crate) fn share(set: &mut Shared<str>, value: &str) -> Arc<str> {
        set.share(value, Self::keeps)
    }
}
