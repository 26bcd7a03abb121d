//! The manifest of a collection (`evtriage-manifest.json`): written by `evtriage collect` and
//! by the collection script, read back when the zip is a case. Its offsets are what makes a
//! collection's text logs exact in time: the collector asks Windows for the offset in force on
//! every day of the past 20 years (by the rules Windows applies to those dates) and writes each
//! change, to the minute.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The manifest's own format number: changed when a field is renamed or its meaning changes.
pub const FORMAT: u32 = 1;

/// A manifest larger than this is not one a collector wrote.
pub const MAX_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`]: this key at the top is also how a manifest is recognized.
    pub evtriage_collection: u32,
    /// `evtriage 0.1.0`, or `evtriage collection script 0.1.0`.
    pub collected_by: String,
    pub collected_at: DateTime<Utc>,
    #[serde(flatten)]
    pub system: System,
    pub files: Vec<CollectedFile>,
    /// What was looked for and not collected, and why.
    pub missing: Vec<Missing>,
}

/// What the collector found out about the computer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct System {
    /// The computer's fully qualified name where it has a DNS domain.
    pub computer: String,
    pub os: Os,
    pub time_zone: TimeZone,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Os {
    /// `Windows Server 2016 Standard`.
    pub product: Option<String>,
    /// `10.0.14393.7428`: major, minor, build and update revision where known.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TimeZone {
    /// `W. Europe Standard Time`.
    pub name: Option<String>,
    /// Local minus UTC when the collection was made.
    pub utc_offset_minutes: i32,
    /// Each offset and the UTC instant it took effect, oldest first; the first is in force from
    /// the start of the covered span.
    pub offsets: Vec<OffsetFrom>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetFrom {
    pub from: DateTime<Utc>,
    pub utc_offset_minutes: i32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Exchange {
    /// `15.1.2507.6`.
    pub version: Option<String>,
    pub install_path: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectedFile {
    /// The name inside the zip.
    pub path: String,
    /// Where it was on the server.
    pub source: String,
    /// `wevtutil epl`, `shared-read copy`, `copy`, `BackupEventLog`.
    pub how: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Missing {
    pub what: String,
    pub path: String,
    pub why: String,
}

impl Manifest {
    pub fn new(system: System, files: Vec<CollectedFile>, missing: Vec<Missing>) -> Self {
        Manifest {
            evtriage_collection: FORMAT,
            collected_by: format!("evtriage {}", env!("CARGO_PKG_VERSION")),
            collected_at: Utc::now(),
            system,
            files,
            missing,
        }
    }

    /// A manifest from its bytes, checked: its format, and offsets a time zone can have.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let m: Manifest = serde_json::from_slice(text)
            .map_err(|e| format!("not a collection manifest evtriage can read: {e}"))?;
        if m.evtriage_collection != FORMAT {
            return Err(format!(
                "a collection manifest of format {}; this evtriage reads format {FORMAT}",
                m.evtriage_collection
            ));
        }
        let sane = |o: i32| (-14 * 60..=14 * 60).contains(&o);
        if !sane(m.system.time_zone.utc_offset_minutes)
            || m.system
                .time_zone
                .offsets
                .iter()
                .any(|o| !sane(o.utc_offset_minutes))
        {
            return Err("its time zone offsets are beyond UTC-14:00 to UTC+14:00".into());
        }
        if m.system
            .time_zone
            .offsets
            .windows(2)
            .any(|w| w[0].from >= w[1].from)
        {
            return Err("its time zone offsets are not in order".into());
        }
        Ok(m)
    }

    /// The offset in force at a UTC instant.
    pub fn offset_at(&self, at: DateTime<Utc>) -> i32 {
        offset_at(&self.system.time_zone, at)
    }
}

/// The offset in force at `at`, from the changes; the offset at collection when none are listed.
pub fn offset_at(zone: &TimeZone, at: DateTime<Utc>) -> i32 {
    zone.offsets
        .iter()
        .take_while(|o| o.from <= at)
        .last()
        .or(zone.offsets.first())
        .map_or(zone.utc_offset_minutes, |o| o.utc_offset_minutes)
}

/// The UTC instant of a local wall-clock time: the offset in force when `local - offset` falls
/// in its span. In the hour that repeats when summer time ends, the earlier (summer) reading is
/// taken; a time in the hour skipped when it begins takes the offset before the change.
pub fn utc_of_local(zone: &TimeZone, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let candidates: Vec<i32> = if zone.offsets.is_empty() {
        vec![zone.utc_offset_minutes]
    } else {
        zone.offsets.iter().map(|o| o.utc_offset_minutes).collect()
    };
    let valid = candidates
        .iter()
        .map(|&off| local.and_utc() - chrono::Duration::minutes(off.into()))
        .zip(candidates.iter())
        .filter(|(utc, off)| offset_at(zone, *utc) == **off)
        .map(|(utc, _)| utc)
        .min();
    valid.unwrap_or_else(|| {
        // Skipped by the change to summer time: read with the offset before it.
        let off = offset_at(zone, local.and_utc() - chrono::Duration::hours(3));
        local.and_utc() - chrono::Duration::minutes(off.into())
    })
}

/// The changes of offset over the span, from an oracle that gives the offset at an instant
/// (Windows' rules, through chrono's `Local` or .NET's `TimeZone`): daily steps, each change
/// found to the hour and then to the minute. Zones change at most a few times a year, never
/// twice in a day.
pub fn offsets_over(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    offset: &dyn Fn(DateTime<Utc>) -> i32,
) -> Vec<OffsetFrom> {
    use chrono::Duration;
    // On whole hours and minutes, as every zone changes.
    let from = DateTime::from_timestamp(from.timestamp() - from.timestamp().rem_euclid(3600), 0)
        .unwrap_or(from);
    let mut changes = vec![OffsetFrom {
        from,
        utc_offset_minutes: offset(from),
    }];
    let mut at = from;
    while at < to {
        let next = at + Duration::days(1);
        let now = offset(next);
        let before = changes.last().map_or(now, |c| c.utc_offset_minutes);
        if now != before {
            let mut hour = at;
            while offset(hour + Duration::hours(1)) == before && hour < next {
                hour += Duration::hours(1);
            }
            // The first whole minute of that hour with the new offset.
            let (mut lo, mut hi) = (0i64, 60i64);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if offset(hour + Duration::minutes(mid)) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            changes.push(OffsetFrom {
                from: hour + Duration::minutes(hi),
                utc_offset_minutes: offset(hour + Duration::minutes(hi)),
            });
        }
        at = next;
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn berlin(at: DateTime<Utc>) -> i32 {
        // 2025: summer time from 30 March 01:00 UTC to 26 October 01:00 UTC.
        let start = Utc.with_ymd_and_hms(2025, 3, 30, 1, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2025, 10, 26, 1, 0, 0).unwrap();
        if at >= start && at < end { 120 } else { 60 }
    }

    #[test]
    fn changes_found_to_the_minute_and_local_times_placed() {
        let from = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap();
        let offsets = offsets_over(from, to, &berlin);
        assert_eq!(offsets.len(), 3);
        assert_eq!(
            offsets[1].from,
            Utc.with_ymd_and_hms(2025, 3, 30, 1, 0, 0).unwrap()
        );
        assert_eq!(offsets[2].utc_offset_minutes, 60);
        let zone = TimeZone {
            name: Some("W. Europe Standard Time".into()),
            utc_offset_minutes: 60,
            offsets,
        };
        let local = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(
            utc_of_local(&zone, local("2025-07-01 12:00")),
            Utc.with_ymd_and_hms(2025, 7, 1, 10, 0, 0).unwrap()
        );
        assert_eq!(
            utc_of_local(&zone, local("2025-12-01 12:00")),
            Utc.with_ymd_and_hms(2025, 12, 1, 11, 0, 0).unwrap()
        );
        // The repeated hour: the summer reading.
        assert_eq!(
            utc_of_local(&zone, local("2025-10-26 02:30")),
            Utc.with_ymd_and_hms(2025, 10, 26, 0, 30, 0).unwrap()
        );
    }

    #[test]
    fn a_manifest_is_checked_when_read() {
        let m = Manifest::new(System::default(), Vec::new(), Vec::new());
        let text = serde_json::to_vec(&m).unwrap();
        assert!(Manifest::parse(&text).is_ok());
        let bad = String::from_utf8(text)
            .unwrap()
            .replace("\"utc_offset_minutes\":0", "\"utc_offset_minutes\":9999");
        assert!(
            Manifest::parse(bad.as_bytes())
                .unwrap_err()
                .contains("UTC-14")
        );
        assert!(Manifest::parse(b"{\"evtriage_collection\":7}").is_err());
    }
}
