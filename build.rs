//! Finds the built-in signatures: every `signatures/*.toml` is compiled into the binary, so adding
//! a signature means adding a file (`signatures/patterns.toml` holds the patterns they share).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("signatures/ is beside Cargo.toml")
        .map(|e| e.expect("signatures/ is readable").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// The signatures shipped with evtriage: every `signatures/*.toml` but the shared patterns.\n\
         pub const BUILTIN: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file names");
        if name == "patterns.toml" {
            continue;
        }
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n\n/// The patterns every signature may name (`signatures/patterns.toml`).\n");
    writeln!(
        out,
        "pub const SHARED_PATTERNS: &str = include_str!({:?});",
        dir.join("patterns.toml").display().to_string()
    )
    .unwrap();
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
