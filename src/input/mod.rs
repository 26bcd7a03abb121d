//! Input: finds the logs named on the command line (`discover.rs`: files, folders searched recursively, globs,
//! `-` for standard input), recognizes each by its content, and reads them in parallel through the
//! reader for their format. Readers hand normalized events to an [`EventSink`] and account for
//! every record in an [`InputReport`]: what was read, what failed, and why. Adding a format means
//! adding a reader module and listing it in [`READERS`].

pub mod archive;
pub mod binxml;
mod discover;
pub mod event_xml;
pub mod evt;
pub mod evtx;
pub mod template;
pub mod text;
pub mod xml;

pub use discover::{
    COLLECTION_MANIFEST, Discovery, STDIN_LIMIT_DEFAULT, discover, discover_found, discover_with,
    display_path, log_name_of,
};

use crate::event::{Event, PayloadSource, SourceId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fs::File;
use std::io::{self, Seek};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a reader asks before it builds an event from a record: cheap questions, asked for every
/// record of every log, from many threads at once.
pub trait EventFilter: Sync {
    /// Whether events with this ID can matter; readers skip rendering the rest.
    fn wants_event_id(&self, id: u16) -> bool;
    /// Whether any event from this provider can matter, whatever its ID and payload; readers
    /// skip the rest without reading their values. The answer must depend on the name alone:
    /// readers remember it for every record of the same template.
    fn wants_provider(&self, _provider: &str) -> bool {
        true
    }
    /// Whether an event from `provider` with this ID and payload can be kept, whatever its other
    /// fields; readers skip building the rest. The answer must depend on these three alone:
    /// readers remember it for records that repeat them.
    fn wants_payload(&self, _provider: &str, _event_id: u16, _payload: &dyn PayloadSource) -> bool {
        true
    }
}

/// Where readers deliver the events they built; called from many threads at once.
/// [`crate::diagnosis::Collector`] is the stock one.
pub trait EventSink: EventFilter {
    /// Take one event, whose payload is read from `payload` (the event's own payload field may
    /// be empty); true when it was kept.
    fn accept(&self, event: Event, payload: &dyn PayloadSource) -> bool;
}

/// How far reading has come, for a progress bar; called from many threads at once.
pub trait Progress: Sync {
    /// `bytes` more of the input have been read.
    fn bytes_read(&self, bytes: u64);
    /// One more file has been read to its end (or given up on).
    fn file_done(&self);
}

/// For runs that show no progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn bytes_read(&self, _bytes: u64) {}
    fn file_done(&self) {}
}

/// One reader per input format. `recognizes` sees the file's first KiB (less when the file is
/// shorter).
pub trait LogReader: Sync {
    /// The format's name, as reports show it.
    fn format(&self) -> &'static str;
    /// Whether a file starting with these bytes is in this format.
    fn recognizes(&self, head: &[u8]) -> bool;
    /// Read the whole file into the sink, accounting for every record in the report and for
    /// the bytes read as it goes.
    fn read(&self, input: &InputFile, sink: &dyn EventSink, progress: &dyn Progress)
    -> InputReport;
}

pub static READERS: &[&dyn LogReader] = &[
    &evtx::EvtxReader,
    &evt::EvtReader,
    &event_xml::EventXmlReader,
    &text::msi_log::MsiLogReader,
    &text::service_control::ServiceControlReader,
    &text::exchange_setup::ExchangeSetupReader,
    &text::clixml::ClixmlReader,
];

/// A file to read.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub id: SourceId,
    pub path: PathBuf,
    /// How reports name it: the path as given, or `-` for standard input.
    pub display: String,
    pub size: u64,
    pub format: &'static str,
    /// Standard input, spooled to an anonymous temporary file: it has no path to open.
    pub handle: Option<Arc<File>>,
    /// A file inside a zip archive (then `path` is its name inside the archive).
    pub member: Option<Arc<archive::Member>>,
    /// When the file was last written, where known: what dates a file whose content holds no
    /// time (a saved state).
    pub modified: Option<FileTime>,
}

/// A file's last-write time: a zip member's is the wall-clock time of the machine that zipped
/// it (DOS time has no zone), a file's on disk is UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTime {
    Local(chrono::NaiveDateTime),
    Utc(chrono::NaiveDateTime),
}

pub use archive::Body;

impl InputFile {
    /// The file, read from its start.
    pub fn open(&self) -> io::Result<Body> {
        if let Some(m) = &self.member {
            return m.open();
        }
        match &self.handle {
            Some(h) => {
                let mut f = h.try_clone()?;
                f.seek(io::SeekFrom::Start(0))?;
                Ok(Body::File(f))
            }
            None => File::open(&self.path).map(Body::File),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputStatus {
    /// Every record was read.
    Complete,
    /// Read, but some of it was damaged: see `errors`.
    Incomplete,
    /// Nothing could be read.
    Unreadable,
    /// Not an event log (found in a folder); skipped.
    NotAnEventLog,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct InputReport {
    pub path: String,
    #[serde(deserialize_with = "crate::labels::optional_label")]
    pub format: Option<crate::labels::Label>,
    pub status: InputStatus,
    pub size_bytes: u64,
    pub records_read: u64,
    pub records_failed: u64,
    /// Records that a signature looked at.
    pub records_used: u64,
    pub chunks: u64,
    pub chunks_damaged: u64,
    /// What went wrong, naming the chunk or record where known (the first 50).
    pub errors: Vec<String>,
    pub errors_not_shown: u64,
    /// Things worth knowing that lost no data (a log not closed cleanly, a header that undercounts).
    pub notes: Vec<String>,
    /// Which log of which computer the file holds, and the times of its oldest and newest
    /// records: what a diagnosis can say the inputs cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogSpan>,
    /// `local` for a text log, whose times are the server's wall clock without an offset; event
    /// logs keep UTC and leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<LogClock>,
    /// For a text log: which computer it was taken to be of, and how its local times were placed
    /// against the event logs' UTC (`crate::timeline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<text::Placement>,
}

/// What a log's times are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogClock {
    /// The server's local wall-clock time, no offset stored.
    Local,
}

/// The log a file holds and the time it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LogSpan {
    /// The log's name (`System`, `Application`); empty when the file does not say.
    pub name: String,
    /// The computer of its records (the first record's: a forwarded-events log mixes several).
    pub computer: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

impl LogSpan {
    /// Times only, from part of a file; the name and computer come from another part.
    pub fn times(first: DateTime<Utc>, last: DateTime<Utc>) -> Self {
        LogSpan {
            name: String::new(),
            computer: String::new(),
            first,
            last,
        }
    }

    /// One span of two parts of the same file.
    pub fn merge(a: Option<LogSpan>, b: Option<LogSpan>) -> Option<LogSpan> {
        match (a, b) {
            (Some(mut a), Some(b)) => {
                if a.name.is_empty() {
                    a.name = b.name;
                }
                if a.computer.is_empty() {
                    a.computer = b.computer;
                }
                a.first = a.first.min(b.first);
                a.last = a.last.max(b.last);
                Some(a)
            }
            (a, b) => a.or(b),
        }
    }

    /// Whether this is `log` of `computer`: case-insensitively, a short name matching the FQDN
    /// either way. A log whose records could not say their computer (its first chunk damaged) is
    /// taken for the computer's: evtriage does not claim a log is missing when one was read.
    pub fn is_of(&self, log: &str, computer: &str) -> bool {
        let short = |c: &str| c.split('.').next().unwrap_or(c).to_lowercase();
        self.name.eq_ignore_ascii_case(log)
            && (self.computer.is_empty() || short(&self.computer) == short(computer))
    }

    /// Whether this is `log` of `computer` and holds records from before `from` to after `to`.
    pub fn covers(
        &self,
        log: &str,
        computer: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> bool {
        self.is_of(log, computer) && self.first <= from && self.last >= to
    }
}

const MAX_ERRORS: usize = 50;

impl InputReport {
    pub fn new(path: &str, format: Option<&'static str>, size: u64) -> Self {
        InputReport {
            path: path.to_string(),
            format: format.map(std::borrow::Cow::Borrowed),
            status: InputStatus::Complete,
            size_bytes: size,
            records_read: 0,
            records_failed: 0,
            records_used: 0,
            chunks: 0,
            chunks_damaged: 0,
            errors: Vec::new(),
            errors_not_shown: 0,
            notes: Vec::new(),
            log: None,
            clock: None,
            placed: None,
        }
    }

    pub fn failed(
        path: &str,
        format: Option<&'static str>,
        size: u64,
        status: InputStatus,
        message: String,
    ) -> Self {
        let mut r = InputReport::new(path, format, size);
        r.status = status;
        r.errors.push(message);
        r
    }

    pub fn error(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(message);
        } else {
            self.errors_not_shown += 1;
        }
    }

    /// Merge what another part of the same file reported (chunks read on other threads).
    pub fn absorb(&mut self, other: InputReport) {
        self.records_read += other.records_read;
        self.records_failed += other.records_failed;
        self.records_used += other.records_used;
        self.chunks += other.chunks;
        self.chunks_damaged += other.chunks_damaged;
        self.errors_not_shown += other.errors_not_shown;
        for e in other.errors {
            self.error(e);
        }
        self.notes.extend(other.notes);
        self.log = LogSpan::merge(self.log.take(), other.log);
    }

    /// The report of a reader that reads a file front to back with `read`: an I/O error ends
    /// the reading (what came before it is kept), and a file of which nothing could be read is
    /// unreadable.
    pub fn of_sequential_read(
        input: &InputFile,
        format: &'static str,
        read: impl FnOnce(&mut InputReport) -> io::Result<()>,
    ) -> InputReport {
        let mut report = InputReport::new(&input.display, Some(format), input.size);
        if let Err(e) = read(&mut report) {
            report.error(format!("read error: {e}; what was read before it is used"));
        }
        if report.records_read == 0 && !report.errors.is_empty() {
            report.status = InputStatus::Unreadable;
        }
        report.settle();
        report
    }

    /// Set the status from what was counted.
    pub fn settle(&mut self) {
        let damaged = self.records_failed > 0 || self.chunks_damaged > 0 || !self.errors.is_empty();
        if self.status == InputStatus::Complete && damaged {
            // Damage with no record read at all leaves nothing that was read "incompletely".
            self.status = if self.records_read == 0 {
                InputStatus::Unreadable
            } else {
                InputStatus::Incomplete
            };
        }
    }

    pub fn is_problem(&self) -> bool {
        matches!(
            self.status,
            InputStatus::Incomplete | InputStatus::Unreadable
        )
    }
}

/// Read every file, in parallel (within the current rayon pool), one report per file.
pub fn read_all(
    files: &[InputFile],
    sink: &dyn EventSink,
    progress: &dyn Progress,
) -> Vec<InputReport> {
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|f| {
            let reader = READERS
                .iter()
                .find(|r| r.format() == f.format)
                .expect("discovery only keeps recognized formats");
            let counted = Counted {
                progress,
                reported: AtomicU64::new(0),
            };
            let report = reader.read(f, sink, &counted);
            // Readers report progress as they go, by chunk; what they did not report (headers,
            // a file that stopped early or could not be read) is done now, so that the bytes
            // done reach the total exactly when the last file is.
            let reported = counted.reported.load(Ordering::Relaxed);
            progress.bytes_read(f.size.saturating_sub(reported));
            progress.file_done();
            report
        })
        .collect()
}

/// Progress passed on, counting what a reader reported for one file.
struct Counted<'a> {
    progress: &'a dyn Progress,
    reported: AtomicU64,
}

impl Progress for Counted<'_> {
    fn bytes_read(&self, bytes: u64) {
        self.reported.fetch_add(bytes, Ordering::Relaxed);
        self.progress.bytes_read(bytes);
    }
    fn file_done(&self) {
        self.progress.file_done();
    }
}
