//! How Windows lays an event out as templates, reproduced from its own files: an outer template for
//! `<System>` whose substitution slots have fixed numbers, and the payload (`<EventData>` or the child
//! of `<UserData>`) as a nested BinXML value with a template of its own. Classic sources (no provider
//! GUID, or an `EventSourceName`) keep provider and channel as literal text and use 20 slots, manifest
//! providers substitute them and use 18. Classic `<Data>` lists become one string array, as
//! MsiInstaller's records are stored. Typed fields (RestartManager's numbers, Windows Update's GUIDs
//! and HRESULTs) take their types from [`field_type`]; text that does not parse as its type is kept
//! as a string, so any well-formed Event XML can be written.

use super::binxml::{Instance, TContent, TElement, TItem, Value, ty};
use crate::xmltree::Element;
use evtriage::values::{parse_filetime, parse_guid, parse_hex_bytes, parse_sid, parse_uint};
use std::sync::Arc;

/// What the record header needs besides the BinXML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub record_id: Option<u64>,
    pub filetime: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("the root element is <{0}>, not <Event>")]
    NotAnEvent(String),
    #[error("the event has no <System> element")]
    NoSystem,
    #[error("<TimeCreated SystemTime=\"{0}\"> is not a time this writer understands")]
    BadTime(String),
    #[error("<EventRecordID>{0}</EventRecordID> is not a record number")]
    BadRecordId(String),
}

/// Substitution slots of the System template, as numbered in Windows' own files.
mod slot {
    pub const LEVEL: u16 = 0;
    pub const OPCODE: u16 = 1;
    pub const TASK: u16 = 2;
    pub const EVENT_ID: u16 = 3;
    pub const QUALIFIERS: u16 = 4;
    pub const KEYWORDS: u16 = 5;
    pub const TIME_CREATED: u16 = 6;
    pub const ACTIVITY_ID: u16 = 7;
    pub const PROCESS_ID: u16 = 8;
    pub const THREAD_ID: u16 = 9;
    pub const RECORD_ID: u16 = 10;
    pub const VERSION: u16 = 11;
    pub const USER_ID: u16 = 12;
    // Manifest layout only:
    pub const RELATED_ACTIVITY_ID_MANIFEST: u16 = 13;
    pub const PROVIDER_NAME: u16 = 14;
    pub const PROVIDER_GUID: u16 = 15;
    pub const CHANNEL: u16 = 16;
    pub const PAYLOAD_MANIFEST: u16 = 17;
    // Classic layout only:
    pub const RELATED_ACTIVITY_ID_CLASSIC: u16 = 18;
    pub const PAYLOAD_CLASSIC: u16 = 19;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Classic,
    Manifest,
}

impl Flavor {
    fn slots(self) -> usize {
        match self {
            Flavor::Classic => 20,
            Flavor::Manifest => 18,
        }
    }
    fn payload_slot(self) -> u16 {
        match self {
            Flavor::Classic => slot::PAYLOAD_CLASSIC,
            Flavor::Manifest => slot::PAYLOAD_MANIFEST,
        }
    }
}

/// The BinXML value type of a named payload field. Fields not listed are strings, as they are for
/// Service Control Manager and for every classic source.
pub fn field_type(provider: &str, field: &str) -> u8 {
    match provider {
        "Microsoft-Windows-RestartManager" => match field {
            "UTCStartTime" => ty::FILETIME,
            "RmSessionId" | "Pid" | "AppVersion" | "AppType" | "TSSessionId" | "Status"
            | "Reason" | "nApplications" | "RebootReasons" | "nFiles" | "nRegProcs"
            | "nRegServices" | "SvcHostPid" | "nServices" | "cbSize" => ty::UINT32,
            _ => ty::STRING,
        },
        "Microsoft-Windows-WindowsUpdateClient" => match field {
            "errorCode" => ty::HEXINT32,
            "updateGuid" | "serviceGuid" => ty::GUID,
            "updateRevisionNumber" => ty::UINT32,
            _ => ty::STRING,
        },
        _ => ty::STRING,
    }
}

/// Parse `text` as type `ty`; `None` when it is not a valid value of that type.
fn typed_value(ty: u8, text: &str) -> Option<Value> {
    Some(match ty {
        ty::STRING => Value::String(text.to_string()),
        ty::UINT8 => Value::UInt8(u8::try_from(parse_uint(text)?).ok()?),
        ty::UINT16 => Value::UInt16(u16::try_from(parse_uint(text)?).ok()?),
        ty::UINT32 => Value::UInt32(u32::try_from(parse_uint(text)?).ok()?),
        ty::UINT64 => Value::UInt64(parse_uint(text)?),
        ty::HEXINT32 => Value::HexInt32(u32::try_from(parse_uint(text)?).ok()?),
        ty::HEXINT64 => Value::HexInt64(parse_uint(text)?),
        ty::FILETIME => Value::FileTime(parse_filetime(text)?),
        ty::GUID => Value::Guid(parse_guid(text)?),
        ty::SID => Value::Sid(parse_sid(text)?),
        ty::BINARY => Value::Binary(parse_hex_bytes(text)?),
        _ => return None,
    })
}

/// Builds one template and its values together, so slot numbers and values cannot drift apart.
struct Slots {
    values: Vec<Value>,
}

impl Slots {
    fn with_len(n: usize) -> Self {
        Slots {
            values: vec![Value::Null; n],
        }
    }

    /// Slot `index` of type `ty` for `text`, or the text itself when it does not parse as that type.
    fn fixed(&mut self, index: u16, ty: u8, text: &str) -> TContent {
        match typed_value(ty, text) {
            Some(v) => {
                self.values[usize::from(index)] = v;
                TContent::Subst {
                    index,
                    ty,
                    optional: true,
                }
            }
            None => TContent::Text(text.to_string()),
        }
    }

    /// A new slot at the end, typed when the text parses as `ty`, a string otherwise.
    fn push(&mut self, ty: u8, text: &str, optional: bool) -> TContent {
        let (ty, v) = match typed_value(ty, text) {
            Some(v) => (ty, v),
            None => (super::binxml::ty::STRING, Value::String(text.to_string())),
        };
        let index = self.values.len() as u16;
        self.values.push(v);
        TContent::Subst {
            index,
            ty,
            optional,
        }
    }
}

fn literal(el: &Element) -> TElement {
    TElement {
        name: el.name.clone(),
        attrs: el
            .attrs
            .iter()
            .map(|(n, v)| (n.clone(), TContent::Text(v.clone())))
            .collect(),
        items: el
            .children
            .iter()
            .map(|c| TItem::Element(literal(c)))
            .chain(
                el.text
                    .iter()
                    .map(|t| TItem::Content(TContent::Text(t.clone()))),
            )
            .collect(),
    }
}

/// Turn an `<Event>` element into the template instance Windows would store for it.
pub fn event_instance(event: &Element) -> Result<(Instance, RecordMeta), LayoutError> {
    if event.name != "Event" {
        return Err(LayoutError::NotAnEvent(event.name.clone()));
    }
    let system = event.find("System").ok_or(LayoutError::NoSystem)?;
    let provider = system.find("Provider");
    let provider_name = provider.and_then(|p| p.get_attr("Name")).unwrap_or("");
    let flavor = match provider {
        Some(p) if p.get_attr("Guid").is_some() && p.get_attr("EventSourceName").is_none() => {
            Flavor::Manifest
        }
        _ => Flavor::Classic,
    };
    let mut slots = Slots::with_len(flavor.slots());

    let time_text = system
        .find("TimeCreated")
        .and_then(|t| t.get_attr("SystemTime"))
        .unwrap_or("");
    let filetime =
        parse_filetime(time_text).ok_or_else(|| LayoutError::BadTime(time_text.into()))?;
    let record_id = match system.find("EventRecordID") {
        Some(r) => Some(
            parse_uint(r.text_or_empty())
                .ok_or_else(|| LayoutError::BadRecordId(r.text_or_empty().into()))?,
        ),
        None => None,
    };

    let mut system_t = TElement::new("System");
    for child in &system.children {
        system_t
            .items
            .push(TItem::Element(system_child(child, flavor, &mut slots)));
    }

    let mut event_t = TElement::new("Event");
    event_t.attrs = event
        .attrs
        .iter()
        .map(|(n, v)| (n.clone(), TContent::Text(v.clone())))
        .collect();
    event_t.items.push(TItem::Element(system_t));

    for child in &event.children {
        match child.name.as_str() {
            "System" => {}
            // Event Viewer adds the rendered message on export; it is not part of the stored record.
            "RenderingInfo" => {}
            "EventData" => {
                let payload = event_data(child, provider_name);
                slots.values[usize::from(flavor.payload_slot())] = Value::BinXml(Box::new(payload));
                event_t.items.push(TItem::Content(TContent::Subst {
                    index: flavor.payload_slot(),
                    ty: ty::BINXML,
                    optional: true,
                }));
            }
            "UserData" if child.children.len() == 1 => {
                let payload = user_data(&child.children[0], provider_name);
                slots.values[usize::from(flavor.payload_slot())] = Value::BinXml(Box::new(payload));
                let mut ud = TElement::new("UserData");
                ud.items.push(TItem::Content(TContent::Subst {
                    index: flavor.payload_slot(),
                    ty: ty::BINXML,
                    optional: true,
                }));
                event_t.items.push(TItem::Element(ud));
            }
            _ => event_t.items.push(TItem::Element(literal(child))),
        }
    }

    Ok((
        Instance {
            template: Arc::new(event_t),
            values: slots.values,
        },
        RecordMeta {
            record_id,
            filetime,
        },
    ))
}

fn system_child(el: &Element, flavor: Flavor, slots: &mut Slots) -> TElement {
    let mut t = TElement::new(el.name.clone());
    let manifest = flavor == Flavor::Manifest;
    let text_slot = |slots: &mut Slots, index: u16, ty: u8| -> Vec<TItem> {
        match &el.text {
            Some(text) => vec![TItem::Content(slots.fixed(index, ty, text))],
            None => Vec::new(),
        }
    };
    for (name, value) in &el.attrs {
        let content = match (el.name.as_str(), name.as_str()) {
            ("Provider", "Name") if manifest => slots.fixed(slot::PROVIDER_NAME, ty::STRING, value),
            ("Provider", "Guid") if manifest => slots.fixed(slot::PROVIDER_GUID, ty::GUID, value),
            ("EventID", "Qualifiers") => slots.fixed(slot::QUALIFIERS, ty::UINT16, value),
            ("TimeCreated", "SystemTime") => slots.fixed(slot::TIME_CREATED, ty::FILETIME, value),
            ("Correlation", "ActivityID") => slots.fixed(slot::ACTIVITY_ID, ty::GUID, value),
            ("Correlation", "RelatedActivityID") => {
                let index = if manifest {
                    slot::RELATED_ACTIVITY_ID_MANIFEST
                } else {
                    slot::RELATED_ACTIVITY_ID_CLASSIC
                };
                slots.fixed(index, ty::GUID, value)
            }
            ("Execution", "ProcessID") => slots.fixed(slot::PROCESS_ID, ty::UINT32, value),
            ("Execution", "ThreadID") => slots.fixed(slot::THREAD_ID, ty::UINT32, value),
            ("Security", "UserID") => slots.fixed(slot::USER_ID, ty::SID, value),
            _ => TContent::Text(value.clone()),
        };
        t.attrs.push((name.clone(), content));
    }
    t.items = match el.name.as_str() {
        "EventID" => text_slot(slots, slot::EVENT_ID, ty::UINT16),
        "Version" => text_slot(slots, slot::VERSION, ty::UINT8),
        "Level" => text_slot(slots, slot::LEVEL, ty::UINT8),
        "Task" => text_slot(slots, slot::TASK, ty::UINT16),
        "Opcode" => text_slot(slots, slot::OPCODE, ty::UINT8),
        "Keywords" => text_slot(slots, slot::KEYWORDS, ty::HEXINT64),
        "EventRecordID" => text_slot(slots, slot::RECORD_ID, ty::UINT64),
        "Channel" if manifest => text_slot(slots, slot::CHANNEL, ty::STRING),
        _ => literal(el).items,
    };
    t
}

/// `<EventData>`: classic unnamed `<Data>` as one string array (then binary size and `<Binary>`, as
/// MsiInstaller stores them), named `<Data Name=…>` as one typed slot each.
fn event_data(el: &Element, provider: &str) -> Instance {
    let data: Vec<&Element> = el.children.iter().filter(|c| c.name == "Data").collect();
    let binary = el.children.iter().find(|c| c.name == "Binary");
    let only_known = el
        .children
        .iter()
        .all(|c| c.name == "Data" || c.name == "Binary");
    let classic = !data.is_empty() && data.iter().all(|d| d.attrs.is_empty());
    let mut slots = Slots::with_len(0);
    let mut t = TElement::new("EventData");
    t.attrs = el
        .attrs
        .iter()
        .map(|(n, v)| (n.clone(), TContent::Text(v.clone())))
        .collect();

    if classic && only_known {
        let texts = data.iter().map(|d| d.text_or_empty().to_string()).collect();
        slots.values.push(Value::StringArray(texts));
        let mut d = TElement::new("Data");
        d.items.push(TItem::Content(TContent::Subst {
            index: 0,
            ty: ty::STRING_ARRAY,
            optional: true,
        }));
        t.items.push(TItem::Element(d));
        if let Some(b) = binary {
            push_binary(&mut t, &mut slots, b);
        }
    } else {
        for child in &el.children {
            if child.name == "Binary" && only_known {
                push_binary(&mut t, &mut slots, child);
                continue;
            }
            let mut ct = TElement::new(child.name.clone());
            ct.attrs = child
                .attrs
                .iter()
                .map(|(n, v)| (n.clone(), TContent::Text(v.clone())))
                .collect();
            if child.children.is_empty() {
                let field = child.get_attr("Name").unwrap_or("");
                let content = slots.push(field_type(provider, field), child.text_or_empty(), false);
                ct.items.push(TItem::Content(content));
            } else {
                ct = literal(child);
            }
            t.items.push(TItem::Element(ct));
        }
    }
    Instance {
        template: Arc::new(t),
        values: slots.values,
    }
}

/// `<Binary>` is preceded by a slot holding its byte count, as Windows stores it.
fn push_binary(t: &mut TElement, slots: &mut Slots, b: &Element) {
    let text = b.text_or_empty();
    match parse_hex_bytes(text) {
        Some(bytes) => {
            slots.values.push(Value::UInt32(bytes.len() as u32));
            let index = slots.values.len() as u16;
            slots.values.push(Value::Binary(bytes));
            let mut bt = TElement::new("Binary");
            bt.items.push(TItem::Content(TContent::Subst {
                index,
                ty: ty::BINARY,
                optional: true,
            }));
            t.items.push(TItem::Element(bt));
        }
        None => t.items.push(TItem::Element(literal(b))),
    }
}

/// The child of `<UserData>`: leaves become typed slots, a list of same-named leaves one string array.
fn user_data(el: &Element, provider: &str) -> Instance {
    let mut slots = Slots::with_len(0);
    let t = user_data_element(el, provider, &mut slots);
    Instance {
        template: Arc::new(t),
        values: slots.values,
    }
}

fn user_data_element(el: &Element, provider: &str, slots: &mut Slots) -> TElement {
    let mut t = TElement::new(el.name.clone());
    t.attrs = el
        .attrs
        .iter()
        .map(|(n, v)| (n.clone(), TContent::Text(v.clone())))
        .collect();
    if el.children.is_empty() {
        let content = slots.push(field_type(provider, &el.name), el.text_or_empty(), false);
        t.items.push(TItem::Content(content));
        return t;
    }
    let first = &el.children[0].name;
    let is_list = el.children.len() > 1
        && el
            .children
            .iter()
            .all(|c| &c.name == first && c.children.is_empty() && c.attrs.is_empty());
    if is_list {
        let index = slots.values.len() as u16;
        slots.values.push(Value::StringArray(
            el.children
                .iter()
                .map(|c| c.text_or_empty().to_string())
                .collect(),
        ));
        let mut item = TElement::new(first.clone());
        item.items.push(TItem::Content(TContent::Subst {
            index,
            ty: ty::STRING_ARRAY,
            optional: false,
        }));
        t.items.push(TItem::Element(item));
    } else {
        for c in &el.children {
            t.items
                .push(TItem::Element(user_data_element(c, provider, slots)));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmltree::parse_document;

    const MSI_1025: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="MsiInstaller" />
    <EventID Qualifiers="0">1025</EventID>
    <Level>4</Level>
    <Task>0</Task>
    <Keywords>0x80000000000000</Keywords>
    <TimeCreated SystemTime="2016-09-01T20:48:12.000000000Z" />
    <EventRecordID>1749</EventRecordID>
    <Channel>Application</Channel>
    <Computer>IE10Win7</Computer>
    <Security UserID="S-1-5-21-3463664321-2923530833-3546627382-1000" />
  </System>
  <EventData>
    <Data>Microsoft .NET Framework 4.5</Data>
    <Data>C:\Windows\Microsoft.NET\Framework\v4.0.30319\mscoreei.dll</Data>
    <Data>powershell_ise</Data>
    <Data>2332</Data>
    <Data>(NULL)</Data>
    <Data>(NULL)</Data>
    <Data />
    <Binary>7B39463631323432392D344130302D334434342D383843462D3134364441324545314639327D</Binary>
  </EventData>
</Event>"#;

    #[test]
    fn classic_event_uses_windows_slots() {
        let ev = parse_document(MSI_1025).unwrap();
        let (inst, meta) = event_instance(&ev).unwrap();
        assert_eq!(meta.record_id, Some(1749));
        assert_eq!(inst.values.len(), 20);
        assert_eq!(inst.values[3], Value::UInt16(1025));
        assert_eq!(inst.values[4], Value::UInt16(0));
        assert_eq!(inst.values[0], Value::UInt8(4));
        assert_eq!(inst.values[10], Value::UInt64(1749));
        assert!(matches!(inst.values[12], Value::Sid(_)));
        let Value::BinXml(payload) = &inst.values[19] else {
            panic!("payload slot")
        };
        let Value::StringArray(items) = &payload.values[0] else {
            panic!("classic data is a string array")
        };
        assert_eq!(items.len(), 7);
        assert_eq!(items[4], "(NULL)");
        assert_eq!(items[6], "");
        assert_eq!(payload.values[1], Value::UInt32(38));
    }

    #[test]
    fn manifest_event_substitutes_provider_and_channel() {
        let xml = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>
<Provider Name="Microsoft-Windows-WindowsUpdateClient" Guid="{945a8954-c147-4acd-923f-40c45405a658}" />
<EventID>20</EventID><TimeCreated SystemTime="2009-06-10T03:19:40.512734000Z" /><EventRecordID>7</EventRecordID>
<Channel>System</Channel><Computer>EX</Computer></System>
<EventData><Data Name="errorCode">0x80070643</Data><Data Name="updateTitle">UR8</Data>
<Data Name="updateGuid">{00000000-0000-0000-0000-000000000000}</Data><Data Name="updateRevisionNumber">101</Data></EventData></Event>"#;
        let (inst, _) = event_instance(&parse_document(xml).unwrap()).unwrap();
        assert_eq!(inst.values.len(), 18);
        assert_eq!(
            inst.values[14],
            Value::String("Microsoft-Windows-WindowsUpdateClient".into())
        );
        assert_eq!(inst.values[16], Value::String("System".into()));
        let Value::BinXml(payload) = &inst.values[17] else {
            panic!("payload slot")
        };
        assert_eq!(payload.values[0], Value::HexInt32(0x8007_0643));
        assert!(matches!(payload.values[2], Value::Guid(_)));
        assert_eq!(payload.values[3], Value::UInt32(101));
    }

    #[test]
    fn same_shape_gives_same_template_and_bad_numbers_stay_text() {
        let a = parse_document(MSI_1025).unwrap();
        let b = parse_document(&MSI_1025.replace("2332", "4712")).unwrap();
        let (ia, _) = event_instance(&a).unwrap();
        let (ib, _) = event_instance(&b).unwrap();
        assert_eq!(ia.template, ib.template);
        let odd =
            parse_document(&MSI_1025.replace("<Level>4</Level>", "<Level>high</Level>")).unwrap();
        let (io, _) = event_instance(&odd).unwrap();
        assert_ne!(io.template, ia.template);
        assert_eq!(io.values[0], Value::Null);
    }
}
