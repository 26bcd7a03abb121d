//! The words of a signature's summary and remediation: every `{placeholder}` with its [`Kind`] and
//! the list it belongs to, every `when` flag and `foreach` list. A signature is checked against
//! these when it loads (`check_step`, `check_text`), so that a typo, a placeholder of free text in
//! a command, or a placeholder inside quotes where it would be expanded is a load error that names
//! the file and line, not a command printed wrong at 2 a.m.

use super::command::{Kind, Shell};

/// Where a placeholder's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The finding as a whole.
    Finding,
    /// One item of `foreach = "locked_files"`.
    LockedFile,
    /// One item of `foreach = "services"`, `"services_to_restore"`, `"services_to_start"` or
    /// `"default_services"`.
    Service,
    /// One item of `foreach = "apps_to_close"`: an app whose files the update needs.
    App,
}

pub struct Placeholder {
    pub name: &'static str,
    pub kind: Kind,
    pub scope: Scope,
}

const fn p(name: &'static str, kind: Kind, scope: Scope) -> Placeholder {
    Placeholder { name, kind, scope }
}

pub const PLACEHOLDERS: &[Placeholder] = &[
    p("computer", Kind::Text, Scope::Finding),
    p("first_seen", Kind::Text, Scope::Finding),
    p("last_seen", Kind::Text, Scope::Finding),
    p("first_seen_iso", Kind::Time, Scope::Finding),
    p("last_seen_iso", Kind::Time, Scope::Finding),
    p("update", Kind::Text, Scope::Finding),
    p("kb", Kind::Kb, Scope::Finding),
    p("kb_number", Kind::Number, Scope::Finding),
    p("product", Kind::Text, Scope::Finding),
    p("package", Kind::Text, Scope::Finding),
    p("package_name", Kind::PackageName, Scope::Finding),
    p("app_package", Kind::AppPackage, Scope::Finding),
    p("hresult", Kind::HResult, Scope::Finding),
    p("wu_hresult", Kind::HResult, Scope::Finding),
    p("msi_error", Kind::Number, Scope::Finding),
    p("meaning", Kind::Text, Scope::Finding),
    p("installer_message", Kind::Text, Scope::Finding),
    p("log_file", Kind::LocalPath, Scope::Finding),
    p("update_or_product", Kind::Text, Scope::Finding),
    p("operation", Kind::Text, Scope::Finding),
    p("disabled_by", Kind::Text, Scope::Finding),
    p("attempts", Kind::Number, Scope::Finding),
    p("services_count", Kind::Number, Scope::Finding),
    p(
        "services_still_disabled_count",
        Kind::Number,
        Scope::Finding,
    ),
    p("services_list", Kind::Text, Scope::Finding),
    p("unchecked", Kind::Text, Scope::Finding),
    p("exchange_version", Kind::Number, Scope::Finding),
    p("processes_list", Kind::Text, Scope::Finding),
    p("installer_log", Kind::Text, Scope::Finding),
    p("failed_action", Kind::Text, Scope::Finding),
    p("start_types_source", Kind::Text, Scope::Finding),
    p("saved_state_problem", Kind::Text, Scope::Finding),
    p("windows", Kind::Text, Scope::Finding),
    p("pending_update", Kind::Text, Scope::Finding),
    p("waiting_days", Kind::Number, Scope::Finding),
    p("app", Kind::AppPackage, Scope::App),
    p("app_full_name", Kind::Text, Scope::App),
    p("path", Kind::LocalPath, Scope::LockedFile),
    p("process", Kind::ProcessName, Scope::LockedFile),
    p("pid", Kind::Pid, Scope::LockedFile),
    p("image", Kind::LocalPath, Scope::LockedFile),
    p("name", Kind::ServiceKey, Scope::Service),
    p("service", Kind::ServiceSelector, Scope::Service),
    p("display_name", Kind::ServiceDisplay, Scope::Service),
    p("original_start", Kind::Text, Scope::Service),
    p("original_start_display", Kind::Text, Scope::Service),
    p("sc_start", Kind::StartMode, Scope::Service),
    p("ps_start", Kind::StartMode, Scope::Service),
];

/// The names an evidence definition may give the fields it extracts, and what each means. Those
/// the engine reads by name (the first group) become the finding's update, error, files in use and
/// services; the others are for conditions and joins. A name outside this list is a typo until
/// it is added here, with its meaning.
pub const FIELDS: &[(&str, &str)] = &[
    ("update", "the update's title: the finding's update"),
    (
        "product",
        "the product installed or updated: the finding's product",
    ),
    ("package", "the installer package (.msi/.msp) path"),
    (
        "msi_error",
        "Windows Installer's status code (0 success, 1603 fatal error, …)",
    ),
    ("hresult", "the HRESULT Windows Update logged"),
    ("message", "the installer's own sentence about the failure"),
    ("log_file", "the verbose installer log's path"),
    ("pid", "a process ID holding a file in use"),
    ("path", "the file in use"),
    ("process", "the name of the process holding it"),
    ("image", "the full path of that process's image"),
    (
        "service",
        "a service's key name (or its display name where the log has no key)",
    ),
    ("display_name", "a service's display name"),
    ("old_start", "the start type before a change"),
    ("new_start", "the start type after a change"),
    ("sid", "the account that made the change"),
    (
        "state",
        "a service state code (1 stopped, 4 running), or a package state (Installed, Staged)",
    ),
    ("version", "the product version"),
    ("status", "an installer status code that a condition reads"),
    (
        "error",
        "an error reference (%%1058) that a condition reads",
    ),
    ("code", "a code from the record's binary data"),
    (
        "product_code",
        "the product's GUID from the record's binary data",
    ),
    (
        "client_pid",
        "the process that started the installer transaction",
    ),
    ("app", "the application Restart Manager names"),
    ("application", "the application that asked for a restart"),
    ("reasons", "Restart Manager's reboot reasons"),
    ("reason", "the reason code for a restart"),
    ("restart_type", "the kind of restart asked for"),
    (
        "dependent",
        "the service that could not start because of another",
    ),
    (
        "action",
        "the installer action that failed (a verbose log's Return value 3)",
    ),
    (
        "context",
        "the verbose log's lines before the failed action",
    ),
    (
        "os_major",
        "Windows' major version as a boot record gives it (Kernel-General 12)",
    ),
    (
        "os_version",
        "Windows' version as Event Log 6009 gives it (10.00.)",
    ),
    (
        "os_build",
        "Windows' build number as a boot record gives it",
    ),
    (
        "series",
        "the series of a monthly update (its title without the month and KB)",
    ),
    (
        "app_package",
        "the name of an app package (Microsoft.WindowsCalculator), without version or publisher",
    ),
    (
        "package_full_name",
        "an app package's full name (Name_Version_Architecture_ResourceId_PublisherId)",
    ),
    (
        "apps_to_close",
        "the app packages Windows names as in use, to be closed before the install",
    ),
    (
        "event_name",
        "the kind of problem report Windows Error Reporting filed",
    ),
    (
        "error_code",
        "an error code a condition reads (a servicing or app deployment result)",
    ),
    (
        "faulting_app",
        "the application that crashed (Application Error 1000)",
    ),
    ("kb", "the KB number an update's title or package names"),
];

pub fn check_field_name(name: &str) -> Result<(), String> {
    if FIELDS.iter().any(|(n, _)| *n == name) {
        Ok(())
    } else {
        Err(format!(
            "unknown field name '{name}' (field names: {})",
            FIELDS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// `when` words that are not the name of a placeholder or list.
pub const FLAGS: &[&str] = &[
    "update_installed",
    "action_required",
    "resolved",
    "log_missing",
    "installer_log_read",
    "saved_state_stale",
    "windows_10_or_later",
    "windows_before_10",
    "superseded",
];

/// A cause an evidence definition may name (`likely_cause`): when that evidence is found, the
/// finding names it as the likely cause of the failure beside the failure itself, and its name
/// is a `when` flag for the remedy's steps.
#[derive(Debug)]
pub struct Cause {
    pub name: &'static str,
    /// Whether it outlasts the failure: Windows retrying the update does not help until someone
    /// repairs it, so a failure with this cause needs action even on its first day.
    pub lasting: bool,
    /// What it means, in a clause the finding's summary quotes.
    pub means: &'static str,
}

pub const CAUSES: &[Cause] = &[
    Cause {
        name: "component_store_damaged",
        lasting: true,
        means: "Windows' component store is damaged, and updates that need its damaged parts fail until it is repaired",
    },
    Cause {
        name: "deployment_service_crashed",
        lasting: false,
        means: "the service that performs the install crashed as it ran",
    },
];

pub fn cause(name: &str) -> Option<&'static Cause> {
    CAUSES.iter().find(|c| c.name == name)
}

/// `foreach` lists, with the scope of their items.
pub const LISTS: &[(&str, Scope)] = &[
    ("locked_files", Scope::LockedFile),
    ("services", Scope::Service),
    ("services_to_restore", Scope::Service),
    ("services_to_start", Scope::Service),
    ("default_services", Scope::Service),
    ("default_services_to_start", Scope::Service),
    ("apps_to_close", Scope::App),
];

pub fn placeholder(name: &str) -> Option<&'static Placeholder> {
    PLACEHOLDERS.iter().find(|p| p.name == name)
}

/// A template cut at its placeholders: `{name}` where the name is letters, digits and `_`.
/// Anything else in braces (a PowerShell script block) is text.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Hole(&'a str),
}

pub fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut text_from = 0;
    let base = template.as_ptr() as usize;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}');
        match close {
            Some(close)
                if close > 0
                    && after[..close]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                let at = rest.as_ptr() as usize - base + open;
                if at > text_from {
                    out.push(Piece::Text(&template[text_from..at]));
                }
                out.push(Piece::Hole(&after[..close]));
                rest = &after[close + 1..];
                text_from = rest.as_ptr() as usize - base;
            }
            _ => rest = after,
        }
    }
    if text_from < template.len() {
        out.push(Piece::Text(&template[text_from..]));
    }
    out
}

fn scope_of_list(list: Option<&str>) -> Result<Scope, String> {
    match list {
        None => Ok(Scope::Finding),
        Some(l) => LISTS
            .iter()
            .find(|(n, _)| *n == l)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                format!(
                    "foreach = \"{l}\" is not a list (lists: {})",
                    LISTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                )
            }),
    }
}

fn known(name: &str, scope: Scope) -> Result<&'static Placeholder, String> {
    let p = placeholder(name).ok_or_else(|| format!("unknown placeholder {{{name}}}"))?;
    if p.scope != Scope::Finding && p.scope != scope {
        return Err(format!(
            "{{{name}}} is a value of each item of a list ({:?}); it needs the matching foreach",
            p.scope
        ));
    }
    Ok(p)
}

/// A sentence (summary, step title or text): every placeholder known and in scope.
pub fn check_text(template: &str, foreach: Option<&str>) -> Result<(), String> {
    let scope = scope_of_list(foreach)?;
    for piece in pieces(template) {
        if let Piece::Hole(name) = piece {
            known(name, scope)?;
        }
    }
    Ok(())
}

/// A `when` expression: `a`, `!a`, `a & !b`; each word a flag, a list or a placeholder.
pub fn check_when(when: &str) -> Result<(), String> {
    for word in when.split('&').map(str::trim) {
        let word = word.strip_prefix('!').unwrap_or(word);
        let ok = FLAGS.contains(&word)
            || cause(word).is_some()
            || LISTS.iter().any(|(n, _)| *n == word)
            || placeholder(word).is_some_and(|p| p.scope == Scope::Finding);
        if !ok {
            return Err(format!(
                "when = \"{when}\": '{word}' is not a flag, list or value"
            ));
        }
    }
    Ok(())
}

/// A command template: every placeholder known, in scope, of a kind that this shell may hold,
/// and standing where its value is one argument: in PowerShell a token of its own, outside
/// quotes and comments (the renderer quotes it); in cmd outside `%…%`.
pub fn check_command(template: &str, shell: Shell, foreach: Option<&str>) -> Result<(), String> {
    let scope = scope_of_list(foreach)?;
    if template.contains(['\n', '\r']) {
        return Err("a command is one line".into());
    }
    let mut state = Quote::None;
    let mut prev: Option<char> = None;
    for (i, piece) in pieces(template).into_iter().enumerate() {
        match piece {
            Piece::Text(t) => {
                for c in t.chars() {
                    state = state.after(c, prev, shell);
                    prev = Some(c);
                }
            }
            Piece::Hole(name) => {
                let p = known(name, scope)?;
                if !p.kind.allowed_in(shell) {
                    return Err(format!(
                        "{{{name}}} is {}, which never enters a {} command",
                        p.kind.describe(),
                        shell.name()
                    ));
                }
                let where_ok = match shell {
                    Shell::PowerShell => {
                        state == Quote::None
                            && prev.is_none_or(|c| " (,=".contains(c))
                            && (p.kind != Kind::ServiceSelector || i == 0)
                    }
                    Shell::Cmd => state != Quote::Comment && prev != Some('%'),
                };
                if !where_ok {
                    return Err(format!(
                        "{{{name}}} must stand alone as an argument{}: the renderer quotes it",
                        if shell == Shell::PowerShell {
                            ", outside quotes and comments"
                        } else {
                            ""
                        }
                    ));
                }
                prev = Some('}');
            }
        }
    }
    if shell == Shell::PowerShell {
        // The character after each placeholder must end its token too.
        let mut rest = template;
        while let Some(at) = rest.find('}') {
            let next = rest[at + 1..].chars().next();
            let before = &rest[..at];
            if let Some(open) = before.rfind('{')
                && before[open + 1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && open + 1 < before.len()
                && next.is_some_and(|c| !" ),|;".contains(c))
            {
                return Err(format!(
                    "{} must be followed by a space, ')', ',', '|' or the end",
                    &before[open..]
                ));
            }
            rest = &rest[at + 1..];
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
    Comment,
}

impl Quote {
    fn after(self, c: char, prev: Option<char>, shell: Shell) -> Quote {
        match (self, shell) {
            (Quote::Comment, _) => Quote::Comment,
            (Quote::None, Shell::PowerShell) if c == '\'' => Quote::Single,
            (Quote::None, _) if c == '"' => Quote::Double,
            (Quote::None, Shell::PowerShell)
                if c == '#' && prev.is_none_or(char::is_whitespace) =>
            {
                Quote::Comment
            }
            (Quote::Single, _) if c == '\'' => Quote::None,
            (Quote::Double, _) if c == '"' => Quote::None,
            (s, _) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_cut_out_and_script_blocks_kept() {
        assert_eq!(
            pieces("Set-Service {name} x"),
            vec![
                Piece::Text("Set-Service "),
                Piece::Hole("name"),
                Piece::Text(" x")
            ]
        );
        assert_eq!(
            pieces("Where-Object { $_.Name -eq 'x' }"),
            vec![Piece::Text("Where-Object { $_.Name -eq 'x' }")]
        );
        assert_eq!(pieces("{a}{b}"), vec![Piece::Hole("a"), Piece::Hole("b")]);
    }

    #[test]
    fn commands_take_only_typed_values_where_they_are_one_argument() {
        let ps = |t: &str, each: Option<&str>| check_command(t, Shell::PowerShell, each);
        assert!(ps("Select-String -LiteralPath {log_file} -Pattern 'x'", None).is_ok());
        assert!(
            ps(
                "{service} | Set-Service -StartupType {ps_start}",
                Some("services")
            )
            .is_ok()
        );
        assert!(ps("(Get-Date {first_seen_iso}).AddHours(-3)", None).is_ok());
        // Free text, unknown names, and values out of their list.
        assert!(
            ps("Write-Host {update}", None)
                .unwrap_err()
                .contains("free text")
        );
        assert!(
            ps("Stop-Process -Id {pidd}", Some("locked_files"))
                .unwrap_err()
                .contains("unknown")
        );
        assert!(
            ps("Stop-Process -Id {pid}", None)
                .unwrap_err()
                .contains("foreach")
        );
        // Inside quotes PowerShell would expand it; in a comment a line break would end it.
        assert!(ps("Select-String -Path \"{log_file}\"", None).is_err());
        assert!(ps("Select-String -Path '{log_file}'", None).is_err());
        assert!(ps("Stop-Process -Id {pid} # {process}", Some("locked_files")).is_err());
        assert!(ps("Get-Item C:\\x{log_file}", None).is_err());
        assert!(ps("Get-Item {log_file}x", None).is_err());
        assert!(ps("Get-Process | {service}", Some("services")).is_err());
        // cmd: quotes are fine (the value is allow-listed), %…% is not.
        let cmd = |t: &str, each: Option<&str>| check_command(t, Shell::Cmd, each);
        assert!(cmd("tasklist /FI \"PID eq {pid}\"", Some("locked_files")).is_ok());
        assert!(cmd("echo %{kb}%", None).is_err());
        assert!(cmd("sc.exe config {service}", Some("services")).is_err());
        assert!(cmd("echo {first_seen_iso}", None).is_err());
    }

    #[test]
    fn causes_are_words_of_the_report_schema() {
        for c in CAUSES {
            assert_eq!(crate::labels::known(c.name), Some(c.name), "{}", c.name);
            assert!(!FLAGS.contains(&c.name) && placeholder(c.name).is_none());
        }
    }

    #[test]
    fn when_and_foreach_words_are_known() {
        assert!(check_when("!update_installed & package_name").is_ok());
        assert!(check_when("locked_files").is_ok());
        assert!(check_when("update_instaled").is_err());
        assert!(check_text("{name}", Some("services")).is_ok());
        assert!(check_text("{name}", Some("service")).is_err());
        assert!(check_text("{computerr}", None).is_err());
    }
}
