# start_driver.ps1: fltmc load <service> (windows.md §3). fltmc's text is returned raw; the caller reads
# its error line (e.g. 'Load failed with error: 0x...').
# Input: { service }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$r = Invoke-FleetgateNative (Join-Path $env:SystemRoot 'System32\fltmc.exe') @('load', [string]$FleetgateInput.service) 120
Write-FleetgateResult ([pscustomobject]@{ exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr })
