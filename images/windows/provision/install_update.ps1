# install_update: brings the release to the wanted patch level with one cumulative update (.msu):
# wusa /quiet /norestart. Exit codes: 0 installed, 3010 installed and a reboot is needed (Packer's
# windows-restart follows), 2359302 (0x240006) already installed; anything else fails the build.
# After the reboots write_image_facts.ps1 records the UBR the update produced.
$ErrorActionPreference = 'Stop'

$dir = $env:FLEETGATE_DIR
if (-not $dir) { $dir = 'C:\fleetgate' }
if (-not $env:FLEETGATE_MSU) {
    Write-Output 'no cumulative update given: the image keeps the ISO patch level'
    exit 0
}
$msu = Join-Path $dir $env:FLEETGATE_MSU
if (-not (Test-Path -LiteralPath $msu)) { throw "the update $msu is not there" }
$p = Start-Process -FilePath "$env:SystemRoot\System32\wusa.exe" -ArgumentList @("`"$msu`"", '/quiet', '/norestart') -Wait -PassThru
$code = $p.ExitCode
if ($code -ne 0 -and $code -ne 3010 -and $code -ne 2359302) { throw "wusa $msu exited with $code (0x$('{0:X}' -f $code))" }
# Not left in the image, whichever way it went in.
Remove-Item -LiteralPath $msu -Force
if ($code -eq 2359302) {
    Write-Output "KB$env:FLEETGATE_KB is installed already"
    exit 0
}
Write-Output "wusa exited with $code; reboot follows"
exit $code
