//! Zip archives as input: what a customer sends ("Send to > Compressed folder" of the case folder),
//! read in place as if it were the folder it holds. An archive is a source of files for discovery,
//! not a reader of its own: each member is recognized by content and read by the reader of its
//! format, named `case.zip!/EXMBX01/EventLogs/System.evtx`. A zip inside the archive is opened too,
//! one level deep (`case.zip!/logs.zip!/System.evtx`).
//!
//! The zip crate reads the archive; this module owns what a hostile archive must not do to a run:
//! every member's declared size, its real size, its compression ratio and the archive's total are
//! checked against [`ArchiveLimits`] before and while it is decompressed, so a zip bomb or a cut
//! archive is a named input problem, never a hang or an exhausted memory. Members are decompressed
//! when their reader opens them, into memory, or, above [`IN_MEMORY_MAX`], into an anonymous
//! temporary file that no other process can see and that is gone when it is closed.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use zip::ZipArchive;

/// How much one archive may unpack to, in all (`--archive-limit`); a member may be no larger.
pub const ARCHIVE_LIMIT_DEFAULT: u64 = 16 << 30;

/// Deflate cannot do better than about 1032:1, and only on runs of one byte: no log compresses
/// that well, a zip bomb's members do.
pub const MAX_RATIO: u64 = 1000;

/// Members this small are never judged by their ratio (an empty log compresses very well).
const RATIO_FROM: u64 = 1 << 20;

/// Members up to this size are decompressed into memory; larger ones into an anonymous file, so
/// that two readers of gigabyte logs do not hold gigabytes.
pub const IN_MEMORY_MAX: u64 = 256 << 20;

#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// The most one archive (with the archives inside it) may decompress to.
    pub total: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            total: ARCHIVE_LIMIT_DEFAULT,
        }
    }
}

/// Whether a file starting with these bytes is a zip archive (a local file header, or the end of
/// central directory of an empty archive).
pub fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
}

/// An archive on disk (or standard input spooled), and what has been taken out of it so far.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    handle: Option<Arc<File>>,
    limits: ArchiveLimits,
    /// Bytes decompressed from it (its nested archives included), against `limits.total`.
    used: AtomicU64,
}

/// Where a member's compressed bytes are: the archive on disk, or an archive inside it, held
/// decompressed in memory while the run lasts.
#[derive(Debug)]
enum Container {
    Outer,
    Inner(Arc<[u8]>),
}

/// One file inside an archive.
#[derive(Debug)]
pub struct Member {
    archive: Arc<Archive>,
    container: Container,
    index: usize,
    declared: u64,
}

/// A member or a file, opened for reading: readers read and seek through this.
pub enum Body {
    File(File),
    Memory(Cursor<Arc<[u8]>>),
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::File(f) => f.read(buf),
            Body::Memory(m) => m.read(buf),
        }
    }
}

impl Seek for Body {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        match self {
            Body::File(f) => f.seek(pos),
            Body::Memory(m) => m.seek(pos),
        }
    }
}

impl Archive {
    pub fn new(path: &Path, handle: Option<Arc<File>>, limits: ArchiveLimits) -> Arc<Archive> {
        Arc::new(Archive {
            path: path.to_path_buf(),
            handle,
            limits,
            used: AtomicU64::new(0),
        })
    }

    fn open_file(&self) -> io::Result<File> {
        match &self.handle {
            Some(h) => {
                let mut f = h.try_clone()?;
                f.seek(io::SeekFrom::Start(0))?;
                Ok(f)
            }
            None => File::open(&self.path),
        }
    }

    /// Count `bytes` more taken out of the archive; an error once the total passes the limit.
    fn take(&self, bytes: u64) -> io::Result<()> {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if used > self.limits.total {
            return Err(io::Error::other(format!(
                "the archive unpacks to more than {} (--archive-limit); the rest of it is not read",
                mib(self.limits.total)
            )));
        }
        Ok(())
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// What a listing of an archive found: members to recognize, and members (or the whole archive)
/// that cannot be read, each with why.
pub struct Listing {
    pub entries: Vec<Entry>,
    pub problems: Vec<(String, String)>,
}

/// A member as discovery sees it: its name, its first KiB (decompressed), and how to open it.
pub struct Entry {
    /// `case.zip!/EXMBX01/System.evtx`.
    pub display: String,
    /// The member's own path inside the archive (what names the log: `System.evtx`).
    pub name: String,
    pub size: u64,
    pub head: Vec<u8>,
    pub member: Arc<Member>,
    /// The member's last-write time, as the archiver's clock read it.
    pub modified: Option<chrono::NaiveDateTime>,
}

/// A member's name as reports show it: `/` between folders, whatever the archiver wrote.
fn member_name(raw: &str) -> String {
    raw.replace('\\', "/").trim_start_matches('/').to_string()
}

/// List an archive: every file in it, an archive inside it opened one level deep.
pub fn list(archive: &Arc<Archive>, display: &str, head_len: usize) -> Listing {
    let mut listing = Listing {
        entries: Vec::new(),
        problems: Vec::new(),
    };
    let file = match archive.open_file() {
        Ok(f) => f,
        Err(e) => {
            listing
                .problems
                .push((display.to_string(), format!("cannot open: {e}")));
            return listing;
        }
    };
    match ZipArchive::new(BufReader::with_capacity(ZIP_READ, file)) {
        Ok(mut zip) => list_zip(
            &mut zip,
            archive,
            &|| Container::Outer,
            display,
            head_len,
            0,
            &mut listing,
        ),
        Err(e) => listing.problems.push((
            display.to_string(),
            format!("not a readable zip archive ({e}): cut short, or its central directory is damaged; nothing in it was read"),
        )),
    }
    listing
}

fn list_zip<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    archive: &Arc<Archive>,
    container: &dyn Fn() -> Container,
    display: &str,
    head_len: usize,
    depth: u32,
    listing: &mut Listing,
) {
    let mut declared_total: u64 = 0;
    for index in 0..zip.len() {
        let listed_name = zip
            .name_for_index(index)
            .and_then(Result::ok)
            .map(|n| member_name(&n));
        let mut member = match zip.by_index(index) {
            Ok(m) => m,
            Err(e) => {
                let name = listed_name.unwrap_or_else(|| format!("#{index}"));
                listing
                    .problems
                    .push((format!("{display}!/{name}"), member_error(&e)));
                continue;
            }
        };
        if member.is_dir() {
            continue;
        }
        let name = match member.name() {
            Ok(n) => member_name(&n),
            Err(_) => member_name(&String::from_utf8_lossy(member.name_raw())),
        };
        let shown = format!("{display}!/{name}");
        if member.is_symlink() {
            listing.problems.push((
                shown,
                "a symbolic link inside the archive; not followed".into(),
            ));
            continue;
        }
        let declared = member.size();
        let compressed = member.compressed_size();
        let modified = member.last_modified().and_then(|t| {
            chrono::NaiveDate::from_ymd_opt(t.year().into(), t.month().into(), t.day().into())?
                .and_hms_opt(t.hour().into(), t.minute().into(), t.second().into())
        });
        if let Err(why) = check_declared(declared, compressed, archive.limits) {
            listing.problems.push((shown, why));
            continue;
        }
        declared_total = declared_total.saturating_add(declared);
        if declared_total > archive.limits.total {
            listing.problems.push((
                shown,
                format!(
                    "the archive's members declare more than {} in all (--archive-limit); this one and the rest are not read",
                    mib(archive.limits.total)
                ),
            ));
            break;
        }
        let mut head = Vec::with_capacity(head_len);
        if let Err(e) = (&mut member).take(head_len as u64).read_to_end(&mut head) {
            listing
                .problems
                .push((shown, format!("cannot decompress: {e}")));
            continue;
        }
        if is_zip(&head) {
            drop(member);
            if depth > 0 {
                listing.problems.push((
                    shown,
                    "an archive inside an archive inside an archive: not read (one level of nesting is)".into(),
                ));
                continue;
            }
            let inner = Member {
                archive: archive.clone(),
                container: container(),
                index,
                declared,
            };
            let bytes: Arc<[u8]> = match inner.decompress() {
                Ok(b) => b.into(),
                Err(e) => {
                    listing.problems.push((shown, e.to_string()));
                    continue;
                }
            };
            match ZipArchive::new(Cursor::new(bytes.clone())) {
                Ok(mut nested) => list_zip(
                    &mut nested,
                    archive,
                    &|| Container::Inner(bytes.clone()),
                    &shown,
                    head_len,
                    depth + 1,
                    listing,
                ),
                Err(e) => listing.problems.push((
                    shown,
                    format!("not a readable zip archive ({e}); nothing in it was read"),
                )),
            }
            continue;
        }
        listing.entries.push(Entry {
            display: shown,
            name,
            size: declared,
            head,
            modified,
            member: Arc::new(Member {
                archive: archive.clone(),
                container: container(),
                index,
                declared,
            }),
        });
    }
}

fn member_error(e: &zip::result::ZipError) -> String {
    match e {
        zip::result::ZipError::UnsupportedArchive(m) if m.contains("Password") => {
            "encrypted (password-protected); not read: send it without a password".into()
        }
        zip::result::ZipError::UnsupportedArchive(m) => format!("not read: {m}"),
        other => format!("cannot read: {other}"),
    }
}

/// What a member's header claims, before anything is decompressed.
fn check_declared(declared: u64, compressed: u64, limits: ArchiveLimits) -> Result<(), String> {
    if declared > limits.total {
        return Err(format!(
            "declares {declared} bytes, more than an archive may unpack to ({}, --archive-limit); not read",
            mib(limits.total)
        ));
    }
    if declared >= RATIO_FROM && declared / compressed.max(1) > MAX_RATIO {
        return Err(format!(
            "would unpack {compressed} bytes to {declared} (more than {MAX_RATIO}:1, which no log compresses to: a zip bomb); not read"
        ));
    }
    Ok(())
}

/// Bytes per read of an archive on disk: the zip crate reads what it inflates a few KiB at a
/// time, 35,000 reads for a 92 MiB case with the default buffer (issue 24).
const ZIP_READ: usize = 1 << 20;

/// Run `f` on entry `index` of `zip`, decompressing, with its compressed size.
fn with_entry<R: Read + Seek, T>(
    mut zip: ZipArchive<R>,
    index: usize,
    f: impl FnOnce(&mut dyn Read, u64) -> io::Result<T>,
) -> io::Result<T> {
    match zip.by_index(index) {
        Ok(mut e) => {
            let compressed = e.compressed_size();
            f(&mut e, compressed)
        }
        Err(e) => Err(io::Error::other(member_error(&e))),
    }
}

impl Member {
    fn with_zip<T>(&self, f: impl FnOnce(&mut dyn Read, u64) -> io::Result<T>) -> io::Result<T> {
        match &self.container {
            Container::Outer => {
                let file = self.archive.open_file()?;
                let zip = ZipArchive::new(BufReader::with_capacity(ZIP_READ, file))
                    .map_err(io::Error::other)?;
                with_entry(zip, self.index, f)
            }
            Container::Inner(bytes) => {
                let zip = ZipArchive::new(Cursor::new(bytes.clone())).map_err(io::Error::other)?;
                with_entry(zip, self.index, f)
            }
        }
    }

    /// Copy the member's decompressed bytes to `out`: exactly the size its header declares, or
    /// an error that says how it differs (a header that lies, a member cut short).
    fn copy_to(&self, out: &mut dyn io::Write) -> io::Result<u64> {
        let declared = self.declared;
        self.with_zip(|reader, compressed| {
            check_declared(declared, compressed, self.archive.limits).map_err(io::Error::other)?;
            let mut buf = vec![0u8; 1 << 16];
            let mut total: u64 = 0;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(io::Error::other(format!(
                            "cannot unpack past byte {total} of the {declared} bytes its header declares: {e}"
                        )));
                    }
                };
                total += n as u64;
                if total > declared {
                    return Err(io::Error::other(format!(
                        "unpacks to more than the {declared} bytes its header declares (a hostile archive); not read"
                    )));
                }
                self.archive.take(n as u64)?;
                out.write_all(&buf[..n])?;
            }
            if total < declared {
                return Err(io::Error::other(format!(
                    "unpacks to {total} bytes, not the {declared} its header declares: cut short"
                )));
            }
            Ok(total)
        })
    }

    fn decompress(&self) -> io::Result<Vec<u8>> {
        // The declared size was checked against the limit: it bounds this allocation.
        let mut out = Vec::with_capacity(self.declared.min(IN_MEMORY_MAX) as usize);
        self.copy_to(&mut out)?;
        Ok(out)
    }

    /// The member, decompressed, to read from its start.
    pub fn open(&self) -> io::Result<Body> {
        if self.declared <= IN_MEMORY_MAX {
            let bytes: Arc<[u8]> = self.decompress()?.into();
            return Ok(Body::Memory(Cursor::new(bytes)));
        }
        let mut spool = tempfile::tempfile()?;
        self.copy_to(&mut io::BufWriter::new(&mut spool))?;
        spool.seek(io::SeekFrom::Start(0))?;
        Ok(Body::File(spool))
    }
}
