# query_verifier.ps1: verifier /querysettings (what the next boot gets) or verifier /query (what runs now),
# raw text (labels are translated: the TypeScript side reads the hex values, driver/verifier/querysettings.ts).
# Input: { mode: 'querysettings' | 'query' } (absent: querysettings)
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$mode = if ($FleetgateInput -and $FleetgateInput.mode) { [string]$FleetgateInput.mode } else { 'querysettings' }
if ($mode -ne 'querysettings' -and $mode -ne 'query') { throw "query_verifier: mode '$mode' is neither querysettings nor query" }
$r = Invoke-FleetgateNative (Join-Path $env:SystemRoot 'System32\verifier.exe') @("/$mode") 120
Write-FleetgateResult ([pscustomobject]@{ exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr })
