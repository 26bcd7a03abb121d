//! One timeline across formats. Event logs store UTC; text logs store the server's wall-clock time
//! with no offset. Once every file has been read, and before correlation, this places each text
//! log's events: it decides which computer the log is of (the event logs found in the same folder
//! or archive, or `--text-computer`), then finds that computer's offset from moments both kinds of
//! log record (`Disabling service 'X'` and the 7040 that disabled X; `Stopping service 'X'` and
//! the 7036; the log's `Info 1603` and MsiInstaller 1025 with the same process ID; the log's
//! failure sentence and 1023/11708), each difference rounded to the 15 minutes every time zone is a
//! multiple of. Each text event takes the offset of the anchor nearest to it in time, so a log
//! that spans a change to or from summer time is placed right on both sides. Without anchors the
//! zone `ExchangeSetup.log` states (standard time) is used, and without that the events keep
//! their date and wall-clock time, and the report says they are placed by date only. Where the
//! zone is known (a collection's manifest, `--live`: `known.rs`), no anchor is needed: each line
//! takes the offset in force at its moment. The pairing itself is `anchors.rs`.

mod anchors;
mod known;

use anchors::{
    ANCHOR_KINDS, SLACK_SECONDS, WEAK_ANCHOR_KINDS, WEAK_SLACK_SECONDS, find_anchors, nearest,
    text_kind,
};

pub use known::KnownClock;

use crate::diagnosis::Matched;
pub use crate::input::text::{Anchor, ComputerClock, OffsetVotes, Placement};
use crate::input::{InputReport, LogClock};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// What the run says about where text logs belong.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--text-computer`: the computer of text logs that no event log of one computer sits beside.
    pub text_computer: Option<String>,
    /// Folders whose text logs' computer and zone are known (a collection's manifest, `--live`).
    pub known: Vec<KnownClock>,
}

/// Place every text log's events against the event logs' UTC: sets their computer and time, and
/// each text log's [`Placement`]; returns each computer's clock.
pub fn place(
    matched: &mut [Matched],
    reports: &mut [InputReport],
    options: &Options,
) -> Vec<ComputerClock> {
    let is_text: Vec<bool> = reports
        .iter()
        .map(|r| r.clock == Some(LogClock::Local) || is_text_format(r.format.as_deref()))
        .collect();
    if !is_text.iter().any(|t| *t) {
        return Vec::new();
    }
    // Which computer each text log is of; a known clock says it outright.
    let mut owners = owners(reports, &is_text, options);
    let known_of: Vec<Option<&KnownClock>> = reports
        .iter()
        .enumerate()
        .map(|(s, r)| {
            let local = r.clock == Some(LogClock::Local) || is_text[s];
            options.known.iter().find(|k| local && k.covers(&r.path))
        })
        .collect();
    for (s, k) in known_of.iter().enumerate() {
        if let Some(
            k @ KnownClock {
                computer: Some(name),
                ..
            },
        ) = k
        {
            let owner = owner_of_collection(reports, &is_text, k, name);
            if short(&owner) != short(name) {
                reports[s].notes.push(format!(
                    "the collection's manifest names the computer {name}, and the event logs collected with it are of {owner}: taken to be of {owner}"
                ));
            }
            owners[s] = (owner, k.basis);
        }
    }
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    for m in matched.iter_mut() {
        let s = m.event.source as usize;
        if is_text.get(s).copied().unwrap_or(false) {
            let (name, _) = &owners[s];
            let shared = names
                .entry(name.clone())
                .or_insert_with(|| Arc::from(name.as_str()))
                .clone();
            m.event.computer = shared;
        }
    }
    // Per computer: anchors between its local-clock text events and its event-log events.
    let local: Vec<bool> = reports
        .iter()
        .map(|r| r.clock == Some(LogClock::Local))
        .collect();
    let mut by_computer: HashMap<String, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, m) in matched.iter().enumerate() {
        let key = short(&m.event.computer);
        let s = m.event.source as usize;
        let entry = by_computer.entry(key).or_default();
        if local.get(s).copied().unwrap_or(false) {
            entry.0.push(i);
        } else if !is_text.get(s).copied().unwrap_or(false) {
            entry.1.push(i);
        }
    }
    // In an order that does not depend on which thread read what first.
    for (texts, logs) in by_computer.values_mut() {
        for v in [texts, logs] {
            v.sort_by_key(|&i| {
                (
                    matched[i].event.source,
                    matched[i].event.record_id,
                    matched[i].event.event_id,
                )
            });
        }
    }
    let mut clocks = Vec::new();
    let mut offset_of_source: HashMap<usize, (Option<i32>, &'static str)> = HashMap::new();
    // Per computer: the offset its text logs were placed with, for its text logs of which no
    // event was kept (they are placed all the same).
    let mut offset_of_computer: HashMap<String, (Option<i32>, &'static str)> = HashMap::new();
    let mut keys: Vec<&String> = by_computer.keys().collect();
    keys.sort();
    let mut shifts: Vec<(usize, i32)> = Vec::new();
    for key in keys {
        let (texts, logs) = &by_computer[key];
        // Text events whose zone is known are placed exactly, each with the offset in force.
        let (exact, texts): (Vec<usize>, Vec<usize>) = texts
            .iter()
            .partition(|&&t| known_of[matched[t].event.source as usize].is_some());
        if !exact.is_empty() {
            let mut votes: HashMap<i32, usize> = HashMap::new();
            let mut basis = "";
            for &t in &exact {
                let s = matched[t].event.source as usize;
                let Some(k) = known_of[s] else { continue };
                let off = k.offset_of_local(matched[t].event.time.naive_utc());
                shifts.push((t, off));
                *votes.entry(off).or_default() += 1;
                offset_of_source.entry(s).or_insert((Some(off), k.basis));
                basis = k.basis;
            }
            let offsets = ranked(votes);
            let primary = offsets.first().map(|o| o.utc_offset_minutes);
            offset_of_computer.insert(key.clone(), (primary, basis));
            if texts.is_empty() {
                clocks.push(ComputerClock {
                    computer: matched[exact[0]].event.computer.to_string(),
                    utc_offset_minutes: primary,
                    offsets,
                    basis: basis.into(),
                    anchors: Vec::new(),
                    anchors_total: 0,
                });
            }
        }
        let texts = &texts;
        if texts.is_empty() {
            continue;
        }
        let mut anchors = find_anchors(matched, texts, logs, ANCHOR_KINDS, SLACK_SECONDS);
        let mut weak = false;
        if anchors.is_empty() {
            anchors = find_anchors(matched, texts, logs, WEAK_ANCHOR_KINDS, WEAK_SLACK_SECONDS);
            weak = !anchors.is_empty();
        }
        let mut votes: HashMap<i32, usize> = HashMap::new();
        for (_, _, off) in &anchors {
            *votes.entry(*off).or_default() += 1;
        }
        let mut offsets = ranked(votes);
        // Offsets found by a single stray pairing among many agreeing ones are noise.
        let strongest = offsets.first().map_or(0, |o| o.anchors);
        offsets.retain(|o| o.anchors * 5 >= strongest || o.anchors >= 3);
        let trusted: Vec<&(usize, usize, i32)> = anchors
            .iter()
            .filter(|(_, _, o)| offsets.iter().any(|v| v.utc_offset_minutes == *o))
            .collect();
        let (primary, basis) = if let Some(o) = offsets.first() {
            (
                Some(o.utc_offset_minutes),
                if weak {
                    "anchored_to_transaction_start"
                } else {
                    "anchored"
                },
            )
        } else if let Some(zone) = setup_log_zone(matched, texts, reports) {
            (Some(zone), "setup_log_time_zone")
        } else {
            (None, "date_only")
        };
        // Each text event: the offset of the nearest trusted anchor, else the primary one.
        let mut anchor_times: Vec<(DateTime<Utc>, i32)> = trusted
            .iter()
            .map(|(t, _, o)| (matched[*t].event.time, *o))
            .collect();
        anchor_times.sort();
        for &t in texts {
            let at = matched[t].event.time;
            let own_zone = reports
                .get(matched[t].event.source as usize)
                .and_then(|r| r.placed.as_ref())
                .filter(|p| p.basis == "setup_log_time_zone")
                .and_then(|p| p.utc_offset_minutes);
            let off = nearest(&anchor_times, at).or(own_zone).or(primary);
            if let Some(off) = off {
                shifts.push((t, off));
            }
            let s = matched[t].event.source as usize;
            let placed_by = match (anchor_times.is_empty(), own_zone) {
                (true, Some(zone)) => (Some(zone), "setup_log_time_zone"),
                _ => (primary, basis),
            };
            offset_of_source.entry(s).or_insert(placed_by);
        }
        offset_of_computer.insert(key.clone(), (primary, basis));
        let computer = matched[texts[0]].event.computer.to_string();
        let shown: Vec<Anchor> = trusted
            .iter()
            .take(10)
            .map(|(t, l, o)| {
                let (t, l) = (&matched[*t], &matched[*l]);
                Anchor {
                    text: format!(
                        "{} line {}: {}",
                        name_of(reports, t),
                        t.event.record_id,
                        text_kind(&t.event.provider, t.event.event_id)
                    ),
                    event: format!(
                        "{} record {}: {} {}",
                        name_of(reports, l),
                        l.event.record_id,
                        l.event.provider,
                        l.event.event_id
                    ),
                    local_time: t
                        .event
                        .time
                        .naive_utc()
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string(),
                    utc_time: l.event.time,
                    utc_offset_minutes: *o,
                }
            })
            .collect();
        clocks.push(ComputerClock {
            computer,
            utc_offset_minutes: primary,
            offsets,
            basis: basis.into(),
            anchors: shown,
            anchors_total: trusted.len(),
        });
    }
    for (t, off) in shifts {
        let e = &mut matched[t].event;
        e.time -= Duration::minutes(off.into());
    }
    // A saved state holds no time of its own: it was written at the last save the
    // service-control log records, which is a truer time than the file's (a copy's is the copy's).
    let mut last_save: HashMap<String, DateTime<Utc>> = HashMap::new();
    for m in matched.iter() {
        if m.event.event_id == 10
            && m.event
                .provider
                .eq_ignore_ascii_case("evtriage:service-control")
        {
            let t = last_save
                .entry(short(&m.event.computer))
                .or_insert(m.event.time);
            *t = (*t).max(m.event.time);
        }
    }
    let mut retimed: HashMap<usize, bool> = HashMap::new();
    for m in matched.iter_mut() {
        let s = m.event.source as usize;
        if reports.get(s).and_then(|r| r.format.as_deref()) == Some("clixml") {
            let at = last_save.get(&short(&m.event.computer)).copied();
            retimed.insert(s, at.is_some());
            if let Some(at) = at {
                m.event.time = at;
            }
        }
    }
    for (s, r) in reports.iter_mut().enumerate() {
        if !is_text[s] {
            continue;
        }
        let (computer, from) = owners[s].clone();
        let own_zone = r
            .placed
            .as_ref()
            .filter(|p| p.basis == "setup_log_time_zone")
            .map(|p| (p.utc_offset_minutes, "setup_log_time_zone"));
        let (offset, basis) = if retimed.get(&s) == Some(&true) {
            (None, "last_save_in_service_control_log")
        } else if let Some(k) = known_of[s]
            && r.clock == Some(LogClock::Local)
        {
            // Of no kept event: the offset in force at the log's first time.
            offset_of_source.get(&s).copied().unwrap_or_else(|| {
                let at = r.log.as_ref().map(|l| l.first.naive_utc());
                (at.map(|t| k.offset_of_local(t)), k.basis)
            })
        } else if r.clock == Some(LogClock::Local) {
            offset_of_source
                .get(&s)
                .copied()
                .filter(|(o, b)| o.is_some() && *b != "setup_log_time_zone" || own_zone.is_none())
                .or(own_zone)
                .or_else(|| offset_of_computer.get(&short(&owners[s].0)).copied())
                .or_else(|| {
                    r.placed
                        .as_ref()
                        .filter(|p| p.basis == "setup_log_time_zone")
                        .map(|p| (p.utc_offset_minutes, "setup_log_time_zone"))
                })
                .unwrap_or((None, "date_only"))
        } else {
            (Some(0), "file_time_utc")
        };
        r.placed = Some(Placement {
            computer,
            computer_from: from.into(),
            utc_offset_minutes: offset,
            basis: basis.into(),
        });
        if let (Some(span), Some(off)) = (&mut r.log, offset)
            && r.clock == Some(LogClock::Local)
        {
            span.first -= Duration::minutes(off.into());
            span.last -= Duration::minutes(off.into());
        }
        if let Some(span) = &mut r.log
            && span.computer.is_empty()
            && from != "unknown"
        {
            span.computer = owners[s].0.clone();
        }
    }
    clocks
}

/// Offsets with how many moments found each, the most found first (ties: the smaller offset).
fn ranked(votes: HashMap<i32, usize>) -> Vec<OffsetVotes> {
    let mut offsets: Vec<OffsetVotes> = votes
        .into_iter()
        .map(|(o, n)| OffsetVotes {
            utc_offset_minutes: o,
            anchors: n,
        })
        .collect();
    offsets.sort_by(|a, b| {
        b.anchors
            .cmp(&a.anchors)
            .then(a.utc_offset_minutes.cmp(&b.utc_offset_minutes))
    });
    offsets
}

/// Drop the events that the run's scope (`--since`, `--until`, `--computer`) leaves out, once
/// placed: a text log's events could not be judged before they had a computer and a UTC time,
/// and the records that placed them were kept for that.
pub fn apply_scope(matched: &mut Vec<Matched>, scope: &crate::diagnosis::Scope) {
    matched.retain(|m| scope.holds_at(m.event.time, &m.event.computer));
}

/// The clock of a computer's text logs, if any were placed.
pub fn clock_of(clocks: &[ComputerClock], computer: &str) -> Option<ComputerClock> {
    clocks
        .iter()
        .find(|c| short(&c.computer) == short(computer))
        .cloned()
}

/// Whether a format is one of the text logs' (local time, placed here).
pub fn is_text_format(format: Option<&str>) -> bool {
    matches!(
        format,
        Some("msi-log" | "service-control-log" | "exchange-setup-log" | "clixml")
    )
}

fn short(computer: &str) -> String {
    computer
        .split('.')
        .next()
        .unwrap_or(computer)
        .trim()
        .to_lowercase()
}

fn name_of(reports: &[InputReport], m: &Matched) -> String {
    let path = reports
        .get(m.event.source as usize)
        .map_or("", |r| r.path.as_str());
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_string()
}

/// The standard offset an `ExchangeSetup.log` of the computer states (`Local time zone:
/// (UTC-05:00) …`), which its reader noted.
fn setup_log_zone(matched: &[Matched], texts: &[usize], reports: &[InputReport]) -> Option<i32> {
    texts.iter().find_map(|&t| {
        let r = reports.get(matched[t].event.source as usize)?;
        r.placed
            .as_ref()
            .filter(|p| p.basis == "setup_log_time_zone")
            .and_then(|p| p.utc_offset_minutes)
    })
}

/// The folder a report's path is in, with `/` between parts and an archive's `!/` as a folder.
fn folder(path: &str) -> String {
    let p = path.replace('\\', "/");
    match p.rfind('/') {
        Some(i) => p[..i].trim_end_matches('!').to_string(),
        None => String::new(),
    }
}

/// The computer of a collection's text logs: the one its event logs are of (they were all taken
/// from one server, and the records spell its name as the diagnosis does), else the computer
/// its manifest names. They differ only for a renamed server, or logs copied from elsewhere.
fn owner_of_collection(
    reports: &[InputReport],
    is_text: &[bool],
    clock: &KnownClock,
    named: &str,
) -> String {
    let mut computers: Vec<&str> = reports
        .iter()
        .enumerate()
        .filter(|(i, r)| !is_text[*i] && clock.covers(&r.path))
        .filter_map(|(_, r)| r.log.as_ref().map(|l| l.computer.as_str()))
        .filter(|c| !c.is_empty())
        .collect();
    computers.sort_by_key(|c| short(c));
    computers.dedup_by(|a, b| short(a) == short(b));
    match computers.as_slice() {
        [one] => one.to_string(),
        many => many
            .iter()
            .find(|c| short(c) == short(named))
            .map_or_else(|| named.to_string(), |c| c.to_string()),
    }
}

/// For every input: the computer it is of and how that was decided (text logs only; others get
/// their own log's computer).
fn owners(
    reports: &[InputReport],
    is_text: &[bool],
    options: &Options,
) -> Vec<(String, &'static str)> {
    let logs: Vec<(String, &str)> = reports
        .iter()
        .enumerate()
        .filter(|(i, _)| !is_text[*i])
        .filter_map(|(_, r)| {
            r.log
                .as_ref()
                .filter(|l| !l.computer.is_empty())
                .map(|l| (folder(&r.path), l.computer.as_str()))
        })
        .collect();
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if !is_text[i] {
                return (
                    r.log
                        .as_ref()
                        .map(|l| l.computer.clone())
                        .unwrap_or_default(),
                    "log",
                );
            }
            // The log names its computer itself (a verbose log's ComputerName property): spelled
            // as the event logs spell it when one of them is of that computer.
            if let Some(claim) = r
                .log
                .as_ref()
                .map(|l| l.computer.as_str())
                .filter(|c| !c.is_empty())
            {
                let spelled = logs
                    .iter()
                    .map(|(_, c)| *c)
                    .find(|c| short(c) == short(claim))
                    .unwrap_or(claim);
                return (spelled.to_string(), "log");
            }
            let mut dir = folder(&r.path);
            loop {
                let prefix = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                let mut here: Vec<&str> = logs
                    .iter()
                    .filter(|(f, _)| dir.is_empty() || *f == dir || f.starts_with(&prefix))
                    .map(|(_, c)| *c)
                    .collect();
                here.sort_by_key(|c| short(c));
                here.dedup_by(|a, b| short(a) == short(b));
                match here.as_slice() {
                    [one] => return (one.to_string(), "folder"),
                    [] if !dir.is_empty() => {}
                    _ => break,
                }
                match dir.rfind('/') {
                    Some(i) => dir = dir[..i].trim_end_matches('!').to_string(),
                    None if !dir.is_empty() => dir.clear(),
                    None => break,
                }
            }
            match &options.text_computer {
                Some(c) => (c.clone(), "flag"),
                None => ("unknown".to_string(), "unknown"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_nearest_offsets() {
        assert_eq!(
            folder("case.zip!/EXMBX01/ExchangeSetupLogs/ServiceControl.log"),
            "case.zip!/EXMBX01/ExchangeSetupLogs"
        );
        assert_eq!(folder("case.zip!/System.evtx"), "case.zip");
        assert_eq!(folder("C:\\cases\\x\\MSI1.LOG"), "C:/cases/x");
        assert_eq!(folder("MSI1.LOG"), "");
        let t = |h: i64| DateTime::from_timestamp(h * 3600, 0).unwrap();
        assert_eq!(nearest(&[(t(1), 60), (t(10), 120)], t(4)), Some(60));
        assert_eq!(nearest(&[(t(1), 60), (t(10), 120)], t(7)), Some(120));
        assert_eq!(nearest(&[], t(7)), None);
    }
}
