# query_verifier.ps1: verifier /querysettings, raw text (labels are translated: the TypeScript side reads the
# hex values, driver/verifier/querysettings.ts).
# Input: {} (nothing)
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$r = Invoke-FleetgateNative (Join-Path $env:SystemRoot 'System32\verifier.exe') @('/querysettings') 120
Write-FleetgateResult ([pscustomobject]@{ exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr })
