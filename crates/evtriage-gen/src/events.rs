//! Event XML for the events evtriage reads and for the ordinary traffic around them, laid out as
//! Windows Server 2008 R2 writes them (see `shared/reference/domain.md` §2): classic sources
//! (MsiInstaller, EventLog, ESE, MSExchange*) without Version/Opcode/Correlation/Execution and with
//! whole-second times; manifest providers (Service Control Manager, RestartManager,
//! WindowsUpdateClient) with them. Values are what the caller passes; nothing here is invented.
//!
//! Over 700 lines on purpose: one constructor per event layout, each short, kept side by side so that
//! the layouts of one provider can be compared with each other and with the reference at a glance.

use chrono::{DateTime, SubsecRound, Utc};
use evtriage::values::to_hex_upper;
use evtriage_writer::xmltree::Element;

pub const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";
pub const RM_NS: &str = "http://www.microsoft.com/2005/08/Windows/Reliability/RestartManager/";
pub const SYSTEM_SID: &str = "S-1-5-18";

const SCM_GUID: &str = "{555908d1-a6d7-4695-8e1e-26931d2012f4}";
const RM_GUID: &str = "{0888e5ef-9b98-4695-979d-e92ce4247224}";
const WU_GUID: &str = "{945a8954-c147-4acd-923f-40c45405a658}";
const KERNEL_GENERAL_GUID: &str = "{a68ca8b7-004f-d7b6-a698-07e2de0f1f5d}";
const TIME_SERVICE_GUID: &str = "{06edcfeb-0fd0-4e53-acca-a6f8bbf81bcb}";

/// Where and when an event is written.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    pub computer: &'a str,
    pub time: DateTime<Utc>,
}

fn system_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The `<System>` of a classic (ReportEvent) source.
fn classic_system(
    provider: &str,
    event_id: u16,
    qualifiers: u16,
    level: u8,
    channel: &str,
    stamp: &Stamp,
    sid: Option<&str>,
) -> Element {
    let mut security = Element::new("Security");
    if let Some(sid) = sid {
        security = security.attr("UserID", sid);
    }
    Element::new("System")
        .child(Element::new("Provider").attr("Name", provider))
        .child(
            Element::new("EventID")
                .attr("Qualifiers", qualifiers.to_string())
                .text(event_id.to_string()),
        )
        .child(Element::new("Level").text(level.to_string()))
        .child(Element::new("Task").text("0"))
        .child(Element::new("Keywords").text("0x80000000000000"))
        // ReportEvent stamps whole seconds.
        .child(
            Element::new("TimeCreated")
                .attr("SystemTime", system_time(stamp.time.trunc_subsecs(0))),
        )
        .child(Element::new("EventRecordID").text("0"))
        .child(Element::new("Channel").text(channel))
        .child(Element::new("Computer").text(stamp.computer))
        .child(security)
}

/// Identity of a manifest provider as its records name it.
struct Manifest<'a> {
    name: &'a str,
    guid: &'a str,
    event_source: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
fn manifest_system(
    provider: &Manifest,
    event_id: u16,
    qualifiers: Option<u16>,
    level: u8,
    task: u16,
    opcode: u8,
    keywords: &str,
    process: (u32, u32),
    channel: &str,
    stamp: &Stamp,
    sid: Option<&str>,
) -> Element {
    let mut p = Element::new("Provider")
        .attr("Name", provider.name)
        .attr("Guid", provider.guid);
    if let Some(src) = provider.event_source {
        p = p.attr("EventSourceName", src);
    }
    let mut id = Element::new("EventID").text(event_id.to_string());
    if let Some(q) = qualifiers {
        id = id.attr("Qualifiers", q.to_string());
    }
    let mut security = Element::new("Security");
    if let Some(sid) = sid {
        security = security.attr("UserID", sid);
    }
    Element::new("System")
        .child(p)
        .child(id)
        .child(Element::new("Version").text("0"))
        .child(Element::new("Level").text(level.to_string()))
        .child(Element::new("Task").text(task.to_string()))
        .child(Element::new("Opcode").text(opcode.to_string()))
        .child(Element::new("Keywords").text(keywords))
        .child(Element::new("TimeCreated").attr("SystemTime", system_time(stamp.time)))
        .child(Element::new("EventRecordID").text("0"))
        .child(Element::new("Correlation"))
        .child(
            Element::new("Execution")
                .attr("ProcessID", process.0.to_string())
                .attr("ThreadID", process.1.to_string()),
        )
        .child(Element::new("Channel").text(channel))
        .child(Element::new("Computer").text(stamp.computer))
        .child(security)
}

fn event(system: Element, payload: Element) -> Element {
    Element::new("Event")
        .attr("xmlns", EVENT_NS)
        .child(system)
        .child(payload)
}

/// Classic `<EventData>`: the insertion strings, `None` as `(NULL)`, then `<Binary>` when given.
fn classic_data(strings: &[Option<&str>], binary: Option<&[u8]>) -> Element {
    let mut ed = Element::new("EventData");
    for s in strings {
        let d = Element::new("Data");
        ed.children.push(match s {
            None => d.text("(NULL)"),
            Some("") => d,
            Some(s) => d.text(*s),
        });
    }
    if let Some(b) = binary {
        ed.children
            .push(Element::new("Binary").text(to_hex_upper(b)));
    }
    ed
}

fn named_data(fields: &[(&str, String)], binary: Option<&[u8]>) -> Element {
    let mut ed = Element::new("EventData");
    for (name, value) in fields {
        let d = Element::new("Data").attr("Name", *name);
        ed.children.push(if value.is_empty() {
            d
        } else {
            d.text(value.clone())
        });
    }
    if let Some(b) = binary {
        ed.children
            .push(Element::new("Binary").text(to_hex_upper(b)));
    }
    ed
}

// ---------------------------------------------------------------------------------------------
// MsiInstaller (Application)

/// An MSI product as its events name it.
#[derive(Debug, Clone)]
pub struct MsiProduct<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub language: &'a str,
    pub manufacturer: &'a str,
    pub product_code: &'a str,
}

fn msi(
    id: u16,
    level: u8,
    stamp: &Stamp,
    sid: &str,
    data: &[Option<&str>],
    binary: Option<&[u8]>,
) -> Element {
    event(
        classic_system(
            "MsiInstaller",
            id,
            0,
            level,
            "Application",
            stamp,
            Some(sid),
        ),
        classic_data(data, binary),
    )
}

/// 1040 / 1042: a Windows Installer transaction begins or ends.
pub fn msi_transaction(
    stamp: &Stamp,
    sid: &str,
    begin: bool,
    package: &str,
    client_pid: u32,
) -> Element {
    let pid = client_pid.to_string();
    msi(
        if begin { 1040 } else { 1042 },
        4,
        stamp,
        sid,
        &[Some(package), Some(&pid), None, None, None, None, Some("")],
        None,
    )
}

/// 1025: a file the installer must replace is held by a process.
pub fn msi_file_in_use(
    stamp: &Stamp,
    sid: &str,
    p: &MsiProduct,
    file: &str,
    process: &str,
    pid: u32,
) -> Element {
    let pid = pid.to_string();
    msi(
        1025,
        4,
        stamp,
        sid,
        &[
            Some(p.name),
            Some(file),
            Some(process),
            Some(&pid),
            None,
            None,
            Some(""),
        ],
        Some(p.product_code.as_bytes()),
    )
}

/// 1022 (installed), 1023 (failed, with log file) or 1024 (failed, no log file).
pub fn msi_update_result(
    stamp: &Stamp,
    sid: &str,
    p: &MsiProduct,
    update: &str,
    patch_code: &str,
    error: u32,
    log_file: Option<&str>,
) -> Element {
    let code = error.to_string();
    if error == 0 {
        let binary = format!("{} {}", p.product_code, patch_code);
        return msi(
            1022,
            4,
            stamp,
            sid,
            &[Some(p.name), Some(update), None, None, None, None, Some("")],
            Some(binary.as_bytes()),
        );
    }
    let binary = format!("{} {} {}", p.product_code, patch_code, error);
    match log_file {
        Some(log) => msi(
            1023,
            2,
            stamp,
            sid,
            &[
                Some(p.name),
                Some(update),
                Some(&code),
                Some(log),
                None,
                None,
                Some(""),
            ],
            Some(binary.as_bytes()),
        ),
        None => msi(
            1024,
            2,
            stamp,
            sid,
            &[
                Some(p.name),
                Some(update),
                Some(&code),
                None,
                None,
                None,
                Some(""),
            ],
            Some(binary.as_bytes()),
        ),
    }
}

/// The product-code-plus-digest blob 1033/1036/1038 carry (its tail is an opaque digest).
fn msi_status_blob(p: &MsiProduct, digest: &str) -> Vec<u8> {
    format!("{}0000{digest}", p.product_code).into_bytes()
}

/// 1036: Windows Installer installed an update, with its success or error status.
pub fn msi_update_status(
    stamp: &Stamp,
    sid: &str,
    p: &MsiProduct,
    update: &str,
    status: u32,
    digest: &str,
) -> Element {
    let status = status.to_string();
    msi(
        1036,
        4,
        stamp,
        sid,
        &[
            Some(p.name),
            Some(p.version),
            Some(p.language),
            Some(update),
            Some(&status),
            Some(p.manufacturer),
            Some(""),
        ],
        Some(&msi_status_blob(p, digest)),
    )
}

/// 1033: Windows Installer installed the product, with its success or error status.
pub fn msi_product_status(
    stamp: &Stamp,
    sid: &str,
    p: &MsiProduct,
    status: u32,
    digest: &str,
) -> Element {
    let status = status.to_string();
    msi(
        1033,
        4,
        stamp,
        sid,
        &[
            Some(p.name),
            Some(p.version),
            Some(p.language),
            Some(&status),
            Some(p.manufacturer),
            None,
            Some(""),
        ],
        Some(&msi_status_blob(p, digest)),
    )
}

/// 1038: a restart is required (type 2 = deferred; reason 1 = files in use).
pub fn msi_restart_required(
    stamp: &Stamp,
    sid: &str,
    p: &MsiProduct,
    reboot_type: u32,
    reason: u32,
    digest: &str,
) -> Element {
    let (t, r) = (reboot_type.to_string(), reason.to_string());
    msi(
        1038,
        4,
        stamp,
        sid,
        &[
            Some(p.name),
            Some(p.version),
            Some(p.language),
            Some(&t),
            Some(&r),
            Some(p.manufacturer),
            Some(""),
        ],
        Some(&msi_status_blob(p, digest)),
    )
}

/// 1029: the restart was deferred (binary `{ProductCode}, 3010`).
pub fn msi_restart_deferred(stamp: &Stamp, sid: &str, p: &MsiProduct) -> Element {
    let binary = format!("{}, 3010", p.product_code);
    msi(
        1029,
        4,
        stamp,
        sid,
        &[Some(p.name), None, None, None, None, None, Some("")],
        Some(binary.as_bytes()),
    )
}

/// 10000 + n: an Error-table message (11707 success, 11708 failed, 11722 custom action, 10005 internal).
/// The sentence is stored whole in the record, as Windows Installer writes it.
pub fn msi_message(stamp: &Stamp, sid: &str, p: &MsiProduct, id: u16, sentence: &str) -> Element {
    let level = if matches!(id, 11707 | 11708 | 11728 | 11729) {
        4
    } else {
        2
    };
    msi(
        id,
        level,
        stamp,
        sid,
        &[Some(sentence), None, None, None, None, None, Some("")],
        Some(p.product_code.as_bytes()),
    )
}

// ---------------------------------------------------------------------------------------------
// Restart Manager (Application)

fn rm_system(id: u16, level: u8, stamp: &Stamp, sid: &str, process: (u32, u32)) -> Element {
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

fn rm_user_data(element: &str, children: Vec<Element>) -> Element {
    let mut inner = Element::new(element).attr("xmlns", RM_NS);
    inner.children = children;
    Element::new("UserData").child(inner)
}

fn leaf(name: &str, value: impl ToString) -> Element {
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

fn scm_system(
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

fn wu_system(id: u16, level: u8, keywords: &str, stamp: &Stamp, process: (u32, u32)) -> Element {
    manifest_system(
        &Manifest {
            name: "Microsoft-Windows-WindowsUpdateClient",
            guid: WU_GUID,
            event_source: None,
        },
        id,
        None,
        level,
        1,
        13,
        keywords,
        process,
        "System",
        stamp,
        Some(SYSTEM_SID),
    )
}

/// 19 (installed) or 20 (failed with `hresult`).
pub fn wu_result(
    stamp: &Stamp,
    process: (u32, u32),
    hresult: Option<u32>,
    title: &str,
    update_guid: &str,
    revision: u32,
) -> Element {
    match hresult {
        None => event(
            wu_system(19, 4, "0x8000000000000018", stamp, process),
            named_data(
                &[
                    ("updateTitle", title.into()),
                    ("updateGuid", update_guid.into()),
                    ("updateRevisionNumber", revision.to_string()),
                ],
                None,
            ),
        ),
        Some(hr) => event(
            wu_system(20, 2, "0x8000000000000028", stamp, process),
            named_data(
                &[
                    ("errorCode", format!("0x{hr:08x}")),
                    ("updateTitle", title.into()),
                    ("updateGuid", update_guid.into()),
                    ("updateRevisionNumber", revision.to_string()),
                ],
                None,
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Ordinary traffic

/// 6005 / 6006 / 6009 / 6013 of the classic EventLog source (System).
pub fn eventlog(stamp: &Stamp, id: u16, data: &[Option<&str>]) -> Element {
    let binary: &[u8] = &[];
    event(
        classic_system("EventLog", id, 32768, 4, "System", stamp, None),
        classic_data(data, if data.is_empty() { None } else { Some(binary) }),
    )
}

/// Kernel-General 12 (the operating system started) with its version fields.
pub fn kernel_boot(stamp: &Stamp, start: DateTime<Utc>) -> Element {
    event(
        manifest_system(
            &Manifest {
                name: "Microsoft-Windows-Kernel-General",
                guid: KERNEL_GENERAL_GUID,
                event_source: None,
            },
            12,
            None,
            4,
            0,
            0,
            "0x8000000000000000",
            (4, 8),
            "System",
            stamp,
            Some(SYSTEM_SID),
        ),
        named_data(
            &[
                ("MajorVersion", "6".into()),
                ("MinorVersion", "1".into()),
                ("BuildVersion", "7601".into()),
                ("QfeVersion", "17514".into()),
                ("ServiceVersion", "1".into()),
                ("BootMode", "0".into()),
                ("StartTime", system_time(start)),
            ],
            None,
        ),
    )
}

/// Time-Service 37 ("receiving valid time data from …").
pub fn time_sync(stamp: &Stamp, process: (u32, u32), peer: &str) -> Element {
    event(
        manifest_system(
            &Manifest {
                name: "Microsoft-Windows-Time-Service",
                guid: TIME_SERVICE_GUID,
                event_source: None,
            },
            37,
            None,
            4,
            0,
            0,
            "0x8000000000000000",
            process,
            "System",
            stamp,
            Some("S-1-5-19"),
        ),
        named_data(&[("TimeSource", peer.into())], None),
    )
}

/// A classic Application event of another source (ESE, MSExchange*, Winlogon …) with its strings.
pub fn classic_app(
    stamp: &Stamp,
    source: &str,
    id: u16,
    qualifiers: u16,
    level: u8,
    task: u16,
    strings: &[&str],
) -> Element {
    let data: Vec<Option<&str>> = strings.iter().map(|s| Some(*s)).collect();
    let mut e = event(
        classic_system(source, id, qualifiers, level, "Application", stamp, None),
        classic_data(&data, None),
    );
    if task != 0
        && let Some(t) = e.children[0].children.iter_mut().find(|c| c.name == "Task")
    {
        t.text = Some(task.to_string());
    }
    e
}

/// Software Protection Platform (a manifest provider written the classic way, with an
/// EventSourceName, like Service Control Manager).
pub fn spp(stamp: &Stamp, id: u16, strings: &[&str]) -> Element {
    let system = manifest_system(
        &Manifest {
            name: "Microsoft-Windows-Security-SPP",
            guid: "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}",
            event_source: Some("Software Protection Platform Service"),
        },
        id,
        Some(16384),
        4,
        0,
        0,
        "0x80000000000000",
        (0, 0),
        "Application",
        stamp,
        None,
    );
    let data: Vec<Option<&str>> = strings.iter().map(|s| Some(*s)).collect();
    event(system, classic_data(&data, None))
}

/// Set the record number of an event built here (they are built with 0 and numbered when written).
pub fn set_record_id(event: &mut Element, id: u64) {
    if let Some(r) = child_mut(event, "System", "EventRecordID") {
        r.text = Some(id.to_string());
    }
}

/// `<outer><inner>` of an event, e.g. `System`/`Computer` or `EventData`/`Binary`.
pub fn child_mut<'e>(event: &'e mut Element, outer: &str, inner: &str) -> Option<&'e mut Element> {
    event
        .children
        .iter_mut()
        .find(|c| c.name == outer)
        .and_then(|s| s.children.iter_mut().find(|c| c.name == inner))
}
