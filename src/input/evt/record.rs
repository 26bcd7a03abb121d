//! The fixed structures of a .evt file: the 48-byte header, the 40-byte end-of-file record, and one
//! event record (EVENTLOGRECORD) turned into an [`Event`]. Layouts: shared/reference/legacy.md §1
//! (Microsoft's "Event Log File Format", libevt's format notes, the real files it examined).
//! Every offset and length read from the file is checked against the bytes really there.

use crate::event::{Event, Field, Interner, Payload, SourceId};
use crate::input::template::sid_text;
use chrono::{DateTime, Utc};

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

/// A NUL-terminated UTF-16LE string starting at `at`, not past `limit`; the offset after its NUL.
/// A string that runs to the limit without its NUL is damage.
fn utf16z(b: &[u8], at: usize, limit: usize) -> Option<(String, usize)> {
    let limit = limit.min(b.len());
    let mut units = Vec::new();
    let mut i = at;
    while i + 1 < limit {
        let u = u16::from_le_bytes([b[i], b[i + 1]]);
        i += 2;
        if u == 0 {
            return Some((String::from_utf16_lossy(&units), i));
        }
        units.push(u);
    }
    None
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

/// The record's strings, data, names and SID, read into an [`Event`].
pub fn event(
    b: &[u8],
    fixed: &Fixed,
    source: SourceId,
    channel: &str,
    interner: &mut Interner,
) -> Result<Event, Damage> {
    let body_end = b.len() - 4;
    let (provider, after_source) =
        utf16z(b, FIXED_SIZE, body_end).ok_or(Damage::Field("source name"))?;
    let (computer, _) = utf16z(b, after_source, body_end).ok_or(Damage::Field("computer name"))?;
    let field = |at: usize| u32_at(b, at).map(|v| v as usize);
    let (num_strings, string_offset) =
        (u16_at(b, 26).unwrap_or(0) as usize, field(36).unwrap_or(0));
    let (sid_len, sid_offset) = (field(40).unwrap_or(0), field(44).unwrap_or(0));
    let (data_len, data_offset) = (field(48).unwrap_or(0), field(52).unwrap_or(0));

    let user_sid = if sid_len > 0 {
        let end = sid_offset
            .checked_add(sid_len)
            .filter(|&e| sid_offset >= FIXED_SIZE && e <= body_end)
            .ok_or(Damage::Field("user SID"))?;
        Some(sid_text(&b[sid_offset..end]).ok_or(Damage::Field("user SID"))?)
    } else {
        None
    };
    let binary = if data_len > 0 {
        let end = data_offset
            .checked_add(data_len)
            .filter(|&e| data_offset >= FIXED_SIZE && e <= body_end)
            .ok_or(Damage::Field("data"))?;
        Some(b[data_offset..end].to_vec())
    } else {
        // With no data, DataOffset may point anywhere, even past the record (Security log).
        None
    };
    // Strings end where the data begins; without data, at the record's padding.
    let strings_end = if data_len > 0 { data_offset } else { body_end };
    let mut fields = Vec::with_capacity(num_strings);
    let mut at = string_offset;
    if num_strings > 0 && (string_offset < FIXED_SIZE || string_offset > body_end) {
        return Err(Damage::Field("strings"));
    }
    for _ in 0..num_strings {
        let (s, next) = utf16z(b, at, strings_end).ok_or(Damage::Field("strings"))?;
        at = next;
        fields.push(Field {
            name: None,
            value: (s != "(NULL)").then_some(s),
        });
    }
    Ok(Event {
        source,
        record_id: u64::from(fixed.number),
        header_record_id: None,
        time: time(fixed.time),
        computer: interner.get(&computer),
        channel: interner.get(channel),
        provider: interner.get(&provider),
        event_id: fixed.code(),
        qualifiers: Some((fixed.event_id >> 16) as u16),
        level: level(fixed.event_type),
        user_sid,
        process_id: None,
        payload: Payload {
            fields,
            binary,
            user_data: None,
        },
    })
}

/// TimeGenerated: Unix seconds, UTC.
pub fn time(secs: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(secs), 0).unwrap_or_default()
}

/// The record's source and computer names.
pub fn names(b: &[u8]) -> Option<(String, String)> {
    let end = b.len().checked_sub(4)?;
    let (source, next) = utf16z(b, FIXED_SIZE, end)?;
    let (computer, _) = utf16z(b, next, end)?;
    Some((source, computer))
}
