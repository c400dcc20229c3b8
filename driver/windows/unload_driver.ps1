# unload_driver.ps1: fltmc unload <service> (windows.md §3). A filter may refuse: 'Unload failed with
# error: 0x801f0010' (ERROR_FLT_DO_NOT_DETACH); the caller reads that from the raw text.
# Input: { service }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$r = Invoke-FleetgateNative (Join-Path $env:SystemRoot 'System32\fltmc.exe') @('unload', [string]$FleetgateInput.service) 120
Write-FleetgateResult ([pscustomobject]@{ exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr })
