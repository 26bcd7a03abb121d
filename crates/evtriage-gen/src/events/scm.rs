//! Service Control Manager's events: state changes (7036), start-type changes (7040) and start
//! failures (7000, 7001), with the key name in `<Binary>` where Windows puts it.

use super::*;

pub(crate) fn scm_system(
    id: u16,
    error: bool,
    stamp: &Stamp,
    sid: Option<&str>,
    process: (u32, u32),
) -> Element {
    manifest_system(
        &Manifest {
            name: "Service Control Manager",
            guid: SCM_GUID,
            event_source: Some("Service Control Manager"),
        },
        id,
        Some(if error { 49152 } else { 16384 }),
        if error { 2 } else { 4 },
        0,
        0,
        "0x8080000000000000",
        process,
        "System",
        stamp,
        sid,
    )
}

/// UTF-16LE with a terminating NUL, as SCM stores key names in `<Binary>`.
pub fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// 7036: a service entered a state; the binary holds `Key/state-code` (1 stopped, 4 running).
pub fn scm_state(
    stamp: &Stamp,
    process: (u32, u32),
    display: &str,
    state_text: &str,
    key: &str,
    state_code: u32,
) -> Element {
    let binary = utf16z(&format!("{key}/{state_code}"));
    event(
        scm_system(7036, false, stamp, None, process),
        named_data(
            &[("param1", display.into()), ("param2", state_text.into())],
            Some(&binary),
        ),
    )
}

/// 7040: a service's start type changed; `sid` is who asked for it.
pub fn scm_start_type(
    stamp: &Stamp,
    process: (u32, u32),
    sid: &str,
    display: &str,
    old: &str,
    new: &str,
    key: &str,
) -> Element {
    event(
        scm_system(7040, false, stamp, Some(sid), process),
        named_data(
            &[
                ("param1", display.into()),
                ("param2", old.into()),
                ("param3", new.into()),
                ("param4", key.into()),
            ],
            None,
        ),
    )
}

/// 7000: a service failed to start; `error` is the parameter-message reference, e.g. `%%1058`.
pub fn scm_start_failed(
    stamp: &Stamp,
    process: (u32, u32),
    display: &str,
    error: &str,
    key: &str,
) -> Element {
    event(
        scm_system(7000, true, stamp, None, process),
        named_data(
            &[("param1", display.into()), ("param2", error.into())],
            Some(&utf16z(key)),
        ),
    )
}

/// 7001: a service could not start because a service it depends on failed.
pub fn scm_dependency_failed(
    stamp: &Stamp,
    process: (u32, u32),
    dependent: &str,
    dependency: &str,
    error: &str,
    dependent_key: &str,
) -> Element {
    event(
        scm_system(7001, true, stamp, None, process),
        named_data(
            &[
                ("param1", dependent.into()),
                ("param2", dependency.into()),
                ("param3", error.into()),
            ],
            Some(&utf16z(dependent_key)),
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Windows Update client (System)

/// 7031: a service terminated unexpectedly, `times` times, and SCM will restart it. Parameters
/// as Windows 7 and later write them (display name, count, delay in ms, action number, action);
/// the key name in the binary as 7036 carries it (for 7031 not confirmed: nothing here depends
/// on it, the display name is read where the binary gives no key).
pub fn scm_terminated(
    stamp: &Stamp,
    process: (u32, u32),
    display: &str,
    key: &str,
    times: u32,
) -> Element {
    let binary = utf16z(key);
    event(
        scm_system(7031, true, stamp, None, process),
        named_data(
            &[
                ("param1", display.into()),
                ("param2", times.to_string()),
                ("param3", "120000".into()),
                ("param4", "1".into()),
                ("param5", "Restart the service".into()),
            ],
            Some(&binary),
        ),
    )
}
