//! The .evt reader: the classic event log of Windows NT 5.x (XP, Server 2003), the logs of the
//! servers KB 940006 was written for. No crate reads this format (shared/reference/legacy.md §6:
//! only EVTX crates and the live Win32 API), so it is read here, after Microsoft's "Event Log File
//! Format", libevt's notes and the real files legacy.md examined.
//!
//! A .evt is a circular buffer: a 48-byte header, records that carry their length at both ends,
//! and an end-of-file record written after the newest one. Customers send three kinds:
//! - saved by Event Viewer ("Save Log File As"): clean, the header is right;
//! - copied live from `system32\config`: the header is stale, the end-of-file record is right;
//! - wrapped: the oldest record is mid-file, a record may run past the end of the file and go on
//!   at offset 0x30, and a tail too short for a record is padding.
//!
//! Records are read in record order (oldest first) from the end-of-file record's begin offset to
//! its end offset, across the wrap. Sizes in the file are checked against the bytes there before
//! anything is read; damage is named with its offset, and reading resumes at the next record
//! signature. Old records left in the slack after the end are not read (libevt calls them
//! "recovered"; they are history Windows already discarded).
//!
//! Here: finding the records (header, end-of-file record) and the walk that frames them and
//! accounts for them; `record.rs` the structures; `ring.rs` the bytes in record order; `batch.rs`
//! the decoding on the pool.

mod batch;
mod record;
mod ring;

use super::{Body, EventSink, InputFile, InputReport, LogReader, LogSpan, Progress};
use batch::{Batch, Decoded};
use record::*;
use ring::{Ring, resync};

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct EvtReader;

/// How much of the file is read at once.
const BLOCK: usize = 4 << 20;
/// How many bytes of records go to the pool together.
const BATCH: usize = 1 << 20;
/// No record is larger: a length above this is damage, never an allocation. ReportEvent's limits
/// (strings of at most 31,839 characters, a log of at most 4 GiB) allow more in theory; no real
/// record comes near (unconfirmed: the largest seen in legacy.md's files is a few KiB).
const MAX_RECORD: usize = 1 << 20;

impl LogReader for EvtReader {
    fn format(&self) -> &'static str {
        "evt"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        // HeaderSize 0x30 and the LfLe signature. A ".evt" that Vista or later wrote is EVTX
        // inside and goes to that reader: content decides, not the name.
        head.starts_with(b"\x30\x00\x00\x00LfLe")
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        InputReport::of_sequential_read(input, "evt", |report| {
            read_file(input, sink, progress, report)
        })
    }
}

/// Where the records are, and what the file says of itself.
struct Bounds {
    begin: u64,
    end: u64,
    /// The number the next record would get, and the oldest one's; from the end-of-file record.
    numbers: Option<(u32, u32)>,
}

fn read_file(
    input: &InputFile,
    sink: &dyn EventSink,
    progress: &dyn Progress,
    report: &mut InputReport,
) -> io::Result<()> {
    let mut file = input.open()?;
    let size = input.size;
    if size < HEADER_SIZE {
        report.error(format!(
            "the file is {size} bytes, shorter than the 48-byte .evt header"
        ));
        return Ok(());
    }
    let mut head = [0u8; HEADER_SIZE as usize];
    file.read_exact(&mut head)?;
    let header = Header::parse(&head).expect("48 bytes hold a header");
    if header.end_header_size != 0x30 || header.major != 1 || header.minor != 1 {
        report.notes.push(format!(
            "unexpected header: version {}.{}, sizes {} and {} (1.1, 48 and 48 expected)",
            header.major, header.minor, header.header_size, header.end_header_size
        ));
    }
    if u64::from(header.max_size) > size {
        report.error(format!(
            "the header says the log is {} bytes but the file holds {size}: it was cut; what is there is read",
            header.max_size
        ));
    }
    let Some(bounds) = bounds(&mut file, size, &header, report)? else {
        return Ok(());
    };
    let segments = if bounds.begin <= bounds.end {
        vec![(bounds.begin, bounds.end)]
    } else {
        vec![(bounds.begin, size), (HEADER_SIZE, bounds.end)]
    };
    let wrapped = segments.len() == 2;
    let mut ring = Ring::new(file, segments);
    let mut walk = Walk {
        last: None,
        first: None,
        damage: None,
        channel: super::log_name_of(&input.path),
        span: None,
        times: None,
    };
    let decoded: Mutex<Vec<(usize, Decoded)>> = Mutex::new(Vec::new());
    let in_flight = AtomicUsize::new(0);
    // Framing is sequential (each record's length says where the next one starts) and cheap;
    // decoding and matching are not: whole records go to the pool a batch at a time, a few
    // batches in flight at most, so that memory stays flat.
    let walked = rayon::scope(|scope| -> io::Result<()> {
        let mut batch = Batch::of(Arc::new(Vec::new()));
        let mut batches = 0usize;
        let limit = 8 * rayon::current_num_threads().max(1);
        let mut dispatch = |batch: Batch, channel: &'static str| {
            let n = batches;
            batches += 1;
            in_flight.fetch_add(1, Ordering::SeqCst);
            let (decoded, in_flight) = (&decoded, &in_flight);
            scope.spawn(move |_| {
                let d = batch.decode(input.id, channel, sink);
                decoded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((n, d));
                in_flight.fetch_sub(1, Ordering::SeqCst);
            });
            while in_flight.load(Ordering::SeqCst) > limit {
                // Help with the work rather than wait for it: with one thread, no one else would.
                if rayon::yield_now().is_none() {
                    std::thread::yield_now();
                }
            }
        };
        let mut pos = 0u64;
        while pos < ring.len {
            let physical = ring.physical(pos);
            if wrapped && pos < ring.segment_end(0) {
                // Too little room before the end of the file for a record's fixed part, or
                // NT's padding: the next record starts at 0x30.
                let left = ring.segment_end(0) - pos;
                let padding = ring
                    .get(pos, 4, progress)?
                    .and_then(|b| u32_at(b, 0))
                    .is_some_and(|d| d == WRAP_PADDING);
                if left < FIXED_SIZE as u64 || padding {
                    pos = ring.segment_end(0);
                    continue;
                }
            }
            let Some(len) = ring.get(pos, 4, progress)?.and_then(|b| u32_at(b, 0)) else {
                walk.damaged(
                    report,
                    physical,
                    "the records stop short of the end-of-file record: fewer than 4 bytes are left",
                );
                break;
            };
            if len as usize == EOF_SIZE
                && ring
                    .get(pos, EOF_SIGNATURE.len(), progress)?
                    .is_some_and(|b| b == EOF_SIGNATURE)
            {
                report.notes.push(format!(
                    "an end-of-file record at offset {physical}, before the end the log names: the records after it are not read"
                ));
                break;
            }
            let fits = (len as usize) >= MIN_RECORD
                && len as usize <= MAX_RECORD
                && pos + u64::from(len) <= ring.len;
            let framed = if fits {
                let b = ring
                    .get(pos, len as usize, progress)?
                    .expect("length checked");
                check_frame(b)
            } else if (MIN_RECORD..=MAX_RECORD).contains(&(len as usize))
                && ring
                    .get(pos + 4, 4, progress)?
                    .is_some_and(|b| b == RECORD_SIGNATURE)
            {
                Err(record::Damage::Cut(pos + u64::from(len) - ring.len))
            } else {
                Err(record::Damage::Length(len))
            };
            match framed {
                Ok(()) => {
                    let b = ring
                        .get(pos, len as usize, progress)?
                        .expect("length checked");
                    walk.record(b, report);
                    // Every record lies whole in the ring's current block: `get` reads a new
                    // block from a record's start when the record runs past the old one.
                    if !Arc::ptr_eq(&batch.block, &ring.buf) || batch.bytes >= BATCH {
                        let full = std::mem::replace(&mut batch, Batch::of(ring.buf.clone()));
                        if !full.records.is_empty() {
                            dispatch(full, walk.channel);
                        }
                    }
                    let at = (pos - ring.buf_at) as usize;
                    batch.records.push((physical, at..at + len as usize));
                    batch.bytes += len as usize;
                    pos += u64::from(len);
                }
                Err(d) => {
                    walk.damaged(
                        report,
                        physical,
                        &format!("the record at offset {physical}: {d}"),
                    );
                    match resync(&mut ring, pos + 1, progress)? {
                        Some(next) => pos = next,
                        None => break,
                    }
                }
            }
        }
        if !batch.records.is_empty() {
            dispatch(batch, walk.channel);
        }
        Ok(())
    });
    // What the batches found, in file order, so that the report reads the same on every run.
    let mut decoded = decoded.into_inner().unwrap_or_else(|p| p.into_inner());
    decoded.sort_by_key(|(n, _)| *n);
    for (_, d) in decoded {
        report.records_used += d.used;
        report.records_read -= d.failed;
        report.records_failed += d.failed;
        for e in d.errors {
            report.error(e);
        }
    }
    walked?;
    walk.finish(report, bounds.numbers);
    if let (Some(span), Some((first, last))) = (&mut walk.span, walk.times) {
        span.first = record::time(first);
        span.last = record::time(last);
    }
    report.log = walk.span;
    Ok(())
}

/// The records' begin and end offsets: the end-of-file record's where it is found (at the header's
/// end offset, or anywhere in the file when the header is stale), else the header's.
fn bounds(
    file: &mut Body,
    size: u64,
    header: &Header,
    report: &mut InputReport,
) -> io::Result<Option<Bounds>> {
    let valid = |o: u32| u64::from(o) >= HEADER_SIZE && u64::from(o) < size;
    let at_header_end = if valid(header.end) {
        eof_at(file, size, u64::from(header.end))?
    } else {
        None
    };
    let dirty = header.flags & FLAG_DIRTY != 0;
    let eof = match at_header_end {
        Some(e) if !dirty => Some(e),
        _ => find_eof(file, size)?.or(at_header_end),
    };
    if dirty {
        report.notes.push(format!(
            "the log was not closed cleanly (dirty flag): a copy of the live file, whose header is stale{}",
            if eof.is_some() {
                "; its end-of-file record says where the records are"
            } else {
                ""
            }
        ));
    }
    let (begin, end, numbers) = match eof {
        Some(e) if valid(e.begin) && valid(e.end) => (e.begin, e.end, Some((e.current, e.oldest))),
        Some(_) | None => {
            let begin = if valid(header.start) {
                header.start
            } else {
                HEADER_SIZE as u32
            };
            let end = if valid(header.end) && header.end != begin {
                header.end
            } else {
                // Nothing says where the records end: read to the end of the file; the walk
                // stops at what is not a record.
                size as u32
            };
            report.error(format!(
                "no usable end-of-file record: the log was cut or damaged; records are read from offset {begin} to {end}{}",
                if (begin, end) == (header.start, header.end) {
                    " as the header says"
                } else {
                    " (the header's offsets are outside the file)"
                }
            ));
            // A clean header's numbers are right; a dirty one's are stale.
            let numbers = (!dirty).then_some((header.current, header.oldest));
            (begin, end, numbers)
        }
    };
    if numbers.is_some_and(|(current, oldest)| current <= oldest || oldest == 0) && begin == end {
        return Ok(None);
    }
    Ok(Some(Bounds {
        begin: u64::from(begin),
        end: u64::from(end),
        numbers,
    }))
}

/// The end-of-file record at `at`, whole or split across the wrap.
fn eof_at(file: &mut Body, size: u64, at: u64) -> io::Result<Option<EofRecord>> {
    let mut b = [0u8; EOF_SIZE];
    let here = (size - at).min(EOF_SIZE as u64) as usize;
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut b[..here])?;
    if here < EOF_SIZE {
        // Split: the rest is at 0x30 (ReactOS: "EVENTLOGEOF can be splitted"; likely).
        if HEADER_SIZE + (EOF_SIZE - here) as u64 > size {
            return Ok(None);
        }
        file.seek(SeekFrom::Start(HEADER_SIZE))?;
        file.read_exact(&mut b[here..])?;
    }
    Ok(EofRecord::parse(&b).filter(|e| u64::from(e.end) == at))
}

/// Search the whole file for the end-of-file record: of several (stale copies in the slack), the
/// one with the highest record number that sits where it says it does.
fn find_eof(file: &mut Body, size: u64) -> io::Result<Option<EofRecord>> {
    let finder = memchr::memmem::Finder::new(&EOF_SIGNATURE);
    let mut best: Option<EofRecord> = None;
    let mut offsets = Vec::new();
    let mut buf = vec![0u8; BLOCK];
    let mut at = HEADER_SIZE;
    while at < size {
        let n = ((size - at) as usize).min(BLOCK);
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut buf[..n])?;
        offsets.extend(finder.find_iter(&buf[..n]).map(|i| at + i as u64));
        if at + n as u64 >= size {
            break;
        }
        at += (n - (EOF_SIGNATURE.len() - 1)) as u64;
    }
    offsets.dedup();
    // A record split across the wrap: its signature is cut too.
    for k in 1..EOF_SIGNATURE.len() as u64 {
        if size >= HEADER_SIZE + k {
            offsets.push(size - k);
        }
    }
    for at in offsets {
        if let Some(e) = eof_at(file, size, at)?
            && best.is_none_or(|b| e.current > b.current)
        {
            best = Some(e);
        }
    }
    Ok(best)
}

/// What the walk has seen: the records read, in number order, and damage not yet accounted for.
struct Walk {
    first: Option<u32>,
    last: Option<u32>,
    /// The offset of damage seen since the last good record.
    damage: Option<u64>,
    /// The log's name: from the file's name, or from the first record whose source only one
    /// log has.
    channel: &'static str,
    /// The log, its computer and (once the walk ends) its times.
    span: Option<LogSpan>,
    /// The oldest and newest TimeGenerated seen, as stored.
    times: Option<(u32, u32)>,
}

/// Sources that write to one log only, to name a log whose file name does not.
const SOURCES_OF: &[(&str, &str)] = &[
    ("EventLog", "System"),
    ("Service Control Manager", "System"),
    ("Windows Update Agent", "System"),
    ("MsiInstaller", "Application"),
    ("Security", "Security"),
];

impl Walk {
    fn damaged(&mut self, report: &mut InputReport, offset: u64, what: &str) {
        report.error(what.to_string());
        self.damage.get_or_insert(offset);
    }

    /// Account for a framed record: its number, its time, and the log it tells.
    fn record(&mut self, b: &[u8], report: &mut InputReport) {
        let fixed = Fixed::parse(b).expect("a framed record holds its fixed part");
        report.records_read += 1;
        if let (Some(at), Some(last)) = (self.damage.take(), self.last)
            && fixed.number > last.wrapping_add(1)
        {
            let lost = fixed.number - last - 1;
            report.records_failed += u64::from(lost);
            report.error(format!(
                "{} lost in the damage at offset {at}",
                record_range(last + 1, fixed.number - 1)
            ));
        }
        self.first.get_or_insert(fixed.number);
        self.last = Some(fixed.number);
        match &mut self.times {
            Some((first, last)) => {
                *first = (*first).min(fixed.time);
                *last = (*last).max(fixed.time);
            }
            None => self.times = Some((fixed.time, fixed.time)),
        }
        match &mut self.span {
            Some(_) => {}
            None => {
                let time = record::time(fixed.time);
                let computer = Parsed::new(b)
                    .map(|p| crate::input::template::decode_utf16le_lossy(p.computer))
                    .unwrap_or_default();
                self.span = Some(LogSpan {
                    name: self.channel.to_string(),
                    computer,
                    first: time,
                    last: time,
                });
            }
        }
        // Until the log is named, on every record of a file that does not say it: compared as
        // stored, without decoding.
        if self.channel.is_empty()
            && let Ok(p) = Parsed::new(b)
        {
            let stored = |name: &str| {
                p.source
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .eq(name.encode_utf16())
            };
            if let Some((_, log)) = SOURCES_OF.iter().find(|(s, _)| stored(s)) {
                self.channel = log;
                if let Some(span) = &mut self.span {
                    span.name = log.to_string();
                }
            }
        }
    }

    /// Records the end-of-file record counts that were not read: cut off or lost in damage.
    fn finish(&self, report: &mut InputReport, numbers: Option<(u32, u32)>) {
        let Some((current, oldest)) = numbers else {
            if self.damage.is_some() {
                // Damage after the last record, and nothing says how many followed it.
                report.records_failed += 1;
            }
            return;
        };
        let (Some(first), Some(last)) = (self.first, self.last) else {
            let expected = current.saturating_sub(oldest);
            if expected > 0 {
                report.records_failed += u64::from(expected);
                report.error(format!(
                    "the end-of-file record counts records {oldest}-{} ({expected}); none could be read",
                    current - 1
                ));
            }
            return;
        };
        if first > oldest {
            let lost = first - oldest;
            report.records_failed += u64::from(lost);
            report.error(format!(
                "{} the oldest the end-of-file record counts, and could not be read",
                record_range(oldest, first - 1)
            ));
        }
        if current > last.wrapping_add(1) && last < current {
            let lost = current - last - 1;
            report.records_failed += u64::from(lost);
            report.error(format!(
                "{} the newest the end-of-file record counts, and could not be read",
                record_range(last + 1, current - 1)
            ));
        }
    }
}

/// "record 7" or "records 7-9 (3)", with the verb after it agreeing.
fn record_range(first: u32, last: u32) -> String {
    if first == last {
        format!("record {first} is")
    } else {
        format!(
            "records {first}-{last} ({}) are",
            u64::from(last - first) + 1
        )
    }
}
