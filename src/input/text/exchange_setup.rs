//! `ExchangeSetup.log` (`%SystemDrive%\ExchangeSetupLogs`): Exchange setup's own log, one line per
//! message, `[MM/dd/yyyy HH:mm:ss.ffff] [level] message`, local time; messages may run over
//! several lines (stack traces, scripts). Layout: `shared/reference/text-logs.md` §5 and the real
//! logs of `shared/corpus/textlogs/css-exchange/`.
//!
//! Setup's own messages become events of provider `evtriage:exchange-setup`; the lines
//! `ServiceControl.ps1` writes into it when setup runs the script are read as
//! `ServiceControl.log`'s ([`super::service_control::message`]).

use super::service_control::{self, PROVIDER as SERVICE_CONTROL};
use super::{Emitter, Separator, ShortDate, date_order, for_each_line, head_text, parse_time};
use crate::input::{EventSink, InputFile, InputReport, LogReader, Progress};

pub struct ExchangeSetupReader;

/// The events of an Exchange setup log.
pub mod ids {
    /// `Starting Microsoft Exchange Server 2016 Setup`: `Product`.
    pub const SETUP_STARTED: u16 = 1;
    /// `Setup version: 15.1.2507.6.`: `Version`.
    pub const SETUP_VERSION: u16 = 2;
    /// `Local time zone: (UTC-05:00) Bogota, …`: `Zone`, `Offset` (`-05:00`, standard time).
    pub const TIME_ZONE: u16 = 3;
    /// An `[ERROR]` line: `Message`.
    pub const ERROR: u16 = 10;
    /// `The service cannot be started, either because it is disabled …`: setup needs a service
    /// that is still disabled. `Message`.
    pub const SERVICE_DISABLED_REFUSED: u16 = 11;
    /// `Installing product <x>.msi failed. … Error code is 1603.` (or removing): `Package`,
    /// `MsiError`, `Message`.
    pub const PRODUCT_FAILED: u16 = 12;
    /// `Setup is stopping now because of one or more critical errors.`
    pub const STOPPING: u16 = 20;
    /// `End of Setup`.
    pub const ENDED: u16 = 30;
}

const MAX_VALUE: usize = 2048;

/// Searched for in every message: built once.
static DISABLED_REFUSED: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| {
        memchr::memmem::Finder::new(
            "The service cannot be started, either because it is disabled".as_bytes(),
        )
    });

fn cap(s: &str) -> &str {
    super::cap(s, MAX_VALUE)
}

/// `[11/03/2022 20:41:59.0654] [0] message` → (date, time, message).
fn timed(line: &str) -> Option<(ShortDate, &str, &str)> {
    static AFTER_STAMP: Separator = Separator::new("] [");
    static AFTER_LEVEL: Separator = Separator::new("] ");
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = AFTER_STAMP.split(rest)?;
    let (date, time) = stamp.split_once(' ')?;
    let date = ShortDate::parse(date)?;
    let (level, message) = AFTER_LEVEL.split(rest)?;
    (level.len() <= 2 && level.bytes().all(|b| b.is_ascii_digit())).then_some((date, time, message))
}

/// The event a setup message is; `None` for the rest.
fn message(m: &str) -> Option<(u16, Vec<(&'static str, &str)>)> {
    if DISABLED_REFUSED.find(m.as_bytes()).is_some() {
        return Some((ids::SERVICE_DISABLED_REFUSED, vec![("Message", cap(m))]));
    }
    if let Some(rest) = m.strip_prefix("Starting ")
        && let Some(product) = rest.strip_suffix(" Setup")
        && product.starts_with("Microsoft Exchange")
    {
        return Some((ids::SETUP_STARTED, vec![("Product", cap(product))]));
    }
    if let Some(rest) = m.strip_prefix("Setup version: ") {
        return Some((
            ids::SETUP_VERSION,
            vec![("Version", cap(rest.trim_end_matches('.')))],
        ));
    }
    if let Some(rest) = m.strip_prefix("Local time zone: (UTC") {
        let offset = rest.split_once(')').map_or("", |(o, _)| o);
        return Some((
            ids::TIME_ZONE,
            vec![
                ("Zone", cap(m.trim_start_matches("Local time zone: "))),
                ("Offset", if offset.is_empty() { "+00:00" } else { offset }),
            ],
        ));
    }
    if m.starts_with("Setup is stopping now because of one or more critical errors") {
        return Some((ids::STOPPING, Vec::new()));
    }
    if m.trim() == "End of Setup" {
        return Some((ids::ENDED, Vec::new()));
    }
    if let Some(rest) = m.strip_prefix("[ERROR] ") {
        if let Some((what, tail)) = rest.split_once(" failed. ")
            && let Some(package) = what
                .strip_prefix("Installing product ")
                .or_else(|| what.strip_prefix("Removing product "))
            && let Some((_, code)) = tail.split_once("Error code is ")
        {
            let code = code
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("");
            return Some((
                ids::PRODUCT_FAILED,
                vec![
                    ("Package", cap(package)),
                    ("MsiError", code),
                    ("Message", cap(rest)),
                ],
            ));
        }
        return Some((ids::ERROR, vec![("Message", cap(rest))]));
    }
    None
}

impl LogReader for ExchangeSetupReader {
    fn format(&self) -> &'static str {
        "exchange-setup-log"
    }

    fn recognizes(&self, head: &[u8]) -> bool {
        let text = head_text(head);
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .and_then(timed)
            .is_some_and(|(_, t, _)| parse_time(t).is_some())
    }

    fn read(
        &self,
        input: &InputFile,
        sink: &dyn EventSink,
        progress: &dyn Progress,
    ) -> InputReport {
        InputReport::of_sequential_read(input, "exchange-setup-log", |report| {
            // Every line has its date: the first that proves the order settles it.
            let (order, _, _) = date_order(input, |line| timed(line).map(|(d, _, _)| d))?;
            let mut emitter = Emitter::new(input, sink, "exchange-setup", "ExchangeSetup.log");
            let service_control = Emitter::provider(SERVICE_CONTROL);
            let mut bad_dates = 0u64;
            let cut = for_each_line(input, progress, |n, line| {
                let Some((date, time, m)) = timed(line) else {
                    return;
                };
                let Some(at) = date
                    .date(order)
                    .zip(parse_time(time))
                    .map(|(d, t)| d.and_time(t))
                else {
                    bad_dates += 1;
                    return;
                };
                if let Some((id, fields)) = message(m) {
                    if id == ids::TIME_ZONE
                        && report.placed.is_none()
                        && let Some(offset) = fields
                            .iter()
                            .find(|(k, _)| *k == "Offset")
                            .and_then(|(_, v)| super::parse_offset(v))
                    {
                        // Standard time: what the report falls back on when nothing anchors it.
                        report.placed = Some(super::Placement {
                            computer: String::new(),
                            computer_from: "unknown".into(),
                            utc_offset_minutes: Some(offset),
                            basis: "setup_log_time_zone".into(),
                        });
                    }
                    emitter.emit(report, n, at, id, &fields);
                } else if let Some((id, fields)) = service_control::message(m) {
                    emitter.emit_as(&service_control, report, n, at, id, &fields);
                }
            })?;
            if bad_dates > 0 {
                report.records_failed += bad_dates;
                report.error(format!(
                    "{bad_dates} lines carry a date or time that is not one; not used"
                ));
            }
            emitter.finish(report, cut);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_lines() {
        let (d, t, m) =
            timed("[11/03/2022 20:41:59.0654] [0] Starting Microsoft Exchange Server 2016 Setup")
                .unwrap();
        assert_eq!((d, t), (ShortDate(11, 3, 2022), "20:41:59.0654"));
        assert_eq!(
            message(m),
            Some((
                ids::SETUP_STARTED,
                vec![("Product", "Microsoft Exchange Server 2016")]
            ))
        );
        assert_eq!(
            message(
                "[ERROR] Installing product E:\\exchangeserver.msi failed. Fatal error during installation. Error code is 1603."
            ),
            Some((
                ids::PRODUCT_FAILED,
                vec![
                    ("Package", "E:\\exchangeserver.msi"),
                    ("MsiError", "1603"),
                    (
                        "Message",
                        "Installing product E:\\exchangeserver.msi failed. Fatal error during installation. Error code is 1603."
                    )
                ]
            ))
        );
        assert_eq!(
            message("Local time zone: (UTC-05:00) Bogota, Lima, Quito, Rio Branco.")
                .unwrap()
                .1[1],
            ("Offset", "-05:00")
        );
        assert_eq!(message("[ERROR] The service cannot be started, either because it is disabled or because it has no enabled devices associated with it").unwrap().0, ids::SERVICE_DISABLED_REFUSED);
        assert!(timed("[11/03/2022 20:41:59.0654] [x] y").is_none());
    }
}
