//! `evtriage collect`: what the customer runs on the server. The event logs a diagnosis reads
//! are exported (`wevtutil epl`, which copies a consistent snapshot while the service writes;
//! where it is missing or fails, a shared-read copy), the text logs copied from their known
//! places ([`crate::live::places`]), and all of it written into one zip with a manifest
//! (`evtriage-manifest.json`, [`Manifest`]): the computer, its Windows, its time zone with
//! the offsets in force over the past year and a half, Exchange where the registry has it, and
//! each file's size and SHA-256. evtriage reads that zip back as a case: the manifest names the
//! computer and gives the exact offset of every text log's local times (`timeline`).
//!
//! For servers where evtriage cannot run (Windows Server 2003 to 2012 R2), [`script`] writes
//! the same collection as a PowerShell 2.0 script.
//!
//! What the registry and the system say is the customer's own computer's, but is treated like
//! log text all the same: it reaches reports only through their escaping.

pub mod manifest;
pub mod script;
pub mod system;

pub use manifest::{CollectedFile, Manifest, Missing, OffsetFrom};

use crate::live::Place;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A collection's manifest is this file at the zip's root.
pub use crate::input::COLLECTION_MANIFEST as MANIFEST_NAME;

/// Progress and problems as the collection goes, for stderr.
pub trait Report {
    fn step(&mut self, what: &str);
}

/// One file to put in the zip: where it comes from, its name inside, and how to get it.
#[derive(Debug, Clone)]
struct Item {
    source: PathBuf,
    name: String,
    event_log: Option<&'static str>,
}

/// The folder inside the zip a place's files go to.
fn folder_in_zip(place: &Place) -> &'static str {
    match (place.event_log, place.pattern) {
        (Some(_), _) => "EventLogs",
        (None, Some(_)) => "InstallerLogs",
        (None, None) if place.what.starts_with("Exchange setup") => "ExchangeSetupLogs",
        (None, None) => "ExchangeUpdateLogs",
    }
}

/// Every file the places hold, named inside the zip, and what is missing.
fn items(places: &[Place], missing: &mut Vec<Missing>) -> Vec<Item> {
    let mut items = Vec::new();
    for place in places {
        let folder = folder_in_zip(place);
        if let Some(log) = place.event_log {
            // A channel not every Windows has is collected where its file exists.
            if place.optional && !place.path.is_file() {
                continue;
            }
            items.push(Item {
                source: place.path.clone(),
                name: format!("{folder}/{}", crate::live::log_file_name(log)),
                event_log: Some(log),
            });
            continue;
        }
        if !place.path.is_dir() {
            missing.push(Missing {
                what: place.what.to_string(),
                path: place.path.to_string_lossy().into_owned(),
                why: "not on this computer".into(),
            });
            continue;
        }
        let files: Vec<PathBuf> = match place.pattern {
            Some(p) => crate::live::matching(&place.path, p),
            None => walkdir::WalkDir::new(&place.path)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .collect(),
        };
        for file in files {
            let relative = file.strip_prefix(&place.path).unwrap_or(&file);
            let inside: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            items.push(Item {
                source: file.clone(),
                name: format!("{folder}/{}", inside.join("/")),
                event_log: None,
            });
        }
    }
    items
}

/// Collects `places` into a zip written to `out`, with the manifest `system` describes.
/// `export` exports an event log to a file (`wevtutil epl` on Windows); when it fails, the log
/// is copied with shared reading. Returns the manifest written.
pub fn collect<W: Write + Seek>(
    places: &[Place],
    system: manifest::System,
    export: &dyn Fn(&str, &Path) -> Result<(), String>,
    out: W,
    report: &mut dyn Report,
) -> io::Result<Manifest> {
    let mut missing = Vec::new();
    let mut items = items(places, &mut missing);
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let staging = tempfile::tempdir()?;
    let mut files = Vec::new();
    let mut application: Option<PathBuf> = None;
    let mut at = 0;
    while at < items.len() {
        let item = items[at].clone();
        at += 1;
        report.step(&item.source.display().to_string());
        let (path, how) = match item.event_log {
            Some(log) => {
                let exported = staging.path().join(crate::live::log_file_name(log));
                match export(log, &exported) {
                    Ok(()) => (exported, "wevtutil epl"),
                    Err(why) => {
                        report.step(&format!(
                            "{log}: wevtutil epl failed ({why}); copying the file with shared reading"
                        ));
                        (item.source.clone(), "shared-read copy")
                    }
                }
            }
            None => (item.source.clone(), "copy"),
        };
        if item.event_log == Some("Application") {
            application = Some(path.clone());
        }
        match add_file(&mut zip, &path, &item.name, options) {
            Ok((size, sha256)) => files.push(CollectedFile {
                path: item.name.clone(),
                source: item.source.to_string_lossy().into_owned(),
                how: how.to_string(),
                size,
                sha256,
            }),
            Err(e) => {
                let why = match e.kind() {
                    io::ErrorKind::PermissionDenied => {
                        format!("access denied ({e}): run the collection elevated")
                    }
                    io::ErrorKind::NotFound => "not on this computer".to_string(),
                    _ => e.to_string(),
                };
                missing.push(Missing {
                    what: item.name.clone(),
                    path: item.source.to_string_lossy().into_owned(),
                    why,
                });
            }
        }
        // Once the event logs are in (they come first): the installer logs the Application log
        // names outside the places, collected too.
        let last_event_log =
            item.event_log.is_some() && items.get(at).is_none_or(|next| next.event_log.is_none());
        if last_event_log && let Some(app) = application.take() {
            let known: Vec<String> = items
                .iter()
                .map(|i| i.source.to_string_lossy().to_lowercase())
                .collect();
            for log in named_logs(&app) {
                if known.contains(&log.to_string_lossy().to_lowercase()) {
                    continue;
                }
                let name = log
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                report.step(&format!("the Application log names {}", log.display()));
                items.push(Item {
                    source: log,
                    name: format!("InstallerLogs/named/{name}"),
                    event_log: None,
                });
            }
        }
    }
    let manifest = Manifest::new(system, files, missing);
    zip.start_file(MANIFEST_NAME, options)?;
    serde_json::to_writer_pretty(&mut zip, &manifest).map_err(io::Error::other)?;
    zip.finish().map_err(io::Error::other)?;
    Ok(manifest)
}

/// The installer logs an exported Application log names (MsiInstaller 1023's "Log file"), as
/// `--live` reads them: read with the built-in signatures, each path checked before it is opened.
fn named_logs(application: &Path) -> Vec<PathBuf> {
    let diagnoser = crate::diagnosis::Diagnoser::builtin();
    let collector = crate::diagnosis::Collector::new(&diagnoser);
    let found = crate::input::discover_found(&[application.to_path_buf()], 0);
    crate::input::read_all(&found.files, &collector, &crate::input::NoProgress);
    crate::live::named_installer_logs(&collector.into_matched())
}

/// Copies one file into the zip, hashing as it goes. A failure part-way leaves an entry that
/// is removed, so the zip holds only whole files.
fn add_file<W: Write + Seek>(
    zip: &mut zip::ZipWriter<W>,
    path: &Path,
    name: &str,
    options: zip::write::SimpleFileOptions,
) -> io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    zip.start_file(name, options)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = zip.abort_file();
                return Err(e);
            }
        };
        hasher.update(&buffer[..n]);
        zip.write_all(&buffer[..n])?;
        size += n as u64;
    }
    let digest = hasher.finalize();
    Ok((size, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

/// A collection's manifest among the inputs, read back: what it says of the computer and its
/// zone (a [`KnownClock`](crate::timeline::KnownClock) for the collection's text logs), and the
/// input report that lists it, with what the collector could not collect as notes.
pub fn read_back(
    file: &crate::input::InputFile,
) -> (
    Option<crate::timeline::KnownClock>,
    crate::input::InputReport,
) {
    let mut report =
        crate::input::InputReport::new(&file.display, Some("evtriage-manifest"), file.size);
    let read = || -> Result<Manifest, String> {
        if file.size > manifest::MAX_BYTES {
            return Err(format!(
                "larger than {} MiB: not a manifest a collector wrote",
                manifest::MAX_BYTES >> 20
            ));
        }
        let mut bytes = Vec::new();
        file.open()
            .and_then(|mut b| b.by_ref().take(manifest::MAX_BYTES).read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read: {e}"))?;
        Manifest::parse(&bytes)
    };
    match read() {
        Err(why) => {
            report.status = crate::input::InputStatus::Unreadable;
            report.errors.push(why);
            (None, report)
        }
        Ok(m) => {
            let zone = &m.system.time_zone;
            report.notes.push(format!(
                "a collection of {} by {}, at {} UTC; time zone {} (UTC{:+}:{:02} then), {} offset change(s) listed; {} file(s)",
                m.system.computer,
                m.collected_by,
                crate::escape::time(m.collected_at),
                zone.name.as_deref().unwrap_or("not named"),
                zone.utc_offset_minutes / 60,
                (zone.utc_offset_minutes % 60).abs(),
                zone.offsets.len().saturating_sub(1),
                m.files.len()
            ));
            for missing in &m.missing {
                report.notes.push(format!(
                    "not collected: {} ({}): {}",
                    missing.what, missing.path, missing.why
                ));
            }
            let under = match file.display.rfind(['/', '\\']) {
                Some(i) => file.display[..i].trim_end_matches('!').to_string(),
                None => String::new(),
            };
            let clock = (!m.system.computer.is_empty()).then(|| crate::timeline::KnownClock {
                under,
                computer: Some(m.system.computer.clone()),
                zone: m.system.time_zone.clone(),
                basis: "manifest",
            });
            (clock, report)
        }
    }
}
