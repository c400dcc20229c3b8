# TEST DOUBLE of the Windows Performance Toolkit's wpaexporter.exe: `-i <recording> -profile <p>
# -outputfolder <dir>` reads the wpr double's note (../programs/wpr.ps1), and, when the Minifilter
# profile was recording, writes one table in the shape harness/guest/windows/filter-delays.ts reads:
# a header `Mini-Filter Driver,Major Function,Duration (µs)` and a row per callback, for each filter
# the note names, `wpr.callbacks` callbacks (default 3) of IRP_MJ_CREATE and of IRP_MJ_CLEANUP,
# each taking `wpr.delaysUs.<filter>` µs (default 1). No real export is recorded in ../shared/samples,
# so this proves the path (script, files, download, reading), not WPA's format: UNVERIFIED.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
Mount-DoubleDrive

$in = $null; $profile = $null; $out = $null
for ($i = 0; $i -lt $args.Count; $i++) {
    switch ([string]$args[$i]) {
        '-i' { $i++; $in = [string]$args[$i] }
        '-profile' { $i++; $profile = [string]$args[$i] }
        '-outputfolder' { $i++; $out = [string]$args[$i] }
        default { if (-not $in -and -not ([string]$args[$i]).StartsWith('-')) { $in = [string]$args[$i] } else { [Console]::Error.WriteLine("wpaexporter double: unknown argument $($args[$i])"); exit 1 } }
    }
}
if (-not $in -or -not $profile) { [Console]::Error.WriteLine('wpaexporter double: expected -i <trace> -profile <profile>'); exit 1 }
foreach ($f in @($in, $profile)) { if (-not (Test-Path -LiteralPath (ConvertTo-DoubleHostPath $f) -PathType Leaf)) { [Console]::Error.WriteLine("wpaexporter double: no file $f"); exit 1 } }
$note = Get-Content -LiteralPath (ConvertTo-DoubleHostPath $in) -Raw | ConvertFrom-Json
$dir = if ($out) { ConvertTo-DoubleHostPath $out } else { Split-Path -Parent (ConvertTo-DoubleHostPath $in) }
if (-not (Test-Path -LiteralPath $dir)) { New-Item -ItemType Directory -Path $dir -Force | Out-Null }
if (@($note.profiles) -notcontains 'Minifilter') { exit 0 }
$wpr = Get-DoubleValue (Read-DoubleState) 'wpr' ([pscustomobject]@{})
$callbacks = [int](Get-DoubleValue $wpr 'callbacks' 3)
$delays = Get-DoubleValue $wpr 'delaysUs' ([pscustomobject]@{})
$lines = New-Object System.Collections.Generic.List[string]
$lines.Add('Mini-Filter Driver,Major Function,Duration (µs)')
foreach ($filter in @($note.filters)) {
    $us = [double](Get-DoubleValue $delays $filter 1)
    foreach ($op in @('IRP_MJ_CREATE', 'IRP_MJ_CLEANUP')) {
        for ($n = 0; $n -lt $callbacks; $n++) { $lines.Add(('{0},{1},{2}' -f $filter, $op, $us.ToString([Globalization.CultureInfo]::InvariantCulture))) }
    }
}
Set-Content -LiteralPath (Join-Path $dir 'Mini-Filter_Delays.csv') -Value $lines -Encoding utf8
exit 0
