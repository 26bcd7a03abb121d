//! Event XML for the events evtriage reads and for the ordinary traffic around them, laid out as
//! Windows Server 2008 R2 writes them (see `shared/reference/domain.md` §2): classic sources
//! (MsiInstaller, EventLog, ESE, MSExchange*) without Version/Opcode/Correlation/Execution and with
//! whole-second times; manifest providers (Service Control Manager, RestartManager,
//! WindowsUpdateClient) with them. Values are what the caller passes; nothing here is invented.
//!
//! One file per provider (`msi`, `rm`, `scm`, `wu`, and the ordinary `traffic`); this one holds
//! the `<System>` and `<EventData>` builders they share.

use chrono::{DateTime, SubsecRound, Utc};
use evtriage::values::to_hex_upper;
use evtriage_writer::xmltree::Element;

mod msi;
mod nt5;
mod rm;
mod scm;
mod servicing;
mod traffic;
mod wu;

pub use msi::*;
pub use nt5::*;
pub use rm::*;
pub use scm::*;
pub use servicing::*;
pub use traffic::*;
pub use wu::*;

pub const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";
pub const RM_NS: &str = "http://www.microsoft.com/2005/08/Windows/Reliability/RestartManager/";
pub const SYSTEM_SID: &str = "S-1-5-18";

const SCM_GUID: &str = "{555908d1-a6d7-4695-8e1e-26931d2012f4}";
const RM_GUID: &str = "{0888e5ef-9b98-4695-979d-e92ce4247224}";
const WU_GUID: &str = "{945a8954-c147-4acd-923f-40c45405a658}";
const KERNEL_GENERAL_GUID: &str = "{a68ca8b7-004f-d7b6-a698-07e2de0f1f5d}";
const TIME_SERVICE_GUID: &str = "{06edcfeb-0fd0-4e53-acca-a6f8bbf81bcb}";

/// Where and when an event is written.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    pub computer: &'a str,
    pub time: DateTime<Utc>,
}

fn system_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The `<System>` of a classic (ReportEvent) source.
fn classic_system(
    provider: &str,
    event_id: u16,
    qualifiers: u16,
    level: u8,
    channel: &str,
    stamp: &Stamp,
    sid: Option<&str>,
) -> Element {
    let mut security = Element::new("Security");
    if let Some(sid) = sid {
        security = security.attr("UserID", sid);
    }
    Element::new("System")
        .child(Element::new("Provider").attr("Name", provider))
        .child(
            Element::new("EventID")
                .attr("Qualifiers", qualifiers.to_string())
                .text(event_id.to_string()),
        )
        .child(Element::new("Level").text(level.to_string()))
        .child(Element::new("Task").text("0"))
        .child(Element::new("Keywords").text("0x80000000000000"))
        // ReportEvent stamps whole seconds.
        .child(
            Element::new("TimeCreated")
                .attr("SystemTime", system_time(stamp.time.trunc_subsecs(0))),
        )
        .child(Element::new("EventRecordID").text("0"))
        .child(Element::new("Channel").text(channel))
        .child(Element::new("Computer").text(stamp.computer))
        .child(security)
}

/// Identity of a manifest provider as its records name it.
struct Manifest<'a> {
    name: &'a str,
    guid: &'a str,
    event_source: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
fn manifest_system(
    provider: &Manifest,
    event_id: u16,
    qualifiers: Option<u16>,
    level: u8,
    task: u16,
    opcode: u8,
    keywords: &str,
    process: (u32, u32),
    channel: &str,
    stamp: &Stamp,
    sid: Option<&str>,
) -> Element {
    let mut p = Element::new("Provider")
        .attr("Name", provider.name)
        .attr("Guid", provider.guid);
    if let Some(src) = provider.event_source {
        p = p.attr("EventSourceName", src);
    }
    let mut id = Element::new("EventID").text(event_id.to_string());
    if let Some(q) = qualifiers {
        id = id.attr("Qualifiers", q.to_string());
    }
    let mut security = Element::new("Security");
    if let Some(sid) = sid {
        security = security.attr("UserID", sid);
    }
    Element::new("System")
        .child(p)
        .child(id)
        .child(Element::new("Version").text("0"))
        .child(Element::new("Level").text(level.to_string()))
        .child(Element::new("Task").text(task.to_string()))
        .child(Element::new("Opcode").text(opcode.to_string()))
        .child(Element::new("Keywords").text(keywords))
        .child(Element::new("TimeCreated").attr("SystemTime", system_time(stamp.time)))
        .child(Element::new("EventRecordID").text("0"))
        .child(Element::new("Correlation"))
        .child(
            Element::new("Execution")
                .attr("ProcessID", process.0.to_string())
                .attr("ThreadID", process.1.to_string()),
        )
        .child(Element::new("Channel").text(channel))
        .child(Element::new("Computer").text(stamp.computer))
        .child(security)
}

fn event(system: Element, payload: Element) -> Element {
    Element::new("Event")
        .attr("xmlns", EVENT_NS)
        .child(system)
        .child(payload)
}

/// Classic `<EventData>`: the insertion strings, `None` as `(NULL)`, then `<Binary>` when given.
fn classic_data(strings: &[Option<&str>], binary: Option<&[u8]>) -> Element {
    let mut ed = Element::new("EventData");
    for s in strings {
        let d = Element::new("Data");
        ed.children.push(match s {
            None => d.text("(NULL)"),
            Some("") => d,
            Some(s) => d.text(*s),
        });
    }
    if let Some(b) = binary {
        ed.children
            .push(Element::new("Binary").text(to_hex_upper(b)));
    }
    ed
}

fn named_data(fields: &[(&str, String)], binary: Option<&[u8]>) -> Element {
    let mut ed = Element::new("EventData");
    for (name, value) in fields {
        let d = Element::new("Data").attr("Name", *name);
        ed.children.push(if value.is_empty() {
            d
        } else {
            d.text(value.clone())
        });
    }
    if let Some(b) = binary {
        ed.children
            .push(Element::new("Binary").text(to_hex_upper(b)));
    }
    ed
}

// ---------------------------------------------------------------------------------------------
// MsiInstaller (Application)

/// Set the record number of an event built here (they are built with 0 and numbered when written).
pub fn set_record_id(event: &mut Element, id: u64) {
    if let Some(r) = child_mut(event, "System", "EventRecordID") {
        r.text = Some(id.to_string());
    }
}

/// `<outer><inner>` of an event, e.g. `System`/`Computer` or `EventData`/`Binary`.
pub fn child_mut<'e>(event: &'e mut Element, outer: &str, inner: &str) -> Option<&'e mut Element> {
    event
        .children
        .iter_mut()
        .find(|c| c.name == outer)
        .and_then(|s| s.children.iter_mut().find(|c| c.name == inner))
}
