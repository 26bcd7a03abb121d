//! `--script`: a PowerShell script that carries out the service part of the remediation for one
//! computer, for the engineer to read and run there. It refuses to run on another computer; for
//! each service it checks that the service exists and is still disabled, sets the start type the
//! log recorded, starts the automatic ones in dependency order (Active Directory Topology first)
//! and verifies. It stops no process (that needs a person's judgement: PIDs are reused), supports
//! `-WhatIf`, and keeps a transcript.
//!
//! It runs on PowerShell 1.0 and 2.0 (Windows Server 2003 and 2008), so it uses WMI's
//! `Win32_Service` (whose `StartMode` `Get-Service` did not show before PowerShell 5) and no
//! `try`, `CmdletBinding` or `-ErrorAction Stop`. It is written as UTF-8 with a byte order mark:
//! without one, PowerShell before 6 reads a script in the system's ANSI code page and mangles
//! non-English display names. Lines end in CRLF.
//!
//! Log text enters the script only through [`command::render`] (service names, as single-quoted
//! literals, after their check) and [`comment_text`] (the header's comments, ASCII only).

use crate::diagnosis::command::{self, Kind, Shell, Value};
use crate::diagnosis::finding::{Finding, ServiceInfo};
use crate::escape::comment_text;
use crate::knowledge::{self, StartType};
use std::collections::{BTreeSet, HashSet};

/// What the script says it does, and to which services.
pub struct Script {
    pub computer: String,
    pub text: String,
    /// Services it would change, in the order it changes them (key name, or display name).
    pub services: Vec<String>,
}

/// Whether `name` is a computer name the script may compare against: a DNS name of letters,
/// digits and hyphens. Anything else could not be a Windows computer name.
pub fn is_computer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
        })
}

/// Whether a finding belongs in a script: something to act on, with services still disabled.
pub fn wants(f: &Finding) -> bool {
    f.action_required && f.services.iter().any(|s| s.still_disabled)
}

struct Planned<'a> {
    service: &'a ServiceInfo,
    by: &'static str,
    literal: String,
    mode: &'static str,
}

/// The script for one computer's findings (those [`wants`] keeps), or why there is none.
pub fn write(computer: &str, findings: &[&Finding]) -> Result<Script, String> {
    if !is_computer_name(computer) {
        return Err(format!(
            "the computer name \u{ab}{}\u{bb} from the logs is not a valid computer name: no script is written for it",
            crate::escape::display(computer)
        ));
    }
    let short = computer.split('.').next().unwrap_or(computer).to_string();
    let mut planned: Vec<Planned> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for f in findings {
        for s in f.services.iter().filter(|s| s.still_disabled) {
            if seen.contains(&s.name.to_lowercase()) {
                continue;
            }
            let (by, kind) = if s.name_is_key {
                ("key", Kind::ServiceKey)
            } else {
                ("display", Kind::ServiceDisplay)
            };
            let literal =
                match command::render(Shell::PowerShell, kind, &Value::Known(s.name.clone())) {
                    Ok(l) => l,
                    Err(why) => {
                        skipped.push(format!("{} {why}: left out", comment_text(&s.name)));
                        continue;
                    }
                };
            let mode = match StartType::parse_name(&s.original_start) {
                Some(StartType::Auto) => "Automatic",
                Some(StartType::Demand) => "Manual",
                _ => {
                    skipped.push(format!(
                        "{}: start type before it was disabled is {}: left as it is",
                        comment_text(&s.name),
                        comment_text(&s.original_start)
                    ));
                    continue;
                }
            };
            seen.insert(s.name.to_lowercase());
            planned.push(Planned {
                service: s,
                by,
                literal,
                mode,
            });
        }
    }
    if planned.is_empty() {
        return Err(format!(
            "no service of {} can be restored by a script{}",
            crate::escape::display(computer),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join("; "))
            }
        ));
    }
    planned.sort_by_key(|p| knowledge::start_order(&p.service.name));

    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push_str("\r\n");
    };
    line(&format!(
        "# Written by evtriage {} to restore the services that an install left disabled on {}.",
        env!("CARGO_PKG_VERSION"),
        comment_text(computer)
    ));
    line("# Read it before you run it. It stops no process and changes only the services below.");
    line("#");
    line("# Findings:");
    let mut files: BTreeSet<&str> = BTreeSet::new();
    for f in findings {
        line(&format!(
            "#   {} ({}): {}",
            comment_text(&f.signature),
            comment_text(f.kb_article.as_deref().unwrap_or("no KB")),
            comment_text(&f.title)
        ));
        if let Some(u) = f.update.title.as_deref().or(f.update.product.as_deref()) {
            line(&format!("#     update: {}", comment_text(u)));
        }
        line(&format!(
            "#     from {} to {} UTC",
            f.first_seen.format("%Y-%m-%d %H:%M:%S"),
            f.last_seen.format("%Y-%m-%d %H:%M:%S")
        ));
        files.extend(f.evidence.iter().map(|e| e.file.as_str()));
    }
    line("# Evidence files:");
    for file in files {
        line(&format!("#   {}", comment_text(file)));
    }
    for s in &skipped {
        line(&format!("# Not in this script: {s}"));
    }
    line("#");
    line("# Dry run (changes nothing, says what it would change):");
    line("#   powershell.exe -ExecutionPolicy Bypass -File <this file> -WhatIf");
    line("# Then, from an elevated prompt:");
    line("#   powershell.exe -ExecutionPolicy Bypass -File <this file>");
    line("# Exit code: 0 every service restored and verified, 1 some were not, 2 wrong computer.");
    line("");
    line("param([switch]$WhatIf)");
    line("");
    line(&format!("$expected = {}", command::ps_literal(&short)));
    line("$here = @($env:COMPUTERNAME, [System.Net.Dns]::GetHostName())");
    line("if (-not ($here -contains $expected)) {");
    line(
        "    Write-Host ('This script was written for ' + $expected + '; this computer is ' + $env:COMPUTERNAME + '. Nothing was changed.')",
    );
    line("    exit 2");
    line("}");
    line(
        "$log = Join-Path $env:TEMP ('evtriage-remediation-' + (Get-Date -Format 'yyyyMMdd-HHmmss') + '.log')",
    );
    line("Start-Transcript -Path $log -ErrorAction SilentlyContinue | Out-Null");
    line("if ($WhatIf) { Write-Host 'Dry run (-WhatIf): nothing is changed.' }");
    line("$script:problems = 0");
    line("");
    line("# One service by key name or by display name, through WMI (PowerShell 1.0 and 2.0).");
    line("function Get-EvtService([string]$by, [string]$name) {");
    line(
        "    $found = @(Get-WmiObject -Class Win32_Service | Where-Object { ($by -eq 'key' -and $_.Name -eq $name) -or ($by -eq 'display' -and $_.DisplayName -eq $name) })",
    );
    line("    if ($found.Count -ne 1) { return $null }");
    line("    return $found[0]");
    line("}");
    line("");
    line("function Restore-EvtStartType([string]$by, [string]$name, [string]$mode) {");
    line("    $svc = Get-EvtService $by $name");
    line(
        "    if ($svc -eq $null) { Write-Host ('MISSING  ' + $name + ': no such service on this computer (or more than one): not changed'); $script:problems++; return }",
    );
    line(
        "    if ($svc.StartMode -ne 'Disabled') { Write-Host ('SKIP     ' + $svc.Name + ': start type is ' + $svc.StartMode + ', no longer Disabled: left as it is'); return }",
    );
    line(
        "    if ($WhatIf) { Write-Host ('WHATIF   would set ' + $svc.Name + ' (' + $svc.DisplayName + ') from Disabled to ' + $mode); return }",
    );
    line("    $result = $svc.ChangeStartMode($mode)");
    line(
        "    if ($result.ReturnValue -ne 0) { Write-Host ('FAILED   ' + $svc.Name + ': ChangeStartMode returned ' + $result.ReturnValue); $script:problems++; return }",
    );
    line("    Write-Host ('SET      ' + $svc.Name + ' to ' + $mode)");
    line("}");
    line("");
    line("function Start-EvtService([string]$by, [string]$name) {");
    line("    $svc = Get-EvtService $by $name");
    line("    if ($svc -eq $null) { return }");
    line("    if ($svc.State -eq 'Running') { Write-Host ('RUNNING  ' + $svc.Name); return }");
    line("    if ($WhatIf) { Write-Host ('WHATIF   would start ' + $svc.Name); return }");
    line(
        "    if ($svc.StartMode -eq 'Disabled') { Write-Host ('SKIP     ' + $svc.Name + ': still disabled, not started'); $script:problems++; return }",
    );
    line("    $result = $svc.StartService()");
    line("    $deadline = (Get-Date).AddSeconds(120)");
    line(
        "    while ($svc.State -ne 'Running' -and (Get-Date) -lt $deadline) { Start-Sleep -Seconds 2; $svc = Get-EvtService $by $name }",
    );
    line(
        "    if ($svc.State -ne 'Running') { Write-Host ('FAILED   ' + $svc.Name + ' did not start (StartService returned ' + $result.ReturnValue + ', state ' + $svc.State + ')'); $script:problems++; return }",
    );
    line("    Write-Host ('STARTED  ' + $svc.Name)");
    line("}");
    line("");
    line("function Test-EvtService([string]$by, [string]$name, [string]$mode, [bool]$running) {");
    line("    $svc = Get-EvtService $by $name");
    line("    if ($svc -eq $null) { return }");
    line("    $wmiMode = $mode; if ($mode -eq 'Automatic') { $wmiMode = 'Auto' }");
    line(
        "    $ok = ($svc.StartMode -eq $wmiMode) -and (-not $running -or $svc.State -eq 'Running')",
    );
    line(
        "    if ($ok) { Write-Host ('OK       ' + $svc.Name + ': ' + $svc.StartMode + ', ' + $svc.State) } else { Write-Host ('NOT OK   ' + $svc.Name + ': ' + $svc.StartMode + ', ' + $svc.State + ' (expected ' + $wmiMode + ')'); $script:problems++ }",
    );
    line("}");
    line("");
    line(
        "# 1. The start type each service had before setup disabled it, as the System log recorded it.",
    );
    for p in &planned {
        line(&format!(
            "Restore-EvtStartType '{}' {} '{}'",
            p.by, p.literal, p.mode
        ));
    }
    line("");
    line(
        "# 2. Start the automatic ones, Active Directory Topology first: the others depend on it.",
    );
    for p in planned.iter().filter(|p| p.mode == "Automatic") {
        line(&format!("Start-EvtService '{}' {}", p.by, p.literal));
    }
    line("");
    line("# 3. Verify.");
    line("if (-not $WhatIf) {");
    for p in &planned {
        line(&format!(
            "    Test-EvtService '{}' {} '{}' ${}",
            p.by,
            p.literal,
            p.mode,
            if p.mode == "Automatic" {
                "true"
            } else {
                "false"
            }
        ));
    }
    line("}");
    line("Stop-Transcript -ErrorAction SilentlyContinue | Out-Null");
    line(
        "if ($script:problems -gt 0) { Write-Host ('' + $script:problems + ' problem(s): see above and ' + $log); exit 1 }",
    );
    line("exit 0");
    Ok(Script {
        computer: computer.to_string(),
        services: planned.iter().map(|p| p.service.name.clone()).collect(),
        text: out,
    })
}

/// The script's bytes as written: UTF-8 with a byte order mark (see the module's comment).
pub fn bytes(script: &Script) -> Vec<u8> {
    let mut b = Vec::with_capacity(script.text.len() + 3);
    b.extend_from_slice(b"\xEF\xBB\xBF");
    b.extend_from_slice(script.text.as_bytes());
    b
}

/// The file name for one computer's script in a `--script` folder.
pub fn file_name(computer: &str) -> String {
    let short = computer.split('.').next().unwrap_or(computer);
    format!("evtriage-remediation-{short}.ps1")
}
