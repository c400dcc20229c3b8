# new_folder: makes a folder (and its parents) for files the harness is about to send (a driver package,
# the workload agent). Input: path, an absolute Windows path. Answers with the path and whether it was
# there already.
$ErrorActionPreference = 'Stop'
$p = [string](Get-FleetgateInputValue -Name path)
if ($p -notmatch '^[A-Za-z]:\\[^"<>|*?\r\n]+$') { throw "new_folder: path must be an absolute Windows path, got '$p'" }
$existed = Test-Path -LiteralPath $p -PathType Container
if (-not $existed) { New-Item -ItemType Directory -Path $p -Force | Out-Null }
Write-FleetgateResult ([ordered]@{ path = $p; existed = $existed })
