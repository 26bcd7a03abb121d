//! The fast path from a record to an [`Event`] without rendering it: a record written with
//! templates is a template reference plus typed substitution values. Each template definition is
//! walked into a [`Plan`] (once per thread: later chunks find it again by its shape) that says
//! which slot holds the provider, the event ID, the time, … and which `<Data>` / `<UserData>` leaf
//! each payload slot fills; events are then built from the values directly. Anything this walker
//! does not recognize returns `None`, and the caller renders the record instead, so the fast path
//! can only be faster, never different (a test compares both on every record of the samples and
//! the corpus).
//!
//! Before an event is built, its sink is asked whether the record's provider, event ID and payload
//! could be kept at all; the answer is remembered for that exact payload for the rest of the chunk.
//! A busy System log is mostly a few services starting and stopping over and over, and most of
//! those records are refused without being built or tested again.

use crate::event::{Event, Field, Interner, Payload, PayloadSource, SourceId};
use crate::input::binxml::{token, value_type};
use chrono::{DateTime, Utc};
use evtx::EvtxRecord;
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::sync::Arc;

mod build;
mod plan;
mod strings;
mod tokens;
mod values;
mod view;

use build::*;
use plan::*;
use strings::*;
use tokens::*;
use values::*;

pub use plan::{Plan, PlanCache};
pub use strings::SharedStrings;
pub(crate) use tokens::decode_utf16le_lossy;
pub(crate) use values::sid_text;
pub use view::{Outcome, PayloadView, Viewed, event_from_binxml, event_from_template, event_view};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_validity_agrees_with_decoding() {
        let cases: &[&[u16]] = &[
            &[0x41, 0x42],
            &[0xd83d, 0xde00],
            &[0xd83d],
            &[0xde00],
            &[0xd83d, 0x41],
            &[0x41, 0xd83d, 0xde00, 0x42],
            &[0xdbff, 0xdfff, 0xd800],
            &[],
        ];
        for units in cases {
            let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            assert_eq!(
                utf16_valid(&bytes),
                decode_utf16le(&bytes).is_some(),
                "{units:x?}"
            );
        }
        assert!(!utf16_valid(&[0x41]), "an odd length is not UTF-16");
    }

    /// The check that spares formatting agrees with decoding on every type byte and every size
    /// up to 40, over contents that make values valid and not: zeros, all ones (a time past
    /// what a date can hold), counting bytes (a SID claiming more parts than it has), unpaired
    /// high surrogates, and a SID whose count fits.
    #[test]
    fn decodes_agrees_with_decode() {
        for ty in 0..=u8::MAX {
            for size in 0..=40usize {
                let contents: [Vec<u8>; 5] = [
                    vec![0; size],
                    vec![0xff; size],
                    (0..size).map(|i| i as u8).collect(),
                    (0..size)
                        .map(|i| if i % 2 == 1 { 0xd8 } else { 0 })
                        .collect(),
                    (0..size).map(|i| if i == 1 { 2 } else { 1 }).collect(),
                ];
                for bytes in &contents {
                    let v = RawValue { at: 0, size, ty };
                    assert_eq!(
                        decodes(bytes, v),
                        decode(bytes, v).is_some(),
                        "type {ty:#x}, {bytes:x?}"
                    );
                }
            }
        }
    }

    /// A located value: where it is, its size and its type.
    type Located = (usize, usize, u8);

    /// The instance reader as it was before the head was read apart (issue 24), kept as the
    /// reference: byte by byte, every value located.
    fn instance_reference(chunk: &[u8], start: usize, end: usize) -> Option<(u32, Vec<Located>)> {
        let end = end.min(chunk.len());
        let mut r = Reader {
            chunk,
            pos: start,
            end,
        };
        let mut token = r.u8()?;
        if token == token::FRAGMENT_HEADER {
            r.u16()?;
            r.u8()?;
            token = r.u8()?;
        }
        if token != token::TEMPLATE_INSTANCE {
            return None;
        }
        r.u8()?;
        r.u32()?;
        let def = r.u32()?;
        if def as usize == r.pos {
            let size = u32::from_le_bytes(chunk.get(r.pos + 20..r.pos + 24)?.try_into().ok()?);
            r.pos = r.pos.checked_add(24)?.checked_add(size as usize)?;
        }
        let n = r.u32()? as usize;
        let descriptors = r.pos;
        let mut at = descriptors.checked_add(n.checked_mul(4)?)?;
        if at > end {
            return None;
        }
        let mut values = Vec::new();
        for i in 0..n {
            let d = descriptors + 4 * i;
            let size = u16::from_le_bytes([chunk[d], chunk[d + 1]]) as usize;
            values.push((at, size, chunk[d + 2]));
            at += size;
        }
        if at > end || (at < end && chunk[at] != token::END_OF_STREAM) {
            return None;
        }
        Some((def, values))
    }

    /// A template instance as records hold one (with or without a fragment header, its
    /// definition inline or elsewhere, values then an end-of-stream token, another byte or
    /// nothing), at 8 in a buffer, followed by a few more bytes; maybe one byte changed, maybe
    /// read from a start or to an end a few bytes off.
    fn an_instance() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, usize, usize)> {
        use proptest::prelude::*;
        (
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(0u16..6, 0..5),
            0u8..3,
            proptest::collection::vec(any::<u8>(), 0..4),
            proptest::option::of((any::<usize>(), any::<u8>())),
            0usize..8,
            0usize..8,
        )
            .prop_map(
                |(header, inline, sizes, trailer, tail, flip, cut_start, cut_end)| {
                    // Half the time the instance is whole: its start and end where they are.
                    let (cut_start, cut_end) = (
                        cut_start % 4 * usize::from(cut_start < 4),
                        cut_end % 4 * usize::from(cut_end < 4),
                    );
                    let mut b = vec![0u8; 8];
                    if header {
                        b.extend_from_slice(&[token::FRAGMENT_HEADER, 1, 1, 0]);
                    }
                    b.extend_from_slice(&[token::TEMPLATE_INSTANCE, 1, 7, 7, 7, 7]);
                    let def_at = b.len() + 4;
                    let def = if inline { def_at as u32 } else { 3 };
                    b.extend_from_slice(&def.to_le_bytes());
                    if inline {
                        b.extend_from_slice(&[9; 20]);
                        b.extend_from_slice(&2u32.to_le_bytes());
                        b.extend_from_slice(&[token::END_OF_STREAM; 2]);
                    }
                    b.extend_from_slice(&(sizes.len() as u32).to_le_bytes());
                    for s in &sizes {
                        b.extend_from_slice(&s.to_le_bytes());
                        b.extend_from_slice(&[value_type::STRING, 0]);
                    }
                    for s in &sizes {
                        b.extend(std::iter::repeat_n(0x41, usize::from(*s)));
                    }
                    match trailer {
                        0 => {}
                        1 => b.push(token::END_OF_STREAM),
                        _ => b.push(0x41),
                    }
                    let end = b.len();
                    b.extend_from_slice(&tail);
                    if let Some((at, to)) = flip {
                        let i = at % b.len();
                        b[i] = to;
                    }
                    (b, 8 + cut_start, end.saturating_sub(cut_end))
                },
            )
    }

    proptest::proptest! {
        /// Reading an instance's head, then checking or locating its values, accepts exactly
        /// the instances the reference reads, with the same definition and values.
        #[test]
        fn head_then_values_read_as_the_reference((chunk, start, end) in an_instance()) {
            let reference = instance_reference(&chunk, start, end);
            let head = instance_head(&chunk, start, end);
            let holds = head.is_some_and(|(_, count)| instance_holds(&chunk, count, end));
            let mut out = Vec::new();
            let located = head.and_then(|(def, count)| {
                locate_values(&chunk, count, end, &mut out).map(|()| def)
            });
            let mut whole = Vec::new();
            let parsed = parse_instance(&chunk, start, end, &mut whole);
            proptest::prop_assert_eq!(holds, reference.is_some());
            proptest::prop_assert_eq!(located, reference.as_ref().map(|r| r.0));
            proptest::prop_assert_eq!(parsed, located);
            if let Some((_, values)) = &reference {
                let got: Vec<_> = out.iter().map(|v| (v.at, v.size, v.ty)).collect();
                proptest::prop_assert_eq!(&got, values);
                let whole: Vec<_> = whole.iter().map(|v| (v.at, v.size, v.ty)).collect();
                proptest::prop_assert_eq!(&whole, values);
            }
        }
    }

    /// A template definition laid out as a chunk holds it (MS-EVEN6: 24-byte header, then the
    /// fragment), at `at` in a chunk of zeros: `<Event><EventData><{leaf}>%0</{leaf}>…`.
    /// `earlier` is where the leaf's name already lies in the chunk, else it is inline.
    fn chunk_with(at: usize, leaf: &str, earlier: Option<usize>) -> Vec<u8> {
        let mut chunk = vec![0u8; at];
        let mut f: Vec<u8> = vec![token::FRAGMENT_HEADER, 1, 1, 0];
        let name = |f: &mut Vec<u8>, s: &str, earlier: Option<usize>| {
            if let Some(offset) = earlier {
                f.extend_from_slice(&(offset as u32).to_le_bytes());
                return;
            }
            let offset = at + 24 + f.len() + 4;
            f.extend_from_slice(&(offset as u32).to_le_bytes());
            f.extend_from_slice(&[0; 6]);
            f.extend_from_slice(&(s.len() as u16).to_le_bytes());
            f.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
            f.extend_from_slice(&[0, 0]);
        };
        for (element, earlier) in [("Event", None), ("EventData", None), (leaf, earlier)] {
            f.extend_from_slice(&[token::OPEN_START_ELEMENT, 0, 0, 0, 0, 0, 0]);
            name(&mut f, element, earlier);
            f.push(token::CLOSE_START_ELEMENT);
        }
        f.extend_from_slice(&[token::NORMAL_SUBSTITUTION, 0, 0, value_type::STRING]);
        f.extend_from_slice(&[token::END_ELEMENT; 3]);
        f.push(token::END_OF_STREAM);
        chunk.extend_from_slice(&[0; 20]);
        chunk.extend_from_slice(&(f.len() as u32).to_le_bytes());
        chunk.extend_from_slice(&f);
        chunk
    }

    /// A name as a chunk's earlier template left it, at the chunk's start.
    fn name_first(mut chunk: Vec<u8>, s: &str) -> Vec<u8> {
        let mut n = vec![0u8; 6];
        n.extend_from_slice(&(s.len() as u16).to_le_bytes());
        n.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        chunk[..n.len()].copy_from_slice(&n);
        chunk
    }

    #[test]
    fn a_template_has_one_shape_wherever_its_names_lie() {
        let (mut a, mut b, mut c, mut d) = (vec![], vec![], vec![], vec![]);
        shape(&chunk_with(64, "Data", None), 64, &mut a).unwrap();
        shape(&chunk_with(3000, "Data", None), 3000, &mut b).unwrap();
        shape(
            &name_first(chunk_with(64, "Data", Some(0)), "Data"),
            64,
            &mut c,
        )
        .unwrap();
        shape(&chunk_with(64, "Datum", None), 64, &mut d).unwrap();
        assert_eq!(a, b, "the same definition at another offset");
        assert_eq!(a, c, "a name defined earlier in the chunk");
        assert_ne!(a, d, "another element name");
    }

    #[test]
    fn a_plan_found_by_shape_is_that_definitions_plan() {
        let mut plans = Plans::default();
        let data = plans.at(&chunk_with(64, "Data", None), 64).unwrap();
        assert_eq!(data.payload.len(), 1, "{data:?}");
        // The next chunk: its own offsets, a definition at the same offset that reads otherwise.
        plans.by_offset.clear();
        let datum = plans.at(&chunk_with(64, "Datum", None), 64).unwrap();
        assert!(datum.payload.is_empty(), "{datum:?}");
        plans.by_offset.clear();
        let again = plans.at(&chunk_with(900, "Data", None), 900).unwrap();
        assert!(
            Arc::ptr_eq(&data, &again),
            "found by shape, not built again"
        );
        assert_eq!(
            plan_template(&chunk_with(900, "Data", None), 900)
                .unwrap()
                .payload,
            again.payload
        );
    }

    /// A list's items, found without decoding the list and as `decode` gives them, are those of
    /// the whole text decoded and split at NUL (the empty piece after a final NUL dropped), on
    /// lists with empty items, a final NUL or none, nothing at all, an odd byte, and an unpaired
    /// surrogate.
    #[test]
    fn array_items_are_the_decoded_lists_items() {
        let cases: &[&[u16]] = &[
            &[0x61, 0, 0x62, 0],
            &[0x61, 0, 0x62],
            &[0x61, 0, 0, 0x62, 0, 0],
            &[0, 0],
            &[0],
            &[],
            &[0xd83d, 0xde00, 0, 0x41],
            &[0x41, 0, 0xd83d, 0],
        ];
        for units in cases {
            let mut bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            for odd in [false, true] {
                if odd {
                    bytes.push(0x41);
                }
                let v = RawValue {
                    at: 0,
                    size: bytes.len(),
                    ty: value_type::STRING_ARRAY,
                };
                let whole = decode_utf16le(&bytes).map(|s| {
                    let mut items: Vec<String> =
                        s.split('\0').map(|i| as_rendered(i.to_string())).collect();
                    if items.last().is_some_and(String::is_empty) {
                        items.pop();
                    }
                    items
                });
                let found = array_items(&bytes).map(|items| {
                    items
                        .map(|b| as_rendered(decode_utf16le(b).unwrap()))
                        .collect::<Vec<_>>()
                });
                assert_eq!(found, whole, "{units:x?}, odd byte: {odd}");
                let decoded = match decode(&bytes, v) {
                    Some(Text::Many(items)) => Some(items),
                    _ => None,
                };
                assert_eq!(decoded, whole, "{units:x?}, odd byte: {odd}");
            }
        }
    }
}
