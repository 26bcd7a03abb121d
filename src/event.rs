//! The one normalized event type every reader produces and every signature reads: where the record
//! came from, its System fields, and its payload whichever shape the log stored it in (named
//! `<EventData>`, classic unnamed `<Data>` plus `<Binary>`, or `<UserData>`). A payload value is kept
//! as text as the log rendered it, `(NULL)` becomes absent, and numbers are read the same way whether
//! the producer stored them as numbers or as strings.

use crate::shared::Shared;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;

/// Index of an input file in the run's list of inputs.
pub type SourceId = u32;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub source: SourceId,
    /// The EventRecordID inside the record: what Event Viewer shows.
    pub record_id: u64,
    /// The record number in the record header, when it differs (logs saved with "Save As" are
    /// renumbered from 1 in their headers while keeping the original EventRecordIDs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_record_id: Option<u64>,
    pub time: DateTime<Utc>,
    pub computer: Arc<str>,
    pub channel: Arc<str>,
    pub provider: Arc<str>,
    /// The 16-bit event ID, Qualifiers masked off.
    pub event_id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifiers: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_id: Option<u32>,
    pub payload: Payload,
    /// Read from a text log (an installer or setup log), not an event log: only such events may
    /// carry a [`TEXT_PROVIDER_PREFIX`] provider, whatever a crafted event log names its source.
    #[serde(skip)]
    pub from_text_log: bool,
}

/// The providers of the events text logs yield (`evtriage:msi-log`, …). An event log record may
/// name any source, these too: signatures match such a provider only on events of text logs.
pub const TEXT_PROVIDER_PREFIX: &str = "evtriage:";

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Payload {
    /// Payload values in document order: `<Data>` elements, or the leaves under `<UserData>`.
    pub fields: Vec<Field>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<Vec<u8>>,
    /// The element under `<UserData>` (e.g. `RmUnsupportedRestartEvent`), namespace stripped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// `Name` attribute of a `<Data>`, or the element name of a `<UserData>` leaf.
    pub name: Option<String>,
    /// `None` for `(NULL)`, the literal classic sources write for absent strings.
    pub value: Option<String>,
}

/// A record's payload as signatures read it: built ([`Payload`]), or decoded field by field on
/// demand from the record's bytes (the reader's fast path), so that a record no signature wants
/// costs no more than the fields its conditions test.
pub trait PayloadSource {
    /// The `index`-th `<Data>` / leaf, counting all of them; `None` when absent or `(NULL)`.
    fn positional(&self, index: usize) -> Option<Cow<'_, str>>;
    /// The first field with this name.
    fn named(&self, name: &str) -> Option<Cow<'_, str>>;
    /// `<Binary>`.
    fn binary(&self) -> Option<Cow<'_, [u8]>>;
}

impl PayloadSource for Payload {
    fn positional(&self, index: usize) -> Option<Cow<'_, str>> {
        Payload::positional(self, index).map(Cow::Borrowed)
    }
    fn named(&self, name: &str) -> Option<Cow<'_, str>> {
        Payload::named(self, name).map(Cow::Borrowed)
    }
    fn binary(&self) -> Option<Cow<'_, [u8]>> {
        self.binary.as_deref().map(Cow::Borrowed)
    }
}

impl Payload {
    /// The `index`-th `<Data>` / leaf, counting all of them.
    pub fn positional(&self, index: usize) -> Option<&str> {
        self.fields.get(index).and_then(|f| f.value.as_deref())
    }

    /// The first field with this name.
    pub fn named(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .and_then(|f| f.value.as_deref())
    }

    /// Every field with this name (repeated UserData leaves such as `<Application>`).
    pub fn all_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name.as_deref() == Some(name))
            .filter_map(|f| f.value.as_deref())
    }
}

/// A number as a log renders it: decimal or `0x` hexadecimal, whether the producer stored a number
/// or a string.
pub use crate::values::parse_uint as parse_number;

/// Interned strings repeated by every record of a file (computer, channel, provider names), so
/// the events of a large log do not each carry their own copies.
pub struct Interner(Shared<str>);

impl Default for Interner {
    fn default() -> Self {
        // A hostile log could make every record name a new computer.
        Interner(Shared::bounded(4096))
    }
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        self.0.share(s, |_| true)
    }
}
