//! The command line: options, their parsing, and the exit codes they lead to.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use evtriage::report::{Format, Shells};
use std::path::PathBuf;

pub const EXIT_NOTHING_TO_DO: u8 = 0;
pub const EXIT_ACTION_REQUIRED: u8 = 1;
pub const EXIT_USAGE_OR_NO_INPUT: u8 = 2;
pub const EXIT_INPUT_PROBLEMS: u8 = 3;

/// How many kept events that need not stay in memory are held before they go to disk: about
/// 6 MiB.
pub const SPILL_AFTER: usize = 1 << 16;

const AFTER_HELP: &str = "\
Exit codes:
  0  nothing to act on (no finding, or only information and resolved ones)
  1  at least one finding to act on
  2  usage error, or no readable input at all
  3  nothing to act on, but some input could not be read completely

Examples:
  evtriage samples/kb940006-rollup-failed
  evtriage --format json --output report.json /cases/1234/*.evtx
  evtriage --format jsonl --computer EXMBX01 /exports/
  evtriage --live                                (on the server, elevated)
  evtriage collect --output case.zip             (on the server, elevated)
  evtriage collect --script collect.ps1          (for servers that cannot run evtriage)
  evtriage merge reports/                        (one report from many runs)";

/// `--format`: the report writers' formats, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatChoice {
    /// Readable sections and tables.
    Table,
    /// One JSON document (schema in docs/json-schema.md).
    Json,
    /// One finding per line, between a line opening the run and one closing it (`evtriage merge` reads them).
    Jsonl,
    /// One self-contained HTML page, to attach to a ticket
    Html,
    /// GitHub-flavoured Markdown, to paste into a ticket or chat
    Markdown,
}

impl From<FormatChoice> for Format {
    fn from(f: FormatChoice) -> Format {
        match f {
            FormatChoice::Table => Format::Table,
            FormatChoice::Json => Format::Json,
            FormatChoice::Jsonl => Format::Jsonl,
            FormatChoice::Html => Format::Html,
            FormatChoice::Markdown => Format::Markdown,
        }
    }
}

/// `--shell`: whose commands the readable reports print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellChoice {
    Powershell,
    Cmd,
    Both,
}

impl From<ShellChoice> for Shells {
    fn from(s: ShellChoice) -> Shells {
        match s {
            ShellChoice::Powershell => Shells::PowerShell,
            ShellChoice::Cmd => Shells::Cmd,
            ShellChoice::Both => Shells::Both,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Parser)]
#[command(
    name = "evtriage",
    version,
    about = "Diagnose failed Windows Installer and Windows Update installs from exported .evtx logs",
    long_about = "Diagnose failed Windows Installer and Windows Update installs from exported .evtx logs.\n\n\
evtriage reads Application and System logs (from one server or many), correlates installer, Restart \
Manager, Windows Update and Service Control Manager events per computer, and reports each failure with \
its evidence and the steps to fix it. It knows the Exchange rollup that fails on a file in use and \
leaves Exchange services disabled (KB 940006) in particular.",
    after_help = AFTER_HELP
)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Logs to read: .evtx, .evt, Event XML, Windows Installer verbose logs, Exchange's
    /// ServiceControl.log, ServiceStartupMode.xml and ExchangeSetup.log, zip archives of any of
    /// them (a collection from `evtriage collect` among them), folders (searched recursively),
    /// glob patterns, or - for standard input. Files are recognized by content, not by name.
    #[arg(required_unless_present_any = ["list_signatures", "check_signatures", "live"])]
    pub paths: Vec<String>,

    /// Read this computer's own logs where they are (Windows, elevated): Application, System and
    /// Setup, and the installer and Exchange setup logs at their known places.
    #[arg(long)]
    pub live: bool,

    /// Worker threads (default: one per CPU).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// Kept events that need not stay in memory, held before they wait in a temporary file
    /// (default 65536; with text logs everything stays in memory). For tests and benchmarks.
    #[arg(long, value_name = "EVENTS", hide = true, default_value_t = SPILL_AFTER)]
    pub spill_after: usize,

    /// Ignore events before this time (UTC): 2011-11-09, 2011-11-09T03:00:00Z or "2011-11-09 03:00".
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,

    /// Ignore events after this time (UTC), same forms as --since.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,

    /// Only events of this computer (case-insensitive; repeat for several; a short name matches the FQDN).
    #[arg(long, value_name = "NAME")]
    pub computer: Vec<String>,

    /// The computer that text logs (installer and Exchange setup logs) are of when no event log
    /// of one computer is beside them in their folder or archive; otherwise "unknown".
    #[arg(long, value_name = "NAME")]
    pub text_computer: Option<String>,

    /// Also load the signature files (*.toml) in this folder; one with a built-in's ID replaces it.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,

    /// List the signatures and exit.
    #[arg(long)]
    pub list_signatures: bool,

    /// Check every signature file in this folder (and its patterns.toml) and exit: each problem
    /// is printed with its file and line; exit code 0 when all load, 2 otherwise.
    #[arg(long, value_name = "DIR")]
    pub check_signatures: Option<PathBuf>,

    #[command(flatten)]
    pub render: Render,

    /// Read at most this many MiB from standard input (`-`).
    #[arg(long, value_name = "MIB", default_value_t = 16384, value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    pub stdin_limit: u64,

    /// Unpack at most this many MiB from one zip archive (with the archives inside it); a member
    /// declaring more, or unpacking to more than 1000 times its packed size, is not read.
    #[arg(long, value_name = "MIB", default_value_t = 16384, value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    pub archive_limit: u64,
}

/// How the report is written: shared by a diagnosis and `evtriage merge`.
#[derive(Debug, Args)]
pub struct Render {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FormatChoice::Table)]
    pub format: FormatChoice,

    /// Write the report to this file (complete or not at all: it is written aside and renamed).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// No progress bar and no warnings on stderr; only the report and errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Commands in the table, Markdown and HTML reports for this shell (JSON has both)
    #[arg(long, value_enum, default_value_t = ShellChoice::Powershell)]
    pub shell: ShellChoice,

    /// Every evidence record with every field, and what the confidence rests on, instead of one
    /// line per record
    #[arg(short = 'v', long)]
    pub evidence: bool,

    /// Print only the overview: one row per computer and finding, worst first (table, Markdown,
    /// HTML; JSON always has everything)
    #[arg(long)]
    pub summary: bool,

    /// Colors in the table output; auto uses them on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Also write a PowerShell script that restores the services of the findings to act on, for
    /// the engineer to read and run on the server (-WhatIf for a dry run). A folder: one script
    /// per computer.
    #[arg(long, value_name = "FILE|DIR")]
    pub script: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather this server's logs for a diagnosis into one zip with a manifest (run it on the
    /// server, elevated), or write the same collection as a PowerShell 2.0 script
    Collect(CollectArgs),
    /// One report from many runs' JSON or JSONL reports: how a fleet is triaged
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The zip to write (complete or not at all).
    #[arg(short, long, value_name = "FILE", required_unless_present = "script")]
    pub output: Option<PathBuf>,

    /// Write the collection as a PowerShell 2.0 script instead, for servers where evtriage cannot
    /// run (Windows Server 2003 to 2012 R2); it writes a zip (or a folder) the same way.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    pub script: Option<PathBuf>,

    /// No progress on stderr; only errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports written with --format json or jsonl, or folders of them (*.json, *.jsonl).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,

    #[command(flatten)]
    pub render: Render,
}

/// Times as a person types them; without a zone they are UTC.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(format!(
        "'{s}' is not a time: use 2011-11-09, 2011-11-09T03:00:00Z or \"2011-11-09 03:00\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_forms_people_type() {
        assert_eq!(
            parse_time("2011-11-09").unwrap().to_rfc3339(),
            "2011-11-09T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2011-11-09 03:00").unwrap().to_rfc3339(),
            "2011-11-09T03:00:00+00:00"
        );
        assert_eq!(
            parse_time("2011-11-09T03:00:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2011-11-09T02:00:00+00:00"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
