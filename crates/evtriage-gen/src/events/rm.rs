//! Restart Manager's events: sessions, the applications holding files, and the restarts it asks for
//! (manifest layout with `<UserData>`).

use super::*;

pub(crate) fn rm_system(
    id: u16,
    level: u8,
    stamp: &Stamp,
    sid: &str,
    process: (u32, u32),
) -> Element {
    manifest_system(
        &Manifest {
            name: "Microsoft-Windows-RestartManager",
            guid: RM_GUID,
            event_source: None,
        },
        id,
        None,
        level,
        0,
        0,
        "0x8000000000000000",
        process,
        "Application",
        stamp,
        Some(sid),
    )
}

pub(crate) fn rm_user_data(element: &str, children: Vec<Element>) -> Element {
    let mut inner = Element::new(element).attr("xmlns", RM_NS);
    inner.children = children;
    Element::new("UserData").child(inner)
}

pub(crate) fn leaf(name: &str, value: impl ToString) -> Element {
    let v = value.to_string();
    if v.is_empty() {
        Element::new(name)
    } else {
        Element::new(name).text(v)
    }
}

/// 10000 / 10001: a Restart Manager session starts or ends.
pub fn rm_session(
    stamp: &Stamp,
    sid: &str,
    process: (u32, u32),
    start: bool,
    session: u32,
    started: DateTime<Utc>,
) -> Element {
    event(
        rm_system(if start { 10000 } else { 10001 }, 4, stamp, sid, process),
        rm_user_data(
            "RmSessionEvent",
            vec![
                leaf("RmSessionId", session),
                leaf("UTCStartTime", system_time(started)),
            ],
        ),
    )
}

/// An application Restart Manager found holding files.
#[derive(Debug, Clone)]
pub struct RmApp<'a> {
    pub pid: u32,
    pub full_path: &'a str,
    pub display_name: &'a str,
    pub app_type: u32,
    pub ts_session: u32,
}

/// 10010: the application cannot be restarted (it holds files; Warning).
pub fn rm_unsupported_restart(
    stamp: &Stamp,
    sid: &str,
    process: (u32, u32),
    session: u32,
    app: &RmApp,
) -> Element {
    event(
        rm_system(10010, 3, stamp, sid, process),
        rm_user_data(
            "RmUnsupportedRestartEvent",
            vec![
                leaf("RmSessionId", session),
                leaf("Pid", app.pid),
                leaf("FullPath", app.full_path),
                leaf("DisplayName", app.display_name),
                leaf("AppVersion", 0),
                leaf("AppType", app.app_type),
                leaf("TSSessionId", app.ts_session),
                leaf("Status", 1),
                leaf("Reason", 1),
            ],
        ),
    )
}

/// 10006: the application or service could not be shut down (Error).
pub fn rm_shutdown_failed(
    stamp: &Stamp,
    sid: &str,
    process: (u32, u32),
    session: u32,
    app: &RmApp,
    files: &[&str],
) -> Element {
    let mut file_list = Element::new("Files");
    for f in files {
        file_list.children.push(leaf("File", f));
    }
    event(
        rm_system(10006, 2, stamp, sid, process),
        rm_user_data(
            "RmApplicationEvent",
            vec![
                leaf("RmSessionId", session),
                leaf("FullPath", app.full_path),
                leaf("DisplayName", app.display_name),
                leaf("AppVersion", 0),
                leaf("AppType", app.app_type),
                leaf("TSSessionId", app.ts_session),
                leaf("Status", 0x11),
                leaf("Pid", app.pid),
                leaf("nFiles", files.len()),
                file_list,
            ],
        ),
    )
}

/// 10005: a restart is required to replace files held by the listed applications.
pub fn rm_restart_required(
    stamp: &Stamp,
    sid: &str,
    process: (u32, u32),
    session: u32,
    apps: &[&str],
    reasons: u32,
) -> Element {
    let mut list = Element::new("Applications");
    for a in apps {
        list.children.push(leaf("Application", a));
    }
    event(
        rm_system(10005, 4, stamp, sid, process),
        rm_user_data(
            "RmRestartEvent",
            vec![
                leaf("RmSessionId", session),
                leaf("nApplications", apps.len()),
                list,
                leaf("RebootReasons", reasons),
            ],
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Service Control Manager (System)
