# get_crash_control.ps1: reads HKLM\SYSTEM\CurrentControlSet\Control\CrashControl (windows.md §4). DumpFile and
# MinidumpDir are returned unexpanded (%SystemRoot%\MEMORY.DMP), as stored.
# Input: {} (nothing)
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$key = Get-Item -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'
$values = [ordered]@{}
foreach ($name in @('CrashDumpEnabled', 'AutoReboot', 'DumpFile', 'MinidumpDir', 'Overwrite')) {
    $values[$name] = $key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
}
Write-FleetgateResult ([pscustomobject]$values)
