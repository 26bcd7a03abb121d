//! A computer's incident timeline as inline SVG for the HTML report: one lane per part of the
//! story (the failure, why, what it did, what followed, restores, context), one mark per evidence
//! record at its time, its time and event as the mark's tooltip (the evidence table below has the
//! rest). Everything from a log goes through
//! [`push_html`].

use super::escape::push_html;
use crate::diagnosis::finding::EvidenceRef;
use crate::diagnosis::signature::Role;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// What one mark shows.
pub struct Mark {
    pub time: DateTime<Utc>,
    pub role: Role,
    /// Its tooltip, escaped for the page.
    pub label: String,
}

impl Mark {
    pub fn of(e: &EvidenceRef) -> Mark {
        // Short: the evidence table under the timeline has the rest of each record.
        let mut label = String::with_capacity(48);
        push_html(&mut label, &e.provider);
        label.push(' ');
        label.push_str(&e.event_id.to_string());
        Mark {
            time: e.time,
            role: e.role,
            label,
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
    // Whole pixels: a fleet's page draws hundreds of thousands of marks.
    const LEFT: i64 = 210;
    const WIDTH: i64 = 960;
    const LANE: i64 = 28;
    const TOP: i64 = 8;
    let plot = WIDTH - LEFT - 20;
    let span = i128::from((last - first).num_milliseconds().max(1));
    let height = TOP + LANE * lanes.len() as i64 + 30;
    let mut s = String::with_capacity(256 + marks.len() * (90 + 64));
    let _ = write!(
        s,
        "<svg class=\"timeline\" role=\"img\" aria-label=\"Incident timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\">"
    );
    for (i, (role, name, color)) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as i64 + LANE / 2;
        let _ = write!(
            s,
            "\n<text x=\"0\" y=\"{}\" class=\"lane\">{name}</text><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" class=\"rule\"/>",
            y + 4,
            LEFT + plot
        );
        for m in marks.iter().filter(|m| m.role == *role) {
            let offset = i128::from((m.time - first).num_milliseconds());
            let x = LEFT + (i128::from(plot) * offset / span) as i64;
            let _ = write!(
                s,
                "\n<circle cx=\"{x}\" cy=\"{y}\" r=\"5\" fill=\"{color}\"><title>{} {}</title></circle>",
                super::time(m.time),
                m.label
            );
        }
    }
    let axis = TOP + LANE * lanes.len() as i64 + 18;
    let _ = write!(
        s,
        "\n<text x=\"{LEFT}\" y=\"{axis}\" class=\"axis\">{} UTC</text><text x=\"{}\" y=\"{axis}\" class=\"axis\" text-anchor=\"end\">{} UTC</text></svg>",
        super::time(first),
        LEFT + plot,
        super::time(last)
    );
    s
}
