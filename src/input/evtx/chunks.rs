//! The file's chunks, read in large blocks whose chunks are worked on by the pool while the next
//! block is read (up to three blocks at once), handed on in chunk number order; and the order
//! the evtx crate's `EvtxParser::chunks` walks them in, which reports and accounting follow,
//! found from their heads as they come. The crate's walk itself cost two system calls and one
//! thread hand-off per 64 KiB chunk, and a fresh buffer for each: two thirds of a run's system
//! time (issue 24).
//!
//! The crate's walk, which this reproduces: the chunks that fit the file after its header block
//! (`calculated`: the file's size less the header's block size, in whole chunks), from the one
//! whose header names the lowest first record ID (the oldest: a log that wrapped around starts
//! mid-file) to the end, then from the start up to it; a chunk of zeros is skipped; a chunk
//! whose header cannot be read, or that the file cuts short, is an error in its place.

use evtx::EvtxChunkHeader;
use evtx::err::{ChunkError, EvtxError};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use super::{CHUNK, CHUNK_HEADER, FILE_HEADER};

/// Chunks per read: 1 MiB.
const BLOCK_CHUNKS: usize = 16;

/// Blocks in memory at once while a large file is read: one being read while the chunks of the
/// other two are worked on, so that a thread that finishes its share of one block finds the
/// next one's chunks waiting instead of sleeping until the slowest chunk of the block is done.
const BLOCKS_IN_FLIGHT: usize = 3;

thread_local! {
    /// A thread's blocks, kept from one file to the next (taken while a file is read).
    static BLOCKS: std::cell::Cell<Vec<Vec<u8>>> = const { std::cell::Cell::new(Vec::new()) };
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
    #[cfg(test)]
    pub(super) fn walk(&self, calculated: u64) -> impl Iterator<Item = u64> + use<> {
        self.segments(calculated).into_iter().flatten()
    }

    /// The walk's order as two ranges of chunk numbers: from the oldest chunk to the end, then
    /// from the start up to it.
    pub(super) fn segments(&self, calculated: u64) -> [std::ops::Range<u64>; 2] {
        let start = self.oldest.map_or(0, |(_, n)| n).min(calculated);
        [start..calculated, 0..start]
    }
}

/// Read chunks `0..calculated` of the file in blocks and call `work` for each on the pool, the
/// chunks of earlier blocks worked on while the next block is read. `work` gets the chunk's
/// number and its bytes (fewer than a chunk where the file ends first), and returns what it made
/// of it, which `each` gets on this thread in chunk order: nothing of a chunk is held here once
/// the chunks before it are done.
pub(super) fn for_each_chunk<T: Send>(
    file: &mut (impl Read + Seek + Send),
    file_size: u64,
    calculated: u64,
    work: impl Fn(u64, &[u8]) -> T + Sync,
    mut each: impl FnMut(u64, T),
) -> std::io::Result<()> {
    let block_len = BLOCK_CHUNKS * CHUNK as usize;
    file.seek(SeekFrom::Start(FILE_HEADER))?;
    // What the chunks `0..calculated` span in the file, where the file has it.
    let wanted = (calculated * CHUNK).min(file_size.saturating_sub(FILE_HEADER));
    // The thread's blocks from its last file, when it has them: a fleet's thousands of small logs
    // do not each allocate their own. Their old bytes are never read: each fill overwrites the
    // part it hands out.
    let mut spare = BLOCKS.with(|b| b.take());
    let mut read_so_far = 0u64;
    let mut fill = |mut buf: Vec<u8>, read_so_far: &mut u64| -> std::io::Result<Vec<u8>> {
        let len = (block_len as u64).min(wanted - *read_so_far) as usize;
        buf.resize(len, 0);
        file.read_exact(&mut buf)?;
        *read_so_far += len as u64;
        Ok(buf)
    };
    let first = fill(spare.pop().unwrap_or_default(), &mut read_so_far)?;
    let mut next_chunk = (first.len() as u64).div_ceil(CHUNK);
    if read_so_far >= wanted || rayon::current_num_threads() == 1 {
        // A file of one block, or a pool of one thread: the chunks on this thread, in order, a
        // block at a time. A fleet's many small logs are read in parallel already, and a thread
        // waiting on a small file's chunks would take up another file meanwhile, holding both
        // files' blocks and results; one thread gains nothing from blocks in flight, and would
        // work on them newest first and hold their results (3% of a run, measured).
        let mut block = first;
        let mut first_chunk = 0u64;
        loop {
            for (i, bytes) in block.chunks(CHUNK as usize).enumerate() {
                let n = first_chunk + i as u64;
                each(n, work(n, bytes));
            }
            first_chunk = next_chunk;
            if read_so_far >= wanted {
                break;
            }
            block = fill(block, &mut read_so_far)?;
            next_chunk += (block.len() as u64).div_ceil(CHUNK);
        }
        spare.push(block);
    } else {
        let mut outcome = Ok(());
        let (done_tx, done) = std::sync::mpsc::channel::<(u64, T)>();
        rayon::in_place_scope(|scope| {
            let work = &work;
            // Blocks whose chunks are being worked on, oldest first: each with its first chunk.
            let mut in_flight: VecDeque<(Arc<Vec<u8>>, u64)> = VecDeque::new();
            let spawn = |block: Vec<u8>, first_chunk: u64| {
                let block = Arc::new(block);
                for i in 0..block.len().div_ceil(CHUNK as usize) {
                    let (block, done_tx) = (block.clone(), done_tx.clone());
                    scope.spawn(move |_| {
                        let n = first_chunk + i as u64;
                        let end = ((i + 1) * CHUNK as usize).min(block.len());
                        let made = work(n, &block[i * CHUNK as usize..end]);
                        // The block is let go before its chunk is reported done, so that once
                        // every chunk of it is, nothing else holds it.
                        drop(block);
                        let _ = done_tx.send((n, made));
                    });
                }
                (block, first_chunk)
            };
            in_flight.push_back(spawn(first, 0));
            // Results that came before the chunks ahead of them, by chunk number.
            let mut waiting: BTreeMap<u64, T> = BTreeMap::new();
            let mut delivered = 0u64;
            let mut reading = true;
            loop {
                while let Ok((n, made)) = done.try_recv() {
                    waiting.insert(n, made);
                }
                while let Some(made) = waiting.remove(&delivered) {
                    each(delivered, made);
                    delivered += 1;
                }
                // Blocks whose every chunk is delivered are free to be read into again.
                while let Some((block, first_chunk)) = in_flight.front() {
                    let chunks = (block.len() as u64).div_ceil(CHUNK);
                    if delivered < first_chunk + chunks {
                        break;
                    }
                    let (block, _) = in_flight.pop_front().expect("just seen");
                    spare.extend(Arc::into_inner(block));
                }
                if reading && in_flight.len() < BLOCKS_IN_FLIGHT {
                    if read_so_far >= wanted {
                        reading = false;
                        continue;
                    }
                    match fill(spare.pop().unwrap_or_default(), &mut read_so_far) {
                        Ok(block) => {
                            let len = block.len() as u64;
                            in_flight.push_back(spawn(block, next_chunk));
                            next_chunk += len.div_ceil(CHUNK);
                        }
                        Err(e) => {
                            // The file cannot be read on: the chunks spawned are finished (the
                            // scope waits for them) and the file reported unreadable.
                            outcome = Err(e);
                            break;
                        }
                    }
                    continue;
                }
                if in_flight.is_empty() {
                    break;
                }
                // Nothing to read for now: work on a chunk, or wait for one being worked on.
                // Waiting is safe: a chunk not yet done is either running on another thread or
                // queued where this thread would have found it.
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    match done.recv() {
                        Ok((n, made)) => {
                            waiting.insert(n, made);
                        }
                        Err(_) => break,
                    }
                }
            }
        });
        outcome?;
    }
    spare.truncate(BLOCKS_IN_FLIGHT);
    BLOCKS.with(|b| b.set(spare));
    // Chunks the file ends before (a header block smaller than 4 KiB counts one more chunk than
    // the file holds): each an incomplete chunk, as the crate reports it.
    while next_chunk < calculated {
        each(next_chunk, work(next_chunk, &[]));
        next_chunk += 1;
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

    /// A file of `chunks` chunks after its header, each chunk's bytes its number; reading fails
    /// past `fails_at` bytes when given.
    struct File {
        data: std::io::Cursor<Vec<u8>>,
        fails_at: Option<u64>,
    }

    impl File {
        fn new(chunks: u64, fails_at: Option<u64>) -> Self {
            let mut data = vec![0xee; FILE_HEADER as usize];
            for n in 0..chunks {
                data.extend(std::iter::repeat_n(n as u8, CHUNK as usize));
            }
            File {
                data: std::io::Cursor::new(data),
                fails_at,
            }
        }
    }

    impl Read for File {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.fails_at {
                Some(at) if self.data.position() + buf.len() as u64 > at => {
                    Err(std::io::Error::other("the disk went away"))
                }
                _ => self.data.read(buf),
            }
        }
    }

    impl Seek for File {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.data.seek(to)
        }
    }

    /// What `for_each_chunk` hands `each`, in a pool of `threads`: chunk numbers and the first
    /// byte and length of each chunk's bytes.
    fn walked(threads: usize, file: &mut File, calculated: u64) -> (Vec<(u64, u8, usize)>, bool) {
        let size = file.data.get_ref().len() as u64;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut seen = Vec::new();
            let read = for_each_chunk(
                file,
                size,
                calculated,
                |n, bytes| (n, bytes.first().copied().unwrap_or(0), bytes.len()),
                |n, made| {
                    assert_eq!(n, made.0);
                    seen.push(made)
                },
            );
            (seen, read.is_ok())
        })
    }

    #[test]
    fn every_chunk_of_a_file_of_many_blocks_comes_once_in_order() {
        // 5 blocks and a half, and two chunks the file ends before.
        let chunks = 5 * BLOCK_CHUNKS as u64 + 7;
        for threads in [1, 2, 3] {
            let (seen, ok) = walked(threads, &mut File::new(chunks, None), chunks + 2);
            assert!(ok);
            let expected: Vec<(u64, u8, usize)> = (0..chunks + 2)
                .map(|n| match n < chunks {
                    true => (n, n as u8, CHUNK as usize),
                    false => (n, 0, 0),
                })
                .collect();
            assert_eq!(seen, expected, "{threads} threads");
        }
    }

    #[test]
    fn a_read_that_fails_mid_file_ends_the_walk_with_its_error() {
        let chunks = 6 * BLOCK_CHUNKS as u64;
        let fails_at = FILE_HEADER + 3 * (BLOCK_CHUNKS as u64 * CHUNK) + 5;
        for threads in [1, 2] {
            let (seen, ok) = walked(threads, &mut File::new(chunks, Some(fails_at)), chunks);
            assert!(!ok, "{threads} threads");
            // What was handed on before the error is the file's first chunks, in order.
            assert!(seen.iter().enumerate().all(|(i, s)| s.0 == i as u64));
            assert!(seen.len() as u64 <= 3 * BLOCK_CHUNKS as u64);
        }
    }
}
