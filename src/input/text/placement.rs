//! Where a text log's local times were placed on the event logs' UTC timeline, and on what
//! evidence: what reports show of [`crate::timeline`]'s work.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a text log was placed: which computer, and the offset of its local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The computer the log is taken to be of; `unknown` when nothing says.
    pub computer: String,
    /// `log` (the text log names it: a verbose log's ComputerName), `folder` (event logs of one
    /// computer beside it), `flag` (`--text-computer`), `unknown`.
    #[serde(deserialize_with = "crate::labels::label")]
    pub computer_from: crate::labels::Label,
    /// Local time minus UTC, in minutes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i32>,
    /// `anchored` (moments both logs record), `anchored_to_transaction_start` (a run or session
    /// began just after the one Exchange installer transaction near it: weaker),
    /// `setup_log_time_zone` (the zone ExchangeSetup.log
    /// states, standard time), or `date_only` (not placed against the event logs: its events are
    /// ordered among themselves, and within a day of the event logs').
    #[serde(deserialize_with = "crate::labels::label")]
    pub basis: crate::labels::Label,
}

/// One computer's clock: the offset its text logs were placed with, and what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputerClock {
    pub computer: String,
    /// The offset most anchors agree on (minutes, local minus UTC); others are listed when a
    /// log spans a change of summer time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i32>,
    /// Every offset the anchors found, with how many anchors found it.
    pub offsets: Vec<OffsetVotes>,
    #[serde(deserialize_with = "crate::labels::label")]
    pub basis: crate::labels::Label,
    /// The first anchors (at most 10).
    pub anchors: Vec<Anchor>,
    pub anchors_total: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetVotes {
    pub utc_offset_minutes: i32,
    pub anchors: usize,
}

/// A moment both a text log and an event log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// `ServiceControl.log line 212: Disabling service` …
    pub text: String,
    /// … `System.evtx record 5012: Service Control Manager 7040`.
    pub event: String,
    /// The text log's wall-clock time, as written.
    pub local_time: String,
    pub utc_time: DateTime<Utc>,
    pub utc_offset_minutes: i32,
}
