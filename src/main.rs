//! The evtriage binary: parse the command line and run (see `evtriage --help`).

mod app;
mod cli;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

// Reading allocates a few small strings per wanted record, on every reader thread at once;
// mimalloc's per-thread free lists make that markedly cheaper than the system allocator (see
// benches/compare.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                cli::EXIT_USAGE_OR_NO_INPUT
            } else {
                0
            });
        }
    };
    let stdout_is_tty = std::io::stdout().is_terminal();
    let term = app::Terminal {
        stdout_is_tty,
        stderr_is_tty: std::io::stderr().is_terminal(),
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || (stdout_is_tty && !console_understands_escapes()),
        width: terminal_width(),
    };
    let code = app::run(
        &cli,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        // Not locked for the whole run: the progress bar draws on stderr from worker threads.
        &mut std::io::stderr(),
        term,
    );
    ExitCode::from(code)
}

/// Whether the console shows escape codes as colors: on Windows, once virtual-terminal
/// processing is turned on (it cannot be on a console older than Windows 10); elsewhere, always.
fn console_understands_escapes() -> bool {
    #[cfg(windows)]
    {
        enable_ansi_support::enable_ansi_support().is_ok()
    }
    #[cfg(not(windows))]
    {
        true
    }
}

fn terminal_width() -> Option<u16> {
    let t = comfy_table::Table::new();
    t.width()
}
