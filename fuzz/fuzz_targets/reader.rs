//! The log reader and normalizer on arbitrary bytes: file header, chunks, records, templates,
//! values, the fallback renderer and XML normalizer, and matching against the built-in signatures.
//! Nothing may panic, hang or allocate without bound.
#![no_main]

use evtriage_fuzzing::read_and_diagnose;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_and_diagnose(data);
});
