//! `--format json`: the whole report as one document (schema: docs/json-schema.md).

use super::{Report, ReportWriter, Style};
use std::io::{self, Write};

pub struct JsonWriter;

impl ReportWriter for JsonWriter {
    fn write(&self, report: &Report, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::other)?;
        writeln!(out)
    }
}
