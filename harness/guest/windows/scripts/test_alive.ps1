# test_alive: the heartbeat probe. Input: none. Proves that the guest can still start PowerShell,
# which every other operation needs; deliberately does nothing that touches the filter under test.
$ErrorActionPreference = 'Stop'
Write-FleetgateResult ([ordered]@{ alive = $true; pid = $PID })
