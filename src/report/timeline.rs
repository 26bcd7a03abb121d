//! A computer's incident timeline as inline SVG for the HTML report: one lane per part of the
//! story (the failure, why, what it did, what followed, restores, context), one mark per evidence
//! record at its time, its description as the mark's tooltip. Everything from a log goes through
//! [`html`].

use super::escape::html;
use crate::diagnosis::finding::EvidenceRef;
use crate::diagnosis::signature::Role;
use chrono::{DateTime, Utc};

/// What one mark shows.
pub struct Mark {
    pub time: DateTime<Utc>,
    pub role: Role,
    pub label: String,
}

impl Mark {
    pub fn of(e: &EvidenceRef) -> Mark {
        Mark {
            time: e.time,
            role: e.role,
            label: format!(
                "{} {}: {} ({}#{})",
                e.provider, e.event_id, e.describe, e.file, e.record_id
            ),
        }
    }
}

const LANES: &[(Role, &str, &str)] = &[
    (Role::Effect, "Services stopped, disabled", "#b45309"),
    (Role::Anchor, "The install and its failure", "#b91c1c"),
    (Role::Cause, "Files in use", "#7c3aed"),
    (Role::Impact, "Starts refused", "#be123c"),
    (Role::Recovery, "Restores, later installs", "#15803d"),
    (Role::Context, "Context", "#475569"),
];

/// The SVG, or nothing when there is nothing to draw.
pub fn svg(marks: &[Mark]) -> String {
    let (Some(first), Some(last)) = (
        marks.iter().map(|m| m.time).min(),
        marks.iter().map(|m| m.time).max(),
    ) else {
        return String::new();
    };
    let lanes: Vec<&(Role, &str, &str)> = LANES
        .iter()
        .filter(|(r, _, _)| marks.iter().any(|m| m.role == *r))
        .collect();
    const LEFT: f64 = 210.0;
    const WIDTH: f64 = 960.0;
    const LANE: f64 = 28.0;
    const TOP: f64 = 8.0;
    let plot = WIDTH - LEFT - 20.0;
    let span = (last - first).num_milliseconds().max(1) as f64;
    let height = TOP + LANE * lanes.len() as f64 + 30.0;
    let mut s = format!(
        "<svg class=\"timeline\" role=\"img\" aria-label=\"Incident timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\">"
    );
    for (i, (role, name, color)) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64 + LANE / 2.0;
        s.push_str(&format!(
            "\n<text x=\"0\" y=\"{:.1}\" class=\"lane\">{name}</text><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"rule\"/>",
            y + 4.0,
            LEFT + plot
        ));
        for m in marks.iter().filter(|m| m.role == *role) {
            let x = LEFT + plot * (m.time - first).num_milliseconds() as f64 / span;
            s.push_str(&format!(
                "\n<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{color}\"><title>{} {}</title></circle>",
                super::time(m.time),
                html(&m.label)
            ));
        }
    }
    let axis = TOP + LANE * lanes.len() as f64 + 18.0;
    s.push_str(&format!(
        "\n<text x=\"{LEFT}\" y=\"{axis:.1}\" class=\"axis\">{} UTC</text><text x=\"{:.1}\" y=\"{axis:.1}\" class=\"axis\" text-anchor=\"end\">{} UTC</text></svg>",
        super::time(first),
        LEFT + plot,
        super::time(last)
    ));
    s
}
