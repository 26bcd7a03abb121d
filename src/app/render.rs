//! Writing a report, wherever its findings come from (a diagnosis or `evtriage merge`): the
//! writer for `--format`, standard output or `--output` written atomically, the restore scripts
//! of `--script`, the problems with inputs on stderr, and the exit code. One place, so that a
//! merged fleet's report and exit code are those of one run over all the logs.

use super::Terminal;
use crate::cli::{self, ColorChoice, Render};
use evtriage::diagnosis::Finding;
use evtriage::input::{self, InputReport, InputStatus};
use evtriage::report::{self, Style, Summary};
use evtriage::script;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

/// Where findings go as they are made: counted, kept for the script, written.
pub type Sink<'a> = dyn FnMut(Finding) -> ControlFlow<()> + 'a;

/// Checks what `--output` and `--script` name before anything is read, against the inputs.
pub fn check_targets(
    render: &Render,
    inputs: &[input::InputFile],
    stderr: &mut dyn Write,
) -> Result<(), u8> {
    for (option, target) in [("--output", &render.output), ("--script", &render.script)] {
        if let Some(target) = target
            && let Err(why) = check_target(target, option == "--script", inputs)
        {
            let _ = writeln!(
                stderr,
                "evtriage: {option} {}: {why}",
                report::escape::display_whole(&target.display().to_string())
            );
            return Err(cli::EXIT_USAGE_OR_NO_INPUT);
        }
    }
    Ok(())
}

/// The report of the findings `produce` hands to its sink, then of the inputs it returns; the
/// scripts; the problems on stderr; the exit code.
pub fn report(
    render: &Render,
    term: Terminal,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    produce: impl FnOnce(&mut Sink) -> Vec<InputReport>,
) -> u8 {
    let style = style(render, term);
    // Findings are written as they come, so that a fleet's report is never in memory whole. The
    // counts behind the exit code cover every finding, written or not.
    let mut summary = Summary::default();
    let mut for_script: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let mut inputs = Vec::new();
    let written = write_report(render, stdout, |out| {
        let mut writer = report::writer(render.format.into(), style);
        let mut failed: Option<io::Error> = None;
        inputs = produce(&mut |f: Finding| {
            summary.count(&f);
            if render.script.is_some() && script::wants(&f) {
                for_script
                    .entry(f.computer.to_string())
                    .or_default()
                    .push(f.clone());
            }
            if failed.is_none() {
                failed = writer.finding(&f, out).err();
            }
            // `evtriage … | head`: nothing more is written, but the exit code still needs every
            // finding counted.
            if matches!(&failed, Some(e) if e.kind() != io::ErrorKind::BrokenPipe) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        let counted = summary.clone();
        summary = Summary {
            findings: counted.findings,
            action_required: counted.action_required,
            ..Summary::of_inputs(&inputs)
        };
        match failed {
            Some(e) => Err(e),
            None => writer.finish(&summary, &inputs, out),
        }
    });
    if !render.quiet {
        say_problems(&inputs, stderr);
    }
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        let target = render
            .output
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "standard output".into());
        let _ = writeln!(stderr, "evtriage: cannot write the report to {target}: {e}");
        return cli::EXIT_USAGE_OR_NO_INPUT;
    }
    if let Some(target) = &render.script
        && let Err(why) = write_scripts(target, &for_script, stderr, render.quiet)
    {
        let _ = writeln!(stderr, "evtriage: --script: {why}");
        return cli::EXIT_USAGE_OR_NO_INPUT;
    }
    exit_code(&summary, &inputs, stderr)
}

fn style(render: &Render, term: Terminal) -> Style {
    let color = match render.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => render.output.is_none() && term.stdout_is_tty && !term.no_color,
    };
    Style {
        color,
        // Off a terminal, tables fit a common width rather than growing with their longest cell.
        width: if render.output.is_none() && term.stdout_is_tty {
            term.width
        } else {
            Some(120)
        },
        shells: render.shell.into(),
        evidence: render.evidence,
        summary_only: render.summary,
    }
}

/// Each input that could not be read completely, in one line on stderr.
fn say_problems(inputs: &[InputReport], stderr: &mut dyn Write) {
    for i in inputs.iter().filter(|i| i.is_problem()) {
        let what = match i.status {
            InputStatus::Unreadable => "not read",
            _ => "read incompletely",
        };
        let first = i.errors.first().map(String::as_str).unwrap_or("");
        let more = i.errors.len() as u64 + i.errors_not_shown - 1;
        let more = if i.errors.is_empty() || more == 0 {
            String::new()
        } else {
            format!(" (and {more} more problems: see the report)")
        };
        let _ = writeln!(
            stderr,
            "evtriage: {}: {what}: {}{more}",
            report::escape::display_whole(&i.path),
            report::display(first)
        );
    }
}

/// The documented exit codes (`cli.rs`).
fn exit_code(summary: &Summary, inputs: &[InputReport], stderr: &mut dyn Write) -> u8 {
    let readable = inputs
        .iter()
        .any(|i| matches!(i.status, InputStatus::Complete | InputStatus::Incomplete));
    if !readable {
        let _ = writeln!(
            stderr,
            "evtriage: no readable event log among the inputs{}",
            if inputs.is_empty() {
                " (none given or found)"
            } else {
                ""
            }
        );
        return cli::EXIT_USAGE_OR_NO_INPUT;
    }
    if summary.action_required > 0 {
        cli::EXIT_ACTION_REQUIRED
    } else if inputs.iter().any(InputReport::is_problem) {
        cli::EXIT_INPUT_PROBLEMS
    } else {
        cli::EXIT_NOTHING_TO_DO
    }
}

/// Why `target` may not be written: it exists and is not a regular file (a device, FIFO, socket
/// or folder: writing there would hang, or replace what is not a report), or it is one of the
/// input logs (the evidence). A `--script` target may be a folder.
fn check_target(
    target: &Path,
    folder_allowed: bool,
    inputs: &[input::InputFile],
) -> Result<(), String> {
    match std::fs::metadata(target) {
        Ok(m) if m.is_dir() && folder_allowed => return Ok(()),
        Ok(m) if !m.is_file() => {
            return Err("exists and is not a regular file; evtriage writes only files".into());
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    }
    for i in inputs.iter().filter(|i| i.handle.is_none()) {
        if same_file::is_same_file(target, &i.path).unwrap_or(false) {
            return Err(format!(
                "is the input log {}: evtriage never overwrites evidence",
                report::escape::display_whole(&i.display)
            ));
        }
    }
    Ok(())
}

/// One script per computer: into the folder `target` names, or into the file it names when the
/// findings to act on are all on one computer.
fn write_scripts(
    target: &Path,
    findings: &BTreeMap<String, Vec<Finding>>,
    stderr: &mut dyn Write,
    quiet: bool,
) -> Result<(), String> {
    let folder = target.is_dir();
    if findings.is_empty() {
        if !quiet {
            let _ = writeln!(
                stderr,
                "evtriage: --script: no finding to act on has services to restore: no script written"
            );
        }
        return Ok(());
    }
    if !folder && findings.len() > 1 {
        return Err(format!(
            "the findings to act on are on {} computers: name a folder, and evtriage writes one script per computer",
            findings.len()
        ));
    }
    for (computer, list) in findings {
        let refs: Vec<&Finding> = list.iter().collect();
        let written = match script::write(computer, &refs) {
            Ok(s) => s,
            Err(why) => {
                let _ = writeln!(stderr, "evtriage: --script: {why}");
                continue;
            }
        };
        let path = if folder {
            target.join(script::file_name(&written.computer))
        } else {
            target.to_path_buf()
        };
        write_atomically(&path, |out| out.write_all(&script::bytes(&written)))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if !quiet {
            let _ = writeln!(
                stderr,
                "evtriage: wrote {} for {} ({} services); read it, then run it with -WhatIf first",
                report::escape::display_whole(&input::display_path(&path)),
                report::display(computer),
                written.services.len()
            );
        }
    }
    Ok(())
}

/// To standard output, or to `--output` through a temporary file renamed into place, so that a
/// failed run never leaves a partial or empty report behind.
fn write_report(
    render: &Render,
    stdout: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match &render.output {
        None => {
            let mut out = io::BufWriter::new(stdout);
            write(&mut out)?;
            out.flush()
        }
        Some(path) => write_atomically(path, write),
    }
}

/// Written aside in the same folder, synced, then renamed over `path`: complete or not at all.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut out = io::BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
