//! What rendering a report costs in CPU (benches/compare.sh, section 7): reads and diagnoses the
//! logs under a folder as evtriage does, then renders the findings in each format into nothing,
//! best of three, and prints each format's time against reading, diagnosing and rendering one
//! after the other. (The evtriage binary renders while it diagnoses, on another thread; section 7
//! measures what that leaves of the cost in a whole run.)

use evtriage::diagnosis::{Collector, Diagnoser, Inputs};
use evtriage::input::{self, NoProgress};
use evtriage::report::{Format, Report, Style};
use std::time::{Duration, Instant};

// The allocator the evtriage binary uses, so that rendering costs what it costs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: render_fleet FOLDER");
        return std::process::ExitCode::from(2);
    };
    let started = Instant::now();
    let discovery = input::discover(&[dir], &mut std::io::empty(), 1);
    let diagnoser = Diagnoser::builtin();
    let collector = Collector::new(&diagnoser);
    let inputs = input::read_all(&discovery.files, &collector, &NoProgress);
    let names = Inputs::of_reports(&inputs);
    let findings = diagnoser.diagnose(collector.into_matched(), &names);
    let run = started.elapsed();
    let report = Report::new(findings, inputs);
    println!(
        "   read and diagnosed {} logs, {} findings: {:.2} s",
        names.names.len(),
        report.findings.len(),
        run.as_secs_f64()
    );
    for (name, format) in [
        ("jsonl", Format::Jsonl),
        ("table", Format::Table),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
    ] {
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                report
                    .write(format, &mut std::io::sink(), Style::plain())
                    .expect("writing to nothing does not fail");
                t.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO);
        let share = 100.0 * best.as_secs_f64() / (run + best).as_secs_f64();
        println!(
            "   {name}: rendered in {:.2} s, {share:.0}% of reading, diagnosing and rendering one after the other",
            best.as_secs_f64()
        );
    }
    std::process::ExitCode::SUCCESS
}
