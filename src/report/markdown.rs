//! `--format markdown`: the overview and the findings as GitHub-flavoured Markdown, to paste into
//! a ticket or a chat. The same content as the table; log text goes through [`markdown`] (or into
//! a fenced block that nothing in it can close), so a crafted value cannot add a link, an image
//! or HTML to the ticket.

use super::escape::{markdown, markdown_code_block, markdown_text, push_markdown};
use super::facts::{action_words, confidence_word, facts, inputs_read};
use super::overview::{self, Row};
use super::spool::Spool;
use super::{InputReport, ReportWriter, Style, Summary, Tool};
use crate::diagnosis::finding::Finding;
use std::io::{self, Write};

pub struct MarkdownWriter {
    style: Style,
    sections: Spool,
    rows: Vec<Row>,
}

impl MarkdownWriter {
    pub fn new(style: Style) -> Self {
        MarkdownWriter {
            style,
            sections: Spool::default(),
            rows: Vec::new(),
        }
    }
}

use super::time;

fn write_finding(out: &mut dyn Write, f: &Finding, n: usize, style: Style) -> io::Result<()> {
    let kb = f
        .kb_article
        .as_deref()
        .map(|k| format!(" ({})", markdown(k)))
        .unwrap_or_default();
    let label = super::overview::Row::of(f).severity_word().to_uppercase();
    writeln!(out, "## {n}. {label}: {}{kb}\n", markdown(&f.title))?;
    writeln!(
        out,
        "**{}** · {} · {} · confidence {} · `{}`\n",
        markdown(&f.computer),
        f.status.as_str(),
        action_words(f),
        confidence_word(f),
        f.signature
    )?;
    writeln!(out, "{}\n", markdown_text(&f.summary))?;
    writeln!(out, "| | |\n|---|---|")?;
    for (k, v) in facts(f, markdown) {
        writeln!(out, "| **{k}** | {v} |")?;
    }
    writeln!(out)?;

    if !f.remediation.is_empty() {
        writeln!(out, "### What to run\n")?;
        for (i, step) in f.remediation.iter().enumerate() {
            writeln!(out, "{}. **{}**  ", i + 1, markdown_text(&step.title))?;
            writeln!(out, "   {}\n", markdown_text(&step.text))?;
            if style.shells.powershell() && !step.powershell.is_empty() {
                for line in markdown_code_block("powershell", &step.powershell).lines() {
                    writeln!(out, "   {line}")?;
                }
                writeln!(out)?;
            }
            if style.shells.cmd() && !step.cmd.is_empty() {
                for line in markdown_code_block("bat", &step.cmd).lines() {
                    writeln!(out, "   {line}")?;
                }
                writeln!(out)?;
            }
            for w in &step.withheld {
                writeln!(out, "   *(withheld)* {}\n", markdown_text(w))?;
            }
        }
    }

    writeln!(
        out,
        "<details><summary>Evidence: {} records</summary>\n",
        f.evidence.len()
    )?;
    writeln!(
        out,
        "| Time (UTC) | Log | Record | Event | Fields |\n|---|---|---|---|---|"
    )?;
    let mut row = String::with_capacity(512);
    for e in &f.evidence {
        row.clear();
        row.push_str("| ");
        row.push_str(&time(e.time));
        row.push_str(" | ");
        push_markdown(&mut row, &e.file);
        row.push_str(&format!(" | {} | ", e.record_id));
        push_markdown(&mut row, &e.provider);
        row.push_str(&format!(" {} | ", e.event_id));
        for (i, (k, v)) in e.fields.iter().enumerate() {
            if i > 0 {
                row.push_str(", ");
            }
            row.push_str(k);
            row.push('=');
            push_markdown(&mut row, v);
        }
        row.push_str(" |");
        writeln!(out, "{row}")?;
    }
    writeln!(out, "\n</details>\n")?;
    for l in &f.left_out {
        writeln!(out, "*Not listed:* {}\n", markdown_text(l))?;
    }
    Ok(())
}

/// The overview as a Markdown table.
pub(crate) fn write_overview(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(
        out,
        "| Computer | Severity | Finding | Status | Update | Held by | Still disabled | Action |\n|---|---|---|---|---|---|---|---|"
    )?;
    for r in rows {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            markdown(&r.computer),
            r.severity_word(),
            markdown(&r.title),
            r.status.as_str(),
            r.update.as_deref().map(markdown).unwrap_or_default(),
            r.held_by.as_deref().map(markdown).unwrap_or_default(),
            r.still_disabled(),
            r.action()
        )?;
    }
    writeln!(out)
}

impl ReportWriter for MarkdownWriter {
    fn finding(&mut self, finding: &Finding, _out: &mut dyn Write) -> io::Result<()> {
        self.rows.push(Row::of(finding));
        if self.style.summary_only {
            return Ok(());
        }
        let n = self.rows.len();
        write_finding(&mut self.sections, finding, n, self.style)
    }

    fn finish(
        &mut self,
        s: &Summary,
        inputs: &[InputReport],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "# evtriage report\n")?;
        writeln!(
            out,
            "evtriage {}: **{} finding(s) to act on**; {}.\n",
            Tool::current().version,
            s.action_required,
            s.counts()
        )?;
        let rows = overview::sorted(std::mem::take(&mut self.rows));
        if !rows.is_empty() && (self.style.summary_only || overview::wanted(&rows)) {
            write_overview(out, &rows)?;
        }
        if self.style.summary_only {
            return Ok(());
        }
        if rows.is_empty() {
            writeln!(
                out,
                "No failed install, disabled service or pending restart was found.\n"
            )?;
        }
        self.sections.drain_into(out)?;
        let (logs, complete, problems) = inputs_read(inputs, markdown);
        writeln!(
            out,
            "**Inputs:** {logs} log(s), {complete} read completely.\n"
        )?;
        for p in problems {
            writeln!(out, "- {p}")?;
        }
        Ok(())
    }
}
