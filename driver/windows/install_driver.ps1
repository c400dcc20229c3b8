# install_driver.ps1: installs a minifilter package that is already on the guest (windows.md §3).
#   method 'infsection': RUNDLL32 SETUPAPI.DLL,InstallHinfSection <decorated section> 132 <inf> (132 = 128, the
#     INF's folder is the source, + 4, reboot if needed). rundll32 reports no result: success is judged
#     from the service key and the copied file.
#   method 'pnputil': pnputil /add-driver <inf> /install. UNVERIFIED for primitive (non-PnP) driver INFs.
# Input: { infPath, method, section, service, sysName, timeoutSeconds }
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
