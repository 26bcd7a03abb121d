//! Counts the records of an .evtx file with the evtx crate, checksums validated; exits non-zero on
//! the first error. Used by benches/check-generated.sh to cross-check generated logs.

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: count_records FILE.evtx");
        return std::process::ExitCode::from(2);
    };
    let settings = evtx::ParserSettings::new()
        .validate_checksums(true)
        .num_threads(0);
    let mut parser = match evtx::EvtxParser::from_path(&path) {
        Ok(p) => p.with_configuration(settings),
        Err(e) => {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut n = 0u64;
    for r in parser.records_json_bytes() {
        if let Err(e) = r {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
        n += 1;
    }
    println!("{n}");
    std::process::ExitCode::SUCCESS
}
