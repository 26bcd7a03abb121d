//! The fleet at a glance: one row per computer and finding, worst first, that the table, Markdown
//! and HTML reports open with when findings span more than one computer (and `--summary` prints
//! alone). Rows hold log text raw; each writer escapes it for its own place.

use crate::diagnosis::finding::{Finding, Status};
use crate::diagnosis::signature::Severity;

#[derive(Debug, Clone)]
pub struct Row {
    pub computer: String,
    pub title: String,
    pub signature: String,
    pub severity: Severity,
    pub status: Status,
    pub action_required: bool,
    /// The KB number when there is one, else the update's title or the product.
    pub update: Option<String>,
    /// "powershell, mmc": each process once, by name (the finding gives the PIDs).
    pub held_by: Option<String>,
    pub services_still_disabled: usize,
    pub services: usize,
    /// A log that would say which services are disabled was not read.
    pub services_unknown: bool,
}

impl Row {
    pub fn of(f: &Finding) -> Row {
        let mut held: Vec<String> = Vec::new();
        for l in &f.locked_files {
            let p = match (&l.process, l.pid) {
                (Some(p), _) => p.clone(),
                (None, Some(pid)) => format!("PID {pid}"),
                (None, None) => continue,
            };
            if !held.contains(&p) {
                held.push(p);
            }
        }
        Row {
            computer: f.computer.clone(),
            title: f.title.clone(),
            signature: f.signature.clone(),
            severity: f.severity,
            status: f.status,
            action_required: f.action_required,
            update: f
                .update
                .kb
                .clone()
                .or_else(|| f.update.title.clone())
                .or_else(|| f.update.product.clone()),
            held_by: (!held.is_empty()).then(|| held.join(", ")),
            services_still_disabled: f.services.iter().filter(|s| s.still_disabled).count(),
            services: f.services.len(),
            services_unknown: !f.unchecked.is_empty() && f.services.is_empty(),
        }
    }

    /// What the engineer does next, in a word or two.
    pub fn action(&self) -> &'static str {
        match (
            self.action_required,
            self.services_still_disabled > 0 || self.services_unknown,
        ) {
            (true, true) if self.services_unknown => "check services",
            (true, true) => "restore services",
            (true, false) => "act",
            (false, _) => "none",
        }
    }

    /// "3 of 14", "unknown" when the log that says was not read, or "" when the finding has no
    /// services.
    pub fn still_disabled(&self) -> String {
        if self.services_unknown {
            "unknown".into()
        } else if self.services == 0 {
            String::new()
        } else {
            format!("{} of {}", self.services_still_disabled, self.services)
        }
    }

    pub fn severity_word(&self) -> &'static str {
        match (self.severity, self.action_required) {
            (Severity::Error, true) => "error",
            (Severity::Warning, true) => "warning",
            (Severity::Error | Severity::Warning, false) => "resolved",
            (Severity::Info, _) => "info",
        }
    }

    /// Smaller sorts first: what needs action, errors before warnings, unresolved before
    /// resolved, more services still disabled first, then by computer.
    fn rank(&self) -> (bool, u8, u8, std::cmp::Reverse<usize>) {
        let severity = match self.severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Info => 2,
        };
        let status = match self.status {
            Status::Unresolved => 0,
            Status::PartiallyResolved => 1,
            Status::Resolved => 2,
            Status::Informational => 3,
        };
        (
            !self.action_required,
            severity,
            status,
            std::cmp::Reverse(self.services_still_disabled),
        )
    }
}

/// The rows, worst first; ties keep computer order (case-insensitive), then report order.
pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| {
        a.rank()
            .cmp(&b.rank())
            .then_with(|| a.computer.to_lowercase().cmp(&b.computer.to_lowercase()))
    });
    rows
}

/// Whether the report opens with the overview: findings on more than one computer.
pub fn wanted(rows: &[Row]) -> bool {
    rows.iter()
        .any(|r| !r.computer.eq_ignore_ascii_case(&rows[0].computer))
}
