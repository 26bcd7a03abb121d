//! Text logs as input: the ones a customer sends beside the event logs (the Windows Installer
//! verbose log, Exchange's `ServiceControl.log`, its saved start modes, `ExchangeSetup.log`), each
//! read by a [`super::LogReader`] of its own into the same normalized events as event-log records,
//! so that signatures correlate them as they correlate records (formats in
//! `shared/reference/text-logs.md`).
//!
//! What they share lives here: the locale's short dates, times and the events themselves; their
//! lines, decoded and of bounded length, come from `lines.rs`. Text logs keep the server's local
//! time without an offset: their events carry that wall-clock time as if it were UTC, their
//! [`super::InputReport`] says so (`clock: local`), and [`crate::timeline`] places them against the
//! event logs once everything has been read.

pub mod clixml;
pub mod exchange_setup;
mod lines;
pub use lines::{Encoding, MAX_LINE, encoding_of, for_each_line, for_each_line_while, head_text};
pub(crate) use lines::{Separator, decode};
pub mod msi_log;
mod placement;
pub use placement::{Anchor, ComputerClock, OffsetVotes, Placement};
pub mod service_control;

use super::{EventSink, InputFile, InputReport, LogSpan, Progress};
use crate::event::{Event, Interner, Payload, TEXT_PROVIDER_PREFIX};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;

/// `s` trimmed, and cut to at most `max` bytes at a character boundary: no value read from a line
/// is longer than a path or a sentence is.
pub(crate) fn cap(s: &str, max: usize) -> &str {
    let s = s.trim();
    let mut at = s.len().min(max);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

/// The first line of text that is not empty, trimmed.
pub fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// The order of day and month this file's dates follow, from the dates `date_of` finds in its
/// lines: read until one proves it (most files do within their first lines), else to the end,
/// then month first (`proved` false). Whether any date was found at all.
pub fn date_order(
    input: &InputFile,
    date_of: impl Fn(&str) -> Option<ShortDate>,
) -> io::Result<(DateOrder, bool, bool)> {
    let mut found = false;
    let mut order = None;
    for_each_line_while(input, &super::NoProgress, |_, line| {
        if let Some(d) = date_of(line) {
            found = true;
            order = d.proves();
            if order.is_some() {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    Ok(match order {
        Some(o) => (o, true, found),
        None => (DateOrder::MonthFirst, false, found),
    })
}

/// The order of day and month in a locale's short date.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    MonthFirst,
    DayFirst,
    YearFirst,
}

/// A short date as a locale writes it (`6/13/2023`, `13.06.2023`, `08-03-2021`, `2023-06-13`),
/// split into its three numbers; which is the day is settled by [`DateOrder`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShortDate(pub u32, pub u32, pub u32);

impl ShortDate {
    pub fn parse(s: &str) -> Option<ShortDate> {
        let mut parts = s.trim().split(['/', '-', '.']);
        let mut next = || -> Option<u32> {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let d = ShortDate(next()?, next()?, next()?);
        parts.next().is_none().then_some(d)
    }

    /// The order this date alone proves: a first number above 12 is a day, a second above 12 is
    /// a day, a first of four digits is a year.
    pub fn proves(&self) -> Option<DateOrder> {
        if self.0 > 31 {
            Some(DateOrder::YearFirst)
        } else if self.0 > 12 {
            Some(DateOrder::DayFirst)
        } else if self.1 > 12 {
            Some(DateOrder::MonthFirst)
        } else {
            None
        }
    }

    pub fn date(&self, order: DateOrder) -> Option<NaiveDate> {
        let year = |y: u32| if y < 100 { 2000 + y } else { y } as i32;
        match order {
            DateOrder::MonthFirst => NaiveDate::from_ymd_opt(year(self.2), self.0, self.1),
            DateOrder::DayFirst => NaiveDate::from_ymd_opt(year(self.2), self.1, self.0),
            DateOrder::YearFirst => NaiveDate::from_ymd_opt(year(self.0), self.1, self.2),
        }
    }
}

/// `H:MM:SS` or `HH:MM:SS`, with `:mmm` or `.fff…` after it or not.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    let mut it = s.splitn(4, [':', '.']);
    let h: u32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let sec: u32 = it.next()?.parse().ok()?;
    let ms = match it.next() {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            let digits = f.len().min(3);
            let v: u32 = f[..digits].parse().ok()?;
            v * 10u32.pow(3 - digits as u32)
        }
        Some(_) => return None,
        None => 0,
    };
    NaiveTime::from_hms_milli_opt(h, m, sec, ms)
}

/// Wall-clock times of lines that carry no date, carried forward from the last date: a time that
/// runs back by more than twelve hours has crossed midnight (the interleaved threads of one log
/// run back by milliseconds, never hours).
#[derive(Debug, Default)]
pub struct Clock {
    pub current: Option<NaiveDateTime>,
}

impl Clock {
    pub fn set(&mut self, at: NaiveDateTime) {
        self.current = Some(at);
    }

    /// The moment of a time-of-day read after the current one.
    pub fn advance(&mut self, t: NaiveTime) -> Option<NaiveDateTime> {
        let cur = self.current?;
        let mut at = cur.date().and_time(t);
        if at < cur && cur - at > chrono::Duration::hours(12) {
            at += chrono::Duration::days(1);
        }
        self.current = Some(at);
        Some(at)
    }
}

/// A text line's fields as signatures read them, borrowed from the line: an empty value is
/// absent, as `(NULL)` is in a record.
struct NamedFields<'a>(&'a [(&'a str, &'a str)]);

impl crate::event::PayloadSource for NamedFields<'_> {
    fn positional(&self, index: usize) -> Option<std::borrow::Cow<'_, str>> {
        self.0
            .get(index)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
            .map(std::borrow::Cow::Borrowed)
    }
    fn named(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
            .map(std::borrow::Cow::Borrowed)
    }
    fn binary(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        None
    }
}

/// Builds the events of one text log and accounts for them in its report.
pub struct Emitter<'a> {
    pub input: &'a InputFile,
    pub sink: &'a dyn EventSink,
    provider: Arc<str>,
    channel: Arc<str>,
    computer: Arc<str>,
    log_name: &'static str,
    first: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
}

impl<'a> Emitter<'a> {
    /// `provider` is the part after [`TEXT_PROVIDER_PREFIX`]; `log_name` names the log in the
    /// report's span.
    pub fn new(
        input: &'a InputFile,
        sink: &'a dyn EventSink,
        provider: &str,
        log_name: &'static str,
    ) -> Self {
        let mut interner = Interner::default();
        Emitter {
            input,
            sink,
            provider: interner.get(&format!("{TEXT_PROVIDER_PREFIX}{provider}")),
            channel: interner.get(log_name),
            // Which computer a text log is of is settled once every file has been read.
            computer: interner.get(""),
            log_name,
            first: None,
            last: None,
        }
    }

    /// One event at line `line`, local time `at`, with these named fields; true when a
    /// signature kept it.
    pub fn emit(
        &mut self,
        report: &mut InputReport,
        line: u64,
        at: NaiveDateTime,
        event_id: u16,
        fields: &[(&str, &str)],
    ) -> bool {
        let provider = self.provider.clone();
        self.emit_as(&provider, report, line, at, event_id, fields)
    }

    /// Another provider's name, for a log that holds another's lines (`ExchangeSetup.log` holds
    /// `ServiceControl.ps1`'s).
    pub fn provider(name: &str) -> Arc<str> {
        Arc::from(format!("{TEXT_PROVIDER_PREFIX}{name}"))
    }

    /// [`Emitter::emit`] as another provider.
    pub fn emit_as(
        &mut self,
        provider: &Arc<str>,
        report: &mut InputReport,
        line: u64,
        at: NaiveDateTime,
        event_id: u16,
        fields: &[(&str, &str)],
    ) -> bool {
        report.records_read += 1;
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        // Not `wants_event_id`: that answers for event logs' records (see `EvidenceIndex`).
        let payload = NamedFields(fields);
        if !self.sink.wants_payload(provider, event_id, &payload) {
            return false;
        }
        let event = Event {
            source: self.input.id,
            record_id: line,
            header_record_id: None,
            time: at.and_utc(),
            computer: self.computer.clone(),
            channel: self.channel.clone(),
            provider: provider.clone(),
            event_id,
            qualifiers: None,
            level: None,
            user_sid: None,
            process_id: None,
            payload: Payload::default(),
            from_text_log: true,
        };
        let kept = self.sink.accept(event, &payload);
        if kept {
            report.records_used += 1;
        }
        kept
    }

    /// Set the report's span (local times, as the file keeps them) and its clock, and note the
    /// lines cut at [`MAX_LINE`].
    pub fn finish(self, report: &mut InputReport, cut_lines: u64) {
        if cut_lines > 0 {
            report
                .notes
                .push(format!("{cut_lines} lines longer than 64 KiB were cut"));
        }
        if let (Some(first), Some(last)) = (self.first, self.last) {
            report.log = Some(LogSpan {
                name: self.log_name.to_string(),
                computer: String::new(),
                first: first.and_utc(),
                last: last.and_utc(),
            });
        }
        report.clock = Some(super::LogClock::Local);
    }
}

/// `-05:00`, `+05:30` → minutes.
pub fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m)).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_offset("-05:00"), Some(-300));
        assert_eq!(parse_offset("+05:45"), Some(345));
        assert_eq!(parse_offset("+15:00"), None);
        assert_eq!(parse_offset("05:00"), None);
    }

    #[test]
    fn short_dates_in_every_order() {
        let us = ShortDate::parse("6/13/2023").unwrap();
        assert_eq!(us.proves(), Some(DateOrder::MonthFirst));
        assert_eq!(
            us.date(DateOrder::MonthFirst),
            NaiveDate::from_ymd_opt(2023, 6, 13)
        );
        let uk = ShortDate::parse("24/03/2026").unwrap();
        assert_eq!(uk.proves(), Some(DateOrder::DayFirst));
        assert_eq!(
            ShortDate::parse("2023-06-13").unwrap().proves(),
            Some(DateOrder::YearFirst)
        );
        let de = ShortDate::parse("13.06.2023").unwrap();
        assert_eq!(
            de.date(DateOrder::DayFirst),
            NaiveDate::from_ymd_opt(2023, 6, 13)
        );
        let ambiguous = ShortDate::parse("08-03-2021").unwrap();
        assert_eq!(ambiguous.proves(), None);
        assert_eq!(ShortDate::parse("1/2"), None);
        assert_eq!(ShortDate::parse("1/2/3/4"), None);
        assert_eq!(ShortDate::parse("a/2/2020"), None);
        assert_eq!(ShortDate::parse("99999/1/1"), None);
        assert_eq!(
            ShortDate::parse("2/30/2020")
                .unwrap()
                .date(DateOrder::MonthFirst),
            None
        );
    }

    #[test]
    fn times_carry_across_midnight_but_not_across_interleaved_threads() {
        let mut c = Clock::default();
        let d = NaiveDate::from_ymd_opt(2022, 11, 21).unwrap();
        c.set(d.and_hms_opt(23, 59, 58).unwrap());
        let t = |s| parse_time(s).unwrap();
        assert_eq!(c.advance(t("23:59:57:900")).unwrap().date(), d);
        assert_eq!(
            c.advance(t("00:00:03:001")).unwrap().date(),
            d.succ_opt().unwrap()
        );
        assert_eq!(parse_time("1:45:18"), NaiveTime::from_hms_opt(1, 45, 18));
        assert_eq!(
            parse_time("20:41:59.0654"),
            NaiveTime::from_hms_milli_opt(20, 41, 59, 65)
        );
        assert_eq!(parse_time("25:00:00"), None);
        assert_eq!(parse_time("1:2"), None);
    }
}
