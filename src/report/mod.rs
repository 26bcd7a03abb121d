//! Report: the run's result ([`Report`]) and one writer per output format. Writers take findings
//! one at a time while diagnosis goes on, then the summary and inputs, so that a fleet's report
//! is never held in memory whole. Adding a format means adding a module with a [`ReportWriter`]
//! and naming it in [`Format`].

mod facts;
pub mod html;
pub mod json;
pub mod jsonl;
mod layout;
pub mod markdown;
pub mod overview;
mod spool;
pub mod table;
mod timeline;

use crate::diagnosis::Finding;
use crate::input::InputReport;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// Bumped when a field is renamed or removed, or its meaning changes; adding fields keeps it.
/// 2: a JSONL report opens and closes with a line of its own (`jsonl.rs`).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: std::borrow::Cow<'static, str>,
    pub version: std::borrow::Cow<'static, str>,
}

impl Tool {
    pub fn current() -> Self {
        Tool {
            name: "evtriage".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Summary {
    pub findings: usize,
    pub action_required: usize,
    pub inputs: usize,
    pub inputs_with_problems: usize,
    pub records_read: u64,
    pub records_failed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub inputs: Vec<InputReport>,
}

impl Summary {
    /// Before any finding: what the inputs say.
    pub fn of_inputs(inputs: &[InputReport]) -> Self {
        Summary {
            findings: 0,
            action_required: 0,
            inputs: inputs.len(),
            inputs_with_problems: inputs.iter().filter(|i| i.is_problem()).count(),
            records_read: inputs.iter().map(|i| i.records_read).sum(),
            records_failed: inputs.iter().map(|i| i.records_failed).sum(),
        }
    }

    /// "7 finding(s) in all; 33 input(s), 3519 records read", and the inputs not read completely:
    /// the headline every readable report gives after what is to act on.
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} finding(s) in all; {} input(s), {} records read",
            self.findings, self.inputs, self.records_read
        );
        if self.inputs_with_problems > 0 {
            s.push_str(&format!(
                ", {} input(s) not read completely",
                self.inputs_with_problems
            ));
        }
        s
    }

    pub fn count(&mut self, finding: &Finding) {
        self.findings += 1;
        self.action_required += usize::from(finding.action_required);
    }
}

impl Report {
    pub fn new(findings: Vec<Finding>, inputs: Vec<InputReport>) -> Self {
        let mut summary = Summary::of_inputs(&inputs);
        findings.iter().for_each(|f| summary.count(f));
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::current(),
            summary,
            findings,
            inputs,
        }
    }

    /// The whole report in one format, for callers that hold it whole.
    pub fn write(&self, format: Format, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let mut w = writer(format, style);
        for f in &self.findings {
            w.finding(f, out)?;
        }
        w.finish(&self.summary, &self.inputs, out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Readable sections and tables.
    Table,
    /// One JSON document (schema in docs/json-schema.md).
    Json,
    /// One finding per line, between the run's opening and closing lines.
    Jsonl,
    /// One self-contained HTML page, to attach to a ticket.
    Html,
    /// GitHub-flavoured Markdown, to paste into a ticket or chat.
    Markdown,
}

/// Which shell's commands the readable reports print (JSON always has both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shells {
    PowerShell,
    Cmd,
    Both,
}

impl Shells {
    pub fn powershell(self) -> bool {
        self != Shells::Cmd
    }
    pub fn cmd(self) -> bool {
        self != Shells::PowerShell
    }
}

/// How the readable writers (table, Markdown, HTML) should look.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Terminal width to fit tables to; `None` lets tables grow.
    pub width: Option<u16>,
    pub shells: Shells,
    /// Every evidence record with every field, not one line each.
    pub evidence: bool,
    /// Only the overview of computers and findings.
    pub summary_only: bool,
}

impl Style {
    /// Plain text at 120 columns, PowerShell commands, condensed evidence: what a report written
    /// to a file gets.
    pub fn plain() -> Style {
        Style {
            color: false,
            width: Some(120),
            shells: Shells::PowerShell,
            evidence: false,
            summary_only: false,
        }
    }
}

/// One output format. `finding` is called for each finding in report order, as diagnosis
/// produces them; `finish` once, with the totals and the inputs. Formats that print the summary
/// first keep what they rendered of each finding in a spool (memory, then a temporary file).
pub trait ReportWriter {
    fn finding(&mut self, finding: &Finding, out: &mut dyn Write) -> io::Result<()>;
    fn finish(
        &mut self,
        summary: &Summary,
        inputs: &[InputReport],
        out: &mut dyn Write,
    ) -> io::Result<()>;
}

pub fn writer(format: Format, style: Style) -> Box<dyn ReportWriter> {
    match format {
        Format::Table => Box::new(table::TableWriter::new(style)),
        Format::Json => Box::new(json::JsonWriter::default()),
        Format::Jsonl => Box::new(jsonl::JsonlWriter::default()),
        Format::Html => Box::new(html::HtmlWriter::new(style)),
        Format::Markdown => Box::new(markdown::MarkdownWriter::new(style)),
    }
}

// Escaping and times are the lowest floor (`crate::escape`): the diagnosis and the script use
// them too. Their old paths stay for the writers.
pub use crate::escape::{self, display, time};
