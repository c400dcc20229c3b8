# apply_verifier.ps1: runs verifier.exe once per argument list (windows.md §2), in order, stopping at the
# first exit code that is neither 0 (done) nor 2 (done, reboot required). The argument lists come from
# driver/verifier/profiles.ts and are checked there.
# Input: { commands: [[arg, ...], ...] }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$verifier = Join-Path $env:SystemRoot 'System32\verifier.exe'
$results = @()
foreach ($cmd in @($FleetgateInput.commands)) {
    $r = Invoke-FleetgateNative $verifier ([string[]]@($cmd)) 300
    $results += [pscustomobject]@{ args = @($cmd); exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr }
    if ($r.exitCode -ne 0 -and $r.exitCode -ne 2) { break }
}
Write-FleetgateResult ([pscustomobject]@{ results = $results })
