//! `evtriage [PATHS…]` and `evtriage --live`: load the signatures, find and read the inputs in
//! parallel, place the text logs in time, diagnose each computer, and hand the findings to the
//! report as they are made.

use super::Terminal;
use super::progress::ProgressBar;
use super::render;
use crate::cli::{self, Cli};
use evtriage::diagnosis::{Collector, Diagnoser, Inputs, Kept, Scope};
use evtriage::input::{self, Discovery, InputReport};
use evtriage::timeline::{self, KnownClock};
use std::io::{Read, Write};
use std::ops::ControlFlow;

pub fn run(
    cli: &Cli,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    term: Terminal,
) -> u8 {
    let diagnoser = match load_signatures(cli, stderr) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let (Some(s), Some(u)) = (cli.since, cli.until)
        && s > u
    {
        let _ = writeln!(
            stderr,
            "evtriage: --since is after --until: no event can match"
        );
        return cli::EXIT_USAGE_OR_NO_INPUT;
    }
    let (mut discovery, mut known) = match discover(cli, stdin, stderr) {
        Ok(d) => d,
        Err(code) => return code,
    };
    // Collections' manifests: the computer and zone of their text logs, listed as inputs.
    let mut manifests = Vec::new();
    for file in &discovery.manifests {
        let (clock, report) = evtriage::collection::read_back(file);
        known.extend(clock);
        manifests.push(report);
    }
    if let Err(code) = render::check_targets(&cli.render, &discovery.files, stderr) {
        return code;
    }
    let scope = Scope {
        since: cli.since,
        until: cli.until,
        computers: cli
            .computer
            .iter()
            .map(|c| c.trim().to_lowercase())
            .collect(),
    };
    let ReadLogs {
        kept,
        reports: read,
        clocks,
        not_read,
    } = match read(cli, &diagnoser, &discovery, &scope, known, term, stderr) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut rejected = std::mem::take(&mut discovery.rejected);
    rejected.extend(not_read);
    rejected.extend(manifests);
    render::report(&cli.render, term, stdout, stderr, |sink| {
        diagnose(diagnoser, kept, read, rejected, &clocks, sink)
    })
}

/// The built-in signatures, with `--signatures DIR`'s over them.
fn load_signatures(cli: &Cli, stderr: &mut dyn Write) -> Result<Diagnoser, u8> {
    match &cli.signatures {
        None => Ok(Diagnoser::builtin()),
        Some(dir) => Diagnoser::with_dir(dir).map_err(|e| {
            let _ = writeln!(stderr, "evtriage: {e}");
            cli::EXIT_USAGE_OR_NO_INPUT
        }),
    }
}

/// The files to read: the paths named, and with `--live` this computer's logs where they are,
/// whose text logs are in this computer's own zone.
fn discover(
    cli: &Cli,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<(Discovery, Vec<KnownClock>), u8> {
    let mut paths = cli.paths.clone();
    let mut refused = Vec::new();
    let mut known = Vec::new();
    if cli.live {
        match evtriage::live::locate() {
            Ok(found) => {
                if !cli.render.quiet {
                    for note in &found.notes {
                        let _ = writeln!(
                            stderr,
                            "evtriage: --live: {}",
                            evtriage::escape::display(note)
                        );
                    }
                }
                paths.extend(found.paths);
                refused = found.refused;
                if !found.text_folders.is_empty() {
                    let zone = evtriage::collection::system::local_zone();
                    for folder in found.text_folders {
                        known.push(KnownClock {
                            under: input::display_path(&folder),
                            computer: None,
                            zone: zone.clone(),
                            basis: "live",
                        });
                    }
                }
            }
            Err(why) => {
                let _ = writeln!(stderr, "evtriage: --live: {why}");
                return Err(cli::EXIT_USAGE_OR_NO_INPUT);
            }
        }
    }
    let mut discovery = input::discover_with(
        &paths,
        stdin,
        cli.stdin_limit.saturating_mul(1 << 20),
        input::archive::ArchiveLimits {
            total: cli.archive_limit.saturating_mul(1 << 20),
        },
    );
    discovery.rejected.extend(refused);
    Ok((discovery, known))
}

/// What reading gave: the events kept, a report per file read (in source-ID order), the
/// computers' clocks, and the files found on the way that are not logs.
struct ReadLogs {
    kept: Kept,
    reports: Vec<InputReport>,
    clocks: Vec<evtriage::input::text::ComputerClock>,
    not_read: Vec<InputReport>,
}

/// Every file read on `--threads` workers, the events the signatures want kept, the text logs
/// placed on the event logs' UTC and the scope applied.
fn read(
    cli: &Cli,
    diagnoser: &Diagnoser,
    discovery: &Discovery,
    scope: &Scope,
    known: Vec<KnownClock>,
    term: Terminal,
    stderr: &mut dyn Write,
) -> Result<ReadLogs, u8> {
    let has_text_logs = cli.live
        || discovery
            .files
            .iter()
            .any(|f| timeline::is_text_format(Some(f.format)));
    let collector = Collector::with_scope(diagnoser, early_scope_of(scope, has_text_logs));
    // Text logs are placed in time against every kept record of the event logs, and --live
    // reads the installer logs kept records name: such runs keep everything in memory.
    let collector = if has_text_logs {
        collector
    } else {
        collector.spilling_after(cli.spill_after)
    };
    let total: u64 = discovery.files.iter().map(|f| f.size).sum();
    let show_progress = term.stderr_is_tty && !cli.render.quiet && total > 0;
    let bar = show_progress.then(|| ProgressBar::new(total, discovery.files.len()));
    let progress: &dyn input::Progress = match &bar {
        Some(b) => b,
        None => &input::NoProgress,
    };
    let threads = cli.threads.map(usize::from).unwrap_or(0);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool,
        Err(e) => {
            let _ = writeln!(stderr, "evtriage: cannot start worker threads: {e}");
            return Err(cli::EXIT_USAGE_OR_NO_INPUT);
        }
    };
    let mut read = pool.install(|| input::read_all(&discovery.files, &collector, progress));
    if let Some(b) = &bar {
        b.bar.finish_and_clear();
    }
    let kept = match collector.into_kept() {
        Ok(kept) => kept,
        Err(e) => {
            let _ = writeln!(
                stderr,
                "evtriage: cannot finish the temporary file of kept events: {e}"
            );
            return Err(cli::EXIT_INPUT_PROBLEMS);
        }
    };
    if kept.spilled.is_some() || kept.spilled_anchors.is_some() {
        // Spilling is off with text logs, so nothing below is to be placed or read again.
        return Ok(ReadLogs {
            kept,
            reports: read,
            clocks: Vec::new(),
            not_read: Vec::new(),
        });
    }
    let mut matched = kept.memory.into_vec();
    let mut not_read = Vec::new();
    if cli.live {
        // The installer logs the Application log names, where they are not among the places
        // read already: read now, after the files that name them.
        let named: Vec<_> = evtriage::live::named_installer_logs(&matched)
            .into_iter()
            .filter(|p| {
                !discovery.files.iter().any(|f| {
                    f.member.is_none() && same_file::is_same_file(p, &f.path).unwrap_or(false)
                })
            })
            .collect();
        if !named.is_empty() {
            let found = input::discover_found(&named, read.len() as evtriage::event::SourceId);
            let collector = Collector::with_scope(diagnoser, early_scope_of(scope, true));
            read.extend(
                pool.install(|| input::read_all(&found.files, &collector, &input::NoProgress)),
            );
            matched.extend(collector.into_matched());
            not_read = found.rejected;
        }
    }
    // Text logs keep local time: placed on the event logs' UTC before anything is correlated.
    let clocks = timeline::place(
        &mut matched,
        &mut read,
        &timeline::Options {
            text_computer: cli.text_computer.clone(),
            known,
        },
    );
    timeline::apply_scope(&mut matched, scope);
    Ok(ReadLogs {
        kept: Kept::from(matched),
        reports: read,
        clocks,
        not_read,
    })
}

/// The scope events are kept with while reading: text logs are placed in time against the event
/// logs' records, so those are kept whatever --since and --until say, and every event is judged
/// once placed.
fn early_scope_of(scope: &Scope, text_logs: bool) -> Scope {
    if text_logs {
        Scope {
            since: None,
            until: None,
            ..scope.clone()
        }
    } else {
        scope.clone()
    }
}

/// Diagnosis on a thread of its own, handing each computer's findings to `sink` on this one,
/// so that a fleet's report costs little more than its diagnosis; then the inputs, with a note
/// on each file whose records were copies of another's.
fn diagnose(
    diagnoser: Diagnoser,
    kept: Kept,
    read: Vec<InputReport>,
    rejected: Vec<InputReport>,
    clocks: &[evtriage::input::text::ComputerClock],
    sink: &mut render::Sink,
) -> Vec<InputReport> {
    // Reports come in source-ID order (read_all keeps the files' order), named as the files are.
    let read_inputs = Inputs::of_reports(&read);
    let mut inputs = read;
    inputs.extend(rejected);
    // A bounded channel keeps only a few computers' findings in flight.
    let (batches, received) = std::sync::mpsc::sync_channel(8);
    let copies = std::thread::scope(|scope| {
        let read_inputs = &read_inputs;
        let diagnosis = scope.spawn(move || {
            diagnoser.diagnose_each(kept, read_inputs, |batch| {
                // The renderer stops listening only on a write error that ends the report.
                match batches.send(batch) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            })
        });
        'batches: for batch in received {
            for mut f in batch {
                f.text_log_clock = timeline::clock_of(clocks, &f.computer);
                if sink(f).is_break() {
                    break 'batches;
                }
            }
        }
        diagnosis
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let (copies, read_back) = copies;
    if let Some(e) = read_back {
        // Findings of the events that came back are reported; the run says it is incomplete.
        inputs.push(InputReport::failed(
            "(evtriage's temporary file of kept events)",
            None,
            0,
            evtriage::input::InputStatus::Unreadable,
            format!("kept events written to disk could not be read back, so findings may be missing: {e}"),
        ));
    }
    // Reports of read files come first in `inputs`, in source order, named as the files are.
    let name_of = |of: Option<u32>| {
        of.and_then(|s| inputs.get(s as usize))
            .map_or("another input", |r| r.path.as_str())
    };
    let mut notes: Vec<(usize, String)> = Vec::new();
    for (i, c) in copies.iter().enumerate() {
        if c.events > 0 {
            notes.push((
                i,
                format!(
                    "{} event(s) evtriage used from this file are the same records as in {} (same computer, record ID, time and content): each is counted once",
                    c.events,
                    name_of(c.of)
                ),
            ));
        }
        if c.twice > 0 {
            notes.push((
                i,
                format!(
                    "{} event(s) evtriage used from this file are the same events Windows also wrote to {} (same computer, time to the 100 ns, source and content, another log): each is counted once",
                    c.twice,
                    name_of(c.twice_of)
                ),
            ));
        }
    }
    for (i, note) in notes {
        inputs[i].notes.push(note);
    }
    inputs
}
