//! Text forms of Windows values as Event XML shows them, shared by the reader and the writer (FILETIME as ISO 8601, GUIDs in braces, SIDs as
//! `S-1-…`, hex integers as `0x…`), parsed into their binary encodings. Every parser returns `None`
//! for text it does not recognize, so a caller can fall back to storing the text as a string.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// 100 ns intervals between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 116_444_736_000_000_000;

pub fn filetime_from_datetime(t: DateTime<Utc>) -> Option<u64> {
    let secs = t.timestamp();
    let ticks = secs
        .checked_mul(10_000_000)?
        .checked_add(i64::from(t.timestamp_subsec_nanos() / 100))?
        .checked_add(FILETIME_UNIX_OFFSET)?;
    u64::try_from(ticks).ok()
}

pub fn datetime_from_filetime(ft: u64) -> Option<DateTime<Utc>> {
    let ticks = i64::try_from(ft).ok()? - FILETIME_UNIX_OFFSET;
    let secs = ticks.div_euclid(10_000_000);
    let nanos = (ticks.rem_euclid(10_000_000) * 100) as u32;
    Utc.timestamp_opt(secs, nanos).single()
}

/// `2016-09-01T20:48:12.000000000Z` and its shorter forms (Event Viewer writes 7 or 9 fraction digits).
pub fn parse_system_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .map(|n| n.and_utc())
}

pub fn parse_filetime(s: &str) -> Option<u64> {
    filetime_from_datetime(parse_system_time(s)?)
}

/// Decimal or `0x` hexadecimal.
pub fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `{0888e5ef-9b98-4695-979d-e92ce4247224}` (braces optional) in Windows' mixed-endian layout.
pub fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s);
    let parts: Vec<&str> = inner.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if parts.len() != 5
        || parts
            .iter()
            .zip(lens)
            .any(|(p, l)| p.len() != l || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    let d1 = u32::from_str_radix(parts[0], 16).ok()?;
    let d2 = u16::from_str_radix(parts[1], 16).ok()?;
    let d3 = u16::from_str_radix(parts[2], 16).ok()?;
    let tail = format!("{}{}", parts[3], parts[4]);
    let mut g = [0u8; 16];
    g[..4].copy_from_slice(&d1.to_le_bytes());
    g[4..6].copy_from_slice(&d2.to_le_bytes());
    g[6..8].copy_from_slice(&d3.to_le_bytes());
    for i in 0..8 {
        g[8 + i] = u8::from_str_radix(&tail[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(g)
}

/// `S-1-5-21-…` into the binary SID layout: revision, count, 48-bit big-endian authority, LE sub-authorities.
pub fn parse_sid(s: &str) -> Option<Vec<u8>> {
    let mut parts = s.trim().split('-');
    if parts.next()? != "S" {
        return None;
    }
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority: u64 = parts.next()?.parse().ok()?;
    if authority >= 1 << 48 {
        return None;
    }
    let subs: Vec<u32> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if subs.len() > 15 {
        return None;
    }
    let mut out = vec![revision, subs.len() as u8];
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for sub in subs {
        out.extend_from_slice(&sub.to_le_bytes());
    }
    Some(out)
}

/// Hex digits as Event XML shows `<Binary>` (no separators).
pub fn parse_hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

pub fn to_hex_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_layout_is_mixed_endian() {
        let g = parse_guid("{0888e5ef-9b98-4695-979d-e92ce4247224}").unwrap();
        assert_eq!(&g[..4], &[0xef, 0xe5, 0x88, 0x08]);
        assert_eq!(&g[4..8], &[0x98, 0x9b, 0x95, 0x46]);
        assert_eq!(&g[8..], &[0x97, 0x9d, 0xe9, 0x2c, 0xe4, 0x24, 0x72, 0x24]);
        assert!(parse_guid("{0888e5ef-9b98-4695-979d}").is_none());
    }

    #[test]
    fn sid_matches_windows_encoding() {
        assert_eq!(
            parse_sid("S-1-5-18").unwrap(),
            vec![1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]
        );
        assert!(parse_sid("S-1-x").is_none());
    }

    #[test]
    fn filetime_round_trips_with_100ns_precision() {
        let ft = parse_filetime("2016-09-01T20:48:03.032522000Z").unwrap();
        let back = datetime_from_filetime(ft).unwrap();
        assert_eq!(back.to_rfc3339(), "2016-09-01T20:48:03.032522+00:00");
        assert_eq!(parse_filetime("1601-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex_upper(&[0x00, 0x7b, 0xff]), "007BFF");
        assert_eq!(parse_hex_bytes("007bFF"), Some(vec![0x00, 0x7b, 0xff]));
        assert_eq!(parse_hex_bytes("0g"), None);
        assert_eq!(parse_hex_bytes("abc"), None);
    }

    #[test]
    fn numbers_accept_decimal_and_hex_only() {
        assert_eq!(parse_uint("1603"), Some(1603));
        assert_eq!(parse_uint("0x80070643"), Some(0x8007_0643));
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint(""), None);
    }
}
