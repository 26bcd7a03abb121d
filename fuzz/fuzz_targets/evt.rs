//! The classic .evt reader on arbitrary bytes: header, end-of-file record, the ring across the
//! wrap, records, strings, SIDs and data, then matching, correlation and every report format.
//! Nothing may panic, hang or allocate without bound (a header's or a record's claimed size never
//! is an allocation).
#![no_main]

use evtriage_fuzzing::read_evt_and_diagnose;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_evt_and_diagnose(data);
});
