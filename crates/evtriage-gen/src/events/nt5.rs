//! Records as Windows Server 2003 (NT 5.2) writes them: every source is classic (ReportEvent), the
//! event ID carries its severity bits in `Qualifiers`, payloads are unnamed strings. Layouts from
//! shared/reference/legacy.md §3 (confirmed on real XP/2003 files unless it says otherwise):
//! - SCM 7036 `[display name, state word]` with no binary key; 7040 `[display name, old, new]` with
//!   the requester's SID and no key name; 7035 `[display name, control]`; 7000 `[display name,
//!   %%error]`;
//! - MsiInstaller (Windows Installer 3.1): four strings, `(NULL)` fillers, no 1033-1038, no
//!   1040/1042 (likely), no Restart Manager; 1023/1025 string order from the MSI documentation
//!   (likely: no real 2003 record of them was found);
//! - "Windows Update Agent" 18/19/20 with category 8, no SID and an ASCII `Win32HResult=…` data
//!   block; 20 is `[error code, title]` (likely; its siblings are confirmed).

use super::*;

/// A classic NT 5 record. `task` is the event category.
#[allow(clippy::too_many_arguments)]
fn nt5(
    provider: &str,
    id: u16,
    qualifiers: u16,
    level: u8,
    task: u16,
    channel: &str,
    stamp: &Stamp,
    sid: Option<&str>,
    strings: &[Option<&str>],
    binary: Option<&[u8]>,
) -> Element {
    let mut system = classic_system(provider, id, qualifiers, level, channel, stamp, sid);
    if let Some(t) = system.children.iter_mut().find(|c| c.name == "Task") {
        t.text = Some(task.to_string());
    }
    event(system, classic_data(strings, binary))
}

const SCM: &str = "Service Control Manager";

/// 7036: a service entered a state (the English state word; no binary key on NT 5).
pub fn nt5_scm_state(stamp: &Stamp, display: &str, running: bool) -> Element {
    let word = if running { "running" } else { "stopped" };
    nt5(
        SCM,
        7036,
        16384,
        4,
        0,
        "System",
        stamp,
        None,
        &[Some(display), Some(word)],
        None,
    )
}

/// 7035: a control was sent to a service, by `sid`.
pub fn nt5_scm_control(stamp: &Stamp, sid: &str, display: &str, stop: bool) -> Element {
    let control = if stop { "stop" } else { "start" };
    nt5(
        SCM,
        7035,
        16384,
        4,
        0,
        "System",
        stamp,
        Some(sid),
        &[Some(display), Some(control)],
        None,
    )
}

/// 7040: a service's start type changed, by `sid`: three strings, no key name.
pub fn nt5_scm_start_type(
    stamp: &Stamp,
    sid: &str,
    display: &str,
    old: &str,
    new: &str,
) -> Element {
    nt5(
        SCM,
        7040,
        16384,
        4,
        0,
        "System",
        stamp,
        Some(sid),
        &[Some(display), Some(old), Some(new)],
        None,
    )
}

/// 7000: a service failed to start; `%%1058` when it is disabled.
pub fn nt5_scm_start_failed(stamp: &Stamp, display: &str, error: &str) -> Element {
    nt5(
        SCM,
        7000,
        49152,
        2,
        0,
        "System",
        stamp,
        None,
        &[Some(display), Some(error)],
        None,
    )
}

/// An MsiInstaller record of Windows Installer 3.1: four strings, the missing ones `(NULL)`.
pub fn nt5_msi(
    stamp: &Stamp,
    sid: &str,
    id: u16,
    level: u8,
    strings: &[&str],
    binary: &[u8],
) -> Element {
    let mut padded: Vec<Option<&str>> = strings.iter().map(|s| Some(*s)).collect();
    padded.resize(4.max(strings.len()), None);
    // The same classic record as on later Windows; only the strings differ.
    super::msi::msi(id, level, stamp, sid, &padded, Some(binary))
}

/// "Windows Update Agent" 18 (ready), 19 (installed) or 20 (failed): category 8, no SID, and the
/// agent's ASCII data block ending in a space and a NUL.
pub fn nt5_wua(
    stamp: &Stamp,
    id: u16,
    strings: &[&str],
    hresult: u32,
    update_id: &str,
    revision: u32,
) -> Element {
    let data =
        format!("Win32HResult=0x{hresult:08x} UpdateID={update_id} RevisionNumber={revision} \0");
    let level = if id == 20 { 2 } else { 4 };
    let strings: Vec<Option<&str>> = strings.iter().map(|s| Some(*s)).collect();
    nt5(
        "Windows Update Agent",
        id,
        0,
        level,
        8,
        "System",
        stamp,
        None,
        &strings,
        Some(data.as_bytes()),
    )
}

/// A classic record of any other source (ordinary traffic).
pub fn nt5_other(
    stamp: &Stamp,
    provider: &str,
    id: u16,
    qualifiers: u16,
    channel: &str,
    strings: &[&str],
) -> Element {
    let strings: Vec<Option<&str>> = strings.iter().map(|s| Some(*s)).collect();
    nt5(
        provider, id, qualifiers, 4, 0, channel, stamp, None, &strings, None,
    )
}
