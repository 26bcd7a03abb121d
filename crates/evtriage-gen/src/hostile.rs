//! Hostile logs: the KB 940006 sample (`samples/kb940006-rollup-failed`) with what an attacker
//! can write into it. Any local program can write Application events under any source name with
//! any strings, and a log file can be crafted whole, so every value here is one a real log can
//! hold: the layouts stay those of the sample (shared/reference/domain.md §2), only the strings
//! and the number of records change.
//!
//! Two uses: values chosen to break out of a command or a terminal line ([`with_values`]), and
//! small logs whose shape makes correlation or display expensive ([`Size`]).

use crate::events::child_mut;
use crate::samples::{self, Bundle};
use evtriage_writer::xmltree::Element;
use std::str::FromStr;

/// The KB sample bundle, as `samples/` holds it.
pub fn kb_bundle() -> Bundle {
    samples::all()
        .into_iter()
        .find(|b| b.name == "kb940006-rollup-failed")
        .expect("the KB sample is one of the bundles")
}

fn system_field<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    e.find("System").and_then(|s| s.find(name))
}

pub fn event_id(e: &Element) -> Option<u16> {
    system_field(e, "EventID").and_then(|x| x.text_or_empty().trim().parse().ok())
}

pub fn provider(e: &Element) -> &str {
    system_field(e, "Provider")
        .and_then(|p| p.get_attr("Name"))
        .unwrap_or("")
}

/// The `<Data>` elements of an event, in order.
pub fn data_mut(e: &mut Element) -> Vec<&mut Element> {
    e.children
        .iter_mut()
        .filter(|c| c.name == "EventData")
        .flat_map(|ed| ed.children.iter_mut().filter(|d| d.name == "Data"))
        .collect()
}

/// The `<Data Name="…">` element of an event (SCM's param1…param4).
pub fn named_mut<'a>(e: &'a mut Element, name: &str) -> Option<&'a mut Element> {
    data_mut(e)
        .into_iter()
        .find(|d| d.get_attr("Name") == Some(name))
}

/// SCM's binary data (`Key/state`, UTF-16LE) of a 7036.
fn set_scm_binary(e: &mut Element, text: &str) {
    if let Some(bin) = child_mut(e, "EventData", "Binary") {
        bin.text = Some(evtriage::values::to_hex_upper(&crate::events::utf16z(text)));
    }
}

/// Record IDs from the first event's, in order, after events were added.
fn renumber(events: &mut [Element]) {
    let first = events
        .first()
        .and_then(|e| system_field(e, "EventRecordID"))
        .and_then(|r| r.text_or_empty().parse::<u64>().ok())
        .unwrap_or(1);
    for (i, e) in events.iter_mut().enumerate() {
        crate::events::set_record_id(e, first + i as u64);
    }
}

/// A value an attacker chose for one place of the KB sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The installer log's path in 1023 (Data[3]).
    LogFile,
    /// The holding process's name in 1025 (Data[2]).
    ProcessName,
    /// The file in use in 1025 (Data[1]).
    FilePath,
    /// The update's title in 1023/1036 and Windows Update 20.
    UpdateTitle,
    /// The key name (param4) of the first service setup disabled (7040).
    ServiceKey,
    /// The display name (param1) of that service, in 7040 and 7036.
    ServiceDisplay,
    /// The package in the installer transaction (1040, Data[0]).
    Package,
    /// The computer every event names.
    Computer,
}

pub const FIELDS: &[Field] = &[
    Field::LogFile,
    Field::ProcessName,
    Field::FilePath,
    Field::UpdateTitle,
    Field::ServiceKey,
    Field::ServiceDisplay,
    Field::Package,
    Field::Computer,
];

/// The KB sample with `value` written where `field` stands.
pub fn with_value(field: Field, value: &str) -> Bundle {
    with_values(&[(field, value)])
}

pub fn with_values(values: &[(Field, &str)]) -> Bundle {
    let mut b = kb_bundle();
    for (field, value) in values {
        set(&mut b, *field, value);
    }
    b
}

fn set(b: &mut Bundle, field: Field, value: &str) {
    let msi = |e: &Element, ids: &[u16]| {
        provider(e) == "MsiInstaller" && event_id(e).is_some_and(|id| ids.contains(&id))
    };
    match field {
        Field::LogFile => set_data(&mut b.application, |e| msi(e, &[1023]), 3, value),
        Field::ProcessName => set_data(&mut b.application, |e| msi(e, &[1025]), 2, value),
        Field::FilePath => set_data(&mut b.application, |e| msi(e, &[1025]), 1, value),
        Field::Package => set_data(&mut b.application, |e| msi(e, &[1040]), 0, value),
        Field::UpdateTitle => {
            set_data(&mut b.application, |e| msi(e, &[1022, 1023]), 1, value);
            set_data(&mut b.application, |e| msi(e, &[1036]), 3, value);
            for e in b.system.iter_mut().filter(|e| event_id(e) == Some(20)) {
                if let Some(d) = named_mut(e, "updateTitle") {
                    d.text = Some(value.to_string());
                }
            }
        }
        Field::ServiceKey | Field::ServiceDisplay => {
            let Some((key, display)) = first_disabled(&b.system) else {
                return;
            };
            for e in b.system.iter_mut() {
                let id = event_id(e);
                if !matches!(id, Some(7040 | 7036 | 7000)) {
                    continue;
                }
                let is_it = named_mut(e, "param1").is_some_and(|d| d.text_or_empty() == display)
                    || named_mut(e, "param4").is_some_and(|d| d.text_or_empty() == key);
                if !is_it {
                    continue;
                }
                if field == Field::ServiceKey {
                    if let Some(d) = named_mut(e, "param4") {
                        d.text = Some(value.to_string());
                    }
                    if id == Some(7036) {
                        set_scm_binary(e, &format!("{value}/1"));
                    }
                } else if let Some(d) = named_mut(e, "param1") {
                    d.text = Some(value.to_string());
                }
            }
        }
        Field::Computer => {
            for e in b.application.iter_mut().chain(b.system.iter_mut()) {
                if let Some(c) = child_mut(e, "System", "Computer") {
                    c.text = Some(value.to_string());
                }
            }
        }
    }
}

fn set_data(events: &mut [Element], which: impl Fn(&Element) -> bool, index: usize, value: &str) {
    for e in events.iter_mut().filter(|e| which(e)) {
        if let Some(d) = data_mut(e).into_iter().nth(index) {
            d.text = Some(value.to_string());
        }
    }
}

/// The key and display name of the first service the sample's setup disabled.
fn first_disabled(system: &[Element]) -> Option<(String, String)> {
    system.iter().find_map(|e| {
        if event_id(e) != Some(7040) {
            return None;
        }
        let mut e = e.clone();
        let disabled = named_mut(&mut e, "param3").is_some_and(|d| d.text_or_empty() == "disabled");
        let key = named_mut(&mut e, "param4")?.text_or_empty().to_string();
        let display = named_mut(&mut e, "param1")?.text_or_empty().to_string();
        disabled.then_some((key, display))
    })
}

/// Logs whose size or shape makes work grow: each a few MB at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// This many distinct services disabled (7040) and stopped (7036) in the one incident.
    Services(usize),
    /// This many files in use (1025) whose paths are 30,000 characters long, without a space.
    LongValues(usize),
    /// This many failures (1023) of the one product, in the same second.
    Failures(usize),
}

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, n) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}': use services=N, long-values=N or failures=N"))?;
        let n: usize = n.parse().map_err(|_| format!("'{n}' is not a count"))?;
        match kind {
            "services" => Ok(Size::Services(n)),
            "long-values" => Ok(Size::LongValues(n)),
            "failures" => Ok(Size::Failures(n)),
            other => Err(format!("'{other}': use services, long-values or failures")),
        }
    }
}

/// Characters of each long value in [`Size::LongValues`].
pub const LONG_VALUE: usize = 30_000;

pub fn sized(size: Size) -> Bundle {
    let mut b = kb_bundle();
    match size {
        Size::Services(n) => {
            let Some(at) = b.system.iter().position(|e| {
                event_id(e) == Some(7040) && {
                    let mut e = e.clone();
                    named_mut(&mut e, "param3").is_some_and(|d| d.text_or_empty() == "disabled")
                }
            }) else {
                return b;
            };
            let disabled = b.system[at].clone();
            let stopped = b.system[..at]
                .iter()
                .rev()
                .find(|e| event_id(e) == Some(7036))
                .cloned();
            let mut added = Vec::with_capacity(2 * n);
            for i in 0..n {
                let key = format!("MSExchangeHostile{i}");
                let display = format!("Microsoft Exchange Hostile {i}");
                if let Some(mut s) = stopped.clone() {
                    if let Some(d) = named_mut(&mut s, "param1") {
                        d.text = Some(display.clone());
                    }
                    set_scm_binary(&mut s, &format!("{key}/1"));
                    added.push(s);
                }
                let mut d = disabled.clone();
                if let Some(x) = named_mut(&mut d, "param1") {
                    x.text = Some(display);
                }
                if let Some(x) = named_mut(&mut d, "param4") {
                    x.text = Some(key);
                }
                added.push(d);
            }
            b.system.splice(at + 1..at + 1, added);
            renumber(&mut b.system);
        }
        Size::LongValues(n) => {
            // One long value per record: a record must fit in a 64 KiB chunk, and 30,000
            // characters are 60,000 bytes of UTF-16.
            copies_after(&mut b.application, 1025, n, |i, e| {
                let mut data = data_mut(e);
                if let Some(path) = data.get_mut(1) {
                    let head = format!("C:\\Program Files\\Microsoft\\Exchange Server\\Bin\\{i}-");
                    let pad = LONG_VALUE.saturating_sub(head.len());
                    path.text = Some(format!("{head}{}", "x".repeat(pad)));
                }
                if let Some(pid) = data.get_mut(3) {
                    pid.text = Some((10_000 + i).to_string());
                }
            });
        }
        Size::Failures(n) => copies_after(&mut b.application, 1023, n, |_, _| {}),
    }
    b
}

/// `n` copies of the first MsiInstaller event with this ID, each changed by `change`, right
/// after it; record IDs follow on.
fn copies_after(
    events: &mut Vec<Element>,
    id: u16,
    n: usize,
    mut change: impl FnMut(usize, &mut Element),
) {
    let Some(at) = events
        .iter()
        .position(|e| provider(e) == "MsiInstaller" && event_id(e) == Some(id))
    else {
        return;
    };
    let original = events[at].clone();
    let added: Vec<Element> = (0..n)
        .map(|i| {
            let mut e = original.clone();
            change(i, &mut e);
            e
        })
        .collect();
    events.splice(at + 1..at + 1, added);
    renumber(events);
}
