//! The ordinary events around an incident: EventLog, kernel boot, time sync, classic applications
//! and software protection.

use super::*;

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
    kernel_boot_of(stamp, start, (6, 1, 7601))
}

/// Kernel-General 12 of a given Windows (major, minor, build); the layout is the real one of
/// `../shared/corpus/evtx-crate/system.evtx` (Windows 10 build 15063).
pub fn kernel_boot_of(stamp: &Stamp, start: DateTime<Utc>, version: (u32, u32, u32)) -> Element {
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
                ("MajorVersion", version.0.to_string()),
                ("MinorVersion", version.1.to_string()),
                ("BuildVersion", version.2.to_string()),
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
