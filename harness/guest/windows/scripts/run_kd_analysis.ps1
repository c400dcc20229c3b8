# run_kd_analysis: `kd -z <dump> -y <symbol path> -c "!analyze -v; q"` on a Windows analysis host
# (windows.md section 6), output returned whole for the controller to parse (harness/crash/windows/kd.ts).
# Input: { "kd": "C:\\...\\kd.exe", "dump": "C:\\...\\x.dmp", "symbolPath": "srv*C:\\sym*https://...", "timeoutSec": 900 }
$ErrorActionPreference = 'Stop'
$kd = [string](Get-FleetgateInputValue -Name 'kd')
$dump = [string](Get-FleetgateInputValue -Name 'dump')
$symbolPath = [string](Get-FleetgateInputValue -Name 'symbolPath')
$timeoutSec = [int](Get-FleetgateInputValue -Name 'timeoutSec')
if (-not (Test-Path -LiteralPath $kd)) { throw "fleetgate run_kd_analysis: kd.exe not found at '$kd' (install the Debugging Tools for Windows)" }
if (-not (Test-Path -LiteralPath $dump)) { throw "fleetgate run_kd_analysis: no dump at '$dump'" }
$out = Join-Path ([IO.Path]::GetTempPath()) ("fleetgate-kd-" + [guid]::NewGuid().ToString('N') + ".txt")
# -logo writes the whole session to a file: kd's console output goes through the OEM code page.
$p = Start-Process -FilePath $kd -ArgumentList @('-z', "`"$dump`"", '-y', "`"$symbolPath`"", '-logo', "`"$out`"", '-c', '"!analyze -v; q"') -NoNewWindow -PassThru
if (-not $p.WaitForExit($timeoutSec * 1000)) {
    $p.Kill()
    throw "fleetgate run_kd_analysis: kd did not finish within $timeoutSec s"
}
$text = ''
if (Test-Path -LiteralPath $out) { $text = [IO.File]::ReadAllText($out); Remove-Item -LiteralPath $out -Force }
Write-FleetgateResult ([ordered]@{
    exitCode = $p.ExitCode
    output = $text
})
