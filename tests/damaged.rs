//! Damaged, hostile and odd input (issue 5; over 700 lines: a test per sentence of the README's
//! "Damaged input" section, in its order): for each case, no panic and no hang, a message on
//! stderr naming the file and what is wrong, what can be read is read and diagnosed, the other inputs
//! are analyzed as if the bad one were not there, the `inputs` entry says how far the file was read,
//! and the exit code follows the contract (0 nothing to act on, 1 something to act on, 2 no readable
//! input, 3 nothing to act on but some input not read completely). Each sentence of the README's
//! "Damaged input" section is proved here.

mod support;

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;

/// Generous: these cases take well under a second; the bound only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(120);

struct Run {
    report: Value,
    code: i32,
    stderr: String,
}

fn run(paths: &[&Path]) -> Run {
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .current_dir(root())
        .args(["--format", "json"])
        .args(paths)
        .timeout(HANG)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "evtriage panicked on {paths:?}:\n{stderr}"
    );
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed (a hang?) on {paths:?}: {stderr}"));
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}) on {paths:?}: {stderr}"));
    Run {
        report,
        code,
        stderr,
    }
}

impl Run {
    fn input(&self, name: &str) -> &Value {
        self.report["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no input {name} in {}", self.report["inputs"]))
    }

    fn signatures(&self) -> Vec<String> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["signature"].as_str().unwrap().to_string())
            .collect()
    }
}

fn kb_bundle() -> PathBuf {
    samples().join("kb940006-rollup-failed")
}

/// The bundle's System.evtx: the good input that every damaged one is read beside. On its own it
/// is diagnosed as services left disabled (the Application log is what names the rollup).
fn good_system() -> PathBuf {
    kb_bundle().join("System.evtx")
}

/// The findings of the good input alone, which a damaged neighbour must not change.
fn good_alone() -> Vec<String> {
    run(&[&good_system()]).signatures()
}

/// A damaged file read beside the good one: the good one is analyzed as if alone, the damaged one
/// is named on stderr, and its entry is not `complete`.
fn beside_good(bad: &Path) -> Run {
    let r = run(&[bad, &good_system()]);
    let name = bad.file_name().unwrap().to_str().unwrap();
    assert_eq!(r.input("System.evtx")["status"], "complete");
    assert_eq!(r.signatures(), good_alone(), "{name} changed the diagnosis");
    assert!(
        r.stderr.contains(name),
        "stderr does not name {name}:\n{}",
        r.stderr
    );
    assert_ne!(r.input(name)["status"], "complete", "{name}");
    assert_eq!(r.code, 1, "the good input still has a finding to act on");
    r
}

#[test]
fn broken_files_of_the_evtx_crate_are_read_as_far_as_they_go() {
    let Some(corpus) = shared("corpus") else {
        return;
    };
    let dir = corpus.join("evtx-crate");
    // (file, status, at least this many records read, what stderr or the entry says, the real
    // failures in it)
    let cases: [(&str, &str, u64, &str, &[&str]); 6] = [
        (
            "sample_with_a_bad_chunk_magic.evtx",
            "incomplete",
            300,
            "chunk",
            &[],
        ),
        (
            "security_bad_string_cache.evtx",
            "incomplete",
            2000,
            "CRC32",
            &[],
        ),
        (
            "sample-with-zero-data-size-event.evtx",
            "incomplete",
            400,
            "record",
            &[],
        ),
        ("Application_no_crc32.evtx", "complete", 17, "", &[]),
        (
            "2-vss_7-System.evtx",
            "complete",
            1100,
            "header counts 4 chunks",
            &["windows-update-failed", "windows-update-failed"],
        ),
        ("MSExchange_Management_wec.evtx", "complete", 1, "", &[]),
    ];
    for (file, status, min_read, says, failures) in cases {
        let path = dir.join(file);
        let r = run(&[&path]);
        let entry = r.input(file);
        assert_eq!(entry["status"], status, "{file}: {entry}");
        assert!(
            entry["records_read"].as_u64().unwrap() >= min_read,
            "{file}: {entry}"
        );
        let text = format!("{}{entry}", r.stderr);
        assert!(text.contains(says), "{file}: no '{says}' in {text}");
        assert_eq!(r.signatures(), failures, "{file}");
        if r.report["summary"]["action_required"].as_u64() > Some(0) {
            assert_eq!(r.code, 1, "{file}");
        } else if status == "complete" {
            assert_eq!(r.code, 0, "{file}");
        } else {
            assert_eq!(r.code, 3, "{file}");
            assert!(r.stderr.contains(file), "{file}: {}", r.stderr);
        }
    }
    // The dirty log's undercounting header is reported, and every record is read anyway.
    let r = run(&[&dir.join("2-vss_7-System.evtx")]);
    assert_eq!(
        r.input("2-vss_7-System.evtx")["records_read"].as_u64(),
        Some(evtx_crate_records(&dir.join("2-vss_7-System.evtx")))
    );
}

/// Records the evtx crate's own reader yields, errors skipped.
fn evtx_crate_records(path: &Path) -> u64 {
    let settings = evtx::ParserSettings::new().num_threads(1);
    let mut parser = evtx::EvtxParser::from_path(path)
        .unwrap()
        .with_configuration(settings);
    parser.records().filter(Result::is_ok).count() as u64
}

fn cut(src: &Path, len: u64, dir: &Path, name: &str) -> PathBuf {
    let bytes = fs::read(src).unwrap();
    let path = dir.join(name);
    fs::write(&path, &bytes[..len as usize]).unwrap();
    path
}

#[test]
fn truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    let app = kb_bundle().join("Application.evtx");
    let size = fs::metadata(&app).unwrap().len();
    assert_eq!(size, 4096 + 2 * 65536, "the sample has two chunks");

    // Inside the file header: nothing to read.
    let r = beside_good(&cut(&app, 100, dir.path(), "in-header.evtx"));
    assert_eq!(r.input("in-header.evtx")["status"], "unreadable");
    assert!(r.stderr.contains("header"), "{}", r.stderr);

    // Inside the first chunk's header.
    let r = beside_good(&cut(&app, 4096 + 100, dir.path(), "in-chunk-header.evtx"));
    assert!(r.stderr.contains("offset 4096"), "{}", r.stderr);

    // Inside a record of the second chunk: the whole first chunk and the records of the second
    // before the cut are read, and diagnosed: the rollup failure is in the first chunk.
    let path = cut(&app, 4096 + 65536 + 30_000, dir.path(), "in-record.evtx");
    let r = run(&[&path, &good_system()]);
    let entry = r.input("in-record.evtx");
    assert_eq!(entry["status"], "incomplete", "{entry}");
    assert!(entry["errors"].to_string().contains("truncated"), "{entry}");
    assert!(r.stderr.contains("offset 69632"), "{}", r.stderr);
    let whole = run(&[&app]).input("Application.evtx")["records_read"]
        .as_u64()
        .unwrap();
    let read = entry["records_read"].as_u64().unwrap();
    assert!(read > whole / 2 && read < whole, "{read} of {whole}");
    assert!(
        r.signatures()
            .contains(&"exchange-rollup-file-in-use".to_string()),
        "{:?}",
        r.signatures()
    );
    assert_eq!(r.code, 1);
}

/// Issue 14 (7): a copy rounded up with zero bytes after its last chunk was read whole; the
/// padding is a note, not damage, and the exit code says nothing is wrong. Junk after the last
/// chunk still is damage.
#[test]
fn zero_padding_after_the_last_chunk_is_a_note_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = samples().join("healthy/System.evtx");
    let whole = run(&[&healthy]).input("System.evtx")["records_read"].clone();
    let bytes = fs::read(&healthy).unwrap();
    for pad in [1usize, 1000, 65_535, 65_536 + 3392] {
        let name = format!("padded-{pad}.evtx");
        let path = dir.path().join(&name);
        let mut padded = bytes.clone();
        padded.resize(bytes.len() + pad, 0);
        fs::write(&path, &padded).unwrap();
        let r = run(&[&path]);
        let entry = r.input(&name);
        assert_eq!(entry["status"], "complete", "{pad}: {entry}");
        assert_eq!(entry["records_read"], whole, "{pad}");
        assert_eq!(entry["chunks_damaged"], 0, "{pad}");
        assert_eq!(r.code, 0, "{pad}: {}", r.stderr);
        if pad % 65_536 != 0 {
            assert!(
                entry["notes"]
                    .to_string()
                    .contains("zero bytes after its last chunk"),
                "{entry}"
            );
        }
    }
    let path = dir.path().join("junk-tail.evtx");
    let mut junk = bytes.clone();
    junk.extend_from_slice(&[0u8, 0, 7, 0]);
    fs::write(&path, &junk).unwrap();
    let r = run(&[&path]);
    assert_eq!(r.input("junk-tail.evtx")["status"], "incomplete");
    assert_eq!(r.code, 3);
}

#[test]
fn zero_length_random_bytes_and_text_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.evtx");
    fs::write(&empty, b"").unwrap();
    let mut noise = Vec::with_capacity(300_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push(x as u8);
    }
    let random = dir.path().join("random.evtx");
    fs::write(&random, &noise).unwrap();
    // Random bytes behind a valid signature get past recognition and into the parser.
    let mut fake = b"ElfFile\0".to_vec();
    fake.extend_from_slice(&noise);
    let signed = dir.path().join("random-with-signature.evtx");
    fs::write(&signed, &fake).unwrap();
    let text = dir.path().join("notes.evtx");
    fs::write(&text, "Application log exported by hand\r\n".repeat(500)).unwrap();

    for bad in [&empty, &random, &signed, &text] {
        beside_good(bad);
        // Alone, none of them is a readable input.
        let alone = run(&[bad]);
        assert_eq!(alone.code, 2, "{}: {}", bad.display(), alone.stderr);
    }
    let r = run(&[&empty]);
    assert!(r.stderr.contains("empty"), "{}", r.stderr);
}

/// Flip bytes in the records of both chunks: whatever the damage, evtriage reads on, reports the
/// checksum mismatch with its chunk and offset, and still diagnoses the good neighbour.
#[test]
fn bit_flips_in_chunk_data() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs::read(kb_bundle().join("Application.evtx")).unwrap();
    let mut x: u64 = 940_006;
    for round in 0..24 {
        let mut bytes = app.clone();
        for _ in 0..(1 + round % 6) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let chunk = (x % 2) as usize;
            let at = 4096 + chunk * 65536 + 512 + (x >> 8) as usize % (65536 - 512);
            bytes[at] ^= 1 << ((x >> 40) % 8);
        }
        let path = dir.path().join(format!("flipped-{round}.evtx"));
        fs::write(&path, &bytes).unwrap();
        let r = run(&[&path, &good_system()]);
        assert_eq!(r.input("System.evtx")["status"], "complete");
        let entry = r.input(&format!("flipped-{round}.evtx"));
        if entry["status"] != "complete" {
            assert!(
                r.stderr.contains(&format!("flipped-{round}.evtx")),
                "{}",
                r.stderr
            );
        }
        // A flip in record data fails its chunk's checksum, which is reported with the offset.
        assert!(
            entry["errors"].to_string().contains("CRC32")
                || entry["errors"].to_string().contains("offset"),
            "round {round}: {entry}"
        );
        assert!(matches!(r.code, 1 | 3), "round {round}: {}", r.code);
    }
}

/// A 5 GiB sparse file that holds a header and nothing else is read in time proportional to its
/// size (the chunks are all zero and skipped) and reported as holding no records.
#[test]
fn five_gib_sparse_file_with_only_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.evtx");
    let header = fs::read(kb_bundle().join("Application.evtx")).unwrap()[..4096].to_vec();
    fs::write(&path, &header).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    if f.set_len(5 << 30).is_err() {
        eprintln!("skipped: this file system cannot hold a 5 GiB sparse file");
        return;
    }
    drop(f);
    let r = run(&[&path, &good_system()]);
    let entry = r.input("sparse.evtx");
    assert_eq!(entry["records_read"], 0, "{entry}");
    assert_eq!(r.signatures(), good_alone());
    assert_eq!(r.code, 1);
}

/// Chunks of `path`, and its file header.
fn chunks_of(path: &Path) -> (Vec<u8>, Vec<Vec<u8>>) {
    let bytes = fs::read(path).unwrap();
    let header = bytes[..4096].to_vec();
    let chunks = bytes[4096..].chunks(65536).map(<[u8]>::to_vec).collect();
    (header, chunks)
}

/// A wrapped (circular) log stores its newest chunks before its oldest ones; read in record order,
/// it gives the same diagnosis as the same log unwrapped.
#[test]
fn wrapped_circular_log() {
    let dir = tempfile::tempdir().unwrap();
    let src = kb_bundle().join("Application.evtx");
    let (header, chunks) = chunks_of(&src);
    let mut wrapped = header.clone();
    for c in chunks.iter().rev() {
        wrapped.extend_from_slice(c);
    }
    let path = dir.path().join("Application.evtx");
    fs::write(&path, &wrapped).unwrap();
    let straight = run(&[&src, &good_system()]);
    let r = run(&[&path, &good_system()]);
    assert_eq!(
        r.input("Application.evtx")["records_read"],
        straight.input("Application.evtx")["records_read"]
    );
    let summaries = |r: &Run| -> Vec<String> {
        r.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {}", f["signature"], f["status"], f["summary"]))
            .collect()
    };
    assert_eq!(summaries(&r), summaries(&straight));
    assert!(!summaries(&r).is_empty());
}

/// A log still being written while it is read: chunks appended behind evtriage's back, and a
/// chunk half written at the end. Whatever moment the read catches, no panic, and what was there
/// is read.
#[test]
fn log_growing_while_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let src = kb_bundle().join("Application.evtx");
    let (header, chunks) = chunks_of(&src);
    let path = dir.path().join("growing.evtx");
    for attempt in 0..6 {
        let mut start = header.clone();
        start.extend_from_slice(&chunks[0]);
        fs::write(&path, &start).unwrap();
        let writer = {
            let path = path.clone();
            let second = chunks[1].clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
                std::thread::sleep(Duration::from_millis(attempt * 3));
                for piece in second.chunks(4096) {
                    f.write_all(piece).unwrap();
                    f.flush().unwrap();
                }
            })
        };
        let r = run(&[&path, &good_system()]);
        writer.join().unwrap();
        let entry = r.input("growing.evtx");
        assert!(entry["records_read"].as_u64().unwrap() > 0, "{entry}");
        assert!(matches!(r.code, 1), "{}", r.stderr);
    }
}

#[test]
fn file_without_read_permission() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.evtx");
    fs::copy(kb_bundle().join("Application.evtx"), &path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::File::open(&path).is_ok() {
        eprintln!("skipped: running as a user who can read any file (root)");
        return;
    }
    let r = beside_good(&path);
    assert!(r.stderr.contains("ermission denied"), "{}", r.stderr);
}

#[test]
fn directory_symlink_loop() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    fs::copy(good_system(), logs.join("System.evtx")).unwrap();
    std::os::unix::fs::symlink(&logs, logs.join("again")).unwrap();
    let r = run(&[&logs]);
    assert_eq!(r.signatures(), good_alone());
    // The loop is reported as an input that was not read, not silently dropped.
    assert_eq!(r.report["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(r.input("again")["status"], "unreadable");
    assert!(r.stderr.contains("loop"), "{}", r.stderr);
    assert_eq!(r.code, 1);
}

#[test]
fn thousands_of_tiny_files() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3000 {
        let name = dir.path().join(format!("tiny-{i:04}.evtx"));
        match i % 3 {
            0 => fs::write(&name, b"").unwrap(),
            1 => fs::write(&name, b"ElfFile\0").unwrap(),
            _ => fs::write(&name, format!("{i}")).unwrap(),
        }
    }
    fs::copy(good_system(), dir.path().join("System.evtx")).unwrap();
    let r = run(&[dir.path()]);
    assert_eq!(r.signatures(), good_alone());
    let inputs = r.report["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3001);
    assert_eq!(
        inputs.iter().filter(|i| i["status"] == "complete").count(),
        1
    );
    assert_eq!(r.code, 1);
}

// ---------------------------------------------------------------------------------------------
// Output safety

/// The KB bundle with hostile text where the report quotes it: the holding process's image path
/// carries a C1 control (U+009B, which some terminals read as the start of an escape sequence)
/// and a right-to-left override (U+202E, which reorders what a line shows).
fn hostile_bundle(dir: &Path) -> PathBuf {
    let xml = sample_xml("kb940006-rollup-failed", "Application");
    assert!(xml.contains("powershell.exe"));
    let hostile = xml.replace("powershell.exe", "power\u{9b}31m\u{202e}exe.llehs");
    let out = dir.join("Application.evtx");
    let file = fs::File::create(&out).unwrap();
    evtriage_writer::write_xml(&hostile, file).unwrap();
    fs::copy(good_system(), dir.join("System.evtx")).unwrap();
    out
}

#[test]
fn log_text_never_reaches_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    hostile_bundle(dir.path());
    for color in ["always", "never"] {
        let out = Command::cargo_bin("evtriage")
            .unwrap()
            .args(["--format", "table", "--evidence", "--color", color])
            .arg(dir.path())
            .timeout(HANG)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("exe.llehs"), "the finding quotes the image");
        assert!(
            !text.contains('\u{9b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(
            text.contains("\\u{9b}") && text.contains("\\u{202e}"),
            "{text}"
        );
        // The only escape sequences are evtriage's own colours.
        if color == "never" {
            assert!(!text.contains('\u{1b}'));
        }
    }
    // JSON carries the text exactly, escaped as JSON escapes it.
    let r = run(&[dir.path()]);
    assert!(
        r.report
            .to_string()
            .contains("power\\u009b31m\u{202e}exe.llehs")
            || r.report
                .to_string()
                .contains("power\u{9b}31m\u{202e}exe.llehs"),
        "JSON keeps the text"
    );
    let raw = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap()
        .stdout;
    let parsed: Value = serde_json::from_slice(&raw).unwrap();
    assert!(
        parsed.to_string().contains("exe.llehs"),
        "the JSON document parses back with the text"
    );
}

/// `evtriage … | head` ends quietly: a closed pipe is not an error worth a message.
#[test]
fn closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let bin = assert_cmd::cargo::cargo_bin("evtriage");
    let mut child = std::process::Command::new(bin)
        .args(["--format", "table"])
        .arg(kb_bundle())
        .arg(samples())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    let _ = stdout.read(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert!(status.code().is_some(), "ended by a signal: {status:?}");
}

/// `--output` writes a temporary file beside the target and renames it: a run that cannot write
/// leaves neither a partial report nor a stray file, and an existing report is left as it was.
#[test]
fn output_is_never_left_partial() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: the rename fails.
    let target = dir.path().join("report.json");
    fs::create_dir(&target).unwrap();
    let out = Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "json", "--output"])
        .arg(&target)
        .arg(kb_bundle())
        .timeout(HANG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("report.json"));
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
    // The parent does not exist.
    let missing = dir.path().join("no/such/dir/report.json");
    Command::cargo_bin("evtriage")
        .unwrap()
        .arg("--output")
        .arg(&missing)
        .arg(kb_bundle())
        .assert()
        .code(2);
    assert!(!missing.exists());
    // An existing report survives a run that fails before writing (a usage error).
    let existing = dir.path().join("old.json");
    fs::write(&existing, "{\"old\": true}").unwrap();
    Command::cargo_bin("evtriage")
        .unwrap()
        .args(["--format", "yaml", "--output"])
        .arg(&existing)
        .arg(kb_bundle())
        .assert()
        .code(2);
    assert_eq!(fs::read_to_string(&existing).unwrap(), "{\"old\": true}");
}

/// Issue 14 (1): the real truncated log. plaso's System2.evtx is cut 256 bytes before the end of
/// its record 284; the crate pads the cut chunk with zeros, so the record would decode with zeros
/// for its missing values. It is failed, named and not used; the 283 records before it are read.
#[test]
fn a_record_cut_by_truncation_is_lost_on_the_real_log() {
    let Some(corpus) = shared("corpus") else {
        return;
    };
    let r = run(&[&corpus.join("plaso/System2.evtx")]);
    let entry = r.input("System2.evtx");
    assert_eq!(entry["records_read"], 283, "{entry}");
    assert_eq!(entry["records_failed"], 1, "{entry}");
    assert!(
        entry["errors"]
            .to_string()
            .contains("record 284 (offset 64472 of the chunk) is cut by the end of the file"),
        "{entry}"
    );
    assert_eq!(entry["status"], "incomplete");
}

/// Issue 14 (1), the harm it does: a failed install, then its retry's 1033 cut by the end of the
/// file. Decoded from the padding, the retry's status would be 0 ("installed later") and would
/// resolve the failure; it is lost instead, and the failure stays to act on.
#[test]
fn a_cut_success_record_never_resolves_a_failure() {
    use evtriage_gen::events::{self, MsiProduct, Stamp};
    const TOOL: MsiProduct = MsiProduct {
        name: "Contoso Agent",
        version: "2.1.0",
        language: "1033",
        manufacturer: "Contoso",
        product_code: "{0D7F3E7B-6B0C-4C4B-9E5A-2B6F7C2A1D11}",
    };
    let at = |s: i64| Stamp {
        computer: "SRV01",
        time: chrono::DateTime::parse_from_rfc3339("2020-03-01T02:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::seconds(s),
    };
    let sid = "S-1-5-18";
    let mut evs = vec![
        events::msi_product_status(&at(0), sid, &TOOL, 1603, "digest"),
        events::msi_product_status(&at(60), sid, &TOOL, 0, "digest"),
    ];
    for (i, e) in evs.iter_mut().enumerate() {
        events::set_record_id(e, 1 + i as u64);
    }
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.evtx");
    evtriage_writer::write_xml(
        &evtriage_gen::samples::events_xml(&evs),
        fs::File::create(&whole).unwrap(),
    )
    .unwrap();
    let status = |path: &Path| -> (Value, Value) {
        let r = run(&[path]);
        let f = r.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["signature"] == "msi-update-failed")
            .cloned()
            .unwrap_or_else(|| panic!("no msi-update-failed: {}", r.report));
        let name = path.file_name().unwrap().to_str().unwrap();
        (f["status"].clone(), r.input(name).clone())
    };
    assert_eq!(
        status(&whole).0,
        "resolved",
        "the retry resolves it when whole"
    );
    // The last record ends where the chunk's free space begins (chunk header offset 48).
    let bytes = fs::read(&whole).unwrap();
    let free = u32::from_le_bytes(bytes[4096 + 48..4096 + 52].try_into().unwrap()) as u64;
    for short in [4u64, 12, 40] {
        let path = cut(
            &whole,
            4096 + free - short,
            dir.path(),
            &format!("cut-{short}.evtx"),
        );
        let (state, entry) = status(&path);
        assert_ne!(state, "resolved", "cut {short} bytes short: {entry}");
        assert_eq!(entry["records_failed"], 1, "{entry}");
        assert_eq!(entry["records_read"], 1, "{entry}");
    }
}

/// Issue 14 (8): records a chunk header counts but the chunk does not hold are lost, and counted.
/// The real case: the evtx crate's HelloForBusiness log, copied live, whose only chunk's header
/// counts records 1-20 while records 7-20 were never flushed (libevtx's evtxexport reads 5 of them,
/// the evtx crate 6).
#[test]
fn records_a_chunk_header_counts_but_the_file_lacks_are_lost() {
    let Some(corpus) = shared("corpus") else {
        return;
    };
    let name = "Microsoft-Windows-HelloForBusiness%4Operational.evtx";
    let r = run(&[&corpus.join("evtx-crate").join(name)]);
    let entry = r.input(name);
    assert_eq!(entry["records_read"], 6, "{entry}");
    assert_eq!(entry["records_failed"], 14, "{entry}");
    assert_eq!(entry["status"], "incomplete");
    assert!(
        entry["errors"]
            .to_string()
            .contains("its header counts records 1-20 (20); 14 of them are in no chunk"),
        "{entry}"
    );
    assert_eq!(r.code, 3);
}

/// Issue 14 (8), lost chunks: the evtx crate's sample with two chunks whose magic is broken. Their
/// records are the IDs missing between the readable chunks (45950-46727 and 46858-47627), counted
/// as failed beside the records the readable chunks' headers count but do not hold. A shadow copy
/// whose chunks come from different times jumps too, with no damage: that is a note, not a loss.
#[test]
fn records_of_lost_chunks_are_counted_from_their_neighbours_ids() {
    let Some(corpus) = shared("corpus") else {
        return;
    };
    let dir = corpus.join("evtx-crate");
    let name = "sample_with_a_bad_chunk_magic.evtx";
    let r = run(&[&dir.join(name)]);
    let entry = r.input(name);
    let errors = entry["errors"].to_string();
    for gap in [
        "records 45950-46727 (778) are missing",
        "records 46858-47627 (770) are missing",
    ] {
        assert!(errors.contains(gap), "{gap}: {entry}");
    }
    let read = entry["records_read"].as_u64().unwrap();
    let failed = entry["records_failed"].as_u64().unwrap();
    // The four readable chunks' headers count 467 records; the lost ones held the gaps.
    assert_eq!(read + failed, 467 + 778 + 770, "{entry}");

    let name = "2-vss_7-System.evtx";
    let r = run(&[&dir.join(name)]);
    let entry = r.input(name);
    assert_eq!(entry["status"], "complete", "{entry}");
    assert_eq!(entry["records_failed"], 0);
    assert!(
        entry["notes"].to_string().contains("1156-1417 (262)"),
        "{entry}"
    );
}
