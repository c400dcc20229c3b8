# install_driver.ps1: installs a minifilter package that is already on the guest (windows.md §3).
#   method 'infsection': RUNDLL32 SETUPAPI.DLL,InstallHinfSection <decorated section> 132 <inf> (132 = 128, the
#     INF's folder is the source, + 4, reboot if needed). rundll32 reports no result: success is judged
#     from the service key and the copied file.
#   method 'pnputil': pnputil /add-driver <inf> /install. UNVERIFIED for primitive (non-PnP) driver INFs.
# Input: { infPath, method, section, service, sysName, timeoutSeconds }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$in = $FleetgateInput
$inf = [string]$in.infPath
if (-not (Test-Path -LiteralPath $inf -PathType Leaf)) { throw "INF not found on the guest: $inf" }
$timeout = if ($in.timeoutSeconds) { [int]$in.timeoutSeconds } else { 300 }
$sys32 = Join-Path $env:SystemRoot 'System32'

switch ([string]$in.method) {
    'infsection' {
        $r = Invoke-FleetgateNative (Join-Path $sys32 'rundll32.exe') @('setupapi.dll,InstallHinfSection', [string]$in.section, '132', $inf) $timeout
    }
    'pnputil' {
        $r = Invoke-FleetgateNative (Join-Path $sys32 'pnputil.exe') @('/add-driver', $inf, '/install') $timeout
    }
    default { throw "unknown install method '$($in.method)' (infsection or pnputil)" }
}

$svcKey = "HKLM:\SYSTEM\CurrentControlSet\Services\$([string]$in.service)"
$svc = Get-ItemProperty -LiteralPath $svcKey -ErrorAction SilentlyContinue
$altitude = $null
$instancesKey = $null
foreach ($k in @("$svcKey\Parameters\Instances", "$svcKey\Instances")) {
    $ik = Get-ItemProperty -LiteralPath $k -ErrorAction SilentlyContinue
    if ($ik -and ($ik.PSObject.Properties.Name -contains 'DefaultInstance')) {
        $inst = Get-ItemProperty -LiteralPath "$k\$($ik.DefaultInstance)" -ErrorAction SilentlyContinue
        if ($inst -and ($inst.PSObject.Properties.Name -contains 'Altitude')) { $altitude = [string]$inst.Altitude; $instancesKey = $k; break }
    }
}
$sysPath = Join-Path (Join-Path $sys32 'drivers') ([string]$in.sysName)
$sha = $null
if (Test-Path -LiteralPath $sysPath -PathType Leaf) { $sha = (Get-FileHash -LiteralPath $sysPath -Algorithm SHA256).Hash.ToLowerInvariant() }

Write-FleetgateResult ([pscustomobject]@{
    method        = [string]$in.method
    exitCode      = $r.exitCode
    stdout        = $r.stdout
    stderr        = $r.stderr
    serviceKey    = [bool]$svc
    imagePath     = if ($svc -and ($svc.PSObject.Properties.Name -contains 'ImagePath')) { [string]$svc.ImagePath } else { $null }
    group         = if ($svc -and ($svc.PSObject.Properties.Name -contains 'Group')) { [string]$svc.Group } else { $null }
    altitude      = $altitude
    instancesKey  = $instancesKey
    driverSha256  = $sha
})
