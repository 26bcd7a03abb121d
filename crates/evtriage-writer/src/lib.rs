//! Writes .evtx files the way Windows does: a 4 KiB `ElfFile` header, 64 KiB `ElfChnk` chunks with
//! their string and template tables and CRC32s, and records whose BinXML uses templates defined once
//! per chunk. Input is Event XML (`wevtutil qe /f:xml`) or events built in code; output streams, a
//! chunk at a time, so memory stays flat whatever the size of the log.
//!
//! Test data for evtriage: no public log holds the failures it diagnoses, so the project writes
//! its own. Nothing in the product depends on this crate.

pub mod archive;
pub mod binxml;
pub mod evt;
pub mod layout;
pub mod textlog;
pub mod verify;
pub mod xmltree;

use binxml::{ChunkTables, EncodeError, Instance, RecordEncoder};
use layout::{LayoutError, event_instance};
use std::io::{self, Seek, SeekFrom, Write};

use crate::xmltree::Element;

pub const FILE_HEADER_SIZE: usize = 4096;
pub const CHUNK_SIZE: usize = 65536;
pub const CHUNK_HEADER_SIZE: usize = 512;
const RECORD_HEADER_SIZE: usize = 24;
const RECORD_TRAILER_SIZE: usize = 4;
const CHUNK_SLACK: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("event {index}: {source}")]
    Layout {
        index: usize,
        #[source]
        source: LayoutError,
    },
    #[error("event {index}: {source}")]
    Encode {
        index: usize,
        #[source]
        source: EncodeError,
    },
    #[error(
        "event {index}: EventRecordID {id} does not follow {previous}; records must be written in increasing ID order"
    )]
    RecordOrder {
        index: usize,
        id: u64,
        previous: u64,
    },
    #[error("{0}")]
    Xml(#[from] xmltree::XmlError),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

struct Chunk {
    data: Vec<u8>,
    tables: ChunkTables,
    free: usize,
    first_id: u64,
    last_id: u64,
    last_record_offset: usize,
    records: u64,
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            data: vec![0; CHUNK_SIZE],
            tables: ChunkTables::default(),
            free: CHUNK_HEADER_SIZE,
            first_id: 0,
            last_id: 0,
            last_record_offset: 0,
            records: 0,
        }
    }

    /// Append a record, or return `Ok(false)` when it does not fit what is left of this chunk.
    fn try_push(&mut self, id: u64, filetime: u64, inst: &Instance) -> Result<bool, EncodeError> {
        let room = CHUNK_SIZE - self.free;
        if room < RECORD_HEADER_SIZE + RECORD_TRAILER_SIZE + 8 {
            return Ok(false);
        }
        let limit = room - RECORD_HEADER_SIZE - RECORD_TRAILER_SIZE;
        let base = (self.free + RECORD_HEADER_SIZE) as u32;
        let mut enc = RecordEncoder::new(&self.tables, base, limit);
        match enc.encode_document(inst) {
            Ok(()) => {}
            Err(EncodeError::TooLarge) => return Ok(false),
            Err(e) => return Err(e),
        }
        // Windows keeps records 8-byte aligned, padding before the trailing size copy.
        let unpadded = RECORD_HEADER_SIZE + enc.buf.len() + RECORD_TRAILER_SIZE;
        let size = unpadded.div_ceil(8) * 8;
        // libevtx drops a record that ends exactly at the end of the chunk, and Windows never
        // fills a chunk to its last byte: keep some free space after the last record.
        if size + CHUNK_SLACK > room {
            return Ok(false);
        }
        let at = self.free;
        let d = &mut self.data[at..at + size];
        d[..4].copy_from_slice(&[0x2a, 0x2a, 0, 0]);
        d[4..8].copy_from_slice(&(size as u32).to_le_bytes());
        d[8..16].copy_from_slice(&id.to_le_bytes());
        d[16..24].copy_from_slice(&filetime.to_le_bytes());
        d[24..24 + enc.buf.len()].copy_from_slice(&enc.buf);
        d[size - 4..].copy_from_slice(&(size as u32).to_le_bytes());
        let pending = std::mem::take(&mut enc.pending);
        drop(enc);
        pending.commit(&mut self.tables, &mut self.data);
        if self.records == 0 {
            self.first_id = id;
        }
        self.last_id = id;
        self.last_record_offset = at;
        self.free = at + size;
        self.records += 1;
        Ok(true)
    }

    /// Fill in the header fields and checksums; the chunk is then ready to be written.
    fn seal(&mut self) -> &[u8] {
        let free = self.free;
        let h = &mut self.data;
        h[..8].copy_from_slice(b"ElfChnk\0");
        h[8..16].copy_from_slice(&self.first_id.to_le_bytes());
        h[16..24].copy_from_slice(&self.last_id.to_le_bytes());
        h[24..32].copy_from_slice(&self.first_id.to_le_bytes());
        h[32..40].copy_from_slice(&self.last_id.to_le_bytes());
        h[40..44].copy_from_slice(&128u32.to_le_bytes());
        h[44..48].copy_from_slice(&(self.last_record_offset as u32).to_le_bytes());
        h[48..52].copy_from_slice(&(free as u32).to_le_bytes());
        let data_crc = crc32fast::hash(&h[CHUNK_HEADER_SIZE..free]);
        h[52..56].copy_from_slice(&data_crc.to_le_bytes());
        for (i, off) in self.tables.string_buckets.iter().enumerate() {
            h[128 + 4 * i..132 + 4 * i].copy_from_slice(&off.to_le_bytes());
        }
        for (i, off) in self.tables.template_buckets.iter().enumerate() {
            h[384 + 4 * i..388 + 4 * i].copy_from_slice(&off.to_le_bytes());
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&h[..120]);
        crc.update(&h[128..CHUNK_HEADER_SIZE]);
        h[124..128].copy_from_slice(&crc.finalize().to_le_bytes());
        &self.data
    }
}

/// What a finished file holds, for manifests and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteSummary {
    pub records: u64,
    pub chunks: u64,
    pub first_record_id: Option<u64>,
    pub last_record_id: Option<u64>,
    pub bytes: u64,
}

/// Streams records into an .evtx file. Call [`EvtxWriter::finish`] to write the file header; a
/// writer dropped without it leaves a file whose header is zero, which no reader mistakes for a log.
pub struct EvtxWriter<W: Write + Seek> {
    out: W,
    chunk: Chunk,
    summary: WriteSummary,
    next_id: u64,
    events_seen: usize,
}

impl<W: Write + Seek> EvtxWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&[0u8; FILE_HEADER_SIZE])?;
        Ok(EvtxWriter {
            out,
            chunk: Chunk::new(),
            summary: WriteSummary::default(),
            next_id: 1,
            events_seen: 0,
        })
    }

    /// Write one `<Event>`; its EventRecordID (or the next free ID when it has none) names the record.
    pub fn write_event(&mut self, event: &Element) -> Result<u64, WriteError> {
        let index = self.events_seen;
        self.events_seen += 1;
        let (inst, meta) =
            event_instance(event).map_err(|source| WriteError::Layout { index, source })?;
        let id = meta.record_id.unwrap_or(self.next_id);
        self.write_instance(index, id, meta.filetime, &inst)?;
        Ok(id)
    }

    pub fn write_instance(
        &mut self,
        index: usize,
        id: u64,
        filetime: u64,
        inst: &Instance,
    ) -> Result<(), WriteError> {
        if let Some(previous) = self.summary.last_record_id
            && id <= previous
        {
            return Err(WriteError::RecordOrder {
                index,
                id,
                previous,
            });
        }
        let pushed = self
            .chunk
            .try_push(id, filetime, inst)
            .map_err(|source| WriteError::Encode { index, source })?;
        if !pushed {
            if self.chunk.records == 0 {
                return Err(WriteError::Encode {
                    index,
                    source: EncodeError::TooLarge,
                });
            }
            self.flush_chunk()?;
            let pushed = self
                .chunk
                .try_push(id, filetime, inst)
                .map_err(|source| WriteError::Encode { index, source })?;
            if !pushed {
                return Err(WriteError::Encode {
                    index,
                    source: EncodeError::TooLarge,
                });
            }
        }
        self.summary.records += 1;
        self.summary.first_record_id.get_or_insert(id);
        self.summary.last_record_id = Some(id);
        self.next_id = id + 1;
        Ok(())
    }

    /// Bytes the file holds so far, counting the chunk being filled up to its last record.
    pub fn bytes_so_far(&self) -> u64 {
        (FILE_HEADER_SIZE + CHUNK_SIZE * self.summary.chunks as usize + self.chunk.free) as u64
    }

    fn flush_chunk(&mut self) -> io::Result<()> {
        let mut chunk = std::mem::replace(&mut self.chunk, Chunk::new());
        self.out.write_all(chunk.seal())?;
        self.summary.chunks += 1;
        Ok(())
    }

    /// Write the last chunk and the file header, and hand back the output.
    pub fn finish(mut self) -> io::Result<(W, WriteSummary)> {
        if self.chunk.records > 0 {
            self.flush_chunk()?;
        }
        let h = file_header(self.summary.chunks, self.next_id);
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&h)?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        self.summary.bytes = (FILE_HEADER_SIZE + CHUNK_SIZE * self.summary.chunks as usize) as u64;
        Ok((self.out, self.summary))
    }
}

/// The 4 KiB file header of a log of `chunks` chunks whose next record ID is `next_id`, with its
/// CRC32.
pub fn file_header(chunks: u64, next_id: u64) -> [u8; FILE_HEADER_SIZE] {
    let mut h = [0u8; FILE_HEADER_SIZE];
    h[..8].copy_from_slice(b"ElfFile\0");
    let last_chunk = chunks.saturating_sub(1);
    h[16..24].copy_from_slice(&last_chunk.to_le_bytes());
    h[24..32].copy_from_slice(&next_id.to_le_bytes());
    h[32..36].copy_from_slice(&128u32.to_le_bytes());
    h[36..38].copy_from_slice(&1u16.to_le_bytes());
    h[38..40].copy_from_slice(&3u16.to_le_bytes());
    h[40..42].copy_from_slice(&(FILE_HEADER_SIZE as u16).to_le_bytes());
    // The field is 16 bits; readers that matter compute the count from the file size past that.
    let count = u16::try_from(chunks).unwrap_or(u16::MAX);
    h[42..44].copy_from_slice(&count.to_le_bytes());
    let crc = crc32fast::hash(&h[..120]);
    h[124..128].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Convert an Event XML document (`<Events>` holding `<Event>`s, or a single `<Event>`) into .evtx.
pub fn write_xml<W: Write + Seek>(xml: &str, out: W) -> Result<(W, WriteSummary), WriteError> {
    let mut writer = EvtxWriter::new(out)?;
    let root_is_event = xml_root_name(xml).as_deref() == Some("Event");
    let depth = if root_is_event { 0 } else { 1 };
    let mut failure = None;
    xmltree::parse_each(xml, depth, |el| {
        if el.name != "Event" {
            return Ok(());
        }
        if let Err(e) = writer.write_event(&el) {
            failure = Some(e);
            return Err(xmltree::XmlError {
                offset: 0,
                message: "stopped".into(),
            });
        }
        Ok(())
    })
    .or_else(|e| if failure.is_some() { Ok(()) } else { Err(e) })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(writer.finish()?)
}

fn xml_root_name(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(s) | quick_xml::events::Event::Empty(s) => {
                return Some(String::from_utf8_lossy(s.name().as_ref()).into_owned());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}
