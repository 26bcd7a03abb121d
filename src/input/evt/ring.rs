//! The records of a .evt in record order: the file's ranges (from the oldest record to the end of
//! the file, then from 0x30 to the end-of-file record when the log has wrapped) one after the
//! other, read a block at a time, so that a record split across the wrap reads as one; and the
//! search for the next record after damage.

use super::record::*;
use super::{BLOCK, MAX_RECORD};
use crate::input::Body;
use crate::input::Progress;

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// The records in record order: the file's ranges one after the other, read a block at a time,
/// so that a record split across the wrap reads as one.
pub(super) struct Ring {
    file: Body,
    /// Physical `[start, end)` ranges, oldest records first.
    segments: Vec<(u64, u64)>,
    pub(super) len: u64,
    /// The block read last, shared with the batches of records that lie in it.
    pub(super) buf: Arc<Vec<u8>>,
    /// Logical offset of `buf[0]`.
    pub(super) buf_at: u64,
    /// How far the bytes read have been reported as progress.
    reported: u64,
}

impl Ring {
    pub(super) fn new(file: Body, segments: Vec<(u64, u64)>) -> Ring {
        let len = segments.iter().map(|(s, e)| e - s).sum();
        Ring {
            file,
            segments,
            len,
            buf: Arc::new(Vec::new()),
            buf_at: 0,
            reported: 0,
        }
    }

    /// The file offset of a logical one.
    pub(super) fn physical(&self, mut at: u64) -> u64 {
        for &(s, e) in &self.segments {
            if at < e - s {
                return s + at;
            }
            at -= e - s;
        }
        self.segments.last().map_or(0, |s| s.1)
    }

    /// Where the segment holding `at` ends, logically.
    pub(super) fn segment_end(&self, at: u64) -> u64 {
        let mut end = 0;
        for &(s, e) in &self.segments {
            end += e - s;
            if at < end {
                return end;
            }
        }
        self.len
    }

    /// `len` bytes from logical offset `at`; `None` past the end.
    pub(super) fn get(
        &mut self,
        at: u64,
        len: usize,
        progress: &dyn Progress,
    ) -> io::Result<Option<&[u8]>> {
        if at.checked_add(len as u64).is_none_or(|e| e > self.len) {
            return Ok(None);
        }
        let have = at >= self.buf_at && at + len as u64 <= self.buf_at + self.buf.len() as u64;
        if !have {
            let want = (len.max(BLOCK) as u64).min(self.len - at) as usize;
            // The old block's memory again when no batch holds it any more; it is overwritten
            // whole, so it is not cleared first.
            let mut buf = match Arc::get_mut(&mut self.buf) {
                Some(b) => std::mem::take(b),
                None => Vec::new(),
            };
            buf.resize(want, 0);
            let mut filled = 0;
            while filled < want {
                let logical = at + filled as u64;
                let seg_left = (self.segment_end(logical) - logical) as usize;
                let n = seg_left.min(want - filled);
                self.file.seek(SeekFrom::Start(self.physical(logical)))?;
                self.file.read_exact(&mut buf[filled..filled + n])?;
                filled += n;
            }
            self.buf = Arc::new(buf);
            // A block can start inside the one before (at a record that ran past it), and the
            // walk can go back to resynchronize: only bytes not read before count as progress.
            let end = at + want as u64;
            progress.bytes_read(end.saturating_sub(self.reported));
            self.reported = self.reported.max(end);
            self.buf_at = at;
        }
        let from = (at - self.buf_at) as usize;
        Ok(Some(&self.buf[from..from + len]))
    }
}

/// The next offset from `from` that holds a whole, well-framed record.
pub(super) fn resync(
    ring: &mut Ring,
    from: u64,
    progress: &dyn Progress,
) -> io::Result<Option<u64>> {
    let finder = memchr::memmem::Finder::new(RECORD_SIGNATURE);
    let mut at = from + 4;
    while at < ring.len {
        let n = (ring.len - at).min(BLOCK as u64) as usize;
        let Some(window) = ring.get(at, n, progress)? else {
            return Ok(None);
        };
        let hits: Vec<u64> = finder.find_iter(window).map(|i| at + i as u64).collect();
        for sig in hits {
            let start = sig - 4;
            if start < from {
                continue;
            }
            let Some(len) = ring.get(start, 4, progress)?.and_then(|b| u32_at(b, 0)) else {
                continue;
            };
            let fits = (len as usize) >= MIN_RECORD
                && len as usize <= MAX_RECORD
                && start + u64::from(len) <= ring.len;
            if fits
                && ring
                    .get(start, len as usize, progress)?
                    .is_some_and(|b| check_frame(b).is_ok())
            {
                return Ok(Some(start));
            }
        }
        // Overlap by the signature's length so that one split between windows is found.
        at += n.saturating_sub(3).max(1) as u64;
    }
    Ok(None)
}
