# set_service_values.ps1: writes registry values under an installed service's key (the product's mode and
# the harness's allowed executables, from the package's fleetgate.driver.yaml) before the filter loads,
# and reads them back. The subkey is made when the INF did not make it.
# Input: { service, values: [{ key, name, type: dword|string|multi-string, value }] }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$service = [string]$FleetgateInput.service
$svcKey = "HKLM:\SYSTEM\CurrentControlSet\Services\$service"
if (-not (Test-Path -LiteralPath $svcKey)) { throw "no service key ${svcKey}: install the package first" }
$types = @{ 'dword' = 'DWord'; 'string' = 'String'; 'multi-string' = 'MultiString' }
$written = @()
foreach ($v in @($FleetgateInput.values)) {
    if (-not $types.ContainsKey([string]$v.type)) { throw "value $($v.name): type '$($v.type)' is not dword, string or multi-string" }
    $key = "$svcKey\$([string]$v.key)"
    if (-not (Test-Path -LiteralPath $key)) { New-Item -Path $key -Force | Out-Null }
    $value = if ($v.type -eq 'dword') { [int]$v.value } elseif ($v.type -eq 'multi-string') { [string[]]@($v.value) } else { [string]$v.value }
    New-ItemProperty -LiteralPath $key -Name ([string]$v.name) -Value $value -PropertyType $types[[string]$v.type] -Force | Out-Null
    $back = (Get-ItemProperty -LiteralPath $key -Name ([string]$v.name)).([string]$v.name)
    $written += [pscustomobject]@{ key = [string]$v.key; name = [string]$v.name; value = @($back) }
}
Write-FleetgateResult ([pscustomobject]@{ written = $written })
