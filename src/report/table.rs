//! `--format table`: what a support engineer reads. One section per finding (what happened, the
//! update and error, files in use, services, the remediation steps with their commands, the
//! evidence), then the inputs. Text that came from a log goes through [`display`] first.

use super::escape::{display_text, display_whole};
use super::spool::Spool;
use super::{InputReport, ReportWriter, Style, Summary, Tool, display};
use crate::diagnosis::finding::{ConfidenceLevel, Finding};
use crate::diagnosis::signature::Severity;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use std::io::{self, Write};

/// The headline counts every finding, so the sections wait in a spool until the end.
pub struct TableWriter {
    style: Style,
    sections: Spool,
    written: usize,
}

impl TableWriter {
    pub fn new(style: Style) -> Self {
        TableWriter {
            style,
            sections: Spool::default(),
            written: 0,
        }
    }
}

fn table(style: Style, header: &[&str]) -> Table {
    let mut t = plain_table(style);
    t.set_header(
        header
            .iter()
            .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
    );
    t
}

fn plain_table(style: Style) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = style.width {
        t.set_width(w.saturating_sub(2).max(40));
    }
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

fn paint(text: &str, color: Color, style: Style) -> String {
    if !style.color {
        return text.to_string();
    }
    let code = match color {
        Color::Red => "31",
        Color::Yellow => "33",
        Color::Green => "32",
        Color::Cyan => "36",
        _ => "1",
    };
    format!("\x1b[1;{code}m{text}\x1b[0m")
}

/// Wrap `text` to the width, indenting every line.
fn wrap(text: &str, indent: usize, width: Option<u16>) -> String {
    let width = width.map_or(100, usize::from).max(indent + 30);
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && indent + line.chars().count() + 1 + word.chars().count() > width
            {
                out.push_str(&pad);
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&pad);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn severity_label(f: &Finding, style: Style) -> String {
    let (label, color) = match (f.severity, f.action_required) {
        (Severity::Error, true) => ("ERROR", Color::Red),
        (Severity::Warning, true) => ("WARNING", Color::Yellow),
        (Severity::Error | Severity::Warning, false) => ("RESOLVED", Color::Green),
        (Severity::Info, _) => ("INFO", Color::Cyan),
    };
    paint(label, color, style)
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn write_finding(out: &mut dyn Write, f: &Finding, n: usize, style: Style) -> io::Result<()> {
    let kb = f
        .kb_article
        .as_deref()
        .map(|k| format!(" ({k})"))
        .unwrap_or_default();
    writeln!(
        out,
        "{}. [{}] {}{kb}",
        n,
        severity_label(f, style),
        display(&f.title)
    )?;
    let action = if f.action_required {
        "action required"
    } else {
        "no action required"
    };
    let confidence = match f.confidence.level {
        ConfidenceLevel::High => "high",
        ConfidenceLevel::Medium => "medium",
        ConfidenceLevel::Low => "low",
    };
    writeln!(
        out,
        "   {} · {} · {} · confidence {} · signature {}",
        display(&f.computer),
        f.status.as_str(),
        action,
        confidence,
        f.signature
    )?;
    writeln!(out)?;
    write!(out, "{}", wrap(&display_text(&f.summary), 3, style.width))?;
    writeln!(out)?;

    let mut facts = plain_table(style);
    // Values arrive escaped: a cell's own line breaks (the lists below) are evtriage's.
    let mut fact = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            facts.add_row(vec![
                Cell::new(k).add_attribute(Attribute::Bold),
                Cell::new(v),
            ]);
        }
    };
    let shown = |v: &Option<String>| v.as_deref().map(display);
    fact("Update", shown(&f.update.title));
    fact("KB", shown(&f.update.kb));
    fact("Product", shown(&f.update.product));
    fact("Package", shown(&f.update.package));
    let error = match (&f.error.hresult, f.error.msi) {
        (Some(h), Some(m)) => Some(format!(
            "{h}{} = Windows Installer {m} {}",
            if f.error.hresult_source == Some("derived_from_msi") {
                " (derived)"
            } else {
                ""
            },
            f.error.msi_name.unwrap_or("")
        )),
        (Some(h), None) => Some(format!("{h} {}", f.error.hresult_name.unwrap_or(""))),
        (None, Some(m)) => Some(format!(
            "Windows Installer {m} {}",
            f.error.msi_name.unwrap_or("")
        )),
        (None, None) => None,
    };
    fact("Error", shown(&error));
    fact("Meaning", f.error.meaning.map(display));
    fact("Installer said", shown(&f.error.installer_message));
    fact("Installer log", shown(&f.error.log_file));
    fact(
        "When",
        Some(format!(
            "{} – {} UTC",
            time(f.first_seen),
            time(f.last_seen)
        )),
    );
    fact("Confidence", Some(confidence.to_string()));
    fact(
        "Found",
        Some(
            f.confidence
                .found
                .iter()
                .map(|s| format!("• {}", display(s)))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    );
    fact(
        "Not found",
        Some(
            f.confidence
                .missing
                .iter()
                .map(|s| format!("• {}", display(s)))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    );
    writeln!(out, "{}", indent(&facts.to_string(), 3))?;

    if !f.locked_files.is_empty() {
        writeln!(out, "\n   Files in use")?;
        let mut t = table(style, &["Process", "PID", "File", "Image"]);
        for l in &f.locked_files {
            t.add_row(vec![
                display(l.process.as_deref().unwrap_or("?")),
                l.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                display(l.path.as_deref().unwrap_or("(not in the logs)")),
                display(l.image.as_deref().unwrap_or("")),
            ]);
        }
        writeln!(out, "{}", indent(&t.to_string(), 3))?;
    }

    if !f.services.is_empty() {
        let still = f.services.iter().filter(|s| s.still_disabled).count();
        writeln!(
            out,
            "\n   Services ({} disabled, {still} still disabled)",
            f.services.len()
        )?;
        let mut t = table(
            style,
            &[
                "Service",
                "Display name",
                "Start type before",
                "Disabled at",
                "Now",
            ],
        );
        for s in &f.services {
            let now = if s.still_disabled {
                let mut now = paint("still disabled", Color::Red, style);
                if s.start_refused > 0 {
                    now.push_str(&format!(" ({} start refused)", s.start_refused));
                }
                now
            } else {
                paint(
                    &format!(
                        "restored to {} at {}",
                        display(s.restored_to.as_deref().unwrap_or("?")),
                        s.restored_at.map(time).unwrap_or_default()
                    ),
                    Color::Green,
                    style,
                )
            };
            t.add_row(vec![
                display(&s.name),
                display(s.display_name.as_deref().unwrap_or("")),
                format!(
                    "{}{}",
                    display(&s.original_start),
                    if s.was_running { ", was running" } else { "" }
                ),
                time(s.disabled_at),
                now,
            ]);
        }
        writeln!(out, "{}", indent(&t.to_string(), 3))?;
    }

    if !f.remediation.is_empty() {
        writeln!(out, "\n   Remediation")?;
        for (i, step) in f.remediation.iter().enumerate() {
            writeln!(out, "   {}. {}", i + 1, display_text(&step.title))?;
            write!(out, "{}", wrap(&display_text(&step.text), 6, style.width))?;
            // Commands are never cut: half a command pasted is worse than none. What they hold
            // of a log passed its validator (diagnosis::command); escaping here is the backstop.
            for c in &step.powershell {
                writeln!(out, "      PS> {}", display_whole(c))?;
            }
            for c in &step.cmd {
                writeln!(out, "      cmd> {}", display_whole(c))?;
            }
            for w in &step.withheld {
                write!(
                    out,
                    "{}",
                    wrap(&format!("(withheld) {}", display_text(w)), 6, style.width)
                )?;
            }
        }
    }

    writeln!(out, "\n   Evidence")?;
    let mut t = table(
        style,
        &["Time (UTC)", "Log", "Record", "Event", "What it shows"],
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
    writeln!(out, "{}", indent(&t.to_string(), 3))?;
    for l in &f.left_out {
        writeln!(out, "   Not listed: {}", display_text(l))?;
    }
    writeln!(out)
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ReportWriter for TableWriter {
    fn finding(&mut self, finding: &Finding, _out: &mut dyn Write) -> io::Result<()> {
        self.written += 1;
        write_finding(&mut self.sections, finding, self.written, self.style)
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
                Color::Red,
                style,
            )
        } else {
            paint("nothing to act on", Color::Green, style)
        };
        writeln!(
            out,
            "evtriage {}: {headline}; {} finding(s) in all; {} input(s), {} records read{}",
            Tool::current().version,
            s.findings,
            s.inputs,
            s.records_read,
            if s.inputs_with_problems > 0 {
                format!(", {} input(s) not read completely", s.inputs_with_problems)
            } else {
                String::new()
            }
        )?;
        writeln!(out)?;
        self.sections.drain_into(out)?;
        if self.written == 0 {
            writeln!(
                out,
                "No failed install, disabled service or pending restart was found.\n"
            )?;
        }

        let shown: Vec<_> = inputs
            .iter()
            .filter(|i| i.status != crate::input::InputStatus::NotAnEventLog)
            .collect();
        let skipped = inputs.len() - shown.len();
        writeln!(out, "Inputs")?;
        let mut t = table(
            style,
            &[
                "File",
                "Status",
                "Records read",
                "Failed",
                "Used",
                "Chunks damaged",
            ],
        );
        for i in &shown {
            let status = match i.status {
                crate::input::InputStatus::Complete => "complete".to_string(),
                crate::input::InputStatus::Incomplete => paint("incomplete", Color::Yellow, style),
                crate::input::InputStatus::Unreadable => paint("unreadable", Color::Red, style),
                crate::input::InputStatus::NotAnEventLog => "skipped".to_string(),
            };
            t.add_row(vec![
                display(&i.path),
                status,
                i.records_read.to_string(),
                i.records_failed.to_string(),
                i.records_used.to_string(),
                format!("{} of {}", i.chunks_damaged, i.chunks),
            ]);
        }
        writeln!(out, "{}", indent(&t.to_string(), 0))?;
        for i in shown
            .iter()
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
}
