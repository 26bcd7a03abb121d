//! `evtriage collect --script FILE`: the collection as a PowerShell 2.0 script, for servers
//! where evtriage cannot run (Rust's Windows targets need Windows 10 / Server 2016; Exchange 2007
//! to 2013 run on Windows Server 2003 to 2012 R2). The script is static text (`collect.ps1`,
//! with only evtriage's version filled in): nothing from any log or computer is in it. It
//! writes the same layout and manifest as `evtriage collect`, `.evt` backups on Windows Server
//! 2003 (`Win32_NTEventLogFile.BackupEventLog`), `wevtutil epl` on 2008 and later, and one zip
//! through .NET 4.5 where present, else a folder.

const TEMPLATE: &str = include_str!("collect.ps1");

/// The script, with CRLF line ends (Windows PowerShell 2.0 reads either; Notepad on 2003 only
/// these) and a UTF-8 byte order mark so that PowerShell 2.0 does not read it as ANSI (it is
/// ASCII today; the mark keeps it right if it ever is not).
pub fn text() -> String {
    let body = TEMPLATE.replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    let mut out = String::from("\u{feff}");
    for line in body.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_script_is_ascii_and_names_its_version() {
        let s = super::text();
        assert!(s.trim_start_matches('\u{feff}').is_ascii());
        assert!(s.contains(&format!(
            "$ScriptVersion = \"{}\"",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(!s.contains("@VERSION@"));
        assert!(s.lines().all(|l| !l.contains('\n')));
        assert_eq!(s.matches("\r\n").count(), s.matches('\n').count());
    }
}
