# TEST DOUBLE. What bin/powershell runs on the Hyper-V host double: takes powershell.exe's command line
# as fleetgate sends it (harness/guest/windows/encode.ts: -NoProfile -NonInteractive -ExecutionPolicy
# Bypass -EncodedCommand <base64 UTF-16LE>), refuses any other argument as powershell.exe would not run
# it, loads the Hyper-V cmdlet doubles (hyperv-doubles.ps1), and runs the decoded host script in this
# scope (its `exit` ends the process with its code, as powershell.exe's would). As with powershell.exe
# (and pwsh) and -EncodedCommand, the script gets redirected stdin as $input, a line per item: the
# stdin bootstrap reads its script from there. Same command line as the Windows guest double's
# powershell-host.ps1; none of its guest behaviour (reboots, the guest's state).
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../../../guest/windows/test-doubles/powershell-args.ps1')
$encoded = Get-DoubleEncodedCommand $args
. (Join-Path $PSScriptRoot 'hyperv-doubles.ps1')
$FleetgateDoubleScript = [Text.Encoding]::Unicode.GetString([Convert]::FromBase64String($encoded))
$FleetgateDoubleStdin = @($input)
Remove-Variable -Name encoded -ErrorAction SilentlyContinue
$FleetgateDoubleStdin | . ([scriptblock]::Create($FleetgateDoubleScript))
