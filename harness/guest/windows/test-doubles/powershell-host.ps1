# TEST DOUBLE. What bin/powershell runs: takes powershell.exe's command line as fleetgate sends it
# (harness/guest/windows/encode.ts: -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand
# <base64 UTF-16LE>), refuses any other argument as powershell.exe would not run it, loads the Windows
# doubles, sets the environment a Windows guest has, and runs the decoded script in this scope (its
# `exit` ends the process with its code, as powershell.exe's would). Like powershell.exe (and pwsh)
# with -EncodedCommand, the script gets redirected stdin as $input, a line per item: the stdin
# bootstrap reads its script from there.
$ErrorActionPreference = 'Stop'
$encoded = $null
for ($i = 0; $i -lt $args.Count; $i++) {
    $a = [string]$args[$i]
    if ($a -eq '-NoProfile' -or $a -eq '-NonInteractive') { continue }
    if ($a -eq '-ExecutionPolicy') {
        $i++
        if (@('Bypass', 'Unrestricted', 'RemoteSigned', 'AllSigned', 'Restricted', 'Default', 'Undefined') -notcontains [string]$args[$i]) {
            [Console]::Error.WriteLine("powershell.exe double: -ExecutionPolicy '$($args[$i])' is not a policy")
            exit 64
        }
        continue
    }
    if ($a -eq '-EncodedCommand') {
        $i++
        $encoded = [string]$args[$i]
        continue
    }
    [Console]::Error.WriteLine("powershell.exe double: argument '$a' is not one fleetgate sends")
    exit 64
}
if ($null -eq $encoded -or $encoded -eq '') {
    [Console]::Error.WriteLine('powershell.exe double: no -EncodedCommand')
    exit 64
}
# A restart scheduled by shutdown.exe (bin/shutdown.exe) happened before this session: the guest
# booted again (a new LastBootUpTime, what was pending on reboot now in effect), or, when the state
# says its boot hangs, it never answers again (no session gets a result: as seen from the controller,
# a guest that did not come back).
$FleetgateDoubleDir = $env:FLEETGATE_WINDOWS_DOUBLE
$rebootMarker = Join-Path $FleetgateDoubleDir 'reboot-requested'
$statePath = Join-Path $FleetgateDoubleDir 'state.json'
if (Test-Path -LiteralPath (Join-Path $FleetgateDoubleDir 'boot-hung')) {
    [Console]::Error.WriteLine('powershell.exe double: the guest did not come back from its restart')
    exit 255
}
if (Test-Path -LiteralPath $rebootMarker) {
    $state = Get-Content -LiteralPath $statePath -Raw | ConvertFrom-Json
    Remove-Item -LiteralPath $rebootMarker
    if ($state.bootHangs -eq $true) {
        Set-Content -LiteralPath (Join-Path $FleetgateDoubleDir 'boot-hung') -Value 'hung'
        [Console]::Error.WriteLine('powershell.exe double: the guest did not come back from its restart')
        exit 255
    }
    $os = $state.cim.PSObject.Properties['root\cimv2:Win32_OperatingSystem']
    if ($null -ne $os) { $os.Value.LastBootUpTime = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture) }
    if ($null -ne $state.PSObject.Properties['onReboot'] -and $null -ne $state.onReboot) {
        foreach ($p in $state.onReboot.PSObject.Properties) { $state | Add-Member -NotePropertyName $p.Name -NotePropertyValue $p.Value -Force }
        $state.onReboot = $null
    }
    $state | Add-Member -NotePropertyName boots -NotePropertyValue ([int]$state.boots + 1) -Force
    Set-Content -LiteralPath $statePath -Value (ConvertTo-Json -InputObject $state -Depth 20)
}
Remove-Variable -Name rebootMarker, statePath, state, os, p -ErrorAction SilentlyContinue
. (Join-Path $PSScriptRoot 'windows-doubles.ps1')
$FleetgateDoubleScript = [Text.Encoding]::Unicode.GetString([Convert]::FromBase64String($encoded))
$FleetgateDoubleStdin = @($input)
Remove-Variable -Name encoded, a, i -ErrorAction SilentlyContinue
$FleetgateDoubleStdin | . ([scriptblock]::Create($FleetgateDoubleScript))
