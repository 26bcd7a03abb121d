//! The file's chunks, read in large blocks and handed to the pool a block at a time, in the order
//! the evtx crate's `EvtxParser::chunks` walks them (that order is what reports and accounting
//! follow; the crate's walk itself cost two system calls and one thread hand-off per 64 KiB
//! chunk, and a fresh buffer for each: two thirds of a run's system time, issue 24).
//!
//! The crate's walk, which this reproduces: the chunks that fit the file after its header block
//! (`calculated`: the file's size less the header's block size, in whole chunks), from the one
//! whose header names the lowest first record ID (the oldest: a log that wrapped around starts
//! mid-file) to the end, then from the start up to it; a chunk of zeros is skipped; a chunk
//! whose header cannot be read, or that the file cuts short, is an error in its place.

use evtx::EvtxChunkHeader;
use evtx::err::{ChunkError, EvtxError};
use rayon::prelude::*;
use std::io::{Read, Seek, SeekFrom};

use super::{CHUNK, CHUNK_HEADER, FILE_HEADER};

/// Chunks per read: 1 MiB. Two such blocks are in memory at once (one read while the other is
/// worked on), whatever the file's size.
const BLOCK_CHUNKS: usize = 16;

thread_local! {
    /// A thread's two blocks, kept from one file to the next (taken while a file is read).
    static BLOCKS: std::cell::Cell<Option<(Vec<u8>, Vec<u8>)>> = const { std::cell::Cell::new(None) };
}

/// What a chunk of the file is, before it is worked on.
pub(super) enum Found {
    /// Zeros: a chunk Windows has not used. Not reported.
    Empty,
    /// An error in its place (its header cannot be read, or the file cuts it short).
    Bad(EvtxError),
    /// A chunk to read, with its header.
    Chunk(Box<EvtxChunkHeader>),
}

/// Classify one chunk's bytes as the crate's `allocate_chunk` does.
pub(super) fn classify(number: u64, bytes: &[u8]) -> Found {
    let bad = |e: ChunkError| {
        Found::Bad(EvtxError::FailedToParseChunk {
            chunk_id: number,
            source: Box::new(e),
        })
    };
    if bytes.len() != CHUNK as usize {
        return bad(ChunkError::IncompleteChunk);
    }
    if bytes.iter().all(|&b| b == 0) {
        return Found::Empty;
    }
    match EvtxChunkHeader::from_bytes(bytes) {
        Ok(h) => Found::Chunk(Box::new(h)),
        Err(e) => bad(ChunkError::FailedToParseChunkHeader(e)),
    }
}

/// A chunk's first and last record IDs as the crate's scan for the oldest chunk reads them from
/// its header (`Some(None)` where the header does not parse); `None` where the file holds no
/// whole header for it. The header parsed by [`classify`] is used where there is one.
pub(super) fn head(found: &Found, bytes: &[u8]) -> Option<Option<(u64, u64)>> {
    let ids = |h: &EvtxChunkHeader| (h.first_event_record_id, h.last_event_record_id);
    match found {
        Found::Chunk(h) => Some(Some(ids(h))),
        // Zeros parse as no header; a chunk the file cuts may still hold a whole one.
        Found::Empty | Found::Bad(_) => (bytes.len() >= CHUNK_HEADER).then(|| {
            EvtxChunkHeader::from_bytes(&bytes[..CHUNK_HEADER])
                .ok()
                .map(|h| ids(&h))
        }),
    }
}

#[cfg(test)]
/// The order the crate walks chunks `0..calculated` in, given each one's first and last record
/// IDs as its header says them (`None` where the header could not be read). `heads` stops where
/// the file has no whole header left, as the crate's scan does.
pub(super) fn walk_order(heads: &[Option<(u64, u64)>], calculated: u64) -> Vec<u64> {
    let mut oldest = Oldest::default();
    for h in heads {
        oldest.see(Some(*h));
    }
    oldest.walk(calculated).collect()
}

/// The crate's scan for the oldest chunk, fed each chunk's head in number order as it is read:
/// the walk's start is known without keeping every head.
#[derive(Default)]
pub(super) struct Oldest {
    seen: u64,
    oldest: Option<(u64, u64)>,
    /// The file held no whole header for a chunk: the scan stopped there.
    ended: bool,
}

impl Oldest {
    /// The next chunk's head, as [`head`] gives it.
    pub(super) fn see(&mut self, head: Option<Option<(u64, u64)>>) {
        let n = self.seen;
        self.seen += 1;
        match head {
            None => self.ended = true,
            Some(Some((first, last)))
                if !self.ended
                    && first <= last
                    && first < self.oldest.map_or(u64::MAX, |(o, _)| o) =>
            {
                self.oldest = Some((first, n));
            }
            Some(_) => {}
        }
    }

    /// Chunk numbers in the walk's order.
    pub(super) fn walk(&self, calculated: u64) -> impl Iterator<Item = u64> + use<> {
        let start = self.oldest.map_or(0, |(_, n)| n).min(calculated);
        (start..calculated).chain(0..start)
    }
}

/// Read chunks `0..calculated` of the file in blocks and call `work` for each on the pool, a
/// block's chunks in parallel while the next block is read. `work` gets the chunk's number and
/// its bytes (fewer than a chunk where the file ends first), and returns what it made of it,
/// which `each` gets on this thread, in chunk order, a block at a time: nothing of a chunk is
/// held here after its block.
pub(super) fn for_each_chunk<T: Send>(
    file: &mut (impl Read + Seek + Send),
    file_size: u64,
    calculated: u64,
    work: impl Fn(u64, &[u8]) -> T + Sync,
    mut each: impl FnMut(u64, T),
) -> std::io::Result<()> {
    let block_len = BLOCK_CHUNKS * CHUNK as usize;
    let mut out = |done: Vec<(u64, T)>| {
        for (n, t) in done {
            each(n, t);
        }
    };
    file.seek(SeekFrom::Start(FILE_HEADER))?;
    // What the chunks `0..calculated` span in the file, where the file has it.
    let wanted = (calculated * CHUNK).min(file_size.saturating_sub(FILE_HEADER));
    // The thread's blocks from its last file, when it has them: a fleet's thousands of small logs
    // do not each allocate their own.
    // Their old bytes are never read: each fill overwrites the part it hands out.
    let (mut current, mut next) = BLOCKS.with(|b| b.take()).unwrap_or_default();
    let mut read_so_far = 0u64;
    let mut fill = |buf: &mut Vec<u8>, read_so_far: &mut u64| -> std::io::Result<usize> {
        let len = (block_len as u64).min(wanted - *read_so_far) as usize;
        buf.resize(len, 0);
        file.read_exact(&mut buf[..len])?;
        *read_so_far += len as u64;
        Ok(len)
    };
    let mut len = fill(&mut current, &mut read_so_far)?;
    let mut first_chunk = 0u64;
    loop {
        let work_on = |buf: &[u8], first: u64| -> Vec<(u64, T)> {
            buf.par_chunks(CHUNK as usize)
                .enumerate()
                .map(|(i, bytes)| {
                    let n = first + i as u64;
                    (n, work(n, bytes))
                })
                .collect()
        };
        let more = read_so_far < wanted;
        if !more && first_chunk == 0 {
            // A file of one block: its chunks on this thread. A fleet's many small logs are
            // read in parallel already, and a thread waiting on a small file's chunks would take
            // up another file meanwhile, holding both files' blocks and results.
            out(current[..len]
                .chunks(CHUNK as usize)
                .enumerate()
                .map(|(i, bytes)| {
                    let n = i as u64;
                    (n, work(n, bytes))
                })
                .collect());
            first_chunk = (len as u64).div_ceil(CHUNK);
            break;
        }
        let (read, done) = if more {
            rayon::join(
                || fill(&mut next, &mut read_so_far).map(Some),
                || work_on(&current[..len], first_chunk),
            )
        } else {
            (Ok(None), work_on(&current[..len], first_chunk))
        };
        out(done);
        first_chunk += (len as u64).div_ceil(CHUNK);
        match read? {
            Some(l) => {
                len = l;
                std::mem::swap(&mut current, &mut next);
            }
            None => break,
        }
    }
    BLOCKS.with(|b| b.set(Some((current, next))));
    // Chunks the file ends before (a header block smaller than 4 KiB counts one more chunk than
    // the file holds): each an incomplete chunk, as the crate reports it.
    while first_chunk < calculated {
        out(vec![(first_chunk, work(first_chunk, &[]))]);
        first_chunk += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_starts_at_the_oldest_chunk_and_wraps() {
        let h = |a: u64, b: u64| Some((a, b));
        // A log that wrapped: chunk 2 holds the oldest records.
        assert_eq!(
            walk_order(&[h(300, 399), h(400, 499), h(100, 199), h(200, 299)], 4),
            vec![2, 3, 0, 1]
        );
        // Damaged or reversed headers say nothing; the first of equal IDs wins; none: from 0.
        assert_eq!(
            walk_order(&[h(5, 9), None, h(9, 1), h(5, 7)], 4),
            vec![0, 1, 2, 3]
        );
        assert_eq!(walk_order(&[None, None], 2), vec![0, 1]);
        // Headers past what the file holds are not scanned: the walk still covers every chunk.
        assert_eq!(walk_order(&[h(7, 8)], 3), vec![0, 1, 2]);
    }
}
