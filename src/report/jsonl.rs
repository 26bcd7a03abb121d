//! `--format jsonl`: one finding per line (the same object as in `findings` of the JSON report),
//! so that runs over many servers can be concatenated and filtered line by line. Each line is
//! written as soon as its computer is diagnosed.

use super::{InputReport, ReportWriter, Summary};
use crate::diagnosis::Finding;
use std::io::{self, Write};

pub struct JsonlWriter;

impl ReportWriter for JsonlWriter {
    fn finding(&mut self, finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, finding).map_err(io::Error::other)?;
        writeln!(out)
    }

    fn finish(&mut self, _: &Summary, _: &[InputReport], _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
