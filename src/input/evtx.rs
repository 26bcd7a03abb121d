//! The .evtx reader, on the evtx crate. Chunks are read in order and parsed on the rayon pool
//! (never through the crate's own threads, which deadlock when nested in a pool). Events are built
//! from the records' template values without rendering ([`super::template`]), and only for event IDs
//! a signature wants; records laid out otherwise (logs written without templates) are rendered and
//! parsed instead. Damage is accounted for per chunk and per record, and reading goes on past it.

use super::template::{Outcome, PlanCache, Viewed, event_from_template, event_view};
use super::{EventSink, InputFile, InputReport, InputStatus, LogReader, Progress};
use crate::event::Interner;
use crate::input::xml::from_event_xml;
use evtx::{EvtxChunkData, EvtxParser, HeaderFlags, ParserSettings};
use rayon::prelude::*;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

pub struct EvtxReader;

const FILE_HEADER: u64 = 4096;
const CHUNK: u64 = 65536;

impl LogReader for EvtxReader {
    fn format(&self) -> &'static str {
        "evtx"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        head.starts_with(b"ElfFile\0")
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        let mut report = InputReport::new(&input.display, Some("evtx"), input.size);
        let unreadable = |why: String| {
            InputReport::failed(
                &input.display,
                Some("evtx"),
                input.size,
                InputStatus::Unreadable,
                why,
            )
        };
        let file = match input.open() {
            Ok(f) => f,
            Err(e) => return unreadable(format!("cannot open: {e}")),
        };
        let mut parser = match EvtxParser::from_read_seek(BufReader::with_capacity(1 << 16, file)) {
            Ok(p) => p,
            Err(e) => return unreadable(format!("not a readable EVTX file header: {e}")),
        };
        let header = parser.header();
        if !header.validate_checksum() {
            report.error(
                "file header CRC32 does not match (the header is damaged; chunks are read anyway)"
                    .into(),
            );
        }
        if header.flags.contains(HeaderFlags::DIRTY) {
            report.notes.push(
                "the log was not closed cleanly (dirty flag): it may have been copied while in use"
                    .into(),
            );
        }
        if header.major_version != 3 {
            report.notes.push(format!(
                "unexpected format version {}.{}",
                header.major_version, header.minor_version
            ));
        }
        let counted = input.size.saturating_sub(FILE_HEADER) / CHUNK;
        let header_chunks = header.chunk_count;

        let settings = Arc::new(
            ParserSettings::new()
                .num_threads(1)
                .validate_checksums(false),
        );
        let partial = (input.size.saturating_sub(FILE_HEADER)) % CHUNK;
        let parts: Vec<InputReport> = parser
            .chunks()
            .enumerate()
            .par_bridge()
            .map(|(i, chunk)| {
                progress.bytes_read(CHUNK);
                read_chunk(i as u64, chunk, CHUNK as usize, &settings, input, sink)
            })
            .collect();
        for p in parts {
            report.absorb(p);
        }
        if partial > 0 {
            let tail = read_partial_chunk(input, counted, partial, &settings, sink);
            report.absorb(tail);
        }
        if u64::from(header_chunks) < report.chunks && header_chunks != u16::MAX {
            report.notes.push(format!(
                "the header counts {header_chunks} chunks, the file holds {} with data (room for {counted}); all of them are read",
                report.chunks
            ));
        }
        report.settle();
        report
    }
}

fn chunk_name(number: Option<u64>, ordinal: u64) -> String {
    match number {
        Some(n) => format!("chunk {n} (offset {})", FILE_HEADER + n * CHUNK),
        None => format!("chunk #{ordinal}"),
    }
}

/// `present` is how many of the chunk's bytes are in the file: less than a chunk only for the
/// chunk a truncation cut, whose missing tail reads as zeros and must never be decoded.
fn read_chunk(
    ordinal: u64,
    chunk: evtx::err::Result<EvtxChunkData>,
    present: usize,
    settings: &Arc<ParserSettings>,
    input: &InputFile,
    sink: &dyn EventSink,
) -> InputReport {
    let mut report = InputReport::new(&input.display, Some("evtx"), 0);
    report.chunks = 1;
    let mut data = match chunk {
        Ok(d) => d,
        Err(e) => {
            report.chunks_damaged = 1;
            report.error(format!("{e}; its records are lost"));
            return report;
        }
    };
    let name = chunk_name(data.number, ordinal);
    if !data.validate_header_checksum() {
        report.chunks_damaged = 1;
        report.error(format!(
            "{name}: header CRC32 does not match; records read anyway"
        ));
    } else if !data.validate_data_checksum() {
        report.chunks_damaged = 1;
        report.error(format!(
            "{name}: record data CRC32 does not match; records read anyway"
        ));
    }
    let mut interner = Interner::default();
    let mut plans = PlanCache::default();
    // A chunk whose checksums hold and whose records tile it is walked here, without the evtx
    // crate building each record's tree; any other chunk, and any record the fast path cannot
    // read, goes through the crate's own walk, which resynchronizes past damage.
    let mut render: Option<Vec<u64>> = None;
    if report.chunks_damaged == 0
        && data.header.free_space_offset as usize <= present
        && let Some(records) = tile_records(&data)
    {
        let mut later = Vec::new();
        for r in records {
            report.records_read += 1;
            let viewed = event_view(
                &data.data,
                r.binxml,
                r.id,
                input.id,
                &mut plans,
                &mut interner,
                |id| sink.wants_event_id(id),
                |provider, id, payload| sink.wants_payload(provider, id, payload),
            );
            let kept = match viewed {
                Viewed::Event(event, payload) => sink.accept(*event, &payload),
                Viewed::Built(mut event) => {
                    let payload = std::mem::take(&mut event.payload);
                    sink.accept(*event, &payload)
                }
                Viewed::Unwanted => false,
                Viewed::Render => {
                    later.push(r.offset);
                    false
                }
            };
            report.records_used += u64::from(kept);
        }
        if later.is_empty() {
            return report;
        }
        render = Some(later);
    }
    let mut chunk = match data.parse(settings.clone()) {
        Ok(c) => c,
        Err(e) => {
            report.chunks_damaged = 1;
            match &render {
                Some(r) => {
                    report.records_failed += r.len() as u64;
                    report.error(format!(
                        "{name}: cannot be parsed ({e}); {} records that need rendering are lost",
                        r.len()
                    ));
                }
                None => report.error(format!(
                    "{name}: cannot be parsed ({e}); its records are lost"
                )),
            }
            return report;
        }
    };
    let mut missing = render.clone().unwrap_or_default();
    for record in chunk.iter() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                if render.is_none() {
                    report.records_failed += 1;
                    report.error(format!("{name}: {e}"));
                }
                continue;
            }
        };
        // Offsets count from the chunk's start; the crate's from its record data.
        let offset = record.binxml_offset - RECORD_HEADER;
        let end = record.binxml_offset + u64::from(record.binxml_size) + 4;
        if end > present as u64 {
            // Its tail is the zeros the cut chunk was padded with: values would read as 0 and "",
            // and a status 0 reads as success. Such a record is lost, not read.
            report.records_failed += 1;
            report.error(format!(
                "{name}: record {} (offset {offset} of the chunk) is cut by the end of the file {} bytes before its end; it is not used",
                record.event_record_id,
                end - present as u64
            ));
            missing.retain(|o| *o != offset);
            continue;
        }
        if let Some(wanted) = &render {
            if !wanted.contains(&offset) {
                continue;
            }
            missing.retain(|o| *o != offset);
        } else {
            report.records_read += 1;
        }
        let mut event =
            match event_from_template(&record, input.id, &mut plans, &mut interner, |id| {
                sink.wants_event_id(id)
            }) {
                Outcome::Event(event) => *event,
                Outcome::Unwanted => continue,
                Outcome::Render => {
                    let header_id = record.event_record_id;
                    match record.into_xml() {
                        Ok(xml) => {
                            match from_event_xml(&xml.data, input.id, header_id, &mut interner) {
                                Ok(event) => event,
                                Err(e) => {
                                    report.records_failed += 1;
                                    report.error(format!("{name}: record {header_id}: {e}"));
                                    continue;
                                }
                            }
                        }
                        Err(e) => {
                            report.records_failed += 1;
                            report.error(format!(
                                "{name}: record {header_id} cannot be rendered: {e}"
                            ));
                            continue;
                        }
                    }
                }
            };
        let payload = std::mem::take(&mut event.payload);
        if sink.accept(event, &payload) {
            report.records_used += 1;
        }
    }
    for offset in missing {
        report.records_failed += 1;
        report.error(format!(
            "{name}: the record at offset {offset} of the chunk cannot be rendered"
        ));
    }
    report
}

/// A record found by [`tile_records`]: where it starts in the chunk, its BinXml, its header's ID.
struct TiledRecord {
    offset: u64,
    binxml: std::ops::Range<usize>,
    id: u64,
}

const RECORD_HEADER: u64 = 24;
const CHUNK_HEADER: usize = 512;

/// The records of a chunk laid out exactly as Windows writes one: back to back from the chunk
/// header to its free-space offset, each with its magic and both copies of its size agreeing, the
/// first and last IDs those the header announces. `None` for anything else.
fn tile_records(data: &EvtxChunkData) -> Option<Vec<TiledRecord>> {
    let chunk = data.data.as_slice();
    let header = &data.header;
    let end = header.free_space_offset as usize;
    if end > chunk.len() || end < CHUNK_HEADER {
        return None;
    }
    let mut records = Vec::with_capacity(256);
    let mut at = CHUNK_HEADER;
    while at < end {
        let word = |o: usize| -> Option<u32> {
            Some(u32::from_le_bytes(chunk.get(o..o + 4)?.try_into().ok()?))
        };
        if chunk.get(at..at + 4)? != b"\x2a\x2a\x00\x00" {
            return None;
        }
        let size = word(at + 4)? as usize;
        let next = at.checked_add(size)?;
        if size < RECORD_HEADER as usize + 4 || next > end || word(next - 4)? as usize != size {
            return None;
        }
        let id = u64::from_le_bytes(chunk.get(at + 8..at + 16)?.try_into().ok()?);
        records.push(TiledRecord {
            offset: at as u64,
            binxml: at + RECORD_HEADER as usize..next - 4,
            id,
        });
        at = next;
    }
    let (first, last) = (records.first()?, records.last()?);
    (first.id == header.first_event_record_id && last.id == header.last_event_record_id)
        .then_some(records)
}

/// A file cut short inside a chunk: pad what is there and read the records before the cut.
fn read_partial_chunk(
    input: &InputFile,
    index: u64,
    len: u64,
    settings: &Arc<ParserSettings>,
    sink: &dyn EventSink,
) -> InputReport {
    let offset = FILE_HEADER + index * CHUNK;
    let mut report = InputReport::new(&input.display, Some("evtx"), 0);
    let mut buf = vec![0u8; CHUNK as usize];
    let read = input.open().and_then(|mut f| {
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut buf[..len as usize])
    });
    if read.is_ok() && buf[..len as usize].iter().all(|&b| b == 0) {
        // Zero padding after the last chunk (a copy rounded up to a cluster or block size):
        // nothing was there to read, so nothing is damaged.
        report.notes.push(format!(
            "the file ends with {len} zero bytes after its last chunk (offset {offset}): padding, ignored"
        ));
        return report;
    }
    report.chunks = 1;
    report.chunks_damaged = 1;
    if let Err(e) = read {
        report.error(format!(
            "the last {len} bytes (a partial chunk at offset {offset}) cannot be read: {e}"
        ));
        return report;
    }
    if !buf.starts_with(b"ElfChnk\0") {
        report.error(format!("the file ends with {len} bytes that are not a chunk (offset {offset}); they are ignored"));
        return report;
    }
    report.error(format!(
        "the file is truncated: chunk {index} (offset {offset}) has {len} of {CHUNK} bytes; records before the cut are read"
    ));
    match EvtxChunkData::new(buf, false) {
        Ok(mut data) => {
            data.number = Some(index);
            let part = read_chunk(index, Ok(data), len as usize, settings, input, sink);
            report.records_read += part.records_read;
            report.records_failed += part.records_failed;
            report.records_used += part.records_used;
            for e in part.errors {
                report.error(e);
            }
        }
        Err(e) => report.error(format!("chunk {index}: header cut off ({e})")),
    }
    report
}
