//! evtriage: reads exported Windows event logs and diagnoses failed installs, above all the Exchange
//! rollup that fails on a file in use and leaves Exchange services disabled (KB 940006).
//!
//! The pipeline, one module per stage: [`input`] finds and reads logs, [`event`] is the one normalized
//! event type, [`diagnosis`] correlates events into findings with evidence, [`report`] prints them.
//! [`evtxwrite`] writes .evtx files (samples, tests and benchmarks need logs that no public source has).

pub mod app;
pub mod cli;
pub mod diagnosis;
pub mod event;
pub mod evtxwrite;
pub mod fuzzing;
pub mod input;
pub mod knowledge;
pub mod report;
pub mod script;
pub mod shared;
pub mod synth;
pub mod values;
pub mod xmltree;
