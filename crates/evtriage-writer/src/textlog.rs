//! Text logs in the encodings Windows writes them: Windows Installer's verbose log (UTF-16LE with a
//! byte-order mark, or the ANSI code page), `ServiceControl.log` (`Add-Content`: ANSI), and the
//! CLIXML of `Export-Clixml` (UTF-16LE with a byte-order mark in Windows PowerShell 2.0-5.1), all
//! with CRLF line ends (`shared/reference/text-logs.md`).

/// How a text file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-16LE with a byte-order mark.
    Utf16Le,
    /// The Western ANSI code page (1252), no byte-order mark.
    Ansi,
}

/// `text` (lines ended by `\n`) with CRLF line ends, encoded.
pub fn encode(text: &str, encoding: TextEncoding) -> Vec<u8> {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    match encoding {
        TextEncoding::Utf16Le => {
            let mut out = vec![0xFF, 0xFE];
            out.extend(crlf.encode_utf16().flat_map(u16::to_le_bytes));
            out
        }
        TextEncoding::Ansi => encoding_rs::WINDOWS_1252.encode(&crlf).0.into_owned(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const HEADER: &str =
    "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\n";

/// `ServiceStartupMode.xml`: one hashtable per service, `@{Name; StartMode}` as WMI's
/// `Win32_Service` says it (`Auto`, `Manual`, `Disabled`), in the key order PowerShell's
/// hashtables happen to keep (not fixed: `StartMode` first for some).
pub fn clixml_start_modes(services: &[(&str, &str)]) -> String {
    let mut out = String::from(HEADER);
    for (i, (name, mode)) in services.iter().enumerate() {
        let tn = if i == 0 {
            "<TN RefId=\"0\"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>"
                .to_string()
        } else {
            "<TNRef RefId=\"0\" />".to_string()
        };
        let name_entry = format!(
            "<En><S N=\"Key\">Name</S><S N=\"Value\">{}</S></En>",
            escape(name)
        );
        let mode_entry = format!(
            "<En><S N=\"Key\">StartMode</S><S N=\"Value\">{}</S></En>",
            escape(mode)
        );
        let entries = if i % 3 == 1 {
            format!("{mode_entry}{name_entry}")
        } else {
            format!("{name_entry}{mode_entry}")
        };
        out.push_str(&format!(
            "  <Obj RefId=\"{i}\">\n    {tn}\n    <DCT>\n      {entries}\n    </DCT>\n  </Obj>\n"
        ));
    }
    out.push_str("</Objs>");
    out
}

/// `ServiceState.xml`: `Get-Service | Export-Clixml`, one deserialized `ServiceController` per
/// service with its `Name`, `DisplayName`, `ServiceName` and `Status` (an enum: its name in
/// `ToString`, its value in `I32`).
pub fn clixml_service_states(services: &[(&str, &str, bool)]) -> String {
    let mut out = String::from(HEADER);
    let mut ref_id = 0;
    for (i, (name, display, running)) in services.iter().enumerate() {
        let (status, value) = if *running {
            ("Running", 4)
        } else {
            ("Stopped", 1)
        };
        let (tn, tn_status) = if i == 0 {
            (
                "<TN RefId=\"0\"><T>Deserialized.System.ServiceProcess.ServiceController</T><T>Deserialized.System.ComponentModel.Component</T><T>Deserialized.System.MarshalByRefObject</T><T>Deserialized.System.Object</T></TN>".to_string(),
                "<TN RefId=\"1\"><T>System.ServiceProcess.ServiceControllerStatus</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN>".to_string(),
            )
        } else {
            (
                "<TNRef RefId=\"0\" />".to_string(),
                "<TNRef RefId=\"1\" />".to_string(),
            )
        };
        let obj = ref_id;
        let status_ref = ref_id + 1;
        ref_id += 2;
        out.push_str(&format!(
            "  <Obj RefId=\"{obj}\">\n    {tn}\n    <ToString>System.ServiceProcess.ServiceController</ToString>\n    <Props>\n      <S N=\"Name\">{n}</S>\n      <Obj N=\"RequiredServices\" RefId=\"{rs}\"><LST /></Obj>\n      <B N=\"CanPauseAndContinue\">false</B>\n      <S N=\"DisplayName\">{d}</S>\n      <S N=\"MachineName\">.</S>\n      <S N=\"ServiceName\">{n}</S>\n      <Obj N=\"Status\" RefId=\"{status_ref}\">{tn_status}<ToString>{status}</ToString><I32>{value}</I32></Obj>\n    </Props>\n  </Obj>\n",
            n = escape(name),
            d = escape(display),
            rs = 100_000 + i,
        ));
    }
    out.push_str("</Objs>");
    out
}
