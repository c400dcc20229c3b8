# list_dumps: the kernel crash dumps present now (windows.md section 1 "Locations", section 4), and the
# live kernel dumps of LiveKernelReports.
# Input: none. Looks where CrashControl says dumps go (DumpFile, MinidumpDir), falling back to
# %SystemRoot%\MEMORY.DMP and %SystemRoot%\Minidump, and also at the defaults when they differ.
$ErrorActionPreference = 'Stop'
$cc = 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'
$memoryFiles = @([Environment]::ExpandEnvironmentVariables('%SystemRoot%\MEMORY.DMP'))
$minidumpDirs = @([Environment]::ExpandEnvironmentVariables('%SystemRoot%\Minidump'))
$dumpFile = Get-FleetgateRegistryValue -Path $cc -Name 'DumpFile'
if ($dumpFile) { $memoryFiles = @($dumpFile) + $memoryFiles }
$minidumpDir = Get-FleetgateRegistryValue -Path $cc -Name 'MinidumpDir'
if ($minidumpDir) { $minidumpDirs = @($minidumpDir) + $minidumpDirs }
$seen = @{}
$dumps = New-Object System.Collections.Generic.List[object]
foreach ($f in $memoryFiles) {
    $item = Get-Item -LiteralPath $f -Force -ErrorAction SilentlyContinue
    if ($null -eq $item -or $item.PSIsContainer -or $seen.ContainsKey($f)) { continue }
    $seen[$f] = $true
    $dumps.Add([ordered]@{ path = $f; kind = 'memory'; sizeBytes = $item.Length; lastWriteTimeUtc = (ConvertTo-FleetgateTime $item.LastWriteTimeUtc) })
}
foreach ($d in $minidumpDirs) {
    if (-not (Test-Path -LiteralPath $d -PathType Container)) { continue }
    foreach ($item in @(Get-ChildItem -LiteralPath $d -Filter '*.dmp' -File -Force)) {
        # The path as Windows names it: the folder as CrashControl has it, a backslash, the name (not
        # Join-Path, which writes / where PowerShell runs off Windows, as in the tests).
        $path = $d.TrimEnd('\') + '\' + $item.Name
        if ($seen.ContainsKey($path)) { continue }
        $seen[$path] = $true
        $dumps.Add([ordered]@{ path = $path; kind = 'minidump'; sizeBytes = $item.Length; lastWriteTimeUtc = (ConvertTo-FleetgateTime $item.LastWriteTimeUtc) })
    }
}
# Live kernel dumps, written without a stop (Driver Verifier's 0x1C4 among them), in subfolders of
# LiveKernelReports by component (which subfolder the verifier uses is unverified: all are looked at).
$live = [Environment]::ExpandEnvironmentVariables('%SystemRoot%\LiveKernelReports')
if (Test-Path -LiteralPath $live -PathType Container) {
    foreach ($item in @(Get-ChildItem -LiteralPath $live -Filter '*.dmp' -File -Recurse -Force)) {
        $rel = $item.FullName.Substring((Get-Item -LiteralPath $live -Force).FullName.Length).TrimStart('\', '/') -replace '/', '\'
        $path = $live + '\' + $rel
        if ($seen.ContainsKey($path)) { continue }
        $seen[$path] = $true
        $dumps.Add([ordered]@{ path = $path; kind = 'live'; sizeBytes = $item.Length; lastWriteTimeUtc = (ConvertTo-FleetgateTime $item.LastWriteTimeUtc) })
    }
}
Write-FleetgateResult ([ordered]@{ dumps = $dumps.ToArray(); memoryFiles = $memoryFiles; minidumpDirs = $minidumpDirs })
