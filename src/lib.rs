//! evtriage: reads exported Windows event logs and diagnoses failed installs, above all the Exchange
//! rollup that fails on a file in use and leaves Exchange services disabled (KB 940006).
//!
//! The pipeline, one module per stage: [`input`] finds and reads logs, [`event`] is the one normalized
//! event type, [`diagnosis`] correlates events into findings with evidence, [`report`] prints them,
//! [`script`] writes the restore script. The command line and the run live in the binary
//! (`src/main.rs`); the tools that write test logs live in `crates/`.

#![forbid(unsafe_code)]

pub mod codes;
pub mod collection;
pub mod diagnosis;
pub mod escape;
pub mod event;
pub mod fleet;
pub mod input;
pub mod knowledge;
pub mod labels;
pub mod live;
pub mod report;
pub mod script;
pub mod services;
pub mod shared;
pub mod timeline;
pub mod values;
