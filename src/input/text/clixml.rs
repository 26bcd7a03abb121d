//! The start modes and states `ServiceControl.ps1` saves before it stops anything
//! (`ServiceStartupMode.xml`, `ServiceState.xml` in `%SystemDrive%\ExchangeSetupLogs`): PowerShell
//! CLIXML (`Export-Clixml`, UTF-16LE with a byte-order mark in Windows PowerShell), a root `<Objs>`
//! of the PowerShell namespace holding one `<Obj>` per service: a hashtable
//! (`<DCT><En><S N="Key">Name</S><S N="Value">MSExchangeIS</S></En>…`) of `Name` and `StartMode`,
//! or a deserialized `ServiceController` whose `<Props>` hold `Name` and `Status`. Layout:
//! `shared/reference/text-logs.md` §3 (no public file of either was found: the layout is
//! Export-Clixml's, as documented in [MS-PSRP] 2.2.5).
//!
//! The file holds no time: its events carry the time the file was last written (the zip member's,
//! or the file's), which is when the script last saved it. Only top-level objects are services: a
//! `ServiceController`'s dependent services nest objects of their own.

use super::{Emitter, decode, encoding_of};
use crate::input::{EventSink, InputFile, InputReport, LogReader, Progress};
use quick_xml::events::Event as Xml;
use std::io::Read;

pub struct ClixmlReader;

pub const PROVIDER: &str = "service-state";

pub mod ids {
    /// A service's start mode as saved (`ServiceStartupMode.xml`): `Service`, `StartMode`
    /// (`Auto`, `Manual`, `Disabled`, `Boot`, `System`).
    pub const START_MODE_SAVED: u16 = 1;
    /// A service's state as saved (`ServiceState.xml`): `Service`, `DisplayName`, `Status`.
    pub const STATE_SAVED: u16 = 2;
}

/// No saved state of a server's services is near this size.
const MAX_FILE: u64 = 64 << 20;
/// Objects past this many are not services of one server.
const MAX_OBJECTS: u64 = 100_000;
const MAX_VALUE: usize = 512;

const NAMESPACE: &str = "http://schemas.microsoft.com/powershell/2004/04";

impl LogReader for ClixmlReader {
    fn format(&self) -> &'static str {
        "clixml"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        let text = super::head_text(head);
        let t = text.trim_start();
        let t = t
            .strip_prefix("<?xml")
            .and_then(|r| r.split_once("?>"))
            .map_or(t, |(_, r)| r)
            .trim_start();
        t.starts_with("<Objs ") && t.contains(NAMESPACE)
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        InputReport::of_sequential_read(input, "clixml", |report| {
            if input.size > MAX_FILE {
                report.error(format!(
                    "{} bytes: larger than a saved state of services can be (64 MiB); not read",
                    input.size
                ));
                return Ok(());
            }
            let mut bytes = Vec::new();
            input.open()?.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
            progress.bytes_read(bytes.len() as u64);
            let (enc, bom) = encoding_of(&bytes);
            let text = decode(&bytes[bom..], enc);
            drop(bytes);
            let Some(modified) = input.modified else {
                report.error("the file carries no time of its own (nor does its archive member): its start modes cannot be placed against the failure".into());
                return Ok(());
            };
            let (at, utc) = match modified {
                crate::input::FileTime::Local(t) => (t, false),
                crate::input::FileTime::Utc(t) => (t, true),
            };
            let objects = parse(&text, report)?;
            let log_name = if objects.iter().any(|o| o.start_mode.is_some()) {
                "ServiceStartupMode.xml"
            } else {
                "ServiceState.xml"
            };
            let mut emitter = Emitter::new(input, sink, PROVIDER, log_name);
            for (n, o) in objects.iter().enumerate() {
                let n = n as u64 + 1;
                let name = o.name.as_deref().unwrap_or("");
                if name.is_empty() {
                    report.records_failed += 1;
                    report.error(format!("object {n}: no service name"));
                    continue;
                }
                if let Some(mode) = &o.start_mode {
                    emitter.emit(
                        report,
                        n,
                        at,
                        ids::START_MODE_SAVED,
                        &[("Service", name), ("StartMode", mode)],
                    );
                } else if let Some(status) = &o.status {
                    emitter.emit(
                        report,
                        n,
                        at,
                        ids::STATE_SAVED,
                        &[
                            ("Service", name),
                            ("DisplayName", o.display_name.as_deref().unwrap_or("")),
                            ("Status", status),
                        ],
                    );
                } else {
                    report.records_failed += 1;
                    report.error(format!(
                        "object {n} ({name}): neither a start mode nor a state"
                    ));
                }
            }
            if objects.is_empty() {
                report.error(
                    "no object in it: a CLIXML file, but not a saved state of services".into(),
                );
            }
            emitter.finish(report, 0);
            if utc {
                report.clock = None;
            }
            Ok(())
        })
    }
}

/// One top-level object's values.
#[derive(Default, Debug)]
struct Object {
    name: Option<String>,
    display_name: Option<String>,
    start_mode: Option<String>,
    status: Option<String>,
}

fn cap(s: &str) -> String {
    super::cap(s, MAX_VALUE).to_string()
}

/// The top-level objects. A malformed document ends the reading there, with an error; what was
/// read before it is kept.
fn parse(text: &str, report: &mut InputReport) -> std::io::Result<Vec<Object>> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out: Vec<Object> = Vec::new();
    // Element names from the root down, with the `N` attribute of each.
    let mut stack: Vec<(String, Option<String>)> = Vec::new();
    let mut current: Option<Object> = None;
    // Inside a hashtable entry of the current object: its key.
    let mut entry_key: Option<String> = None;
    let mut text_buf = String::new();
    // How many `<Obj>` elements are open: counted, not recounted from the stack on every event
    // (a hostile file nests them by the ten thousand).
    let mut objs = 0usize;
    loop {
        match reader.read_event() {
            Ok(Xml::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let n_attr = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"N")
                    .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                let obj_depth = objs;
                if name == "Obj" {
                    objs += 1;
                }
                if name == "Obj" && obj_depth == 0 && stack.len() == 1 {
                    if out.len() as u64 >= MAX_OBJECTS {
                        report.error(format!(
                            "more than {MAX_OBJECTS} objects; the rest are not read"
                        ));
                        break;
                    }
                    current = Some(Object::default());
                }
                if name == "En" {
                    entry_key = None;
                }
                stack.push((name, n_attr));
                text_buf.clear();
            }
            Ok(Xml::Empty(_)) => {}
            Ok(Xml::Text(t)) => {
                if let Ok(s) = t.xml_content() {
                    text_buf.push_str(&s);
                }
            }
            Ok(Xml::GeneralRef(r)) => {
                // An entity in a value: the five XML ones, or a character reference.
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                let c = match name.as_str() {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "apos" => Some('\''),
                    "quot" => Some('"'),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                if let Some(c) = c {
                    text_buf.push(c);
                }
            }
            Ok(Xml::End(_)) => {
                let Some((name, n_attr)) = stack.pop() else {
                    break;
                };
                if name == "Obj" {
                    objs = objs.saturating_sub(1);
                }
                let obj_depth = objs;
                if let Some(obj) = current.as_mut() {
                    let parent = stack.last().map(|(n, _)| n.as_str());
                    let value = cap(&text_buf);
                    match (name.as_str(), parent, n_attr.as_deref()) {
                        // A hashtable entry of the object itself (not of a nested one).
                        ("S", Some("En"), Some("Key")) if obj_depth == 1 => entry_key = Some(value),
                        ("S", Some("En"), Some("Value")) if obj_depth == 1 => {
                            match entry_key.as_deref() {
                                Some(k) if k.eq_ignore_ascii_case("Name") => obj.name = Some(value),
                                Some(k) if k.eq_ignore_ascii_case("StartMode") => {
                                    obj.start_mode = Some(value)
                                }
                                _ => {}
                            }
                        }
                        // A property of the object itself.
                        ("S", Some("Props" | "MS"), Some(prop)) if obj_depth == 1 => match prop {
                            "Name" | "ServiceName" if obj.name.is_none() => obj.name = Some(value),
                            "DisplayName" => obj.display_name = Some(value),
                            "StartMode" | "StartType" => obj.start_mode = Some(value),
                            "Status" => obj.status = Some(value),
                            _ => {}
                        },
                        // An enum property (Status) is an object whose ToString is its name.
                        ("ToString", Some("Obj"), _) if obj_depth == 2 => {
                            if let Some((_, Some(prop))) = stack.last()
                                && stack
                                    .iter()
                                    .rev()
                                    .nth(1)
                                    .is_some_and(|(n, _)| n == "Props" || n == "MS")
                            {
                                match prop.as_str() {
                                    "Status" => obj.status = Some(value),
                                    "StartType" | "StartMode" => obj.start_mode = Some(value),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if name == "Obj"
                    && obj_depth == 0
                    && stack.len() == 1
                    && let Some(obj) = current.take()
                {
                    out.push(obj);
                }
                text_buf.clear();
            }
            Ok(Xml::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                report.error(format!(
                    "malformed XML at byte {}: {e}; what came before is used",
                    reader.buffer_position()
                ));
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtables_and_service_controllers() {
        let start_modes = r#"<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
  <Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>
    <DCT><En><S N="Key">StartMode</S><S N="Value">Auto</S></En><En><S N="Key">Name</S><S N="Value">MSExchangeIS</S></En></DCT></Obj>
  <Obj RefId="1"><TNRef RefId="0" /><DCT><En><S N="Key">Name</S><S N="Value">MSExchangePOP3</S></En><En><S N="Key">StartMode</S><S N="Value">Disabled</S></En></DCT></Obj>
</Objs>"#;
        let mut r = InputReport::new("x", None, 0);
        let o = parse(start_modes, &mut r).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(
            (o[0].name.as_deref(), o[0].start_mode.as_deref()),
            (Some("MSExchangeIS"), Some("Auto"))
        );
        assert_eq!(
            (o[1].name.as_deref(), o[1].start_mode.as_deref()),
            (Some("MSExchangePOP3"), Some("Disabled"))
        );

        let states = r#"<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
  <Obj RefId="0"><TN RefId="0"><T>System.ServiceProcess.ServiceController</T></TN><ToString>System.ServiceProcess.ServiceController</ToString>
    <Props><S N="Name">MSExchangeADTopology</S>
      <Obj N="DependentServices" RefId="1"><LST><Obj RefId="2"><Props><S N="Name">MSExchangeIS</S></Props></Obj></LST></Obj>
      <S N="DisplayName">Microsoft Exchange Active Directory Topology</S>
      <Obj N="Status" RefId="3"><TN RefId="1"><T>System.ServiceProcess.ServiceControllerStatus</T></TN><ToString>Running</ToString><I32>4</I32></Obj>
      <S N="ServiceName">MSExchangeADTopology</S></Props></Obj>
</Objs>"#;
        let o = parse(states, &mut r).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].name.as_deref(), Some("MSExchangeADTopology"));
        assert_eq!(o[0].status.as_deref(), Some("Running"));
        assert_eq!(
            o[0].display_name.as_deref(),
            Some("Microsoft Exchange Active Directory Topology")
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let mut r = InputReport::new("x", None, 0);
        let o = parse("<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj><DCT><En><S N=\"Key\">Name</S><S N=\"Value\">A</S></En></DCT></Obj><Obj><DCT></Ob", &mut r).unwrap();
        assert_eq!(o.len(), 1);
        assert!(!r.errors.is_empty());
    }
}
