# TEST DOUBLE of wusa.exe (Windows Update Standalone Installer) for install_update.ps1 (bin/wusa.exe
# starts it; the runner puts it at C:\Windows\System32\wusa.exe). Models installing one .msu:
#   wusa <file.msu> [/quiet] [/norestart | /warnrestart[:s] | /promptrestart | /forcerestart] [/log[:file]]
# (also accepted, not modelled: /uninstall /kb:N, /extract:dir). The package is the file's SHA-256 in
# state.updates.packages ({ kb, ubr, rebootRequired, exitCode }): what the .msu holds.
# Exit codes: 0 installed; 3010 installed, a restart is needed (ERROR_SUCCESS_REBOOT_REQUIRED);
# 2359302 = 0x240006 WU_S_ALREADY_INSTALLED and 0x80240017 WU_E_NOT_APPLICABLE for a package this
# Windows does not take (both as Microsoft's KB 949545 describes wusa's codes; archived copy, not a
# recording); a package's own exitCode (a failing install, e.g. 0x80070643) when it has one.
# (unverified) 0x80070002 for a file that is not there, 87 for arguments wusa does not take, and 1 for a
# run without /quiet (the real one opens a window and waits for someone to answer it).
# An installed update is in Get-HotFix at once; its UBR waits for the restart (updates.pendingUbr,
# applied by whoever models the restart) (unverified when Win32_QuickFixEngineering lists it).
. (Join-Path $PSScriptRoot 'program-double.ps1')
$argv = @($args | ForEach-Object { [string]$_ })
Add-DoubleProgramCall 'wusa.exe' $argv

$files = @(); $quiet = $false; $restart = 'auto'
foreach ($a in $argv) {
    switch -Regex ($a) {
        '^/quiet$' { $quiet = $true; continue }
        '^/norestart$' { $restart = 'no'; continue }
        '^/(warnrestart(:\d+)?|promptrestart|forcerestart)$' { $restart = 'yes'; continue }
        '^/log(:.+)?$' { continue }
        '^/(uninstall|kb:\d+|extract:.+)$' { [Console]::Error.WriteLine("wusa double: $a is a real wusa option this double does not model"); Exit-DoubleProgram 87 }
        '^/' { [Console]::Error.WriteLine("wusa double: wusa does not take $a"); Exit-DoubleProgram 87 }
        default { $files += $a }
    }
}
if ($files.Count -ne 1 -or $files[0] -notmatch '\.msu$') { [Console]::Error.WriteLine("wusa double: one .msu file expected, got: $($files -join ' ')"); Exit-DoubleProgram 87 }
if (-not $quiet) { [Console]::Error.WriteLine('wusa double: without /quiet wusa opens a window and waits for an answer nobody gives in an image build'); Exit-DoubleProgram 1 }
$file = ConvertTo-DoubleProgramPath $files[0]
if (-not (Test-Path -LiteralPath $file)) { Exit-DoubleProgram 0x80070002 }

$state = Read-DoubleState
$updates = Get-DoubleValue $state 'updates' ([pscustomobject]@{})
$hash = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash.ToLowerInvariant()
$package = Get-DoubleValue (Get-DoubleValue $updates 'packages' ([pscustomobject]@{})) $hash
if ($null -eq $package) { Exit-DoubleProgram 0x80240017 }
if ($null -ne $package.PSObject.Properties['exitCode']) { Exit-DoubleProgram ([int64]$package.exitCode) }
$kb = "KB$($package.kb)"
$installed = @(Get-DoubleValue $updates 'installed' @())
if (@($installed | Where-Object { $_.hotFixId -eq $kb }).Count -gt 0) { Exit-DoubleProgram 2359302 }
if ($null -eq $state.PSObject.Properties['updates']) { Set-DoubleValue $state 'updates' $updates }
Set-DoubleValue $updates 'installed' (@($installed) + @([pscustomobject]@{ hotFixId = $kb; description = 'Security Update'; installedOn = [DateTime]::UtcNow.ToString('M/d/yyyy', [Globalization.CultureInfo]::InvariantCulture) }))
if ($null -ne $package.PSObject.Properties['ubr']) { Set-DoubleValue $updates 'pendingUbr' ([int]$package.ubr) }
$reboot = [bool](Get-DoubleValue $package 'rebootRequired' $true)
# Without /norestart wusa restarts Windows itself, in the middle of Packer's provisioner.
if ($reboot -and $restart -ne 'no') { Set-DoubleValue $state 'restartedByWusa' $true }
Save-DoubleState $state
if ($reboot) { Exit-DoubleProgram 3010 }
Exit-DoubleProgram 0
