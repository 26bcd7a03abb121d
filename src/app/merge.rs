//! `evtriage merge REPORT…`: one report from many runs' JSON and JSONL reports
//! ([`evtriage::fleet`]), rendered like one run's, with its exit code.

use super::Terminal;
use super::render;
use crate::cli::MergeArgs;
use evtriage::fleet::{self, Merge};
use std::io::Write;

pub fn run(args: &MergeArgs, term: Terminal, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    if let Err(code) = render::check_targets(&args.render, &[], stderr) {
        return code;
    }
    let (files, missing) = fleet::report_files(&args.reports);
    let mut merge = Merge::open(&files);
    let mut warnings = Vec::new();
    let code = render::report(&args.render, term, stdout, stderr, |sink| {
        for f in merge.by_ref() {
            if sink(f).is_break() {
                break;
            }
        }
        let mut inputs = merge.finish();
        warnings = merge.take_warnings();
        inputs.extend(missing);
        inputs
    });
    if !args.render.quiet {
        for w in warnings {
            let _ = writeln!(stderr, "evtriage: merge: {w}");
        }
    }
    code
}
