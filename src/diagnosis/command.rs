//! The one place where a value enters a command that a support engineer pastes into an elevated
//! shell on a production server. Every such value was read from a log, and log text is written by
//! whoever wants to (any local program can log under any source name; a log file can be crafted
//! whole), so a value gets into a command only through [`Kind::validate`] and then [`render`]:
//!
//! - PowerShell: text values become one single-quoted literal ([`ps_literal`]); numbers are
//!   re-printed from the parsed integer; start modes are one of five constants. A single-quoted
//!   literal expands nothing (`$(…)`, backticks, wildcards passed to `-LiteralPath`), so what the
//!   value holds is data. PowerShell also takes U+2018–U+201B as single quotes: they are doubled too.
//! - cmd.exe has no quoting that stops `%VAR%`, `^`, `&`, `|`, `<`, `>` or `!` in every context, so
//!   a cmd line is printed only when every value in it is made of [`CMD_SAFE`] characters alone.
//!
//! A value that fails removes its command; the step then says which command was left out, why,
//! and shows the value escaped, so that the engineer sees what the log tried.

use crate::escape::{display, is_unsafe_char};

/// What a placeholder holds, and so where it may go and how it is written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text from a log (titles, products, messages, computer names): never in a command.
    Text,
    /// A count or code that evtriage computed or parsed: digits only.
    Number,
    /// A time evtriage formatted, ISO 8601 in UTC (`2011-11-09T03:02:10Z`).
    Time,
    /// `KB` and five to eight digits.
    Kb,
    /// `0x` and eight hex digits.
    HResult,
    /// A Windows Installer package's file name (`…\.msi` or `…\.msp`), no folder.
    PackageName,
    /// An app package's name (`Microsoft.WindowsCalculator`): what the AppX manifest schema allows
    /// a package name to be, 3 to 50 of `A-Z a-z 0-9 . -`.
    AppPackage,
    /// A path on a local drive (`C:\…`); never UNC, a device or a relative path.
    LocalPath,
    /// A process name as Windows Installer logs it (no folder, no `.exe`).
    ProcessName,
    /// A process ID above 4 (0 is the idle process, 4 the System process).
    Pid,
    /// A service's key name, as `sc.exe` and `-Name` take it.
    ServiceKey,
    /// A service's display name: only ever compared, in a quoted lookup.
    ServiceDisplay,
    /// The PowerShell pipeline head that selects one service: by key name, or by display name
    /// through a quoted comparison when the logs do not give the key name. PowerShell only.
    ServiceSelector,
    /// A start type in the words of `Set-Service` or `sc.exe` (a constant, never log text).
    StartMode,
}

/// Characters a cmd.exe line may hold where a value stands. No space (it splits arguments), no
/// quote, `%`, `^`, `&`, `|`, `<`, `>`, `!`, parentheses or wildcards.
pub const CMD_SAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:\\$";

const START_MODES: &[&str] = &[
    "Automatic",
    "Manual",
    "Disabled",
    "Boot",
    "System",
    "auto",
    "demand",
    "disabled",
    "boot",
    "system",
];

impl Kind {
    /// The placeholder kinds a command may hold, and in which shells.
    pub fn allowed_in(self, shell: Shell) -> bool {
        match self {
            Kind::Text => false,
            Kind::ServiceSelector | Kind::ServiceDisplay | Kind::Time => shell == Shell::PowerShell,
            _ => true,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "free text",
            Kind::Number => "a number",
            Kind::Time => "a time",
            Kind::Kb => "a KB number",
            Kind::HResult => "an HRESULT",
            Kind::PackageName => "a package file name",
            Kind::AppPackage => "an app package name",
            Kind::LocalPath => "a local path",
            Kind::ProcessName => "a process name",
            Kind::Pid => "a process ID",
            Kind::ServiceKey => "a service key name",
            Kind::ServiceDisplay => "a service display name",
            Kind::ServiceSelector => "a service",
            Kind::StartMode => "a start type",
        }
    }

    /// Why `value` cannot stand in a command as this kind, or `Ok`.
    pub fn validate(self, value: &str) -> Result<(), String> {
        let ok = match self {
            Kind::Text => return Err("free text never enters a command".into()),
            Kind::Number => {
                !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit())
            }
            Kind::Time => {
                let b = value.as_bytes();
                b.len() == 20
                    && b.iter().enumerate().all(|(i, c)| match i {
                        4 | 7 => *c == b'-',
                        10 => *c == b'T',
                        13 | 16 => *c == b':',
                        19 => *c == b'Z',
                        _ => c.is_ascii_digit(),
                    })
            }
            Kind::Kb => {
                let digits = value.strip_prefix("KB").unwrap_or("");
                (5..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
            }
            Kind::HResult => {
                let hex = value.strip_prefix("0x").unwrap_or("");
                hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit())
            }
            Kind::PackageName => is_package_name(value),
            Kind::AppPackage => {
                (3..=50).contains(&value.len())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            }
            Kind::LocalPath => return local_path(value),
            Kind::ProcessName => {
                !value.is_empty()
                    && value.chars().count() <= 260
                    && !value
                        .chars()
                        .any(|c| is_unsafe_char(c) || "\\/".contains(c))
                    && value.trim() == value
            }
            Kind::Pid => value.parse::<u32>().is_ok_and(|p| p > 4) && !value.starts_with('0'),
            Kind::ServiceKey => is_service_key(value),
            Kind::ServiceDisplay => {
                !value.is_empty()
                    && value.chars().count() <= 256
                    && !value.chars().any(is_unsafe_char)
                    && value.trim() == value
            }
            Kind::ServiceSelector => return Err("a service selector is built, not read".into()),
            Kind::StartMode => START_MODES.contains(&value),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("is not {}", self.describe()))
        }
    }
}

/// `^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,255}$`: what Windows' own and Exchange's service key names are
/// made of. No space, comma, wildcard or shell metacharacter.
pub fn is_service_key(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.$-".contains(c))
}

/// `^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.ms[ip]$`, the extension in any case.
fn is_package_name(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let Some(stem) = lower
        .strip_suffix(".msp")
        .or_else(|| lower.strip_suffix(".msi"))
    else {
        return false;
    };
    let b = stem.as_bytes();
    !b.is_empty()
        && b.len() <= 201
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

/// A path on a local drive: a share would make the engineer's shell authenticate to whoever
/// named it, and a device path reaches what no file should.
fn local_path(v: &str) -> Result<(), String> {
    let b = v.as_bytes();
    if !(b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\') {
        return Err(
            "is not a path on a local drive (C:\\…); shares and relative paths are not used".into(),
        );
    }
    if v.chars().count() > 1024 || v.chars().any(is_unsafe_char) {
        return Err("holds control or format characters, or is too long for a path".into());
    }
    if v.contains('/') {
        return Err("mixes / into a Windows path".into());
    }
    Ok(())
}

/// A PowerShell single-quoted string literal holding exactly `s`. Inside such a literal only a
/// single quote is special, and PowerShell counts U+2018, U+2019, U+201A and U+201B as single
/// quotes too: each is doubled.
pub fn ps_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    PowerShell,
    Cmd,
}

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::PowerShell => "PowerShell",
            Shell::Cmd => "cmd",
        }
    }
}

/// A value for a placeholder: what it says, and for services known only by display name, that
/// the key name is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Known(String),
    /// The logs name the service only by its display name.
    DisplayNameOnly(String),
}

impl Value {
    pub fn text(&self) -> &str {
        match self {
            Value::Known(s) | Value::DisplayNameOnly(s) => s,
        }
    }
}

/// How `value` is written where a placeholder of `kind` stands in a `shell` command, or why it
/// cannot be.
pub fn render(shell: Shell, kind: Kind, value: &Value) -> Result<String, String> {
    if !kind.allowed_in(shell) {
        return Err(format!(
            "{} never enters a {} command",
            kind.describe(),
            shell.name()
        ));
    }
    if kind == Kind::ServiceSelector {
        return match value {
            Value::Known(key) => {
                Kind::ServiceKey.validate(key)?;
                Ok(format!("Get-Service -Name {}", ps_literal(key)))
            }
            Value::DisplayNameOnly(dn) => {
                Kind::ServiceDisplay.validate(dn)?;
                Ok(format!(
                    "Get-Service | Where-Object {{ $_.DisplayName -eq {} }}",
                    ps_literal(dn)
                ))
            }
        };
    }
    let text = match value {
        Value::Known(s) => s.as_str(),
        Value::DisplayNameOnly(_) if kind == Kind::ServiceKey => {
            return Err("is a display name: the logs do not give this service's key name".into());
        }
        Value::DisplayNameOnly(s) => s.as_str(),
    };
    kind.validate(text)?;
    match shell {
        Shell::PowerShell => Ok(match kind {
            Kind::Number | Kind::Pid | Kind::StartMode => text.to_string(),
            _ => ps_literal(text),
        }),
        Shell::Cmd => {
            if text.chars().all(|c| CMD_SAFE.contains(c)) {
                Ok(text.to_string())
            } else {
                Err("holds characters that cmd.exe cannot be given safely".into())
            }
        }
    }
}

/// The sentence a step shows for a command left out.
pub fn withheld(shell: Shell, template: &str, kind: Kind, value: &str, why: &str) -> String {
    let what = template.split_whitespace().next().unwrap_or(template);
    format!(
        "{} command {what} left out: the value \u{ab}{}\u{bb} from the logs {why} ({}).",
        shell.name(),
        display(value),
        kind.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(kind: Kind, v: &str) -> Result<String, String> {
        render(Shell::PowerShell, kind, &Value::Known(v.into()))
    }

    fn cmd(kind: Kind, v: &str) -> Result<String, String> {
        render(Shell::Cmd, kind, &Value::Known(v.into()))
    }

    #[test]
    fn service_keys_are_checked_then_quoted() {
        assert_eq!(
            ps(Kind::ServiceKey, "MSExchangeIS").unwrap(),
            "'MSExchangeIS'"
        );
        assert_eq!(cmd(Kind::ServiceKey, "MSSQL$EXCH").unwrap(), "MSSQL$EXCH");
        for bad in [
            "*",
            "MSEx;calc",
            "a b",
            "a,b",
            "a\nb",
            "",
            "-Name",
            "x&y",
            "[a]",
            "é",
        ] {
            assert!(ps(Kind::ServiceKey, bad).is_err(), "{bad:?}");
            assert!(cmd(Kind::ServiceKey, bad).is_err(), "{bad:?}");
        }
        assert!(is_service_key(&"a".repeat(256)) && !is_service_key(&"a".repeat(257)));
    }

    #[test]
    fn display_names_only_in_a_quoted_lookup() {
        let dn = Value::DisplayNameOnly("Microsoft Exchange Information Store".into());
        assert_eq!(
            render(Shell::PowerShell, Kind::ServiceSelector, &dn).unwrap(),
            "Get-Service | Where-Object { $_.DisplayName -eq 'Microsoft Exchange Information Store' }"
        );
        assert!(render(Shell::PowerShell, Kind::ServiceKey, &dn).is_err());
        assert!(render(Shell::Cmd, Kind::ServiceKey, &dn).is_err());
        assert!(render(Shell::Cmd, Kind::ServiceSelector, &dn).is_err());
        let known = Value::Known("MSExchangeIS".into());
        assert_eq!(
            render(Shell::PowerShell, Kind::ServiceSelector, &known).unwrap(),
            "Get-Service -Name 'MSExchangeIS'"
        );
        let evil = Value::DisplayNameOnly("x' }; calc; { '".into());
        assert_eq!(
            render(Shell::PowerShell, Kind::ServiceSelector, &evil).unwrap(),
            "Get-Service | Where-Object { $_.DisplayName -eq 'x'' }; calc; { ''' }"
        );
    }

    #[test]
    fn literals_double_every_single_quote_powershell_knows() {
        assert_eq!(ps_literal("it's"), "'it''s'");
        assert_eq!(ps_literal("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(
            ps_literal("\u{2018}\u{201a}\u{201b}"),
            "'\u{2018}\u{2018}\u{201a}\u{201a}\u{201b}\u{201b}'"
        );
        assert_eq!(ps_literal("$(calc)`n"), "'$(calc)`n'");
    }

    #[test]
    fn pids_are_integers_above_four() {
        assert_eq!(ps(Kind::Pid, "3412").unwrap(), "3412");
        for bad in [
            "0",
            "4",
            "-1",
            "3412; calc",
            "0x10",
            "01",
            "99999999999",
            "",
        ] {
            assert!(ps(Kind::Pid, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_are_local_and_literal() {
        assert_eq!(
            ps(Kind::LocalPath, "C:\\Windows\\Temp\\MSI$(iwr x|iex).LOG").unwrap(),
            "'C:\\Windows\\Temp\\MSI$(iwr x|iex).LOG'"
        );
        for bad in [
            "\\\\attacker\\share\\x.log",
            "x.log",
            "\\\\?\\C:\\x",
            "C:\\a\nb",
            "C:/x",
            "C:",
        ] {
            assert!(ps(Kind::LocalPath, bad).is_err(), "{bad:?}");
        }
        assert!(cmd(Kind::LocalPath, "C:\\Program Files\\x.log").is_err());
        assert_eq!(
            cmd(Kind::LocalPath, "C:\\Temp\\x.log").unwrap(),
            "C:\\Temp\\x.log"
        );
    }

    #[test]
    fn packages_kbs_and_codes_have_one_shape() {
        assert!(ps(Kind::PackageName, "Exchange2007-KB940006-x64-EN.msp").is_ok());
        assert!(ps(Kind::PackageName, "x\" & calc & \".msp").is_err());
        assert!(ps(Kind::PackageName, "C:\\x.msp").is_err());
        assert!(ps(Kind::AppPackage, "Microsoft.WindowsCalculator").is_ok());
        for bad in [
            "Microsoft.App'; calc",
            "a",
            "Microsoft App",
            "x\u{2019}y",
            "*",
        ] {
            assert!(ps(Kind::AppPackage, bad).is_err(), "{bad}");
        }
        assert!(ps(Kind::Kb, "KB940006").is_ok() && ps(Kind::Kb, "KB94000\u{663}").is_err());
        assert!(ps(Kind::HResult, "0x80070643").is_ok() && ps(Kind::HResult, "0x8007064").is_err());
        assert!(
            ps(Kind::Time, "2011-11-09T03:02:10Z").is_ok() && ps(Kind::Time, "2011-11-09").is_err()
        );
        assert!(
            ps(Kind::StartMode, "Automatic").is_ok() && ps(Kind::StartMode, "Auto; calc").is_err()
        );
    }

    #[test]
    fn free_text_never_enters_a_command() {
        assert!(ps(Kind::Text, "Update Rollup 4").is_err());
        assert!(cmd(Kind::Text, "EXMBX01").is_err());
        assert!(cmd(Kind::Time, "2011-11-09T03:02:10Z").is_err());
    }
}
