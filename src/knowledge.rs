//! Facts about Windows that signatures refer to by name: what installer and Windows Update error
//! codes mean, the start types Service Control Manager writes in each language, and how to decode
//! the binary blobs MsiInstaller and SCM attach to their records. Sources are in
//! `shared/reference/domain.md` §2–§4.

use serde::Serialize;

/// Start type of a service, as `sc.exe` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum StartType {
    Boot,
    System,
    Auto,
    Demand,
    Disabled,
}

impl StartType {
    pub fn as_str(self) -> &'static str {
        match self {
            StartType::Boot => "boot",
            StartType::System => "system",
            StartType::Auto => "auto",
            StartType::Demand => "demand",
            StartType::Disabled => "disabled",
        }
    }

    /// `Set-Service -StartupType` value; boot and system start have none (only `sc.exe` sets them).
    pub fn powershell(self) -> Option<&'static str> {
        match self {
            StartType::Auto => Some("Automatic"),
            StartType::Demand => Some("Manual"),
            StartType::Disabled => Some("Disabled"),
            StartType::Boot | StartType::System => None,
        }
    }

    /// What the Services console calls it.
    pub fn display(self) -> &'static str {
        match self {
            StartType::Boot => "Boot",
            StartType::System => "System",
            StartType::Auto => "Automatic",
            StartType::Demand => "Manual",
            StartType::Disabled => "Disabled",
        }
    }

    pub fn parse_name(s: &str) -> Option<StartType> {
        match s {
            "boot" => Some(StartType::Boot),
            "system" => Some(StartType::System),
            "auto" => Some(StartType::Auto),
            "demand" => Some(StartType::Demand),
            "disabled" => Some(StartType::Disabled),
            _ => None,
        }
    }
}

/// The start-type strings SCM stores in 7040's param2/param3, per language. English, Japanese,
/// Chinese and Turkish were seen in real records (`domain.md` §2.4.1); the others are the SCM
/// message-table wordings as recalled, backed by the stem match in [`start_type`].
const START_TYPES: &[(&str, StartType)] = &[
    // WMI's Win32_Service.StartMode, as `ServiceStartupMode.xml` saves it
    ("auto", StartType::Auto),
    ("manual", StartType::Demand),
    ("boot", StartType::Boot),
    ("system", StartType::System),
    // English
    ("boot start", StartType::Boot),
    ("system start", StartType::System),
    ("auto start", StartType::Auto),
    ("demand start", StartType::Demand),
    ("disabled", StartType::Disabled),
    // German
    ("beim systemstart starten", StartType::Boot),
    ("systemstart", StartType::System),
    ("automatisch starten", StartType::Auto),
    ("bei bedarf starten", StartType::Demand),
    ("deaktiviert", StartType::Disabled),
    // French
    ("démarrage du système", StartType::System),
    ("démarrage automatique", StartType::Auto),
    ("démarrage à la demande", StartType::Demand),
    ("désactivé", StartType::Disabled),
    // Spanish
    ("inicio de arranque", StartType::Boot),
    ("inicio del sistema", StartType::System),
    ("inicio automático", StartType::Auto),
    ("inicio a petición", StartType::Demand),
    ("inicio a pedido", StartType::Demand),
    ("deshabilitado", StartType::Disabled),
    // Italian
    ("avvio automatico", StartType::Auto),
    ("avvio su richiesta", StartType::Demand),
    ("disabilitato", StartType::Disabled),
    // Portuguese (Brazil, Portugal)
    ("início automático", StartType::Auto),
    ("início por demanda", StartType::Demand),
    ("arranque automático", StartType::Auto),
    ("arranque a pedido", StartType::Demand),
    ("desabilitado", StartType::Disabled),
    ("desativado", StartType::Disabled),
    // Japanese (seen in real records)
    ("自動的な開始", StartType::Auto),
    ("要求による開始", StartType::Demand),
    ("無効", StartType::Disabled),
    ("ブート開始", StartType::Boot),
    ("システム開始", StartType::System),
    // Chinese (simplified seen in real records; traditional)
    ("引导启动", StartType::Boot),
    ("系统启动", StartType::System),
    ("自动启动", StartType::Auto),
    ("按需启动", StartType::Demand),
    ("已禁用", StartType::Disabled),
    ("禁用", StartType::Disabled),
    ("自動啟動", StartType::Auto),
    ("依需求啟動", StartType::Demand),
    ("已停用", StartType::Disabled),
    // Korean
    ("부팅 시작", StartType::Boot),
    ("시스템 시작", StartType::System),
    ("자동 시작", StartType::Auto),
    ("요청 시 시작", StartType::Demand),
    ("사용 안 함", StartType::Disabled),
    // Russian
    ("запуск при загрузке", StartType::Boot),
    ("запуск системой", StartType::System),
    ("автоматически", StartType::Auto),
    ("вручную", StartType::Demand),
    ("отключена", StartType::Disabled),
    ("отключено", StartType::Disabled),
    // Turkish (seen in real records)
    ("otomatik başlatma", StartType::Auto),
    ("isteğe bağlı başlatma", StartType::Demand),
    ("sistem başlatması", StartType::System),
    ("devre dışı", StartType::Disabled),
];

/// Word stems that identify a start type when the exact wording differs (another Windows build,
/// a language variant): checked in this order, so "disabled" wins over anything else in the text.
const START_TYPE_STEMS: &[(&str, StartType)] = &[
    ("disab", StartType::Disabled),
    ("deaktiv", StartType::Disabled),
    ("désactiv", StartType::Disabled),
    ("deshabilit", StartType::Disabled),
    ("desabilit", StartType::Disabled),
    ("desativ", StartType::Disabled),
    ("disattiv", StartType::Disabled),
    ("無効", StartType::Disabled),
    ("禁用", StartType::Disabled),
    ("停用", StartType::Disabled),
    ("사용 안", StartType::Disabled),
    ("отключ", StartType::Disabled),
    ("devre dış", StartType::Disabled),
    ("demand", StartType::Demand),
    ("bedarf", StartType::Demand),
    ("manu", StartType::Demand),
    ("demande", StartType::Demand),
    ("petici", StartType::Demand),
    ("pedido", StartType::Demand),
    ("richiesta", StartType::Demand),
    ("demanda", StartType::Demand),
    ("要求", StartType::Demand),
    ("按需", StartType::Demand),
    ("需求", StartType::Demand),
    ("요청", StartType::Demand),
    ("вручн", StartType::Demand),
    ("isteğe", StartType::Demand),
    ("boot", StartType::Boot),
    ("ブート", StartType::Boot),
    ("引导", StartType::Boot),
    ("부팅", StartType::Boot),
    ("загруз", StartType::Boot),
    ("auto", StartType::Auto),
    ("automat", StartType::Auto),
    ("自動", StartType::Auto),
    ("自动", StartType::Auto),
    ("자동", StartType::Auto),
    ("автомат", StartType::Auto),
    ("otomatik", StartType::Auto),
    ("system", StartType::System),
    ("système", StartType::System),
    ("sistema", StartType::System),
    ("システム", StartType::System),
    ("系统", StartType::System),
    ("系統", StartType::System),
    ("시스템", StartType::System),
    ("систем", StartType::System),
    ("sistem", StartType::System),
];

/// The start type a 7040 string names, in any of the languages above; `None` when unrecognized.
pub fn start_type(text: &str) -> Option<StartType> {
    let t = text.trim().to_lowercase();
    if t.is_empty() {
        return None;
    }
    START_TYPES
        .iter()
        .find(|(s, _)| *s == t)
        .or_else(|| START_TYPE_STEMS.iter().find(|(s, _)| t.contains(s)))
        .map(|(_, st)| *st)
}

/// SCM's binary data is UTF-16LE: `Key/state` on 7036, the bare key on 7000/7001. Its bytes up
/// to the terminating NUL unit; `None` when it cannot be UTF-16.
fn scm_text(binary: &[u8]) -> Option<&[u8]> {
    if binary.len() < 2 || !binary.len().is_multiple_of(2) {
        return None;
    }
    let end = binary
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .map_or(binary.len(), |units| units * 2);
    Some(&binary[..end])
}

fn units(text: &[u8]) -> impl Iterator<Item = u16> + '_ {
    text.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
}

/// The text split at its last `/`, as byte offsets into UTF-16LE `text`.
fn scm_split(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let slash = text.chunks_exact(2).rposition(|c| c == [b'/', 0])? * 2;
    Some((&text[..slash], &text[slash + 2..]))
}

/// The service key name from SCM's binary data (`MSExchangeIS/1` → `MSExchangeIS`).
pub fn scm_key(binary: &[u8]) -> Option<String> {
    let text = scm_text(binary)?;
    let (key, rest) = scm_split(text).unwrap_or((text, &[]));
    // Text that is not valid UTF-16 anywhere is not SCM's: no key rather than half of one.
    if char::decode_utf16(units(rest)).any(|c| c.is_err()) {
        return None;
    }
    let key: String = char::decode_utf16(units(key))
        .collect::<Result<_, _>>()
        .ok()?;
    (!key.is_empty()).then_some(key)
}

/// The state number after the last `/` of SCM's binary data, read without decoding the text: most
/// 7036s are tested for their state first, and most fail that test.
pub fn scm_state(binary: &[u8]) -> Option<u32> {
    let (_, digits) = scm_split(scm_text(binary)?)?;
    if digits.is_empty() {
        return None;
    }
    units(digits).try_fold(0u32, |n, u| {
        let d = char::from_u32(u32::from(u))?.to_digit(10)?;
        n.checked_mul(10)?.checked_add(d)
    })
}

/// The state number (as SCM's binary gives it: 1 stopped, 4 running) of the state word a 7036 of
/// Windows Server 2003/2008 carries instead. English (`legacy.md` §3.3, confirmed); Japanese,
/// German, French and Spanish running/stopped as recalled from SCM's message table (unconfirmed).
/// A word not known is no state, never a guess.
pub fn service_state_word(word: &str) -> Option<u32> {
    const STATES: [(&str, u32); 15] = [
        ("stopped", 1),
        ("start pending", 2),
        ("stop pending", 3),
        ("running", 4),
        ("continue pending", 5),
        ("pause pending", 6),
        ("paused", 7),
        ("停止", 1),
        ("実行中", 4),
        ("Beendet", 1),
        ("Ausgeführt", 4),
        ("arrêté", 1),
        ("en cours d'exécution", 4),
        ("detenido", 1),
        ("en ejecución", 4),
    ];
    let word = word.trim();
    STATES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(word))
        .map(|(_, n)| *n)
}

/// `{ProductCode}` (and optionally ` {PatchCode}` and a trailing code) from MsiInstaller's ASCII binary.
pub fn msi_binary(binary: &[u8]) -> (Option<String>, Option<String>, Option<u64>) {
    let text: String = binary
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let guids: Vec<&str> = text
        .match_indices('{')
        .filter_map(|(i, _)| text.get(i..i + 38))
        .filter(|g| g.ends_with('}'))
        .collect();
    let code = text
        .rsplit([' ', ','])
        .next()
        .and_then(|t| t.trim().parse().ok());
    (
        guids.first().map(|g| g.to_ascii_uppercase()),
        guids.get(1).map(|g| g.to_ascii_uppercase()),
        code,
    )
}

/// `Product: <name> -- <text>`, the sentence MsiInstaller stores whole for Error-table messages.
pub fn msi_message_product(sentence: &str) -> Option<&str> {
    let rest = sentence.trim().strip_prefix("Product:")?;
    let (product, _) = rest.split_once(" -- ")?;
    Some(product.trim())
}

/// A KB number named in an update title: `KB2602324`.
pub fn kb_of(title: &str) -> Option<String> {
    let upper = title.to_ascii_uppercase();
    let at = upper.find("KB")?;
    let digits: String = upper[at + 2..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (digits.len() >= 5).then(|| format!("KB{digits}"))
}

/// The series a monthly update belongs to, from its title: "2017-07 Cumulative Update for Windows
/// 10 Version 1703 for x64-based Systems (KB4025342)" is of the series "Cumulative Update for
/// Windows 10 Version 1703 for x64-based Systems", as the September one is (titles as Windows
/// Update logs them, real in ../shared/corpus/evtx-crate/system.evtx). A later update of the
/// series replaces an earlier one that failed. `None` for a title without the `YYYY-MM ` month.
pub fn update_series(title: &str) -> Option<String> {
    let t = title.trim();
    let (month, rest) = t.split_once(' ')?;
    let b = month.as_bytes();
    let is_month = b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[5..].iter().all(u8::is_ascii_digit);
    if !is_month {
        return None;
    }
    let series = match rest.rfind(" (KB") {
        Some(i) if rest.ends_with(')') => &rest[..i],
        _ => rest,
    };
    (!series.is_empty()).then(|| series.trim().to_string())
}

/// The app package a Microsoft Store update installs, from the title Windows Update logs for it:
/// the 12-character Store ID, a hyphen, the package name (`9WZDNCRFHVN5-Microsoft.WindowsCalculator`).
/// The form is the one users report from event 20 with 0x80073D02; no such record is in
/// `../shared/corpus` (unconfirmed there).
pub fn app_package(title: &str) -> Option<&str> {
    let (store_id, name) = title.trim().split_once('-')?;
    let id_ok = store_id.len() == 12
        && store_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let name = name.trim_end_matches('.');
    let name_ok = (3..=50).contains(&name.len())
        && name.contains('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (id_ok && name_ok).then_some(name)
}

/// The name of an app package from its full name, as the AppX deployment service logs it
/// (`Name_Version_Architecture_ResourceId_PublisherId`:
/// `Microsoft.WindowsCalculator_10.2103.8.0_x64__8wekyb3d8bbwe`, event 400/401/404), or the name
/// alone. The name is what `Get-AppxPackage -Name` takes; `None` for anything not shaped so.
pub fn package_name(full_name: &str) -> Option<&str> {
    let t = full_name.trim();
    let name = match t.split_once('_') {
        Some((name, rest)) => {
            let parts: Vec<&str> = rest.split('_').collect();
            let version_ok = parts.first().is_some_and(|v| {
                let n: Vec<&str> = v.split('.').collect();
                n.len() == 4
                    && n.iter()
                        .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            });
            (parts.len() == 4 && version_ok).then_some(name)?
        }
        None => t,
    };
    let ok = (3..=50).contains(&name.len())
        && name.contains('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then_some(name)
}

/// Every package full name in a sentence, in order, each once: the AppX deployment service's
/// 0x80073D02 text names the apps that must be closed ("… the following apps need to be closed
/// Microsoft.WindowsCalculator_10.2103.8.0_x64__8wekyb3d8bbwe."), in the system's language
/// (real French text in a Microsoft Q&A thread: "les applications suivantes doivent être
/// fermées : …"): the names are found by their shape, not by the words around them.
pub fn package_full_names(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in
        text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '(' | ')'))
    {
        let word = word.trim_end_matches(['.', ':']);
        if word.contains('_')
            && package_name(word).is_some()
            && word.len() <= 200
            && !out.iter().any(|w| w == word)
        {
            out.push(word.to_string());
        }
    }
    out
}

/// A component-based servicing code (facility 0x0F, `0x800F0984` PSFX_E_MATCHING_BINARY_MISSING)
/// as the Setup log (`0x800f0984`) or Windows Error Reporting (`800f0984`, no prefix) writes it;
/// `None` for any other value, so that a list of sources finds the one parameter that holds it.
pub fn cbs_hresult(raw: &str) -> Option<u32> {
    let t = raw.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let n = u32::from_str_radix(hex, 16).ok()?;
    (n & 0xFFFF_0000 == 0x800F_0000).then_some(n)
}

/// Services in the order they should be started: the Windows services Exchange setup stops
/// alongside its own, then Active Directory Topology (and on Edge, ADAM), as every other Exchange
/// service depends on it (`domain.md` §4.4); services not listed keep their relative order after
/// these.
pub fn start_order(service: &str) -> usize {
    const FIRST: &[&str] = &[
        // Windows services Exchange setup stops alongside its own: Exchange's services use them
        // (WMI, IIS), so they start before Active Directory Topology.
        "winmgmt",
        "remoteregistry",
        "iisadmin",
        "w3svc",
        "adam_msexchange",
        "msexchangeadtopology",
        "msexchangesa",
        "msexchangeis",
        "msexchangetransport",
    ];
    let s = service.to_ascii_lowercase();
    FIRST.iter().position(|f| *f == s).unwrap_or(FIRST.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_types_in_every_language_seen() {
        assert_eq!(start_type("auto start"), Some(StartType::Auto));
        assert_eq!(start_type("Disabled"), Some(StartType::Disabled));
        assert_eq!(start_type("無効"), Some(StartType::Disabled));
        assert_eq!(start_type("要求による開始"), Some(StartType::Demand));
        assert_eq!(start_type("按需启动"), Some(StartType::Demand));
        assert_eq!(start_type("引导启动"), Some(StartType::Boot));
        assert_eq!(start_type("isteğe bağlı başlatma"), Some(StartType::Demand));
        assert_eq!(start_type("Automatisch starten"), Some(StartType::Auto));
        assert_eq!(start_type("Отключена"), Some(StartType::Disabled));
        // A wording not in the table still resolves through its stem.
        assert_eq!(
            start_type("Deaktiviert (verzögert)"),
            Some(StartType::Disabled)
        );
        assert_eq!(start_type("Manual"), Some(StartType::Demand));
        assert_eq!(start_type("Auto"), Some(StartType::Auto));
        assert_eq!(start_type("started"), None);
        assert_eq!(start_type(""), None);
    }

    #[test]
    fn scm_binary_splits_key_and_state() {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let b = utf16("TrustedInstaller/1\0");
        assert_eq!(scm_key(&b).as_deref(), Some("TrustedInstaller"));
        assert_eq!(scm_state(&b), Some(1));
        let b = utf16("MSExchangeIS/4\0\0");
        assert_eq!(
            (scm_key(&b).as_deref(), scm_state(&b)),
            (Some("MSExchangeIS"), Some(4))
        );
        let b = utf16("NlaSvc\0");
        assert_eq!(
            (scm_key(&b).as_deref(), scm_state(&b)),
            (Some("NlaSvc"), None)
        );
        for odd in [utf16("A/x\0"), utf16("/\0"), utf16("\0"), vec![0x41]] {
            assert_eq!(scm_state(&odd), None, "{odd:?}");
        }
        assert_eq!(scm_key(&[0x41]), None);
        assert_eq!(scm_key(&utf16("\0")), None);
        assert_eq!(scm_key(&utf16("/1\0")), None);
        assert_eq!(scm_key(&utf16("a/b/7")).as_deref(), Some("a/b"));
        assert_eq!(scm_state(&utf16("a/b/7")), Some(7), "no terminator");
        assert_eq!(scm_state(&utf16("a/00000000000042\0")), Some(42));
        assert_eq!(scm_state(&utf16("a/99999999999\0")), None, "overflow");
        let mut broken = utf16("Svc/1\0");
        broken.splice(0..0, [0x00, 0xd8]); // an unpaired high surrogate
        assert_eq!(scm_key(&broken), None);
    }

    #[test]
    fn msi_binary_reads_codes() {
        let (p, patch, code) = msi_binary(
            b"{BF6E38C4-D801-4508-9E61-26F5E05D60EC} {DDCDC225-F14E-411F-925A-7CF68238240F} 1642",
        );
        assert_eq!(p.as_deref(), Some("{BF6E38C4-D801-4508-9E61-26F5E05D60EC}"));
        assert_eq!(
            patch.as_deref(),
            Some("{DDCDC225-F14E-411F-925A-7CF68238240F}")
        );
        assert_eq!(code, Some(1642));
        let (_, _, code) = msi_binary(b"{9F612429-4A00-3D44-88CF-146DA2EE1F92}, 3010");
        assert_eq!(code, Some(3010));
    }

    #[test]
    fn package_names_and_full_names() {
        let full = "Microsoft.WindowsCalculator_10.2103.8.0_x64__8wekyb3d8bbwe";
        assert_eq!(package_name(full), Some("Microsoft.WindowsCalculator"));
        assert_eq!(
            package_name("Microsoft.WindowsCalculator"),
            Some("Microsoft.WindowsCalculator")
        );
        assert_eq!(
            package_name("Microsoft.VCLibs.140.00_14.0.30704.0_x64__8wekyb3d8bbwe"),
            Some("Microsoft.VCLibs.140.00")
        );
        for bad in [
            "x_1.2.3.4_x64__a",
            "Microsoft.App'x_1.0.0.0_x64__p",
            "Microsoft.App_1.0_x64__p",
            "a b.c",
        ] {
            assert_eq!(package_name(bad), None, "{bad}");
        }
        // A real 404 text (Microsoft Q&A, French system, translated there).
        let text = "error 0x80073D02: Installation failed because the following applications must be closed: excense.CompositeurDigitalUX.sideloaded_4.4.6465.0_x64__v9m10q68za468.";
        assert_eq!(
            package_full_names(text),
            vec!["excense.CompositeurDigitalUX.sideloaded_4.4.6465.0_x64__v9m10q68za468"]
        );
        assert_eq!(
            package_full_names(&format!("{full} {full}, {full}")).len(),
            1
        );
        assert!(package_full_names("nothing here_at all").is_empty());
    }

    #[test]
    fn servicing_codes() {
        assert_eq!(cbs_hresult("0x800f0984"), Some(0x800F_0984));
        assert_eq!(cbs_hresult("800f0922"), Some(0x800F_0922));
        assert_eq!(cbs_hresult("0x80070643"), None);
        assert_eq!(cbs_hresult("10.0.19041.1"), None);
        assert_eq!(cbs_hresult("0x0"), None);
    }

    #[test]
    fn app_packages_from_store_update_titles() {
        assert_eq!(
            app_package("9WZDNCRFHVN5-Microsoft.WindowsCalculator"),
            Some("Microsoft.WindowsCalculator")
        );
        for not_one in [
            "Security Update for Microsoft .NET Framework 3.5 SP1 (KB2604111)",
            "9WZDNCRFHVN5-Microsoft.App'; calc",
            "9wzdncrfhvn5-Microsoft.WindowsCalculator",
            "9WZDNCRFHVN5-Calculator",
            "9WZDNCRFHVN5-Microsoft.Windows Calculator",
        ] {
            assert_eq!(app_package(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn monthly_updates_of_one_series() {
        let july = "2017-07 Cumulative Update for Windows 10 Version 1703 for x64-based Systems (KB4025342)";
        let sept = "2017-09 Cumulative Update for Windows 10 Version 1703 for x64-based Systems (KB4038788)";
        assert_eq!(update_series(july), update_series(sept));
        assert_eq!(
            update_series(july).as_deref(),
            Some("Cumulative Update for Windows 10 Version 1703 for x64-based Systems")
        );
        assert_eq!(
            update_series("Windows Malicious Software Removal Tool x64 - December 2017 (KB890830)"),
            None
        );
        assert_eq!(update_series("9WZDNCRFJ3PS-Microsoft.RemoteDesktop"), None);
    }

    #[test]
    fn codes_and_kb_numbers() {
        assert_eq!(
            crate::codes::hresult(0x8007_0643).unwrap().name,
            "ERROR_INSTALL_FAILURE"
        );
        assert_eq!(crate::codes::hresult_from_win32(1603), Some(0x8007_0643));
        assert_eq!(
            crate::codes::hresult(0x8024_001e).unwrap().name,
            "WU_E_SERVICE_STOP"
        );
        assert_eq!(
            kb_of("Update Rollup 5 for Exchange Server 2007 Service Pack 3 (KB2602324)").as_deref(),
            Some("KB2602324")
        );
        assert_eq!(kb_of("Contoso Backup Agent 7.2 Hotfix 3"), None);
        assert_eq!(
            msi_message_product("Product: EMET 5.51 -- Installation failed."),
            Some("EMET 5.51")
        );
    }
}
