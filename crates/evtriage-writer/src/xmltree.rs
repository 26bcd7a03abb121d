//! A small owned XML element tree: what Event XML (`wevtutil qe /f:xml`, Event Viewer's "Save as XML")
//! is parsed into before it is written as EVTX, what the sample and log generators build, and what the
//! round-trip tests compare. Event XML has no mixed content worth keeping, so text is stored per element
//! and whitespace-only text between elements is dropped.

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event as XmlEvent};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside this element (None when there was none).
    pub text: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("XML error at byte {offset}: {message}")]
pub struct XmlError {
    pub offset: u64,
    pub message: String,
}

/// Deepest element nesting accepted: Event XML is four or five levels deep, and a bound keeps a
/// hostile document from exhausting the stack of anything that walks the tree recursively.
pub const MAX_DEPTH: usize = 64;

impl Element {
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ..Default::default()
        }
    }

    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attrs.push((name.to_string(), value.into()));
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn text_or_empty(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }

    /// Serialize with two-space indentation, the way Event Viewer shows events.
    pub fn write_indented(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let _ = write!(out, "{pad}<{}", self.name);
        for (n, v) in &self.attrs {
            let _ = write!(out, " {n}=\"{}\"", escape_text(v));
        }
        match (&self.text, self.children.is_empty()) {
            (None, true) => out.push_str(" />\n"),
            (Some(t), true) => {
                let _ = writeln!(out, ">{}</{}>", escape_text(t), self.name);
            }
            (text, false) => {
                out.push_str(">\n");
                if let Some(t) = text {
                    let _ = writeln!(out, "{pad}  {}", escape_text(t));
                }
                for c in &self.children {
                    c.write_indented(out, depth + 1);
                }
                let _ = writeln!(out, "{pad}</{}>", self.name);
            }
        }
    }

    pub fn to_xml(&self) -> String {
        let mut s = String::new();
        self.write_indented(&mut s, 0);
        s
    }
}

/// Escaped for text and attribute values alike (quotes included, which text does not need but
/// keeps valid).
fn escape_text(s: &str) -> String {
    escape_control(&escape(s))
}

/// XML 1.0 cannot carry most C0 controls even as references, but TAB/LF/CR must survive as
/// references so that a round trip keeps them (a raw LF in an attribute would be normalized away).
fn escape_control(s: &str) -> String {
    if !s.contains(['\t', '\n', '\r']) {
        return s.to_string();
    }
    s.replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
}

/// Parse a whole document and return its root element.
pub fn parse_document(xml: &str) -> Result<Element, XmlError> {
    let mut roots = Vec::new();
    parse_each(xml, 0, |e| {
        roots.push(e);
        Ok(())
    })?;
    roots.pop().ok_or(XmlError {
        offset: 0,
        message: "document has no root element".into(),
    })
}

/// Stream the elements found at `depth` (0 = the root, 1 = the root's children) to `each`, so a large
/// `<Events>` export is never held as one tree.
pub fn parse_each(
    xml: &str,
    depth: usize,
    mut each: impl FnMut(Element) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let err = |reader: &Reader<&[u8]>, message: String| XmlError {
        offset: reader.buffer_position(),
        message,
    };
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| err(&reader, e.to_string()))?;
        match ev {
            XmlEvent::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        &reader,
                        format!("elements nested deeper than {MAX_DEPTH}"),
                    ));
                }
                stack.push(start_element(&reader, &start)?);
            }
            XmlEvent::Empty(start) => {
                let el = start_element(&reader, &start)?;
                close(&mut stack, el, depth, &mut each)?;
            }
            XmlEvent::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| err(&reader, "unbalanced end tag".into()))?;
                close(&mut stack, el, depth, &mut each)?;
            }
            XmlEvent::Text(t) => {
                let raw = t
                    .xml10_content()
                    .map_err(|e| err(&reader, format!("bad text: {e}")))?;
                append_text(&mut stack, &raw);
            }
            XmlEvent::GeneralRef(r) => {
                let resolved = if let Some(ch) = r
                    .resolve_char_ref()
                    .map_err(|e| err(&reader, format!("bad character reference: {e}")))?
                {
                    ch.to_string()
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| err(&reader, format!("bad entity: {e}")))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => s.to_string(),
                        None => return Err(err(&reader, format!("unknown entity &{name};"))),
                    }
                };
                append_text_raw(&mut stack, &resolved);
            }
            XmlEvent::CData(c) => {
                let s = String::from_utf8_lossy(&c).into_owned();
                append_text_raw(&mut stack, &s);
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(err(
            &reader,
            format!(
                "document ends inside <{}>",
                stack.last().map(|e| e.name.as_str()).unwrap_or("")
            ),
        ));
    }
    Ok(())
}

fn close(
    stack: &mut [Element],
    mut el: Element,
    depth: usize,
    each: &mut impl FnMut(Element) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    // Whitespace-only text beside child elements is indentation, not data.
    if !el.children.is_empty() && el.text.as_deref().is_some_and(|t| t.trim().is_empty()) {
        el.text = None;
    }
    if stack.len() == depth {
        each(el)
    } else if let Some(parent) = stack.last_mut() {
        parent.children.push(el);
        Ok(())
    } else {
        Ok(())
    }
}

fn append_text(stack: &mut [Element], raw: &str) {
    if let Some(top) = stack.last_mut() {
        // Indentation between child elements is dropped; text inside leaf elements is kept verbatim.
        if raw.trim().is_empty() && top.text.is_none() && !top.children.is_empty() {
            return;
        }
        top.text.get_or_insert_with(String::new).push_str(raw);
    }
}

fn append_text_raw(stack: &mut [Element], s: &str) {
    if let Some(top) = stack.last_mut() {
        top.text.get_or_insert_with(String::new).push_str(s);
    }
}

fn start_element(reader: &Reader<&[u8]>, start: &BytesStart) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut el = Element::new(name);
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError {
            offset: reader.buffer_position(),
            message: format!("bad attribute: {e}"),
        })?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| XmlError {
                offset: reader.buffer_position(),
                message: format!("bad attribute value: {e}"),
            })?
            .into_owned();
        el.attrs.push((key, value));
    }
    Ok(el)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_viewer_export_and_drops_indentation() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<Events>
  <Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
    <System><Provider Name="MsiInstaller" /><EventID Qualifiers="0">1025</EventID></System>
    <EventData><Data>a &amp; b</Data><Data>(NULL)</Data><Data /></EventData>
  </Event>
</Events>"#;
        let mut events = Vec::new();
        parse_each(xml, 1, |e| {
            events.push(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        assert_eq!(ev.text, None);
        let data = &ev.find("EventData").unwrap().children;
        assert_eq!(data[0].text.as_deref(), Some("a & b"));
        assert_eq!(data[2].text, None);
        assert_eq!(
            ev.find("System")
                .unwrap()
                .find("EventID")
                .unwrap()
                .get_attr("Qualifiers"),
            Some("0")
        );
    }

    #[test]
    fn serialization_round_trips_special_characters() {
        let el = Element::new("Data").text("tab\there <x> & \"q\"\nline");
        let back = parse_document(&el.to_xml()).unwrap();
        assert_eq!(back, el);
    }

    #[test]
    fn rejects_truncated_and_deep_documents() {
        assert!(parse_document("<Events><Event>").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(
            parse_document(&deep)
                .unwrap_err()
                .message
                .contains("nested")
        );
    }
}
