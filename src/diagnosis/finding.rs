//! What a diagnosis says: findings with their evidence, as every report format prints them. The
//! JSON schema (`docs/json-schema.md`) is this module serialized.

use super::signature::{Role, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The failure's effects are still in place at the end of the logs.
    Unresolved,
    /// Some effects were undone later, some were not.
    PartiallyResolved,
    /// Everything the failure did was undone later.
    Resolved,
    /// Not a failure: information only.
    Informational,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unresolved => "unresolved",
            Status::PartiallyResolved => "partially resolved",
            Status::Resolved => "resolved",
            Status::Informational => "information",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfidenceLevel {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Confidence {
    pub level: ConfidenceLevel,
    /// The evidence that was found, in the signature's words.
    pub found: Vec<String>,
    /// The evidence that was looked for and not found.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UpdateInfo {
    pub title: Option<String>,
    pub kb: Option<String>,
    pub product: Option<String>,
    pub package: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ErrorInfo {
    /// As Windows Update reported it, or derived from the installer's code when it did not.
    pub hresult: Option<String>,
    #[serde(deserialize_with = "crate::labels::optional_label")]
    pub hresult_source: Option<crate::labels::Label>,
    pub hresult_name: Option<Cow<'static, str>>,
    pub msi: Option<u64>,
    pub msi_name: Option<Cow<'static, str>>,
    pub meaning: Option<Cow<'static, str>>,
    /// The installer's own sentence about the failure (Error-table events 10005, 11xxx).
    pub installer_message: Option<String>,
    pub log_file: Option<String>,
    /// Read from the verbose log (when it is among the inputs): the installer log it is, the
    /// action that failed, and the log's lines before that failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer_log: Option<InstallerLog>,
}

/// What the verbose installer log said of the failure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallerLog {
    /// The log among the inputs.
    pub file: String,
    /// Whether it is the log the event log names (1023's "Log file", by file name): false when
    /// the event log names another one, absent when no record names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_by_event_log: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_action: Option<String>,
    /// The lines before the failed action, as the log has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockedFile {
    pub path: Option<String>,
    pub process: Option<String>,
    pub pid: Option<u32>,
    pub image: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service's key name; its display name where the logs give no key name (Windows Server
    /// 2003 and 2008 7040s): then `name_is_key` is false.
    pub name: String,
    pub name_is_key: bool,
    pub display_name: Option<String>,
    /// The start type before it was disabled: auto, demand, boot, system (or unknown:<text>).
    pub original_start: String,
    /// Where `original_start` comes from: `event_log` (the 7040 that disabled it), `saved_state`
    /// (the start modes setup saved before it disabled anything), `defaults` (evtriage's table of
    /// the Exchange version's default start types: the logs do not say), or `unknown`.
    #[serde(deserialize_with = "crate::labels::label")]
    pub original_start_from: crate::labels::Label,
    pub disabled_at: DateTime<Utc>,
    pub disabled_by: Option<String>,
    /// Setup stopped it during the install, so it was running before.
    pub was_running: bool,
    pub still_disabled: bool,
    pub restored_at: Option<DateTime<Utc>>,
    pub restored_to: Option<String>,
    pub restored_by: Option<String>,
    /// Later attempts to start it that failed because it was disabled.
    pub start_refused: u32,
}

/// The Windows the finding's computer ran, as its logs show it, and what that rests on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowsVersion {
    /// `Windows 10 / Server 2016 or later` or `a Windows older than Windows 10 / Server 2016`, with the
    /// version where the logs give it.
    pub name: String,
    /// The build number (15063), where a boot record gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<u32>,
    /// Build 10240 (Windows 10 1507, Server 2016's base) or later: `Get-WindowsUpdateLog` makes
    /// the readable Windows Update log; before, `%windir%\WindowsUpdate.log` is it.
    pub windows_10_or_later: bool,
    /// The record (or the update's title) it rests on.
    pub from: String,
}

/// A later update of the same series that started installing after the failure and has not
/// finished: it replaces the failed one, and it is what is pending.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub update: String,
    pub started: DateTime<Utc>,
    /// Whether the computer started again after it began (a boot record says so).
    pub restarted_since: bool,
}

/// A likely cause of the failure that the logs show beside it (`likely_cause` of a signature's
/// cause evidence): what it is, what it means, and the records that show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LikelyCause {
    /// A word of the schema: `component_store_damaged`, `deployment_service_crashed`.
    #[serde(deserialize_with = "crate::labels::label")]
    pub cause: crate::labels::Label,
    /// What it means, in a clause.
    pub means: String,
    /// Each record that shows it: file, record, time and what the signature says of it.
    pub shown_by: Vec<String>,
}

/// An update staged until the computer restarts: since when it waits, and for how long at the
/// end of the logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitingForRestart {
    pub since: DateTime<Utc>,
    /// Whole days from `since` to the end of the logs.
    pub days: i64,
}

/// What a saved state of the services' start modes is worth.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedStartModes {
    /// The file the saved modes were read from.
    pub file: String,
    /// How many services it holds.
    pub services: usize,
    /// When the start modes were last saved, as the service-control log says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_saved: Option<DateTime<Utc>>,
    /// Saved again after the services were disabled: it records Disabled, not what they had.
    /// Restoring from it (as setup's own AfterPatch would) leaves them disabled.
    pub stale: bool,
    /// Why it is stale, or what it was used for.
    pub note: String,
    /// Services it shows were already disabled before the update: left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_before: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub text: String,
    pub powershell: Vec<String>,
    pub cmd: Vec<String>,
    /// Commands left out because a value from the logs failed its check: what was left out, why,
    /// and the value, escaped.
    pub withheld: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub evidence: String,
    pub role: Role,
    pub describe: String,
    pub file: String,
    pub record_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_record_id: Option<u64>,
    pub time: DateTime<Utc>,
    pub provider: String,
    pub event_id: u16,
    /// The fields the signature used, as the log shows them.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub signature: String,
    pub title: String,
    /// The Microsoft article that describes the problem.
    pub kb_article: Option<String>,
    pub severity: Severity,
    pub status: Status,
    /// Whether someone has to do something: false for information, and for failures whose effects
    /// were undone and whose update was installed later.
    pub action_required: bool,
    /// Why it is (or is not) action-required, in one sentence (docs/signatures.md, "Action
    /// required").
    #[serde(default)]
    pub action_reason: String,
    pub confidence: Confidence,
    pub computer: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub summary: String,
    pub update: UpdateInfo,
    pub error: ErrorInfo,
    pub locked_files: Vec<LockedFile>,
    pub services: Vec<ServiceInfo>,
    pub remediation: Vec<Step>,
    pub evidence: Vec<EvidenceRef>,
    /// What the finding does not list because a list was longer than evtriage shows (a hostile
    /// or broken log): how many, of what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
    /// What could not be checked because a log was not among the inputs or did not reach back to
    /// the incident, and why: the finding rests on the other logs alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// When text logs of this computer were read (local time): the offset they were placed on
    /// the event logs' UTC timeline with, and the moments both recorded that it rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_log_clock: Option<crate::input::text::ComputerClock>,
    /// Services setup's script disabled that were disabled already before the update (the trusted
    /// saved state says so, or the System log, which records every change of start type, has
    /// none for them): no change to undo, left as they are by every step and script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub already_disabled: Vec<String>,
    /// The start modes setup saved before it disabled the services (`ServiceStartupMode.xml`),
    /// where read: whether they can be trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_start_modes: Option<SavedStartModes>,
    /// The Windows the computer ran, where its boot records or the update's title say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsVersion>,
    /// A later update of the same series that replaces the failed one and has not finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<PendingUpdate>,
    /// What the logs show beside the failure that likely caused it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub likely_causes: Vec<LikelyCause>,
    /// App packages Windows named as in use, to be closed before the install (AppX deployment
    /// 404's text), by full name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps_to_close: Vec<String>,
    /// For what waits for a restart: since when, and how long at the end of the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_restart: Option<WaitingForRestart>,
}
