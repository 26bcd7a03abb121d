//! One run: load the signatures, find and read the inputs in parallel, diagnose, write the report,
//! and choose the exit code. The binary is this plus argument parsing.

use crate::cli::{self, Cli, ColorChoice};
use evtriage::diagnosis::Finding;
use evtriage::diagnosis::{Collector, Diagnoser, Scope};
use evtriage::input::{self, InputReport, InputStatus};
use evtriage::report::{self, Style, Summary};
use evtriage::script;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the run knows about where it runs.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub stdout_is_tty: bool,
    pub stderr_is_tty: bool,
    pub no_color: bool,
    pub width: Option<u16>,
}

/// The progress bar on stderr (bytes and files done, rate, time left) and the counts behind it.
struct ProgressBar {
    bar: indicatif::ProgressBar,
    bytes: AtomicU64,
    files_done: AtomicU64,
    files: usize,
}

impl ProgressBar {
    fn new(total_bytes: u64, files: usize) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total_bytes),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        let progress = ProgressBar {
            bar,
            bytes: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            files,
        };
        progress.show_files(0);
        progress
    }
}

impl input::Progress for ProgressBar {
    fn bytes_read(&self, bytes: u64) {
        let done = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        // A log that grew after it was found can read past the total.
        let total = self.bar.length().unwrap_or(u64::MAX);
        self.bar.set_position(done.min(total));
    }

    fn file_done(&self) {
        self.show_files(self.files_done.fetch_add(1, Ordering::Relaxed) + 1);
    }
}

impl ProgressBar {
    fn show_files(&self, done: u64) {
        self.bar.set_message(format!("{done}/{} files", self.files));
    }
}

/// Run evtriage; returns the exit code.
pub fn run(
    cli: &Cli,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    term: Terminal,
) -> u8 {
    if let Some(dir) = &cli.check_signatures {
        return check_signatures(dir, stdout, stderr);
    }
    let diagnoser = match &cli.signatures {
        None => Diagnoser::builtin(),
        Some(dir) => match Diagnoser::with_dir(dir) {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(stderr, "evtriage: {e}");
                return cli::EXIT_USAGE_OR_NO_INPUT;
            }
        },
    };
    if cli.list_signatures {
        let mut listed: Vec<_> = diagnoser.signatures().iter().collect();
        listed.sort_by_key(|s| (s.def.priority, s.def.id.clone()));
        for s in listed {
            let _ = writeln!(
                stdout,
                "{:<36} {:<8} {}{}",
                s.def.id,
                format!("{:?}", s.def.severity).to_lowercase(),
                s.def.title,
                s.def
                    .kb
                    .as_deref()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default()
            );
        }
        return cli::EXIT_NOTHING_TO_DO;
    }
    if let (Some(s), Some(u)) = (cli.since, cli.until)
        && s > u
    {
        let _ = writeln!(
            stderr,
            "evtriage: --since is after --until: no event can match"
        );
        return cli::EXIT_USAGE_OR_NO_INPUT;
    }

    let discovery = input::discover_with(
        &cli.paths,
        stdin,
        cli.stdin_limit.saturating_mul(1 << 20),
        input::archive::ArchiveLimits {
            total: cli.archive_limit.saturating_mul(1 << 20),
        },
    );
    for (option, target) in [("--output", &cli.output), ("--script", &cli.script)] {
        if let Some(target) = target
            && let Err(why) = check_target(target, option == "--script", &discovery.files)
        {
            let _ = writeln!(
                stderr,
                "evtriage: {option} {}: {why}",
                report::escape::display_whole(&target.display().to_string())
            );
            return cli::EXIT_USAGE_OR_NO_INPUT;
        }
    }
    let total: u64 = discovery.files.iter().map(|f| f.size).sum();
    let show_progress = term.stderr_is_tty && !cli.quiet && total > 0;
    let scope = Scope {
        since: cli.since,
        until: cli.until,
        computers: cli
            .computer
            .iter()
            .map(|c| c.trim().to_lowercase())
            .collect(),
    };
    // Text logs are placed in time against the event logs' records: those records are kept
    // whatever --since and --until say, and every event is judged once placed.
    let has_text_logs = discovery
        .files
        .iter()
        .any(|f| evtriage::timeline::is_text_format(Some(f.format)));
    let early_scope = if has_text_logs {
        Scope {
            since: None,
            until: None,
            ..scope.clone()
        }
    } else {
        scope.clone()
    };
    let collector = Collector::with_scope(&diagnoser, early_scope);
    let bar = show_progress.then(|| ProgressBar::new(total, discovery.files.len()));
    let progress: &dyn input::Progress = match &bar {
        Some(b) => b,
        None => &input::NoProgress,
    };

    let threads = cli.threads.map(usize::from).unwrap_or(0);
    let read = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| input::read_all(&discovery.files, &collector, progress)),
        Err(e) => {
            let _ = writeln!(stderr, "evtriage: cannot start worker threads: {e}");
            return cli::EXIT_USAGE_OR_NO_INPUT;
        }
    };
    if let Some(b) = &bar {
        b.bar.finish_and_clear();
    }

    let file_names: Vec<String> = discovery.files.iter().map(|f| f.display.clone()).collect();
    let mut read = read;
    let mut matched = collector.into_matched();
    // Text logs keep local time: placed on the event logs' UTC before anything is correlated.
    let clocks = evtriage::timeline::place(
        &mut matched,
        &mut read,
        &evtriage::timeline::Options {
            text_computer: cli.text_computer.clone(),
        },
    );
    evtriage::timeline::apply_scope(&mut matched, &scope);
    // Reports come in source-ID order (read_all keeps the files' order), named as the files are.
    let read_inputs = evtriage::diagnosis::Inputs::of_reports(&read);
    let mut inputs: Vec<InputReport> = read;
    inputs.extend(discovery.rejected);
    drop(discovery.stdin_spool);

    if !cli.quiet {
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
    let readable = inputs
        .iter()
        .any(|i| matches!(i.status, InputStatus::Complete | InputStatus::Incomplete));
    let problems = inputs.iter().any(InputReport::is_problem);

    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => cli.output.is_none() && term.stdout_is_tty && !term.no_color,
    };
    let style = Style {
        color,
        // Off a terminal, tables fit a common width rather than growing with their longest cell.
        width: if cli.output.is_none() && term.stdout_is_tty {
            term.width
        } else {
            Some(120)
        },
        shells: cli.shell.into(),
        evidence: cli.evidence,
        summary_only: cli.summary,
    };
    // Findings are written as each computer is diagnosed, so a fleet's report is never in
    // memory whole. The counts behind the exit code cover every finding, written or not.
    let mut summary = Summary::of_inputs(&inputs);
    let mut for_script: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let written = write_report(cli, stdout, |out| {
        let mut writer = report::writer(cli.format.into(), style);
        let mut failed: Option<io::Error> = None;
        // Diagnosis runs on its own thread and hands each computer's findings over; this thread
        // renders them meanwhile, so that a fleet's report costs little more than its diagnosis.
        // A bounded channel keeps only a few computers' findings in flight.
        let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Finding>>(8);
        let copies = std::thread::scope(|scope| {
            let read_inputs = &read_inputs;
            let diagnosis = scope.spawn(move || {
                diagnoser.diagnose_each(matched, read_inputs, |batch| {
                    // The renderer stops listening only on a write error that ends the report.
                    match batches.send(batch) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(_) => ControlFlow::Break(()),
                    }
                })
            });
            for mut batch in received {
                for f in &mut batch {
                    f.text_log_clock = evtriage::timeline::clock_of(&clocks, &f.computer);
                }
                for f in &batch {
                    summary.count(f);
                    if cli.script.is_some() && script::wants(f) {
                        for_script
                            .entry(f.computer.to_string())
                            .or_default()
                            .push(f.clone());
                    }
                    if failed.is_none() {
                        failed = writer.finding(f, out).err();
                    }
                }
                // `evtriage … | head`: nothing more is written, but the exit code still needs
                // every finding counted.
                if matches!(&failed, Some(e) if e.kind() != io::ErrorKind::BrokenPipe) {
                    break;
                }
            }
            diagnosis
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        // Reports of read files come first in `inputs`, in source order.
        for (report, c) in inputs.iter_mut().zip(copies).filter(|(_, c)| c.events > 0) {
            let other =
                c.of.and_then(|s| file_names.get(s as usize))
                    .map_or("another input", String::as_str);
            report.notes.push(format!(
                "{} event(s) evtriage used from this file are the same records as in {other} (same computer, record ID, time and content): each is counted once",
                c.events
            ));
        }
        match failed {
            Some(e) => Err(e),
            None => writer.finish(&summary, &inputs, out),
        }
    });
    if let Err(e) = written {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader has what it wanted.
        } else {
            let target = cli
                .output
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "standard output".into());
            let _ = writeln!(stderr, "evtriage: cannot write the report to {target}: {e}");
            return cli::EXIT_USAGE_OR_NO_INPUT;
        }
    }

    if let Some(target) = &cli.script
        && let Err(why) = write_scripts(target, &for_script, stderr, cli.quiet)
    {
        let _ = writeln!(stderr, "evtriage: --script: {why}");
        return cli::EXIT_USAGE_OR_NO_INPUT;
    }

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
    } else if problems {
        cli::EXIT_INPUT_PROBLEMS
    } else {
        cli::EXIT_NOTHING_TO_DO
    }
}

/// `--check-signatures`: every file of `dir` loaded, every problem printed, like a linter.
fn check_signatures(dir: &Path, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let loaded = evtriage::diagnosis::load_dir(dir);
    let mut problems = loaded.errors.len();
    for e in &loaded.errors {
        let _ = writeln!(stderr, "evtriage: {e}");
    }
    let ids = loaded.signatures.len();
    if let Err(e) = Diagnoser::new(loaded.signatures) {
        problems += 1;
        let _ = writeln!(stderr, "evtriage: {e}");
    }
    let _ = writeln!(
        stdout,
        "{}: {} file(s) checked, {ids} signature(s) load, {problems} problem(s)",
        report::escape::display_whole(&dir.display().to_string()),
        loaded.files
    );
    if problems == 0 && loaded.files > 0 {
        cli::EXIT_NOTHING_TO_DO
    } else {
        cli::EXIT_USAGE_OR_NO_INPUT
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
                report::escape::display_whole(&path.display().to_string()),
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
    cli: &Cli,
    stdout: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match &cli.output {
        None => {
            let mut out = io::BufWriter::new(stdout);
            write(&mut out)?;
            out.flush()
        }
        Some(path) => write_atomically(path, write),
    }
}

/// Written aside in the same folder, synced, then renamed over `path`: complete or not at all.
fn write_atomically(
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
