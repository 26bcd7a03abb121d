//! Every signature's fixtures (`[fixtures]` in `signatures/*.toml`): each `match` log gives a
//! finding of that signature, each `no_match` log gives none. A fixture is a sample bundle or one
//! of its logs, a file of `../shared/corpus` (skipped, saying so, where the corpus is absent), or
//! `gen:<name>`, written by `evtriage_gen::fixtures`.

mod support;

use std::path::{Path, PathBuf};
use support::{diagnose_files, diagnoser, root};

/// The .evtx files a fixture names, kept alive in `_dir` when generated.
fn logs_of(fixture: &str, dir: &Path) -> Option<Vec<PathBuf>> {
    if let Some(name) = fixture.strip_prefix("gen:") {
        let bundle = evtriage_gen::fixtures::fixture(name).unwrap_or_else(|| {
            panic!(
                "gen:{name} is not one of {:?}",
                evtriage_gen::fixtures::NAMES
            )
        });
        let out = dir.join(name);
        std::fs::create_dir_all(&out).unwrap();
        evtriage_gen::fixtures::write(&bundle, &out).unwrap();
        return Some(support::evtx_files(&out));
    }
    let path = root().join(fixture);
    if fixture.starts_with("../shared/") && !path.exists() {
        eprintln!("skipped: {fixture} (the shared corpus is not beside this checkout)");
        return None;
    }
    assert!(path.exists(), "fixture {fixture} does not exist");
    Some(if path.is_dir() {
        support::evtx_files(&path)
    } else {
        vec![path]
    })
}

#[test]
fn every_signature_finds_what_it_must_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for sig in diagnoser().signatures() {
        let id = &sig.def.id;
        let fx = &sig.def.fixtures;
        assert!(
            !fx.must_match.is_empty() && !fx.no_match.is_empty(),
            "{id}: every signature has fixtures that must match and must not"
        );
        for (fixture, must) in fx
            .must_match
            .iter()
            .map(|f| (f, true))
            .chain(fx.no_match.iter().map(|f| (f, false)))
        {
            let Some(logs) = logs_of(fixture, dir.path()) else {
                continue;
            };
            let refs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
            let found = diagnose_files(&refs)
                .iter()
                .filter(|f| f.signature == *id)
                .count();
            assert_eq!(
                found > 0,
                must,
                "{id} on {fixture}: {found} finding(s), expected {}",
                if must { "some" } else { "none" }
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} fixtures checked");
}

#[test]
fn generated_fixtures_are_all_named() {
    for name in evtriage_gen::fixtures::NAMES {
        assert!(evtriage_gen::fixtures::fixture(name).is_some(), "{name}");
    }
}
