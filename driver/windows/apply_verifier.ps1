# apply_verifier.ps1: runs verifier.exe once per argument list (windows.md §2), in order, stopping at the
# first exit code that is neither 0 (done) nor 2 (done, reboot required). The argument lists come from
# driver/verifier/profiles.ts and are checked there.
# Input: { commands: [[arg, ...], ...] }
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

$verifier = Join-Path $env:SystemRoot 'System32\verifier.exe'
$results = @()
foreach ($cmd in @($FleetgateInput.commands)) {
    $r = Invoke-FleetgateNative $verifier ([string[]]@($cmd)) 300
    $results += [pscustomobject]@{ args = @($cmd); exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr }
    if ($r.exitCode -ne 0 -and $r.exitCode -ne 2) { break }
}
Write-FleetgateResult ([pscustomobject]@{ results = $results })
