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

/// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (v2 and v3 alike: the sixteenth option);
/// `libmimalloc-sys` does not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system after 2 ms instead of mimalloc's 10: a large input's
/// reading frees its blocks and kept events' batches as fast as it makes them, and a 10 ms delay
/// held 20-30 MiB of freed pages at the peak (issue 24: memory flat at any size). 0 (at once)
/// doubled the time of the 5,000-host fleet, which frees many small things. Measured in
/// README's performance section. An environment variable `MIMALLOC_PURGE_DELAY` still wins.
fn return_freed_memory_sooner() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options, which it reads on each purge; any value is valid.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 2) };
    }
}

fn main() -> ExitCode {
    return_freed_memory_sooner();
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
