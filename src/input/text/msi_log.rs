//! The Windows Installer verbose log (`msiexec /l*v`, or the log an update's wrapper or the
//! `Logging` policy writes): `=== Verbose logging started: <date>  <time>  … ===`, engine lines
//! `MSI (s) (C8:50) [01:49:43:906]: …` with a time of day and no date, action lines, property
//! dumps, and several sessions appended in one file. Layout: `shared/reference/text-logs.md` §4 and
//! the real log `shared/corpus/textlogs/redball/msi_install.log`.
//!
//! Each line that says something a diagnosis uses becomes an event of provider
//! `evtriage:msi-log` (IDs in [`ids`]); everything else is counted and passed over.

use super::{
    Clock, DateOrder, Emitter, Separator, ShortDate, date_order, first_line, for_each_line,
    head_text, parse_time,
};
use crate::input::{EventSink, InputFile, InputReport, LogReader, Progress};
use chrono::NaiveDateTime;
use std::collections::VecDeque;

pub struct MsiLogReader;

/// The events of a verbose log: what each line kind becomes.
pub mod ids {
    /// `=== (Verbose) logging started: …`: `Date`, `Time`, `CallingProcess`, `LogFile` (this file).
    pub const SESSION_STARTED: u16 = 1;
    /// `******* Product: …` under `RunEngine`: `Product` (the package run), `CommandLine`.
    pub const RUN_ENGINE: u16 = 2;
    /// The first `Return value 3` of a session: `Action`, `Context` (the lines before it).
    pub const ACTION_FAILED: u16 = 3;
    /// `Info 1603. The file … is being held in use by …`: `Path`, `Process`, `Pid`, `WindowTitle`.
    pub const FILE_IN_USE: u16 = 4;
    /// `RESTART MANAGER: Detected that application with id …`: `Pid`, `App`, `Type`.
    pub const RM_HOLDER: u16 = 5;
    /// `Product: X -- …` / `Product: X - Update 'Y' …` (MsiInstaller 1023/11708 in the log):
    /// `Product`, `Update`, `MsiError`, `Message`.
    pub const PRODUCT_OUTCOME: u16 = 6;
    /// `Windows Installer installed/reconfigured/removed … status: N.` (1033/1035/1036/1034):
    /// `Product`, `Version`, `Update`, `Status`, `Operation`.
    pub const INSTALLER_OUTCOME: u16 = 7;
    /// `MainEngineThread is returning N`: `Code`, with the session's `Product`, `Update`,
    /// `Package` and `LogFile`.
    pub const ENGINE_RETURNED: u16 = 8;
    /// `Error NNNN. …` (an Error-table message): `Code`, `Message`.
    pub const ERROR_MESSAGE: u16 = 9;
    /// `=== (Verbose) logging stopped: …`.
    pub const SESSION_STOPPED: u16 = 10;
}

/// Searched for in every line: built once.
static INFO_1603: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"Info 1603. The file "));
static ERROR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"Error "));

/// Lines of context kept before a failed action.
const CONTEXT_LINES: usize = 12;
/// A value read from a line is cut to this many characters (a path or a sentence is shorter).
const MAX_VALUE: usize = 2048;

impl LogReader for MsiLogReader {
    fn format(&self) -> &'static str {
        "msi-log"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        let text = head_text(head);
        let line = first_line(&text);
        line.starts_with("=== Verbose logging started:") || line.starts_with("=== Logging started:")
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        InputReport::of_sequential_read(input, "msi-log", |report| {
            // Two passes: the first settles the order of day and month from every date the
            // file writes (one above 12 proves it), the second reads.
            let (order, proved, found) = date_order(input, |line| {
                Header::parse(line).map(|h| h.date).or_else(|| {
                    line.strip_prefix("Property(")
                        .and_then(|r| r.split_once("): Date = "))
                        .and_then(|(_, d)| ShortDate::parse(d))
                })
            })?;
            if !proved && found {
                report.notes.push(format!(
                    "its dates do not say whether the day or the month comes first; read month first ({})",
                    "as a US server writes them"
                ));
            }
            let mut state = Session::new(input, sink, order);
            let cut = for_each_line(input, progress, |n, line| state.line(report, n, line))?;
            if state.sessions == 0 {
                report.error("no '=== Logging started' line with a readable date: nothing in it can be placed in time".into());
            }
            let computer = std::mem::take(&mut state.computer);
            state.emitter.finish(report, cut);
            if let Some(span) = &mut report.log {
                span.computer = computer;
            }
            Ok(())
        })
    }
}

/// `=== Verbose logging started: 24/03/2026  05:15:49  Build type: … Calling process: X ===`.
struct Header<'a> {
    started: bool,
    date: ShortDate,
    time: &'a str,
    calling: &'a str,
}

impl<'a> Header<'a> {
    fn parse(line: &'a str) -> Option<Header<'a>> {
        let rest = line.strip_prefix("=== ")?;
        let rest = rest.strip_prefix("Verbose ").unwrap_or(rest);
        let (started, rest) = if let Some(r) = rest
            .strip_prefix("logging started: ")
            .or_else(|| rest.strip_prefix("Logging started: "))
        {
            (true, r)
        } else if let Some(r) = rest
            .strip_prefix("logging stopped: ")
            .or_else(|| rest.strip_prefix("Logging stopped: "))
        {
            (false, r)
        } else {
            return None;
        };
        let mut words = rest.split_whitespace();
        let date = ShortDate::parse(words.next()?)?;
        let time = words.next()?;
        parse_time(time)?;
        let calling = rest
            .split_once("Calling process: ")
            .map(|(_, c)| c.trim_end_matches('=').trim())
            .unwrap_or("");
        Some(Header {
            started,
            date,
            time,
            calling,
        })
    }
}

fn cap(s: &str) -> &str {
    super::cap(s, MAX_VALUE)
}

/// What is known of the session being read.
struct Session<'a> {
    emitter: Emitter<'a>,
    order: DateOrder,
    clock: Clock,
    sessions: u64,
    in_session: bool,
    failed_action_seen: bool,
    context: VecDeque<String>,
    product: String,
    update: String,
    package: String,
    expect_run_engine: bool,
    run_engine_product: String,
    log_file: String,
    /// The `ComputerName` property: the computer the log says it was written on.
    computer: String,
}

impl<'a> Session<'a> {
    fn new(input: &'a InputFile, sink: &'a dyn EventSink, order: DateOrder) -> Self {
        let log_file = input
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Session {
            emitter: Emitter::new(input, sink, "msi-log", "Windows Installer log"),
            order,
            clock: Clock::default(),
            sessions: 0,
            in_session: false,
            failed_action_seen: false,
            context: VecDeque::with_capacity(CONTEXT_LINES),
            product: String::new(),
            update: String::new(),
            package: String::new(),
            expect_run_engine: false,
            run_engine_product: String::new(),
            log_file,
            computer: String::new(),
        }
    }

    fn now(&self) -> Option<NaiveDateTime> {
        self.clock.current
    }

    fn emit(&mut self, report: &mut InputReport, n: u64, id: u16, fields: &[(&str, &str)]) {
        if let Some(at) = self.now() {
            self.emitter.emit(report, n, at, id, fields);
        }
    }

    fn line(&mut self, report: &mut InputReport, n: u64, line: &str) {
        if let Some(h) = Header::parse(line) {
            let Some(at) = h
                .date
                .date(self.order)
                .zip(parse_time(h.time))
                .map(|(d, t)| d.and_time(t))
            else {
                report.error(format!(
                    "line {n}: a logging header whose date is not a date ({})",
                    cap(line)
                ));
                return;
            };
            self.clock.set(at);
            if h.started {
                self.sessions += 1;
                self.in_session = true;
                self.failed_action_seen = false;
                self.product.clear();
                self.update.clear();
                self.package.clear();
                self.run_engine_product.clear();
                self.context.clear();
                let date = at.date().to_string();
                let time = at.time().to_string();
                let log_file = self.log_file.clone();
                self.emit(
                    report,
                    n,
                    ids::SESSION_STARTED,
                    &[
                        ("Date", &date),
                        ("Time", &time),
                        ("CallingProcess", cap(h.calling)),
                        ("LogFile", &log_file),
                    ],
                );
            } else {
                self.emit(report, n, ids::SESSION_STOPPED, &[]);
            }
            return;
        }
        if self.clock.current.is_none() {
            // Before any header: nothing can be placed in time.
            return;
        }
        let message = match engine_line(line) {
            Some((time, message)) => {
                if let Some(t) = parse_time(time) {
                    self.clock.advance(t);
                }
                message
            }
            None => line,
        };
        self.message(report, n, line, message);
        // The oldest line's buffer is reused: no allocation per line once the ring is full.
        let mut slot = if self.context.len() == CONTEXT_LINES {
            self.context.pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        slot.clear();
        slot.push_str(cap(message));
        self.context.push_back(slot);
    }

    fn message(&mut self, report: &mut InputReport, n: u64, line: &str, message: &str) {
        if self.expect_run_engine {
            if let Some(p) = message.trim().strip_prefix("******* Product: ") {
                self.run_engine_product = cap(p).to_string();
                return;
            }
            if let Some(c) = message.trim().strip_prefix("******* CommandLine: ") {
                self.expect_run_engine = false;
                let product = self.run_engine_product.clone();
                self.emit(
                    report,
                    n,
                    ids::RUN_ENGINE,
                    &[("Product", &product), ("CommandLine", cap(c))],
                );
                return;
            }
        }
        if message.starts_with("******* RunEngine") {
            self.expect_run_engine = true;
            return;
        }
        if let Some(rest) = line.strip_prefix("Action ") {
            self.action(report, n, rest);
            return;
        }
        if let Some(rest) = line.strip_prefix("Property(") {
            if let Some((_, prop)) = rest.split_once("): ")
                && let Some((name, value)) = prop.split_once(" = ")
            {
                match name {
                    "ComputerName" if self.computer.is_empty() => {
                        self.computer = cap(value).to_string()
                    }
                    "PATCH" if self.package.is_empty() => self.package = cap(value).to_string(),
                    "ProductName" if self.product.is_empty() => {
                        self.product = cap(value).to_string()
                    }
                    _ => {}
                }
            }
            return;
        }
        if let Some(code) = message.strip_prefix("MainEngineThread is returning ") {
            let code = code.trim();
            let (product, update, package, log_file) = (
                if self.product.is_empty() {
                    self.run_engine_product.clone()
                } else {
                    self.product.clone()
                },
                self.update.clone(),
                self.package.clone(),
                self.log_file.clone(),
            );
            self.emit(
                report,
                n,
                ids::ENGINE_RETURNED,
                &[
                    ("Code", code),
                    ("Product", &product),
                    ("Update", &update),
                    ("Package", &package),
                    ("LogFile", &log_file),
                ],
            );
            return;
        }
        if let Some(i) = INFO_1603.find(message.as_bytes()) {
            if let Some(f) = file_in_use(&message[i..]) {
                self.emit(
                    report,
                    n,
                    ids::FILE_IN_USE,
                    &[
                        ("Path", f.path),
                        ("Process", f.process),
                        ("Pid", f.pid),
                        ("WindowTitle", f.title),
                    ],
                );
            }
            return;
        }
        if let Some(rest) =
            message.strip_prefix("RESTART MANAGER: Detected that application with id ")
        {
            if let Some((pid, rest)) = rest.split_once(", friendly name '")
                && let Some((app, rest)) = rest.split_once("', of type ")
            {
                let kind = rest.split_whitespace().next().unwrap_or("");
                self.emit(
                    report,
                    n,
                    ids::RM_HOLDER,
                    &[("Pid", pid.trim()), ("App", cap(app)), ("Type", kind)],
                );
            }
            return;
        }
        if let Some(rest) = message.strip_prefix("Windows Installer ") {
            self.installer_outcome(report, n, rest);
            return;
        }
        if let Some(rest) = message.strip_prefix("Product: ") {
            self.product_outcome(report, n, rest);
            return;
        }
        if let Some(i) = error_message_at(message) {
            let m = &message[i + "Error ".len()..];
            if let Some((code, _)) = m.split_once(". ") {
                self.emit(
                    report,
                    n,
                    ids::ERROR_MESSAGE,
                    &[("Code", code), ("Message", cap(message))],
                );
            }
        }
    }

    /// `start 1:45:18: InstallValidate.` / `ended 1:45:21: InstallValidate. Return value 3.`
    fn action(&mut self, report: &mut InputReport, n: u64, rest: &str) {
        let (ended, rest) = match (rest.strip_prefix("start "), rest.strip_prefix("ended ")) {
            (Some(r), _) => (false, r),
            (_, Some(r)) => (true, r),
            _ => return,
        };
        let Some((time, rest)) = rest.split_once(": ") else {
            return;
        };
        if let Some(t) = parse_time(time) {
            self.clock.advance(t);
        }
        if !ended {
            return;
        }
        let Some((action, result)) = rest.split_once(". Return value ") else {
            return;
        };
        if result.trim_end_matches('.').trim() == "3" && !self.failed_action_seen {
            self.failed_action_seen = true;
            let context: Vec<&str> = self.context.iter().map(String::as_str).collect();
            let context = context.join("\n");
            self.emit(
                report,
                n,
                ids::ACTION_FAILED,
                &[("Action", cap(action)), ("Context", &context)],
            );
        }
    }

    /// `Redball -- Installation failed.` / `X - Update 'Y' could not be installed. Error code 1603. …`
    fn product_outcome(&mut self, report: &mut InputReport, n: u64, rest: &str) {
        let message = format!("Product: {}", cap(rest));
        if let Some((product, what)) = rest.split_once(" - Update '") {
            let Some((update, tail)) = what.split_once("' ") else {
                return;
            };
            let code = tail
                .split_once("Error code ")
                .map(|(_, c)| {
                    c.split(|ch: char| !ch.is_ascii_digit())
                        .next()
                        .unwrap_or("")
                })
                .unwrap_or(if tail.contains("installed successfully") {
                    "0"
                } else {
                    ""
                });
            self.product = cap(product).to_string();
            self.update = cap(update).to_string();
            let (product, update) = (self.product.clone(), self.update.clone());
            self.emit(
                report,
                n,
                ids::PRODUCT_OUTCOME,
                &[
                    ("Product", &product),
                    ("Update", &update),
                    ("MsiError", code),
                    ("Message", &message),
                ],
            );
        } else if let Some((product, what)) = rest.split_once(" -- ") {
            if what.starts_with("Error ")
                || what.starts_with("Info ")
                || what.starts_with("Warning ")
            {
                // An Error-table message about the product: the error line carries it.
                if let Some(i) = error_message_at(what) {
                    let m = &what[i + "Error ".len()..];
                    if let Some((code, _)) = m.split_once(". ") {
                        self.emit(
                            report,
                            n,
                            ids::ERROR_MESSAGE,
                            // The whole sentence, product and all, as MsiInstaller's 11xxx has it.
                            &[("Code", code), ("Message", &message)],
                        );
                    }
                }
                return;
            }
            let code = if what.contains("failed") {
                "1603"
            } else if what.contains("completed successfully") {
                "0"
            } else {
                // Another sentence of the installer's about the product (Error 2755's text, say).
                self.emit(
                    report,
                    n,
                    ids::ERROR_MESSAGE,
                    &[("Code", ""), ("Message", &message)],
                );
                return;
            };
            self.product = cap(product).to_string();
            let product = self.product.clone();
            self.emit(
                report,
                n,
                ids::PRODUCT_OUTCOME,
                &[
                    ("Product", &product),
                    ("Update", ""),
                    ("MsiError", code),
                    ("Message", &message),
                ],
            );
        }
    }

    /// `installed an update. Product Name: X. Product Version: V. … Update Name: U. Installation success or error status: N.`
    fn installer_outcome(&mut self, report: &mut InputReport, n: u64, rest: &str) {
        let operation = ["installed", "reconfigured", "removed"]
            .into_iter()
            .find(|w| rest.starts_with(w))
            .unwrap_or("");
        if operation.is_empty() {
            return;
        }
        let field = |name: &str| -> String {
            rest.split_once(name)
                .map(|(_, v)| {
                    v.split_once(". ")
                        .map_or(v, |(v, _)| v)
                        .trim_end_matches('.')
                })
                .map(cap)
                .unwrap_or("")
                .to_string()
        };
        let status = field(" success or error status: ");
        let product = field("Product Name: ");
        let update = field("Update Name: ");
        let version = field("Product Version: ");
        if !product.is_empty() {
            self.product = product.clone();
        }
        if !update.is_empty() {
            self.update = update.clone();
        }
        self.emit(
            report,
            n,
            ids::INSTALLER_OUTCOME,
            &[
                ("Product", &product),
                ("Version", &version),
                ("Update", &update),
                ("Status", &status),
                ("Operation", operation),
            ],
        );
    }
}

/// An engine line's time and message: `MSI (s) (C8:50) [01:49:43:906]: message`.
fn engine_line(line: &str) -> Option<(&str, &str)> {
    static BEFORE_TIME: Separator = Separator::new(") [");
    static AFTER_TIME: Separator = Separator::new("]: ");
    let rest = line.strip_prefix("MSI (")?;
    let (_, rest) = BEFORE_TIME.split(rest)?;
    AFTER_TIME.split(rest)
}

/// Where `Error NNNN. ` starts in a message (an Error-table message: four or five digits), not
/// `Note: 1: …` internal errors.
fn error_message_at(message: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = ERROR.find(&message.as_bytes()[from..]) {
        let at = from + i;
        let digits: &str = &message[at + 6..];
        let len = digits.bytes().take_while(u8::is_ascii_digit).count();
        if (4..=5).contains(&len)
            && digits[len..].starts_with(". ")
            && (at == 0 || !message[..at].ends_with(char::is_alphanumeric))
        {
            return Some(at);
        }
        from = at + 6;
    }
    None
}

struct InUse<'a> {
    path: &'a str,
    process: &'a str,
    pid: &'a str,
    title: &'a str,
}

/// `Info 1603. The file <path> is being held in use by the following process: Name: <process>,
/// Id: <pid>, Window Title: '<title>'. Close that application and retry.`
fn file_in_use(s: &str) -> Option<InUse<'_>> {
    let rest = s.strip_prefix("Info 1603. The file ")?;
    let (path, rest) = rest.split_once(" is being held in use by the following process: Name: ")?;
    let (process, rest) = rest.split_once(", Id: ")?;
    let pid_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let pid = &rest[..pid_len];
    let title = rest[pid_len..]
        .strip_prefix(", Window Title: '")
        .and_then(|t| {
            t.split_once("'. ")
                .map(|(t, _)| t)
                .or_else(|| t.strip_suffix('\''))
        })
        .unwrap_or("");
    Some(InUse {
        path: cap(path),
        process: cap(process),
        pid,
        title: cap(title),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_a_diagnosis_reads() {
        let f = file_in_use("Info 1603. The file C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\Microsoft.Exchange.Management.dll is being held in use by the following process: Name: powershell, Id: 4412, Window Title: 'Exchange Management Shell'. Close that application and retry.").unwrap();
        assert_eq!(f.process, "powershell");
        assert_eq!(f.pid, "4412");
        assert_eq!(f.title, "Exchange Management Shell");
        assert!(f.path.ends_with("Management.dll"));
        assert_eq!(
            engine_line("MSI (s) (C8:50) [01:49:43:906]: Note: x"),
            Some(("01:49:43:906", "Note: x"))
        );
        assert_eq!(
            error_message_at("Error 1310. Error writing to file: C:\\x."),
            Some(0)
        );
        assert_eq!(
            error_message_at("Note: 1: 2262 2: Error 3: -2147287038"),
            None
        );
        assert_eq!(
            error_message_at("Product: X -- Error 1714. The older version"),
            Some(14)
        );
        let h = Header::parse("=== Verbose logging started: 24/03/2026  05:15:49  Build type: SHIP UNICODE 5.00.10011.00  Calling process: C:\\WINDOWS\\system32\\msiexec.exe ===").unwrap();
        assert!(h.started);
        assert_eq!(h.calling, "C:\\WINDOWS\\system32\\msiexec.exe");
        assert!(
            Header::parse("=== Logging stopped: 24/03/2026  05:17:54 ===")
                .is_some_and(|h| !h.started)
        );
        assert!(Header::parse("=== Verbose logging started: soon ===").is_none());
    }
}
