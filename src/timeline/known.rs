//! Text logs whose computer and time zone are known rather than inferred: a collection's
//! (`evtriage-manifest.json` names the computer and lists the offsets its Windows was in over
//! the span) and this computer's own with `--live`. Their local times are placed with the
//! offset in force at each moment, exactly, and no anchors are needed.

use crate::collection::manifest::{TimeZone, utc_of_local};
use chrono::{DateTime, NaiveDateTime, Utc};

/// A computer and zone for the text logs under a folder.
#[derive(Debug, Clone)]
pub struct KnownClock {
    /// The folder (as reports name it, compared with `/` for `\`, case-insensitively) whose text
    /// logs this is for: a collection's archive, or a place `--live` reads.
    pub under: String,
    /// The computer a collection's manifest names; `None` with `--live`, whose text logs are of
    /// the computer whose event logs sit beside them (their records spell its name).
    pub computer: Option<String>,
    pub zone: TimeZone,
    /// `manifest` or `live`: what placement and the computer's clock say they rest on.
    pub basis: &'static str,
}

impl KnownClock {
    /// Whether the text log at `path` is under this clock's folder.
    pub fn covers(&self, path: &str) -> bool {
        let under = normal(&self.under);
        let path = normal(path);
        !under.is_empty()
            && path.len() > under.len()
            && path.starts_with(&under)
            && matches!(path.as_bytes()[under.len()], b'/' | b'!')
    }

    /// Local minus UTC, in minutes, for a wall-clock time of this computer.
    pub fn offset_of_local(&self, local: NaiveDateTime) -> i32 {
        let utc: DateTime<Utc> = utc_of_local(&self.zone, local);
        ((local.and_utc() - utc).num_minutes()) as i32
    }
}

fn normal(path: &str) -> String {
    path.replace('\\', "/").trim_end_matches('/').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_covered() {
        let k = KnownClock {
            under: "C:\\ExchangeSetupLogs\\".into(),
            computer: Some("EX1".into()),
            zone: TimeZone::default(),
            basis: "live",
        };
        assert!(k.covers("c:\\exchangesetuplogs\\ServiceControl.log"));
        assert!(!k.covers("C:\\ExchangeSetupLogsOld\\ServiceControl.log"));
        let zip = KnownClock {
            under: "cases/case.zip".into(),
            ..k
        };
        assert!(zip.covers("cases/case.zip!/ExchangeSetupLogs/ServiceControl.log"));
        assert!(!zip.covers("cases/case.zip2!/x.log"));
    }
}
