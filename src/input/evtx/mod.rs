//! The .evtx reader, on the evtx crate: one pass over each chunk (the fast path, the crate's
//! walk, what is lost). Apart: feeding chunks in blocks (`chunks.rs`), what is kept of each chunk
//! until the walk order is known (`walk.rs`), the per-thread caches (`cache.rs`), the log's
//! identity from its first chunk (`identity.rs`), the accounting of missing records
//! (`accounting.rs`).
//! Chunks are read in blocks by `chunks.rs`, in the crate's order, and parsed on the rayon pool
//! (never through the crate's own threads, which deadlock when nested in a pool). Events are built
//! from the records' template values without rendering ([`super::template`]), and only for event IDs
//! a signature wants; records laid out otherwise (logs written without templates) are rendered and
//! parsed instead. Damage is accounted for per chunk and per record, and reading goes on past it.

use super::template::{Outcome, Viewed, event_from_template, event_view};
use super::{EventSink, InputFile, InputReport, InputStatus, LogReader, LogSpan, Progress};
use crate::input::xml::from_event_xml;
use evtx::{ChunkFlags, EvtxChunkData, EvtxChunkHeader, EvtxParser, HeaderFlags, ParserSettings};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

mod accounting;
mod cache;
mod chunks;
mod identity;
mod walk;

use cache::ChunkCache;
use identity::first_identity;

use chunks::Found;
use walk::{Kind, Part, Walk};

/// Whether a chunk's records were all read on the fast path, some needed rendering, or it was
/// walked by the crate (damaged, or not tiled by its records): the first chunk's identity is
/// looked for the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastPath {
    Complete,
    WithRender,
    NotRun,
}

use accounting::{KeptSpan, Span, SpanName, account_for_id_gaps, account_for_missing_records};

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
        // One handle for the whole read: an archive's member is unpacked when it is opened.
        let mut file = match input.open() {
            Ok(f) => f,
            Err(e) => return unreadable(format!("cannot open: {e}")),
        };
        let parser = match EvtxParser::from_read_seek(BufReader::with_capacity(1 << 16, &mut file))
        {
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
        // As the crate counts them: whole chunks after the header's block.
        let calculated = input
            .size
            .saturating_sub(u64::from(header.header_block_size))
            / CHUNK;
        drop(parser);

        let settings = Arc::new(
            ParserSettings::new()
                .num_threads(1)
                .validate_checksums(false),
        );
        let partial = (input.size.saturating_sub(FILE_HEADER)) % CHUNK;
        let mut walk = Walk::new();
        let read = chunks::for_each_chunk(
            &mut file,
            input.size,
            calculated,
            |n, bytes| {
                let found = chunks::classify(n, bytes);
                let head = chunks::head(&found, bytes);
                let part = match found {
                    Found::Empty => Part::Empty,
                    Found::Bad(e) => {
                        progress.bytes_read(CHUNK);
                        Part::Bad(Box::new(e))
                    }
                    Found::Chunk(h) => {
                        progress.bytes_read(CHUNK);
                        let (report, span, fast) =
                            read_chunk(n, &h, bytes, CHUNK as usize, &settings, input, sink);
                        Part::of(report, span, fast)
                    }
                };
                (head, part)
            },
            |n, (head, part)| walk.add(n, head, part),
        );
        if let Err(e) = read {
            return unreadable(format!("cannot read: {e}"));
        }
        // In walk order: the first chunk's identity, the other chunks' reports absorbed (errors
        // and names keep that order; the usual chunks' sums come after, order-free), and every
        // chunk's span for the accounting.
        let Walk {
            chunks,
            mut others,
            oldest,
            clean,
        } = walk;
        let mut spans: Vec<KeptSpan> = Vec::new();
        // Chunks walked so far, but those of zeros.
        let mut ordinal = 0u64;
        for segment in oldest.segments(calculated) {
            chunks.each(segment, |chunk| {
                let n = chunk.number;
                let (part, span) = match (chunk.kind, others.remove(&n)) {
                    (Kind::Clean(fast), _) => {
                        if ordinal == 0 {
                            // The first record names the log: decoded for this chunk only.
                            let identity = first_identity(&mut file, input.id, n, fast, &settings);
                            report.log = LogSpan::merge(identity, report.log.take());
                        }
                        let len = chunks.lens[chunk.len_at];
                        KeptSpan::push_usual(&mut spans, n, chunk.claim_first, len, chunk.len_at);
                        ordinal += 1;
                        return;
                    }
                    (_, Some(Part::Bad(e))) => lost_chunk(ordinal, &e, input),
                    (_, Some(Part::Read(read))) => {
                        let (mut chunk, span, fast) = *read;
                        if ordinal == 0 {
                            let identity = first_identity(&mut file, input.id, n, fast, &settings);
                            chunk.log = LogSpan::merge(identity, chunk.log.take());
                        }
                        (chunk, span)
                    }
                    _ => return,
                };
                report.absorb(part);
                spans.push(KeptSpan::of(span));
                ordinal += 1;
            });
        }
        report.absorb(clean);
        if partial > 0 {
            let (tail, span) =
                read_partial_chunk(&mut file, input, counted, partial, &settings, sink);
            report.absorb(tail);
            spans.extend(span.map(KeptSpan::of));
        }
        // The first record names the log; when it could not be read, the file's name may.
        if let Some(log) = &mut report.log
            && log.name.is_empty()
        {
            log.name = super::log_name_of(&input.path).to_string();
        }
        account_for_missing_records(&spans, &mut report);
        account_for_id_gaps(&spans, &chunks.lens, &mut report);
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

/// A chunk whose header cannot be read, or that the file cuts short, in its place in the walk:
/// its records are lost.
fn lost_chunk(ordinal: u64, e: &evtx::err::EvtxError, input: &InputFile) -> (InputReport, Span) {
    let mut report = InputReport::new(&input.display, Some("evtx"), 0);
    report.chunks = 1;
    report.chunks_damaged = 1;
    report.error(format!("{e}; its records are lost"));
    let mut span = Span::new(SpanName::Walked(ordinal), None);
    span.lost = true;
    (report, span)
}

/// The chunk header's CRC32 (bytes 0..120 and 128..512), as the crate checks it.
fn header_checksum_holds(header: &EvtxChunkHeader, bytes: &[u8]) -> bool {
    if header.flags.contains(ChunkFlags::NO_CRC32) {
        return true;
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..120]);
    h.update(&bytes[128..CHUNK_HEADER]);
    h.finalize() == header.header_chunk_checksum
}

/// The records' CRC32 (512 up to the free space), as the crate checks it.
fn data_checksum_holds(header: &EvtxChunkHeader, bytes: &[u8]) -> bool {
    header.flags.contains(ChunkFlags::NO_CRC32)
        || bytes
            .get(CHUNK_HEADER..header.free_space_offset as usize)
            .is_some_and(|data| header.events_checksum == crc32fast::hash(data))
}

/// The chunk as the crate owns one, for its walk (damaged chunks, records that need rendering).
fn owned(number: u64, bytes: &[u8]) -> Option<EvtxChunkData> {
    let mut data = EvtxChunkData::new(bytes.to_vec(), false).ok()?;
    data.number = Some(number);
    Some(data)
}

/// `present` is how many of the chunk's bytes are in the file: less than a chunk only for the
/// chunk a truncation cut, whose missing tail reads as zeros and must never be decoded.
fn read_chunk(
    number: u64,
    header: &EvtxChunkHeader,
    bytes: &[u8],
    present: usize,
    settings: &Arc<ParserSettings>,
    input: &InputFile,
    sink: &dyn EventSink,
) -> (InputReport, Span, FastPath) {
    let mut report = InputReport::new(&input.display, Some("evtx"), 0);
    report.chunks = 1;
    let name = SpanName::Chunk(number);
    let claimed = claimed_records(header);
    let mut span = Span::new(name, claimed.clone());
    if !header_checksum_holds(header, bytes) {
        report.chunks_damaged = 1;
        report.error(format!(
            "{name}: header CRC32 does not match; records read anyway"
        ));
    } else if !data_checksum_holds(header, bytes) {
        report.chunks_damaged = 1;
        report.error(format!(
            "{name}: record data CRC32 does not match; records read anyway"
        ));
    }
    let mut cache = ChunkCache::take();
    let ChunkCache { plans, interner } = &mut *cache;
    // A chunk whose checksums hold and whose records tile it is walked here, without the evtx
    // crate building each record's tree; any other chunk, and any record the fast path cannot
    // read, goes through the crate's own walk, which resynchronizes past damage.
    let mut render: Option<Vec<u64>> = None;
    if report.chunks_damaged == 0
        && header.free_space_offset as usize <= present
        && let Some(records) = tile_records(bytes, header)
    {
        if let (Some(a), Some(b)) = (records.first(), records.last()) {
            span.seen.push(a.id.min(b.id)..=a.id.max(b.id));
        }
        let mut later = Vec::new();
        // The chunk's oldest and newest record times, converted once.
        let (oldest, newest) = records
            .iter()
            .filter(|r| r.time > 0)
            .fold((u64::MAX, 0), |(lo, hi), r| {
                (lo.min(r.time), hi.max(r.time))
            });
        for t in [oldest, newest] {
            if let Some(t) = crate::values::datetime_from_filetime(t) {
                span_time(&mut report, t);
            }
        }
        for r in records {
            report.records_read += 1;
            let viewed = event_view(
                bytes,
                r.binxml,
                r.id,
                input.id,
                plans,
                interner,
                |provider| sink.wants_provider(provider),
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
            return (report, span, FastPath::Complete);
        }
        render = Some(later);
    }
    let fast = if render.is_some() {
        FastPath::WithRender
    } else {
        FastPath::NotRun
    };
    let Some(mut data) = owned(number, bytes) else {
        // The header was read once; a copy of the same bytes reads the same.
        report.chunks_damaged = 1;
        report.error(format!("{name}: cannot be parsed; its records are lost"));
        span.lost = true;
        return (report, span, fast);
    };
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
                None => {
                    // What its header claims is counted with the rest of the file.
                    match &claimed {
                        Some(claim) => span.missing.push(claim.clone()),
                        None => span.lost = true,
                    }
                    report.error(format!(
                        "{name}: cannot be parsed ({e}); its records are lost"
                    ));
                }
            }
            return (report, span, fast);
        }
    };
    let mut missing = render.clone().unwrap_or_default();
    // Which of the claimed IDs were read, for the walk (a damaged chunk's) that can lose some.
    let mut found = vec![
        false;
        claimed
            .as_ref()
            .map_or(0, |c| (c.end() - c.start() + 1) as usize)
    ];
    let failed_before = report.records_failed;
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
            // A zero FILETIME (1601) is no time at all.
            if let Some(t) = chrono::DateTime::from_timestamp(
                record.timestamp.as_second(),
                record.timestamp.subsec_nanosecond().max(0) as u32,
            )
            .filter(|t| t.timestamp() > -11_644_473_600)
            {
                span_time(&mut report, t);
            }
            let id = record.event_record_id;
            if let Some(c) = &claimed
                && c.contains(&id)
            {
                found[(id - c.start()) as usize] = true;
            }
            match span.seen.last_mut() {
                Some(run) if run.end().checked_add(1) == Some(id) => *run = *run.start()..=id,
                _ => span.seen.push(id..=id),
            }
        }
        let mut event = match event_from_template(&record, input.id, plans, interner, |id| {
            sink.wants_event_id(id)
        }) {
            Outcome::Event(event) => *event,
            Outcome::Unwanted => continue,
            Outcome::Render => {
                let header_id = record.event_record_id;
                match record.into_xml() {
                    Ok(xml) => {
                        match from_event_xml(&xml.data, input.id, Some(header_id), interner) {
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
    // The walk resynchronizes past damage and stops at what it cannot read, so records can vanish
    // without an error of their own; the header says which there were.
    if render.is_none()
        && let Some(claim) = &claimed
    {
        span.failed = report.records_failed - failed_before;
        let mut i = 0;
        while i < found.len() {
            if found[i] {
                i += 1;
                continue;
            }
            let from = i;
            while i < found.len() && !found[i] {
                i += 1;
            }
            span.missing
                .push(claim.start() + from as u64..=claim.start() + i as u64 - 1);
        }
    }
    (report, span, fast)
}

/// Most records a chunk can hold: its data area over the smallest record (a 24-byte header, one
/// byte of BinXml, the 4-byte size copy), rounded up to 28 to keep it simple.
pub(super) const MAX_RECORDS_PER_CHUNK: u64 = (CHUNK - CHUNK_HEADER as u64) / 28;

/// The record IDs a chunk header says the chunk holds, when the claim is one a chunk could hold;
/// a damaged header's claim is not counted against the file.
fn claimed_records(header: &evtx::EvtxChunkHeader) -> Option<std::ops::RangeInclusive<u64>> {
    let (first, last) = (header.first_event_record_id, header.last_event_record_id);
    // A chunk Windows has formatted but not written yet names u64::MAX as both.
    (first <= last && last - first < MAX_RECORDS_PER_CHUNK && last != u64::MAX)
        .then_some(first..=last)
}

/// Widen the chunk's span to a record's time.
fn span_time(report: &mut InputReport, t: chrono::DateTime<chrono::Utc>) {
    report.log = LogSpan::merge(report.log.take(), Some(LogSpan::times(t, t)));
}

/// A record found by [`tile_records`]: where it starts in the chunk, its BinXml, its header's ID.
struct TiledRecord {
    offset: u64,
    binxml: std::ops::Range<usize>,
    id: u64,
    /// The record header's FILETIME.
    time: u64,
}

const RECORD_HEADER: u64 = 24;
const CHUNK_HEADER: usize = 512;

/// The records of a chunk laid out exactly as Windows writes one: back to back from the chunk
/// header to its free-space offset, each with its magic and both copies of its size agreeing, the
/// first and last IDs those the header announces. `None` for anything else.
fn tile_records(chunk: &[u8], header: &EvtxChunkHeader) -> Option<Vec<TiledRecord>> {
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
        let time = u64::from_le_bytes(chunk.get(at + 16..at + 24)?.try_into().ok()?);
        records.push(TiledRecord {
            offset: at as u64,
            binxml: at + RECORD_HEADER as usize..next - 4,
            id,
            time,
        });
        at = next;
    }
    let (first, last) = (records.first()?, records.last()?);
    (first.id == header.first_event_record_id && last.id == header.last_event_record_id)
        .then_some(records)
}

/// A file cut short inside a chunk: pad what is there and read the records before the cut.
fn read_partial_chunk(
    file: &mut (impl Read + Seek),
    input: &InputFile,
    index: u64,
    len: u64,
    settings: &Arc<ParserSettings>,
    sink: &dyn EventSink,
) -> (InputReport, Option<Span>) {
    let offset = FILE_HEADER + index * CHUNK;
    let mut report = InputReport::new(&input.display, Some("evtx"), 0);
    let mut buf = vec![0u8; CHUNK as usize];
    let read = file
        .seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut buf[..len as usize]));
    if read.is_ok() && buf[..len as usize].iter().all(|&b| b == 0) {
        // Zero padding after the last chunk (a copy rounded up to a cluster or block size):
        // nothing was there to read, so nothing is damaged.
        report.notes.push(format!(
            "the file ends with {len} zero bytes after its last chunk (offset {offset}): padding, ignored"
        ));
        return (report, None);
    }
    report.chunks = 1;
    report.chunks_damaged = 1;
    if let Err(e) = read {
        report.error(format!(
            "the last {len} bytes (a partial chunk at offset {offset}) cannot be read: {e}"
        ));
        return (report, None);
    }
    if !buf.starts_with(b"ElfChnk\0") {
        report.error(format!("the file ends with {len} bytes that are not a chunk (offset {offset}); they are ignored"));
        return (report, None);
    }
    report.error(format!(
        "the file is truncated: chunk {index} (offset {offset}) has {len} of {CHUNK} bytes; records before the cut are read"
    ));
    match EvtxChunkHeader::from_bytes(&buf) {
        Ok(header) => {
            let (part, span, _) =
                read_chunk(index, &header, &buf, len as usize, settings, input, sink);
            report.records_read += part.records_read;
            report.records_failed += part.records_failed;
            report.records_used += part.records_used;
            for e in part.errors {
                report.error(e);
            }
            (report, Some(span))
        }
        Err(e) => {
            let e = evtx::err::ChunkError::FailedToParseChunkHeader(e);
            report.error(format!("chunk {index}: header cut off ({e})"));
            (report, None)
        }
    }
}
