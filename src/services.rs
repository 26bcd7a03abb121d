//! Exchange's services as data (`data/services/exchange.tsv`): key name, display name and default
//! start type by Exchange version and role. Two uses: naming a service that a Windows Server
//! 2003/2008 record knows only by its display name (SCM 7040 there has no key name, 7036 no binary
//! key), and the defaults to restore when the System log that would say the original start types
//! is missing. A display name in no row is never guessed at: it stays a display name.

use crate::knowledge::StartType;
use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/services/exchange.tsv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeService {
    /// The Exchange version (2007, 2010, 2013, 2016, 2019), or `None` for the Windows services
    /// every version's setup stops alongside its own.
    pub version: Option<u16>,
    /// Role letters: M Mailbox, C Client Access, H Hub Transport, E Edge, U Unified Messaging.
    pub roles: &'static str,
    pub key: &'static str,
    pub display: &'static str,
    pub start: StartType,
    /// Names in two or more sources; otherwise recalled (RECON).
    pub confirmed: bool,
}

struct Table {
    rows: Vec<ExchangeService>,
    /// Lower-cased display name → key name; `None` where two rows disagree.
    by_display: HashMap<String, Option<&'static str>>,
}

fn parse(text: &'static str) -> Result<Vec<ExchangeService>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("version\t") || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&'static str> = line.split('\t').collect();
        let [version, roles, key, display, start, confidence] = cols[..] else {
            return Err(format!(
                "line {}: {} columns, 6 expected",
                n + 1,
                cols.len()
            ));
        };
        let version = match version {
            "any" => None,
            v => Some(
                v.parse()
                    .map_err(|_| format!("line {}: version '{v}'", n + 1))?,
            ),
        };
        let start = StartType::parse_name(start)
            .ok_or_else(|| format!("line {}: start type '{start}'", n + 1))?;
        if roles.is_empty() || !roles.chars().all(|c| "MCHEU".contains(c)) {
            return Err(format!("line {}: roles '{roles}'", n + 1));
        }
        let confirmed = match confidence {
            "high" => true,
            "recon" => false,
            c => return Err(format!("line {}: confidence '{c}'", n + 1)),
        };
        rows.push(ExchangeService {
            version,
            roles,
            key,
            display,
            start,
            confirmed,
        });
    }
    Ok(rows)
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        // The file is compiled in and checked by a test: a failure here is a build defect.
        let rows = parse(TABLE).expect("data/services/exchange.tsv is well formed");
        let mut by_display: HashMap<String, Option<&'static str>> = HashMap::new();
        for r in &rows {
            by_display
                .entry(r.display.to_lowercase())
                .and_modify(|k| {
                    if k.is_some_and(|k| !k.eq_ignore_ascii_case(r.key)) {
                        *k = None;
                    }
                })
                .or_insert(Some(r.key));
        }
        Table { rows, by_display }
    })
}

/// The key name of the service with this display name, when the table knows it (English names).
/// The sources disagree on whether some Exchange 2007 names end in " Service" (domain.md §4.1:
/// "Active Directory Topology (Service)", "Mail Submission (Service)"): either form is taken.
pub fn key_for_display(display: &str) -> Option<&'static str> {
    let name = display.trim().to_lowercase();
    let lookup = |n: &str| table().by_display.get(n).copied();
    match lookup(&name) {
        Some(found) => found,
        None => match name.strip_suffix(" service") {
            Some(short) => lookup(short).flatten(),
            None => lookup(&format!("{name} service")).flatten(),
        },
    }
}

/// The services of an Exchange version with their default start types, Exchange's own first.
pub fn defaults(version: u16) -> Vec<&'static ExchangeService> {
    let mut out: Vec<&ExchangeService> = table()
        .rows
        .iter()
        .filter(|r| r.version == Some(version))
        .collect();
    out.extend(table().rows.iter().filter(|r| r.version.is_none()));
    out
}

/// The Exchange version an update title or product name names: "Update Rollup 4 for Exchange
/// Server 2007 (KB940006)", "Microsoft Exchange Server 2010", "Exchange Server 2019 CU12".
pub fn exchange_version(text: &str) -> Option<u16> {
    let lower = text.to_lowercase();
    let at = lower.find("exchange")?;
    let rest = &lower[at..];
    [2007u16, 2010, 2013, 2016, 2019]
        .into_iter()
        .filter_map(|v| rest.find(&v.to_string()).map(|i| (i, v)))
        .min()
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_loads_and_says_one_thing_per_name() {
        let rows = parse(TABLE).unwrap();
        assert!(rows.len() > 100);
        for v in [2007, 2010, 2013, 2016, 2019] {
            let d = defaults(v);
            assert!(
                d.iter()
                    .any(|r| r.key.eq_ignore_ascii_case("MSExchangeADTopology")),
                "{v}"
            );
            // One row per key within a version.
            let mut keys: Vec<String> = d.iter().map(|r| r.key.to_lowercase()).collect();
            keys.sort();
            let n = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), n, "{v}: a key twice");
        }
        // A display name that two versions give different keys names no key: the speech engine
        // (MSS in 2007, MSSpeechService in 2010) is the one such name.
        let ambiguous: Vec<&String> = table()
            .by_display
            .iter()
            .filter(|(_, k)| k.is_none())
            .map(|(d, _)| d)
            .collect();
        assert_eq!(ambiguous, ["microsoft exchange speech engine"]);
        assert_eq!(key_for_display("Microsoft Exchange Speech Engine"), None);
    }

    #[test]
    fn display_names_map_to_key_names_and_unknown_ones_do_not() {
        assert_eq!(
            key_for_display("Microsoft Exchange Information Store"),
            Some("MSExchangeIS")
        );
        assert_eq!(
            key_for_display("microsoft exchange active directory topology service"),
            Some("MSExchangeADTopology")
        );
        assert_eq!(
            key_for_display("Microsoft Search (Exchange)"),
            Some("msftesql-Exchange")
        );
        assert_eq!(
            key_for_display("Microsoft Exchange Informationsspeicher"),
            None
        );
        assert_eq!(key_for_display("Print Spooler"), None);
    }

    #[test]
    fn versions_from_titles() {
        assert_eq!(
            exchange_version("Update Rollup 4 for Exchange Server 2007 (KB940006)"),
            Some(2007)
        );
        assert_eq!(
            exchange_version("Microsoft Exchange Server 2010"),
            Some(2010)
        );
        assert_eq!(
            exchange_version("Security Update For Exchange Server 2019 CU12 SU7 (KB5019758)"),
            Some(2019)
        );
        assert_eq!(exchange_version("Microsoft Exchange Server"), None);
        assert_eq!(exchange_version("Office 2010 (KB2007123)"), None);
    }
}
