//! What `evtriage collect` asks Windows about the computer: its name, its Windows, its time zone
//! and Exchange, from the registry through `reg query` (present on every Windows; the library
//! forbids `unsafe`, so no Win32 calls of its own), and the offsets from chrono's `Local`,
//! which asks Windows' own time zone rules.

use super::manifest::{Exchange, Os, System, TimeZone, offsets_over};
use chrono::{DateTime, Duration, Local, Offset, Utc};
use std::path::Path;
use std::process::Command;

/// How far back the manifest's offsets reach: further than any log a case holds (an Exchange
/// 2007 server's logs reach back to 2007, and some cases are read years later).
const OFFSETS_SPAN_DAYS: i64 = 20 * 366;

/// The values of one `reg query KEY` (`    Name    REG_SZ    Value`).
pub fn parse_reg_query(text: &str) -> Vec<(String, String)> {
    let mut values = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if !line.starts_with("    ") {
            continue;
        }
        let parts: Vec<&str> = line.trim_start().splitn(3, "    ").collect();
        if let [name, kind, value] = parts[..]
            && kind.starts_with("REG_")
        {
            let value = match kind {
                "REG_DWORD" | "REG_QWORD" => value
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .map_or_else(|| value.to_string(), |n| n.to_string()),
                _ => value.to_string(),
            };
            values.push((name.to_string(), value));
        }
    }
    values
}

fn reg(key: &str) -> Vec<(String, String)> {
    match Command::new("reg").args(["query", key]).output() {
        Ok(out) if out.status.success() => parse_reg_query(&String::from_utf8_lossy(&out.stdout)),
        _ => Vec::new(),
    }
}

fn value(values: &[(String, String)], name: &str) -> Option<String> {
    values
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// This computer's name, fully qualified where it has a DNS domain.
pub fn computer_name() -> String {
    let tcpip = reg(r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters");
    let host = value(&tcpip, "Hostname")
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    match value(&tcpip, "Domain") {
        Some(domain) => format!("{host}.{domain}"),
        None => host,
    }
}

/// This computer's zone: the offsets Windows' rules gave over the covered span.
pub fn local_zone() -> TimeZone {
    let zone = reg(r"HKLM\SYSTEM\CurrentControlSet\Control\TimeZoneInformation");
    let now = Utc::now();
    let offset = |at: DateTime<Utc>| at.with_timezone(&Local).offset().fix().local_minus_utc() / 60;
    TimeZone {
        name: value(&zone, "TimeZoneKeyName").or_else(|| value(&zone, "StandardName")),
        utc_offset_minutes: offset(now),
        offsets: offsets_over(now - Duration::days(OFFSETS_SPAN_DAYS), now, &offset),
    }
}

/// This computer, as Windows describes it.
pub fn this_computer() -> System {
    let computer = computer_name();
    let nt = reg(r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion");
    let version = match (
        value(&nt, "CurrentMajorVersionNumber"),
        value(&nt, "CurrentMinorVersionNumber"),
    ) {
        (Some(major), Some(minor)) => Some(format!("{major}.{minor}")),
        _ => value(&nt, "CurrentVersion"),
    }
    .map(|v| {
        let build = value(&nt, "CurrentBuildNumber").or_else(|| value(&nt, "CurrentBuild"));
        match (build, value(&nt, "UBR")) {
            (Some(b), Some(u)) => format!("{v}.{b}.{u}"),
            (Some(b), None) => format!("{v}.{b}"),
            _ => v,
        }
    });
    System {
        computer,
        os: Os {
            product: value(&nt, "ProductName"),
            version,
        },
        time_zone: local_zone(),
        exchange: exchange(),
    }
}

/// Exchange 2010 and later under `ExchangeServer\v1x\Setup`; 2007 under `Exchange\Setup`.
fn exchange() -> Option<Exchange> {
    for key in [
        r"HKLM\SOFTWARE\Microsoft\ExchangeServer\v15\Setup",
        r"HKLM\SOFTWARE\Microsoft\ExchangeServer\v14\Setup",
        r"HKLM\SOFTWARE\Microsoft\Exchange\Setup",
    ] {
        let v = reg(key);
        if v.is_empty() {
            continue;
        }
        let part = |n: &str| value(&v, n);
        let version = match (
            part("MsiProductMajor"),
            part("MsiProductMinor"),
            part("MsiBuildMajor"),
            part("MsiBuildMinor"),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => Some(format!("{a}.{b}.{c}.{d}")),
            _ => None,
        };
        return Some(Exchange {
            version,
            install_path: part("MsiInstallPath"),
        });
    }
    None
}

/// `wevtutil epl LOG FILE /ow:true`: a consistent copy while the service writes (Windows Vista /
/// Server 2008 and later).
pub fn export_with_wevtutil(log: &str, to: &Path) -> Result<(), String> {
    let out = Command::new("wevtutil")
        .arg("epl")
        .arg(log)
        .arg(to)
        .arg("/ow:true")
        .output()
        .map_err(|e| format!("cannot run wevtutil: {e}"))?;
    if out.status.success() && to.is_file() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .trim()
            .chars()
            .take(300)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_query_output_is_read() {
        // The layout reg.exe prints (Windows Server 2016, values abridged).
        let text = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\r\n    ProductName    REG_SZ    Windows Server 2016 Standard\r\n    CurrentMajorVersionNumber    REG_DWORD    0xa\r\n    CurrentBuildNumber    REG_SZ    14393\r\n    UBR    REG_DWORD    0x1d04\r\n\r\n";
        let v = parse_reg_query(text);
        assert_eq!(
            value(&v, "productname").as_deref(),
            Some("Windows Server 2016 Standard")
        );
        assert_eq!(
            value(&v, "CurrentMajorVersionNumber").as_deref(),
            Some("10")
        );
        assert_eq!(value(&v, "UBR").as_deref(), Some("7428"));
    }
}
