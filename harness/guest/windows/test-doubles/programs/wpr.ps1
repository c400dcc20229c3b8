# TEST DOUBLE of wpr.exe (Windows Performance Recorder, in System32 since Windows 10). Nothing here
# records anything: `-start <profile> [-start <profile> ...] [-filemode]` notes the profiles and the
# filters loaded now (fltmc.loaded) in the state, `-stop <file>` writes that note as the "recording"
# (JSON, not ETW: ../programs/wpaexporter.ps1 reads it) and `-cancel` drops it. A second -start while
# one runs, or -stop with none (or with wpr.failStop set), fails with exit 1. Real WPR's messages and exit codes are not recorded
# in ../shared/samples: the words below are this double's, and the harness only reads the exit code.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
Mount-DoubleDrive

$state = Read-DoubleState
$wpr = Get-DoubleValue $state 'wpr' ([pscustomobject]@{})
$recording = Get-DoubleValue $wpr 'recording' $null
function Save-Recording($Value) {
    Set-DoubleValue $wpr 'recording' $Value
    Set-DoubleValue $state 'wpr' $wpr
    Save-DoubleState $state
}

$profiles = New-Object System.Collections.Generic.List[string]
$verb = $null; $file = $null
for ($i = 0; $i -lt $args.Count; $i++) {
    switch -regex ([string]$args[$i]) {
        '^-start$' { $verb = 'start'; $i++; if ($i -ge $args.Count) { [Console]::Error.WriteLine('wpr double: -start needs a profile'); exit 1 }; $profiles.Add([string]$args[$i]) }
        '^-filemode$' { }
        '^-stop$' { $verb = 'stop'; $i++; if ($i -lt $args.Count) { $file = [string]$args[$i] } }
        '^-cancel$' { $verb = 'cancel' }
        default { [Console]::Error.WriteLine("wpr double: unknown argument $($args[$i])"); exit 1 }
    }
}
switch ($verb) {
    'start' {
        if ($null -ne $recording) { [Console]::Out.WriteLine('wpr double: a recording is already running'); exit 1 }
        $fltmc = Get-DoubleValue $state 'fltmc' ([pscustomobject]@{})
        Save-Recording ([pscustomobject]@{ profiles = @($profiles); filters = @(@(Get-DoubleValue $fltmc 'loaded' @()) | ForEach-Object { $_.name }) })
    }
    'stop' {
        if ($null -eq $recording) { [Console]::Out.WriteLine('wpr double: no recording is running'); exit 1 }
        if (-not $file) { [Console]::Error.WriteLine('wpr double: -stop needs a file'); exit 1 }
        if (Get-DoubleValue $wpr 'failStop' $false) { [Console]::Out.WriteLine('wpr double: the recording could not be saved (wpr.failStop)'); exit 1 }
        # The filters loaded at any point of the recording: those at its start and those loaded since.
        $fltmc = Get-DoubleValue (Read-DoubleState) 'fltmc' ([pscustomobject]@{})
        $names = @(@($recording.filters) + @(@(Get-DoubleValue $fltmc 'loaded' @()) | ForEach-Object { $_.name }) | Select-Object -Unique)
        $note = [ordered]@{ double = 'wpr'; profiles = @($recording.profiles); filters = $names }
        Set-Content -LiteralPath (ConvertTo-DoubleHostPath $file) -Value (ConvertTo-Json -InputObject $note -Depth 5)
        Save-Recording $null
    }
    'cancel' {
        if ($null -eq $recording) { exit 1 }
        Save-Recording $null
    }
    default { [Console]::Error.WriteLine('wpr double: expected -start, -stop or -cancel'); exit 1 }
}
exit 0
