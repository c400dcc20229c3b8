# capture_filter_delays: one workload run recorded by WPR with the Minifilter profile, so the Filter
# Manager's per-callback times are in the recording (windows.md section 8), then exported to delimited
# text by the Windows Performance Toolkit's wpaexporter with the cell's .wpaProfile (the one that
# holds the Mini-Filter Delays table). UNVERIFIED: nothing here has run on Windows.
# Input: agent, spec, workdir, outDir (absolute Windows paths), profile (the .wpaProfile on the
# guest), timeoutSeconds, and exporter (wpaexporter.exe; default the Toolkit's own folder).
# Answers with the agent's exit code and output, the recording's size and the files the export wrote
# (the recording is deleted once exported), or with agentError when the agent itself failed.
$ErrorActionPreference = 'Stop'
$full = { param($p) if ([string]$p -notmatch '^[A-Za-z]:\\') { throw "capture_filter_delays: '$p' is not an absolute Windows path" }; $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath([string]$p) }
$agent = & $full (Get-FleetgateInputValue -Name agent)
$spec = & $full (Get-FleetgateInputValue -Name spec)
$workdir = & $full (Get-FleetgateInputValue -Name workdir)
$outWin = [string](Get-FleetgateInputValue -Name outDir)
$outDir = & $full $outWin
$profileWpa = & $full (Get-FleetgateInputValue -Name profile)
$timeout = [int](Get-FleetgateInputValue -Name timeoutSeconds)
$exporterWin = [string](Get-FleetgateInputValue -Name exporter -Optional)
if (-not $exporterWin) { $exporterWin = 'C:\Program Files (x86)\Windows Kits\10\Windows Performance Toolkit\wpaexporter.exe' }
$exporter = & $full $exporterWin
$wpr = Join-Path $env:SystemRoot 'System32\wpr.exe'
$node = Join-Path $env:ProgramFiles 'nodejs\node.exe'
if (-not (Test-Path -LiteralPath $wpr -PathType Leaf)) { throw "capture_filter_delays: no wpr.exe at $wpr (Windows 10 and later have it)" }
if (-not (Test-Path -LiteralPath $exporter -PathType Leaf)) { throw "capture_filter_delays: no wpaexporter.exe at ${exporterWin}: the image needs the Windows Performance Toolkit (ADK) to export the recording" }
if (-not (Test-Path -LiteralPath $profileWpa -PathType Leaf)) { throw "capture_filter_delays: no WPA profile at $profileWpa" }
if (-not (Test-Path -LiteralPath $node -PathType Leaf)) { throw "capture_filter_delays: the image has no Node.js at $node" }
foreach ($d in @($workdir, $outDir)) { if (-not (Test-Path -LiteralPath $d -PathType Container)) { New-Item -ItemType Directory -Path $d -Force | Out-Null } }
$etlWin = $outWin.TrimEnd('\') + '\filter-delays.etl'
$exportWin = $outWin.TrimEnd('\') + '\export'
$export = & $full $exportWin
if (Test-Path -LiteralPath $export) { Remove-Item -LiteralPath $export -Recurse -Force }
New-Item -ItemType Directory -Path $export -Force | Out-Null

# A recording left running by an earlier attempt would make -start fail: cancel it first (an error
# here only means none was running).
$null = Invoke-FleetgateNative -FilePath $wpr -ArgumentList @('-cancel') -TimeoutSeconds 120
$stopped = $false
$agentError = $null
$r = $null
try {
    $start = Invoke-FleetgateNative -FilePath $wpr -ArgumentList @('-start', 'GeneralProfile', '-start', 'FileIO', '-start', 'Minifilter', '-filemode') -TimeoutSeconds 300
    if ($start.exitCode -ne 0) { throw "capture_filter_delays: wpr -start failed (exit $($start.exitCode)): $(($start.stdout + $start.stderr).Trim())" }
    # The agent failing (its time up) is the run's failure, not the recording's: answered apart.
    try { $r = Invoke-FleetgateNative -FilePath $node -ArgumentList @($agent, '--spec', $spec, '--workdir', $workdir, '--quiet') -TimeoutSeconds $timeout } catch { $agentError = $_.Exception.Message }
    $stop = Invoke-FleetgateNative -FilePath $wpr -ArgumentList @('-stop', $etlWin) -TimeoutSeconds 600
    if ($stop.exitCode -ne 0) { throw "capture_filter_delays: wpr -stop failed (exit $($stop.exitCode)): $(($stop.stdout + $stop.stderr).Trim())" }
    $stopped = $true
} finally {
    # Never leave a kernel trace running into the unload and collect steps.
    if (-not $stopped) { $null = Invoke-FleetgateNative -FilePath $wpr -ArgumentList @('-cancel') -TimeoutSeconds 120 }
}
if ($null -ne $agentError) {
    $result = [ordered]@{ agentError = $agentError }
} else {
    $x = Invoke-FleetgateNative -FilePath $exporter -ArgumentList @('-i', $etlWin, '-profile', (Get-FleetgateInputValue -Name profile), '-outputfolder', $exportWin) -TimeoutSeconds 1800
    if ($x.exitCode -ne 0) { throw "capture_filter_delays: wpaexporter failed (exit $($x.exitCode)): $(($x.stdout + $x.stderr).Trim())" }
    # The files by their Windows paths (as list_dumps names them: the folder, a backslash, the name).
    $files = @(Get-ChildItem -LiteralPath $export -File | Sort-Object Name | ForEach-Object { [ordered]@{ path = $exportWin.TrimEnd('\') + '\' + $_.Name; sizeBytes = $_.Length } })
    # The recording itself can run to gigabytes: gone once exported, so that no later dump lacks the room.
    $etlPath = & $full $etlWin
    $etlBytes = (Get-Item -LiteralPath $etlPath).Length
    Remove-Item -LiteralPath $etlPath -Force
    $result = [ordered]@{ exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr; etlBytes = $etlBytes; files = $files }
}
Write-FleetgateResult $result
