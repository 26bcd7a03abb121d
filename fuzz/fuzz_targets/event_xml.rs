//! The writer's Event XML input: arbitrary text is either refused with an error or written as a
//! log that the reader then reads back.
#![no_main]

use evtriage_fuzzing::write_event_xml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(xml) = std::str::from_utf8(data) {
        write_event_xml(xml);
    }
});
