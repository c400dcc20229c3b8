# TEST DOUBLE of verifier.exe (windows.md section 2). Settings commands (/standard, /flags, /ruleclasses,
# /faults, each with /driver; /bootmode; /reset) take effect at the next boot, as Windows's do: they go
# into the state's onReboot.verifier and exit 2 (done, reboot required). /querysettings shows those
# next-boot settings, /query what runs now (the state's verifier, with each verified module's load count
# from which filters are loaded), both in the layout of recorded real outputs
# (samples/verifier/safeupload_querysettings_none_plus_query_none.txt and
# safeupload_locks_verifier_query_0x13b_loaded.txt): their lines with the flag marks, the flags value,
# the boot mode and the modules replaced. Anything else is refused (exit 1).
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
$state = Read-DoubleState
$none = [pscustomobject]@{ flags = 0; drivers = @(); bootMode = 'Persistent' }
$active = Get-DoubleValue $state 'verifier' $none
$onReboot = Get-DoubleValue $state 'onReboot' $null
$next = Get-DoubleValue $onReboot 'verifier' $active

function Refuse([string]$Why) { [Console]::Out.WriteLine($Why); exit 1 }

function Set-Next($Settings) {
    if ($null -eq $onReboot) { $script:onReboot = [pscustomobject]@{}; Set-DoubleValue $state 'onReboot' $script:onReboot }
    Set-DoubleValue $script:onReboot 'verifier' $Settings
    Save-DoubleState $state
    exit 2
}

function Get-Number([string]$Text) {
    if ($Text -match '^0x([0-9a-fA-F]{1,8})$') { return [Convert]::ToInt64($Matches[1], 16) }
    if ($Text -match '^\d+$') { return [int64]$Text }
    Refuse "Invalid number: $Text"
}

function Get-Drivers([object[]]$Rest) {
    if ($Rest.Count -lt 2 -or $Rest[0] -ne '/driver') { Refuse 'The /driver argument is missing.' }
    $d = @($Rest[1..($Rest.Count - 1)] | ForEach-Object { [string]$_ })
    foreach ($x in $d) { if ($x -notmatch '^[A-Za-z0-9_.$-]+\.(sys|exe|dll)$') { Refuse "Invalid driver name: $x" } }
    return , $d
}

function Format-Flags([object[]]$Lines, [int64]$Flags) {
    foreach ($l in $Lines) {
        if ($l -match '^(\s*)\[[ X]\] (0x[0-9a-fA-F]{8})(.*)$' -and $l -notmatch 'Indicates') {
            $bit = [Convert]::ToInt64($Matches[2].Substring(2), 16)
            "$($Matches[1])[$(if ($Flags -band $bit) { 'X' } else { ' ' })] $($Matches[2])$($Matches[3])"
        } elseif ($l -match '^(\s*Verifier Flags:\s*)0x[0-9a-fA-F]+') {
            "$($Matches[1])0x$('{0:x8}' -f $Flags)"
        } else { $l }
    }
}

$a = @($args | ForEach-Object { [string]$_ })
if ($a.Count -eq 0) { Refuse 'The verifier manager user interface is not available in this session.' }
switch ($a[0]) {
    '/querysettings' {
        $lines = @(Get-DoubleSampleLines 'verifier/safeupload_querysettings_none_plus_query_none.txt')
        $cut = [Array]::FindIndex($lines, [Predicate[object]] { param($l) $l -match '^\s*Verified Drivers:' })
        $out = @(Format-Flags $lines[0..$cut] ([int64]$next.flags))
        $bm = [Array]::FindIndex($out, [Predicate[object]] { param($l) $l -match '^\s*Boot Mode:' })
        if ($bm -ge 0) { $out[$bm + 2] = "    $($next.bootMode)" }
        $out
        ''
        if (@($next.drivers).Count) { foreach ($d in @($next.drivers)) { "    $d" } } else { '    None' }
        exit 0
    }
    '/query' {
        if ([int64]$active.flags -eq 0 -or -not @($active.drivers).Count) { 'No drivers are currently verified.'; exit 0 }
        $lines = @(Get-DoubleSampleLines 'verifier/safeupload_locks_verifier_query_0x13b_loaded.txt')
        $cut = [Array]::FindIndex($lines, [Predicate[object]] { param($l) $l -match '^\s*Driver Verification List' })
        Format-Flags $lines[0..$cut] ([int64]$active.flags)
        ''
        $loaded = @(Get-DoubleValue (Get-DoubleValue $state 'fltmc' $null) 'loaded' @() | ForEach-Object { "$($_.name).sys" })
        foreach ($d in @($active.drivers)) { "    MODULE: $d (load: $(if ($loaded -contains $d) { 1 } else { 0 }) / unload: 0)"; '' }
        exit 0
    }
    '/reset' { Set-Next $none }
    '/standard' { Set-Next ([pscustomobject]@{ flags = 0x209bb; drivers = (Get-Drivers $a[1..($a.Count - 1)]); bootMode = $next.bootMode }) }
    '/flags' {
        if ($a.Count -lt 2) { Refuse 'The /flags argument needs a value.' }
        Set-Next ([pscustomobject]@{ flags = (Get-Number $a[1]); drivers = (Get-Drivers $a[2..($a.Count - 1)]); bootMode = $next.bootMode })
    }
    '/ruleclasses' {
        $i = 1; $classes = @()
        while ($i -lt $a.Count -and $a[$i] -match '^\d+$') { $classes += [int]$a[$i]; $i++ }
        if (-not $classes.Count) { Refuse 'The /ruleclasses argument needs rule classes.' }
        $flags = if ($classes -contains 5) { 0x10 } else { 0 }
        Set-Next ([pscustomobject]@{ flags = $flags; ruleClasses = $classes; drivers = (Get-Drivers $a[$i..($a.Count - 1)]); bootMode = $next.bootMode })
    }
    '/faults' {
        if ($a.Count -lt 5) { Refuse 'The /faults argument needs probability, pool tags, applications and delay.' }
        $lr = [pscustomobject]@{ probability = (Get-Number $a[1]); poolTags = $a[2]; applications = $a[3]; delayMinutes = (Get-Number $a[4]) }
        Set-Next ([pscustomobject]@{ flags = 0x4; lowResources = $lr; drivers = (Get-Drivers $a[5..($a.Count - 1)]); bootMode = $next.bootMode })
    }
    '/bootmode' {
        $modes = @{ persistent = 'Persistent'; disableafterfail = 'DisableAfterFail'; oneboot = 'OneBoot'; resetonunusualshutdown = 'ResetOnUnusualShutdown' }
        if ($a.Count -ne 2 -or -not $modes.ContainsKey($a[1].ToLowerInvariant())) { Refuse "Invalid boot mode: $($a[1])" }
        $n = $next.PSObject.Copy(); $n.bootMode = $modes[$a[1].ToLowerInvariant()]
        Set-Next $n
    }
    default { Refuse "Invalid command line: $($a -join ' ')" }
}
