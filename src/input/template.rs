//! The fast path from a record to an [`Event`] without rendering it: a record written with
//! templates is a template reference plus typed substitution values. Each template definition is
//! walked once per chunk into a [`Plan`] that says which slot holds the provider, the event ID, the
//! time, … and which `<Data>` / `<UserData>` leaf each payload slot fills; events are then built from
//! the values directly. Anything this walker does not recognize returns `None`, and the caller renders
//! the record instead, so the fast path can only be faster, never different (a test compares both on
//! every record of the samples and the corpus).
//!
//! Before an event is built, its sink is asked whether the record's provider, event ID and payload
//! could be kept at all; the answer is remembered for that exact payload for the rest of the chunk.
//! A busy System log is mostly a few services starting and stopping over and over, and most of
//! those records are refused without being built or tested again.

use crate::event::{Event, Field, Interner, Payload, PayloadSource, SourceId};
use chrono::{DateTime, Utc};
use evtx::EvtxRecord;
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
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
}

/// The fast path's state for one chunk: each template's plan by definition offset, the text of
/// the strings that recur in every record (provider, computer, channel) by their bytes, and a
/// buffer for the values of the record at hand.
#[derive(Default)]
pub struct PlanCache {
    plans: HashMap<u32, Option<Arc<Plan>>>,
    strings: SharedStrings,
    /// The record's values: the outer instance's first, then those of its nested payloads.
    values: Vec<RawValue>,
    segments: Vec<Segment>,
    /// What the sink answered for each payload seen in the chunk, by [`verdict_key`] (at most one
    /// entry per record): a busy log repeats the same few payloads (a service starting,
    /// stopping), and most are refused.
    verdicts: HashMap<Box<[u8]>, bool>,
    key: Vec<u8>,
}

/// One template instance of a record's payload read on demand: its plan, and where its values
/// start and how many there are in [`PlanCache::values`].
struct Segment {
    plan: Arc<Plan>,
    base: usize,
    len: usize,
}

fn plan_at(
    plans: &mut HashMap<u32, Option<Arc<Plan>>>,
    chunk: &[u8],
    def: u32,
) -> Option<Arc<Plan>> {
    plans
        .entry(def)
        .or_insert_with(|| plan_template(chunk, def).map(Arc::new))
        .clone()
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

/// UTF-16LE as the chunk stores every string; `None` for unpaired surrogates. Most event text
/// is ASCII, which is copied unit by unit without going through the UTF-16 decoder.
fn decode_utf16le(bytes: &[u8]) -> Option<String> {
    let units = bytes.chunks_exact(2);
    if units.clone().all(|c| c[1] == 0 && c[0] < 0x80) {
        return Some(units.map(|c| char::from(c[0])).collect());
    }
    char::decode_utf16(units.map(|c| u16::from_le_bytes([c[0], c[1]])))
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

/// One substitution value, not yet decoded: where it lies in the chunk and its BinXml type. A
/// record's values are located in one pass and only those its plan reads are ever decoded.
#[derive(Debug, Clone, Copy)]
struct RawValue {
    at: usize,
    size: usize,
    ty: u8,
}

impl RawValue {
    /// The value's bytes; `parse_instance` has checked that they lie inside the chunk.
    fn bytes<'c>(&self, chunk: &'c [u8]) -> &'c [u8] {
        &chunk[self.at..self.at + self.size]
    }

    /// A little-endian integer of exactly `n` bytes.
    fn le(&self, chunk: &[u8], n: usize) -> Option<u64> {
        if self.size != n || n > 8 {
            return None;
        }
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.bytes(chunk));
        Some(u64::from_le_bytes(b))
    }
}

/// Locate the values of the template instance at `start..end` (a record's BinXml, or a nested
/// fragment) into `out`; returns the definition's offset. Anything else there (several instances,
/// content around the instance) is `None`: rendering reads it.
fn parse_instance(chunk: &[u8], start: usize, end: usize, out: &mut Vec<RawValue>) -> Option<u32> {
    out.clear();
    append_instance(chunk, start, end, out)
}

/// [`parse_instance`], appending the values to those already in `out`.
fn append_instance(chunk: &[u8], start: usize, end: usize, out: &mut Vec<RawValue>) -> Option<u32> {
    let end = end.min(chunk.len());
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
        // The definition is inline, on its first use in the chunk: skip its header and body.
        let size = u32::from_le_bytes(chunk.get(r.pos + 20..r.pos + 24)?.try_into().ok()?);
        r.pos = r.pos.checked_add(24)?.checked_add(size as usize)?;
    }
    let n = r.u32()? as usize;
    // Each value needs a 4-byte descriptor, so a count the fragment cannot hold is damage, and
    // never an allocation.
    let descriptors = r.pos;
    let mut at = descriptors.checked_add(n.checked_mul(4)?)?;
    if at > end {
        return None;
    }
    out.reserve(n);
    for i in 0..n {
        let d = descriptors + 4 * i;
        let size = u16::from_le_bytes([chunk[d], chunk[d + 1]]) as usize;
        out.push(RawValue {
            at,
            size,
            ty: chunk[d + 2],
        });
        at += size;
    }
    // The values end the fragment, or an end-of-stream token follows them.
    if at > end || (at < end && chunk[at] != 0x00) {
        return None;
    }
    Some(def)
}

/// A substitution value as the event wants it: text (`None` for `NullType`), or a list for arrays.
enum Text {
    One(Option<String>),
    Many(Vec<String>),
    Bytes(Vec<u8>),
    Nested(RawValue),
    Time(DateTime<Utc>),
}

/// Decode one value as rendering would show it; `None` for types the fast path leaves to rendering.
fn decode(chunk: &[u8], v: RawValue) -> Option<Text> {
    let bytes = v.bytes(chunk);
    let one = |s: String| Some(Text::One(Some(s)));
    match v.ty {
        0x00 => Some(Text::One(None)),
        0x01 => one(utf16(bytes)?),
        // ANSI text decodes as Windows-1252, which matches Latin-1 except in 0x80-0x9F.
        0x02 if !bytes.iter().any(|b| (0x80..0xa0).contains(b)) => one(as_rendered(
            bytes
                .iter()
                .take_while(|b| **b != 0)
                .map(|&b| b as char)
                .collect(),
        )),
        0x04 | 0x06 | 0x08 | 0x0a => one(unsigned(chunk, v)?.to_string()),
        0x03 => one((v.le(chunk, 1)? as i8).to_string()),
        0x05 => one((v.le(chunk, 2)? as i16).to_string()),
        0x07 => one((v.le(chunk, 4)? as i32).to_string()),
        0x09 => one((v.le(chunk, 8)? as i64).to_string()),
        // Windows writes 0 and 1; other values render as the number (irregular bools exist).
        0x0d => one(match v.le(chunk, 4)? {
            0 => "false".into(),
            1 => "true".into(),
            n => n.to_string(),
        }),
        0x0e => Some(Text::Bytes(bytes.to_vec())),
        0x10 if v.size == 4 || v.size == 8 => one(format!("0x{:x}", v.le(chunk, v.size)?)),
        0x11 => Some(Text::Time(filetime(v.le(chunk, 8)?)?)),
        0x0f => one(guid_text(bytes)?),
        0x13 => one(sid_text(bytes)?),
        0x14 => one(format!("0x{:x}", v.le(chunk, 4)?)),
        0x15 => one(format!("0x{:x}", v.le(chunk, 8)?)),
        0x21 => Some(Text::Nested(v)),
        0x81 => {
            let s = decode_utf16le(bytes)?;
            let mut items: Vec<String> =
                s.split('\0').map(|i| as_rendered(i.to_string())).collect();
            // Each item ends with a NUL, so the split leaves one empty piece at the end.
            if items.last().is_some_and(String::is_empty) {
                items.pop();
            }
            Some(Text::Many(items))
        }
        _ => None,
    }
}

/// An unsigned integer value of its exact width.
fn unsigned(chunk: &[u8], v: RawValue) -> Option<u64> {
    match v.ty {
        0x04 => v.le(chunk, 1),
        0x06 => v.le(chunk, 2),
        0x08 => v.le(chunk, 4),
        0x0a => v.le(chunk, 8),
        _ => None,
    }
}

/// A string value; some producers keep the NUL terminator inside the value, which is not text.
fn utf16(bytes: &[u8]) -> Option<String> {
    let s = decode_utf16le(bytes)?;
    Some(as_rendered(match s.trim_end_matches('\0').len() {
        n if n == s.len() => s,
        n => s[..n].to_string(),
    }))
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

/// Whether UTF-16LE text decodes: an even length, and every surrogate paired. Checked on every
/// string of a record read on demand, so without decoding.
fn utf16_valid(bytes: &[u8]) -> bool {
    if !bytes.len().is_multiple_of(2) {
        return false;
    }
    let mut high = false;
    for c in bytes.chunks_exact(2) {
        let unit = u16::from_le_bytes([c[0], c[1]]);
        match unit {
            0xd800..=0xdbff if !high => high = true,
            0xdc00..=0xdfff if high => high = false,
            0xd800..=0xdfff => return false,
            _ if high => return false,
            _ => {}
        }
    }
    !high
}

/// A slot's single text (`Some(None)` when absent or null); `None` when it holds anything else.
fn slot_text(slot: &Slot, chunk: &[u8], values: &[RawValue]) -> Option<Option<String>> {
    match slot {
        Slot::Absent => Some(None),
        Slot::Literal(s) => Some(Some(s.clone())),
        Slot::Subst(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
            Text::One(s) => Some(s),
            _ => None,
        },
    }
}

/// A slot's number, read straight from integer values and parsed from text ones.
fn slot_number(slot: &Slot, chunk: &[u8], values: &[RawValue]) -> Option<u64> {
    if let Slot::Subst(i) = slot {
        let v = *values.get(usize::from(*i))?;
        match v.ty {
            0x04 | 0x06 | 0x08 | 0x0a => return unsigned(chunk, v),
            0x14 => return v.le(chunk, 4),
            0x15 => return v.le(chunk, 8),
            _ => {}
        }
    }
    crate::event::parse_number(&slot_text(slot, chunk, values)??)
}

/// The System strings that recur in every record (provider, computer, channel), trimmed and
/// shared: decoded once per chunk for each distinct value, and compared with the previous
/// record's value before anything is hashed.
#[derive(Default)]
pub struct SharedStrings {
    by_bytes: HashMap<(bool, Box<[u8]>), Arc<str>>,
    /// Per System field: the last value seen.
    recent: [Option<Recent>; 3],
}

/// A shared string as last seen: whether it was a template literal, its bytes, its text.
type Recent = (bool, Box<[u8]>, Arc<str>);

#[derive(Clone, Copy)]
enum Shared {
    Provider = 0,
    Computer = 1,
    Channel = 2,
}

impl SharedStrings {
    fn get(
        &mut self,
        field: Shared,
        literal: bool,
        bytes: &[u8],
        make: impl FnOnce() -> Option<Arc<str>>,
    ) -> Option<Arc<str>> {
        let recent = &mut self.recent[field as usize];
        if let Some((l, b, s)) = recent
            && *l == literal
            && **b == *bytes
        {
            return Some(s.clone());
        }
        let key = (literal, Box::<[u8]>::from(bytes));
        let s = match self.by_bytes.get(&key) {
            Some(s) => s.clone(),
            None => {
                let s = make()?;
                // Hostile input could make every record's value new: past a bound, stop remembering.
                if self.by_bytes.len() < 1024 {
                    self.by_bytes.insert(key.clone(), s.clone());
                }
                s
            }
        };
        *recent = Some((key.0, key.1, s.clone()));
        Some(s)
    }
}

/// A System string that recurs in every record; `Some(None)` when absent or null.
fn slot_shared(
    field: Shared,
    slot: &Slot,
    chunk: &[u8],
    values: &[RawValue],
    strings: &mut SharedStrings,
    interner: &mut Interner,
) -> Option<Option<Arc<str>>> {
    match slot {
        Slot::Subst(i) if values.get(usize::from(*i))?.ty == 0x01 => {
            let bytes = values[usize::from(*i)].bytes(chunk);
            strings
                .get(field, false, bytes, || {
                    Some(interner.get(utf16(bytes)?.trim()))
                })
                .map(Some)
        }
        Slot::Literal(text) => strings
            .get(field, true, text.as_bytes(), || {
                Some(interner.get(text.trim()))
            })
            .map(Some),
        _ => Some(slot_text(slot, chunk, values)?.map(|s| interner.get(s.trim()))),
    }
}

fn fields_from(
    plan: &Plan,
    values: &[RawValue],
    chunk: &[u8],
    plans: &mut HashMap<u32, Option<Arc<Plan>>>,
    payload: &mut Payload,
    depth: usize,
) -> Option<()> {
    if depth > 4 {
        return None;
    }
    if let Some(u) = &plan.user_data {
        payload.user_data = Some(u.clone());
    }
    payload.fields.reserve(plan.payload.len());
    for f in &plan.payload {
        match f {
            FieldPlan::Field(name, slot) => match slot {
                Slot::Subst(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
                    // A null value leaves the element out, as rendering does.
                    Text::One(None) => {}
                    Text::One(Some(s)) => payload.fields.push(Field {
                        name: name.clone(),
                        value: normalize_null(s),
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
                                value: normalize_null(s),
                            });
                        }
                    }
                    Text::Time(t) => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(time_text(t)),
                    }),
                    Text::Bytes(b) => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(crate::values::to_hex_upper(&b)),
                    }),
                    Text::Nested(..) => return None,
                },
                other => payload.fields.push(Field {
                    name: name.clone(),
                    value: normalize_null(slot_text(other, chunk, values)?.unwrap_or_default()),
                }),
            },
            FieldPlan::Binary(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
                Text::Bytes(b) => payload.binary = Some(b),
                Text::One(None) => {}
                _ => return None,
            },
            FieldPlan::Nested(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
                Text::Nested(v) => {
                    let mut inner = Vec::new();
                    let def = parse_instance(chunk, v.at, v.at + v.size, &mut inner)?;
                    let plan = plan_at(plans, chunk, def)?;
                    fields_from(&plan, &inner, chunk, plans, payload, depth + 1)?;
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

/// [`event_from_binxml`] for a record the evtx crate has walked to.
pub fn event_from_template(
    record: &EvtxRecord,
    source: SourceId,
    cache: &mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
) -> Outcome {
    let start = record.binxml_offset as usize;
    event_from_binxml(
        record.chunk.data,
        start..start + record.binxml_size as usize,
        record.event_record_id,
        source,
        cache,
        interner,
        wants,
    )
}

/// Build the event of the record whose BinXml is `chunk[binxml]` from its template values,
/// skipping it when `wants` refuses its event ID. `header_record_id` is the record header's number.
pub fn event_from_binxml(
    chunk: &[u8],
    binxml: std::ops::Range<usize>,
    header_record_id: u64,
    source: SourceId,
    cache: &mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
) -> Outcome {
    let (plan, raw_id) = match prepare(chunk, binxml, cache, wants) {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let PlanCache {
        plans,
        strings,
        values,
        ..
    } = cache;
    let Some(provider) = provider_of(&plan, chunk, values, strings, interner) else {
        return Outcome::Render;
    };
    let Some(mut event) = build(
        &plan,
        raw_id,
        chunk,
        header_record_id,
        source,
        provider,
        strings,
        values,
        interner,
    ) else {
        return Outcome::Render;
    };
    match fields_from(&plan, values, chunk, plans, &mut event.payload, 0) {
        Some(()) => Outcome::Event(Box::new(event)),
        None => Outcome::Render,
    }
}

/// What the fast path made of a record, its payload left in the chunk to be read on demand.
pub enum Viewed<'a> {
    /// The event (without payload) and its payload, decoded field by field when read.
    Event(Box<Event>, PayloadView<'a>),
    /// The event with its payload built: its layout (a nested template) is not read on demand.
    Built(Box<Event>),
    /// Its event ID, or its provider, ID and payload together, are refused: nothing to build.
    Unwanted,
    Render,
}

impl From<Outcome> for Viewed<'_> {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Event(e) => Viewed::Built(e),
            Outcome::Unwanted => Viewed::Unwanted,
            Outcome::Render => Viewed::Render,
        }
    }
}

/// [`event_from_binxml`] without building the payload: signatures decode the fields they test.
/// `wants_payload` is asked first whether the event can be kept at all, given its provider, ID
/// and payload; its answer is remembered for the rest of the chunk, so it must depend on those
/// alone.
#[allow(clippy::too_many_arguments)]
pub fn event_view<'a>(
    chunk: &'a [u8],
    binxml: std::ops::Range<usize>,
    header_record_id: u64,
    source: SourceId,
    cache: &'a mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
    wants_payload: impl FnOnce(&str, u16, &dyn PayloadSource) -> bool,
) -> Viewed<'a> {
    let (plan, raw_id) = match prepare(chunk, binxml.clone(), cache, &wants) {
        Ok(p) => p,
        Err(Outcome::Unwanted) => return Viewed::Unwanted,
        Err(_) => return Viewed::Render,
    };
    let outer = cache.values.len();
    let on_demand = laid_out(&plan, chunk, cache);
    let provider = {
        let PlanCache {
            strings, values, ..
        } = &mut *cache;
        match provider_of(&plan, chunk, &values[..outer], strings, interner) {
            Some(p) => p,
            None => return Viewed::Render,
        }
    };
    let event_id = (raw_id & 0xffff) as u16;
    let known = on_demand
        .then(|| {
            verdict_key(
                &mut cache.key,
                &provider,
                event_id,
                chunk,
                &cache.values,
                &cache.segments,
            );
            cache.verdicts.get(cache.key.as_slice()).copied()
        })
        .flatten();
    // Equal keys mean equal bytes: a payload seen before was decodable then and is now.
    if !on_demand || (known.is_none() && !decodable(chunk, &cache.values, &cache.segments)) {
        return event_from_binxml(
            chunk,
            binxml,
            header_record_id,
            source,
            cache,
            interner,
            wants,
        )
        .into();
    }
    let PlanCache {
        strings,
        values,
        segments,
        verdicts,
        key,
        ..
    } = cache;
    let view = PayloadView {
        chunk,
        values,
        segments,
    };
    let wanted = known.unwrap_or_else(|| {
        let wanted = wants_payload(&provider, event_id, &view);
        verdicts.insert(key.as_slice().into(), wanted);
        wanted
    });
    if !wanted {
        return Viewed::Unwanted;
    }
    match build(
        &plan,
        raw_id,
        chunk,
        header_record_id,
        source,
        provider,
        strings,
        &values[..outer],
        interner,
    ) {
        Some(event) => Viewed::Event(Box::new(event), view),
        None => Viewed::Render,
    }
}

/// The identity of a record's payload within its chunk, for remembering what the sink answered:
/// the provider and event ID, then per payload template instance its plan (one per definition
/// in the chunk) and every value's type, size and bytes.
fn verdict_key(
    key: &mut Vec<u8>,
    provider: &str,
    event_id: u16,
    chunk: &[u8],
    values: &[RawValue],
    segments: &[Segment],
) {
    key.clear();
    key.extend_from_slice(&(provider.len() as u32).to_le_bytes());
    key.extend_from_slice(provider.as_bytes());
    key.extend_from_slice(&event_id.to_le_bytes());
    for s in segments {
        key.extend_from_slice(&(Arc::as_ptr(&s.plan) as usize).to_le_bytes());
        key.extend_from_slice(&(s.len as u32).to_le_bytes());
        for v in &values[s.base..s.base + s.len] {
            let bytes = v.bytes(chunk);
            key.push(v.ty);
            key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            key.extend_from_slice(bytes);
        }
    }
}

/// Lay out the record's payload for reading on demand: the outer template's own fields, or
/// nested payload templates (Windows' layout: `<EventData>` or `<UserData>` as one substitution)
/// whose fields are all direct. False for anything else, which is built instead.
fn laid_out(plan: &Arc<Plan>, chunk: &[u8], cache: &mut PlanCache) -> bool {
    let PlanCache {
        plans,
        values,
        segments,
        ..
    } = cache;
    segments.clear();
    let outer = values.len();
    let flat = |p: &Plan| !p.payload.iter().any(|f| matches!(f, FieldPlan::Nested(_)));
    if flat(plan) {
        segments.push(Segment {
            plan: plan.clone(),
            base: 0,
            len: outer,
        });
    } else {
        for f in &plan.payload {
            let FieldPlan::Nested(i) = f else {
                return false;
            };
            let Some(v) = values[..outer].get(usize::from(*i)).copied() else {
                return false;
            };
            match v.ty {
                0x00 => continue,
                0x21 => {}
                _ => return false,
            }
            let base = values.len();
            let Some(def) = append_instance(chunk, v.at, v.at + v.size, values) else {
                return false;
            };
            let Some(inner) = plan_at(plans, chunk, def) else {
                return false;
            };
            if !flat(&inner) {
                return false;
            }
            segments.push(Segment {
                plan: inner,
                base,
                len: values.len() - base,
            });
        }
    }
    true
}

/// Locate the record's values and its plan, and read its event ID.
fn prepare(
    chunk: &[u8],
    binxml: std::ops::Range<usize>,
    cache: &mut PlanCache,
    wants: impl Fn(u16) -> bool,
) -> Result<(Arc<Plan>, u64), Outcome> {
    let PlanCache { plans, values, .. } = cache;
    let def = parse_instance(chunk, binxml.start, binxml.end, values).ok_or(Outcome::Render)?;
    let Some(plan) = plan_at(plans, chunk, def) else {
        // A template the fast path cannot plan may still be Windows' System template, whose
        // event ID sits in slot 3 (next to the FILETIME in 6 and the record ID in 10): an
        // unwanted ID needs no rendering either.
        return Err(match (values.get(3), values.get(6), values.get(10)) {
            (Some(id), Some(t), Some(r)) if id.ty == 0x06 && t.ty == 0x11 && r.ty == 0x0a => {
                match unsigned(chunk, *id) {
                    Some(id) if !wants(id as u16) => Outcome::Unwanted,
                    _ => Outcome::Render,
                }
            }
            _ => Outcome::Render,
        });
    };
    let raw_id = slot_number(&plan.event_id, chunk, values).ok_or(Outcome::Render)?;
    if !wants((raw_id & 0xffff) as u16) {
        return Err(Outcome::Unwanted);
    }
    Ok((plan, raw_id))
}

/// Whether every payload template instance laid out by [`laid_out`] can be read on demand.
fn decodable(chunk: &[u8], values: &[RawValue], segments: &[Segment]) -> bool {
    segments
        .iter()
        .all(|s| on_demand(&s.plan, chunk, &values[s.base..s.base + s.len]))
}

/// Whether the record's payload can be read field by field: no nested template, and every value
/// it renders decodable (checked without decoding strings), so that reading a field on demand
/// gives what building the payload would have.
fn on_demand(plan: &Plan, chunk: &[u8], values: &[RawValue]) -> bool {
    plan.payload.iter().all(|f| match f {
        FieldPlan::Nested(_) => false,
        FieldPlan::Binary(i) => values
            .get(usize::from(*i))
            .is_some_and(|v| matches!(v.ty, 0x00 | 0x0e)),
        FieldPlan::Field(_, Slot::Subst(i)) => values.get(usize::from(*i)).is_some_and(|v| {
            let bytes = v.bytes(chunk);
            match v.ty {
                0x00 | 0x0e => true,
                0x01 | 0x81 => utf16_valid(bytes),
                0x02 => !bytes.iter().any(|b| (0x80..0xa0).contains(b)),
                0x21 => false,
                _ => decode(chunk, *v).is_some(),
            }
        }),
        FieldPlan::Field(..) => true,
    })
}

/// A record's payload on the fast path, read from the chunk one field at a time; it reads
/// exactly what [`fields_from`] would have built (a test compares both on every record).
pub struct PayloadView<'a> {
    chunk: &'a [u8],
    values: &'a [RawValue],
    segments: &'a [Segment],
}

impl PayloadView<'_> {
    /// Every `<Data>` / leaf slot and `<Binary>` slot, in document order, each with the values of
    /// its template instance.
    fn items(&self) -> impl Iterator<Item = (&FieldPlan, &[RawValue])> {
        self.segments.iter().flat_map(|s| {
            let values = &self.values[s.base..s.base + s.len];
            s.plan.payload.iter().map(move |f| (f, values))
        })
    }

    /// How many fields a payload slot renders as: none for a null value, one per item of a list
    /// (an empty list still renders one empty element), one otherwise.
    fn count(&self, slot: &Slot, values: &[RawValue]) -> usize {
        match slot {
            Slot::Subst(i) => match values.get(usize::from(*i)) {
                Some(v) if v.ty == 0x00 => 0,
                Some(v) if v.ty == 0x81 => match decode(self.chunk, *v) {
                    Some(Text::Many(items)) => items.len().max(1),
                    _ => 0,
                },
                Some(_) => 1,
                None => 0,
            },
            _ => 1,
        }
    }

    /// The `k`-th field a payload slot renders as.
    fn text(&self, slot: &Slot, values: &[RawValue], k: usize) -> Option<String> {
        match slot {
            Slot::Subst(i) => match decode(self.chunk, *values.get(usize::from(*i))?)? {
                Text::One(s) => normalize_null(s?),
                Text::Many(items) if items.is_empty() => Some(String::new()),
                Text::Many(mut items) if k < items.len() => normalize_null(items.swap_remove(k)),
                Text::Time(t) => Some(time_text(t)),
                Text::Bytes(b) => Some(crate::values::to_hex_upper(&b)),
                _ => None,
            },
            other => normalize_null(slot_text(other, self.chunk, values)?.unwrap_or_default()),
        }
    }
}

impl PayloadSource for PayloadView<'_> {
    fn positional(&self, index: usize) -> Option<Cow<'_, str>> {
        let mut at = 0;
        for (f, values) in self.items() {
            if let FieldPlan::Field(_, slot) = f {
                let n = self.count(slot, values);
                if index < at + n {
                    return self.text(slot, values, index - at).map(Cow::Owned);
                }
                at += n;
            }
        }
        None
    }

    fn named(&self, name: &str) -> Option<Cow<'_, str>> {
        self.items().find_map(|(f, values)| match f {
            FieldPlan::Field(Some(n), slot) if n == name && self.count(slot, values) > 0 => {
                Some(self.text(slot, values, 0).map(Cow::Owned))
            }
            _ => None,
        })?
    }

    fn binary(&self) -> Option<Cow<'_, [u8]>> {
        self.items()
            .filter_map(|(f, values)| match f {
                FieldPlan::Binary(i) => values.get(usize::from(*i)),
                _ => None,
            })
            .filter(|v| v.ty == 0x0e)
            .last()
            .map(|v| Cow::Borrowed(v.bytes(self.chunk)))
    }
}

/// The record's provider name, shared; `None` when it has none. An empty attribute is not
/// rendered, so an empty provider name is no provider at all.
fn provider_of(
    plan: &Plan,
    chunk: &[u8],
    values: &[RawValue],
    strings: &mut SharedStrings,
    interner: &mut Interner,
) -> Option<Arc<str>> {
    slot_shared(
        Shared::Provider,
        &plan.provider,
        chunk,
        values,
        strings,
        interner,
    )?
    .filter(|p| !p.is_empty())
}

fn time_text(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    plan: &Plan,
    raw_id: u64,
    chunk: &[u8],
    header_record_id: u64,
    source: SourceId,
    provider: Arc<str>,
    strings: &mut SharedStrings,
    values: &[RawValue],
    interner: &mut Interner,
) -> Option<Event> {
    let time = match &plan.time {
        Slot::Subst(i) => match values.get(usize::from(*i))? {
            v if v.ty == 0x11 => filetime(v.le(chunk, 8)?)?,
            _ => return None,
        },
        Slot::Literal(s) => crate::values::parse_system_time(s)?,
        Slot::Absent => return None,
    };
    let record_id = match &plan.record_id {
        Slot::Absent => header_record_id,
        slot => {
            slot_text(slot, chunk, values)?;
            slot_number(slot, chunk, values).unwrap_or(header_record_id)
        }
    };
    let computer = slot_shared(
        Shared::Computer,
        &plan.computer,
        chunk,
        values,
        strings,
        interner,
    )?;
    let channel = slot_shared(
        Shared::Channel,
        &plan.channel,
        chunk,
        values,
        strings,
        interner,
    )?;
    Some(Event {
        source,
        record_id,
        header_record_id: (record_id != header_record_id).then_some(header_record_id),
        time,
        computer: computer.unwrap_or_else(|| interner.get("")),
        channel: channel.unwrap_or_else(|| interner.get("")),
        provider,
        event_id: (raw_id & 0xffff) as u16,
        qualifiers: slot_number(&plan.qualifiers, chunk, values)
            .and_then(|q| u16::try_from(q).ok())
            .or_else(|| u16::try_from(raw_id >> 16).ok().filter(|q| *q != 0)),
        level: slot_number(&plan.level, chunk, values).and_then(|l| u8::try_from(l).ok()),
        user_sid: slot_text(&plan.sid, chunk, values)?.filter(|s| !s.is_empty()),
        process_id: slot_number(&plan.pid, chunk, values).and_then(|p| u32::try_from(p).ok()),
        payload: Payload::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_validity_agrees_with_decoding() {
        let cases: &[&[u16]] = &[
            &[0x41, 0x42],
            &[0xd83d, 0xde00],
            &[0xd83d],
            &[0xde00],
            &[0xd83d, 0x41],
            &[0x41, 0xd83d, 0xde00, 0x42],
            &[0xdbff, 0xdfff, 0xd800],
            &[],
        ];
        for units in cases {
            let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            assert_eq!(
                utf16_valid(&bytes),
                decode_utf16le(&bytes).is_some(),
                "{units:x?}"
            );
        }
        assert!(!utf16_valid(&[0x41]), "an odd length is not UTF-16");
    }
}
