# TEST DOUBLE of bcdedit.exe for the image provisioning scripts (bin/bcdedit.exe starts it).
# Models `bcdedit /set [{id}] <boolean element> <on|off|yes|no>` on the boot entry {current} (or the
# id given), kept in state.bcd.entries; switches are case-insensitive and take / or - (the recorded
# `bcdedit.exe -set TESTSIGNING ON`). Success prints "The operation completed successfully." (as
# recorded: ../shared/samples/bcdedit/kdnet_issue5_bcdedit_dbgsettings_net.txt). While Secure Boot
# policy protects the value (state.bcd.secureBootPolicy, by default whether state.secureBoot is true)
# it replays the recorded refusal
# (../shared/samples/bcdedit/virtualcameradriver_issue3_bcdedit_set_testsigning_secureboot_error.txt)
# and exits 1 (the exit code is unverified). Anything else is refused with "The parameter is incorrect."
# and exit 1, as the guest double's bcdedit does (unverified wording for the element and value errors).
. (Join-Path $PSScriptRoot 'program-double.ps1')
$argv = @($args | ForEach-Object { [string]$_ })
Add-DoubleProgramCall 'bcdedit.exe' $argv

function Exit-Incorrect([string]$First = 'The parameter is incorrect.') {
    [Console]::Out.WriteLine($First)
    [Console]::Out.WriteLine('Run "bcdedit /?" for command line assistance.')
    if ($First -ne 'The parameter is incorrect.') { [Console]::Out.WriteLine('The parameter is incorrect.') }
    Exit-DoubleProgram 1
}

$booleans = @('testsigning', 'nointegritychecks', 'debug', 'bootdebug', 'bootlog', 'sos', 'bootems', 'ems')
$protected = @('testsigning', 'nointegritychecks', 'debug', 'bootdebug')
if ($argv.Count -lt 1 -or $argv[0] -notmatch '^[/-]set$') { Exit-Incorrect }
$rest = @($argv | Select-Object -Skip 1)
$id = '{current}'
if ($rest.Count -eq 3 -and $rest[0] -match '^\{[^}]+\}$') { $id = $rest[0].ToLowerInvariant(); $rest = @($rest | Select-Object -Skip 1) }
if ($rest.Count -ne 2) { Exit-Incorrect }
$element = $rest[0].ToLowerInvariant()
if ($booleans -notcontains $element) { Exit-Incorrect 'The element data type specified is not recognized, or does not apply to the specified entry.' }
$value = switch -Regex ($rest[1]) { '^(on|yes|true)$' { 'Yes' } '^(off|no|false)$' { 'No' } default { $null } }
if ($null -eq $value) { Exit-Incorrect 'The integer data is not valid as specified.' }

$state = Read-DoubleState
$bcd = Get-DoubleValue $state 'bcd' ([pscustomobject]@{})
$policy = Get-DoubleValue $bcd 'secureBootPolicy' ($state.secureBoot -eq $true)
if ($policy -and $protected -contains $element) {
    foreach ($line in (Get-DoubleSampleLines 'bcdedit/virtualcameradriver_issue3_bcdedit_set_testsigning_secureboot_error.txt')) { [Console]::Out.WriteLine($line) }
    Exit-DoubleProgram 1
}
if ($null -eq $state.PSObject.Properties['bcd']) { Set-DoubleValue $state 'bcd' $bcd }
if ($null -eq $bcd.PSObject.Properties['entries']) { Set-DoubleValue $bcd 'entries' ([pscustomobject]@{}) }
if ($null -eq $bcd.entries.PSObject.Properties[$id]) { Set-DoubleValue $bcd.entries $id ([pscustomobject]@{}) }
Set-DoubleValue $bcd.entries.$id $element $value
Save-DoubleState $state
[Console]::Out.WriteLine('The operation completed successfully.')
Exit-DoubleProgram 0
