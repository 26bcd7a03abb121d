//! One run of the binary: one small function per command, the report written in one place
//! (`render`). The binary is this plus argument parsing (`cli.rs`).

mod collect;
mod diagnose;
mod merge;
mod progress;
mod render;

use crate::cli::{self, Cli, Command};
use evtriage::diagnosis::Diagnoser;
use evtriage::report;
use std::io::{Read, Write};
use std::path::Path;

/// What the run knows about where it runs.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub stdout_is_tty: bool,
    pub stderr_is_tty: bool,
    pub no_color: bool,
    pub width: Option<u16>,
}

/// Run evtriage; returns the exit code.
pub fn run(
    cli: &Cli,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    term: Terminal,
) -> u8 {
    match &cli.command {
        Some(Command::Collect(args)) => collect::run(args, stderr),
        Some(Command::Merge(args)) => merge::run(args, term, stdout, stderr),
        None if cli.check_signatures.is_some() => check_signatures(
            cli.check_signatures.as_deref().unwrap_or(Path::new(".")),
            stdout,
            stderr,
        ),
        None if cli.list_signatures => list_signatures(cli, stdout, stderr),
        None => match misplaced_command(cli) {
            Some(command) => {
                let _ = writeln!(
                    stderr,
                    "evtriage: '{command}' is a command, and options given before it make it read as a file to diagnose: give them after it (evtriage {command} --format json …)"
                );
                cli::EXIT_USAGE_OR_NO_INPUT
            }
            None => diagnose::run(cli, stdin, stdout, stderr, term),
        },
    }
}

/// A command's name as the first path, where no such file is: `evtriage --format json merge a b`
/// (clap reads a subcommand only before any option).
fn misplaced_command(cli: &Cli) -> Option<&'static str> {
    let first = cli.paths.first()?;
    ["merge", "collect"]
        .into_iter()
        .find(|c| first == c && !Path::new(first).exists())
}

/// `--list-signatures`: ID, severity, title and article of each, in the order they run.
fn list_signatures(cli: &Cli, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
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
    cli::EXIT_NOTHING_TO_DO
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
