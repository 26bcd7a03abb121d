//! Per event: pulling named fields out of a record and testing conditions on them, each field
//! extracted once however many evidence definitions read it.

use super::*;

/// The fields extracted from one event so far, shared by every evidence definition tested on it:
/// a busy System log's service events are tested by several signatures that read the same
/// fields, and most fail on the first condition, so fields are extracted when a condition first
/// reads them, once per event. Keyed by source and transform (`Binary:scm_key`).
#[derive(Default)]
pub struct Extracted<'s> {
    pub(crate) entries: Vec<(&'s FieldSpec, Option<Value>)>,
}

/// A field's normalized value, and how evidence quotes it where that differs.
pub(crate) type Value = (String, Option<String>);

pub(crate) fn same_source(a: &FieldSpec, b: &FieldSpec) -> bool {
    a.source_key == b.source_key && a.transform == b.transform && a.source_text == b.source_text
}

impl<'s> Extracted<'s> {
    /// The field's (normalized value, quoted value), extracted on first use.
    pub(crate) fn get(&mut self, f: &'s FieldSpec, event: Record) -> Option<&Value> {
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
    pub(crate) fn extracted(&self, f: &FieldSpec) -> Option<&Value> {
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
pub(crate) fn extract(f: &FieldSpec, record: Record) -> Option<Value> {
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
pub(crate) fn quote(t: Transform, value: &str, raw: &str) -> Option<String> {
    match t {
        Transform::None => (raw != value).then(|| raw.to_string()),
        Transform::ScmKey if !raw.is_empty() && value != raw.trim() => Some(format!(
            "{value} (from the display name \"{}\")",
            raw.trim()
        )),
        Transform::StartType | Transform::Number | Transform::Hresult if value != raw.trim() => {
            Some(format!("{value} (\"{}\")", raw.trim()))
        }
        _ => None,
    }
}

pub(crate) fn transform(t: Transform, raw: &str, binary: &[u8]) -> Option<String> {
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
        Transform::UpdateSeries => knowledge::update_series(raw),
        Transform::AppPackage => knowledge::app_package(raw).map(str::to_string),
        Transform::PackageName => knowledge::package_name(raw).map(str::to_string),
        Transform::PackageFullNames => {
            let names = knowledge::package_full_names(raw);
            (!names.is_empty()).then(|| names.join(", "))
        }
        Transform::CbsHresult => knowledge::cbs_hresult(raw).map(|n| format!("0x{n:08x}")),
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
        Transform::ScmKey if binary().is_empty() => Some(
            crate::services::key_for_display(raw)
                .map_or_else(|| raw.trim().to_string(), str::to_string),
        ),
        Transform::ScmKey => knowledge::scm_key(binary()),
        Transform::ScmState if binary().is_empty() => {
            knowledge::service_state_word(raw).map(|s| s.to_string())
        }
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

pub(crate) fn holds<'s>(
    c: &Condition,
    ev: &'s Evidence,
    event: Record,
    seen: &mut Extracted<'s>,
) -> bool {
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
