# list_dumps: the kernel crash dumps present now (windows.md section 1 "Locations", section 4).
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
    if ($null -eq $item -or $item.PSIsContainer -or $seen.ContainsKey($item.FullName)) { continue }
    $seen[$item.FullName] = $true
    $dumps.Add([ordered]@{ path = $item.FullName; kind = 'memory'; sizeBytes = $item.Length; lastWriteTimeUtc = (ConvertTo-FleetgateTime $item.LastWriteTimeUtc) })
}
foreach ($d in $minidumpDirs) {
    if (-not (Test-Path -LiteralPath $d -PathType Container)) { continue }
    foreach ($item in @(Get-ChildItem -LiteralPath $d -Filter '*.dmp' -File -Force)) {
        if ($seen.ContainsKey($item.FullName)) { continue }
        $seen[$item.FullName] = $true
        $dumps.Add([ordered]@{ path = $item.FullName; kind = 'minidump'; sizeBytes = $item.Length; lastWriteTimeUtc = (ConvertTo-FleetgateTime $item.LastWriteTimeUtc) })
    }
}
Write-FleetgateResult ([ordered]@{ dumps = $dumps.ToArray(); memoryFiles = $memoryFiles; minidumpDirs = $minidumpDirs })
