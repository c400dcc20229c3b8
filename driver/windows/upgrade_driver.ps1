# upgrade_driver.ps1: replaces the previous build of the minifilter with a new one in place: unload the old
# one, install the new package (same methods as install_driver.ps1), load it. Each step is reported, with
# the SHA-256 of the installed .sys before and after, so the caller can tell the new build is the one
# running.
# Input: { service, sysName, infPath, method, section, timeoutSeconds }
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
