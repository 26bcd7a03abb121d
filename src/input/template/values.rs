//! A record's substitution values: located in one pass, decoded only when a plan reads them, and
//! rendered as Windows renders them (times, GUIDs, SIDs, UTF-16 text).

use super::*;

/// One substitution value, not yet decoded: where it lies in the chunk and its BinXml type. A
/// record's values are located in one pass and only those its plan reads are ever decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawValue {
    pub(crate) at: usize,
    pub(crate) size: usize,
    pub(crate) ty: u8,
}

impl RawValue {
    /// The value's bytes; `parse_instance` has checked that they lie inside the chunk.
    pub(crate) fn bytes<'c>(&self, chunk: &'c [u8]) -> &'c [u8] {
        &chunk[self.at..self.at + self.size]
    }

    /// A little-endian integer of exactly `n` bytes.
    pub(crate) fn le(&self, chunk: &[u8], n: usize) -> Option<u64> {
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
pub(crate) fn parse_instance(
    chunk: &[u8],
    start: usize,
    end: usize,
    out: &mut Vec<RawValue>,
) -> Option<u32> {
    out.clear();
    append_instance(chunk, start, end, out)
}

/// [`parse_instance`], appending the values to those already in `out`.
pub(crate) fn append_instance(
    chunk: &[u8],
    start: usize,
    end: usize,
    out: &mut Vec<RawValue>,
) -> Option<u32> {
    let end = end.min(chunk.len());
    let (def, count) = instance_head(chunk, start, end)?;
    instance_values(chunk, count, end, out)?;
    Some(def)
}

/// Whether the values of the template instance whose value count is at `count` (from
/// [`instance_head`]) are laid out as [`parse_instance`] reads them, without locating them: a
/// record refused before its values are read is still checked for the damage that would have
/// sent it to rendering.
pub(crate) fn instance_holds(chunk: &[u8], count: usize, end: usize) -> bool {
    instance_values(chunk, count, end.min(chunk.len()), &mut Discard).is_some()
}

/// [`parse_instance`] for an instance whose head [`instance_head`] has read: its values, whose
/// count is at `count`, into `out`.
pub(crate) fn locate_values(
    chunk: &[u8],
    count: usize,
    end: usize,
    out: &mut Vec<RawValue>,
) -> Option<()> {
    out.clear();
    instance_values(chunk, count, end.min(chunk.len()), out)
}

/// The definition offset of the template instance starting at `start`, and where its value
/// count is: what a record's template is known by before any of its values is read.
pub(crate) fn instance_head(chunk: &[u8], start: usize, end: usize) -> Option<(u32, usize)> {
    let head = chunk.get(start..end.min(chunk.len()))?;
    // The fragment header is optional (MS-EVEN6: `0*FragmentHeader`); some producers omit it.
    let at = match head.first()? {
        &token::FRAGMENT_HEADER => 4,
        _ => 0,
    };
    // The instance token, a byte, the template ID, then the definition's offset.
    if *head.get(at)? != token::TEMPLATE_INSTANCE {
        return None;
    }
    let def = u32::from_le_bytes(head.get(at + 6..at + 10)?.try_into().ok()?);
    let mut pos = start + at + 10;
    if def as usize == pos {
        // The definition is inline, on its first use in the chunk: skip its header and body.
        let size = u32::from_le_bytes(chunk.get(pos + 20..pos + 24)?.try_into().ok()?);
        pos = pos.checked_add(24)?.checked_add(size as usize)?;
    }
    Some((def, pos))
}

/// Where located values go: a record's list, or nowhere when only their layout is checked.
trait Located {
    fn reserve(&mut self, n: usize);
    fn push(&mut self, v: RawValue);
}

impl Located for Vec<RawValue> {
    fn reserve(&mut self, n: usize) {
        Vec::reserve(self, n)
    }
    fn push(&mut self, v: RawValue) {
        Vec::push(self, v)
    }
}

struct Discard;

impl Located for Discard {
    fn reserve(&mut self, _: usize) {}
    fn push(&mut self, _: RawValue) {}
}

/// The value count at `count`, the descriptors after it and the values after them, which must
/// end the fragment at `end` (or be followed by an end-of-stream token).
fn instance_values(chunk: &[u8], count: usize, end: usize, out: &mut impl Located) -> Option<()> {
    let mut r = Reader {
        chunk,
        pos: count,
        end,
    };
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
    if at > end || (at < end && chunk[at] != token::END_OF_STREAM) {
        return None;
    }
    Some(())
}

/// A substitution value as the event wants it: text (`None` for `NullType`), or a list for arrays.
pub(crate) enum Text {
    One(Option<String>),
    Many(Vec<String>),
    Bytes(Vec<u8>),
    Nested(RawValue),
    Time(DateTime<Utc>),
}

/// Decode one value as rendering would show it; `None` for types the fast path leaves to rendering.
pub(crate) fn decode(chunk: &[u8], v: RawValue) -> Option<Text> {
    let bytes = v.bytes(chunk);
    let one = |s: String| Some(Text::One(Some(s)));
    match v.ty {
        value_type::NULL => Some(Text::One(None)),
        value_type::STRING => one(utf16(bytes)?),
        // ANSI text decodes as Windows-1252, which matches Latin-1 except in 0x80-0x9F.
        value_type::ANSI_STRING if !bytes.iter().any(|b| (0x80..0xa0).contains(b)) => {
            one(as_rendered(
                bytes
                    .iter()
                    .take_while(|b| **b != 0)
                    .map(|&b| b as char)
                    .collect(),
            ))
        }
        value_type::UINT8 | value_type::UINT16 | value_type::UINT32 | value_type::UINT64 => {
            one(unsigned(chunk, v)?.to_string())
        }
        value_type::INT8 => one((v.le(chunk, 1)? as i8).to_string()),
        value_type::INT16 => one((v.le(chunk, 2)? as i16).to_string()),
        value_type::INT32 => one((v.le(chunk, 4)? as i32).to_string()),
        value_type::INT64 => one((v.le(chunk, 8)? as i64).to_string()),
        // Windows writes 0 and 1; other values render as the number (irregular bools exist).
        value_type::BOOL => one(match v.le(chunk, 4)? {
            0 => "false".into(),
            1 => "true".into(),
            n => n.to_string(),
        }),
        value_type::BINARY => Some(Text::Bytes(bytes.to_vec())),
        value_type::SIZE_T if v.size == 4 || v.size == 8 => {
            one(format!("0x{:x}", v.le(chunk, v.size)?))
        }
        value_type::FILETIME => Some(Text::Time(filetime(v.le(chunk, 8)?)?)),
        value_type::GUID => one(guid_text(bytes)?),
        value_type::SID => one(sid_text(bytes)?),
        value_type::HEXINT32 => one(format!("0x{:x}", v.le(chunk, 4)?)),
        value_type::HEXINT64 => one(format!("0x{:x}", v.le(chunk, 8)?)),
        value_type::BINXML => Some(Text::Nested(v)),
        value_type::STRING_ARRAY => Some(Text::Many(
            array_items(bytes)?
                .map(|item| as_rendered(decode_utf16le(item).unwrap_or_default()))
                .collect(),
        )),
        _ => None,
    }
}

/// Whether [`decode`] gives a value, found without building its text: every record read on
/// demand is checked this way, and formatting its numbers, times and SIDs only to drop them cost
/// a sixth of the reader's time (a test compares both on every type and size).
pub(crate) fn decodes(chunk: &[u8], v: RawValue) -> bool {
    let bytes = v.bytes(chunk);
    match v.ty {
        value_type::NULL | value_type::BINARY | value_type::BINXML => true,
        value_type::STRING | value_type::STRING_ARRAY => {
            // As `decode_utf16le` reads it: whole code units, a trailing odd byte ignored.
            utf16_valid(&bytes[..bytes.len() & !1])
        }
        value_type::ANSI_STRING => !bytes.iter().any(|b| (0x80..0xa0).contains(b)),
        value_type::UINT8 | value_type::INT8 => v.size == 1,
        value_type::UINT16 | value_type::INT16 => v.size == 2,
        value_type::UINT32 | value_type::INT32 | value_type::BOOL | value_type::HEXINT32 => {
            v.size == 4
        }
        value_type::UINT64 | value_type::INT64 | value_type::HEXINT64 => v.size == 8,
        value_type::SIZE_T => v.size == 4 || v.size == 8,
        value_type::FILETIME => v.le(chunk, 8).and_then(filetime).is_some(),
        value_type::GUID => v.size == 16,
        value_type::SID => bytes.len() >= 8 && bytes.len() >= 8 + 4 * bytes[1] as usize,
        _ => false,
    }
}

/// The items of a string array (split at NUL units, the empty piece after the last NUL dropped),
/// each still UTF-16 bytes; `None` where the array does not decode. A
/// signature reads one item of a classic event's insertion strings at a time: decoding the
/// whole array for each, twice (to count, then to read), was a tenth of a generated host's read.
pub(crate) fn array_items(bytes: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let bytes = &bytes[..bytes.len() & !1];
    if !utf16_valid(bytes) {
        return None;
    }
    // A NUL unit never falls inside a surrogate pair, so every piece decodes too.
    let units = bytes.len() / 2;
    let (mut start, mut at, mut ended) = (0, 0, false);
    Some(std::iter::from_fn(move || {
        while !ended {
            if at == units {
                ended = true;
                // The piece after the last NUL is an item only when it holds something.
                return (start < at).then(|| &bytes[2 * start..2 * at]);
            }
            at += 1;
            if bytes[2 * at - 2..2 * at] == [0, 0] {
                let piece = &bytes[2 * start..2 * at - 2];
                start = at;
                return Some(piece);
            }
        }
        None
    }))
}

/// An unsigned integer value of its exact width.
pub(crate) fn unsigned(chunk: &[u8], v: RawValue) -> Option<u64> {
    match v.ty {
        value_type::UINT8 => v.le(chunk, 1),
        value_type::UINT16 => v.le(chunk, 2),
        value_type::UINT32 => v.le(chunk, 4),
        value_type::UINT64 => v.le(chunk, 8),
        _ => None,
    }
}

/// A string value; some producers keep the NUL terminator inside the value, which is not text.
pub(crate) fn utf16(bytes: &[u8]) -> Option<String> {
    let s = decode_utf16le(bytes)?;
    Some(as_rendered(match s.trim_end_matches('\0').len() {
        n if n == s.len() => s,
        n => s[..n].to_string(),
    }))
}

pub(crate) fn xml_unfit(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// Text as rendering delivers it: characters XML cannot carry (C0 controls but tab, LF and CR;
/// U+FFFE, U+FFFF) become `_`, as Windows shows them, and XML reading turns CR LF and CR into LF.
pub(crate) fn as_rendered(mut s: String) -> String {
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

pub(crate) fn filetime(ft: u64) -> Option<DateTime<Utc>> {
    crate::values::datetime_from_filetime(ft)
}

/// `{0888e5ef-9b98-4695-979d-e92ce4247224}`, lower case, as the evtx crate renders GUIDs.
pub(crate) fn guid_text(b: &[u8]) -> Option<String> {
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

pub(crate) fn sid_text(b: &[u8]) -> Option<String> {
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
pub(crate) fn utf16_valid(bytes: &[u8]) -> bool {
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
pub(crate) fn slot_text(slot: &Slot, chunk: &[u8], values: &[RawValue]) -> Option<Option<String>> {
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
pub(crate) fn slot_number(slot: &Slot, chunk: &[u8], values: &[RawValue]) -> Option<u64> {
    if let Slot::Subst(i) = slot {
        let v = *values.get(usize::from(*i))?;
        match v.ty {
            value_type::UINT8 | value_type::UINT16 | value_type::UINT32 | value_type::UINT64 => {
                return unsigned(chunk, v);
            }
            value_type::HEXINT32 => return v.le(chunk, 4),
            value_type::HEXINT64 => return v.le(chunk, 8),
            _ => {}
        }
    }
    crate::event::parse_number(&slot_text(slot, chunk, values)??)
}
