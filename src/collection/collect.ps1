<#
    evtriage collection script: gathers what evtriage needs to diagnose a failed update on this
    server into one zip (or a folder), with a manifest. Written by `evtriage collect --script`.
    It reads logs and the registry and writes only into its output; it changes nothing else.

    Runs on PowerShell 2.0 and later (Windows Server 2003 SP2 to today). Run it elevated:
        powershell -ExecutionPolicy Bypass -File .\collect.ps1
        powershell -ExecutionPolicy Bypass -File .\collect.ps1 -Output D:\cases\EXMBX01
    Then send the .zip (or the folder) it names at the end.
#>
param([string]$Output = "")

$ErrorActionPreference = "Stop"
$FormatVersion = 1
$ScriptVersion = "@VERSION@"

function Say([string]$Text) { [Console]::Error.WriteLine("evtriage collect: " + $Text) }

# JSON string: every character JSON requires escaped is escaped, and every non-ASCII one too, so
# that the manifest reads the same in any code page.
function Json([object]$Value) {
    if ($Value -eq $null) { return "null" }
    $b = New-Object System.Text.StringBuilder
    [void]$b.Append('"')
    foreach ($c in ([string]$Value).ToCharArray()) {
        $n = [int]$c
        if ($c -eq '"') { [void]$b.Append('\"') }
        elseif ($c -eq '\') { [void]$b.Append('\\') }
        elseif ($n -lt 32 -or $n -gt 126) { [void]$b.Append(('\u{0:x4}' -f $n)) }
        else { [void]$b.Append($c) }
    }
    [void]$b.Append('"')
    return $b.ToString()
}

function Utc([DateTime]$Time) { return $Time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ") }

function Sha256([string]$Path) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::ReadWrite)
    try {
        $hash = $sha.ComputeHash($stream)
    } finally {
        $stream.Close()
    }
    return ([BitConverter]::ToString($hash) -replace "-", "").ToLower()
}

function RegValue([string]$Key, [string]$Name) {
    try {
        $item = Get-ItemProperty -Path $Key -ErrorAction Stop
        $v = $item.$Name
        if ($v -ne $null -and [string]$v -ne "") { return [string]$v }
    } catch { }
    return $null
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Say "not elevated: the event logs may be refused. Run it from an elevated prompt (Run as administrator)."
}

$computerName = $env:COMPUTERNAME
$stamp = [DateTime]::Now.ToString("yyyyMMdd-HHmmss")
if ($Output -eq "") { $Output = Join-Path $env:TEMP ("evtriage-" + $computerName + "-" + $stamp) }
if ($Output.ToLower().EndsWith(".zip")) { $Output = $Output.Substring(0, $Output.Length - 4) }
if (Test-Path -LiteralPath $Output) {
    Say ("$Output exists: name a new folder with -Output")
    exit 2
}
$stage = (New-Item -ItemType Directory -Path $Output).FullName

$files = New-Object System.Collections.ArrayList
$missing = New-Object System.Collections.ArrayList

function Collected([string]$Name, [string]$Source, [string]$How) {
    $path = Join-Path $stage $Name
    $size = (Get-Item -LiteralPath $path).Length
    [void]$files.Add(("{" + '"path":' + (Json ($Name -replace '\\', '/')) + ',"source":' + (Json $Source) + ',"how":' + (Json $How) + ',"size":' + $size + ',"sha256":' + (Json (Sha256 $path)) + "}"))
}

function Missed([string]$What, [string]$Path, [string]$Why) {
    Say ("not collected: " + $What + " (" + $Path + "): " + $Why)
    [void]$missing.Add(("{" + '"what":' + (Json $What) + ',"path":' + (Json $Path) + ',"why":' + (Json $Why) + "}"))
}

function CopyTree([string]$From, [string]$Filter, [string]$To, [string]$What) {
    if (-not (Test-Path -LiteralPath $From)) { Missed $What $From "not on this computer"; return }
    $items = @(Get-ChildItem -Path $From -Filter $Filter -Recurse -Force -ErrorAction SilentlyContinue | Where-Object { -not $_.PSIsContainer })
    foreach ($item in $items) {
        $relative = $item.FullName.Substring($From.TrimEnd('\').Length).TrimStart('\')
        $name = Join-Path $To $relative
        $target = Join-Path $stage $name
        try {
            [void](New-Item -ItemType Directory -Force -Path (Split-Path $target -Parent))
            Copy-Item -LiteralPath $item.FullName -Destination $target -Force
            Collected $name $item.FullName "copy"
        } catch {
            Missed $What $item.FullName $_.Exception.Message
        }
    }
}

# The event logs: exported with wevtutil (Windows Server 2008 and later), or backed up through WMI
# as .evt files on Windows Server 2003, whose logs cannot be copied while the service runs.
$os = [Environment]::OSVersion.Version
[void](New-Item -ItemType Directory -Force -Path (Join-Path $stage "EventLogs"))
if ($os.Major -ge 6) {
    foreach ($log in @("Application", "System", "Setup")) {
        $name = "EventLogs\" + $log + ".evtx"
        Say ("exporting the " + $log + " log")
        & wevtutil.exe epl $log (Join-Path $stage $name) /ow:true
        if ($LASTEXITCODE -eq 0) { Collected $name $log "wevtutil epl" }
        else { Missed ($log + " log") $log ("wevtutil epl failed with exit code " + $LASTEXITCODE) }
    }
    # Logs not every Windows has (the AppX deployment service's from Windows 8 / Server 2012,
    # Windows Update's Operational log on Windows 10 / Server 2016): exported where they exist.
    foreach ($log in @("Microsoft-Windows-AppXDeploymentServer/Operational", "Microsoft-Windows-WindowsUpdateClient/Operational")) {
        $file = $log.Replace("/", "%4") + ".evtx"
        if (-not (Test-Path -LiteralPath (Join-Path $env:windir ("System32\winevt\Logs\" + $file)))) { continue }
        $name = "EventLogs\" + $file
        Say ("exporting the " + $log + " log")
        & wevtutil.exe epl $log (Join-Path $stage $name) /ow:true
        if ($LASTEXITCODE -eq 0) { Collected $name $log "wevtutil epl" }
        else { Missed ($log + " log") $log ("wevtutil epl failed with exit code " + $LASTEXITCODE) }
    }
} else {
    foreach ($log in @("Application", "System")) {
        $name = "EventLogs\" + $log + ".evt"
        Say ("backing up the " + $log + " log")
        try {
            $file = Get-WmiObject -Class Win32_NTEventLogFile -Filter ("LogFileName='" + $log + "'") -EnableAllPrivileges
            $result = $file.BackupEventLog((Join-Path $stage $name))
            if ($result.ReturnValue -eq 0) { Collected $name $log "BackupEventLog" }
            else { Missed ($log + " log") $log ("BackupEventLog returned " + $result.ReturnValue) }
        } catch {
            Missed ($log + " log") $log $_.Exception.Message
        }
    }
}

# The text logs, at their known places.
Say "copying the Exchange setup logs and the installer logs"
CopyTree (Join-Path $env:SystemDrive "ExchangeSetupLogs") "*" "ExchangeSetupLogs" "Exchange setup logs"
CopyTree (Join-Path $env:windir "Temp") "MSI*.LOG" "InstallerLogs" "Windows Installer logs"

# Exchange: 2010 and later under ExchangeServer\v1x\Setup, 2007 under Exchange\Setup.
$exchange = "null"
foreach ($key in @("HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup", "HKLM:\SOFTWARE\Microsoft\ExchangeServer\v14\Setup", "HKLM:\SOFTWARE\Microsoft\Exchange\Setup")) {
    $installPath = RegValue $key "MsiInstallPath"
    if ($installPath -ne $null) {
        $version = $null
        $parts = @((RegValue $key "MsiProductMajor"), (RegValue $key "MsiProductMinor"), (RegValue $key "MsiBuildMajor"), (RegValue $key "MsiBuildMinor"))
        if (@($parts | Where-Object { $_ -eq $null }).Count -eq 0) { $version = [string]::Join(".", $parts) }
        $exchange = "{" + '"version":' + (Json $version) + ',"install_path":' + (Json $installPath) + "}"
        CopyTree (Join-Path $installPath "Logging\Update") "*" "ExchangeUpdateLogs" "Exchange update logs"
        break
    }
}

# The computer, its Windows and its time zone: the offset in force on every day of the past 20
# years, each change found to the hour and then to the minute.
$tcpip = "HKLM:\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters"
$fqdn = RegValue $tcpip "Hostname"
if ($fqdn -eq $null) { $fqdn = $computerName }
$domain = RegValue $tcpip "Domain"
if ($domain -ne $null) { $fqdn = $fqdn + "." + $domain }
$nt = "HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
$osVersion = $os.ToString()
$ubr = RegValue $nt "UBR"
if ($ubr -ne $null) { $osVersion = [string]$os.Major + "." + [string]$os.Minor + "." + [string]$os.Build + "." + $ubr }
$zoneKey = "HKLM:\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"
$zoneName = RegValue $zoneKey "TimeZoneKeyName"
if ($zoneName -eq $null) { $zoneName = RegValue $zoneKey "StandardName" }

# TimeZoneInfo (.NET 3.5) knows the zone's past rules; TimeZone (.NET 2.0) applies this year's.
$zoneInfo = $null
try { $zoneInfo = [TimeZoneInfo]::Local } catch { }
function OffsetAt([DateTime]$Utc) {
    if ($zoneInfo -ne $null) { return [int]$zoneInfo.GetUtcOffset($Utc).TotalMinutes }
    return [int]($Utc.ToLocalTime() - $Utc).TotalMinutes
}
$now = [DateTime]::UtcNow
$at = $now.AddDays(-7320)
$at = New-Object DateTime($at.Year, $at.Month, $at.Day, $at.Hour, 0, 0, [DateTimeKind]::Utc)
$current = OffsetAt $at
$offsets = New-Object System.Collections.ArrayList
[void]$offsets.Add(("{" + '"from":' + (Json (Utc $at)) + ',"utc_offset_minutes":' + $current + "}"))
while ($at -lt $now) {
    $next = $at.AddDays(1)
    $offset = OffsetAt $next
    if ($offset -ne $current) {
        $hour = $at
        while ((OffsetAt $hour.AddHours(1)) -eq $current) { $hour = $hour.AddHours(1) }
        $minute = $hour
        while ((OffsetAt $minute) -eq $current) { $minute = $minute.AddMinutes(1) }
        $offset = OffsetAt $minute
        [void]$offsets.Add(("{" + '"from":' + (Json (Utc $minute)) + ',"utc_offset_minutes":' + $offset + "}"))
        $current = $offset
    }
    $at = $next
}

$manifest = "{`r`n" +
    '  "evtriage_collection": ' + $FormatVersion + ",`r`n" +
    '  "collected_by": ' + (Json ("evtriage collection script " + $ScriptVersion)) + ",`r`n" +
    '  "collected_at": ' + (Json (Utc ([DateTime]::Now))) + ",`r`n" +
    '  "computer": ' + (Json $fqdn) + ",`r`n" +
    '  "os": {"product": ' + (Json (RegValue $nt "ProductName")) + ', "version": ' + (Json $osVersion) + "},`r`n" +
    '  "time_zone": {"name": ' + (Json $zoneName) + ', "utc_offset_minutes": ' + (OffsetAt $now) + ', "offsets": [' + [string]::Join(",", $offsets.ToArray()) + "]},`r`n" +
    '  "exchange": ' + $exchange + ",`r`n" +
    '  "files": [' + [string]::Join(",`r`n    ", $files.ToArray()) + "],`r`n" +
    '  "missing": [' + [string]::Join(",`r`n    ", $missing.ToArray()) + "]`r`n}`r`n"
[System.IO.File]::WriteAllText((Join-Path $stage "evtriage-manifest.json"), $manifest, (New-Object System.Text.UTF8Encoding($false)))

# One zip through .NET 4.5 where present (Windows Server 2012 and later, or .NET 4.5 installed);
# otherwise the folder is the collection.
$zip = $stage + ".zip"
try {
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    [System.IO.Compression.ZipFile]::CreateFromDirectory($stage, $zip)
    Remove-Item -LiteralPath $stage -Recurse -Force
    Say ("wrote " + $zip + ": send this file")
} catch {
    Say ("no zip (.NET 4.5 is not on this computer): send the folder " + $stage + " (zip it with Send to > Compressed folder)")
}
if ($missing.Count -gt 0) {
    Say ([string]$missing.Count + " item(s) not collected: see the manifest's missing list")
    exit 3
}
exit 0
