//! Zip archives on arbitrary bytes: the central directory, members' names, sizes and methods,
//! nested archives, the limits; then every member recognized, read, placed, diagnosed and
//! reported. Nothing may panic, hang or allocate without bound (a member's declared size is no
//! allocation, and no archive unpacks past its limit).
#![no_main]

use evtriage_fuzzing::read_archive_and_diagnose;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_archive_and_diagnose(data);
});
