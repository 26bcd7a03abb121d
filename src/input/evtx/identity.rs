//! The log and computer a file is of, from the first record of the first chunk of the walk: read
//! once per file after the chunks (the fast path otherwise decodes only what a signature wants).

use super::{CHUNK, FILE_HEADER, FastPath, owned, tile_records};
use crate::event::Interner;
use crate::input::LogSpan;
use crate::input::template::{PlanCache, Viewed, event_view};
use crate::input::xml::from_event_xml;
use evtx::{EvtxChunkHeader, ParserSettings};
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// The log and computer the first chunk of the walk names (its `number`, read again: the block it
/// was read in is gone), found as its records were read (`fast`): from the first record's
/// template values where the fast path read them, else (or when those name no log) by the
/// crate's rendering of its first record.
pub(super) fn first_identity(
    file: &mut (impl Read + Seek),
    source: crate::event::SourceId,
    number: u64,
    fast: FastPath,
    settings: &Arc<ParserSettings>,
) -> Option<LogSpan> {
    let mut bytes = vec![0u8; CHUNK as usize];
    file.seek(SeekFrom::Start(FILE_HEADER + number * CHUNK))
        .and_then(|_| file.read_exact(&mut bytes))
        .ok()?;
    let from_template = match fast {
        FastPath::NotRun => None,
        // The fast path tiled this chunk's records when it read them: it does again.
        FastPath::Complete | FastPath::WithRender => EvtxChunkHeader::from_bytes(&bytes)
            .ok()
            .and_then(|header| tile_records(&bytes, &header))
            .and_then(|records| {
                let r = records.first()?;
                from_template_values(&bytes, r.binxml.clone(), r.id, source)
            }),
    };
    if fast == FastPath::Complete || from_template.as_ref().is_some_and(|l| !l.name.is_empty()) {
        return from_template;
    }
    let rendered = owned(number, &bytes).and_then(|mut data| {
        let mut chunk = data.parse(settings.clone()).ok()?;
        let record = chunk.iter().find_map(Result::ok)?;
        let header_id = record.event_record_id;
        let xml = record.into_xml().ok()?;
        let event =
            from_event_xml(&xml.data, source, Some(header_id), &mut Interner::default()).ok()?;
        Some(span_of(&event.channel, &event.computer, event.time))
    });
    LogSpan::merge(rendered, from_template)
}

/// The identity from a record's template values.
fn from_template_values(
    bytes: &[u8],
    binxml: std::ops::Range<usize>,
    header_id: u64,
    source: crate::event::SourceId,
) -> Option<LogSpan> {
    let mut plans = PlanCache::default();
    match event_view(
        bytes,
        binxml,
        header_id,
        source,
        &mut plans,
        &mut Interner::default(),
        |_| true,
        |_| true,
        |_, _, _| true,
    ) {
        Viewed::Event(event, _) | Viewed::Built(event) => {
            Some(span_of(&event.channel, &event.computer, event.time))
        }
        Viewed::Unwanted | Viewed::Render => None,
    }
}

fn span_of(log: &str, computer: &str, time: chrono::DateTime<chrono::Utc>) -> LogSpan {
    LogSpan {
        name: log.to_string(),
        computer: computer.to_string(),
        first: time,
        last: time,
    }
}
