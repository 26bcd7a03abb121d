//! Proof that a written file says what its Event XML said: read it back with the evtx crate (checksums
//! validated) and compare event by event, modulo formatting — attribute order, `<X />` versus
//! `<X></X>`, GUID letter case, and the precision a FILETIME keeps (100 ns).

use crate::xmltree::{self, Element};
use evtriage::values::{parse_filetime, parse_guid};
use std::path::Path;

/// Every event of `path` as the evtx crate renders it, failing on the first record or chunk error.
pub fn read_back(path: &Path) -> Result<Vec<Element>, String> {
    let settings = evtx::ParserSettings::new()
        .validate_checksums(true)
        .num_threads(1);
    let mut parser = evtx::EvtxParser::from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .with_configuration(settings);
    if !parser.header().validate_checksum() {
        return Err(format!(
            "{}: file header CRC32 does not match",
            path.display()
        ));
    }
    let mut events = Vec::new();
    for record in parser.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let el = xmltree::parse_document(&record.data)
            .map_err(|e| format!("{}: record {}: {e}", path.display(), record.event_record_id))?;
        events.push(el);
    }
    Ok(events)
}

/// Compare what was written with what was read back; the first difference, if any, as a sentence.
pub fn compare(written: &[Element], read: &[Element]) -> Result<(), String> {
    if written.len() != read.len() {
        return Err(format!(
            "{} events written, {} read back",
            written.len(),
            read.len()
        ));
    }
    for (i, (w, r)) in written.iter().zip(read).enumerate() {
        let (w, r) = (canonical(w), canonical(r));
        if w != r {
            return Err(format!(
                "event {i} differs:\n--- written\n{}\n--- read back\n{}",
                w.to_xml(),
                r.to_xml()
            ));
        }
    }
    Ok(())
}

/// The form two renderings of the same event share.
pub fn canonical(el: &Element) -> Element {
    let mut attrs: Vec<(String, String)> = el
        .attrs
        .iter()
        .map(|(n, v)| (n.clone(), canonical_value(v)))
        .collect();
    attrs.sort();
    Element {
        name: el.name.clone(),
        attrs,
        children: el
            .children
            .iter()
            .filter(|c| c.name != "RenderingInfo")
            .map(canonical)
            .collect(),
        text: el
            .text
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| canonical_value(t)),
    }
}

fn canonical_value(v: &str) -> String {
    if v.len() == 38 && parse_guid(v).is_some() {
        return v.to_ascii_lowercase();
    }
    if v.len() >= 19
        && v.as_bytes().get(4) == Some(&b'-')
        && v.as_bytes().get(10) == Some(&b'T')
        && let Some(ft) = parse_filetime(v)
    {
        return format!("filetime:{ft}");
    }
    v.to_string()
}
