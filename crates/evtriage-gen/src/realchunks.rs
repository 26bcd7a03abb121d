//! One large `.evtx` of real chunks, for benchmarks (issue 24): every chunk of the `.evtx` files
//! under a folder (`../shared/corpus`) whose header and data checksums hold, copied byte for byte,
//! repeated in order until the requested size, behind a new file header. The records are real
//! logs' (many kinds of events, templates, sizes); their IDs repeat from one copy to the next, as
//! a reader's accounting will say. Nothing in a chunk is changed.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

const FILE_HEADER: usize = 4096;
const CHUNK: usize = 65536;

/// Chunks whose two CRC32s hold: the header's (bytes 0..120 and 128..512) and the records'
/// (512 up to the free-space offset).
fn sound_chunks(file: &Path) -> Vec<Vec<u8>> {
    let Ok(bytes) = fs::read(file) else {
        return Vec::new();
    };
    if !bytes.starts_with(b"ElfFile\0") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = FILE_HEADER;
    while at + CHUNK <= bytes.len() {
        let c = &bytes[at..at + CHUNK];
        at += CHUNK;
        if !c.starts_with(b"ElfChnk\0") {
            continue;
        }
        let le32 = |o: usize| u32::from_le_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
        let free = le32(48) as usize;
        if !(512..=CHUNK).contains(&free) {
            continue;
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&c[..120]);
        h.update(&c[128..512]);
        if h.finalize() != le32(124) || crc32fast::hash(&c[512..free]) != le32(52) {
            continue;
        }
        out.push(c.to_vec());
    }
    out
}

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            out.push(p);
        }
    }
}

/// Write `out` of about `size` bytes from the sound chunks under `from`; the number of chunks
/// and how many source chunks there were.
pub fn write(from: &Path, size: u64, out: &Path) -> Result<(u64, usize), String> {
    let mut files = Vec::new();
    evtx_files(from, &mut files);
    let chunks: Vec<Vec<u8>> = files.iter().flat_map(|f| sound_chunks(f)).collect();
    if chunks.is_empty() {
        return Err(format!("no sound .evtx chunk under {}", from.display()));
    }
    let wanted = (size.saturating_sub(FILE_HEADER as u64) / CHUNK as u64).max(1);
    let file = fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| format!("{}: {e}", out.display());
    w.write_all(&evtriage_writer::file_header(wanted, 1))
        .map_err(io)?;
    for i in 0..wanted {
        w.write_all(&chunks[(i as usize) % chunks.len()])
            .map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok((wanted, chunks.len()))
}
