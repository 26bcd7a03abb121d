//! From a signature file to a [`Signature`]: field specifications, conditions, windows and joins
//! compiled, every name it uses checked against what is defined (evidence, fields, patterns) and
//! against the vocabulary of summaries and remediation; an error names the file and what is wrong.

use super::*;

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
    UpdateSeries,
    AppPackage,
    PackageName,
    PackageFullNames,
    CbsHresult,
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
    pub(crate) fn reads_payload_only(&self, fields: &[FieldSpec]) -> bool {
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
    /// Its records date the incident (see `EvidenceDef::dates_incident`).
    pub dates_incident: bool,
    /// The cause it shows, when found (see `EvidenceDef::likely_cause`).
    pub likely_cause: Option<&'static crate::diagnosis::vocabulary::Cause>,
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
pub(crate) const MAX_DAYS: i64 = 36_525;

pub(crate) fn parse_bound(s: Option<&str>, unbounded_word: &str) -> Result<Bound, String> {
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

pub(crate) fn parse_field(name: &str, spec: &str) -> Result<FieldSpec, String> {
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
        Some("update_series") => Transform::UpdateSeries,
        Some("app_package") => Transform::AppPackage,
        Some("package_name") => Transform::PackageName,
        Some("package_full_names") => Transform::PackageFullNames,
        Some("cbs_hresult") => Transform::CbsHresult,
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
        Transform::MsiProductCode | Transform::MsiPatchCode | Transform::MsiBinaryCode
    );
    // SCM's key and state come from the binary where NT 6.1+ puts them, else from the text
    // (Server 2003/2008): the display name, mapped to a key name, and the state word.
    let binary_first = matches!(transform, Transform::ScmKey | Transform::ScmState);
    let fits = if binary_only {
        sources == [Source::Binary]
    } else if binary_first {
        sources
            .iter()
            .all(|s| matches!(s, Source::Binary | Source::Positional(_) | Source::Named(_)))
    } else {
        !sources.contains(&Source::Binary) || transform == Transform::None
    };
    if !fits {
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

pub(crate) fn compile_condition(
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
        // A word is a pattern's name, whose absence is a typo; anything else is a regex.
        let is_name = !m.is_empty()
            && m.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let pattern = match (patterns.get(m), is_name) {
            (Some(p), _) => p,
            (None, true) => {
                return Err(format!(
                    "no pattern named '{m}' (defined here or in signatures/patterns.toml)"
                ));
            }
            (None, false) => m,
        };
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
    /// Parse and check a signature file; `file` names it in error messages. Its `matches` may
    /// name the built-in shared patterns.
    pub fn from_toml(file: &str, text: &str) -> Result<Signature, SignatureError> {
        Self::from_toml_with(file, text, crate::diagnosis::shared_patterns())
    }

    /// The same, with `shared` as the patterns every signature may name.
    pub fn from_toml_with(
        file: &str,
        text: &str,
        shared: &BTreeMap<String, String>,
    ) -> Result<Signature, SignatureError> {
        let err = |message: String| SignatureError {
            file: file.to_string(),
            message,
        };
        let def: SignatureDef = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut patterns = shared.clone();
        patterns.extend(def.patterns.iter().map(|(k, v)| (k.clone(), v.clone())));
        let gap = parse_duration(&def.incident.gap).ok_or_else(|| {
            err(format!(
                "incident gap '{}' is not a duration of at most a century",
                def.incident.gap
            ))
        })?;
        let mut evidence: Vec<Evidence> = Vec::new();
        for e in &def.evidence {
            let line = line_of(text, &format!("id = \"{}\"", e.id));
            let ctx = |m: String| err(format!("line {line}: evidence {}: {m}", e.id));
            if evidence.iter().any(|x| x.id == e.id) {
                return Err(ctx("defined twice".into()));
            }
            if e.event_ids.is_empty() {
                return Err(ctx("no event_ids".into()));
            }
            let event_ids = event_ids(&e.event_ids).map_err(ctx)?;
            let fields = e
                .fields
                .iter()
                .map(|(n, s)| {
                    crate::diagnosis::vocabulary::check_field_name(n)?;
                    parse_field(n, s)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(ctx)?;
            let conditions = e
                .conditions
                .iter()
                .map(|c| compile_condition(c, &patterns, &fields))
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
            let likely_cause = match &e.likely_cause {
                None => None,
                Some(_) if e.role != Role::Cause => {
                    return Err(ctx(
                        "likely_cause is for evidence of role = \"cause\"".into()
                    ));
                }
                Some(name) => Some(crate::diagnosis::vocabulary::cause(name).ok_or_else(|| {
                    ctx(format!(
                        "likely_cause '{name}' is not a cause (causes: {})",
                        crate::diagnosis::vocabulary::CAUSES
                            .iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?),
            };
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
                event_ids,
                fields,
                conditions,
                payload_only,
                before,
                after,
                joins,
                cluster_key: e.cluster_key.clone(),
                dates_incident: e.dates_incident,
                likely_cause,
            });
        }
        if !evidence.iter().any(|e| e.role == Role::Anchor) {
            return Err(err("no evidence has role = \"anchor\"".into()));
        }
        let known = |id: &str| id == "anchor" || evidence.iter().any(|e| e.id == id);
        let mut named: Vec<&str> = def.requires.iter().flatten().map(String::as_str).collect();
        named.extend(def.done_when.iter().flatten().map(String::as_str));
        if let Some(a) = &def.action {
            named.extend(a.restarts.iter().map(String::as_str));
            if !a.restarts.is_empty() && !a.retried_by_windows && a.waits_for_restart.is_none() {
                return Err(err(
                    "action restarts only count for a failure retried_by_windows or what waits_for_restart".into(),
                ));
            }
            if let Some(w) = &a.waits_for_restart
                && parse_duration(w).is_none()
            {
                return Err(err(format!(
                    "action waits_for_restart '{w}' is not a duration of at most a century"
                )));
            }
        }
        if let Some(m) = &def.missing_log {
            named.extend(m.requires.iter().flatten().map(String::as_str));
            if m.log.trim().is_empty() || m.requires.is_empty() {
                return Err(err(format!(
                    "line {}: missing_log needs a log and requires",
                    line_of(text, "[missing_log]")
                )));
            }
        }
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
                    .flat_map(|o| o.ids())
                    .map(String::as_str),
            );
            named.extend(
                [&s.saved, &s.saved_at]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
            if s.each.is_some() != s.restored_by.is_some() || s.each.is_some() != s.key.is_some() {
                return Err(err("status needs each, key and restored_by together".into()));
            }
            if s.each.as_ref().is_some_and(|e| e.ids().is_empty())
                || s.restored_by.as_ref().is_some_and(|e| e.ids().is_empty())
            {
                return Err(err(
                    "status each and restored_by name at least one evidence".into(),
                ));
            }
            if (s.saved.is_some() || s.saved_at.is_some()) && s.each.is_none() {
                return Err(err("status saved and saved_at need each".into()));
            }
        }
        if let Some(unknown) = named.iter().find(|n| !known(n)) {
            return Err(err(format!("'{unknown}' names no evidence")));
        }
        for f in def.fixtures.must_match.iter().chain(&def.fixtures.no_match) {
            let ok = match f.strip_prefix("gen:") {
                Some(name) => {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }
                None => !f.is_empty() && !f.starts_with('/') && !f.contains('\\'),
            };
            if !ok {
                return Err(err(format!(
                    "line {}: fixture '{f}' is neither a path from the project's root nor gen:<name>",
                    line_of(text, "[fixtures]")
                )));
            }
        }
        if let Some(split) = &def.incident.split_at
            && !evidence
                .iter()
                .any(|e| e.role == Role::Anchor && e.fields.iter().any(|f| *f.name == **split))
        {
            return Err(err(format!(
                "line {}: split_at '{split}' is no anchor's field",
                line_of(text, "split_at")
            )));
        }
        check_templates(&def)
            .map_err(|(anchor, m)| err(format!("line {}: {m}", line_of(text, &anchor))))?;
        Ok(Signature { def, evidence, gap })
    }
}

/// Every summary, title, text, `when`, `foreach` and command against the vocabulary; on error, a
/// line of the file to find it by and the message.
pub(crate) fn check_templates(def: &SignatureDef) -> Result<(), (String, String)> {
    use crate::diagnosis::command::Shell;
    use crate::diagnosis::vocabulary::{check_command, check_text, check_when};
    check_text(&def.summary, None).map_err(|m| ("summary".to_string(), format!("summary: {m}")))?;
    if let Some(m) = &def.missing_log {
        for t in [&m.summary, &m.unchecked] {
            check_text(t, None)
                .map_err(|e| ("[missing_log]".to_string(), format!("missing_log: {e}")))?;
        }
    }
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
pub(crate) fn line_of(text: &str, anchor: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(anchor))
        .map_or(1, |i| i + 1)
}

/// The event IDs an evidence lists, ranges expanded, each once.
fn event_ids(defs: &[EventIdDef]) -> Result<Vec<u16>, String> {
    let mut ids = Vec::new();
    for d in defs {
        match d {
            EventIdDef::One(id) => ids.push(*id),
            EventIdDef::Range(text) => {
                let bad = || format!("event ID range '{text}' is not written as \"low-high\"");
                let (lo, hi) = text.split_once('-').ok_or_else(bad)?;
                let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
                let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
                if lo > hi {
                    return Err(format!("event ID range '{text}' runs backwards"));
                }
                ids.extend(lo..=hi);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
