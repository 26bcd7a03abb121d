//! The `ExchangeSetup.log` reader on arbitrary bytes: timed lines, setup's messages and the
//! service-control lines in them; then placement, matching, correlation and every report.
//! Nothing may panic, hang or allocate without bound.
#![no_main]

use evtriage_fuzzing::read_text_log_and_diagnose;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_text_log_and_diagnose("exchange-setup-log", data);
});
