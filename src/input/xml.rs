//! Rendered Event XML (an `<Event>` as `wevtutil qe /f:xml`, Event Viewer's "Save As… XML" or the
//! evtx crate's rendering gives it) read into an [`Event`]: the reader of records the fast path does
//! not lay out, and of XML inputs.

use crate::event::{Event, Field, Interner, Payload, SourceId, parse_number};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as XmlEvent};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventXmlError {
    #[error("rendered XML is malformed: {0}")]
    Malformed(String),
    #[error("record has no {0}")]
    Missing(&'static str),
    #[error("record has an unreadable {0}: {1:?}")]
    Invalid(&'static str, String),
}

/// Where the parser is inside the document.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Zone {
    #[default]
    Outside,
    System,
    EventData,
    UserData,
}

/// System fields read while parsing, before they are checked.
#[derive(Default)]
struct SystemFields {
    provider: Option<String>,
    event_id: Option<String>,
    qualifiers: Option<String>,
    level: Option<String>,
    time: Option<String>,
    record_id: Option<String>,
    channel: Option<String>,
    computer: Option<String>,
    sid: Option<String>,
    pid: Option<String>,
}

fn attr(start: &BytesStart, name: &[u8]) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Element names without a namespace: `{ns}Name` (as some writers store it) and `prefix:Name`.
fn local(name: &[u8]) -> &[u8] {
    let name = match name.iter().rposition(|&b| b == b'}') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Turn one record's Event XML (as the evtx crate or Event Viewer renders it) into an [`Event`].
pub fn from_event_xml(
    xml: &str,
    source: SourceId,
    header_record_id: Option<u64>,
    interner: &mut Interner,
) -> Result<Event, EventXmlError> {
    let mut reader = Reader::from_str(xml);
    let mut w = Walk::default();
    let mut user_data_depth = 0usize;

    loop {
        let ev = reader
            .read_event()
            .map_err(|e| EventXmlError::Malformed(e.to_string()))?;
        match ev {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let is_empty = matches!(ev, XmlEvent::Empty(_));
                let name = local(start.name().as_ref()).to_vec();
                w.depth += 1;
                match (w.zone, w.depth, name.as_slice()) {
                    (_, 2, b"System") => w.zone = Zone::System,
                    (_, 2, b"EventData") => w.zone = Zone::EventData,
                    (_, 2, b"UserData") => {
                        w.zone = Zone::UserData;
                        user_data_depth = w.depth;
                    }
                    (Zone::System, 3, tag) => match tag {
                        b"Provider" => w.sys.provider = attr(start, b"Name"),
                        b"EventID" => {
                            w.sys.qualifiers = attr(start, b"Qualifiers");
                            w.current = Some((name.clone(), None));
                        }
                        b"TimeCreated" => w.sys.time = attr(start, b"SystemTime"),
                        b"Security" => w.sys.sid = attr(start, b"UserID"),
                        b"Execution" => w.sys.pid = attr(start, b"ProcessID"),
                        b"Level" | b"EventRecordID" | b"Channel" | b"Computer" => {
                            w.current = Some((name.clone(), None))
                        }
                        _ => {}
                    },
                    (Zone::EventData, 3, b"Data") => {
                        w.current = Some((name.clone(), attr(start, b"Name")));
                    }
                    (Zone::EventData, 3, b"Binary") => w.in_binary = true,
                    (Zone::UserData, d, tag) if d == user_data_depth + 1 => {
                        w.payload.user_data = Some(String::from_utf8_lossy(tag).into_owned());
                    }
                    (Zone::UserData, d, _) if d > user_data_depth + 1 => {
                        w.current = Some((
                            name.clone(),
                            Some(String::from_utf8_lossy(&name).into_owned()),
                        ));
                    }
                    _ => {}
                }
                w.text.clear();
                if is_empty {
                    w.close(&name);
                }
            }
            XmlEvent::Text(t) if w.current.is_some() || w.in_binary => {
                let raw = t
                    .xml10_content()
                    .map_err(|e| EventXmlError::Malformed(e.to_string()))?;
                w.text.push_str(&raw);
            }
            XmlEvent::GeneralRef(r) if w.current.is_some() || w.in_binary => {
                if let Ok(Some(ch)) = r.resolve_char_ref() {
                    w.text.push(ch);
                } else if let Ok(name) = r.decode()
                    && let Some(s) = quick_xml::escape::resolve_predefined_entity(&name)
                {
                    w.text.push_str(s);
                }
            }
            XmlEvent::CData(c) if w.current.is_some() => {
                w.text.push_str(&String::from_utf8_lossy(&c));
            }
            XmlEvent::End(end) => {
                let name = local(end.name().as_ref()).to_vec();
                w.close(&name);
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }

    let provider = w
        .sys
        .provider
        .ok_or(EventXmlError::Missing("Provider Name"))?;
    let id_text = w.sys.event_id.ok_or(EventXmlError::Missing("EventID"))?;
    let raw_id =
        parse_number(&id_text).ok_or_else(|| EventXmlError::Invalid("EventID", id_text.clone()))?;
    let time_text = w.sys.time.ok_or(EventXmlError::Missing("TimeCreated"))?;
    let time = crate::values::parse_system_time(&time_text)
        .ok_or_else(|| EventXmlError::Invalid("TimeCreated", time_text.clone()))?;
    let record_id = w
        .sys
        .record_id
        .as_deref()
        .and_then(parse_number)
        .or(header_record_id)
        .unwrap_or(0);
    Ok(Event {
        source,
        record_id,
        header_record_id: header_record_id.filter(|h| *h != record_id),
        time,
        computer: interner.get(w.sys.computer.as_deref().unwrap_or("").trim()),
        channel: interner.get(w.sys.channel.as_deref().unwrap_or("").trim()),
        provider: interner.get(provider.trim()),
        event_id: (raw_id & 0xffff) as u16,
        qualifiers: w
            .sys
            .qualifiers
            .as_deref()
            .and_then(parse_number)
            .and_then(|q| u16::try_from(q).ok())
            .or_else(|| u16::try_from(raw_id >> 16).ok().filter(|q| *q != 0)),
        level: w
            .sys
            .level
            .as_deref()
            .and_then(parse_number)
            .and_then(|l| u8::try_from(l).ok()),
        user_sid: w.sys.sid.filter(|s| !s.is_empty()),
        process_id: w
            .sys
            .pid
            .as_deref()
            .and_then(parse_number)
            .and_then(|p| u32::try_from(p).ok()),
        payload: w.payload,
        from_text_log: false,
    })
}

/// What the parser has read so far, and where it is.
#[derive(Default)]
struct Walk {
    zone: Zone,
    depth: usize,
    sys: SystemFields,
    payload: Payload,
    /// The element whose text is being collected (name, `Name` attribute), and its text so far.
    current: Option<(Vec<u8>, Option<String>)>,
    text: String,
    in_binary: bool,
}

impl Walk {
    fn close(&mut self, name: &[u8]) {
        if let Some((open, field_name)) = self.current.take_if(|(open, _)| open.as_slice() == name)
        {
            let value = std::mem::take(&mut self.text);
            match self.zone {
                Zone::System => {
                    let slot = match open.as_slice() {
                        b"EventID" => Some(&mut self.sys.event_id),
                        b"Level" => Some(&mut self.sys.level),
                        b"EventRecordID" => Some(&mut self.sys.record_id),
                        b"Channel" => Some(&mut self.sys.channel),
                        b"Computer" => Some(&mut self.sys.computer),
                        _ => None,
                    };
                    if let Some(slot) = slot {
                        *slot = Some(value);
                    }
                }
                Zone::EventData | Zone::UserData => self.payload.fields.push(Field {
                    name: field_name,
                    value: (value != "(NULL)").then_some(value),
                }),
                Zone::Outside => {}
            }
        } else if self.in_binary && name == b"Binary" {
            self.in_binary = false;
            let hex = std::mem::take(&mut self.text);
            self.payload.binary = crate::values::parse_hex_bytes(&hex);
        }
        if self.depth == 2 {
            self.zone = Zone::Outside;
        }
        self.depth = self.depth.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Event {
        from_event_xml(xml, 0, Some(7), &mut Interner::default()).unwrap()
    }

    #[test]
    fn classic_record_keeps_positions_and_nulls() {
        let e = parse(
            r#"<?xml version="1.0" encoding="utf-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="MsiInstaller"/>
<EventID Qualifiers="0">1025</EventID><Level>4</Level><TimeCreated SystemTime="2016-09-01T20:48:12.000000000Z"/>
<EventRecordID>1749</EventRecordID><Channel>Application</Channel><Computer>IE10Win7</Computer>
<Security UserID="S-1-5-18"/></System><EventData><Data>Microsoft .NET Framework 4.5</Data>
<Data>C:\x &amp; y.dll</Data><Data>powershell_ise</Data><Data>2332</Data><Data>(NULL)</Data><Data/>
<Binary>7B39467D</Binary></EventData></Event>"#,
        );
        assert_eq!(e.event_id, 1025);
        assert_eq!(e.record_id, 1749);
        assert_eq!(e.header_record_id, Some(7));
        assert_eq!(e.payload.positional(1), Some("C:\\x & y.dll"));
        assert_eq!(e.payload.positional(3).and_then(parse_number), Some(2332));
        assert_eq!(e.payload.positional(4), None);
        assert_eq!(e.payload.fields[5].value.as_deref(), Some(""));
        assert_eq!(e.payload.binary.as_deref(), Some(&b"{9F}"[..]));
        assert_eq!(e.user_sid.as_deref(), Some("S-1-5-18"));
    }

    #[test]
    fn user_data_leaves_and_lists_become_fields() {
        let e = parse(
            r#"<Event><System><Provider Name="Microsoft-Windows-RestartManager"/><EventID>10005</EventID>
<TimeCreated SystemTime="2016-09-01T20:48:03.0374050Z"/><EventRecordID>7</EventRecordID></System>
<UserData><RmRestartEvent xmlns="http://www.microsoft.com/2005/08/Windows/Reliability/RestartManager/">
<RmSessionId>0</RmSessionId><Applications><Application>A</Application><Application>B</Application></Applications>
<RebootReasons>18</RebootReasons></RmRestartEvent></UserData></Event>"#,
        );
        assert_eq!(e.payload.user_data.as_deref(), Some("RmRestartEvent"));
        assert_eq!(
            e.payload.all_named("Application").collect::<Vec<_>>(),
            ["A", "B"]
        );
        assert_eq!(e.payload.named("RebootReasons"), Some("18"));
        assert_eq!(e.header_record_id, None);
    }

    #[test]
    fn clark_names_and_string_numbers_are_normalized() {
        let e = parse(
            r#"<Event><System><Provider Name="Microsoft-Windows-RestartManager"/><EventID>0x271A</EventID>
<TimeCreated SystemTime="2009-11-03T02:32:09.881000000Z"/></System><UserData>
<{http://www.microsoft.com/2005/08/Windows/Reliability/RestartManager/}RmUnsupportedRestartEvent/></UserData></Event>"#,
        );
        assert_eq!(e.event_id, 10010);
        assert_eq!(
            e.payload.user_data.as_deref(),
            Some("RmUnsupportedRestartEvent")
        );
        assert!(e.payload.fields.is_empty());
    }

    #[test]
    fn qualifiers_in_a_32_bit_instance_id_are_masked() {
        let e = parse(
            r#"<Event><System><Provider Name="Service Control Manager"/><EventID>1073748864</EventID>
<TimeCreated SystemTime="2012-03-14T08:12:06.529547000Z"/></System></Event>"#,
        );
        assert_eq!(e.event_id, 7040);
        assert_eq!(e.qualifiers, Some(16384));
    }

    #[test]
    fn missing_system_fields_are_errors_not_panics() {
        let mut i = Interner::default();
        assert_eq!(
            from_event_xml("<Event><System></System></Event>", 0, Some(1), &mut i).unwrap_err(),
            EventXmlError::Missing("Provider Name")
        );
        assert!(
            from_event_xml(
                "<Event><System><Provider Name='x'/><EventID>abc</EventID>",
                0,
                Some(1),
                &mut i
            )
            .is_err()
        );
    }
}
