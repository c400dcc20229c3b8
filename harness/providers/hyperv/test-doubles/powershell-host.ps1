# TEST DOUBLE. What bin/powershell runs on the Hyper-V host double: takes powershell.exe's command line
# as fleetgate sends it (harness/guest/windows/encode.ts: -NoProfile -NonInteractive -ExecutionPolicy
# Bypass -EncodedCommand <base64 UTF-16LE>), refuses any other argument as powershell.exe would not run
# it, loads the Hyper-V cmdlet doubles (hyperv-doubles.ps1), and runs the decoded host script in this
# scope (its `exit` ends the process with its code, as powershell.exe's would). As with powershell.exe
# (and pwsh) and -EncodedCommand, the script gets redirected stdin as $input, a line per item: the
# stdin bootstrap reads its script from there. Same command line as the Windows guest double's
# powershell-host.ps1; none of its guest behaviour (reboots, the guest's state).
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
. (Join-Path $PSScriptRoot 'hyperv-doubles.ps1')
$FleetgateDoubleScript = [Text.Encoding]::Unicode.GetString([Convert]::FromBase64String($encoded))
$FleetgateDoubleStdin = @($input)
Remove-Variable -Name encoded, a, i -ErrorAction SilentlyContinue
$FleetgateDoubleStdin | . ([scriptblock]::Create($FleetgateDoubleScript))
