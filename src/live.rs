//! `--live` and `evtriage collect`: where this computer's logs are, when evtriage runs on the
//! server itself. The event logs are read in place from `%SystemRoot%\System32\winevt\Logs`
//! (the reader opens them shared for reading, writing and deleting, as `std::fs::File::open`
//! does on Windows, so that the Event Log service keeps writing); the text logs a case needs
//! from their known places.
//!
//! Not confirmed on a real Windows here (tested under Wine): that the Event Log service's own
//! handle lets a shared reader in on every version. Where it does not (ERROR_SHARING_VIOLATION),
//! the file is named with that reason and `evtriage collect`, which exports through `wevtutil
//! epl`, is the way.

use crate::input::{InputReport, InputStatus, display_path};
use std::path::{Path, PathBuf};

/// The event logs a diagnosis reads (Setup holds servicing, from Windows Server 2008).
pub const EVENT_LOGS: &[&str] = &["Application", "System", "Setup"];

/// What was found on this computer.
#[derive(Debug, Default)]
pub struct Located {
    /// Files and folders to read, as discovery takes them.
    pub paths: Vec<String>,
    /// Files that exist but could not be opened, with why and what to do.
    pub refused: Vec<InputReport>,
    /// What was looked for and not there (not a problem: a server without Exchange has no
    /// ExchangeSetupLogs).
    pub notes: Vec<String>,
    /// The folders of text logs read: their times are this computer's local time.
    pub text_folders: Vec<PathBuf>,
}

/// One place a case's logs may be.
#[derive(Debug, Clone)]
pub struct Place {
    /// The file, or the folder whose matching files are wanted.
    pub path: PathBuf,
    /// For a folder: a file-name pattern (`MSI*.LOG`), or every file.
    pub pattern: Option<&'static str>,
    /// What it is, for the notes and the manifest.
    pub what: &'static str,
    /// An event log (exported, not copied, by `collect`).
    pub event_log: Option<&'static str>,
}

/// Where this computer's logs are, from its environment (`SystemRoot`, `SystemDrive`,
/// `ExchangeInstallPath`): the same on every Windows from Server 2008; Server 2003's `.evt`
/// logs are not files Windows lets a reader open while it runs (`collect --script` exports
/// them).
pub fn places() -> Result<Vec<Place>, String> {
    if !cfg!(windows) {
        return Err(
            "reads the logs of the Windows computer evtriage runs on; here, name the exported logs (or a collection) instead"
                .into(),
        );
    }
    let root = std::env::var_os("SystemRoot")
        .or_else(|| std::env::var_os("windir"))
        .map(PathBuf::from)
        .ok_or("SystemRoot is not set: cannot tell where Windows is")?;
    let drive = std::env::var_os("SystemDrive")
        .map(|d| PathBuf::from(format!("{}\\", d.to_string_lossy())))
        .unwrap_or_else(|| PathBuf::from("C:\\"));
    let logs = root.join("System32").join("winevt").join("Logs");
    let mut places: Vec<Place> = EVENT_LOGS
        .iter()
        .map(|name| Place {
            path: logs.join(format!("{name}.evtx")),
            pattern: None,
            what: "event log",
            event_log: Some(name),
        })
        .collect();
    places.push(Place {
        path: drive.join("ExchangeSetupLogs"),
        pattern: None,
        what: "Exchange setup logs (ExchangeSetup.log, ServiceControl.log, saved start modes)",
        event_log: None,
    });
    places.push(Place {
        path: root.join("Temp"),
        pattern: Some("MSI*.LOG"),
        what: "Windows Installer logs",
        event_log: None,
    });
    if let Some(exchange) = std::env::var_os("ExchangeInstallPath") {
        places.push(Place {
            path: PathBuf::from(exchange).join("Logging").join("Update"),
            pattern: None,
            what: "Exchange update logs",
            event_log: None,
        });
    }
    Ok(places)
}

/// The paths `--live` reads: each place that exists and opens; the ones that do not open are
/// refused inputs that say why.
pub fn locate() -> Result<Located, String> {
    let mut found = Located::default();
    for place in places()? {
        let shown = display_path(&place.path);
        if place.event_log.is_none() && place.path.is_dir() {
            found.text_folders.push(place.path.clone());
        }
        match (&place.pattern, place.path.is_dir()) {
            (Some(pattern), true) => {
                for file in matching(&place.path, pattern) {
                    found.paths.push(file.to_string_lossy().into_owned());
                }
            }
            (None, true) => found.paths.push(place.path.to_string_lossy().into_owned()),
            (_, false) if place.event_log.is_some() => match std::fs::File::open(&place.path) {
                Ok(_) => found.paths.push(place.path.to_string_lossy().into_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    found.notes.push(format!("no {} at {shown}", place.what))
                }
                Err(e) => found.refused.push(refused(&shown, &e)),
            },
            (_, false) => found.notes.push(format!("no {} at {shown}", place.what)),
        }
    }
    Ok(found)
}

/// Files in `dir` whose names match `pattern` (one `*`, case-insensitive, as Windows matches).
pub fn matching(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let (head, tail) = pattern.split_once('*').unwrap_or((pattern, ""));
    let (head, tail) = (head.to_ascii_lowercase(), tail.to_ascii_lowercase());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            name.len() >= head.len() + tail.len()
                && name.starts_with(&head)
                && name.ends_with(&tail)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// A log that exists and would not open: why, and what to do.
pub fn refused(shown: &str, e: &std::io::Error) -> InputReport {
    // ERROR_SHARING_VIOLATION (32): the service's handle shares nothing.
    let why = match (e.kind(), e.raw_os_error()) {
        (std::io::ErrorKind::PermissionDenied, _) => format!(
            "access denied ({e}): run evtriage from an elevated prompt (Run as administrator)"
        ),
        (_, Some(32)) => format!(
            "in use and not shared ({e}): run `evtriage collect`, which exports it with wevtutil"
        ),
        _ => format!("cannot open: {e}"),
    };
    let mut r = InputReport::new(shown, None, 0);
    r.status = InputStatus::Unreadable;
    r.errors.push(why);
    r
}
