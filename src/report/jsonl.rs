//! `--format jsonl`: one finding per line (the same object as in `findings` of the JSON report),
//! so that runs over many servers can be concatenated and filtered line by line.

use super::{Report, ReportWriter, Style};
use std::io::{self, Write};

pub struct JsonlWriter;

impl ReportWriter for JsonlWriter {
    fn write(&self, report: &Report, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        for f in &report.findings {
            serde_json::to_writer(&mut *out, f).map_err(io::Error::other)?;
            writeln!(out)?;
        }
        Ok(())
    }
}
