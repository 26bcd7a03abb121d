//! MsiInstaller's events: the installer transaction, files in use, update and product results,
//! restarts and the installer's own messages (classic layout, whole-second times).

use super::*;

/// An MSI product as its events name it.
#[derive(Debug, Clone)]
pub struct MsiProduct<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub language: &'a str,
    pub manufacturer: &'a str,
    pub product_code: &'a str,
}

pub(crate) fn msi(
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
pub(crate) fn msi_status_blob(p: &MsiProduct, digest: &str) -> Vec<u8> {
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
