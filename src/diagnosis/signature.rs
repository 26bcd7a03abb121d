//! The signature language: what a signature file (TOML, see `docs/signatures.md`) may say, checked
//! when it is loaded, and the two things evaluated per event — pulling named fields out of a record
//! and testing conditions on them. Correlation, status and reporting live in `engine.rs`.

use crate::event::{Event, PayloadSource, parse_number};
use crate::knowledge;
use crate::shared::Shared;
use chrono::Duration;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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
    fn to_vec(&self) -> Vec<String> {
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDef {
    pub id: String,
    pub role: Role,
    pub describe: String,
    pub provider: OneOrMany,
    pub event_ids: Vec<u16>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default, rename = "where")]
    pub conditions: Vec<ConditionDef>,
    pub window: Option<WindowDef>,
    #[serde(default)]
    pub join: Vec<JoinDef>,
    /// For anchors: anchors whose values of this field differ belong to different incidents.
    pub cluster_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentDef {
    /// Anchors further apart than this start a new incident.
    pub gap: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusDef {
    /// Resolved when any of this evidence was found (e.g. the update installed later).
    #[serde(default)]
    pub resolved_by: Vec<String>,
    /// Resolved when every item of `each` has a later item of `restored_by` with the same `key`.
    pub each: Option<String>,
    pub key: Option<String>,
    pub restored_by: Option<String>,
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
    pub status: Option<StatusDef>,
    /// Findings whose status is resolved still need action unless these groups hold too (a group
    /// holds when any evidence in it was found).
    #[serde(default)]
    pub done_when: Vec<Vec<String>>,
    #[serde(default)]
    pub report_when: ReportWhen,
    #[serde(default)]
    pub confidence: ConfidenceDef,
    #[serde(default)]
    pub remediation: Vec<StepDef>,
}

/// Where a field's value comes from, and how it is normalized.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Positional(usize),
    Named(String),
    Binary,
    UserSid,
    ProcessId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    None,
    Number,
    StartType,
    Hresult,
    Kb,
    Basename,
    MsiProductCode,
    MsiPatchCode,
    MsiBinaryCode,
    MsiMessageProduct,
    ScmKey,
    ScmState,
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: Arc<str>,
    /// Tried in order; the first present one is used (`param4|param1`).
    pub sources: Vec<Source>,
    pub transform: Transform,
    pub source_text: String,
    /// A hash of the source text and transform: one record's extractions are looked up by it
    /// (and confirmed by the text) for every evidence definition that tests that record.
    pub source_key: u64,
}

#[derive(Debug, Clone)]
/// A condition names its field by its index in the evidence's fields.
pub enum Condition {
    Matches(usize, Regex),
    Equals(usize, Literal),
    NotEquals(usize, Literal),
    In(usize, Vec<Literal>),
    NotIn(usize, Vec<Literal>),
    Present(usize, bool),
    Any(Vec<Condition>),
    All(Vec<Condition>),
}

impl Condition {
    /// Whether every field the condition tests comes from the payload alone.
    fn reads_payload_only(&self, fields: &[FieldSpec]) -> bool {
        let payload = |f: &usize| {
            fields[*f]
                .sources
                .iter()
                .all(|s| matches!(s, Source::Positional(_) | Source::Named(_) | Source::Binary))
        };
        match self {
            Condition::Matches(f, _)
            | Condition::Equals(f, _)
            | Condition::NotEquals(f, _)
            | Condition::In(f, _)
            | Condition::NotIn(f, _)
            | Condition::Present(f, _) => payload(f),
            Condition::Any(cs) | Condition::All(cs) => {
                cs.iter().all(|c| c.reads_payload_only(fields))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Unbounded,
    Within(Duration),
}

#[derive(Debug, Clone)]
pub struct Join {
    pub field: String,
    /// `None` for the incident's anchors.
    pub evidence: Option<usize>,
    pub target_field: String,
    pub if_present: bool,
}

/// An evidence definition ready to evaluate.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub id: String,
    pub role: Role,
    pub describe: String,
    /// Lowercased provider names.
    pub providers: Vec<String>,
    pub event_ids: Vec<u16>,
    pub fields: Vec<FieldSpec>,
    pub conditions: Vec<Condition>,
    /// Per condition: whether it reads the payload alone (no user SID or process ID), so that
    /// it can be tested before the rest of the event is built.
    pub payload_only: Vec<bool>,
    pub before: Bound,
    pub after: Bound,
    pub joins: Vec<Join>,
    pub cluster_key: Option<String>,
}

/// A loaded, checked signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub def: SignatureDef,
    pub evidence: Vec<Evidence>,
    pub gap: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("signature {file}: {message}")]
pub struct SignatureError {
    pub file: String,
    pub message: String,
}

/// Values pulled out of one event for one evidence definition. Every kept event holds these
/// until the whole input is read, so they are compact: names are shared with the signature,
/// values with every other event that has them (see [`SharedValues`]), the quoted form is stored
/// only where it differs from the normalized value, and two evidence definitions that pulled the
/// same fields from one event share one list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Fields(Arc<[FieldValue]>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldValue {
    name: Arc<str>,
    value: Arc<str>,
    quoted: Option<Arc<str>>,
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
pub struct SharedValues(Mutex<Shared<str>>);

impl Default for SharedValues {
    fn default() -> Self {
        SharedValues(Mutex::new(Shared::bounded(Self::MAX_VALUES)))
    }
}

impl SharedValues {
    const MAX_VALUES: usize = 1 << 16;
    const MAX_LEN: usize = 128;

    /// Long values are rarely repeated: keeping them would only cost memory.
    fn keeps(value: &str) -> bool {
        value.len() <= Self::MAX_LEN
    }

    fn share(set: &mut Shared<str>, value: &str) -> Arc<str> {
        set.share(value, Self::keeps)
    }
}

pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let d = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    }?;
    // Windows are added to and taken from event times; past a century they mean nothing and
    // could overflow the time arithmetic.
    (d <= Duration::days(MAX_DAYS)).then_some(d)
}

/// The longest duration a signature may give: a century.
const MAX_DAYS: i64 = 36_525;

fn parse_bound(s: Option<&str>, unbounded_word: &str) -> Result<Bound, String> {
    match s {
        None => Ok(Bound::Within(Duration::zero())),
        Some(w) if w == unbounded_word => Ok(Bound::Unbounded),
        Some(d) => parse_duration(d).map(Bound::Within).ok_or_else(|| {
            format!(
                "'{d}' is not a duration of at most a century (use 90s, 10m, 3h, 2d or {unbounded_word})"
            )
        }),
    }
}

fn parse_field(name: &str, spec: &str) -> Result<FieldSpec, String> {
    let (src, transform) = match spec.rsplit_once(':') {
        Some((s, t)) => (s, Some(t)),
        None => (spec, None),
    };
    let sources = src
        .split('|')
        .map(|one| {
            Ok(if let Some(rest) = one.strip_prefix("Data[") {
                let n = rest
                    .strip_suffix(']')
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("field {name}: '{one}' is not Data[n]"))?;
                Source::Positional(n)
            } else {
                match one {
                    "Binary" => Source::Binary,
                    "UserSid" => Source::UserSid,
                    "ProcessId" => Source::ProcessId,
                    "" => return Err(format!("field {name}: empty source")),
                    named => Source::Named(named.to_string()),
                }
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let transform = match transform {
        None => Transform::None,
        Some("number") => Transform::Number,
        Some("start_type") => Transform::StartType,
        Some("hresult") => Transform::Hresult,
        Some("kb") => Transform::Kb,
        Some("basename") => Transform::Basename,
        Some("msi_product_code") => Transform::MsiProductCode,
        Some("msi_patch_code") => Transform::MsiPatchCode,
        Some("msi_binary_code") => Transform::MsiBinaryCode,
        Some("msi_message_product") => Transform::MsiMessageProduct,
        Some("scm_key") => Transform::ScmKey,
        Some("scm_state") => Transform::ScmState,
        Some(other) => return Err(format!("field {name}: unknown transform '{other}'")),
    };
    let binary_only = matches!(
        transform,
        Transform::MsiProductCode
            | Transform::MsiPatchCode
            | Transform::MsiBinaryCode
            | Transform::ScmKey
            | Transform::ScmState
    );
    if binary_only != (sources == [Source::Binary]) {
        return Err(format!(
            "field {name}: transform and source do not fit ('{spec}')"
        ));
    }
    let source_key = {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        src.hash(&mut h);
        (transform as u8).hash(&mut h);
        h.finish()
    };
    Ok(FieldSpec {
        name: name.into(),
        sources,
        transform,
        source_text: src.to_string(),
        source_key,
    })
}

fn compile_condition(
    c: &ConditionDef,
    patterns: &BTreeMap<String, String>,
    fields: &[FieldSpec],
) -> Result<Condition, String> {
    for (list, all) in [(&c.any, false), (&c.all, true)] {
        if let Some(list) = list {
            let inner = list
                .iter()
                .map(|c| compile_condition(c, patterns, fields))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if all {
                Condition::All(inner)
            } else {
                Condition::Any(inner)
            });
        }
    }
    let field = c
        .field
        .clone()
        .ok_or("a condition needs `field` (or `any`)")?;
    let Some(index) = fields.iter().position(|f| *f.name == *field) else {
        return Err(format!(
            "condition on '{field}', which the evidence does not extract"
        ));
    };
    let set = [
        c.matches.is_some(),
        c.equals.is_some(),
        c.not_equals.is_some(),
        c.in_.is_some(),
        c.not_in.is_some(),
        c.present.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(format!("condition on '{field}' must have exactly one test"));
    }
    Ok(if let Some(m) = &c.matches {
        let pattern = patterns.get(m).unwrap_or(m);
        let re = Regex::new(pattern).map_err(|e| format!("pattern '{m}': {e}"))?;
        Condition::Matches(index, re)
    } else if let Some(v) = &c.equals {
        Condition::Equals(index, v.clone())
    } else if let Some(v) = &c.not_equals {
        Condition::NotEquals(index, v.clone())
    } else if let Some(v) = &c.in_ {
        Condition::In(index, v.clone())
    } else if let Some(v) = &c.not_in {
        Condition::NotIn(index, v.clone())
    } else {
        Condition::Present(index, c.present.unwrap_or(true))
    })
}

/// The fields a condition reads.
impl Signature {
    /// Parse and check a signature file; `file` names it in error messages.
    pub fn from_toml(file: &str, text: &str) -> Result<Signature, SignatureError> {
        let err = |message: String| SignatureError {
            file: file.to_string(),
            message,
        };
        let def: SignatureDef = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let gap = parse_duration(&def.incident.gap).ok_or_else(|| {
            err(format!(
                "incident gap '{}' is not a duration of at most a century",
                def.incident.gap
            ))
        })?;
        let mut evidence: Vec<Evidence> = Vec::new();
        for e in &def.evidence {
            let ctx = |m: String| err(format!("evidence {}: {m}", e.id));
            if evidence.iter().any(|x| x.id == e.id) {
                return Err(ctx("defined twice".into()));
            }
            if e.event_ids.is_empty() {
                return Err(ctx("no event_ids".into()));
            }
            let fields = e
                .fields
                .iter()
                .map(|(n, s)| parse_field(n, s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ctx)?;
            let conditions = e
                .conditions
                .iter()
                .map(|c| compile_condition(c, &def.patterns, &fields))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ctx)?;
            let payload_only = conditions
                .iter()
                .map(|c| c.reads_payload_only(&fields))
                .collect();
            let (before, after) = match &e.window {
                None => (
                    Bound::Within(Duration::zero()),
                    Bound::Within(Duration::zero()),
                ),
                Some(w) => (
                    parse_bound(w.before.as_deref(), "start").map_err(ctx)?,
                    parse_bound(w.after.as_deref(), "end").map_err(ctx)?,
                ),
            };
            let mut joins = Vec::new();
            for j in &e.join {
                if !fields.iter().any(|f| *f.name == *j.field) {
                    return Err(ctx(format!(
                        "join on '{}', which the evidence does not extract",
                        j.field
                    )));
                }
                let (target, target_field) = j
                    .to
                    .split_once('.')
                    .ok_or_else(|| ctx(format!("join target '{}' is not evidence.field", j.to)))?;
                let evidence_index = if target == "anchor" {
                    None
                } else {
                    let i = evidence
                        .iter()
                        .position(|x| x.id == target)
                        .ok_or_else(|| {
                            ctx(format!(
                                "join target '{target}' is not an evidence defined above"
                            ))
                        })?;
                    if !evidence[i].fields.iter().any(|f| &*f.name == target_field) {
                        return Err(ctx(format!(
                            "join target '{target}' has no field '{target_field}'"
                        )));
                    }
                    Some(i)
                };
                joins.push(Join {
                    field: j.field.clone(),
                    evidence: evidence_index,
                    target_field: target_field.to_string(),
                    if_present: j.if_present,
                });
            }
            if let Some(k) = &e.cluster_key
                && !fields.iter().any(|f| *f.name == **k)
            {
                return Err(ctx(format!("cluster_key '{k}' is not an extracted field")));
            }
            evidence.push(Evidence {
                id: e.id.clone(),
                role: e.role,
                describe: e.describe.clone(),
                providers: e
                    .provider
                    .to_vec()
                    .iter()
                    .map(|p| p.to_lowercase())
                    .collect(),
                event_ids: e.event_ids.clone(),
                fields,
                conditions,
                payload_only,
                before,
                after,
                joins,
                cluster_key: e.cluster_key.clone(),
            });
        }
        if !evidence.iter().any(|e| e.role == Role::Anchor) {
            return Err(err("no evidence has role = \"anchor\"".into()));
        }
        let known = |id: &str| id == "anchor" || evidence.iter().any(|e| e.id == id);
        let mut named: Vec<&str> = def.requires.iter().flatten().map(String::as_str).collect();
        named.extend(def.done_when.iter().flatten().map(String::as_str));
        named.extend(
            def.confidence
                .high
                .iter()
                .chain(&def.confidence.medium)
                .flatten()
                .map(String::as_str),
        );
        if let Some(s) = &def.status {
            named.extend(s.resolved_by.iter().map(String::as_str));
            named.extend(
                [&s.each, &s.restored_by]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
            if s.each.is_some() != s.restored_by.is_some() || s.each.is_some() != s.key.is_some() {
                return Err(err("status needs each, key and restored_by together".into()));
            }
        }
        if let Some(unknown) = named.iter().find(|n| !known(n)) {
            return Err(err(format!("'{unknown}' names no evidence")));
        }
        check_templates(&def)
            .map_err(|(anchor, m)| err(format!("line {}: {m}", line_of(text, &anchor))))?;
        Ok(Signature { def, evidence, gap })
    }
}

/// Every summary, title, text, `when`, `foreach` and command against the vocabulary; on error, a
/// line of the file to find it by and the message.
fn check_templates(def: &SignatureDef) -> Result<(), (String, String)> {
    use super::command::Shell;
    use super::vocabulary::{check_command, check_text, check_when};
    check_text(&def.summary, None).map_err(|m| ("summary".to_string(), format!("summary: {m}")))?;
    for more in &def.summary_more {
        check_text(more, None)
            .map_err(|m| ("summary_more".to_string(), format!("summary_more: {m}")))?;
    }
    for step in &def.remediation {
        let at = |m: String| {
            (
                format!("id = \"{}\"", step.id),
                format!("remediation {}: {m}", step.id),
            )
        };
        check_text(&step.title, None).map_err(|m| at(format!("title: {m}")))?;
        check_text(&step.text, None).map_err(|m| at(format!("text: {m}")))?;
        if let Some(w) = &step.when {
            check_when(w).map_err(at)?;
        }
        let each = step.foreach.as_deref();
        for c in &step.powershell {
            check_command(c, Shell::PowerShell, each)
                .map_err(|m| at(format!("powershell: {m}")))?;
        }
        for c in &step.cmd {
            check_command(c, Shell::Cmd, each).map_err(|m| at(format!("cmd: {m}")))?;
        }
    }
    Ok(())
}

/// The first line (1-based) of `text` that starts with `anchor`, after indentation; 1 when none
/// does (the message still names what is wrong).
fn line_of(text: &str, anchor: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(anchor))
        .map_or(1, |i| i + 1)
}

/// The fields extracted from one event so far, shared by every evidence definition tested on it:
/// a busy System log's service events are tested by several signatures that read the same
/// fields, and most fail on the first condition, so fields are extracted when a condition first
/// reads them, once per event. Keyed by source and transform (`Binary:scm_key`).
#[derive(Default)]
pub struct Extracted<'s> {
    entries: Vec<(&'s FieldSpec, Option<Value>)>,
}

/// A field's normalized value, and how evidence quotes it where that differs.
type Value = (String, Option<String>);

fn same_source(a: &FieldSpec, b: &FieldSpec) -> bool {
    a.source_key == b.source_key && a.transform == b.transform && a.source_text == b.source_text
}

impl<'s> Extracted<'s> {
    /// The field's (normalized value, quoted value), extracted on first use.
    fn get(&mut self, f: &'s FieldSpec, event: Record) -> Option<&Value> {
        let at = match self.entries.iter().position(|(s, _)| same_source(s, f)) {
            Some(i) => i,
            None => {
                self.entries.push((f, extract(f, event)));
                self.entries.len() - 1
            }
        };
        self.entries[at].1.as_ref()
    }

    /// A field [`Extracted::get`] has already extracted.
    fn extracted(&self, f: &FieldSpec) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(s, _)| same_source(s, f))?
            .1
            .as_ref()
    }
}

/// What evaluation reads of one record: its event's System fields (not yet built when only the
/// payload is tested), and its payload.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    pub event: Option<&'a Event>,
    pub payload: &'a dyn PayloadSource,
}

/// Whether the evidence's conditions that read the payload alone all hold: false means no event
/// with this payload can match it, whatever its other fields.
pub fn payload_may_match<'s>(
    ev: &'s Evidence,
    payload: &dyn PayloadSource,
    seen: &mut Extracted<'s>,
) -> bool {
    let record = Record {
        event: None,
        payload,
    };
    ev.conditions
        .iter()
        .zip(&ev.payload_only)
        .all(|(c, only)| !only || holds(c, ev, record, seen))
}

/// Test the evidence's conditions on `event`; on a match, the evidence's fields. `None` when it
/// does not match. `seen` carries what earlier evidence definitions extracted from the same event.
pub fn evaluate<'s>(
    ev: &'s Evidence,
    event: Record,
    seen: &mut Extracted<'s>,
    shared: &SharedValues,
) -> Option<Fields> {
    if !ev.conditions.iter().all(|c| holds(c, ev, event, seen)) {
        return None;
    }
    if ev.fields.is_empty() {
        return Some(Fields::default());
    }
    for f in &ev.fields {
        seen.get(f, event);
    }
    let mut set = shared.0.lock().unwrap_or_else(|p| p.into_inner());
    Some(Fields(
        ev.fields
            .iter()
            .filter_map(|f| {
                let (value, shown) = seen.extracted(f)?;
                Some(FieldValue {
                    name: f.name.clone(),
                    quoted: shown.as_deref().map(|s| SharedValues::share(&mut set, s)),
                    value: SharedValues::share(&mut set, value),
                })
            })
            .collect(),
    ))
}

/// Extract one field: the first source that is present and survives the transform.
fn extract(f: &FieldSpec, record: Record) -> Option<Value> {
    let (event, payload) = (record.event, record.payload);
    f.sources.iter().find_map(|source| {
        let mut binary = None;
        let raw: std::borrow::Cow<str> = match source {
            Source::Positional(i) => payload.positional(*i)?,
            Source::Named(n) => payload.named(n)?,
            // The binary transforms read the bytes themselves; only a plain field needs hex.
            Source::Binary if f.transform != Transform::None => {
                binary = Some(payload.binary()?);
                "".into()
            }
            Source::Binary => crate::values::to_hex_upper(&payload.binary()?).into(),
            Source::UserSid => event?.user_sid.as_deref()?.into(),
            Source::ProcessId => event?.process_id?.to_string().into(),
        };
        transform(f.transform, &raw, binary.as_deref().unwrap_or(&[])).map(|v| {
            let shown = quote(f.transform, &v, &raw);
            (v, shown)
        })
    })
}

/// How evidence shows a field: the log's own words, next to the normalized value where they differ
/// (`auto ("自動的な開始")`), and decoded rather than hex for values read from the binary.
/// `None` when that is the value itself, as it is for almost every field.
fn quote(t: Transform, value: &str, raw: &str) -> Option<String> {
    match t {
        Transform::None => (raw != value).then(|| raw.to_string()),
        Transform::StartType | Transform::Number | Transform::Hresult if value != raw.trim() => {
            Some(format!("{value} (\"{}\")", raw.trim()))
        }
        _ => None,
    }
}

fn transform(t: Transform, raw: &str, binary: &[u8]) -> Option<String> {
    let binary = || binary;
    match t {
        Transform::None => Some(raw.trim().to_string()),
        Transform::Number => parse_number(raw).map(|n| n.to_string()),
        Transform::StartType => Some(
            knowledge::start_type(raw)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| format!("unknown:{}", raw.trim())),
        ),
        Transform::Hresult => parse_number(raw)
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| format!("0x{n:08x}")),
        Transform::Kb => knowledge::kb_of(raw),
        Transform::Basename => {
            let name = raw.trim().rsplit(['\\', '/']).next().unwrap_or(raw);
            Some(
                name.strip_suffix(".exe")
                    .or_else(|| name.strip_suffix(".EXE"))
                    .unwrap_or(name)
                    .to_string(),
            )
        }
        Transform::MsiProductCode => knowledge::msi_binary(binary()).0,
        Transform::MsiPatchCode => knowledge::msi_binary(binary()).1,
        Transform::MsiBinaryCode => knowledge::msi_binary(binary()).2.map(|c| c.to_string()),
        Transform::MsiMessageProduct => knowledge::msi_message_product(raw).map(str::to_string),
        Transform::ScmKey => knowledge::scm_key(binary()),
        Transform::ScmState => knowledge::scm_state(binary()).map(|s| s.to_string()),
    }
}

/// Equality as a person means it: numerically when both sides are numbers, else ignoring case.
pub fn same_value(value: &str, lit: &Literal) -> bool {
    match lit {
        Literal::Number(n) => parse_number(value).is_some_and(|v| i64::try_from(v) == Ok(*n)),
        Literal::Text(t) => match (parse_number(value), parse_number(t)) {
            (Some(a), Some(b)) => a == b,
            _ => value.eq_ignore_ascii_case(t) || value.to_lowercase() == t.to_lowercase(),
        },
    }
}

fn holds<'s>(c: &Condition, ev: &'s Evidence, event: Record, seen: &mut Extracted<'s>) -> bool {
    let mut test = |field: &usize, test: &dyn Fn(&str) -> bool| {
        seen.get(&ev.fields[*field], event)
            .is_some_and(|(v, _)| test(v))
    };
    match c {
        Condition::Matches(f, re) => test(f, &|v| re.is_match(v)),
        Condition::Equals(f, lit) => test(f, &|v| same_value(v, lit)),
        Condition::NotEquals(f, lit) => test(f, &|v| !same_value(v, lit)),
        Condition::In(f, lits) => test(f, &|v| lits.iter().any(|l| same_value(v, l))),
        Condition::NotIn(f, lits) => test(f, &|v| !lits.iter().any(|l| same_value(v, l))),
        Condition::Present(f, want) => test(f, &|v| !v.is_empty()) == *want,
        Condition::Any(cs) => cs.iter().any(|c| holds(c, ev, event, seen)),
        Condition::All(cs) => cs.iter().all(|c| holds(c, ev, event, seen)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_values_are_one_copy_and_bounded() {
        let shared = SharedValues::default();
        let mut set = shared.0.lock().unwrap();
        let a = SharedValues::share(&mut set, "MSExchangeIS");
        let b = SharedValues::share(&mut set, "MSExchangeIS");
        assert!(Arc::ptr_eq(&a, &b));
        let long = "x".repeat(SharedValues::MAX_LEN + 1);
        let l1 = SharedValues::share(&mut set, &long);
        let l2 = SharedValues::share(&mut set, &long);
        assert_eq!(l1, l2);
        assert!(
            !Arc::ptr_eq(&l1, &l2),
            "long values are not kept for sharing"
        );
        for i in 0..SharedValues::MAX_VALUES + 1000 {
            let v = SharedValues::share(&mut set, &format!("value {i}"));
            assert_eq!(&*v, format!("value {i}"));
        }
        assert_eq!(set.len(), SharedValues::MAX_VALUES);
    }
}
