//! The fixed words a report uses to say where a value came from (`basis`, `computer_from`,
//! `hresult_source`, `original_start_from`, an input's `format`): written as `&'static str` by the
//! diagnosis, and read back from a report (`evtriage merge`) as the same static word. They are
//! part of the schema: a word not listed here is not a report of this schema, and reading it
//! fails with the word named, rather than keeping a copy of whatever a file says.

use serde::{Deserialize, Deserializer, de::Error};
use std::borrow::Cow;

/// One of the words below.
pub type Label = Cow<'static, str>;

/// Every word the fields above take. A new one is added here as it is added where it is written;
/// `tests/merge.rs` reads back every sample's report, which fails on a word missing here.
const LABELS: &[&str] = &[
    // Placement and ComputerClock: basis and computer_from.
    "anchored",
    "anchored_to_transaction_start",
    "setup_log_time_zone",
    "date_only",
    "file_time_utc",
    "last_save_in_service_control_log",
    "manifest",
    "live",
    "log",
    "folder",
    "flag",
    "unknown",
    // ErrorInfo::hresult_source.
    "windows_update",
    "derived_from_msi",
    // ServiceInfo::original_start_from.
    "event_log",
    "saved_state",
    "defaults",
    // LikelyCause::cause: vocabulary::CAUSES.
    "component_store_damaged",
    "deployment_service_crashed",
    // InputReport::format: the readers' names.
    "evtx",
    "evt",
    "event-xml",
    "msi-log",
    "service-control-log",
    "exchange-setup-log",
    "clixml",
    "evtriage-manifest",
];

/// The static copy of `word`, when it is one of the schema's.
pub fn known(word: &str) -> Option<&'static str> {
    LABELS.iter().copied().find(|l| *l == word)
}

/// A word of the schema, as its one static copy. (The fields are `Cow<'static, str>`, always
/// borrowed: serde would tie a `&'static str` field to the input's lifetime.)
pub fn label<'de, D: Deserializer<'de>>(d: D) -> Result<Label, D::Error> {
    let word = Cow::<'de, str>::deserialize(d)?;
    known(&word)
        .map(Cow::Borrowed)
        .ok_or_else(|| D::Error::custom(unknown(&word)))
}

pub fn optional_label<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Label>, D::Error> {
    match Option::<Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(word) => known(&word)
            .map(|w| Some(Cow::Borrowed(w)))
            .ok_or_else(|| D::Error::custom(unknown(&word))),
    }
}

fn unknown(word: &str) -> String {
    let shown: String = word.chars().take(40).collect();
    format!(
        "{:?} is not a word of this report schema (a report of another evtriage version?)",
        shown
    )
}
