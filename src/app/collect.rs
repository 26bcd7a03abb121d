//! `evtriage collect`: the customer's collection on the server ([`evtriage::collection`]), into
//! a zip written aside and renamed (complete or not at all); or, with `--script`, the same
//! collection as a PowerShell 2.0 script for servers where evtriage cannot run.

use super::render::write_atomically;
use crate::cli::{self, CollectArgs};
use evtriage::collection::{self, system};
use evtriage::escape::display_whole;
use evtriage::input::display_path;
use std::io::{Seek, Write};

struct Stderr<'a> {
    out: &'a mut dyn Write,
    quiet: bool,
}

impl collection::Report for Stderr<'_> {
    fn step(&mut self, what: &str) {
        if !self.quiet {
            let _ = writeln!(self.out, "evtriage collect: {}", display_whole(what));
        }
    }
}

pub fn run(args: &CollectArgs, stderr: &mut dyn Write) -> u8 {
    if let Some(target) = &args.script {
        let written = write_atomically(target, |out| {
            out.write_all(collection::script::text().as_bytes())
        });
        return match written {
            Ok(()) => {
                if !args.quiet {
                    let _ = writeln!(
                        stderr,
                        "evtriage: wrote {}: run it elevated on the server (powershell -ExecutionPolicy Bypass -File {}), then send the zip or folder it names",
                        display_whole(&display_path(target)),
                        display_whole(&display_path(target))
                    );
                }
                cli::EXIT_NOTHING_TO_DO
            }
            Err(e) => {
                let _ = writeln!(
                    stderr,
                    "evtriage: cannot write {}: {e}",
                    display_whole(&display_path(target))
                );
                cli::EXIT_USAGE_OR_NO_INPUT
            }
        };
    }
    let Some(target) = &args.output else {
        let _ = writeln!(
            stderr,
            "evtriage collect: name the zip to write with --output"
        );
        return cli::EXIT_USAGE_OR_NO_INPUT;
    };
    let places = match evtriage::live::places() {
        Ok(p) => p,
        Err(why) => {
            let _ = writeln!(stderr, "evtriage collect: {why}");
            return cli::EXIT_USAGE_OR_NO_INPUT;
        }
    };
    let mut missing = 0;
    let written = {
        let mut report = Stderr {
            out: &mut *stderr,
            quiet: args.quiet,
        };
        write_seekable(target, |file| {
            let manifest = collection::collect(
                &places,
                system::this_computer(),
                &system::export_with_wevtutil,
                file,
                &mut report,
            )?;
            missing = manifest.missing.len();
            for m in &manifest.missing {
                let _ = writeln!(
                    report.out,
                    "evtriage collect: not collected: {} ({}): {}",
                    display_whole(&m.what),
                    display_whole(&m.path),
                    display_whole(&m.why)
                );
            }
            Ok(())
        })
    };
    match written {
        Ok(()) => {
            if !args.quiet {
                let _ = writeln!(
                    stderr,
                    "evtriage collect: wrote {}{}",
                    display_whole(&display_path(target)),
                    if missing > 0 {
                        format!("; {missing} item(s) not collected (listed in its manifest)")
                    } else {
                        String::new()
                    }
                );
            }
            if missing > 0 {
                cli::EXIT_INPUT_PROBLEMS
            } else {
                cli::EXIT_NOTHING_TO_DO
            }
        }
        Err(e) => {
            let _ = writeln!(
                stderr,
                "evtriage collect: cannot write {}: {e}",
                display_whole(&display_path(target))
            );
            cli::EXIT_USAGE_OR_NO_INPUT
        }
    }
}

/// A zip needs to seek: written to a temporary file beside the target, synced, renamed.
fn write_seekable(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    write(tmp.as_file_mut())?;
    tmp.as_file_mut().rewind()?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
