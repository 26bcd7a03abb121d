//! Discovery: what the command line names (files, folders searched recursively, globs, `-` for
//! standard input, zip archives' members), each recognized by its first KiB and kept for the reader
//! of its format, or said why not (unreadable, empty, not a log, skipped in a folder).

use super::{FileTime, InputFile, InputReport, InputStatus, READERS, SourceId, archive};
use chrono::Utc;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the command line named, found and classified.
#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<InputFile>,
    /// Inputs that cannot be read at all, and files skipped as not event logs.
    pub rejected: Vec<InputReport>,
    /// Standard input, spooled to an anonymous temporary file: gone when the run ends, however
    /// it ends.
    pub stdin_spool: Option<Arc<File>>,
    /// How much an archive may unpack to.
    pub archive_limits: archive::ArchiveLimits,
    /// Manifests of collections (`evtriage collect`, its script): not logs, but what says
    /// which computer the collection's text logs are of, and their time zone.
    pub manifests: Vec<InputFile>,
}

/// A collection's manifest, at the collection's root.
pub const COLLECTION_MANIFEST: &str = "evtriage-manifest.json";

/// Whether a file is a collection's manifest: by its name and its first key.
fn is_manifest(file: &InputFile, head: &[u8]) -> bool {
    let name = file.display.rsplit(['/', '\\']).next().unwrap_or("");
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    name.eq_ignore_ascii_case(COLLECTION_MANIFEST)
        && text.trim_ascii_start().starts_with(b"{")
        && memchr::memmem::find(&text[..text.len().min(200)], b"\"evtriage_collection\"").is_some()
}

/// Standard input is spooled to disk up to this size by default (`--stdin-limit`): a pipe that
/// never ends must not fill the disk.
pub const STDIN_LIMIT_DEFAULT: u64 = 16 << 30;

/// How much of a file recognition looks at.
const HEAD: usize = 1024;

fn head(path: &Path, handle: Option<&Arc<File>>) -> io::Result<(Vec<u8>, u64, Option<FileTime>)> {
    let mut f = match handle {
        Some(h) => {
            let mut f = h.try_clone()?;
            f.seek(io::SeekFrom::Start(0))?;
            f
        }
        None => {
            // Opening a FIFO blocks until something writes to it, and a device can read without
            // end: only regular files are logs.
            let m = std::fs::metadata(path)?;
            if !m.is_file() {
                return Err(io::Error::other(
                    "not a regular file (a device, FIFO or socket); copy the log to a file first",
                ));
            }
            File::open(path)?
        }
    };
    let meta = f.metadata()?;
    let size = meta.len();
    // To Windows' FILETIME resolution (100 ns), which is all an NTFS time holds: the same file
    // is then dated alike on Linux and Windows.
    let modified = meta.modified().ok().map(|t| {
        let t = chrono::DateTime::<Utc>::from(t).naive_utc();
        let ns = t.and_utc().timestamp_subsec_nanos();
        FileTime::Utc(t - chrono::Duration::nanoseconds(i64::from(ns % 100)))
    });
    // Enough for an XML declaration and a comment before the first element.
    let mut buf = vec![0u8; HEAD];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok((buf, size, modified))
}

/// The log's name from its file's: `AppEvent.Evt` (as `system32\config` names it),
/// `Application.evt` or `System.evtx` (as people save them). Empty otherwise: a .evt holds no log
/// name, and an .evtx's records say it only once rendered.
pub fn log_name_of(path: &Path) -> &'static str {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    const NAMES: &[(&str, &str)] = &[
        ("appevent", "Application"),
        ("application", "Application"),
        ("app", "Application"),
        ("sysevent", "System"),
        ("system", "System"),
        ("sys", "System"),
        ("secevent", "Security"),
        ("security", "Security"),
    ];
    NAMES
        .iter()
        .find(|(prefix, _)| stem.starts_with(prefix))
        .map_or("", |(_, name)| name)
}

fn looks_like_log_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("evtx") || e.eq_ignore_ascii_case("evt"))
}

impl Discovery {
    fn add(&mut self, path: PathBuf, display: String, named: bool, seen: &mut HashSet<PathBuf>) {
        self.add_with(path, display, named, seen, None);
    }

    fn add_with(
        &mut self,
        path: PathBuf,
        display: String,
        named: bool,
        seen: &mut HashSet<PathBuf>,
        handle: Option<Arc<File>>,
    ) {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(key) {
            return;
        }
        let (bytes, size, modified) = match head(&path, handle.as_ref()) {
            Ok(h) => h,
            Err(e) => {
                self.rejected.push(InputReport::failed(
                    &display,
                    None,
                    0,
                    InputStatus::Unreadable,
                    format!("cannot read: {e}"),
                ));
                return;
            }
        };
        if archive::is_zip(&bytes) {
            self.add_archive(&path, &display, handle);
            return;
        }
        let file = InputFile {
            id: 0,
            path,
            display,
            size,
            format: "",
            handle,
            member: None,
            modified,
        };
        self.classify(file, &bytes, named);
    }

    /// Every file inside a zip archive, recognized as if it were on disk.
    fn add_archive(&mut self, path: &Path, display: &str, handle: Option<Arc<File>>) {
        let archive = archive::Archive::new(path, handle, self.archive_limits);
        let listing = archive::list(&archive, display, HEAD);
        for (shown, why) in listing.problems {
            self.rejected.push(InputReport::failed(
                &shown,
                None,
                0,
                InputStatus::Unreadable,
                why,
            ));
        }
        for entry in listing.entries {
            let file = InputFile {
                id: 0,
                path: PathBuf::from(&entry.name),
                display: entry.display,
                size: entry.size,
                format: "",
                handle: None,
                member: Some(entry.member),
                modified: entry.modified.map(FileTime::Local),
            };
            self.classify(file, &entry.head, false);
        }
    }

    /// Keep a file whose first bytes a reader recognizes; say why another is not read.
    /// `named`: the user named it (not found in a folder or archive), so it must be a log.
    fn classify(&mut self, mut file: InputFile, bytes: &[u8], named: bool) {
        if is_manifest(&file, bytes) {
            file.format = "evtriage-manifest";
            self.manifests.push(file);
            return;
        }
        let size = file.size;
        let display = &file.display;
        match READERS.iter().find(|r| r.recognizes(bytes)) {
            Some(reader) => {
                file.format = reader.format();
                self.files.push(file);
            }
            None if size == 0 && (named || looks_like_log_name(&file.path)) => {
                self.rejected.push(InputReport::failed(
                    display,
                    None,
                    0,
                    InputStatus::Unreadable,
                    "empty file (0 bytes)".into(),
                ));
            }
            None if named || looks_like_log_name(&file.path) => {
                let what = if bytes.starts_with(b"ElfChnk\0") {
                    "a bare EVTX chunk without the file header".to_string()
                } else {
                    format!(
                        "not an event log: neither EVTX (ElfFile), a classic .evt (LfLe) nor Event XML (it starts with {})",
                        hex_preview(bytes)
                    )
                };
                self.rejected.push(InputReport::failed(
                    display,
                    None,
                    size,
                    InputStatus::Unreadable,
                    what,
                ));
            }
            None => {
                let mut r = InputReport::new(display, None, size);
                r.status = InputStatus::NotAnEventLog;
                self.rejected.push(r);
            }
        }
    }
}

fn hex_preview(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".into();
    }
    bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A path as reports name it: with the platform's one separator. On Windows, a folder typed with
/// `/` and joined by the walk with `\` would otherwise read `samples/x\Application.evtx`; there
/// both are separators, and `\` is the one Windows users type and paste. Elsewhere `\` is a
/// character a file name may hold, and the path is shown as it is.
pub fn display_path(p: &Path) -> String {
    let shown = p.display().to_string();
    if cfg!(windows) {
        shown.replace('/', "\\")
    } else {
        shown
    }
}

/// Resolve the command line's paths into files to read.
pub fn discover(args: &[String], stdin: &mut dyn Read, stdin_limit: u64) -> Discovery {
    discover_with(args, stdin, stdin_limit, archive::ArchiveLimits::default())
}

/// [`discover`], with archives unpacking to at most `archive_limits`.
pub fn discover_with(
    args: &[String],
    stdin: &mut dyn Read,
    stdin_limit: u64,
    archive_limits: archive::ArchiveLimits,
) -> Discovery {
    let mut d = Discovery {
        archive_limits,
        ..Discovery::default()
    };
    let mut seen = HashSet::new();
    for arg in args {
        if arg == "-" {
            if d.stdin_spool.is_some() {
                continue;
            }
            match spool(stdin, stdin_limit) {
                Ok(tmp) => {
                    let tmp = Arc::new(tmp);
                    d.stdin_spool = Some(tmp.clone());
                    d.add_with(PathBuf::from("-"), "-".into(), true, &mut seen, Some(tmp));
                }
                Err(e) => d.rejected.push(InputReport::failed(
                    "-",
                    None,
                    0,
                    InputStatus::Unreadable,
                    format!("cannot read standard input: {e}"),
                )),
            }
            continue;
        }
        let path = PathBuf::from(arg);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&mut d, &path, &mut seen),
            Ok(_) => d.add(path, display_path(Path::new(arg)), true, &mut seen),
            Err(e) if arg.contains(['*', '?', '[']) => match glob::glob(arg) {
                Ok(paths) => {
                    let mut any = false;
                    for p in paths {
                        match p {
                            Ok(p) if p.is_dir() => {
                                any = true;
                                walk(&mut d, &p, &mut seen)
                            }
                            Ok(p) => {
                                any = true;
                                let display = display_path(&p);
                                d.add(p, display, true, &mut seen)
                            }
                            Err(ge) => d.rejected.push(InputReport::failed(
                                &display_path(ge.path()),
                                None,
                                0,
                                InputStatus::Unreadable,
                                format!("cannot read: {}", ge.error()),
                            )),
                        }
                    }
                    if !any {
                        d.rejected.push(InputReport::failed(
                            arg,
                            None,
                            0,
                            InputStatus::Unreadable,
                            "no file matches this pattern".into(),
                        ));
                    }
                }
                Err(pe) => d.rejected.push(InputReport::failed(
                    arg,
                    None,
                    0,
                    InputStatus::Unreadable,
                    format!("invalid pattern: {pe} (and no such file: {e})"),
                )),
            },
            Err(e) => d.rejected.push(InputReport::failed(
                arg,
                None,
                0,
                InputStatus::Unreadable,
                format!("cannot open: {e}"),
            )),
        }
    }
    for (i, f) in d.files.iter_mut().enumerate() {
        f.id = i as SourceId;
    }
    d
}

/// Files found rather than named (an installer log an event names, with `--live`): each is read
/// when its content is a log's, and otherwise listed as not a log, like a file found in a folder.
/// Their source IDs start at `first_id`, after those of a discovery already read.
pub fn discover_found(paths: &[PathBuf], first_id: SourceId) -> Discovery {
    let mut d = Discovery::default();
    let mut seen = HashSet::new();
    for p in paths {
        d.add(p.clone(), display_path(p), false, &mut seen);
    }
    for (i, f) in d.files.iter_mut().enumerate() {
        f.id = first_id + i as SourceId;
    }
    d
}

fn walk(d: &mut Discovery, dir: &Path, seen: &mut HashSet<PathBuf>) {
    let mut entries: Vec<PathBuf> = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        match entry {
            Ok(e) if e.file_type().is_file() => entries.push(e.into_path()),
            Ok(_) => {}
            Err(e) => {
                let where_ = e
                    .path()
                    .map(display_path)
                    .unwrap_or_else(|| display_path(dir));
                let why = if e.loop_ancestor().is_some() {
                    "symbolic link loop; not followed".to_string()
                } else {
                    e.io_error()
                        .map(|io| io.to_string())
                        .unwrap_or_else(|| e.to_string())
                };
                d.rejected.push(InputReport::failed(
                    &where_,
                    None,
                    0,
                    InputStatus::Unreadable,
                    format!("cannot read: {why}"),
                ));
            }
        }
    }
    for p in entries {
        let display = display_path(&p);
        d.add(p, display, false, seen);
    }
}

/// Standard input is copied to an anonymous temporary file (no name to leave behind on Ctrl-C)
/// so that it can be read like any log (seekable) without holding it in memory; at most `limit`
/// bytes.
fn spool(stdin: &mut dyn Read, limit: u64) -> io::Result<File> {
    let mut tmp = tempfile::tempfile()?;
    let copied = io::copy(&mut stdin.take(limit.saturating_add(1)), &mut tmp)?;
    if copied > limit {
        return Err(io::Error::other(format!(
            "standard input is larger than {limit} bytes (--stdin-limit); save it to a file and name the file"
        )));
    }
    Ok(tmp)
}
