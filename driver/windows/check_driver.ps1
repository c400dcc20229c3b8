# check_driver.ps1: runs 'fltmc filters' and 'fltmc instances' and returns their raw text; the TypeScript
# side parses it (driver/windows/fltmc.ts), because the text is localized and its columns vary by build.
# Input: {} (nothing)
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

$fltmc = Join-Path $env:SystemRoot 'System32\fltmc.exe'
$filters = Invoke-FleetgateNative $fltmc @('filters') 120
$instances = Invoke-FleetgateNative $fltmc @('instances') 120
Write-FleetgateResult ([pscustomobject]@{ filters = $filters; instances = $instances })
