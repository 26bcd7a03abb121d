//! Windows' own servicing and app deployment, and the crashes beside them: the Setup log's
//! Servicing events, the AppX deployment service's Operational log, Windows Error Reporting's
//! reports and application crashes (Application log).
//!
//! Layouts, and where they come from:
//! - Servicing (Setup log): `<UserData>` with `CbsPackageInitiateChanges` (event 1:
//!   PackageIdentifier, InitialPackageState, InitialPackageStateTextized, IntendedPackageState,
//!   IntendedPackageStateTextized, Client) or `CbsPackageChangeState` (2, 3, 4, 6: PackageIdentifier,
//!   IntendedPackageState, IntendedPackageStateTextized, ErrorCode, Client), namespace
//!   `http://manifests.microsoft.com/win/2004/08/windows/setup_provider`, as in a real Setup record
//!   quoted in public code (computer zx-176, 2018: event 3, KB4134661, 5064 Staged, 0x800f0816,
//!   WindowsUpdateAgent) and other public parsers' fixtures; the state numbers 5000 Absent, 5064
//!   Staged, 5112 Installed from the same records.
//! - AppXDeployment-Server (its Operational log): named `<EventData>` with the fields the
//!   provider's manifest gives (OSSEM's data dictionary: 400 DeploymentOperation, PackageFullName,
//!   Path…; 404 SummaryError, PackageFullName, ErrorCode, …); the 0x80073D02 text after a real one
//!   quoted in a Microsoft Q&A thread. Not confirmed: the provider GUID written here, and the task
//!   and opcode numbers; nothing reads them.
//! - Windows Error Reporting 1001 and Application Error 1000: classic, unnamed `<Data>` in the
//!   order of the real records in `../shared/corpus` (a WindowsUpdateFailure report, a rundll32
//!   crash); which P parameter of a WindowsServicingFailureInfo report holds the code is not
//!   confirmed: P2 here.

use super::*;

const SERVICING_GUID: &str = "{BD12F3B8-FC40-4A61-A307-B7A013A069C1}";
const SETUP_NS: &str = "http://manifests.microsoft.com/win/2004/08/windows/setup_provider";
const APPX_GUID: &str = "{3F471139-ACB7-4A01-B7A7-FF5DA4BA2D43}";
pub const APPX_CHANNEL: &str = "Microsoft-Windows-AppXDeploymentServer/Operational";

/// A package state as Servicing writes it: its number and its word.
#[derive(Debug, Clone, Copy)]
pub enum PackageState {
    Absent,
    Staged,
    Installed,
}

impl PackageState {
    fn number(self) -> u32 {
        match self {
            PackageState::Absent => 5000,
            PackageState::Staged => 5064,
            PackageState::Installed => 5112,
        }
    }
    fn word(self) -> &'static str {
        match self {
            PackageState::Absent => "Absent",
            PackageState::Staged => "Staged",
            PackageState::Installed => "Installed",
        }
    }
}

fn servicing_system(id: u16, level: u8, stamp: &Stamp) -> Element {
    manifest_system(
        &Manifest {
            name: "Microsoft-Windows-Servicing",
            guid: SERVICING_GUID,
            event_source: None,
        },
        id,
        None,
        level,
        1,
        0,
        "0x8000000000000000",
        (7924, 6252),
        "Setup",
        stamp,
        Some(SYSTEM_SID),
    )
}

fn setup_user_data(element: &str, children: Vec<Element>) -> Element {
    let mut inner = Element::new(element).attr("xmlns", SETUP_NS);
    inner.children = children;
    Element::new("UserData").child(inner)
}

/// Servicing 1: initiating changes for `package` from `from` to `to`.
pub fn servicing_initiate(
    stamp: &Stamp,
    package: &str,
    from: PackageState,
    to: PackageState,
) -> Element {
    event(
        servicing_system(1, 0, stamp),
        setup_user_data(
            "CbsPackageInitiateChanges",
            vec![
                leaf("PackageIdentifier", package),
                leaf("InitialPackageState", from.number()),
                leaf("InitialPackageStateTextized", from.word()),
                leaf("IntendedPackageState", to.number()),
                leaf("IntendedPackageStateTextized", to.word()),
                leaf("Client", "UpdateAgentLCU"),
            ],
        ),
    )
}

/// Servicing 2 (changed), 3 (failed with `error`), 4 (a reboot is necessary) or 6 (failed, left
/// partially installed) for `package` and the state it was to reach.
pub fn servicing_change(
    stamp: &Stamp,
    id: u16,
    package: &str,
    to: PackageState,
    error: u32,
) -> Element {
    let level = match id {
        3 | 6 => 2,
        _ => 0,
    };
    event(
        servicing_system(id, level, stamp),
        setup_user_data(
            "CbsPackageChangeState",
            vec![
                leaf("PackageIdentifier", package),
                leaf("IntendedPackageState", to.number()),
                leaf("IntendedPackageStateTextized", to.word()),
                leaf("ErrorCode", format!("0x{error:x}")),
                leaf("Client", "UpdateAgentLCU"),
            ],
        ),
    )
}

fn appx_system(id: u16, level: u8, stamp: &Stamp) -> Element {
    manifest_system(
        &Manifest {
            name: "Microsoft-Windows-AppXDeployment-Server",
            guid: APPX_GUID,
            event_source: None,
        },
        id,
        None,
        level,
        0,
        0,
        "0x4000000000000000",
        (5412, 7716),
        APPX_CHANNEL,
        stamp,
        Some(SYSTEM_SID),
    )
}

/// AppXDeployment-Server 400: a deployment of `package_full_name` finished.
pub fn appx_deployed(stamp: &Stamp, package_full_name: &str) -> Element {
    event(
        appx_system(400, 4, stamp),
        named_data(
            &[
                ("DeploymentOperation", "1".into()),
                ("PackageFullName", package_full_name.into()),
                (
                    "Path",
                    format!("C:\\Program Files\\WindowsApps\\{package_full_name}"),
                ),
                ("MountPoint", "".into()),
                ("TargetPlatform", "0x0".into()),
                ("SystemVolume", "true".into()),
                ("StorageId", "".into()),
                ("IsCentennial", "false".into()),
                ("PackageType", "0x1".into()),
                ("IsPackageEncrypted", "false".into()),
                ("DeploymentOptions", "0x0".into()),
                ("IsStreamingPackage", "false".into()),
                ("IsInRelatedSet", "false".into()),
                ("IsPackageUsingBDC", "false".into()),
                ("MainPackageFamilyName", "".into()),
                ("CallingProcess", "svchost.exe".into()),
                ("IsOptional", "false".into()),
                ("PackageFlags", "0x0".into()),
            ],
            None,
        ),
    )
}

/// AppXDeployment-Server 404: a deployment of `package_full_name` failed with `error`; for
/// 0x80073D02 the text names `in_use`, the packages to close.
pub fn appx_failed(stamp: &Stamp, package_full_name: &str, error: u32, in_use: &[&str]) -> Element {
    let summary = if error == 0x8007_3D02 {
        format!(
            "error 0x80073D02: Unable to install because the following apps need to be closed {}.",
            in_use.join(" ")
        )
    } else {
        format!("error 0x{error:08X}: The deployment operation failed.")
    };
    event(
        appx_system(404, 2, stamp),
        named_data(
            &[
                ("SummaryError", summary),
                ("PackageFullName", package_full_name.into()),
                ("ErrorCode", format!("0x{error:X}")),
                ("MountPoint", "".into()),
                ("TargetPlatform", "0x0".into()),
                ("CallingProcess", "svchost.exe".into()),
            ],
            None,
        ),
    )
}

/// Application Error 1000: `app` crashed (exception `code` in `module`).
pub fn app_crash(stamp: &Stamp, app: &str, module: &str, code: u32, pid: u32) -> Element {
    let (image, module_path) = (
        "C:\\Windows\\system32\\svchost.exe".to_string(),
        format!("C:\\Windows\\System32\\{module}"),
    );
    event(
        classic_system("Application Error", 1000, 0, 2, "Application", stamp, None),
        classic_data(
            &[
                Some(app),
                Some("10.0.19041.1202"),
                Some("d3c1b2a4"),
                Some(module),
                Some("10.0.19041.1237"),
                Some("7d1a0f23"),
                Some(&format!("{code:08x}")),
                Some("0000000000041c7e"),
                Some(&format!("{pid:x}")),
                Some("01d7a9f3c2b84d10"),
                Some(&image),
                Some(&module_path),
                Some("5f0e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"),
                Some(""),
                Some(""),
            ],
            None,
        ),
    )
}

/// Windows Error Reporting 1001: a report of `event_name` with parameters `p`.
pub fn wer_report(stamp: &Stamp, event_name: &str, p: &[&str]) -> Element {
    let mut data: Vec<Option<&str>> = vec![
        Some(""),
        Some("0"),
        Some(event_name),
        Some("Not available"),
        Some("0"),
    ];
    for i in 0..10 {
        data.push(Some(p.get(i).copied().unwrap_or("")));
    }
    for rest in ["", "", "0", "a86962e8-3bff-11e3-ad72-00155de6c5e3", "0"] {
        data.push(Some(rest));
    }
    event(
        classic_system(
            "Windows Error Reporting",
            1001,
            0,
            4,
            "Application",
            stamp,
            None,
        ),
        classic_data(&data, None),
    )
}
