//! Event XML exports as input: Event Viewer's "Save All Events As… XML" (an `<Events>` root),
//! `wevtutil qe <log> /f:xml` (one `<Event>` after another, no root), with or without each event's
//! `<RenderingInfo>`, in UTF-8 or, as PowerShell's `>` writes it, UTF-16LE with a byte-order mark.
//! Recognized by content: after a BOM, the XML declaration and comments, the first element is
//! `<Events>` or `<Event>`. Each `<Event>` is cut out of the stream and read by
//! [`super::xml::from_event_xml`], so that a file of any size is read in constant memory, and one
//! malformed event costs that event only.

use super::template::decode_utf16le_lossy;
use super::xml::{EventXmlError, from_event_xml};
use super::{EventSink, InputFile, InputReport, LogReader, LogSpan, Progress};
use crate::event::Interner;
use rayon::prelude::*;
use std::io::{self, Read};

pub struct EventXmlReader;

/// Read this much of the file at a time.
const BLOCK: usize = 1 << 20;
/// No event is larger: past this without its `</Event>`, the rest of the element is damage, never
/// a buffer that grows with the file (a real record is a few KiB).
const MAX_EVENT: usize = 4 << 20;

/// How the file's text is encoded, from its byte-order mark.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Utf8,
    Utf16Le,
}

fn encoding(head: &[u8]) -> (Encoding, usize) {
    if head.starts_with(&[0xFF, 0xFE]) {
        (Encoding::Utf16Le, 2)
    } else if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (Encoding::Utf8, 3)
    } else {
        (Encoding::Utf8, 0)
    }
}

/// The head's text, as far as it decodes.
fn head_text(head: &[u8]) -> String {
    let (enc, bom) = encoding(head);
    let body = &head[bom..];
    match enc {
        Encoding::Utf8 => String::from_utf8_lossy(body).into_owned(),
        Encoding::Utf16Le => decode_utf16le_lossy(body),
    }
}

/// The first element's name, past the declaration, comments and whitespace.
fn first_element(text: &str) -> Option<&str> {
    let mut rest = text.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>")?.1.trim_start();
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->")?.1.trim_start();
        } else {
            break;
        }
    }
    let r = rest.strip_prefix('<')?;
    let end = r.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
    Some(&r[..end])
}

impl LogReader for EventXmlReader {
    fn format(&self) -> &'static str {
        "event-xml"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        let text = head_text(head);
        matches!(
            first_element(&text).map(|n| n.rsplit(':').next().unwrap_or(n)),
            Some("Events" | "Event")
        )
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        InputReport::of_sequential_read(input, "event-xml", |report| {
            read_events(input, sink, progress, report)
        })
    }
}

/// The file's text, a block at a time, decoded to UTF-8 whatever it was stored as.
struct Text<R> {
    inner: R,
    encoding: Encoding,
    /// Bytes of a character split between blocks.
    carry: Vec<u8>,
}

impl<R: Read> Text<R> {
    /// The next block of text; empty at the end. The block is read after the bytes carried
    /// over, and valid UTF-8 becomes the text without a copy.
    fn next_block(&mut self, progress: &dyn Progress) -> io::Result<String> {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.reserve(BLOCK);
        let n = (&mut self.inner)
            .take(BLOCK as u64)
            .read_to_end(&mut bytes)?;
        progress.bytes_read(n as u64);
        let at_end = n == 0;
        match self.encoding {
            Encoding::Utf8 => {
                let valid = match std::str::from_utf8(&bytes) {
                    Ok(_) => bytes.len(),
                    Err(e) if e.error_len().is_none() && !at_end => e.valid_up_to(),
                    Err(_) => bytes.len(),
                };
                self.carry = bytes.split_off(valid);
                Ok(match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                })
            }
            Encoding::Utf16Le => {
                let mut whole = bytes.len() / 2 * 2;
                // Keep a high surrogate with the low one that follows it.
                if !at_end && whole >= 2 {
                    let last = u16::from_le_bytes([bytes[whole - 2], bytes[whole - 1]]);
                    if (0xD800..0xDC00).contains(&last) {
                        whole -= 2;
                    }
                }
                self.carry = bytes.split_off(whole);
                Ok(decode_utf16le_lossy(&bytes))
            }
        }
    }
}

/// Where the next `<Event>` or `<Event …>` start tag begins (not `<Events>`, not `<EventData>`).
fn event_start(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = text[at..].find("<Event") {
        let start = at + i;
        match text[start + 6..].chars().next() {
            Some(c) if c == '>' || c == '/' || c.is_whitespace() => return Some(start),
            None => return Some(start),
            _ => at = start + 6,
        }
    }
    None
}

/// What is kept of an event read: what names the log, and whether the sink kept it.
struct EventRead {
    time: chrono::DateTime<chrono::Utc>,
    channel: std::sync::Arc<str>,
    computer: std::sync::Arc<str>,
    used: bool,
}

fn read_events(
    input: &InputFile,
    sink: &dyn EventSink,
    progress: &dyn Progress,
    report: &mut InputReport,
) -> io::Result<()> {
    let mut file = input.open()?;
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let (encoding, bom) = encoding(&head[..n]);
    let mut text = Text {
        inner: file,
        encoding,
        carry: head[bom..n].to_vec(),
    };
    let mut pending = String::new();
    // Bytes of the (UTF-8) text before `pending`, to name where an event is.
    let mut consumed = 0usize;
    let mut ordinal = 0u64;
    let mut at_end = false;
    while !at_end {
        let block = text.next_block(progress)?;
        at_end = block.is_empty();
        pending.push_str(&block);
        // The block's whole events, cut out here; then what is left of the block: nothing
        // needed, or the start of an event the next block ends (or the file cuts, or that grew
        // too large).
        let mut events: Vec<std::ops::Range<usize>> = Vec::new();
        let mut from = 0;
        let mut unfinished = None;
        loop {
            let Some(start) = event_start(&pending, from) else {
                // Nothing before a possible `<Event` split by the block is needed any more.
                let mut keep = pending.len().saturating_sub(6).max(from);
                while !pending.is_char_boundary(keep) {
                    keep -= 1;
                }
                from = keep;
                break;
            };
            let end = match pending[start..].find("</Event>") {
                Some(e) => start + e + "</Event>".len(),
                None if pending[start..].starts_with("<Event/>") => start + "<Event/>".len(),
                None => {
                    if pending.len() - start > MAX_EVENT || at_end {
                        unfinished = Some(start);
                        from = pending.len();
                    } else {
                        from = start;
                    }
                    break;
                }
            };
            events.push(start..end);
            from = end;
        }
        // Parsed and handed to the sink on the pool (a block holds hundreds of events); counted
        // and named here, in the file's order.
        let read: Vec<Result<EventRead, EventXmlError>> = events
            .par_iter()
            .map_init(Interner::default, |interner, r| {
                let mut event = from_event_xml(&pending[r.clone()], input.id, None, interner)?;
                let named = EventRead {
                    time: event.time,
                    channel: event.channel.clone(),
                    computer: event.computer.clone(),
                    used: false,
                };
                let used = sink.wants_event_id(event.event_id) && {
                    let payload = std::mem::take(&mut event.payload);
                    sink.accept(event, &payload)
                };
                Ok(EventRead { used, ..named })
            })
            .collect();
        for (r, outcome) in events.iter().zip(read) {
            ordinal += 1;
            match outcome {
                Ok(event) => {
                    report.records_read += 1;
                    report.records_used += u64::from(event.used);
                    // The first event names the log and computer; the others widen its times.
                    match &mut report.log {
                        Some(span) => {
                            span.first = span.first.min(event.time);
                            span.last = span.last.max(event.time);
                        }
                        None => {
                            report.log = Some(LogSpan {
                                name: event.channel.to_string(),
                                computer: event.computer.to_string(),
                                first: event.time,
                                last: event.time,
                            })
                        }
                    }
                }
                Err(e) => {
                    report.records_failed += 1;
                    report.error(format!(
                        "event {ordinal} (at offset {} of the text): {e}",
                        consumed + r.start
                    ));
                }
            }
        }
        if let Some(start) = unfinished {
            ordinal += 1;
            report.records_failed += 1;
            report.error(format!(
                "event {ordinal} (at offset {} of the text): {}",
                consumed + start,
                if at_end {
                    "cut by the end of the file (no </Event>)"
                } else {
                    "larger than 4 MiB without its </Event>; skipped"
                }
            ));
        }
        consumed += from;
        pending.drain(..from);
    }
    if ordinal == 0 {
        report.error("no <Event> element: an XML file, but not Event XML".into());
    }
    Ok(())
}
