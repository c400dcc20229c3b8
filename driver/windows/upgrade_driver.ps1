# upgrade_driver.ps1: replaces the previous build of the minifilter with a new one in place: unload the old
# one, install the new package (same methods as install_driver.ps1), load it. Each step is reported, with
# the SHA-256 of the installed .sys before and after, so the caller can tell the new build is the one
# running.
# Input: { service, sysName, infPath, method, section, timeoutSeconds }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$in = $FleetgateInput
$sys32 = Join-Path $env:SystemRoot 'System32'
$fltmc = Join-Path $sys32 'fltmc.exe'
$timeout = if ($in.timeoutSeconds) { [int]$in.timeoutSeconds } else { 300 }
$sysPath = Join-Path (Join-Path $sys32 'drivers') ([string]$in.sysName)
function Get-InstalledHash { if (Test-Path -LiteralPath $sysPath -PathType Leaf) { (Get-FileHash -LiteralPath $sysPath -Algorithm SHA256).Hash.ToLowerInvariant() } else { $null } }

if (-not (Test-Path -LiteralPath ([string]$in.infPath) -PathType Leaf)) { throw "INF not found on the guest: $($in.infPath)" }
$before = Get-InstalledHash
$unload = Invoke-FleetgateNative $fltmc @('unload', [string]$in.service) 120
switch ([string]$in.method) {
    'infsection' { $install = Invoke-FleetgateNative (Join-Path $sys32 'rundll32.exe') @('setupapi.dll,InstallHinfSection', [string]$in.section, '132', [string]$in.infPath) $timeout }
    'pnputil'    { $install = Invoke-FleetgateNative (Join-Path $sys32 'pnputil.exe') @('/add-driver', [string]$in.infPath, '/install') $timeout }
    default      { throw "unknown install method '$($in.method)' (infsection or pnputil)" }
}
$after = Get-InstalledHash
$load = Invoke-FleetgateNative $fltmc @('load', [string]$in.service) 120
Write-FleetgateResult ([pscustomobject]@{
    sha256Before = $before
    sha256After  = $after
    unload       = $unload
    install      = $install
    load         = $load
})
