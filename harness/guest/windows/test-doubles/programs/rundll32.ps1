# TEST DOUBLE of rundll32.exe, only for `setupapi.dll,InstallHinfSection <section> 132 <inf>`:
#   an install section is installed as Windows's setup would (inf.ps1); on Windows 10 1903 and later a
#   DefaultUninstall section marked LegacyUninstall=1 is ignored (windows.md section 3), so nothing is
#   removed. rundll32 reports no result, here as there: exit 0, no output. Mode 132 asks the user about a
#   reboot when one is needed; the double models no reboot prompt (there is no user over SSH).
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
. (Join-Path $PSScriptRoot 'inf.ps1')
Mount-DoubleDrive
if ($args.Count -ne 4 -or $args[0] -ne 'setupapi.dll,InstallHinfSection' -or $args[2] -ne '132') { exit 0 }
$section = [string]$args[1]
$inf = [string]$args[3]
if (-not (Test-Path -LiteralPath $inf -PathType Leaf)) { exit 0 }
if ($section -match 'Uninstall') { exit 0 }
$state = Read-DoubleState
Install-DoubleInf $state $inf $section | Out-Null
Save-DoubleState $state
exit 0
