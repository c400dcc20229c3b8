# uninstall_driver.ps1: removes an installed (and already unloaded) minifilter.
#   method 'infsection': InstallHinfSection <DefaultUninstall.NTamd64> 132 <inf>; primitive drivers may only have
#     that section with LegacyUninstall=1 (windows.md §3).
#   method 'pnputil': pnputil /delete-driver <oemNN.inf> /uninstall for each package Get-WindowsDriver
#     finds installed from the original INF name (an upgrade leaves two). UNVERIFIED for primitive drivers.
#   method 'service': sc.exe delete <service> and removes the .sys (when the INF has no uninstall section).
# A service key still present afterwards is usually marked for deletion until the next reboot.
# Input: { method, service, sysName, infPath, section, timeoutSeconds }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$in = $FleetgateInput
$sys32 = Join-Path $env:SystemRoot 'System32'
$timeout = if ($in.timeoutSeconds) { [int]$in.timeoutSeconds } else { 300 }
$sysPath = Join-Path (Join-Path $sys32 'drivers') ([string]$in.sysName)
$published = $null
switch ([string]$in.method) {
    'infsection' {
        $r = Invoke-FleetgateNative (Join-Path $sys32 'rundll32.exe') @('setupapi.dll,InstallHinfSection', [string]$in.section, '132', [string]$in.infPath) $timeout
    }
    'pnputil' {
        # File names split on \ and / here: [IO.Path] splits on / only where PowerShell does not run on Windows.
        $infName = ([string]$in.infPath -split '[\\/]')[-1]
        # Every package installed from it: an in-place upgrade leaves the previous build's in the store too.
        $drvs = @(Get-WindowsDriver -Online -All | Where-Object { ([string]$_.OriginalFileName -split '[\\/]')[-1] -ieq $infName })
        if ($drvs.Count -eq 0) { throw "no driver package in the store was installed from $infName" }
        $published = (@($drvs | ForEach-Object { [string]$_.Driver }) -join ', ')
        $r = $null
        foreach ($drv in $drvs) {
            $one = Invoke-FleetgateNative (Join-Path $sys32 'pnputil.exe') @('/delete-driver', [string]$drv.Driver, '/uninstall') $timeout
            # The first that failed is what is reported; otherwise the last.
            if ($null -eq $r -or $r.exitCode -eq 0) { $r = $one }
        }
    }
    'service' {
        $r = Invoke-FleetgateNative (Join-Path $sys32 'sc.exe') @('delete', [string]$in.service) $timeout
        if (Test-Path -LiteralPath $sysPath) { Remove-Item -LiteralPath $sysPath -Force }
    }
    default { throw "unknown uninstall method '$($in.method)' (infsection, pnputil or service)" }
}
Write-FleetgateResult ([pscustomobject]@{
    method           = [string]$in.method
    publishedName    = $published
    exitCode         = $r.exitCode
    stdout           = $r.stdout
    stderr           = $r.stderr
    serviceKeyExists = [bool](Test-Path -LiteralPath "HKLM:\SYSTEM\CurrentControlSet\Services\$([string]$in.service)")
    driverFileExists = [bool](Test-Path -LiteralPath $sysPath)
})
