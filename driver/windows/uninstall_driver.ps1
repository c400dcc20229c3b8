# uninstall_driver.ps1: removes an installed (and already unloaded) minifilter.
#   method 'infsection': InstallHinfSection <DefaultUninstall.NTamd64> 132 <inf>; primitive drivers may only have
#     that section with LegacyUninstall=1 (windows.md §3).
#   method 'pnputil': pnputil /delete-driver <oemNN.inf> /uninstall, the published name found with
#     Get-WindowsDriver by the original INF name. UNVERIFIED for primitive drivers.
#   method 'service': sc.exe delete <service> and removes the .sys (when the INF has no uninstall section).
# A service key still present afterwards is usually marked for deletion until the next reboot.
# Input: { method, service, sysName, infPath, section, timeoutSeconds }
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult
# (the runner's common prelude). Never reads $PSScriptRoot: the runner sends this file's text alone.
$ErrorActionPreference = 'Stop'

# --- Invoke-FleetgateNative: the same text in every driver/windows script that runs a program (a test
# keeps the copies identical; the runner sends one file, so it cannot be dot-sourced). Runs a program
# with exact arguments and captures its exit code and output. Not `& exe @args 2>&1`: Windows PowerShell
# 5.1 turns stderr lines into terminating errors under $ErrorActionPreference = 'Stop', drops empty
# arguments, and quotes differently from PowerShell 7.
function Invoke-FleetgateNative {
    param([string]$FilePath, [string[]]$ArgumentList = @(), [int]$TimeoutSeconds = 300)
    # CommandLineToArgvW quoting, so "" and spaces arrive as sent.
    $quoted = foreach ($a in $ArgumentList) {
        if ($a -eq '' -or $a -match '[\s"]') { '"' + (($a -replace '(\\*)"', '$1$1\"') -replace '(\\+)$', '$1$1') + '"' } else { $a }
    }
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = $FilePath
    $psi.Arguments = (@($quoted) -join ' ')
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.CreateNoWindow = $true
    # Console tools write redirected output in the OEM code page (unverified for fltmc, verifier, pnputil).
    $oem = [Text.Encoding]::GetEncoding([Globalization.CultureInfo]::CurrentCulture.TextInfo.OEMCodePage)
    $psi.StandardOutputEncoding = $oem
    $psi.StandardErrorEncoding = $oem
    $p = [System.Diagnostics.Process]::Start($psi)
    $out = $p.StandardOutput.ReadToEndAsync()
    $err = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
        try { $p.Kill() } catch { }
        throw "$FilePath $($psi.Arguments) did not finish within $TimeoutSeconds s"
    }
    $p.WaitForExit()
    [pscustomobject]@{ exitCode = $p.ExitCode; stdout = $out.Result; stderr = $err.Result }
}
# --- end Invoke-FleetgateNative

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
        $infName = [IO.Path]::GetFileName([string]$in.infPath)
        $drv = Get-WindowsDriver -Online -All | Where-Object { [IO.Path]::GetFileName($_.OriginalFileName) -ieq $infName } | Select-Object -First 1
        if (-not $drv) { throw "no driver package in the store was installed from $infName" }
        $published = [string]$drv.Driver
        $r = Invoke-FleetgateNative (Join-Path $sys32 'pnputil.exe') @('/delete-driver', $published, '/uninstall') $timeout
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
