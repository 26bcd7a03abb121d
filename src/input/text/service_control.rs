//! Exchange's `ServiceControl.log` (`%SystemDrive%\ExchangeSetupLogs`), written by
//! `ServiceControl.ps1` when a rollup, security update or cumulative update stops, disables and
//! later re-enables Exchange's services: `[HH:mm:ss] message` lines, local time with no date, each
//! run opened by `[HH:mm:ss] * ServiceControl.ps1: <short date> <time>`, runs appended. Layout:
//! `shared/reference/text-logs.md` §2 (the script's own words, and a real log's).
//!
//! The messages themselves ([`message`]) are shared with `ExchangeSetup.log`, into which the same
//! script writes when setup runs it: both yield events of provider `evtriage:service-control`.

use super::{Clock, Emitter, ShortDate, date_order, for_each_line, head_text, parse_time};
use crate::input::{EventSink, InputFile, InputReport, LogReader, Progress};

pub struct ServiceControlReader;

pub const PROVIDER: &str = "service-control";

/// The events of a service-control run.
pub mod ids {
    /// `* ServiceControl.ps1: <date> <time>`: a run begins.
    pub const RUN_STARTED: u16 = 1;
    /// `Performing service control with options: …`: `Options` (BeforePatch, AfterPatch, …).
    pub const OPTIONS: u16 = 2;
    /// `Saving services startup mode.`: the start modes are written to `ServiceStartupMode.xml`
    /// now, replacing what it held.
    pub const START_MODES_SAVED: u16 = 10;
    /// `Overwrite is specified. File <path> is going to be overwritten with a new state.`: `Path`.
    pub const STATE_OVERWRITTEN: u16 = 11;
    /// `Saving service state to '<path>'...`: `Path` (`ServiceState.xml`).
    pub const STATE_SAVED: u16 = 12;
    /// `Stopping service '<name>'.`: `Service`.
    pub const STOPPING: u16 = 20;
    /// `Killing instead of Stopping '<name>'.`: `Service`.
    pub const KILLING: u16 = 21;
    /// `Disabling service '<name>'.`: `Service`.
    pub const DISABLING: u16 = 30;
    /// `Ignoring service '<name>'`: not installed.
    pub const IGNORING: u16 = 31;
    /// `Enabling service '<name>'.`: `Service`.
    pub const ENABLING: u16 = 40;
    /// `'<name>' has unrecognized '<mode>'`: `Service`, `StartMode`.
    pub const UNRECOGNIZED_MODE: u16 = 41;
    /// `Unable to enable service(s): '<names>'`: `Services`.
    pub const UNABLE_TO_ENABLE: u16 = 42;
    /// `Reading service registry data from '<path>'`: `Path`.
    pub const READING_STATE: u16 = 43;
    /// `[Error] <text>`: `Message`.
    pub const ERROR: u16 = 50;
    /// `Script completed succesfully.` (sic).
    pub const COMPLETED: u16 = 60;
}

/// A value from a line is cut to this many characters.
const MAX_VALUE: usize = 1024;

fn cap(s: &str) -> &str {
    super::cap(s, MAX_VALUE)
}

fn one<'a>(id: u16, name: &'static str, v: &'a str) -> Option<(u16, Vec<(&'static str, &'a str)>)> {
    Some((id, vec![(name, v)]))
}

/// The event a service-control message is, with its fields; `None` for the rest.
pub fn message(m: &str) -> Option<(u16, Vec<(&'static str, &str)>)> {
    let m = m.trim();
    // The script stops only what is running: a service it stops or kills was running, and
    // is stopped now (`State` 1, as SCM's 7036 says it).
    if let Some(rest) = m.strip_prefix("Stopping service '") {
        let name = rest.split_once('\'')?.0;
        return Some((ids::STOPPING, vec![("Service", cap(name)), ("State", "1")]));
    }
    if let Some(rest) = m.strip_prefix("Killing instead of Stopping '") {
        return Some((
            ids::KILLING,
            vec![("Service", cap(rest.split_once('\'')?.0)), ("State", "1")],
        ));
    }
    if let Some(rest) = m.strip_prefix("Disabling service '") {
        return one(ids::DISABLING, "Service", cap(rest.split_once('\'')?.0));
    }
    if let Some(rest) = m.strip_prefix("Enabling service '") {
        return one(ids::ENABLING, "Service", cap(rest.split_once('\'')?.0));
    }
    if let Some(rest) = m.strip_prefix("Ignoring service '") {
        return one(ids::IGNORING, "Service", cap(rest.split_once('\'')?.0));
    }
    if m.starts_with("Saving services startup mode") {
        return Some((ids::START_MODES_SAVED, Vec::new()));
    }
    if let Some(rest) = m.strip_prefix("Overwrite is specified. File ") {
        let path = rest
            .split_once(" is going to be overwritten")
            .map_or(rest, |(p, _)| p);
        return one(ids::STATE_OVERWRITTEN, "Path", cap(path));
    }
    if let Some(rest) = m.strip_prefix("Saving service state to '") {
        return one(ids::STATE_SAVED, "Path", cap(rest.split_once('\'')?.0));
    }
    if let Some(rest) = m.strip_prefix("Reading service registry data from '") {
        return one(ids::READING_STATE, "Path", cap(rest.split_once('\'')?.0));
    }
    if let Some(rest) = m.strip_prefix("Performing service control with options: ") {
        return one(ids::OPTIONS, "Options", cap(rest));
    }
    if let Some(rest) = m.strip_prefix("Unable to enable service(s): ") {
        return one(
            ids::UNABLE_TO_ENABLE,
            "Services",
            cap(rest.trim_matches('\'')),
        );
    }
    if let Some(rest) = m.strip_prefix("[Error] ") {
        return one(ids::ERROR, "Message", cap(rest));
    }
    if m.starts_with("Script completed succ") {
        return Some((ids::COMPLETED, Vec::new()));
    }
    if let Some(rest) = m.strip_prefix('\'')
        && let Some((name, tail)) = rest.split_once("' has unrecognized '")
    {
        let mode = tail.split_once('\'').map_or(tail, |(v, _)| v);
        return Some((
            ids::UNRECOGNIZED_MODE,
            vec![("Service", cap(name)), ("StartMode", cap(mode))],
        ));
    }
    None
}

/// `[00:50:54] message` → (time, message). The time is eight characters, so its `] ` is looked
/// for there rather than searched for (a searcher costs more than the line's first ten bytes);
/// one earlier in the line refuses it, as splitting at the first `] ` does.
fn timed(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('[')?;
    let b = rest.as_bytes();
    if b.get(8..10)? != b"] " || b[..9].windows(2).any(|w| w == b"] ") {
        return None;
    }
    // Bytes 8 and 9 are ASCII: both cuts fall between characters.
    let (time, message) = (&rest[..8], &rest[10..]);
    (b[2] == b':' && b[5] == b':').then_some((time, message))
}

/// `* ServiceControl.ps1: 21/11/2022 00:50:54` → the date and time.
fn run_header(message: &str) -> Option<(ShortDate, &str)> {
    let rest = message.strip_prefix("* ServiceControl.ps1:")?.trim();
    let mut words = rest.split_whitespace();
    let date = ShortDate::parse(words.next()?)?;
    let time = words.next()?;
    Some((date, time))
}

impl LogReader for ServiceControlReader {
    fn format(&self) -> &'static str {
        "service-control-log"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        let text = head_text(head);
        // A line of dashes, then timed lines; the first run names the script.
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.bytes().all(|b| b == b'-'));
        match lines.next() {
            Some(l) => timed(l)
                .is_some_and(|(_, m)| run_header(m).is_some() || m.starts_with("* ServiceControl")),
            None => false,
        }
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        InputReport::of_sequential_read(input, "service-control-log", |report| {
            let (order, proved, found) = date_order(input, |line| {
                timed(line).and_then(|(_, m)| run_header(m)).map(|(d, _)| d)
            })?;
            if !proved && found {
                report.notes.push("its dates do not say whether the day or the month comes first; read month first, as a US server writes them".into());
            }
            let mut emitter = Emitter::new(input, sink, PROVIDER, "ServiceControl.log");
            let mut clock = Clock::default();
            let mut undated = 0u64;
            let cut = for_each_line(input, progress, |n, line| {
                let Some((time, m)) = timed(line) else {
                    return;
                };
                if let Some((date, t)) = run_header(m) {
                    match date.date(order).zip(parse_time(t)) {
                        Some((d, t)) => {
                            let at = d.and_time(t);
                            clock.set(at);
                            emitter.emit(report, n, at, ids::RUN_STARTED, &[]);
                        }
                        None => {
                            report.error(format!("line {n}: a run header whose date is not a date"))
                        }
                    }
                    return;
                }
                let Some(t) = parse_time(time) else {
                    return;
                };
                let Some(at) = clock.advance(t) else {
                    undated += 1;
                    return;
                };
                if let Some((id, fields)) = message(m) {
                    emitter.emit(report, n, at, id, &fields);
                }
            })?;
            if undated > 0 {
                report.error(format!("{undated} lines come before any run header with a date: they cannot be placed in time and are not used"));
                report.records_failed += undated;
            }
            emitter.finish(report, cut);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_messages() {
        assert_eq!(
            message("Disabling service 'MSExchangeIS'."),
            Some((ids::DISABLING, vec![("Service", "MSExchangeIS")]))
        );
        assert_eq!(
            message("Stopping service 'WinMgmt'."),
            Some((ids::STOPPING, vec![("Service", "WinMgmt"), ("State", "1")]))
        );
        assert_eq!(
            message("Killing instead of Stopping 'MSExchangeTransport'."),
            Some((
                ids::KILLING,
                vec![("Service", "MSExchangeTransport"), ("State", "1")]
            ))
        );
        assert_eq!(
            message("Saving services startup mode."),
            Some((ids::START_MODES_SAVED, vec![]))
        );
        assert_eq!(
            message("'MSExchangePOP3' has unrecognized 'Unknown'"),
            Some((
                ids::UNRECOGNIZED_MODE,
                vec![("Service", "MSExchangePOP3"), ("StartMode", "Unknown")]
            ))
        );
        assert_eq!(
            message("Script completed succesfully."),
            Some((ids::COMPLETED, vec![]))
        );
        assert_eq!(message("Adding to installed roles list: Mailbox"), None);
        assert_eq!(
            run_header("* ServiceControl.ps1: 21/11/2022 00:50:54"),
            Some((ShortDate(21, 11, 2022), "00:50:54"))
        );
        assert!(timed("[00:50:54] x").is_some());
        assert!(timed("[0:50:54] x").is_none());
    }

    /// The time found where it must be splits as the first `] ` does, on lines made of the
    /// characters that matter (brackets, spaces, colons, digits, a letter of two bytes).
    #[test]
    fn timed_splits_at_the_first_separator() {
        fn reference(line: &str) -> Option<(&str, &str)> {
            let rest = line.strip_prefix('[')?;
            let (time, message) = rest.split_once("] ")?;
            (time.len() == 8 && time.as_bytes()[2] == b':' && time.as_bytes()[5] == b':')
                .then_some((time, message))
        }
        let alphabet = ["[", "]", " ", ":", "0", "é", "] "];
        let mut lines = vec![String::new()];
        // Every line of up to six pieces, and each behind a well-formed stamp's first bytes.
        for _ in 0..6 {
            let next: Vec<String> = lines
                .iter()
                .flat_map(|l| alphabet.iter().map(move |a| format!("{l}{a}")))
                .collect();
            lines.extend(next);
            lines.dedup();
        }
        let mut checked = 0;
        for tail in &lines {
            for head in ["[00:50:54", "[00:50:5", "[00:5", "[", ""] {
                let line = format!("{head}{tail}");
                assert_eq!(timed(&line), reference(&line), "{line:?}");
                checked += 1;
            }
        }
        assert!(checked > 100_000, "{checked}");
    }
}
