//! The fast path from a record to an [`Event`] without rendering it: a record written with
//! templates is a template reference plus typed substitution values. Each template definition is
//! walked once per chunk into a [`Plan`] that says which slot holds the provider, the event ID, the
//! time, … and which `<Data>` / `<UserData>` leaf each payload slot fills; events are then built from
//! the values directly. Anything this walker does not recognize returns `None`, and the caller renders
//! the record instead, so the fast path can only be faster, never different (a test compares both on
//! every record of the samples and the corpus).
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
}
