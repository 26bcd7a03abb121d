//! `--format table`: what a support engineer reads, the answer first. A fleet opens with one row
//! per computer and finding, worst first. Each finding then fits a screen: what failed and where,
//! the error, what held the files, the services to restore, and what to run, in one shell
//! (`--shell`); its evidence follows one line per record (`--evidence`: every field). The inputs
//! close the report. Text that came from a log goes through [`display`] first; commands are never
//! cut or wrapped, and identifiers are never broken inside a word.

use super::escape::{display_text, display_whole, push_display};
use super::facts::{
    action_words, already_disabled_line, clock_line, confidence_word, error_line,
    installer_log_line, saved_state_line, service_entries,
};
use super::layout::{columns, cut, first_sentence, wrap, wrap_hanging};
use super::overview::{self, Row};
use super::spool::Spool;
use super::{InputReport, ReportWriter, Shells, Style, Summary, Tool, display, time};
use crate::diagnosis::finding::Finding;
use crate::diagnosis::signature::Severity;
use crate::input::InputStatus;
use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};
use std::io::{self, Write};

/// The overview comes first, so findings wait in a spool until every one is known.
pub struct TableWriter {
    style: Style,
    sections: Spool,
    rows: Vec<Row>,
}

impl TableWriter {
    pub fn new(style: Style) -> Self {
        TableWriter {
            style,
            sections: Spool::default(),
            rows: Vec::new(),
        }
    }
}

#[derive(Clone, Copy)]
enum Paint {
    Red,
    Yellow,
    Green,
    Cyan,
    Bold,
}

fn paint(text: &str, color: Paint, style: Style) -> String {
    if !style.color {
        return text.to_string();
    }
    let code = match color {
        Paint::Red => "31",
        Paint::Yellow => "33",
        Paint::Green => "32",
        Paint::Cyan => "36",
        Paint::Bold => "1",
    };
    format!("\x1b[1;{code}m{text}\x1b[0m")
}

fn width(style: Style) -> usize {
    style.width.map_or(120, usize::from).max(60)
}

fn severity_label(f: &Finding, style: Style) -> String {
    let (label, color) = match (f.severity, f.action_required) {
        (Severity::Error, true) => ("ERROR", Paint::Red),
        (Severity::Warning, true) => ("WARNING", Paint::Yellow),
        (Severity::Error | Severity::Warning, false) => ("RESOLVED", Paint::Green),
        (Severity::Info, _) => ("INFO", Paint::Cyan),
    };
    paint(label, color, style)
}

/// The heading a section of commands gets for the shells asked for.
fn shells_heading(shells: Shells) -> &'static str {
    match shells {
        Shells::PowerShell => {
            "What to run (PowerShell; --shell cmd or both for cmd.exe; --evidence for the reasons)"
        }
        Shells::Cmd => {
            "What to run (cmd.exe; --shell powershell or both for PowerShell; --evidence for the reasons)"
        }
        Shells::Both => "What to run (PowerShell, then cmd.exe; --evidence for the reasons)",
    }
}

fn write_finding(out: &mut dyn Write, f: &Finding, n: usize, style: Style) -> io::Result<()> {
    let w = width(style);
    let kb = f
        .kb_article
        .as_deref()
        .map(|k| format!(" ({k})"))
        .unwrap_or_default();
    writeln!(
        out,
        "{n}. [{}] {}{kb}",
        severity_label(f, style),
        paint(&display(&f.title), Paint::Bold, style)
    )?;
    let action = action_words(f);
    writeln!(
        out,
        "   {} · {} · {action} · confidence {} · {}",
        display(&f.computer),
        f.status.as_str(),
        confidence_word(f),
        f.signature
    )?;
    writeln!(out)?;
    write!(out, "{}", wrap(&display_text(&f.summary), 3, w))?;
    writeln!(out)?;

    // Facts: a key and its value, continuation lines under the value.
    const KEY: usize = 12;
    let mut fact = |key: &str, value: &str| -> io::Result<()> {
        if value.is_empty() {
            return Ok(());
        }
        write!(out, "   {key:<9}")?;
        write!(out, "{}", wrap_hanging(value, KEY, KEY, w))
    };
    let update = match (&f.update.title, &f.update.product) {
        (Some(t), _) => Some(display(t)),
        (None, Some(p)) => Some(display(p)),
        (None, None) => None,
    };
    fact("Update", update.as_deref().unwrap_or(""))?;
    fact(
        "Error",
        &error_line(f).map(|e| display(&e)).unwrap_or_default(),
    )?;
    if let Some(m) = &f.error.installer_message {
        // One line here; the whole sentence is in the evidence and in --evidence.
        let said = format!("\"{}\"", display(m));
        let said = if style.evidence {
            said
        } else {
            cut(&said, w.saturating_sub(KEY))
        };
        fact("Said", &said)?;
    }
    // The log 1023 names and, when it was among the inputs, what evtriage read in it: one line.
    let read = f
        .error
        .installer_log
        .as_ref()
        .map(|l| match &l.failed_action {
            Some(a) => format!("read: {} failed", display(a)),
            None => "read".to_string(),
        });
    match (&f.error.log_file, read, installer_log_line(f, display)) {
        (Some(l), Some(read), _) => fact("Log", &format!("{}, {read}", display(l)))?,
        (Some(l), None, _) => fact("Log", &display(l))?,
        (None, _, Some(line)) => fact("Log", &line)?,
        (None, _, None) => {}
    }
    let when = format!("{} – {} UTC", time(f.first_seen), time(f.last_seen));
    match clock_line(f) {
        Some(c) => fact("When", &format!("{when}; {c}"))?,
        None => fact("When", &when)?,
    }
    if let Some(s) = saved_state_line(f, display) {
        fact("Saved", &s)?;
    }
    if let Some(s) = already_disabled_line(f, display) {
        fact("As was", &s)?;
    }
    let mut key = "Held by";
    for l in &f.locked_files {
        let who = match (&l.process, l.pid) {
            (Some(p), Some(pid)) => format!("{} (PID {pid})", display(p)),
            (Some(p), None) => display(p),
            (None, Some(pid)) => format!("PID {pid}"),
            (None, None) => "?".into(),
        };
        let file = l.path.as_deref().map(display).unwrap_or_default();
        fact(key, &format!("{who}: {file}"))?;
        key = "";
        if style.evidence
            && let Some(image) = &l.image
        {
            fact("", &format!("(its image: {})", display(image)))?;
        }
    }
    if !f.services.is_empty() {
        let still = f.services.iter().filter(|s| s.still_disabled).count();
        let list = service_entries(f)
            .iter()
            .map(|e| display(e))
            .collect::<Vec<_>>()
            .join(", ");
        fact(
            "Services",
            &format!(
                "{} disabled, {still} still disabled: {list}",
                f.services.len()
            ),
        )?;
    }

    if !f.remediation.is_empty() {
        writeln!(
            out,
            "\n   {}",
            paint(shells_heading(style.shells), Paint::Bold, style)
        )?;
        for (i, step) in f.remediation.iter().enumerate() {
            writeln!(out, "   {}. {}", i + 1, display_text(&step.title))?;
            let text = if style.evidence {
                step.text.as_str()
            } else {
                first_sentence(&step.text)
            };
            write!(out, "{}", wrap(&display_text(text), 6, w))?;
            // Commands are never cut: half a command pasted is worse than none. What they hold
            // of a log passed its validator (diagnosis::command); escaping here is the backstop.
            if style.shells.powershell() {
                for c in &step.powershell {
                    writeln!(out, "      PS> {}", display_whole(c))?;
                }
            }
            if style.shells.cmd() {
                for c in &step.cmd {
                    writeln!(out, "      cmd> {}", display_whole(c))?;
                }
                if step.cmd.is_empty() && !step.powershell.is_empty() {
                    writeln!(out, "      (PowerShell only: --shell powershell shows it)")?;
                }
            }
            for wh in &step.withheld {
                write!(
                    out,
                    "{}",
                    wrap(&format!("(withheld) {}", display_text(wh)), 6, w)
                )?;
            }
        }
    }

    if style.evidence {
        write_evidence_table(out, f, style)?;
    } else {
        writeln!(
            out,
            "\n   Evidence ({} records; --evidence for every field)",
            f.evidence.len()
        )?;
        let mut line = String::with_capacity(256);
        for e in &f.evidence {
            let file = e.file.rsplit(['/', '\\']).next().unwrap_or(&e.file);
            line.clear();
            line.push_str(&time(e.time));
            line.push_str("  ");
            push_display(&mut line, file);
            line.push('#');
            line.push_str(&e.record_id.to_string());
            line.push_str("  ");
            push_display(&mut line, &e.provider);
            line.push(' ');
            line.push_str(&e.event_id.to_string());
            line.push(' ');
            for (k, v) in &e.fields {
                line.push(' ');
                line.push_str(k);
                line.push('=');
                push_display(&mut line, v);
            }
            writeln!(out, "   {}", cut(&line, w.saturating_sub(3)))?;
        }
    }
    for l in &f.left_out {
        writeln!(out, "   Not listed: {}", display_text(l))?;
    }
    writeln!(out)
}

/// `--evidence`: what the confidence rests on, and every record with every field.
fn write_evidence_table(out: &mut dyn Write, f: &Finding, style: Style) -> io::Result<()> {
    writeln!(out, "\n   Confidence {}", confidence_word(f))?;
    for s in &f.confidence.found {
        writeln!(out, "     found: {}", display(s))?;
    }
    for s in &f.confidence.missing {
        writeln!(out, "     not found: {}", display(s))?;
    }
    writeln!(out, "\n   Evidence")?;
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(width(style).saturating_sub(3) as u16);
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t.set_header(
        ["Time (UTC)", "Log", "Record", "Event", "What it shows"]
            .iter()
            .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
    );
    for e in &f.evidence {
        let fields: Vec<String> = e
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={}", display(v)))
            .collect();
        t.add_row(vec![
            time(e.time),
            display(&e.file),
            match e.header_record_id {
                Some(h) => format!("{} (#{h})", e.record_id),
                None => e.record_id.to_string(),
            },
            format!("{} {}", display(&e.provider), e.event_id),
            format!("{}\n{}", display(&e.describe), fields.join(", ")),
        ]);
    }
    for line in t.to_string().lines() {
        writeln!(out, "   {line}")?;
    }
    Ok(())
}

/// The overview: one row per computer and finding, worst first.
fn write_overview(out: &mut dyn Write, rows: &[Row], style: Style) -> io::Result<()> {
    let computers = {
        let mut c: Vec<String> = rows.iter().map(|r| r.computer.to_lowercase()).collect();
        c.sort();
        c.dedup();
        c.len()
    };
    writeln!(
        out,
        "{}",
        paint(
            &format!(
                "{} finding(s) on {computers} computer(s), worst first",
                rows.len()
            ),
            Paint::Bold,
            style
        )
    )?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                display(&r.computer),
                r.signature.clone(),
                r.status.as_str().to_string(),
                r.update.as_deref().map(display).unwrap_or_default(),
                r.held_by.as_deref().map(display).unwrap_or_default(),
                r.still_disabled(),
                r.action().to_string(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        columns(
            &[
                "Computer",
                "Finding",
                "Status",
                "Update",
                "Held by",
                "Still disabled",
                "Action",
            ],
            &cells,
            &[3, 4, 1],
            width(style),
        )
    )?;
    writeln!(out)
}

impl ReportWriter for TableWriter {
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
        let style = self.style;
        let headline = if s.action_required > 0 {
            paint(
                &format!("{} finding(s) to act on", s.action_required),
                Paint::Red,
                style,
            )
        } else {
            paint("nothing to act on", Paint::Green, style)
        };
        writeln!(
            out,
            "evtriage {}: {headline}; {}",
            Tool::current().version,
            s.counts()
        )?;
        writeln!(out)?;
        let rows = overview::sorted(std::mem::take(&mut self.rows));
        if !rows.is_empty() && (style.summary_only || overview::wanted(&rows)) {
            write_overview(out, &rows, style)?;
        }
        if style.summary_only {
            return Ok(());
        }
        self.sections.drain_into(out)?;
        if rows.is_empty() {
            writeln!(
                out,
                "No failed install, disabled service or pending restart was found.\n"
            )?;
        }
        write_inputs(out, inputs)
    }
}

/// The inputs: every one when there are few, otherwise a count and the ones with problems.
fn write_inputs(out: &mut dyn Write, inputs: &[InputReport]) -> io::Result<()> {
    const LIST_ALL: usize = 20;
    let shown: Vec<&InputReport> = inputs
        .iter()
        .filter(|i| i.status != InputStatus::NotAnEventLog)
        .collect();
    let skipped = inputs.len() - shown.len();
    let listed: Vec<&&InputReport> = if shown.len() <= LIST_ALL {
        shown.iter().collect()
    } else {
        shown.iter().filter(|i| i.is_problem()).collect()
    };
    if shown.len() > LIST_ALL {
        writeln!(
            out,
            "Inputs: {} logs, {} read completely{}",
            shown.len(),
            shown.len() - listed.len(),
            if listed.is_empty() {
                ""
            } else {
                "; these were not:"
            }
        )?;
    } else {
        writeln!(out, "Inputs")?;
    }
    if !listed.is_empty() {
        let rows: Vec<Vec<String>> = listed
            .iter()
            .map(|i| {
                let status = match i.status {
                    InputStatus::Complete => "complete",
                    InputStatus::Incomplete => "incomplete",
                    InputStatus::Unreadable => "unreadable",
                    InputStatus::NotAnEventLog => "skipped",
                }
                .to_string();
                vec![
                    display(&i.path),
                    status,
                    i.records_read.to_string(),
                    i.records_failed.to_string(),
                    i.records_used.to_string(),
                    // Only .evtx files come in chunks.
                    if i.chunks == 0 && i.format.as_deref() != Some("evtx") {
                        "-".to_string()
                    } else {
                        format!("{} of {}", i.chunks_damaged, i.chunks)
                    },
                ]
            })
            .collect();
        write!(
            out,
            "{}",
            columns(
                &[
                    "File",
                    "Status",
                    "Records read",
                    "Failed",
                    "Used",
                    "Chunks damaged"
                ],
                &rows,
                &[0],
                usize::MAX,
            )
        )?;
    }
    // A fleet's notes (logs not closed cleanly, most of them) are in the JSON report.
    let few = shown.len() <= LIST_ALL;
    for i in shown
        .iter()
        .filter(|i| few || i.is_problem())
        .filter(|i| !i.errors.is_empty() || !i.notes.is_empty())
    {
        for e in &i.errors {
            writeln!(out, "  {}: {}", display(&i.path), display(e))?;
        }
        if i.errors_not_shown > 0 {
            writeln!(
                out,
                "  {}: … and {} more problems",
                display(&i.path),
                i.errors_not_shown
            )?;
        }
        for n in &i.notes {
            writeln!(out, "  {}: note: {}", display(&i.path), display(n))?;
        }
    }
    if skipped > 0 {
        writeln!(
            out,
            "  ({skipped} file(s) in the folders given are not event logs and were skipped)"
        )?;
    }
    Ok(())
}
