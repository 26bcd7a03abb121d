//! Signature definitions: arbitrary TOML is either refused with an error naming the problem or
//! loaded, and a loaded signature runs over the KB 940006 sample without panicking.
#![no_main]

use evtriage_fuzzing::load_and_run_signature;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        load_and_run_signature(text);
    }
});
