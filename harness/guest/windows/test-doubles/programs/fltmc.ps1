# TEST DOUBLE of fltmc.exe. `filters` (or no argument) replays the recorded real listing the state names
# (fltmc.filtersSample, a file of ../shared/samples/fltmc/: Defender's WdFilter among its filters) with a
# row for each filter loaded since, in the same columns; `instances` prints the columns of a recorded
# real `fltmc instances` listing, a row per loaded filter and volume; `load X` / `unload X` change which
# filters are loaded. What Windows refuses is refused with fltmc's own error lines (windows.md section 3):
# a service with no key is 0x80070002, loading a loaded filter 0x800700b7, unloading one that is not
# loaded 0x801f0013, a filter that will not detach 0x801f0010; fltmc.loadErrors names the HRESULT a
# load of a given service fails with (a code-integrity refusal, a DriverEntry failure), and an image
# whose placeholder says it is unsigned fails code integrity. That fltmc's
# exit code is 1 on these is unverified (Windows returns the HRESULT, which a Linux exit status cannot hold).
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')

$state = Read-DoubleState
$fltmc = Get-DoubleValue $state 'fltmc' ([pscustomobject]@{})
$loaded = @(Get-DoubleValue $fltmc 'loaded' @())

function Save-Loaded($List) {
    Set-DoubleValue $fltmc 'loaded' @($List)
    Set-DoubleValue $state 'fltmc' $fltmc
    Save-DoubleState $state
}

function Fail([string]$Operation, [string]$Hresult) {
    [Console]::Out.WriteLine('')
    [Console]::Out.WriteLine("$Operation failed with error: $Hresult")
    exit 1
}

$verb = if ($args.Count -eq 0) { 'filters' } else { ([string]$args[0]).ToLowerInvariant() }
switch ($verb) {
    'filters' {
        if ($args.Count -gt 1) { Fail 'Filter listing' '0x80070057' }
        if (Get-DoubleValue $fltmc 'accessDenied' $false) { Get-DoubleSampleLines 'fltmc/unrealengine_horde_fltmc_access_denied.txt'; exit 1 }
        $lines = @(Get-DoubleSampleLines (Get-DoubleValue $fltmc 'filtersSample' 'fltmc/winfsp_issue498_fltmc_filters_containers.txt'))
        while ($lines.Count -and $lines[-1].Trim() -eq '') { $lines = $lines[0..($lines.Count - 2)] }
        $lines
        foreach ($f in $loaded) { '{0,-30}  {1,9}{2,13}{3,10}' -f $f.name, @($f.volumes).Count, $f.altitude, 0 }
        ''
    }
    'instances' {
        $header = @(Get-DoubleSampleLines 'fltmc/fltmc_instances_FileInfo_windows-driver-docs-pr709.txt')[0..1]
        $header
        foreach ($f in $loaded) {
            foreach ($v in @($f.volumes)) { '{0,-20}  {1,-37}{2,11}     {3,-22}{4,5}     {5,-8}' -f $f.name, $v, $f.altitude, $f.instance, 0, '00000003' }
        }
        ''
    }
    'load' {
        if ($args.Count -ne 2) { Fail 'Load' '0x80070057' }
        $name = [string]$args[1]
        $svc = "HKLM:\SYSTEM\CurrentControlSet\Services\$name"
        if ($null -eq (Find-DoubleRegistryKey $state $svc)) { Fail 'Load' '0x80070002' }
        if (@($loaded | Where-Object { $_.name -ieq $name }).Count) { Fail 'Load' '0x800700b7' }
        # Code integrity (the double's model): an image with no signature (a build that skipped the
        # signing step; its placeholder says FLEETGATE-PLACEHOLDER-UNSIGNED) is refused with
        # ERROR_INVALID_IMAGE_HASH, before the driver runs.
        $imagePath = [string](Get-DoubleValue (Get-DoubleValue (Find-DoubleRegistryKey $state $svc).Value 'ImagePath' $null) 'value' '')
        if ($imagePath -match '^\\SystemRoot\\(.+)$') {
            $file = ConvertTo-DoubleHostPath ('C:\Windows\' + $Matches[1])
            if ((Test-Path -LiteralPath $file) -and ((Get-Content -LiteralPath $file -TotalCount 1) -like 'FLEETGATE-PLACEHOLDER-UNSIGNED*')) { Fail 'Load' '0x80070241' }
        }
        $errors = Get-DoubleValue $fltmc 'loadErrors' $null
        $hr = Get-DoubleValue $errors $name $null
        if ($null -ne $hr) { Fail 'Load' ([string]$hr) }
        $instances = Find-DoubleRegistryKey $state "$svc\Parameters\Instances"
        $default = if ($instances) { [string]$instances.Value.DefaultInstance.value } else { $null }
        $inst = if ($default) { Find-DoubleRegistryKey $state "$svc\Parameters\Instances\$default" } else { $null }
        $altitude = if ($inst) { [string]$inst.Value.Altitude.value } else { $null }
        if (-not $altitude) { Fail 'Load' '0x801f0019' }
        # An instance at an altitude another filter holds on the volume is not attached (0x801f0011).
        $recorded = foreach ($l in Get-DoubleSampleLines (Get-DoubleValue $fltmc 'filtersSample' 'fltmc/winfsp_issue498_fltmc_filters_containers.txt')) { if ($l -match '^\S+\s+\d+\s+(\d+(\.\d+)?)\s+\d+\s*$') { $Matches[1] } }
        $taken = (@($loaded | Where-Object { [string]$_.altitude -eq $altitude }).Count -gt 0) -or (@($recorded) -contains $altitude)
        # Not `$volumes = if ...`: a statement's output unrolls a one-element array into its element.
        $volumes = @()
        if (-not $taken) { $volumes = @(Get-DoubleValue $fltmc 'volumes' @('C:')) }
        Save-Loaded (@($loaded) + [pscustomobject]@{ name = $name; altitude = $altitude; instance = $default; volumes = $volumes })
        # What the loaded filter enforces from now on, for the process-start checks (programs/filter-policy.sh).
        $params = Find-DoubleRegistryKey $state "$svc\Parameters"
        if ($null -ne $params) {
            $policy = Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'filter-policy'
            $null = New-Item -ItemType Directory -Path $policy -Force
            if ([int](Get-DoubleValue (Get-DoubleValue $params.Value 'EnforcementMode' $null) 'value' 0) -eq 1) {
                $allowed = foreach ($a in @(Get-DoubleValue (Get-DoubleValue $params.Value 'AllowedImages' $null) 'value' @())) { $a -replace '%SystemRoot%', 'C:\Windows' -replace '%ProgramFiles%', 'C:\Program Files' }
                # A debug build that reads only the first entry of its list (programs/filter-model.ps1).
                if ([string](Get-DoubleValue (Get-DoubleValue $params.Value 'DebugFault' $null) 'value' '') -eq 'first-allowed-only') { $allowed = @($allowed)[0] }
                Set-Content -LiteralPath (Join-Path $policy "$name.allowed") -Value @($allowed)
            }
            $fault = [string](Get-DoubleValue (Get-DoubleValue $params.Value 'DebugFault' $null) 'value' '')
            if ($fault -ne '') { Set-Content -LiteralPath (Join-Path $policy "$name.fault") -Value $fault }
        }
        exit 0
    }
    'unload' {
        if ($args.Count -ne 2) { Fail 'Unload' '0x80070057' }
        $name = [string]$args[1]
        if (-not @($loaded | Where-Object { $_.name -ieq $name }).Count) { Fail 'Unload' '0x801f0013' }
        if (@(Get-DoubleValue $fltmc 'refuseUnload' @()) -contains $name) { Fail 'Unload' '0x801f0010' }
        Save-Loaded @($loaded | Where-Object { $_.name -ine $name })
        foreach ($ext in @('allowed', 'fault')) { Remove-Item -LiteralPath (Join-Path (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'filter-policy') "$name.$ext") -Force -ErrorAction SilentlyContinue }
        exit 0
    }
    default {
        [Console]::Out.WriteLine("Unrecognized command.")
        exit 1
    }
}
