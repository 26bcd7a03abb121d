//! `--format json`: the whole report as one document (schema: docs/json-schema.md). The summary
//! comes first but is known last, so findings are rendered into a spool as they arrive and the
//! document is put together at the end, byte for byte what serializing [`Report`] would give.

use super::spool::Spool;
use super::{InputReport, ReportWriter, SCHEMA_VERSION, Summary, Tool};
use crate::diagnosis::Finding;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Default)]
pub struct JsonWriter {
    findings: Spool,
    buffer: Vec<u8>,
}

#[derive(Serialize)]
struct Head<'a> {
    schema_version: u32,
    tool: Tool,
    summary: &'a Summary,
}

#[derive(Serialize)]
struct Tail<'a> {
    inputs: &'a [InputReport],
}

fn pretty(value: &impl Serialize, into: &mut Vec<u8>) -> io::Result<()> {
    into.clear();
    serde_json::to_writer_pretty(&mut *into, value).map_err(io::Error::other)
}

impl ReportWriter for JsonWriter {
    fn finding(&mut self, finding: &Finding, _out: &mut dyn Write) -> io::Result<()> {
        pretty(finding, &mut self.buffer)?;
        self.findings.write_all(if self.findings.is_empty() {
            b"\n"
        } else {
            b",\n"
        })?;
        // Nested two levels deep in the document. Pretty JSON escapes newlines inside strings,
        // so every line break here is one of the layout's own.
        for (i, line) in self.buffer.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.findings.write_all(b"\n")?;
            }
            self.findings.write_all(b"    ")?;
            self.findings.write_all(line)?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        summary: &Summary,
        inputs: &[InputReport],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let head = Head {
            schema_version: SCHEMA_VERSION,
            tool: Tool::current(),
            summary,
        };
        pretty(&head, &mut self.buffer)?;
        out.write_all(self.buffer.strip_suffix(b"\n}").unwrap_or(&self.buffer))?;
        if self.findings.is_empty() {
            out.write_all(b",\n  \"findings\": [],\n")?;
        } else {
            out.write_all(b",\n  \"findings\": [")?;
            self.findings.drain_into(out)?;
            out.write_all(b"\n  ],\n")?;
        }
        pretty(&Tail { inputs }, &mut self.buffer)?;
        out.write_all(self.buffer.strip_prefix(b"{\n").unwrap_or(&self.buffer))?;
        writeln!(out)
    }
}
