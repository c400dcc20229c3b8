# set_crash_control.ps1: writes CrashControl values (windows.md §4): CrashDumpEnabled (0 none, 1 complete,
# 2 kernel, 3 small, 7 automatic), AutoReboot, DumpFile, MinidumpDir, Overwrite. Only the values given are
# written. Changes take effect after a reboot: the result says whether anything changed.
# Input: { values: { CrashDumpEnabled?, AutoReboot?, DumpFile?, MinidumpDir?, Overwrite? } }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$path = 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'
$types = @{ CrashDumpEnabled = 'DWord'; AutoReboot = 'DWord'; Overwrite = 'DWord'; DumpFile = 'ExpandString'; MinidumpDir = 'ExpandString' }
$key = Get-Item -LiteralPath $path
function Get-Raw($name) { $key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames) }
$before = [ordered]@{}
foreach ($name in $types.Keys) { $before[$name] = Get-Raw $name }
$changed = @()
foreach ($p in $FleetgateInput.values.PSObject.Properties) {
    if (-not $types.ContainsKey($p.Name)) { throw "not a CrashControl value this script writes: $($p.Name)" }
    $value = if ($types[$p.Name] -eq 'DWord') { [int]$p.Value } else { [string]$p.Value }
    if ([string]$before[$p.Name] -ne [string]$value) {
        New-ItemProperty -LiteralPath $path -Name $p.Name -Value $value -PropertyType $types[$p.Name] -Force | Out-Null
        $changed += $p.Name
    }
}
$key = Get-Item -LiteralPath $path
$after = [ordered]@{}
foreach ($name in $types.Keys) { $after[$name] = Get-Raw $name }
Write-FleetgateResult ([pscustomobject]@{ before = [pscustomobject]$before; after = [pscustomobject]$after; changed = $changed; rebootRequired = ($changed.Count -gt 0) })
