//! The fixed structures of a .evt file: the 48-byte header, the 40-byte end-of-file record, and one
//! event record (EVENTLOGRECORD) turned into an [`Event`]. Layouts: shared/reference/legacy.md §1
//! (Microsoft's "Event Log File Format", libevt's format notes, the real files it examined).
//! Every offset and length read from the file is checked against the bytes really there.

use crate::event::{Event, Interner, Payload, PayloadSource, SourceId};
use crate::input::template::{decode_utf16le_lossy, sid_text};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::sync::Arc;

pub const HEADER_SIZE: u64 = 0x30;
/// The fixed part of a record, before its source name: NT never splits it across the wrap.
pub const FIXED_SIZE: usize = 56;
/// Fixed part, two empty names (2 bytes each) and the trailing length.
pub const MIN_RECORD: usize = FIXED_SIZE + 4 + 4;
pub const EOF_SIZE: usize = 0x28;
/// The end-of-file record's first 20 bytes: its size and four signature dwords.
pub const EOF_SIGNATURE: [u8; 20] = [
    0x28, 0, 0, 0, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0x33, 0x33, 0x33, 0x33, 0x44,
    0x44, 0x44, 0x44,
];
pub const RECORD_SIGNATURE: &[u8; 4] = b"LfLe";
/// The dword NT fills a file's tail with when not even a record's fixed part fits before the
/// wrap (ReactOS `ElfWriteRecord`; likely, not seen in a real file: legacy.md §1.5).
pub const WRAP_PADDING: u32 = 0x27;

pub const FLAG_DIRTY: u32 = 0x1;

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// ELF_LOGFILE_HEADER.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub header_size: u32,
    pub major: u32,
    pub minor: u32,
    pub start: u32,
    pub end: u32,
    pub current: u32,
    pub oldest: u32,
    pub max_size: u32,
    pub flags: u32,
    pub end_header_size: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Option<Header> {
        Some(Header {
            header_size: u32_at(b, 0)?,
            major: u32_at(b, 8)?,
            minor: u32_at(b, 12)?,
            start: u32_at(b, 16)?,
            end: u32_at(b, 20)?,
            current: u32_at(b, 24)?,
            oldest: u32_at(b, 28)?,
            max_size: u32_at(b, 32)?,
            flags: u32_at(b, 36)?,
            end_header_size: u32_at(b, 44)?,
        })
    }
}

/// ELF_EOF_RECORD: rewritten after every event, so on a live copy it is the only up-to-date copy
/// of where the records begin and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EofRecord {
    pub begin: u32,
    pub end: u32,
    pub current: u32,
    pub oldest: u32,
}

impl EofRecord {
    /// The record from its 40 bytes, when they carry its signature and both size fields.
    pub fn parse(b: &[u8]) -> Option<EofRecord> {
        if b.len() < EOF_SIZE || b[..20] != EOF_SIGNATURE || u32_at(b, 36)? != EOF_SIZE as u32 {
            return None;
        }
        Some(EofRecord {
            begin: u32_at(b, 20)?,
            end: u32_at(b, 24)?,
            current: u32_at(b, 28)?,
            oldest: u32_at(b, 32)?,
        })
    }
}

/// How a record is damaged.
#[derive(Debug, PartialEq, Eq)]
pub enum Damage {
    Length(u32),
    /// Runs past the end of the records by this many bytes.
    Cut(u64),
    Signature,
    TrailingLength(u32, u32),
    Field(&'static str),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Length(n) => write!(f, "its length {n} is not that of a record"),
            Damage::Cut(n) => write!(
                f,
                "it runs {n} bytes past the end of the file (or of the records the log names): cut"
            ),
            Damage::Signature => write!(f, "no LfLe signature"),
            Damage::TrailingLength(a, b) => {
                write!(f, "its length {a} does not match the copy at its end ({b})")
            }
            Damage::Field(what) => write!(f, "its {what} runs outside the record"),
        }
    }
}

/// The record's fields a reader needs before deciding whether to build an event.
pub struct Fixed {
    pub number: u32,
    pub time: u32,
    /// The full 32-bit EventID: severity, facility and code.
    pub event_id: u32,
    pub event_type: u16,
}

impl Fixed {
    pub fn parse(b: &[u8]) -> Option<Fixed> {
        Some(Fixed {
            number: u32_at(b, 8)?,
            time: u32_at(b, 12)?,
            event_id: u32_at(b, 20)?,
            event_type: u16_at(b, 24)?,
        })
    }

    /// The event ID as Event Viewer shows it: the low 16 bits (legacy.md §2).
    pub fn code(&self) -> u16 {
        (self.event_id & 0xFFFF) as u16
    }
}

/// A whole record's framing: its length at both ends and its signature.
pub fn check_frame(b: &[u8]) -> Result<(), Damage> {
    let len = u32_at(b, 0).ok_or(Damage::Length(0))?;
    if (len as usize) < MIN_RECORD || len as usize != b.len() {
        return Err(Damage::Length(len));
    }
    if &b[4..8] != RECORD_SIGNATURE {
        return Err(Damage::Signature);
    }
    let trailing = u32_at(b, b.len() - 4).ok_or(Damage::Length(len))?;
    if trailing != len {
        return Err(Damage::TrailingLength(len, trailing));
    }
    Ok(())
}

/// Level as the modern logs give it, from EventType (the severity bits of the EventID do not say:
/// EventLog 6005 carries "warning" bits with EventType Information; legacy.md §2).
fn level(event_type: u16) -> Option<u8> {
    match event_type {
        1 => Some(2),
        2 => Some(3),
        0 | 4 => Some(4),
        // Audit success and failure: the keyword, not the level, says which.
        8 | 16 => Some(0),
        _ => None,
    }
}

/// A framed record's parts, located and bounds-checked but not decoded: most records are asked
/// only their event ID and a field or two.
pub struct Parsed<'a> {
    pub fixed: Fixed,
    /// NumStrings as stored (offset 26).
    num_strings_raw: &'a [u8],
    /// UTF-16LE, without the NUL.
    pub source: &'a [u8],
    pub computer: &'a [u8],
    pub sid: Option<&'a [u8]>,
    /// From the first string to where the strings must end.
    strings: &'a [u8],
    num_strings: usize,
    pub data: Option<&'a [u8]>,
}

/// The UTF-16LE units before the first NUL unit from `at`, not past `limit`, and the offset after
/// the NUL; `None` when no NUL comes before the limit.
fn utf16z_raw(b: &[u8], at: usize, limit: usize) -> Option<(&[u8], usize)> {
    let limit = limit.min(b.len());
    let mut i = at;
    while i + 1 < limit {
        if b[i] == 0 && b[i + 1] == 0 {
            return Some((&b[at..i], i + 2));
        }
        i += 2;
    }
    None
}

impl<'a> Parsed<'a> {
    /// Locate the parts of a framed record; every offset and length is checked against it.
    pub fn new(b: &'a [u8]) -> Result<Parsed<'a>, Damage> {
        let fixed = Fixed::parse(b).ok_or(Damage::Length(b.len() as u32))?;
        let body_end = b.len() - 4;
        let (source, after_source) =
            utf16z_raw(b, FIXED_SIZE, body_end).ok_or(Damage::Field("source name"))?;
        let (computer, _) =
            utf16z_raw(b, after_source, body_end).ok_or(Damage::Field("computer name"))?;
        let field = |at: usize| u32_at(b, at).map_or(0, |v| v as usize);
        let num_strings = u16_at(b, 26).unwrap_or(0) as usize;
        let string_offset = field(36);
        let (sid_len, sid_offset) = (field(40), field(44));
        let (data_len, data_offset) = (field(48), field(52));
        let within = |offset: usize, len: usize| {
            offset
                .checked_add(len)
                .filter(|&e| offset >= FIXED_SIZE && e <= body_end)
                .map(|e| &b[offset..e])
        };
        let sid = if sid_len > 0 {
            Some(within(sid_offset, sid_len).ok_or(Damage::Field("user SID"))?)
        } else {
            None
        };
        // With no data, DataOffset may point anywhere, even past the record (Security log).
        let data = if data_len > 0 {
            Some(within(data_offset, data_len).ok_or(Damage::Field("data"))?)
        } else {
            None
        };
        // Strings end where the data begins; without data, at the record's padding.
        let strings_end = if data_len > 0 { data_offset } else { body_end };
        let strings = if num_strings == 0 {
            &b[0..0]
        } else if string_offset >= FIXED_SIZE && string_offset <= strings_end {
            &b[string_offset..strings_end]
        } else {
            return Err(Damage::Field("strings"));
        };
        Ok(Parsed {
            fixed,
            num_strings_raw: &b[26..28],
            source,
            computer,
            sid,
            strings,
            num_strings,
            data,
        })
    }

    /// Each string's UTF-16LE bytes, `num_strings` of them; `None` at the first one that has no NUL
    /// before the strings' end.
    fn string(&self, index: usize) -> Option<&'a [u8]> {
        if index >= self.num_strings {
            return None;
        }
        let mut at = 0;
        for i in 0..=index {
            let (raw, next) = utf16z_raw(self.strings, at, self.strings.len())?;
            if i == index {
                return Some(raw);
            }
            at = next;
        }
        None
    }

    /// NumStrings as stored.
    pub fn string_count_bytes(&self) -> &'a [u8] {
        self.num_strings_raw
    }

    /// The strings as stored, for comparing records without decoding them.
    pub fn payload_bytes(&self) -> &'a [u8] {
        self.strings
    }

    /// Whether every string the record counts is there and ends: damage otherwise, found before
    /// the record is used.
    pub fn check_strings(&self) -> Result<(), Damage> {
        match self.num_strings {
            0 => Ok(()),
            n => self
                .string(n - 1)
                .map(|_| ())
                .ok_or(Damage::Field("strings")),
        }
    }

    /// The record as an event, its payload left to this view (see [`PayloadSource`]).
    pub fn event(
        &self,
        source: SourceId,
        channel: &str,
        names: &mut NameCache,
    ) -> Result<Event, Damage> {
        let user_sid = match self.sid {
            Some(sid) => Some(sid_text(sid).ok_or(Damage::Field("user SID"))?),
            None => None,
        };
        Ok(Event {
            source,
            record_id: u64::from(self.fixed.number),
            header_record_id: None,
            time: time(self.fixed.time),
            computer: names.get(self.computer),
            channel: names.channel(channel),
            provider: names.get(self.source),
            event_id: self.fixed.code(),
            qualifiers: Some((self.fixed.event_id >> 16) as u16),
            level: level(self.fixed.event_type),
            user_sid,
            process_id: None,
            payload: Payload::default(),
            from_text_log: false,
        })
    }
}

impl PayloadSource for Parsed<'_> {
    fn positional(&self, index: usize) -> Option<Cow<'_, str>> {
        let s = decode_utf16le_lossy(self.string(index)?);
        // `(NULL)` is what classic sources write for an absent string.
        (s != "(NULL)").then_some(Cow::Owned(s))
    }
    fn named(&self, _name: &str) -> Option<Cow<'_, str>> {
        // Classic records have no names for their strings.
        None
    }
    fn binary(&self) -> Option<Cow<'_, [u8]>> {
        self.data.map(Cow::Borrowed)
    }
}

/// Names decoded once per run of records that repeat them (a log's records name a handful of
/// sources and one computer), shared through the interner.
#[derive(Default)]
pub struct NameCache {
    interner: Interner,
    last: Vec<(Vec<u8>, Arc<str>)>,
}

impl NameCache {
    pub fn get(&mut self, raw: &[u8]) -> Arc<str> {
        if let Some((_, name)) = self.last.iter().find(|(r, _)| r == raw) {
            return name.clone();
        }
        let name = self.interner.get(&decode_utf16le_lossy(raw));
        // Real names are short; a long one (hostile) is decoded each time rather than kept.
        if raw.len() <= 512 {
            if self.last.len() >= 16 {
                self.last.remove(0);
            }
            self.last.push((raw.to_vec(), name.clone()));
        }
        name
    }

    pub fn channel(&mut self, name: &str) -> Arc<str> {
        self.interner.get(name)
    }
}

/// TimeGenerated: Unix seconds, UTC.
pub fn time(secs: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(secs), 0).unwrap_or_default()
}
