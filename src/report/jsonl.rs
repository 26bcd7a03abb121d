//! `--format jsonl`: one finding per line (the same object as in `findings` of the JSON report),
//! so that runs over many servers can be concatenated and filtered line by line. Each line is
//! written as soon as its computer is diagnosed.
//!
//! A run opens with one line that says what it is (`schema_version`, `tool`) and closes with one
//! that holds what the JSON report has besides its findings (`summary`, `inputs`): what
//! `evtriage merge` needs to refuse another schema by name, and to give the same exit code as one
//! run over all the logs. Every other line is a finding.

use super::{InputReport, ReportWriter, SCHEMA_VERSION, Summary, Tool};
use crate::diagnosis::Finding;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

#[derive(Default)]
pub struct JsonlWriter {
    opened: bool,
}

/// The first line of a run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Opening {
    pub schema_version: u32,
    pub tool: Tool,
}

/// The last line of a run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Closing {
    pub summary: Summary,
    pub inputs: Vec<InputReport>,
}

impl JsonlWriter {
    fn open(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.opened {
            self.opened = true;
            let opening = Opening {
                schema_version: SCHEMA_VERSION,
                tool: Tool::current(),
            };
            serde_json::to_writer(&mut *out, &opening).map_err(io::Error::other)?;
            writeln!(out)?;
        }
        Ok(())
    }
}

impl ReportWriter for JsonlWriter {
    fn finding(&mut self, finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
        self.open(out)?;
        serde_json::to_writer(&mut *out, finding).map_err(io::Error::other)?;
        writeln!(out)
    }

    fn finish(
        &mut self,
        summary: &Summary,
        inputs: &[InputReport],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.open(out)?;
        #[derive(Serialize)]
        struct ClosingRef<'a> {
            summary: &'a Summary,
            inputs: &'a [InputReport],
        }
        serde_json::to_writer(&mut *out, &ClosingRef { summary, inputs })
            .map_err(io::Error::other)?;
        writeln!(out)
    }
}
