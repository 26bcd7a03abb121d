//! One test per correlation rule, on a small signature and events written for it: incidents by
//! gap, cluster keys, windows, joins, required and excluding evidence, status and restores, what is
//! reported, priority and consumption, confidence, and the caps.

use crate::diagnosis::finding::{ConfidenceLevel, Status};
use crate::diagnosis::signature::Signature;
use crate::diagnosis::{Diagnoser, Finding};
use crate::event::{Event, Field, Payload};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// A signature over provider "P": anchors are event 1 (`product`, `service`), causes event 2
/// (`pid`, `product`), effects event 3 (service disabled), recoveries event 4 (service restored),
/// exclusions event 5. `extra` is appended to the file (status, report_when, …).
fn signature(id: &str, priority: u32, gap: &str, extra: &str) -> Signature {
    let text = format!(
        r#"
id = "{id}"
title = "t"
severity = "error"
priority = {priority}
summary = "s"
requires = [["anchor"]]
{extra}
[incident]
gap = "{gap}"

[[evidence]]
id = "failed"
role = "anchor"
describe = "the failure"
provider = "P"
event_ids = [1]
fields = {{ product = "param1", service = "param2" }}
cluster_key = "product"

[[evidence]]
id = "in_use"
role = "cause"
describe = "a file in use"
provider = "P"
event_ids = [2]
fields = {{ pid = "param1", product = "param2" }}
window = {{ before = "10m", after = "1m" }}
join = [{{ field = "product", to = "anchor.product" }}]

[[evidence]]
id = "disabled"
role = "effect"
describe = "a service disabled"
provider = "P"
event_ids = [3]
fields = {{ service = "param1" }}
window = {{ before = "10m", after = "10m" }}

[[evidence]]
id = "restored"
role = "recovery"
describe = "a service restored"
provider = "P"
event_ids = [4]
fields = {{ service = "param1" }}
window = {{ before = "10m", after = "end" }}
join = [{{ field = "service", to = "disabled.service" }}]

[[evidence]]
id = "excluded"
role = "exclusion"
describe = "a reason not to report"
provider = "P"
event_ids = [5]
fields = {{ product = "param1" }}
window = {{ before = "10m", after = "10m" }}
"#
    );
    Signature::from_toml("rules.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

const T0: &str = "2011-11-09T03:00:00Z";

fn event(id: u16, minutes: i64, params: &[&str]) -> Event {
    let time: DateTime<Utc> =
        DateTime::parse_from_rfc3339(T0).unwrap().to_utc() + Duration::minutes(minutes);
    Event {
        source: 0,
        record_id: (minutes * 10 + i64::from(id)) as u64,
        header_record_id: None,
        time,
        computer: Arc::from("EX01"),
        channel: Arc::from("Application"),
        provider: Arc::from("P"),
        event_id: id,
        qualifiers: None,
        level: None,
        user_sid: None,
        process_id: None,
        payload: Payload {
            fields: params
                .iter()
                .enumerate()
                .map(|(i, v)| Field {
                    name: Some(format!("param{}", i + 1)),
                    value: Some(v.to_string()),
                })
                .collect(),
            binary: None,
            user_data: None,
        },
        from_text_log: false,
    }
}

fn diagnose(signatures: Vec<Signature>, events: Vec<Event>) -> Vec<Finding> {
    let d = Diagnoser::new(signatures).unwrap();
    let matched = events
        .into_iter()
        .filter_map(|e| d.match_built(e))
        .collect();
    d.diagnose(
        matched,
        &crate::diagnosis::Inputs::named(vec!["log.evtx".to_string()]),
    )
}

fn one(extra: &str, events: Vec<Event>) -> Vec<Finding> {
    diagnose(vec![signature("rule", 1, "30m", extra)], events)
}

#[test]
fn anchors_within_the_gap_are_one_incident_and_beyond_it_two() {
    let near = one("", vec![event(1, 0, &["X", ""]), event(1, 20, &["X", ""])]);
    assert_eq!(near.len(), 1);
    let far = one("", vec![event(1, 0, &["X", ""]), event(1, 45, &["X", ""])]);
    assert_eq!(far.len(), 2);
}

#[test]
fn a_different_cluster_key_starts_its_own_incident() {
    let f = one("", vec![event(1, 0, &["X", ""]), event(1, 1, &["Y", ""])]);
    assert_eq!(f.len(), 2);
    let same = one("", vec![event(1, 0, &["X", ""]), event(1, 1, &["x", ""])]);
    assert_eq!(same.len(), 1, "cluster keys compare without case");
}

#[test]
fn evidence_counts_only_inside_its_window() {
    // Causes may come up to 10 minutes before the anchor and 1 after (with 2 s of slack).
    let inside = one(
        "",
        vec![event(2, -9, &["3412", "X"]), event(1, 0, &["X", ""])],
    );
    assert_eq!(inside[0].locked_files.len(), 1);
    let before = one(
        "",
        vec![event(2, -11, &["3412", "X"]), event(1, 0, &["X", ""])],
    );
    assert!(before[0].locked_files.is_empty());
    let after = one(
        "",
        vec![event(1, 0, &["X", ""]), event(2, 2, &["3412", "X"])],
    );
    assert!(after[0].locked_files.is_empty());
}

#[test]
fn joined_evidence_must_name_the_same_value() {
    let f = one(
        "",
        vec![
            event(2, -1, &["3412", "X"]),
            event(2, -1, &["4388", "Other product"]),
            event(1, 0, &["X", ""]),
        ],
    );
    let pids: Vec<_> = f[0].locked_files.iter().map(|l| l.pid).collect();
    assert_eq!(pids, [Some(3412)]);
}

#[test]
fn an_incident_without_required_evidence_is_no_finding() {
    // `requires = [["anchor"], ["disabled"]]`: an anchor alone is not enough.
    let mut s = signature("rule", 1, "30m", "");
    s.def.requires.push(vec!["disabled".into()]);
    assert!(diagnose(vec![s.clone()], vec![event(1, 0, &["X", ""])]).is_empty());
    assert_eq!(
        diagnose(
            vec![s],
            vec![event(1, 0, &["X", ""]), event(3, 1, &["Svc"])]
        )
        .len(),
        1
    );
}

#[test]
fn exclusion_evidence_drops_the_incident() {
    let f = one("", vec![event(1, 0, &["X", ""]), event(5, 2, &["X"])]);
    assert!(f.is_empty());
}

const STATUS: &str = r#"
[status]
each = "disabled"
key = "service"
restored_by = "restored"
"#;

#[test]
fn status_follows_what_was_restored_later() {
    let base = || {
        vec![
            event(1, 0, &["X", ""]),
            event(3, 1, &["A"]),
            event(3, 1, &["B"]),
        ]
    };
    let none = one(STATUS, base());
    assert_eq!(none[0].status, Status::Unresolved);
    assert!(none[0].services.iter().all(|s| s.still_disabled));
    let mut some = base();
    some.push(event(4, 60, &["a"]));
    let partly = one(STATUS, some.clone());
    assert_eq!(
        partly[0].status,
        Status::PartiallyResolved,
        "keys compare without case"
    );
    some.push(event(4, 61, &["B"]));
    let all = one(STATUS, some);
    assert_eq!(all[0].status, Status::Resolved);
    // A restore of another service restores nothing here.
    let mut other = base();
    other.push(event(4, 60, &["C"]));
    assert_eq!(one(STATUS, other)[0].status, Status::Unresolved);
}

#[test]
fn report_when_unresolved_keeps_quiet_about_resolved_incidents() {
    let extra = format!("report_when = \"unresolved\"\n{STATUS}");
    let events = vec![
        event(1, 0, &["X", ""]),
        event(3, 1, &["A"]),
        event(4, 60, &["A"]),
    ];
    assert!(one(&extra, events.clone()).is_empty());
    assert_eq!(one(STATUS, events).len(), 1);
}

#[test]
fn an_event_explained_by_a_higher_priority_signature_anchors_nothing_else() {
    let first = signature("first", 1, "30m", "");
    let second = signature("second", 2, "30m", "");
    let f = diagnose(vec![second, first], vec![event(1, 0, &["X", ""])]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].signature, "first");
}

#[test]
fn confidence_is_the_highest_level_whose_groups_all_hold() {
    let extra = r#"
[confidence]
high = [["in_use"], ["disabled"]]
medium = [["in_use", "disabled"]]
"#;
    let level = |events| one(extra, events)[0].confidence.level;
    assert_eq!(level(vec![event(1, 0, &["X", ""])]), ConfidenceLevel::Low);
    assert_eq!(
        level(vec![event(1, 0, &["X", ""]), event(3, 1, &["A"])]),
        ConfidenceLevel::Medium
    );
    assert_eq!(
        level(vec![
            event(2, -1, &["3412", "X"]),
            event(1, 0, &["X", ""]),
            event(3, 1, &["A"])
        ]),
        ConfidenceLevel::High
    );
}

#[test]
fn long_lists_are_capped_and_say_what_they_left_out() {
    let mut events = vec![event(1, 0, &["X", ""])];
    for i in 0..620 {
        events.push(event(3, 1, &[&format!("Svc{i}")]));
    }
    let f = one(STATUS, events);
    assert_eq!(f[0].services.len(), 500);
    assert!(
        f[0].left_out
            .iter()
            .any(|l| l.starts_with("120 more services")),
        "{:?}",
        f[0].left_out
    );
    assert!(
        f[0].left_out
            .iter()
            .any(|l| l.starts_with("420 more events")),
        "{:?}",
        f[0].left_out
    );
}
