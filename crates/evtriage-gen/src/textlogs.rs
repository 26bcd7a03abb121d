//! The text logs of an install, from the same story as its events ([`InstallRecord`]): the
//! Windows Installer verbose log, and Exchange's `ServiceControl.log` with the start modes and
//! states it saves. Layouts: `shared/reference/text-logs.md` (§2 the script's messages, §3 CLIXML,
//! §4 the verbose log's lines as the real `corpus/textlogs/redball/msi_install.log` has them; the
//! file-in-use and Restart Manager lines as §4 quotes them, the latter recalled, not seen in a file
//! here). Times are the server's local time, in its locale's short date.

use crate::events::MsiProduct;
use crate::host::{Service, StartType};
use crate::incident::{InstallRecord, Patch};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::fmt::Write;

/// The server's clock and how its locale writes a short date.
#[derive(Debug, Clone, Copy)]
pub struct Locale {
    /// Local time minus UTC.
    pub offset_minutes: i32,
    pub date: DateStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `11/8/2011` (United States).
    MonthFirst,
    /// `15.03.2023` (Germany).
    DayFirstDots,
    /// `24/03/2026` (United Kingdom).
    DayFirstSlashes,
}

impl Locale {
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + Duration::minutes(self.offset_minutes.into())
    }

    pub fn short_date(&self, t: NaiveDateTime) -> String {
        match self.date {
            DateStyle::MonthFirst => t.format("%-m/%-d/%Y").to_string(),
            DateStyle::DayFirstDots => t.format("%d.%m.%Y").to_string(),
            DateStyle::DayFirstSlashes => t.format("%d/%m/%Y").to_string(),
        }
    }
}

/// What a verbose log tells of one session.
pub struct MsiSession<'a> {
    pub product: &'a MsiProduct<'a>,
    pub patch: &'a Patch,
    pub record: &'a InstallRecord,
    /// `C:\Windows\system32\msiexec.exe` for a run by hand; the service host for Windows Update
    /// (recalled, not confirmed in a real log).
    pub calling_process: &'a str,
    /// The path 1023 names (the log's own).
    pub log_file: &'a str,
    /// The action that fails, and the installer's message before it.
    pub failing_action: &'a str,
    pub error_message: Option<&'a str>,
    /// The computer's NetBIOS name (the `ComputerName` property).
    pub computer: &'a str,
}

fn engine(out: &mut String, who: char, ids: &str, at: NaiveDateTime, message: &str) {
    let _ = writeln!(
        out,
        "MSI ({who}) ({ids}) [{}:{:03}]: {message}",
        at.format("%H:%M:%S"),
        at.and_utc().timestamp_subsec_millis()
    );
}

/// A verbose log of one session.
pub fn msi_log(s: &MsiSession, locale: &Locale) -> String {
    let mut out = String::new();
    let l = |t: DateTime<Utc>| locale.local(t);
    let start = l(s.record.transaction_at - Duration::milliseconds(1_300));
    let _ = writeln!(
        out,
        "=== Verbose logging started: {}  {}  Build type: SHIP UNICODE 5.00.7601.00  Calling process: {} ===",
        locale.short_date(start),
        start.format("%H:%M:%S"),
        s.calling_process
    );
    let c = "A4:3C";
    let sv = "C8:50";
    engine(&mut out, 'c', c, start, "Resetting cached policy values");
    engine(&mut out, 'c', c, start, "Machine policy value 'Debug' is 0");
    engine(&mut out, 'c', c, start, "******* RunEngine:");
    let _ = writeln!(out, "           ******* Product: {}", s.patch.package);
    let _ = writeln!(out, "           ******* Action: ");
    let _ = writeln!(out, "           ******* CommandLine: **********");
    let t = l(s.record.transaction_at);
    engine(
        &mut out,
        's',
        sv,
        t,
        &format!("Original package ==> {}", s.patch.package),
    );
    engine(&mut out, 's', sv, t, "Note: 1: 2205 2:  3: Error ");
    engine(
        &mut out,
        's',
        sv,
        t,
        &format!(
            "PROPERTY CHANGE: Adding PATCH property. Its value is '{}'.",
            s.patch.package
        ),
    );
    let _ = writeln!(
        out,
        "Action start {}: InstallValidate.",
        t.format("%-H:%M:%S")
    );
    for (h, rm_at, in_use_at) in &s.record.holders {
        let kind = if h.session == 0 {
            "RmService"
        } else {
            "RmConsole"
        };
        engine(
            &mut out,
            's',
            sv,
            l(*rm_at),
            &format!(
                "RESTART MANAGER: Detected that application with id {}, friendly name '{}', of type {kind} and status 1 holds file[s] in use.",
                h.pid, h.display
            ),
        );
        engine(
            &mut out,
            's',
            sv,
            l(*in_use_at),
            &format!(
                "File In Use: -{}- Window could not be found. Process ID: {}",
                h.process, h.pid
            ),
        );
        let _ = writeln!(
            out,
            "Info 1603. The file {} is being held in use by the following process: Name: {}, Id: {}, Window Title: '(not determined yet)'. Close that application and retry.",
            h.file, h.process, h.pid
        );
    }
    if !s.record.holders.is_empty() {
        let at = l(s.record.holders[s.record.holders.len() - 1].2);
        engine(
            &mut out,
            's',
            sv,
            at,
            "RESTART MANAGER: Did detect that a critical application holds file[s] in use, so a reboot will be necessary.",
        );
    }
    let validated = l(s
        .record
        .holders
        .last()
        .map_or(s.record.transaction_at, |h| h.2)
        + Duration::seconds(1));
    let _ = writeln!(
        out,
        "Action ended {}: InstallValidate. Return value 1.",
        validated.format("%-H:%M:%S")
    );
    let ended = l(s.record.ended);
    let failed = s.record.status == 1603;
    let before = ended - Duration::seconds(12);
    let _ = writeln!(
        out,
        "Action start {}: {}.",
        before.format("%-H:%M:%S"),
        s.failing_action
    );
    if let Some(m) = s.error_message {
        engine(&mut out, 's', sv, before, m);
    }
    engine(&mut out, 's', sv, before, "Note: 1: 2755 2: 1603 3: ");
    let result = if failed { 3 } else { 1 };
    let _ = writeln!(
        out,
        "Action ended {}: {}. Return value {result}.",
        before.format("%-H:%M:%S"),
        s.failing_action
    );
    if failed {
        engine(
            &mut out,
            's',
            sv,
            ended,
            &format!(
                "Product: {} -- Installation operation failed.",
                s.product.name
            ),
        );
        engine(
            &mut out,
            's',
            sv,
            ended,
            &format!(
                "Product: {} - Update '{}' could not be installed. Error code 1603. Additional information is available in the log file {}.",
                s.product.name, s.patch.title, s.log_file
            ),
        );
    } else {
        engine(
            &mut out,
            's',
            sv,
            ended,
            &format!(
                "Product: {} - Update '{}' installed successfully.",
                s.product.name, s.patch.title
            ),
        );
    }
    engine(
        &mut out,
        's',
        sv,
        ended,
        &format!(
            "Windows Installer installed an update. Product Name: {}. Product Version: {}. Product Language: {}. Manufacturer: {}. Update Name: {}. Installation success or error status: {}.",
            s.product.name,
            s.product.version,
            s.product.language,
            s.product.manufacturer,
            s.patch.title,
            s.record.status
        ),
    );
    let _ = writeln!(out, "Property(S): PATCH = {}", s.patch.package);
    let _ = writeln!(out, "Property(S): ProductName = {}", s.product.name);
    let _ = writeln!(out, "Property(S): Date = {}", locale.short_date(ended));
    let _ = writeln!(out, "Property(S): ComputerName = {}", s.computer);
    let last = ended + Duration::milliseconds(1_834);
    engine(
        &mut out,
        'c',
        c,
        last,
        &format!("MainEngineThread is returning {}", s.record.status),
    );
    let _ = writeln!(
        out,
        "=== Verbose logging stopped: {}  {} ===",
        locale.short_date(last),
        last.format("%H:%M:%S")
    );
    out
}

/// One run of `ServiceControl.ps1`.
pub struct ServiceControlRun<'a> {
    pub started: DateTime<Utc>,
    /// The state file was there already: the script says so and overwrites it.
    pub state_exists: bool,
    pub roles: &'a str,
    pub stops: &'a [(Service, DateTime<Utc>)],
    /// Services it disables (every installed one of its list, running or not), and when.
    pub disables: &'a [(Service, DateTime<Utc>)],
    /// `AfterPatch`: the services it enables again.
    pub enables: &'a [(Service, DateTime<Utc>)],
    /// Ends with `Script completed succesfully.`
    pub completed: bool,
}

/// `ServiceControl.log` with these runs, appended as the script appends them.
pub fn service_control_log(runs: &[ServiceControlRun], locale: &Locale) -> String {
    let mut out = String::new();
    for r in runs {
        let t0 = locale.local(r.started);
        let line = |out: &mut String, t: NaiveDateTime, m: &str| {
            let _ = writeln!(out, "[{}] {m}", t.format("%H:%M:%S"));
        };
        let _ = writeln!(out, "{}", "-".repeat(50));
        line(
            &mut out,
            t0,
            &format!(
                "* ServiceControl.ps1: {} {}",
                locale.short_date(t0),
                t0.format("%H:%M:%S")
            ),
        );
        let mode = if r.enables.is_empty() {
            "BeforePatch"
        } else {
            "AfterPatch"
        };
        line(
            &mut out,
            t0,
            &format!("Performing service control with options: {mode}"),
        );
        if r.enables.is_empty() {
            line(&mut out, t0, "Saving service and registry data");
            let path = "C:\\ExchangeSetupLogs\\ServiceState.xml";
            if r.state_exists {
                line(&mut out, t0, &format!("State file {path} already exists."));
                line(
                    &mut out,
                    t0,
                    &format!(
                        "Overwrite is specified. File {path} is going to be overwritten with a new state."
                    ),
                );
            }
            line(
                &mut out,
                t0,
                &format!("Saving service state to '{path}'..."),
            );
            line(
                &mut out,
                t0 + Duration::seconds(1),
                "Saving services startup mode.",
            );
            for role in r.roles.split(',') {
                line(
                    &mut out,
                    t0 + Duration::seconds(1),
                    &format!("Adding to installed roles list: {}", role.trim()),
                );
            }
            line(
                &mut out,
                t0 + Duration::seconds(1),
                &format!("Stopping services for the following roles: {}", r.roles),
            );
            line(
                &mut out,
                t0 + Duration::seconds(1),
                &format!("Stopping services for '{}'...", r.roles),
            );
            for (svc, at) in r.stops {
                // The script logs before it asks SCM, which logs the stop a moment later.
                line(
                    &mut out,
                    locale.local(*at - Duration::milliseconds(400)),
                    &format!("Stopping service '{}'.", svc.key),
                );
            }
            if let Some((_, first)) = r.disables.first() {
                line(
                    &mut out,
                    locale.local(*first - Duration::milliseconds(300)),
                    &format!("Disabling services for '{}'...", r.roles),
                );
            }
            for (svc, at) in r.disables {
                line(
                    &mut out,
                    locale.local(*at - Duration::milliseconds(100)),
                    &format!("Disabling service '{}'.", svc.key),
                );
            }
        } else {
            line(
                &mut out,
                t0,
                &format!("Enabling services for '{}'...", r.roles),
            );
            line(
                &mut out,
                t0,
                "Reading service registry data from 'C:\\ExchangeSetupLogs\\ServiceStartupMode.xml'",
            );
            line(
                &mut out,
                t0,
                &format!("Loaded state for {} services registry", r.enables.len()),
            );
            for (svc, at) in r.enables {
                line(
                    &mut out,
                    locale.local(*at - Duration::milliseconds(100)),
                    &format!("Enabling service '{}'.", svc.key),
                );
            }
        }
        if r.completed {
            let end = r
                .disables
                .last()
                .or(r.enables.last())
                .map_or(t0, |(_, t)| locale.local(*t + Duration::seconds(2)));
            line(&mut out, end, "Script completed succesfully.");
        }
    }
    out
}

/// WMI's name of a start type, as `ServiceStartupMode.xml` saves it.
pub fn wmi_start_mode(st: StartType) -> &'static str {
    match st {
        StartType::Auto => "Auto",
        StartType::Demand => "Manual",
        StartType::Disabled => "Disabled",
    }
}

/// `ExchangeSetup.log` of a cumulative update's setup that stops because a service it needs is
/// disabled: `[MM/dd/yyyy HH:mm:ss.ffff] [level] message`, local time (the date format is setup's
/// own, whatever the locale: text-logs.md §5; the lines are those of the real logs in
/// `corpus/textlogs/css-exchange/`, the error's sentence Windows' message for error 1058).
pub fn exchange_setup_refused(started: DateTime<Utc>, locale: &Locale, zone: &str) -> String {
    let mut out = String::new();
    let mut t = locale.local(started);
    let line = |out: &mut String, t: NaiveDateTime, level: u8, m: &str| {
        let _ = writeln!(
            out,
            "[{}.{:04}] [{level}] {m}",
            t.format("%m/%d/%Y %H:%M:%S"),
            t.and_utc().timestamp_subsec_millis() * 10
        );
    };
    let stars = "*".repeat(46);
    line(&mut out, t, 0, &stars);
    line(
        &mut out,
        t,
        0,
        "Starting Microsoft Exchange Server 2016 Setup",
    );
    line(&mut out, t, 0, &stars);
    line(&mut out, t, 0, &format!("Local time zone: {zone}"));
    line(
        &mut out,
        t,
        0,
        "Operating system version: Microsoft Windows NT 6.2.9200.0.",
    );
    line(&mut out, t, 0, "Setup version: 15.1.2507.6.");
    line(
        &mut out,
        t,
        0,
        "Command Line Parameter Name='mode', Value='Upgrade'.",
    );
    t += Duration::seconds(41);
    line(
        &mut out,
        t,
        0,
        "The following roles are installed: BridgeheadRole ClientAccessRole MailboxRole FrontendTransportRole AdminToolsRole CafeRole ",
    );
    t += Duration::seconds(95);
    line(&mut out, t, 1, "Executing: ");
    line(&mut out, t, 2, "Beginning processing Start-SetupService");
    t += Duration::milliseconds(2_315);
    line(
        &mut out,
        t,
        2,
        "[ERROR] The service cannot be started, either because it is disabled or because it has no enabled devices associated with it",
    );
    line(
        &mut out,
        t,
        1,
        "Setup is stopping now because of one or more critical errors.",
    );
    line(&mut out, t, 1, "Finished executing component tasks.");
    t += Duration::seconds(3);
    line(&mut out, t, 0, "End of Setup");
    line(&mut out, t, 0, &stars);
    out
}
