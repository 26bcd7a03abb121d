//! evtriage-gen: writes event logs. `xml2evtx` turns Event XML into .evtx, `samples` writes the
//! bundles under `samples/`, `logs` writes large benchmark logs with planted incidents.

use clap::{Parser, Subcommand};
use evtriage_gen::samples;
use evtriage_writer::{self as evtxwrite, verify};
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "evtriage-gen",
    version,
    about = "Write event logs (.evtx, .evt, Event XML): from Event XML, the bundled samples, or large benchmark logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert Event XML (an <Events> export from Event Viewer or `wevtutil qe /f:xml`) into .evtx.
    Xml2evtx {
        /// The Event XML file.
        input: PathBuf,
        /// The .evtx file to write.
        output: PathBuf,
        /// Read the result back and compare it with the XML, event by event.
        #[arg(long)]
        verify: bool,
    },
    /// Write the sample bundles (.evtx, or .evt for the Server 2003 ones) into a folder.
    Samples {
        /// Where the bundle folders go.
        #[arg(long, default_value = "samples")]
        out: PathBuf,
        /// Do not write: check that the folder holds exactly what would be written.
        #[arg(long)]
        check: bool,
    },
    /// Write the KB sample made expensive the way a hostile log can: many services, long values
    /// or many failures in one incident (a few MB each).
    Hostile {
        /// services=N, long-values=N or failures=N.
        #[arg(long)]
        size: evtriage_gen::hostile::Size,
        /// The folder to write Application.evtx and System.evtx into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write each sample bundle's logs as Event XML (`<bundle>-<log>.xml`, as Event Viewer's "Save
    /// As… XML" writes them) into a folder.
    EventXml {
        /// The folder to write into.
        out: PathBuf,
    },
    /// Write a large classic .evt log (Windows Server 2003 layout) for benchmarks: ordinary
    /// traffic with the KB 940006 failure planted at its end.
    Evt(evtriage_gen::biglog::EvtOptions),
    /// Write large Application/System logs with planted incidents (see the README).
    Logs(evtriage_gen::biglog::Options),
    /// Write one large .evtx of the real, sound chunks of the .evtx files under a folder
    /// (`../shared/corpus`), repeated to the size asked for: the benchmark's real-chunk log.
    Realchunks {
        /// The folder of real logs.
        #[arg(long)]
        from: PathBuf,
        /// The size to reach (512MiB, 1GiB).
        #[arg(long, value_parser = evtriage_gen::biglog::parse_size)]
        size: u64,
        /// The .evtx to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write one of the signatures' `gen:` fixtures (its logs and text logs) into a folder.
    Fixture {
        /// The fixture's name (`cu-setup-refused-after-su-failed`, …).
        name: String,
        /// The folder to write into.
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Xml2evtx {
            input,
            output,
            verify,
        } => xml2evtx(&input, &output, verify),
        Command::Samples { out, check } => write_samples(&out, check),
        Command::EventXml { out } => write_event_xml(&out),
        Command::Evt(options) => evtriage_gen::biglog::write_evt(&options),
        Command::Hostile { size, out } => write_bundle(&evtriage_gen::hostile::sized(size), &out),
        Command::Realchunks { from, size, out } => {
            evtriage_gen::realchunks::write(&from, size, &out).map(|(chunks, sources)| {
                eprintln!(
                    "wrote {}: {chunks} chunks, from {sources} sound chunks of real logs",
                    out.display()
                )
            })
        }
        Command::Fixture { name, out } => match evtriage_gen::fixtures::fixture(&name) {
            Some(bundle) => write_bundle(&bundle, &out),
            None => Err(format!(
                "no fixture {name}: the fixtures are {}",
                evtriage_gen::fixtures::NAMES.join(", ")
            )),
        },
        Command::Logs(options) => evtriage_gen::biglog::run(&options).map(|manifest| {
            eprintln!(
                "wrote {} hosts, {} records, {} incidents planted; manifest: {}",
                manifest.hosts.len(),
                manifest
                    .hosts
                    .iter()
                    .map(|h| h.application.records + h.system.records)
                    .sum::<u64>(),
                manifest
                    .hosts
                    .iter()
                    .map(|h| h.incidents.len())
                    .sum::<usize>(),
                options.out.join("manifest.json").display()
            );
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("evtriage-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn xml2evtx(input: &Path, output: &Path, check: bool) -> Result<(), String> {
    let xml = fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let summary = write_evtx_atomically(&xml, output)?;
    eprintln!(
        "{}: {} records in {} chunks",
        output.display(),
        summary.records,
        summary.chunks
    );
    if check {
        verify_against_xml(&xml, output)?;
        eprintln!(
            "{}: read back and matches {}",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

fn write_evtx_atomically(xml: &str, output: &Path) -> Result<evtxwrite::WriteSummary, String> {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (file, summary) = evtxwrite::write_xml(xml, BufWriter::new(tmp))
        .map_err(|e| format!("{}: {e}", output.display()))?;
    let tmp = file
        .into_inner()
        .map_err(|e| format!("{}: {}", output.display(), e.error()))?;
    tmp.persist(output)
        .map_err(|e| format!("{}: {}", output.display(), e.error))?;
    Ok(summary)
}

fn verify_against_xml(xml: &str, evtx_path: &Path) -> Result<(), String> {
    let mut written = Vec::new();
    evtriage_writer::xmltree::parse_each(xml, 1, |e| {
        written.push(e);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let read = verify::read_back(evtx_path)?;
    verify::compare(&written, &read).map_err(|e| format!("{}: {e}", evtx_path.display()))
}

fn write_event_xml(out: &Path) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for bundle in samples::all() {
        for (log, events) in [
            ("Application", &bundle.application),
            ("System", &bundle.system),
        ] {
            if events.is_empty() {
                continue;
            }
            let path = out.join(format!("{}-{log}.xml", bundle.name));
            fs::write(&path, samples::events_xml(events))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// A bundle's logs in `out`.
fn write_bundle(bundle: &samples::Bundle, out: &Path) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    evtriage_gen::fixtures::write(bundle, out)
}

/// Every bundle under `out`, each log in its bundle's format. A .evtx is read back and compared
/// with the events it was written from; a .evt is cross-checked by the tests (tests/evt.rs).
fn write_samples(out: &Path, check: bool) -> Result<(), String> {
    let mut stale = Vec::new();
    for bundle in samples::all() {
        let dir = out.join(bundle.name);
        if !check {
            fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        for (name, bytes) in bundle.logs()? {
            let path = dir.join(&name);
            if check {
                if fs::read(&path).ok() != Some(bytes) {
                    stale.push(path.display().to_string());
                }
                continue;
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            let tmp = path.with_file_name(format!(
                ".{}.tmp",
                path.file_name()
                    .map_or(std::borrow::Cow::Borrowed(""), |n| n.to_string_lossy())
            ));
            fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
            fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            if name.ends_with(".evtx") {
                let events = if name.starts_with("Application") {
                    &bundle.application
                } else {
                    &bundle.system
                };
                let read = verify::read_back(&path)?;
                verify::compare(events, &read).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            eprintln!("{}: {} bytes", path.display(), bytes.len());
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these files differ from what `evtriage-gen samples` writes: {}",
            stale.join(", ")
        ))
    }
}
