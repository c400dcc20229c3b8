# TEST DOUBLE. What bin/powershell runs: takes powershell.exe's command line as fleetgate sends it
# (harness/guest/windows/encode.ts: -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand
# <base64 UTF-16LE>), refuses any other argument as powershell.exe would not run it, loads the Windows
# doubles, sets the environment a Windows guest has, and runs the decoded script in this scope (its
# `exit` ends the process with its code, as powershell.exe's would). Like powershell.exe (and pwsh)
# with -EncodedCommand, the script gets redirected stdin as $input, a line per item: the stdin
# bootstrap reads its script from there.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'powershell-args.ps1')
$encoded = Get-DoubleEncodedCommand $args
# A restart scheduled by shutdown.exe (bin/shutdown.exe) happened before this session: the guest
# booted again (a new LastBootUpTime, what was pending on reboot now in effect), or, when the state
# says its boot hangs, it never answers again (no session gets a result: as seen from the controller,
# a guest that did not come back).
$FleetgateDoubleDir = $env:FLEETGATE_WINDOWS_DOUBLE
$rebootMarker = Join-Path $FleetgateDoubleDir 'reboot-requested'
$statePath = Join-Path $FleetgateDoubleDir 'state.json'
# Switched off by the Hyper-V host double (Stop-VM): nothing answers.
if (Test-Path -LiteralPath (Join-Path $FleetgateDoubleDir 'powered-off')) {
    [Console]::Error.WriteLine('powershell.exe double: the machine is off')
    exit 255
}
# A hung kernel (the filter model in bin/node.exe): no process starts, nothing answers, until an NMI
# bugchecks the guest (Invoke-DoubleGuestBugcheck) or the VM is switched off.
while (Test-Path -LiteralPath (Join-Path $FleetgateDoubleDir 'kernel-hung')) {
    if (Test-Path -LiteralPath (Join-Path $FleetgateDoubleDir 'powered-off')) { exit 255 }
    Start-Sleep -Milliseconds 500
}
# Down after a bugcheck (writing its dump, booting again): nothing answers until then.
$downUntil = Join-Path $FleetgateDoubleDir 'down-until'
if ((Test-Path -LiteralPath $downUntil) -and [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() -lt [int64](Get-Content -LiteralPath $downUntil -TotalCount 1)) {
    [Console]::Error.WriteLine('powershell.exe double: the guest is restarting after a bugcheck')
    exit 255
}
if (Test-Path -LiteralPath (Join-Path $FleetgateDoubleDir 'boot-hung')) {
    [Console]::Error.WriteLine('powershell.exe double: the guest did not come back from its restart')
    exit 255
}
if (Test-Path -LiteralPath $rebootMarker) {
    $state = Get-Content -LiteralPath $statePath -Raw | ConvertFrom-Json
    Remove-Item -LiteralPath $rebootMarker
    if ($null -ne $state.PSObject.Properties['onReboot'] -and $null -ne $state.onReboot) {
        foreach ($p in $state.onReboot.PSObject.Properties) { $state | Add-Member -NotePropertyName $p.Name -NotePropertyValue $p.Value -Force }
        $state.onReboot = $null
    }
    # A filter of ours whose debug build hangs the boot under Driver Verifier (Parameters\DebugFault =
    # boot-hang-under-verifier, see programs/filter-model.ps1) hangs it once the verifier names its image.
    $verified = @()
    if ($null -ne $state.PSObject.Properties['verifier'] -and $null -ne $state.verifier) { $verified = @($state.verifier.drivers) }
    foreach ($k in $state.registry.PSObject.Properties) {
        if ($k.Name -notmatch '^HKLM:\\SYSTEM\\CurrentControlSet\\Services\\([^\\]+)\\Parameters$') { continue }
        $svc = $Matches[1]
        $fault = $k.Value.PSObject.Properties['DebugFault']
        if ($null -ne $fault -and [string]$fault.Value.value -eq 'boot-hang-under-verifier' -and @($verified | Where-Object { $_ -ieq "$svc.sys" }).Count -gt 0) {
            $state | Add-Member -NotePropertyName bootHangs -NotePropertyValue $true -Force
        }
    }
    # Filters are demand-start: none is loaded after a boot until fltmc load.
    if ($null -ne $state.PSObject.Properties['fltmc'] -and $null -ne $state.fltmc) { $state.fltmc | Add-Member -NotePropertyName loaded -NotePropertyValue @() -Force }
    Remove-Item -LiteralPath (Join-Path $FleetgateDoubleDir 'filter-policy') -Recurse -Force -ErrorAction SilentlyContinue
    if ($state.bootHangs -eq $true) {
        Set-Content -LiteralPath $statePath -Value (ConvertTo-Json -InputObject $state -Depth 20)
        Set-Content -LiteralPath (Join-Path $FleetgateDoubleDir 'boot-hung') -Value 'hung'
        [Console]::Error.WriteLine('powershell.exe double: the guest did not come back from its restart')
        exit 255
    }
    $os = $state.cim.PSObject.Properties['root\cimv2:Win32_OperatingSystem']
    if ($null -ne $os) { $os.Value.LastBootUpTime = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture) }
    $state | Add-Member -NotePropertyName boots -NotePropertyValue ([int]$state.boots + 1) -Force
    Set-Content -LiteralPath $statePath -Value (ConvertTo-Json -InputObject $state -Depth 20)
}
Remove-Variable -Name downUntil, rebootMarker, statePath, state, os, p, k, svc, fault, verified -ErrorAction SilentlyContinue
. (Join-Path $PSScriptRoot 'windows-doubles.ps1')
$FleetgateDoubleScript = [Text.Encoding]::Unicode.GetString([Convert]::FromBase64String($encoded))
$FleetgateDoubleStdin = @($input)
Remove-Variable -Name encoded -ErrorAction SilentlyContinue
$FleetgateDoubleStdin | . ([scriptblock]::Create($FleetgateDoubleScript))
