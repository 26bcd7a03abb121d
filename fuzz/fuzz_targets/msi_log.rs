//! The Windows Installer verbose log reader on arbitrary bytes: encodings, headers and dates, engine
//! lines, actions, files in use, outcomes; then placement, matching, correlation and every report.
//! Nothing may panic, hang or allocate without bound.
#![no_main]

use evtriage_fuzzing::read_text_log_and_diagnose;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_text_log_and_diagnose("msi-log", data);
});
