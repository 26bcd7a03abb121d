//! The fast path from a record to an [`Event`] without rendering it: a record written with
//! templates is a template reference plus typed substitution values. Each template definition is
//! walked once per chunk into a [`Plan`] that says which slot holds the provider, the event ID, the
//! time, … and which `<Data>` / `<UserData>` leaf each payload slot fills; events are then built from
//! the values directly. Anything this walker does not recognize returns `None`, and the caller renders
//! the record instead, so the fast path can only be faster, never different (a test compares both on
//! every record of the samples and the corpus).

use crate::event::{Event, Field, Interner, Payload, SourceId};
use chrono::{DateTime, Utc};
use evtx::EvtxRecord;
use evtx::binxml::value_variant::BinXmlValue;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a System field comes from.
#[derive(Debug, Clone, Default, PartialEq)]
enum Slot {
    #[default]
    Absent,
    Literal(String),
    Subst(u16),
}

#[derive(Debug, Clone, PartialEq)]
enum FieldPlan {
    /// A `<Data>` or `<UserData>` leaf: its name, and where its text comes from.
    Field(Option<String>, Slot),
    /// `<Binary>` from a slot.
    Binary(u16),
    /// The payload continues in a nested template held by this slot.
    Nested(u16),
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    provider: Slot,
    event_id: Slot,
    qualifiers: Slot,
    level: Slot,
    time: Slot,
    record_id: Slot,
    channel: Slot,
    computer: Slot,
    sid: Slot,
    pid: Slot,
    payload: Vec<FieldPlan>,
    user_data: Option<String>,
    /// Bit i set when slot i is read (slots past 127 are always converted).
    used: u128,
}

impl Plan {
    fn mark_used(&mut self) {
        let mut used = 0u128;
        let mut mark = |slot: &Slot| {
            if let Slot::Subst(i) = slot
                && *i < 128
            {
                used |= 1 << i;
            }
        };
        for slot in [
            &self.provider,
            &self.event_id,
            &self.qualifiers,
            &self.level,
            &self.time,
            &self.record_id,
            &self.channel,
            &self.computer,
            &self.sid,
            &self.pid,
        ] {
            mark(slot);
        }
        for f in &self.payload {
            match f {
                FieldPlan::Field(_, slot) => mark(slot),
                FieldPlan::Binary(i) | FieldPlan::Nested(i) => mark(&Slot::Subst(*i)),
            }
        }
        self.used = used;
    }

    fn uses(&self, index: usize) -> bool {
        index >= 128 || self.used & (1 << index) != 0
    }
}

/// One template's plan per definition offset, for one chunk.
#[derive(Default)]
pub struct PlanCache {
    plans: HashMap<u32, Option<Arc<Plan>>>,
}

impl PlanCache {
    fn get(&mut self, chunk: &[u8], def_offset: u32) -> Option<Arc<Plan>> {
        self.plans
            .entry(def_offset)
            .or_insert_with(|| plan_template(chunk, def_offset).map(Arc::new))
            .clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Walking a template definition

#[derive(Debug)]
enum Tok {
    Open(String),
    Attr(String),
    Text(String),
    Subst(u16),
    CloseStart,
    CloseEmpty,
    End,
}

struct Reader<'a> {
    chunk: &'a [u8],
    pos: usize,
    end: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.chunk.get(self.pos)?;
        (self.pos < self.end).then(|| {
            self.pos += 1;
            b
        })
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
    fn utf16(&mut self, n: usize) -> Option<String> {
        let bytes = self.chunk.get(self.pos..self.pos.checked_add(n * 2)?)?;
        self.pos += n * 2;
        decode_utf16le(bytes)
    }
    /// A name: an offset into the chunk, followed here by the name itself on its first use.
    fn name(&mut self) -> Option<String> {
        let offset = self.u32()? as usize;
        let name = read_name(self.chunk, offset)?;
        if offset == self.pos {
            // Inline: next offset, hash, length, characters, NUL.
            self.pos += 8 + name.encode_utf16().count() * 2 + 2;
        }
        Some(name)
    }
}

fn read_name(chunk: &[u8], offset: usize) -> Option<String> {
    let n = u16::from_le_bytes(chunk.get(offset + 6..offset + 8)?.try_into().ok()?) as usize;
    decode_utf16le(chunk.get(offset + 8..offset + 8 + n * 2)?)
}

/// UTF-16LE as the chunk stores every string; `None` for unpaired surrogates.
fn decode_utf16le(bytes: &[u8]) -> Option<String> {
    char::decode_utf16(
        bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]])),
    )
    .collect::<Result<String, _>>()
    .ok()
}

/// The tokens of a template definition's fragment.
fn tokens(chunk: &[u8], def_offset: u32) -> Option<Vec<Tok>> {
    let at = def_offset as usize;
    let size = u32::from_le_bytes(chunk.get(at + 20..at + 24)?.try_into().ok()?) as usize;
    let start = at + 24;
    let end = start.checked_add(size)?.min(chunk.len());
    let mut r = Reader {
        chunk,
        pos: start,
        end,
    };
    let mut out = Vec::new();
    while r.pos < r.end {
        let t = r.u8()?;
        match t {
            0x00 => break,
            0x0f => {
                r.u16()?;
                r.u8()?;
            }
            0x01 | 0x41 => {
                r.u16()?; // dependency id
                r.u32()?; // element size
                out.push(Tok::Open(r.name()?));
                if t == 0x41 {
                    r.u32()?;
                }
            }
            0x02 => out.push(Tok::CloseStart),
            0x03 => out.push(Tok::CloseEmpty),
            0x04 => out.push(Tok::End),
            0x05 | 0x45 => {
                if r.u8()? != 0x01 {
                    return None;
                }
                let n = r.u16()? as usize;
                out.push(Tok::Text(r.utf16(n)?));
            }
            0x06 | 0x46 => out.push(Tok::Attr(r.name()?)),
            0x0d | 0x0e => {
                let idx = r.u16()?;
                r.u8()?;
                out.push(Tok::Subst(idx));
            }
            // Character and entity references, CDATA, processing instructions: rare in event
            // templates, and rendering gets them right; leave those records to it.
            _ => return None,
        }
    }
    Some(out)
}

fn local(name: &str) -> &str {
    let name = name.rsplit('}').next().unwrap_or(name);
    name.rsplit(':').next().unwrap_or(name)
}

/// Interpret a template's tokens as an event plan.
fn plan_template(chunk: &[u8], def_offset: u32) -> Option<Plan> {
    let toks = tokens(chunk, def_offset)?;
    let mut plan = Plan::default();
    let mut stack: Vec<String> = Vec::new();
    // The content of the element being read, and the attribute whose value comes next.
    let mut content: Option<Slot> = None;
    let mut attr: Option<String> = None;
    let mut data_name: Option<String> = None;
    // Per open element: whether it has child elements (a leaf renders as a field even when empty).
    let mut has_children: Vec<bool> = Vec::new();
    for t in toks {
        match t {
            Tok::Open(name) => {
                if let Some(parent) = has_children.last_mut() {
                    *parent = true;
                }
                has_children.push(false);
                stack.push(local(&name).to_string());
                content = None;
                attr = None;
                data_name = None;
                if stack.len() == 3 && stack[1] == "UserData" {
                    plan.user_data = Some(stack[2].clone());
                }
            }
            Tok::Attr(name) => attr = Some(local(&name).to_string()),
            Tok::Text(_) | Tok::Subst(_) if attr.is_some() => {
                let slot = match t {
                    Tok::Text(s) => Slot::Literal(s),
                    Tok::Subst(i) => Slot::Subst(i),
                    _ => return None,
                };
                let a = attr.take()?;
                match (path(&stack).as_slice(), a.as_str()) {
                    (["Event", "System", "Provider"], "Name") => plan.provider = slot,
                    (["Event", "System", "EventID"], "Qualifiers") => plan.qualifiers = slot,
                    (["Event", "System", "TimeCreated"], "SystemTime") => plan.time = slot,
                    (["Event", "System", "Security"], "UserID") => plan.sid = slot,
                    (["Event", "System", "Execution"], "ProcessID") => plan.pid = slot,
                    (["Event", "EventData", "Data"] | ["EventData", "Data"], "Name") => {
                        data_name = match slot {
                            Slot::Literal(s) => Some(s),
                            _ => return None,
                        }
                    }
                    _ => {}
                }
            }
            Tok::Text(s) => content = Some(merge(content, Slot::Literal(s))?),
            Tok::Subst(i) => {
                let p = path(&stack);
                // A nested payload: directly in <Event> (EventData) or in <UserData>.
                if matches!(p.as_slice(), ["Event"] | ["Event", "UserData"]) {
                    plan.payload.push(FieldPlan::Nested(i));
                } else {
                    content = Some(merge(content, Slot::Subst(i))?);
                }
            }
            Tok::CloseStart => attr = None,
            Tok::CloseEmpty | Tok::End => {
                let p = path(&stack);
                let slot = content.take();
                let leaf = !has_children.pop()?;
                match p.as_slice() {
                    ["Event", "System", "EventID"] => plan.event_id = slot?,
                    ["Event", "System", "Level"] => plan.level = slot.unwrap_or_default(),
                    ["Event", "System", "EventRecordID"] => {
                        plan.record_id = slot.unwrap_or_default()
                    }
                    ["Event", "System", "Channel"] => plan.channel = slot.unwrap_or_default(),
                    ["Event", "System", "Computer"] => plan.computer = slot.unwrap_or_default(),
                    ["Event", "EventData", "Data"] => plan.payload.push(FieldPlan::Field(
                        data_name.take(),
                        slot.unwrap_or(Slot::Literal(String::new())),
                    )),
                    ["Event", "EventData", "Binary"] => match slot {
                        Some(Slot::Subst(i)) => plan.payload.push(FieldPlan::Binary(i)),
                        None => {}
                        _ => return None,
                    },
                    ["Event", "UserData", _, ..] if p.len() >= 4 && leaf => {
                        let slot = slot.unwrap_or(Slot::Literal(String::new()));
                        plan.payload
                            .push(FieldPlan::Field(Some(p[p.len() - 1].to_string()), slot));
                    }
                    // A template holding only a payload: its root is <EventData> or the UserData element.
                    ["EventData", "Data"] => plan.payload.push(FieldPlan::Field(
                        data_name.take(),
                        slot.unwrap_or(Slot::Literal(String::new())),
                    )),
                    ["EventData", "Binary"] => match slot {
                        Some(Slot::Subst(i)) => plan.payload.push(FieldPlan::Binary(i)),
                        None => {}
                        _ => return None,
                    },
                    [root, .., name] if root != &"Event" && root != &"EventData" => {
                        plan.user_data.get_or_insert_with(|| root.to_string());
                        if leaf {
                            let slot = slot.unwrap_or(Slot::Literal(String::new()));
                            plan.payload
                                .push(FieldPlan::Field(Some(name.to_string()), slot));
                        }
                    }
                    [root] if root != &"Event" && root != &"EventData" => {
                        plan.user_data = Some(root.to_string());
                    }
                    _ => {}
                }
                stack.pop()?;
            }
        }
    }
    if !stack.is_empty() {
        return None;
    }
    plan.mark_used();
    Some(plan)
}

fn path(stack: &[String]) -> Vec<&str> {
    stack.iter().map(String::as_str).collect()
}

/// Text followed by a substitution (or two of either) in one element: rare; rendering handles it.
fn merge(current: Option<Slot>, next: Slot) -> Option<Slot> {
    match current {
        None => Some(next),
        Some(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// A substitution value as the event wants it: text (`None` for `NullType`), or a list for arrays.
enum Text {
    One(Option<String>),
    Many(Vec<String>),
    Bytes(Vec<u8>),
    Nested(usize, usize),
    Time(DateTime<Utc>),
}

/// A string value; some producers keep the NUL terminator inside the value, which is not text.
fn utf16(bytes: &[u8]) -> Option<String> {
    let s = decode_utf16le(bytes)?;
    Some(as_rendered(s.trim_end_matches('\0').to_string()))
}

fn xml_unfit(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// Text as rendering delivers it: characters XML cannot carry (C0 controls but tab, LF and CR;
/// U+FFFE, U+FFFF) become `_`, as Windows shows them, and XML reading turns CR LF and CR into LF.
fn as_rendered(mut s: String) -> String {
    if s.chars().any(xml_unfit) {
        s = s
            .chars()
            .map(|c| if xml_unfit(c) { '_' } else { c })
            .collect();
    }
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s
    }
}

fn filetime(ft: u64) -> Option<DateTime<Utc>> {
    crate::values::datetime_from_filetime(ft)
}

/// `{0888e5ef-9b98-4695-979d-e92ce4247224}`, lower case, as the evtx crate renders GUIDs.
fn guid_text(b: &[u8]) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    let d1 = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let d2 = u16::from_le_bytes([b[4], b[5]]);
    let d3 = u16::from_le_bytes([b[6], b[7]]);
    let tail: String = b[8..].iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{{{d1:08x}-{d2:04x}-{d3:04x}-{}-{}}}",
        &tail[..4],
        &tail[4..]
    ))
}

fn sid_text(b: &[u8]) -> Option<String> {
    if b.len() < 8 {
        return None;
    }
    let count = b[1] as usize;
    if b.len() < 8 + 4 * count {
        return None;
    }
    let mut auth = [0u8; 8];
    auth[2..].copy_from_slice(&b[2..8]);
    let mut s = format!("S-{}-{}", b[0], u64::from_be_bytes(auth));
    for i in 0..count {
        let sub = u32::from_le_bytes(b[8 + 4 * i..12 + 4 * i].try_into().ok()?);
        s.push_str(&format!("-{sub}"));
    }
    Some(s)
}

/// Decode a value of the outer instance (already parsed by the evtx crate).
fn outer_text(v: &BinXmlValue, chunk: &[u8]) -> Option<Text> {
    Some(match v {
        BinXmlValue::NullType => Text::One(None),
        BinXmlValue::StringType(s) => Text::One(Some(as_rendered(s.to_string().ok()?))),
        BinXmlValue::AnsiStringType(s) => Text::One(Some(as_rendered(s.to_string()))),
        BinXmlValue::UInt8Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::UInt16Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::UInt32Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::UInt64Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::Int8Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::Int16Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::Int32Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::Int64Type(x) => Text::One(Some(x.to_string())),
        BinXmlValue::HexInt32Type(x) => Text::One(Some(format!("0x{x:x}"))),
        BinXmlValue::HexInt64Type(x) => Text::One(Some(format!("0x{x:x}"))),
        BinXmlValue::SizeTType(x) => Text::One(Some(format!("0x{x:x}"))),
        BinXmlValue::FileTimeType(_) => return None,
        BinXmlValue::SidType(s) => Text::One(Some(sid_text(s.as_bytes())?)),
        BinXmlValue::GuidType(g) => Text::One(Some(guid_text(g)?)),
        BinXmlValue::BinaryType(b) => Text::Bytes(b.to_vec()),
        BinXmlValue::BinXmlType(b) => {
            let start = (b.as_ptr() as usize).checked_sub(chunk.as_ptr() as usize)?;
            Text::Nested(start, b.len())
        }
        BinXmlValue::StringArrayType(items) => Text::Many(
            items
                .iter()
                .map(|s| s.to_string().ok().map(as_rendered))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Parse a nested fragment's template instance: its definition offset and its values, decoded.
fn nested_instance(chunk: &[u8], start: usize, len: usize) -> Option<(u32, Vec<Text>)> {
    let end = start.checked_add(len)?;
    let mut r = Reader {
        chunk,
        pos: start,
        end,
    };
    // The fragment header is optional (MS-EVEN6: `0*FragmentHeader`); some producers omit it.
    let mut token = r.u8()?;
    if token == 0x0f {
        r.u16()?;
        r.u8()?;
        token = r.u8()?;
    }
    if token != 0x0c {
        return None;
    }
    r.u8()?;
    r.u32()?;
    let def = r.u32()?;
    if def as usize == r.pos {
        r.pos = r.pos.checked_add(
            24 + u32::from_le_bytes(chunk.get(r.pos + 20..r.pos + 24)?.try_into().ok()?) as usize,
        )?;
    }
    let n = r.u32()? as usize;
    if n > 4096 {
        return None;
    }
    let mut spec = Vec::with_capacity(n);
    for _ in 0..n {
        let size = r.u16()? as usize;
        let ty = r.u8()?;
        r.u8()?;
        spec.push((size, ty));
    }
    let mut values = Vec::with_capacity(n);
    for (size, ty) in spec {
        let bytes = chunk.get(r.pos..r.pos.checked_add(size)?)?;
        if r.pos + size > end {
            return None;
        }
        let at = r.pos;
        r.pos += size;
        let le = |n: usize| -> Option<u64> {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(bytes.get(..n)?);
            Some(u64::from_le_bytes(b))
        };
        values.push(match ty {
            0x00 => Text::One(None),
            0x01 => Text::One(Some(utf16(bytes)?)),
            // ANSI text decodes as Windows-1252, which matches Latin-1 except in 0x80-0x9F.
            0x02 if !bytes.iter().any(|b| (0x80..0xa0).contains(b)) => {
                Text::One(Some(as_rendered(
                    bytes
                        .iter()
                        .take_while(|b| **b != 0)
                        .map(|&b| b as char)
                        .collect(),
                )))
            }
            0x04 if size == 1 => Text::One(Some(le(1)?.to_string())),
            0x06 if size == 2 => Text::One(Some(le(2)?.to_string())),
            0x08 if size == 4 => Text::One(Some(le(4)?.to_string())),
            0x0a if size == 8 => Text::One(Some(le(8)?.to_string())),
            0x03 if size == 1 => Text::One(Some((le(1)? as i8).to_string())),
            0x05 if size == 2 => Text::One(Some((le(2)? as i16).to_string())),
            0x07 if size == 4 => Text::One(Some((le(4)? as i32).to_string())),
            0x09 if size == 8 => Text::One(Some((le(8)? as i64).to_string())),
            // Windows writes 0 and 1; other values render as the number (irregular bools exist).
            0x0d if size == 4 => Text::One(Some(match le(4)? {
                0 => "false".into(),
                1 => "true".into(),
                n => n.to_string(),
            })),
            0x0e => Text::Bytes(bytes.to_vec()),
            0x10 if size == 4 || size == 8 => Text::One(Some(format!("0x{:x}", le(size)?))),
            0x11 if size == 8 => Text::Time(filetime(le(8)?)?),
            0x0f => Text::One(Some(guid_text(bytes)?)),
            0x13 => Text::One(Some(sid_text(bytes)?)),
            0x14 if size == 4 => Text::One(Some(format!("0x{:x}", le(4)?))),
            0x15 if size == 8 => Text::One(Some(format!("0x{:x}", le(8)?))),
            0x21 => Text::Nested(at, size),
            0x81 => {
                let s = decode_utf16le(bytes)?;
                let mut items: Vec<String> =
                    s.split('\0').map(|i| as_rendered(i.to_string())).collect();
                // Each item ends with a NUL, so the split leaves one empty piece at the end.
                if items.last().is_some_and(String::is_empty) {
                    items.pop();
                }
                Text::Many(items)
            }
            _ => return None,
        });
    }
    Some((def, values))
}

fn slot_text(slot: &Slot, values: &[Text]) -> Option<Option<String>> {
    Some(match slot {
        Slot::Absent => None,
        Slot::Literal(s) => Some(s.clone()),
        Slot::Subst(i) => match values.get(usize::from(*i))? {
            Text::One(s) => s.clone(),
            _ => return None,
        },
    })
}

fn fields_from(
    plan: &Plan,
    values: &[Text],
    chunk: &[u8],
    cache: &mut PlanCache,
    payload: &mut Payload,
    depth: usize,
) -> Option<()> {
    if depth > 4 {
        return None;
    }
    if let Some(u) = &plan.user_data {
        payload.user_data = Some(u.clone());
    }
    for f in &plan.payload {
        match f {
            FieldPlan::Field(name, slot) => match slot {
                Slot::Subst(i) => match values.get(usize::from(*i))? {
                    // A null value leaves the element out, as rendering does.
                    Text::One(None) => {}
                    Text::One(Some(s)) => payload.fields.push(Field {
                        name: name.clone(),
                        value: normalize_null(s.clone()),
                    }),
                    // An empty list still renders as one empty element.
                    Text::Many(items) if items.is_empty() => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(String::new()),
                    }),
                    Text::Many(items) => {
                        for s in items {
                            payload.fields.push(Field {
                                name: name.clone(),
                                value: normalize_null(s.clone()),
                            });
                        }
                    }
                    Text::Time(t) => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(format!(
                            "{}.{:07}Z",
                            t.format("%Y-%m-%dT%H:%M:%S"),
                            t.timestamp_subsec_nanos() / 100
                        )),
                    }),
                    Text::Bytes(b) => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(crate::values::to_hex_upper(b)),
                    }),
                    Text::Nested(..) => return None,
                },
                other => payload.fields.push(Field {
                    name: name.clone(),
                    value: normalize_null(slot_text(other, values)?.unwrap_or_default()),
                }),
            },
            FieldPlan::Binary(i) => match values.get(usize::from(*i))? {
                Text::Bytes(b) => payload.binary = Some(b.clone()),
                Text::One(None) => {}
                _ => return None,
            },
            FieldPlan::Nested(i) => match values.get(usize::from(*i))? {
                Text::Nested(start, len) => {
                    let (def, inner) = nested_instance(chunk, *start, *len)?;
                    let plan = cache.get(chunk, def)?;
                    fields_from(&plan, &inner, chunk, cache, payload, depth + 1)?;
                }
                Text::One(None) => {}
                _ => return None,
            },
        }
    }
    Some(())
}

fn normalize_null(s: String) -> Option<String> {
    (s != "(NULL)").then_some(s)
}

/// What the fast path made of a record.
pub enum Outcome {
    /// An event, built without rendering.
    Event(Box<Event>),
    /// Its event ID is one no signature wants: nothing to build.
    Unwanted,
    /// Laid out in a way the fast path does not read: render it.
    Render,
}

/// Build the event from the record's template values, skipping it when `wants` refuses its event ID.
pub fn event_from_template(
    record: &EvtxRecord,
    source: SourceId,
    cache: &mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
) -> Outcome {
    match build(record, source, cache, interner, wants) {
        Some(Some(e)) => Outcome::Event(Box::new(e)),
        Some(None) => Outcome::Unwanted,
        None => Outcome::Render,
    }
}

fn build(
    record: &EvtxRecord,
    source: SourceId,
    cache: &mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
) -> Option<Option<Event>> {
    let instances = record.template_instances().ok()?;
    let [instance] = instances.as_slice() else {
        return None;
    };
    let chunk = record.chunk.data;
    let plan = cache.get(chunk, instance.template_def_offset)?;
    let value = |slot: &Slot| -> Option<Option<String>> {
        match slot {
            Slot::Subst(i) => match instance.values.get(usize::from(*i))? {
                BinXmlValue::FileTimeType(_) => None,
                v => match outer_text(v, chunk)? {
                    Text::One(s) => Some(s),
                    _ => None,
                },
            },
            other => slot_text(other, &[]),
        }
    };
    let raw_id = crate::event::parse_number(&value(&plan.event_id)??)?;
    if !wants((raw_id & 0xffff) as u16) {
        return Some(None);
    }
    // FILETIME values are decoded where the plan wants a time; elsewhere they are not needed.
    // Only the slots the plan reads are converted.
    let values: Vec<Text> = instance
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            _ if !plan.uses(i) => Some(Text::One(None)),
            BinXmlValue::FileTimeType(ft) => Some(Text::Time(filetime(ft.0)?)),
            v => outer_text(v, chunk),
        })
        .collect::<Option<_>>()?;
    let time = match &plan.time {
        Slot::Subst(i) => match values.get(usize::from(*i))? {
            Text::Time(t) => *t,
            _ => return None,
        },
        Slot::Literal(s) => crate::values::parse_system_time(s)?,
        Slot::Absent => return None,
    };
    // An empty attribute is not rendered, so an empty provider name is no provider at all.
    let provider = slot_text(&plan.provider, &values)??;
    if provider.is_empty() {
        return None;
    }
    let record_id = slot_text(&plan.record_id, &values)?
        .as_deref()
        .and_then(crate::event::parse_number)
        .unwrap_or(record.event_record_id);
    let number = |slot: &Slot| {
        slot_text(slot, &values)
            .flatten()
            .as_deref()
            .and_then(crate::event::parse_number)
    };
    let mut payload = Payload::default();
    fields_from(&plan, &values, chunk, cache, &mut payload, 0)?;
    Some(Some(Event {
        source,
        record_id,
        header_record_id: (record_id != record.event_record_id).then_some(record.event_record_id),
        time,
        computer: interner.get(
            slot_text(&plan.computer, &values)?
                .as_deref()
                .unwrap_or("")
                .trim(),
        ),
        channel: interner.get(
            slot_text(&plan.channel, &values)?
                .as_deref()
                .unwrap_or("")
                .trim(),
        ),
        provider: interner.get(provider.trim()),
        event_id: (raw_id & 0xffff) as u16,
        qualifiers: number(&plan.qualifiers)
            .and_then(|q| u16::try_from(q).ok())
            .or_else(|| u16::try_from(raw_id >> 16).ok().filter(|q| *q != 0)),
        level: number(&plan.level).and_then(|l| u8::try_from(l).ok()),
        user_sid: slot_text(&plan.sid, &values)?.filter(|s| !s.is_empty()),
        process_id: number(&plan.pid).and_then(|p| u32::try_from(p).ok()),
        payload,
    }))
}
