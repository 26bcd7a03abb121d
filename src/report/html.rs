//! `--format html`: one self-contained page to attach to a ticket: no script, no network, no font
//! or image from elsewhere. The overview of computers and findings, then each computer with its
//! incident timeline (inline SVG, [`super::timeline`]) and its findings (the table's content),
//! evidence folded away, the inputs last; it prints cleanly. Log text reaches the page only through
//! [`html`] (or [`html_text`], [`html_whole`]).

use super::escape::{html, html_text, html_whole, push_html};
use super::facts::{action_words, confidence_word, facts, inputs_read};
use super::overview::{self, Row};
use super::spool::Spool;
use super::timeline::{self, Mark};
use super::{InputReport, ReportWriter, Style, Summary, Tool};
use crate::diagnosis::finding::Finding;
use std::io::{self, Write};

/// Findings arrive computer by computer; each computer's block (timeline and findings) is written
/// to the spool when the next computer starts, so only one computer is held at a time.
pub struct HtmlWriter {
    style: Style,
    sections: Spool,
    rows: Vec<Row>,
    current: Option<String>,
    marks: Vec<Mark>,
    block: Vec<u8>,
}

impl HtmlWriter {
    pub fn new(style: Style) -> Self {
        HtmlWriter {
            style,
            sections: Spool::default(),
            rows: Vec::new(),
            current: None,
            marks: Vec::new(),
            block: Vec::new(),
        }
    }

    fn flush_computer(&mut self) -> io::Result<()> {
        let Some(computer) = self.current.take() else {
            return Ok(());
        };
        write!(
            self.sections,
            "<section class=\"computer\"><h2>{}</h2>\n<figure>{}<figcaption>Incident timeline (hover a mark for its record)</figcaption></figure>\n",
            html(&computer),
            timeline::svg(&self.marks)
        )?;
        self.sections.write_all(&self.block)?;
        writeln!(self.sections, "</section>")?;
        self.marks.clear();
        self.block.clear();
        Ok(())
    }
}

const CSS: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#111}\
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.1rem}\
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f4f6}td.k{font-weight:600;white-space:nowrap;width:8rem}\
pre{background:#f6f8fa;border:1px solid #ddd;padding:.5rem;overflow-x:auto;white-space:pre}code{font-family:ui-monospace,Consolas,monospace;font-size:.9em}\
.sev-error{color:#b91c1c;font-weight:700}.sev-warning{color:#b45309;font-weight:700}.sev-resolved{color:#15803d;font-weight:700}.sev-info{color:#0369a1;font-weight:700}\
.meta{color:#444}.timeline text.lane{font-size:13px;fill:#333}.timeline text.axis{font-size:12px;fill:#555}.timeline .rule{stroke:#ddd}\
figure{margin:.5rem 0}figcaption{font-size:.8rem;color:#555}\
@media print{body{margin:0;max-width:none}details{page-break-inside:avoid}pre{white-space:pre-wrap;word-break:break-all}section.finding{page-break-inside:avoid}}";

use super::time;

fn write_finding(out: &mut dyn Write, f: &Finding, n: usize, style: Style) -> io::Result<()> {
    let row = Row::of(f);
    let sev = row.severity_word();
    writeln!(out, "<section class=\"finding\" id=\"finding-{n}\">")?;
    writeln!(
        out,
        "<h3><span class=\"sev-{sev}\">{}</span> {}{}</h3>",
        sev.to_uppercase(),
        html(&f.title),
        f.kb_article
            .as_deref()
            .map(|k| format!(" ({})", html(k)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "<p class=\"meta\">{} · {} · {} · confidence {} · <code>{}</code></p>",
        html(&f.computer),
        f.status.as_str(),
        action_words(f),
        confidence_word(f),
        html(&f.signature)
    )?;
    writeln!(out, "<p class=\"summary\">{}</p>", html_text(&f.summary))?;
    writeln!(out, "<table class=\"facts\">")?;
    for (k, v) in facts(f, html) {
        writeln!(out, "<tr><td class=\"k\">{k}</td><td>{v}</td></tr>")?;
    }
    writeln!(out, "</table>")?;

    if !f.remediation.is_empty() {
        writeln!(out, "<h4>What to run</h4>\n<ol class=\"steps\">")?;
        for step in &f.remediation {
            writeln!(
                out,
                "<li><strong>{}</strong><p>{}</p>",
                html_text(&step.title),
                html_text(&step.text)
            )?;
            if style.shells.powershell() && !step.powershell.is_empty() {
                let lines: Vec<String> = step.powershell.iter().map(|c| html_whole(c)).collect();
                writeln!(
                    out,
                    "<pre class=\"powershell\"><code>{}</code></pre>",
                    lines.join("\n")
                )?;
            }
            if style.shells.cmd() && !step.cmd.is_empty() {
                let lines: Vec<String> = step.cmd.iter().map(|c| html_whole(c)).collect();
                writeln!(
                    out,
                    "<pre class=\"cmd\"><code>{}</code></pre>",
                    lines.join("\n")
                )?;
            }
            for w in &step.withheld {
                writeln!(out, "<p><em>(withheld)</em> {}</p>", html_text(w))?;
            }
            writeln!(out, "</li>")?;
        }
        writeln!(out, "</ol>")?;
    }
    writeln!(
        out,
        "<details class=\"evidence\"><summary>Evidence: {} records</summary>\n<table><tr><th>Time (UTC)</th><th>Log</th><th>Record</th><th>Event</th><th>What it shows</th></tr>",
        f.evidence.len()
    )?;
    let mut row = String::with_capacity(512);
    for e in &f.evidence {
        row.clear();
        row.push_str("<tr><td>");
        row.push_str(&time(e.time));
        row.push_str("</td><td>");
        push_html(&mut row, &e.file);
        row.push_str(&format!("</td><td>{}</td><td>", e.record_id));
        push_html(&mut row, &e.provider);
        row.push_str(&format!(" {}</td><td>", e.event_id));
        push_html(&mut row, &e.describe);
        row.push_str("<br><code>");
        for (i, (k, v)) in e.fields.iter().enumerate() {
            if i > 0 {
                row.push_str(", ");
            }
            push_html(&mut row, k);
            row.push('=');
            push_html(&mut row, v);
        }
        row.push_str("</code></td></tr>");
        writeln!(out, "{row}")?;
    }
    writeln!(out, "</table></details>")?;
    for l in &f.left_out {
        writeln!(out, "<p><em>Not listed:</em> {}</p>", html_text(l))?;
    }
    writeln!(out, "</section>")
}

fn write_overview(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"overview\"><h2>Computers and findings, worst first</h2>\n<table><tr><th>Computer</th><th>Severity</th><th>Finding</th><th>Status</th><th>Update</th><th>Held by</th><th>Still disabled</th><th>Action</th></tr>"
    )?;
    for r in rows {
        let sev = r.severity_word();
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"sev-{sev}\">{sev}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&r.computer),
            html(&r.title),
            r.status.as_str(),
            r.update.as_deref().map(html).unwrap_or_default(),
            r.held_by.as_deref().map(html).unwrap_or_default(),
            r.still_disabled(),
            r.action()
        )?;
    }
    writeln!(out, "</table></section>")
}

impl ReportWriter for HtmlWriter {
    fn finding(&mut self, finding: &Finding, _out: &mut dyn Write) -> io::Result<()> {
        self.rows.push(Row::of(finding));
        if self.style.summary_only {
            return Ok(());
        }
        if self.current.as_deref() != Some(finding.computer.as_str()) {
            self.flush_computer()?;
            self.current = Some(finding.computer.clone());
        }
        self.marks.extend(finding.evidence.iter().map(Mark::of));
        let n = self.rows.len();
        let mut block = std::mem::take(&mut self.block);
        write_finding(&mut block, finding, n, self.style)?;
        self.block = block;
        Ok(())
    }

    fn finish(
        &mut self,
        s: &Summary,
        inputs: &[InputReport],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.flush_computer()?;
        writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>evtriage report</title><style>{CSS}</style></head><body>"
        )?;
        writeln!(
            out,
            "<header><h1>evtriage report</h1><p id=\"headline\">evtriage {}: <strong>{} finding(s) to act on</strong>; {}.</p></header>",
            Tool::current().version,
            s.action_required,
            s.counts()
        )?;
        let rows = overview::sorted(std::mem::take(&mut self.rows));
        if !rows.is_empty() {
            write_overview(out, &rows)?;
        } else {
            writeln!(
                out,
                "<p>No failed install, disabled service or pending restart was found.</p>"
            )?;
        }
        if !self.style.summary_only {
            self.sections.drain_into(out)?;
            let (logs, complete, problems) = inputs_read(inputs, html);
            writeln!(
                out,
                "<section id=\"inputs\"><h2>Inputs</h2><p>{logs} log(s), {complete} read completely.</p>"
            )?;
            if !problems.is_empty() {
                writeln!(out, "<ul>")?;
                for p in problems {
                    writeln!(out, "<li>{p}</li>")?;
                }
                writeln!(out, "</ul>")?;
            }
            writeln!(out, "</section>")?;
        }
        writeln!(out, "</body></html>")
    }
}
