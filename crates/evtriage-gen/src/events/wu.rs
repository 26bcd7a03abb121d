//! Windows Update's install results (19 succeeded, 20 failed).

use super::*;

pub(crate) fn wu_system(
    id: u16,
    level: u8,
    keywords: &str,
    stamp: &Stamp,
    process: (u32, u32),
) -> Element {
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

/// 43: Windows Update started installing an update. Layout of the real record in
/// `../shared/corpus/evtx-crate/system.evtx` (Windows 10 1703: Version 1, keywords
/// 0x8000000000002008, the same three fields as 19).
pub fn wu_install_started(
    stamp: &Stamp,
    process: (u32, u32),
    title: &str,
    update_guid: &str,
    revision: u32,
) -> Element {
    event(
        wu_system(43, 4, "0x8000000000002008", stamp, process),
        named_data(
            &[
                ("updateTitle", title.into()),
                ("updateGuid", update_guid.into()),
                ("updateRevisionNumber", revision.to_string()),
            ],
            None,
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Ordinary traffic
