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

/// The event logs a diagnosis reads, by channel, and whether every Windows from Server 2008 has
/// it: Setup holds servicing; the AppX deployment service's log exists from Windows 8 / Server
/// 2012 and Windows Update's Operational log on Windows 10 / Server 2016 (not confirmed for
/// earlier versions): those two are read where they exist, and their absence is no gap.
pub const EVENT_LOGS: &[(&str, bool)] = &[
    ("Application", true),
    ("System", true),
    ("Setup", true),
    ("Microsoft-Windows-AppXDeploymentServer/Operational", false),
    ("Microsoft-Windows-WindowsUpdateClient/Operational", false),
];

/// The file a channel is kept in under `winevt\Logs`, and the name an export of it takes: its
/// name with `/` written `%4`, as Windows names them (`Microsoft-Windows-AppXDeployment%4Operational.evtx`
/// in ../shared/corpus/evtx-crate).
pub fn log_file_name(channel: &str) -> String {
    format!("{}.evtx", channel.replace('/', "%4"))
}

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
    /// An event log not every Windows has: absent, it is no gap in a collection (a folder of
    /// text logs that is absent is listed as missing, as before).
    pub optional: bool,
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
        .map(|&(name, everywhere)| Place {
            path: logs.join(log_file_name(name)),
            pattern: None,
            what: "event log",
            event_log: Some(name),
            optional: !everywhere,
        })
        .collect();
    places.push(Place {
        path: drive.join("ExchangeSetupLogs"),
        pattern: None,
        what: "Exchange setup logs (ExchangeSetup.log, ServiceControl.log, saved start modes)",
        event_log: None,
        optional: false,
    });
    places.push(Place {
        path: root.join("Temp"),
        pattern: Some("MSI*.LOG"),
        what: "Windows Installer logs",
        event_log: None,
        optional: false,
    });
    if let Some(exchange) = std::env::var_os("ExchangeInstallPath") {
        places.push(Place {
            path: PathBuf::from(exchange).join("Logging").join("Update"),
            pattern: None,
            what: "Exchange update logs",
            event_log: None,
            optional: false,
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
        (_, Some(32)) if cfg!(windows) => format!(
            "in use and not shared ({e}): run `evtriage collect`, which exports it with wevtutil"
        ),
        _ => format!("cannot open: {e}"),
    };
    let mut r = InputReport::new(shown, None, 0);
    r.status = InputStatus::Unreadable;
    r.errors.push(why);
    r
}

/// A path an installer event names as its log (MsiInstaller 1023's "Log file"), if it is one
/// evtriage may open on this computer: a local drive's absolute path to a `.log` or `.txt` file,
/// no shorter than `X:\\a.log`, within MAX_PATH. Log text is hostile: a network path would make
/// Windows connect (and offer the account's credentials) to whatever server a crafted event
/// names; device names, alternate data streams, wildcards and `..` are refused as well.
pub fn local_log_path(text: &str) -> Option<PathBuf> {
    let t = text.trim();
    let b = t.as_bytes();
    if !(7..=259).contains(&t.len()) || !b[0].is_ascii_alphabetic() || b[1] != b':' || b[2] != b'\\'
    {
        return None;
    }
    if t.chars()
        .any(|c| c.is_control() || matches!(c, '/' | '*' | '?' | '"' | '<' | '>' | '|'))
        || t[2..].contains(':')
    {
        return None;
    }
    const DEVICES: &[&str] = &[
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
        "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "conin$",
        "conout$",
    ];
    for part in t[3..].split('\\') {
        let stem = part
            .split('.')
            .next()
            .unwrap_or("")
            .trim_end()
            .to_ascii_lowercase();
        if part.is_empty()
            || part == "."
            || part == ".."
            || part.ends_with(['.', ' '])
            || DEVICES.contains(&stem.as_str())
        {
            return None;
        }
    }
    let lower = t.to_ascii_lowercase();
    (lower.ends_with(".log") || lower.ends_with(".txt")).then(|| PathBuf::from(t))
}

/// The installer logs the kept events name (`log_file`), where they are files on this computer
/// that evtriage may open, each once.
pub fn named_installer_logs(matched: &[crate::diagnosis::Matched]) -> Vec<PathBuf> {
    let mut named: Vec<PathBuf> = matched
        .iter()
        .flat_map(|m| m.hits.iter())
        .filter_map(|h| h.fields.get("log_file"))
        .filter_map(local_log_path)
        .collect();
    named.sort_by_key(|p| p.to_string_lossy().to_lowercase());
    named.dedup_by_key(|p| p.to_string_lossy().to_lowercase());
    named.retain(|p| p.is_file());
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_log_says_why_and_what_to_do() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let r = refused("C:\\Windows\\System32\\winevt\\Logs\\System.evtx", &denied);
        assert_eq!(r.status, InputStatus::Unreadable);
        assert!(
            r.errors[0].contains("run evtriage from an elevated prompt"),
            "{:?}",
            r.errors
        );
        let shared = std::io::Error::from_raw_os_error(32);
        if cfg!(windows) {
            assert!(refused("x", &shared).errors[0].contains("evtriage collect"));
        }
    }

    #[test]
    fn only_local_log_files_are_opened() {
        assert!(local_log_path("C:\\Windows\\TEMP\\MSI4f2a1.LOG").is_some());
        assert!(local_log_path(" D:\\logs\\rollup retry.txt ").is_some());
        for hostile in [
            "\\\\attacker.example\\share\\x.log",
            "\\\\?\\C:\\x.log",
            "\\\\.\\PhysicalDrive0",
            "C:\\Windows\\..\\x.log",
            "C:\\x\\CON.log",
            "C:\\x\\nul .log",
            "C:\\x.log:stream",
            "C:\\Windows\\System32\\config\\SAM",
            "C:\\x\\*.log",
            "C:/x/y.log",
            "C:\\x\\a\nb.log",
            "relative\\x.log",
        ] {
            assert!(local_log_path(hostile).is_none(), "{hostile}");
        }
    }
}
