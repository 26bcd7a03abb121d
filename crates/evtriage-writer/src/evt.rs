//! Writes classic .evt logs as Windows NT 5.x (XP, Server 2003) does, from classic Event XML
//! (`<Provider Name>` without Guid, `<EventID Qualifiers>`, unnamed `<Data>`, `<Binary>`):
//! - saved by Event Viewer: clean header, records, end-of-file record, nothing after;
//! - copied live from `system32\config`: the file is the log's maximum size, the header is stale
//!   and dirty, the end-of-file record is right, zeros after it;
//! - wrapped: the log filled and went round, overwriting its oldest records; a record that does not
//!   fit before the end of the file goes on at 0x30, and a tail too short for a record's fixed part
//!   is NT's 0x27 padding.
//!
//! Record layout as shared/reference/legacy.md §1.3 measured it on real files (user-mode
//! ReportEvent records): no alignment before the SID, DataOffset at the end of the strings even
//! without data, then 1–4 zero bytes of padding and the length again. The header, end-of-file
//! record and wrap follow §1.1, §1.4 and §1.5.

use crate::xmltree::Element;
use evtriage::values::{parse_hex_bytes, parse_sid, parse_system_time};

const HEADER: usize = 0x30;
const FIXED: usize = 56;
const EOF_SIZE: usize = 0x28;

/// One record as ReportEvent stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvtRecord {
    pub number: u32,
    pub time: u32,
    /// The full 32-bit EventID: the `Qualifiers` in the high 16 bits.
    pub event_id: u32,
    pub event_type: u16,
    pub category: u16,
    pub source: String,
    pub computer: String,
    pub sid: Option<Vec<u8>>,
    pub strings: Vec<String>,
    pub data: Vec<u8>,
}

/// How the file was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvtKind {
    /// Event Viewer's "Save Log File As".
    Saved,
    /// A copy of the live file: `max_size` bytes (64 KiB multiples), header stale.
    Live { max_size: u32 },
    /// A live copy of a log of `max_size` bytes that the records have filled and gone round.
    Wrapped { max_size: u32 },
}

impl EvtRecord {
    /// The record of a classic Event XML `<Event>`.
    pub fn from_event(event: &Element) -> Result<EvtRecord, String> {
        let system = event.find("System").ok_or("no <System>")?;
        let text = |name: &str| system.find(name).map(Element::text_or_empty);
        let provider = system.find("Provider").ok_or("no <Provider>")?;
        let id_el = system.find("EventID").ok_or("no <EventID>")?;
        let id: u32 = id_el
            .text_or_empty()
            .trim()
            .parse()
            .map_err(|_| "unreadable <EventID>")?;
        let qualifiers: u32 = id_el
            .get_attr("Qualifiers")
            .map_or(Ok(0), |q| q.trim().parse())
            .map_err(|_| "unreadable Qualifiers")?;
        let level: u8 = text("Level").unwrap_or("4").trim().parse().unwrap_or(4);
        let time = system
            .find("TimeCreated")
            .and_then(|t| t.get_attr("SystemTime"))
            .and_then(parse_system_time)
            .ok_or("unreadable <TimeCreated>")?;
        let payload = event.find("EventData");
        let strings = payload
            .map(|p| {
                p.children
                    .iter()
                    .filter(|c| c.name == "Data")
                    .map(|c| c.text_or_empty().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let data = payload
            .and_then(|p| p.find("Binary"))
            .map(|b| parse_hex_bytes(b.text_or_empty()).ok_or("unreadable <Binary>"))
            .transpose()?
            .unwrap_or_default();
        Ok(EvtRecord {
            number: text("EventRecordID")
                .and_then(|n| n.trim().parse().ok())
                .ok_or("unreadable <EventRecordID>")?,
            time: u32::try_from(time.timestamp()).map_err(|_| "time outside .evt's range")?,
            event_id: (qualifiers << 16) | (id & 0xFFFF),
            event_type: match level {
                1 | 2 => 1,
                3 => 2,
                _ => 4,
            },
            category: text("Task")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
            source: provider.get_attr("Name").unwrap_or("").to_string(),
            computer: text("Computer").unwrap_or("").to_string(),
            sid: system
                .find("Security")
                .and_then(|s| s.get_attr("UserID"))
                .and_then(parse_sid),
            strings,
            data,
        })
    }

    /// The record's bytes, laid out as NT 5.x lays out a ReportEvent record.
    pub fn encode(&self) -> Vec<u8> {
        let utf16z = |s: &str, out: &mut Vec<u8>| {
            for u in s.encode_utf16().chain([0]) {
                out.extend_from_slice(&u.to_le_bytes());
            }
        };
        let mut b = vec![0u8; FIXED];
        utf16z(&self.source, &mut b);
        utf16z(&self.computer, &mut b);
        let sid_offset = b.len();
        if let Some(sid) = &self.sid {
            b.extend_from_slice(sid);
        }
        let string_offset = b.len();
        for s in &self.strings {
            utf16z(s, &mut b);
        }
        let data_offset = b.len();
        b.extend_from_slice(&self.data);
        let pad = 4 - b.len() % 4;
        b.resize(b.len() + pad, 0);
        let len = (b.len() + 4) as u32;
        b.extend_from_slice(&len.to_le_bytes());
        let put =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put(&mut b, 0, len);
        b[4..8].copy_from_slice(b"LfLe");
        put(&mut b, 8, self.number);
        put(&mut b, 12, self.time);
        put(&mut b, 16, self.time);
        put(&mut b, 20, self.event_id);
        b[24..26].copy_from_slice(&self.event_type.to_le_bytes());
        b[26..28].copy_from_slice(&(self.strings.len() as u16).to_le_bytes());
        b[28..30].copy_from_slice(&self.category.to_le_bytes());
        put(&mut b, 36, string_offset as u32);
        put(&mut b, 40, self.sid.as_ref().map_or(0, Vec::len) as u32);
        put(&mut b, 44, sid_offset as u32);
        put(&mut b, 48, self.data.len() as u32);
        put(&mut b, 52, data_offset as u32);
        b
    }
}

/// The 48-byte file header (ELF_LOGFILE_HEADER), retention 7 days as XP's default.
pub fn header(
    start: u32,
    end: u32,
    current: u32,
    oldest: u32,
    max_size: u32,
    flags: u32,
) -> Vec<u8> {
    [
        0x30,
        0x654C_664C,
        1,
        1,
        start,
        end,
        current,
        oldest,
        max_size,
        flags,
        604_800,
        0x30,
    ]
    .iter()
    .flat_map(|v: &u32| v.to_le_bytes())
    .collect()
}

/// The 40-byte end-of-file record.
pub fn eof_record(begin: u32, end: u32, current: u32, oldest: u32) -> Vec<u8> {
    [
        0x28,
        0x1111_1111,
        0x2222_2222,
        0x3333_3333,
        0x4444_4444,
        begin,
        end,
        current,
        oldest,
        0x28,
    ]
    .iter()
    .flat_map(|v: &u32| v.to_le_bytes())
    .collect()
}

/// The whole file. Records must come oldest first with consecutive numbers.
pub fn write_evt(records: &[EvtRecord], kind: EvtKind) -> Result<Vec<u8>, String> {
    let current = records.last().map_or(1, |r| r.number + 1);
    let oldest = records.first().map_or(0, |r| r.number);
    match kind {
        EvtKind::Saved | EvtKind::Live { .. } => {
            let mut body = Vec::new();
            for r in records {
                body.extend_from_slice(&r.encode());
            }
            let end = (HEADER + body.len()) as u32;
            let used = end as usize + EOF_SIZE;
            let (size, head) = match kind {
                EvtKind::Live { max_size } => {
                    if (max_size as usize) < used {
                        return Err(format!(
                            "{used} bytes of records do not fit a log of {max_size}"
                        ));
                    }
                    // Never flushed since the log was created: what [LIVE] in legacy.md shows.
                    (max_size as usize, header(0x30, 0x30, 1, 0, max_size, 0x1))
                }
                _ => (used, header(0x30, end, current, oldest, used as u32, 0)),
            };
            let mut out = head;
            out.extend_from_slice(&body);
            out.extend_from_slice(&eof_record(0x30, end, current, oldest));
            out.resize(size, 0);
            Ok(out)
        }
        EvtKind::Wrapped { max_size } => wrapped(records, max_size as usize),
    }
}

/// The log as the service leaves it after writing every record into a ring of `size` bytes.
fn wrapped(records: &[EvtRecord], size: usize) -> Result<Vec<u8>, String> {
    let mut file = vec![0u8; size];
    let ring = size - HEADER;
    // Live records: (offset, length, number), oldest first.
    let mut live: std::collections::VecDeque<(usize, usize, u32)> = Default::default();
    let mut w = HEADER;
    let distance = |from: usize, to: usize| {
        if to >= from {
            to - from
        } else {
            size - from + to - HEADER
        }
    };
    let put = |file: &mut [u8], at: usize, bytes: &[u8]| {
        let first = bytes.len().min(size - at);
        file[at..at + first].copy_from_slice(&bytes[..first]);
        file[HEADER..HEADER + bytes.len() - first].copy_from_slice(&bytes[first..]);
    };
    // The header as the service last flushed it (it does so when it starts and stops, not on
    // every write): here, a few records before the end, the oldest record already what it is now.
    let flush_at = records.len().saturating_sub(8);
    let mut flushed = (HEADER, 1u32);
    for (i, r) in records.iter().enumerate() {
        if i == flush_at {
            flushed = (w, r.number);
        }
        let bytes = r.encode();
        if bytes.len() + EOF_SIZE > ring {
            return Err(format!(
                "record {} does not fit a log of {size} bytes",
                r.number
            ));
        }
        if size - w < FIXED {
            // NT never splits a record's fixed part: pad to the end and go round, discarding
            // what the padding covers.
            while let Some(&(at, _, _)) = live.front() {
                if distance(w, at) >= size - w {
                    break;
                }
                live.pop_front();
            }
            let mut at = w;
            while at + 4 <= size {
                file[at..at + 4].copy_from_slice(&0x27u32.to_le_bytes());
                at += 4;
            }
            w = HEADER;
        }
        // Discard the oldest records until this one and the end-of-file record fit before them.
        while let Some(&(at, _, _)) = live.front() {
            if distance(w, at) >= bytes.len() + EOF_SIZE {
                break;
            }
            live.pop_front();
        }
        put(&mut file, w, &bytes);
        live.push_back((w, bytes.len(), r.number));
        w += bytes.len();
        if w >= size {
            w = HEADER + (w - size);
        }
    }
    let (begin, oldest) = live.front().map_or((HEADER, 0), |&(at, _, n)| (at, n));
    let current = records.last().map_or(1, |r| r.number + 1);
    let eof = eof_record(begin as u32, w as u32, current, oldest);
    if size - w < EOF_SIZE {
        put(&mut file, w, &eof);
    } else {
        file[w..w + EOF_SIZE].copy_from_slice(&eof);
    }
    // Dirty and wrapped, its end and next number stale (as in the real XP System log of
    // legacy.md §4: start right, end behind).
    file[..HEADER].copy_from_slice(&header(
        begin as u32,
        flushed.0 as u32,
        flushed.1,
        oldest,
        size as u32,
        0x3,
    ));
    Ok(file)
}

/// Classic Event XML events as records, numbered as their `<EventRecordID>`s say.
pub fn records_of(events: &[Element]) -> Result<Vec<EvtRecord>, String> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| EvtRecord::from_event(e).map_err(|m| format!("event {i}: {m}")))
        .collect()
}
