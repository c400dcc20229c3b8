# restart: asks Windows to restart in delaySeconds (shutdown.exe /r /t N), so this script's result line
# reaches the controller before the session goes. Input: delaySeconds (1..600). The caller then
# waits for the guest to come back with a changed LastBootUpTime (harness/guest/windows/reboot.ts).
# /d p:4:1 records it as planned maintenance in the System log (event 1074), so a cell's own reboots
# are told from unexpected ones (event 41, 6008).
$ErrorActionPreference = 'Stop'
$delay = [int](Get-FleetgateInputValue -Name delaySeconds)
if ($delay -lt 1 -or $delay -gt 600) { throw "restart: delaySeconds must be 1 to 600, got $delay" }
$r = Invoke-FleetgateNative -FilePath 'shutdown.exe' -ArgumentList @('/r', '/t', [string]$delay, '/d', 'p:4:1', '/c', 'fleetgate cell reboot') -TimeoutSeconds 60
if ($r.exitCode -ne 0) { throw "shutdown.exe /r exited with $($r.exitCode): $(([string]$r.stdout + ' ' + [string]$r.stderr).Trim())" }
Write-FleetgateResult ([ordered]@{ requested = $true; delaySeconds = $delay })
