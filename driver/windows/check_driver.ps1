# check_driver.ps1: runs 'fltmc filters' and 'fltmc instances' and returns their raw text; the TypeScript
# side parses it (driver/windows/fltmc.ts), because the text is localized and its columns vary by build.
# Input: {} (nothing)
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$fltmc = Join-Path $env:SystemRoot 'System32\fltmc.exe'
$filters = Invoke-FleetgateNative $fltmc @('filters') 120
$instances = Invoke-FleetgateNative $fltmc @('instances') 120
Write-FleetgateResult ([pscustomobject]@{ filters = $filters; instances = $instances })
