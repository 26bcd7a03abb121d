//! One report from many runs' reports (`evtriage merge`): the JSON and JSONL reports that
//! evtriage wrote on each server, read back and put in the order one run over all their logs
//! would have given, so that every report writer renders a fleet as it renders one run.
//!
//! A run writes its findings computer by computer (computers by name, case-insensitively; within
//! one, by first seen, signature and name: `diagnosis::engine`), so the merge is a k-way merge
//! of the runs on that key, holding one finding per run. JSONL is read line by line (memory
//! bounded by the number of runs, not their size); a JSON document is one value and is read
//! whole, one at a time. A report of another `schema_version` is refused by name, and a report
//! that cannot be read is an input that could not be read, like a broken log.
//!
//! Everything a report holds came from logs: it is log text as before, and reaches people only
//! through the report writers' escaping.

use crate::diagnosis::Finding;
use crate::input::{InputReport, InputStatus};
use crate::report::SCHEMA_VERSION;
use crate::report::jsonl::{Closing, Opening};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A JSONL line longer than this is not one evtriage wrote (a finding's lists are capped).
const MAX_LINE: usize = 64 << 20;

/// The order a run writes findings in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    computer: String,
    first_seen: DateTime<Utc>,
    signature: String,
    shown: String,
}

impl Key {
    fn of(f: &Finding) -> Self {
        Key {
            computer: f.computer.trim().to_lowercase(),
            first_seen: f.first_seen,
            signature: f.signature.clone(),
            shown: f.computer.clone(),
        }
    }
}

/// One run's findings, as they are read.
enum Run {
    /// A JSONL run from its opening line to its closing line.
    Lines {
        reader: BufReader<File>,
        report: usize,
        line: u64,
        buffer: Vec<u8>,
    },
    /// A JSON document, read whole.
    Whole(std::vec::IntoIter<Finding>),
}

/// The reports being merged: their findings in order, then their inputs.
pub struct Merge {
    runs: Vec<Run>,
    heap: BinaryHeap<Reverse<(Key, usize)>>,
    pending: Vec<Option<Finding>>,
    last: Vec<Option<Key>>,
    /// The report files, by index: the path as named, and the inputs of its runs when known.
    reports: Vec<ReportFile>,
    /// The computers of each report, to say when one appears in two.
    computers: BTreeMap<String, usize>,
    /// Warnings for standard error, as they are found.
    warnings: Vec<String>,
    /// Computer and pair of reports already warned of.
    warned: std::collections::BTreeSet<(String, usize, usize)>,
}

struct ReportFile {
    path: String,
    /// The inputs the report's runs read, from their closing lines (or the JSON's `inputs`).
    inputs: Vec<InputReport>,
    /// What went wrong reading the report itself.
    problem: Option<InputReport>,
    /// Runs opened and closed.
    runs_open: usize,
}

/// The report files named: files as given, folders searched for `*.json` and `*.jsonl`.
pub fn report_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<InputReport>) {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .follow_links(false)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("jsonl")
                    })
                })
                .collect();
            found.sort();
            if found.is_empty() {
                missing.push(unreadable(
                    &crate::input::display_path(p),
                    "a folder with no .json or .jsonl report in it".into(),
                ));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            missing.push(unreadable(
                &crate::input::display_path(p),
                "no such file or folder".into(),
            ));
        }
    }
    (files, missing)
}

fn unreadable(path: &str, why: String) -> InputReport {
    let mut r = InputReport::new(path, None, 0);
    r.status = InputStatus::Unreadable;
    r.errors.push(why);
    r
}

#[derive(Deserialize)]
struct Version {
    schema_version: Option<u32>,
}

#[derive(Deserialize)]
struct Document {
    findings: Vec<Finding>,
    inputs: Vec<InputReport>,
}

impl Merge {
    /// Opens every report; one that cannot be read is kept as a problem, the rest are merged.
    pub fn open(files: &[PathBuf]) -> Self {
        let mut merge = Merge {
            runs: Vec::new(),
            heap: BinaryHeap::new(),
            pending: Vec::new(),
            last: Vec::new(),
            reports: Vec::new(),
            computers: BTreeMap::new(),
            warnings: Vec::new(),
            warned: Default::default(),
        };
        for path in files {
            let index = merge.reports.len();
            merge.reports.push(ReportFile {
                path: crate::input::display_path(path),
                inputs: Vec::new(),
                problem: None,
                runs_open: 0,
            });
            if let Err(why) = merge.add(path, index) {
                let r = &mut merge.reports[index];
                r.problem = Some(unreadable(&r.path, why));
            }
        }
        for run in 0..merge.runs.len() {
            merge.advance(run);
        }
        merge
    }

    fn add(&mut self, path: &Path, report: usize) -> Result<(), String> {
        let mut file = File::open(path).map_err(|e| e.to_string())?;
        let mut first = [0u8; 64];
        let n = io::Read::read(&mut file, &mut first).map_err(|e| e.to_string())?;
        let head: Vec<u8> = first[..n]
            .iter()
            .copied()
            .skip_while(u8::is_ascii_whitespace)
            .collect();
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        if head.starts_with(b"{\"schema_version\"") {
            return self.add_lines(path, file, report);
        }
        if head.starts_with(b"{") {
            return self.add_document(file, report);
        }
        Err("not a report evtriage wrote (--format json or jsonl): it does not begin with a JSON object".into())
    }

    fn check_version(version: Option<u32>) -> Result<(), String> {
        match version {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(v) => Err(format!(
                "a report of schema_version {v}; this evtriage reads schema_version {SCHEMA_VERSION}: run the same evtriage version on every server, or run it again"
            )),
            None => Err("not a report evtriage wrote: no schema_version".into()),
        }
    }

    fn add_document(&mut self, file: File, report: usize) -> Result<(), String> {
        // The version first, so that another schema is refused by name rather than by the first
        // field it renamed.
        let version: Version = serde_json::from_reader(BufReader::new(&file))
            .map_err(|e| format!("not a JSON report: {e}"))?;
        Self::check_version(version.schema_version)?;
        let mut file = file;
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        let doc: Document = serde_json::from_reader(BufReader::new(file))
            .map_err(|e| format!("not a JSON report of this schema: {e}"))?;
        let computers: Vec<String> = doc.findings.iter().map(|f| f.computer.clone()).collect();
        self.reports[report].inputs = doc.inputs;
        self.reports[report].runs_open = 0;
        self.note_computers(report, computers.iter().map(String::as_str));
        self.push_run(Run::Whole(doc.findings.into_iter()));
        Ok(())
    }

    /// A JSONL file: each run in it (a file may hold several, concatenated) is a stream of its
    /// own, found by a first pass over the lines that open runs.
    fn add_lines(&mut self, path: &Path, file: File, report: usize) -> Result<(), String> {
        let mut reader = BufReader::new(file);
        let mut starts = Vec::new();
        let mut offset = 0u64;
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let n = read_line(&mut reader, &mut line).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            number += 1;
            if line.starts_with(b"{\"schema_version\"") {
                let opening: Opening = serde_json::from_slice(line.trim_ascii())
                    .map_err(|e| format!("line {number}: not a run's opening line: {e}"))?;
                Self::check_version(Some(opening.schema_version))
                    .map_err(|e| format!("line {number}: {e}"))?;
                starts.push((offset, number));
            }
            offset += n as u64;
        }
        if starts.is_empty() {
            return Err("no run's opening line: not a JSONL report evtriage wrote".into());
        }
        for (start, number) in starts {
            // Opened again for each run: a cloned handle would share one position among them.
            let mut file = File::open(path).map_err(|e| e.to_string())?;
            file.seek(SeekFrom::Start(start))
                .map_err(|e| e.to_string())?;
            let mut lines = BufReader::new(file);
            // Past the opening line.
            let mut skip = Vec::new();
            read_line(&mut lines, &mut skip).map_err(|e| e.to_string())?;
            self.reports[report].runs_open += 1;
            self.push_run(Run::Lines {
                reader: lines,
                report,
                line: number,
                buffer: Vec::new(),
            });
        }
        Ok(())
    }

    fn push_run(&mut self, run: Run) {
        self.runs.push(run);
        self.pending.push(None);
        self.last.push(None);
    }

    fn note_computers<'a>(&mut self, report: usize, names: impl Iterator<Item = &'a str>) {
        for name in names {
            let key = name.trim().to_lowercase();
            match self.computers.get(&key) {
                None => {
                    self.computers.insert(key, report);
                }
                Some(&other) if other != report => {
                    if !self
                        .warned
                        .insert((key, other.min(report), other.max(report)))
                    {
                        continue;
                    }
                    let (a, b) = (other.min(report), other.max(report));
                    self.warnings.push(format!(
                        "computer {} is in two reports, {} and {}: its findings from both are listed (was it run twice?)",
                        crate::escape::display(name),
                        crate::escape::display_whole(&self.reports[a].path),
                        crate::escape::display_whole(&self.reports[b].path),
                    ));
                }
                Some(_) => {}
            }
        }
    }

    /// The next finding of `run` into the heap, or the run's end.
    fn advance(&mut self, run: usize) {
        let next = match &mut self.runs[run] {
            Run::Whole(findings) => findings.next().map(Ok),
            Run::Lines {
                reader,
                report,
                line,
                buffer,
            } => {
                let report = *report;
                loop {
                    buffer.clear();
                    *line += 1;
                    match read_line(reader, buffer) {
                        Err(e) => break Some(Err((report, format!("line {line}: {e}")))),
                        Ok(0) => {
                            break Some(Err((
                                report,
                                format!(
                                    "the run opened before line {line} has no closing line: the report was cut (its inputs are unknown)"
                                ),
                            )));
                        }
                        Ok(_) => {}
                    }
                    let text = buffer.trim_ascii();
                    if text.is_empty() {
                        continue;
                    }
                    if text.starts_with(b"{\"summary\"") {
                        match serde_json::from_slice::<Closing>(text) {
                            Ok(closing) => {
                                self.reports[report].inputs.extend(closing.inputs);
                                self.reports[report].runs_open -= 1;
                                break None;
                            }
                            Err(e) => {
                                break Some(Err((
                                    report,
                                    format!("line {line}: not a run's closing line: {e}"),
                                )));
                            }
                        }
                    }
                    match serde_json::from_slice::<Finding>(text) {
                        Ok(f) => break Some(Ok(f)),
                        Err(e) => {
                            break Some(Err((
                                report,
                                format!("line {line}: not a finding of this schema: {e}"),
                            )));
                        }
                    }
                }
            }
        };
        match next {
            None => {}
            Some(Ok(f)) => {
                let key = Key::of(&f);
                if let Run::Lines { report, .. } = &self.runs[run] {
                    let report = *report;
                    self.note_computers(report, std::iter::once(f.computer.as_str()));
                }
                if self.last[run].as_ref().is_some_and(|l| *l > key) {
                    self.warnings.push(format!(
                        "a finding of {} is out of the order evtriage writes in: the merged report lists it where it was read",
                        crate::escape::display(&f.computer)
                    ));
                }
                self.last[run] = Some(key.clone());
                self.heap.push(Reverse((key, run)));
                self.pending[run] = Some(f);
            }
            Some(Err((report, why))) => {
                // What was read of the run stays; the report is an input not read completely.
                let r = &mut self.reports[report];
                let problem = r
                    .problem
                    .get_or_insert_with(|| InputReport::new(&r.path, None, 0));
                problem.status = InputStatus::Incomplete;
                problem.errors.push(why);
                self.runs[run] = Run::Whole(Vec::new().into_iter());
            }
        }
    }

    /// Warnings found so far (a computer in two reports, findings out of order), each once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// After the last finding: every run's inputs, in the order the reports were named, then the
    /// reports that could not be read (completely), as inputs with problems. The computers the
    /// inputs are of are checked against the other reports' too (a computer with no finding is
    /// still a computer run twice).
    pub fn finish(&mut self) -> Vec<InputReport> {
        let mut inputs = Vec::new();
        let mut problems = Vec::new();
        for report in 0..self.reports.len() {
            let names: Vec<String> = self.reports[report]
                .inputs
                .iter()
                .filter_map(|i| i.log.as_ref())
                .map(|l| l.computer.clone())
                .filter(|c| !c.is_empty())
                .collect();
            self.note_computers(report, names.iter().map(String::as_str));
        }
        for r in &mut self.reports {
            inputs.append(&mut r.inputs);
            problems.extend(r.problem.take());
        }
        inputs.extend(problems);
        inputs
    }
}

impl Iterator for Merge {
    type Item = Finding;

    fn next(&mut self) -> Option<Finding> {
        let Reverse((_, run)) = self.heap.pop()?;
        let f = self.pending[run].take();
        self.advance(run);
        f
    }
}

/// One line, at most [`MAX_LINE`] bytes: a longer one is an error, not a reason to grow.
fn read_line<R: BufRead>(reader: &mut R, into: &mut Vec<u8>) -> io::Result<usize> {
    let n = io::Read::take(&mut *reader, MAX_LINE as u64 + 1).read_until(b'\n', into)?;
    if into.len() > MAX_LINE {
        return Err(io::Error::other(format!(
            "a line longer than {} MiB: not a report evtriage wrote",
            MAX_LINE >> 20
        )));
    }
    Ok(n)
}
