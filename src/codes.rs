//! What an error code is called and what it means: Win32 errors, HRESULTs and Windows Update Agent
//! results, from the tables in `data/errors/` (their sources and licenses are in its README). This
//! is data, not code written here, because a hand-picked list printed no meaning for most codes
//! real logs hold (issue 14).
//! Windows Installer's own return codes keep the wording of Microsoft's Windows Installer error
//! list ([`msi_code`]), which explains them for installs; everything else comes
//! from here, and a code in no table says so.

use serde::Serialize;
use std::sync::OnceLock;

const WIN32: &str = include_str!("../data/errors/win32.tsv");
const HRESULT: &str = include_str!("../data/errors/hresult.tsv");
const WU: &str = include_str!("../data/errors/wu.tsv");
const CBS: &str = include_str!("../data/errors/cbs.tsv");

/// What the report says of a code found in no table.
pub const UNKNOWN: &str =
    "not a code in evtriage's Win32, HRESULT, Windows Update or Windows Installer tables";

struct Table {
    rows: Vec<(u32, &'static str, &'static str)>,
}

impl Table {
    /// Rows are `code<TAB>name[<TAB>meaning]`, the code decimal or 0x hex; `#` lines are comments.
    fn parse(text: &'static str) -> Result<Table, String> {
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (code, name) = (cols.next().unwrap_or(""), cols.next());
            let code = match code.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => code.parse(),
            }
            .map_err(|e| format!("line {}: code {code:?}: {e}", n + 1))?;
            let name = name
                .filter(|n| !n.is_empty())
                .ok_or(format!("line {}: no name", n + 1))?;
            rows.push((code, name, cols.next().unwrap_or("")));
        }
        rows.sort_by_key(|r| r.0);
        if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("code 0x{:08X} is listed twice", w[0].0));
        }
        Ok(Table { rows })
    }

    fn get(&self, code: u32) -> Option<(&'static str, &'static str)> {
        let i = self.rows.binary_search_by_key(&code, |r| r.0).ok()?;
        Some((self.rows[i].1, self.rows[i].2))
    }
}

fn table(cell: &'static OnceLock<Table>, text: &'static str) -> &'static Table {
    // The tables are part of the binary and checked by the tests below: a bad one is a build bug.
    cell.get_or_init(|| Table::parse(text).expect("data/errors tables are well formed"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CodeInfo {
    pub name: &'static str,
    pub meaning: &'static str,
}

/// Windows Installer return codes (`domain.md` §3, MicrosoftDocs win32 `Msi/error-codes.md`), in
/// the wording written for installs; any other Win32 code from the tables.
pub fn msi_code(code: u64) -> Option<CodeInfo> {
    let (name, meaning) = match code {
        0 => ("ERROR_SUCCESS", "The action completed successfully."),
        1058 => (
            "ERROR_SERVICE_DISABLED",
            "The service cannot be started, either because it is disabled or because it has no enabled devices associated with it.",
        ),
        1601 => (
            "ERROR_INSTALL_SERVICE_FAILURE",
            "The Windows Installer service could not be accessed.",
        ),
        1602 => (
            "ERROR_INSTALL_USEREXIT",
            "The user canceled the installation.",
        ),
        1603 => (
            "ERROR_INSTALL_FAILURE",
            "A fatal error occurred during installation.",
        ),
        1605 => (
            "ERROR_UNKNOWN_PRODUCT",
            "This action is only valid for products that are currently installed.",
        ),
        1618 => (
            "ERROR_INSTALL_ALREADY_RUNNING",
            "Another installation is already in progress.",
        ),
        1619 => (
            "ERROR_INSTALL_PACKAGE_OPEN_FAILED",
            "The installation package could not be opened.",
        ),
        1625 => (
            "ERROR_INSTALL_PACKAGE_REJECTED",
            "The installation is forbidden by system policy.",
        ),
        1635 => (
            "ERROR_PATCH_PACKAGE_OPEN_FAILED",
            "The update package could not be opened (a missing cached .msp gives this).",
        ),
        1636 => (
            "ERROR_PATCH_PACKAGE_INVALID",
            "The update package could not be opened: it is not a valid Windows Installer update package.",
        ),
        1638 => (
            "ERROR_PRODUCT_VERSION",
            "Another version of this product is already installed.",
        ),
        1641 => (
            "ERROR_SUCCESS_REBOOT_INITIATED",
            "The installer has initiated a restart (success).",
        ),
        1642 => (
            "ERROR_PATCH_TARGET_NOT_FOUND",
            "The upgrade cannot be installed: the program to be upgraded may be missing, or the upgrade may update a different version of the program.",
        ),
        1646 => (
            "ERROR_PATCH_REMOVAL_UNSUPPORTED",
            "The update package is not a removable update package.",
        ),
        1648 => (
            "ERROR_PATCH_NO_SEQUENCE",
            "No valid sequence could be found for the set of updates.",
        ),
        3010 => (
            "ERROR_SUCCESS_REBOOT_REQUIRED",
            "A restart is required to complete the install (success; files in use are replaced at the restart).",
        ),
        _ => return u32::try_from(code).ok().and_then(win32),
    };
    Some(CodeInfo { name, meaning })
}

/// HRESULT_FROM_WIN32 for a Windows Installer return code, as Windows Update reports it.
pub fn hresult_from_win32(code: u64) -> Option<u32> {
    let code = u32::try_from(code).ok()?;
    (code != 0 && code <= 0xffff).then_some(0x8007_0000 | code)
}

/// A Win32 error code (`ERROR_…`).
pub fn win32(code: u32) -> Option<CodeInfo> {
    static CELL: OnceLock<Table> = OnceLock::new();
    let (name, meaning) = table(&CELL, WIN32).get(code)?;
    Some(CodeInfo { name, meaning })
}

/// An HRESULT: a Win32 error wrapped by HRESULT_FROM_WIN32 (0x8007xxxx), a Windows Update Agent
/// result (facility 0x24), or one of the other published HRESULTs.
pub fn hresult(code: u32) -> Option<CodeInfo> {
    static CELL: OnceLock<Table> = OnceLock::new();
    if code & 0xffff_0000 == 0x8007_0000 {
        return msi_code(u64::from(code & 0xffff));
    }
    if let Some(info) = windows_update(code) {
        return Some(info);
    }
    if code & 0xffff_0000 == 0x800f_0000 {
        static SERVICING: OnceLock<Table> = OnceLock::new();
        if let Some((name, meaning)) = table(&SERVICING, CBS).get(code) {
            return Some(CodeInfo { name, meaning });
        }
    }
    let (name, meaning) = table(&CELL, HRESULT).get(code)?;
    Some(CodeInfo { name, meaning })
}

/// A Windows Update Agent result: Microsoft's sentence for it where its error list has one, and
/// otherwise which part of the agent failed, read from the name's prefix (the header the names
/// come from carries no text).
fn windows_update(code: u32) -> Option<CodeInfo> {
    static CELL: OnceLock<Table> = OnceLock::new();
    let (name, meaning) = table(&CELL, WU).get(code)?;
    if !meaning.is_empty() {
        return Some(CodeInfo { name, meaning });
    }
    const PARTS: &[(&str, &str)] = &[
        (
            "WU_E_PT_",
            "Windows Update could not talk to the update server (protocol talker)",
        ),
        ("WU_E_DM_", "Windows Update's download manager failed"),
        ("WU_E_DS_", "Windows Update's data store failed"),
        (
            "WU_E_UH_",
            "the update handler that installs this kind of update failed",
        ),
        (
            "WU_E_AUCLIENT_",
            "the Automatic Updates client interface failed",
        ),
        ("WU_E_AU_", "Automatic Updates failed"),
        ("WU_E_DRV_", "Windows Update's driver installation failed"),
        (
            "WU_E_SETUP_",
            "Windows Update Agent could not update itself (setup)",
        ),
        (
            "WU_E_SELFUPDATE_",
            "Windows Update Agent could not update itself",
        ),
        (
            "WU_E_EE_",
            "Windows Update could not evaluate an update's applicability rules",
        ),
        ("WU_E_INVENTORY_", "Windows Update's inventory failed"),
        ("WU_E_OL_", "Windows Update's offline scan package failed"),
        ("WU_E_REPORTER_", "Windows Update could not report an event"),
        ("WU_E_REDIRECTOR_", "Windows Update's redirector failed"),
        (
            "WU_E_SIH_",
            "Windows Update's server-initiated healing failed",
        ),
        (
            "WU_E_INSTALLATION_RESULTS_",
            "Windows Update could not read its download and install results",
        ),
        (
            "WU_E_MSP_",
            "Windows Update's Windows Installer patch handling failed",
        ),
        (
            "WU_E_MSI_",
            "Windows Update's Windows Installer handling failed",
        ),
        ("WU_E_", "Windows Update Agent failed"),
        ("WU_S_", "Windows Update Agent succeeded"),
    ];
    let meaning = PARTS
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map_or("a Windows Update Agent result", |(_, m)| m);
    Some(CodeInfo { name, meaning })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_well_formed_and_complete() {
        for (name, text, at_least) in [
            ("win32", WIN32, 2700),
            ("hresult", HRESULT, 2900),
            ("wu", WU, 450),
            ("cbs", CBS, 3),
        ] {
            let t = Table::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(t.rows.len() >= at_least, "{name}: {} rows", t.rows.len());
        }
    }

    #[test]
    fn the_codes_real_logs_print() {
        // The codes of issue 14 that printed no meaning on real logs.
        for (code, name) in [
            (0x8007_3D02, "ERROR_PACKAGES_IN_USE"),
            (0x8024_0016, "WU_E_INSTALL_NOT_ALLOWED"),
            (0x8024_6007, "WU_E_DM_NOTDOWNLOADED"),
            (0x8007_3CF9, "ERROR_INSTALL_FAILED"),
            (0x8024_6013, "WU_E_DM_UPDATEREMOVED"),
            (0x800F_0984, "PSFX_E_MATCHING_BINARY_MISSING"),
            (0x800F_081F, "CBS_E_SOURCE_MISSING"),
            (0x8007_3712, "ERROR_SXS_COMPONENT_STORE_CORRUPT"),
            (0x8007_0643, "ERROR_INSTALL_FAILURE"),
            (0x8000_4005, "E_FAIL"),
        ] {
            let info = hresult(code).unwrap_or_else(|| panic!("0x{code:08X}"));
            assert_eq!(info.name, name, "0x{code:08X}");
            assert!(!info.meaning.is_empty(), "0x{code:08X}");
        }
        // Microsoft's sentence where its list has one; the part of the agent otherwise.
        assert_eq!(
            hresult(0x8024_0016).unwrap().meaning,
            "Operation tried to install while another installation was in progress or the system was pending a mandatory restart."
        );
        // Issue 23: Microsoft's sentence for a code its component list leaves out.
        assert_eq!(
            hresult(0x8024_6013).unwrap().meaning,
            "An attempt was made to access a downloaded update that has already been removed."
        );
        let sih = hresult(0x8024_5001);
        assert!(sih.is_none_or(|i| !i.meaning.is_empty()));
        assert_eq!(hresult(0xDEAD_BEEF), None);
        assert_eq!(win32(15618).unwrap().name, "ERROR_PACKAGES_IN_USE");
    }
}
