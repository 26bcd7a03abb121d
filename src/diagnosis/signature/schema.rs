//! A signature file as written: the TOML schema, deserialized as is. Everything here is checked
//! and compiled by `compile.rs` before anything runs.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Marks an incident: the failure itself. Anchors close together form one incident.
    Anchor,
    /// Explains why it failed (the file in use, the process holding it).
    Cause,
    /// What the failure did (services stopped and disabled).
    Effect,
    /// What followed from it (services that could not start).
    Impact,
    /// Surrounding facts worth quoting (the transaction, the package).
    Context,
    /// Undoes an effect, or shows the update installed after all.
    Recovery,
    /// Its presence means the incident is something else.
    Exclusion,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn ids(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }

    pub(crate) fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Literal {
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionDef {
    pub field: Option<String>,
    /// A regex, or the name of one in the file's `[patterns]`.
    pub matches: Option<String>,
    pub equals: Option<Literal>,
    pub not_equals: Option<Literal>,
    #[serde(rename = "in")]
    pub in_: Option<Vec<Literal>>,
    pub not_in: Option<Vec<Literal>>,
    /// Whether the field is present (and not `(NULL)`).
    pub present: Option<bool>,
    /// True when any of these holds.
    pub any: Option<Vec<ConditionDef>>,
    /// True when all of these hold.
    pub all: Option<Vec<ConditionDef>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDef {
    /// How long before the incident's first anchor: "3h", "10m", "90s", or "start" (of the logs).
    pub before: Option<String>,
    /// How long after the incident's last anchor, or "end" (of the logs).
    pub after: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinDef {
    pub field: String,
    /// `evidence_id.field`, or `anchor.field` for the incident's anchors.
    pub to: String,
    /// When the evidence joined to has no item, keep everything instead of nothing.
    #[serde(default)]
    pub if_present: bool,
}

/// An event ID, or an inclusive range of them written `"11101-11706"`: Windows Installer logs
/// each Error-table message as its own event ID, hundreds of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EventIdDef {
    One(u16),
    Range(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDef {
    pub id: String,
    pub role: Role,
    pub describe: String,
    pub provider: OneOrMany,
    pub event_ids: Vec<EventIdDef>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default, rename = "where")]
    pub conditions: Vec<ConditionDef>,
    pub window: Option<WindowDef>,
    #[serde(default)]
    pub join: Vec<JoinDef>,
    /// Whether its records date the incident (`first_seen`, `last_seen`): false for what
    /// describes the computer around it (its boots, its Windows version), which may lie weeks
    /// away from the failure.
    #[serde(default = "dates_incident_default")]
    pub dates_incident: bool,
    /// For anchors: anchors whose values of this field differ belong to different incidents.
    pub cluster_key: Option<String>,
    /// For causes: the cause this evidence shows (a word of `vocabulary::CAUSES`), which the
    /// finding names beside the failure as its likely cause.
    pub likely_cause: Option<String>,
}

fn dates_incident_default() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentDef {
    /// Anchors further apart than this start a new incident.
    pub gap: String,
    /// An anchor field that ends a transaction: updates installed one after another in a batch
    /// (the same product, minutes apart) are one cluster of anchors, but each update's files in use
    /// and restart belong to the update whose transaction they fall in. With this set, an incident
    /// is split at each anchor carrying the field, and evidence before an anchor counts only back
    /// to the end of the previous transaction.
    pub split_at: Option<String>,
}

/// What a signature concludes when a log it needs is not among the inputs, or does not reach back
/// to the incident (it wrapped): the evidence that must hold instead of `requires`, and what the
/// finding says it could not check. Such a finding's confidence is medium.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingLogDef {
    /// The log's name as records carry it (`System`).
    pub log: String,
    /// Replaces `requires` when the log does not cover the incident.
    pub requires: Vec<Vec<String>>,
    /// Replaces `summary` then.
    pub summary: String,
    /// What could not be checked without the log (a clause: "which services setup disabled").
    pub unchecked: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusDef {
    /// Resolved when any of this evidence was found (e.g. the update installed later).
    #[serde(default)]
    pub resolved_by: Vec<String>,
    /// Resolved when every item of `each` has a later item of `restored_by` with the same `key`.
    /// Either may name several evidence definitions (the System log's 7040s and
    /// `ServiceControl.log`'s lines): for a key found in several, the one named first is used.
    pub each: Option<OneOrMany>,
    pub key: Option<String>,
    pub restored_by: Option<OneOrMany>,
    /// Evidence whose items carry each key's start mode as saved before the change (`old_start`):
    /// used for a key whose `each` item does not say it, unless the saved state is stale.
    pub saved: Option<String>,
    /// Evidence that marks each time that state was saved again, replacing it: a save after the
    /// first change makes the saved state stale (it then records the changed values).
    pub saved_at: Option<String>,
}

/// `[action]`: the rule of docs/signatures.md ("Action required"). A failure of something
/// Windows retries by itself (Windows Update installs, Store app updates) needs action only when
/// it persists: it failed on two or more days, or again after the computer restarted.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionDef {
    #[serde(default)]
    pub retried_by_windows: bool,
    /// Evidence that marks the computer starting (EventLog 6005, Kernel-General 12, the
    /// Application log's service starts): a failure after one of these failed again after a
    /// restart.
    #[serde(default)]
    pub restarts: Vec<String>,
    /// What is reported waits for the computer to restart (an update staged until the next
    /// start): action only once it has waited this long ("7d") at the end of the logs; less,
    /// and the restart Windows or the administrator schedules is still to come.
    pub waits_for_restart: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfidenceDef {
    /// Each level is a list of groups; a group holds when any evidence in it was found.
    #[serde(default)]
    pub high: Vec<Vec<String>>,
    #[serde(default)]
    pub medium: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    pub id: String,
    pub title: String,
    pub text: String,
    /// Only when this list is non-empty or this flag is true (see `docs/signatures.md`).
    pub when: Option<String>,
    /// Repeat the commands for each item of this list.
    pub foreach: Option<String>,
    #[serde(default)]
    pub powershell: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReportWhen {
    #[default]
    Always,
    Unresolved,
}

/// A signature file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureDef {
    pub id: String,
    pub title: String,
    pub kb: Option<String>,
    pub severity: Severity,
    pub priority: u32,
    /// What happened, one or two sentences, with `{placeholders}`.
    pub summary: String,
    /// Sentences added to the summary when every value they name is known.
    #[serde(default)]
    pub summary_more: Vec<String>,
    #[serde(default)]
    pub patterns: BTreeMap<String, String>,
    pub incident: IncidentDef,
    pub evidence: Vec<EvidenceDef>,
    /// All groups must hold; a group holds when any evidence in it was found.
    pub requires: Vec<Vec<String>>,
    /// What to conclude when a log the evidence comes from is missing (see [`MissingLogDef`]).
    pub missing_log: Option<MissingLogDef>,
    pub status: Option<StatusDef>,
    /// Findings whose status is resolved still need action unless these groups hold too (a group
    /// holds when any evidence in it was found).
    #[serde(default)]
    pub done_when: Vec<Vec<String>>,
    #[serde(default)]
    pub report_when: ReportWhen,
    /// When an unresolved failure needs someone to act (see [`ActionDef`]); without it, every
    /// unresolved failure does.
    pub action: Option<ActionDef>,
    #[serde(default)]
    pub confidence: ConfidenceDef,
    #[serde(default)]
    pub remediation: Vec<StepDef>,
    /// Logs the signature must find something in, and logs it must find nothing in
    /// (`tests/signature_fixtures.rs` runs them).
    #[serde(default)]
    pub fixtures: FixturesDef,
}

/// A fixture is a path from the project's root (a sample bundle, one log, or a file of
/// `../shared/corpus`), or `gen:<name>`, a log that `evtriage-gen`'s fixtures module writes.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FixturesDef {
    #[serde(rename = "match", default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub no_match: Vec<String>,
}
