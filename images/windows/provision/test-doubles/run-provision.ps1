# TEST DOUBLE runner: runs one image provisioning script (images/windows/provision/*.ps1), unchanged,
# in this pwsh as Packer's powershell provisioner runs it inside the Windows VM, against the doubles
# of provision-doubles.ps1 and bin/. The "Windows" is -StateDir (FLEETGATE_WINDOWS_DOUBLE): its
# state.json (written by the test) and its C: drive, the folder C mounted as PSDrive C (as the guest
# double's Mount-DoubleDrive does) and also linked as `C:` in the state folder, the process's working
# directory, so that .NET file APIs given C:/... land on it too (C:\... ones: Move-DotNetWrites).
#
#   pwsh -NoProfile -NonInteractive -File run-provision.ps1 -StateDir DIR -Script X.ps1 [-Environment '{"NAME":"value"}']
#
# -Environment holds the provisioner's environment_vars (Packer writes them as $env:NAME="value" into
# a file it dot-sources first); an empty value leaves the variable unset, as there. Packer's execute_command is, by default,
#   powershell -executionpolicy bypass "& { if (Test-Path variable:global:ProgressPreference){...'SilentlyContinue'};. {{.Vars}}; &'{{.Path}}'; exit $LastExitCode }"
# so this does the same: progress off, the variables, the script, exit with $LASTEXITCODE; a script
# that throws ends the process with 1. The exit code as Windows has it (32 bits: install_update.ps1
# exits 3010) is also written to DIR/exit-code, since a Linux exit status keeps only 8 bits.
param(
    [Parameter(Mandatory = $true)][string]$StateDir,
    [Parameter(Mandatory = $true)][string]$Script,
    [string]$Environment = '{}'
)
$ErrorActionPreference = 'Stop'
$env:FLEETGATE_WINDOWS_DOUBLE = (Resolve-Path -LiteralPath $StateDir).ProviderPath
$Script = (Resolve-Path -LiteralPath $Script).ProviderPath
# The programs' sh wrappers start pwsh: FLEETGATE_PWSH, else pwsh on PATH.
if (-not $env:FLEETGATE_PWSH) { $env:FLEETGATE_PWSH = @(Get-Command pwsh -CommandType Application -ErrorAction Stop)[0].Source }
if (-not $env:FLEETGATE_SAMPLES) { $env:FLEETGATE_SAMPLES = Join-Path $PSScriptRoot '../../../../../shared/samples' }

# The C: drive: the folders every Windows has, the programs the scripts run in C:\Windows\System32
# (links to bin/), and the `C:` link for .NET.
$root = $env:FLEETGATE_WINDOWS_DOUBLE
$c = Join-Path $root 'C'
foreach ($d in @('Windows/System32', 'Windows/Temp', 'ProgramData', 'Program Files', 'Users/fleetgate')) { $null = New-Item -ItemType Directory -Force -Path (Join-Path $c $d) }
foreach ($exe in (Get-ChildItem -LiteralPath (Join-Path $PSScriptRoot 'bin') -Filter '*.exe')) {
    if ($exe.Name -eq 'node.exe') { continue }
    $link = Join-Path $c "Windows/System32/$($exe.Name)"
    if (-not (Test-Path -LiteralPath $link)) { $null = New-Item -ItemType SymbolicLink -Path $link -Target $exe.FullName }
}
$dotnetC = Join-Path $root 'C:'
if (-not (Test-Path -LiteralPath $dotnetC)) { $null = New-Item -ItemType SymbolicLink -Path $dotnetC -Target 'C' }
[System.IO.Directory]::SetCurrentDirectory($root)
# Programs the scripts call by name (bcdedit.exe, icacls.exe) are found on PATH, as System32 is on Windows's.
$env:PATH = "$(Join-Path $PSScriptRoot 'bin')$([System.IO.Path]::PathSeparator)$env:PATH"

. (Join-Path $PSScriptRoot 'provision-doubles.ps1')
Mount-DoubleDrive
Set-Location -LiteralPath 'C:\Users\fleetgate'

# The environment of the Windows session (state.env: SystemRoot, ProgramData, ...), then the provisioner's.
foreach ($p in (Read-DoubleState).env.PSObject.Properties) { Set-Item -LiteralPath "env:$($p.Name)" -Value ([string]$p.Value) }
foreach ($p in ($Environment | ConvertFrom-Json).PSObject.Properties) {
    if ([string]$p.Value -eq '') { Remove-Item -LiteralPath "env:$($p.Name)" -ErrorAction SilentlyContinue }
    else { Set-Item -LiteralPath "env:$($p.Name)" -Value ([string]$p.Value) }
}
$exitFile = Join-Path $root 'exit-code'
Remove-Item -LiteralPath $exitFile -Force -ErrorAction SilentlyContinue

$ErrorActionPreference = 'Continue'
$global:ProgressPreference = 'SilentlyContinue'
$global:LASTEXITCODE = $null
# A .NET file API given a Windows path (write_image_facts.ps1's [IO.File]::WriteAllText of
# C:\fleetgate\image-facts.json) makes, off Windows, a file of that name in the working directory:
# after the script it goes where Windows would have put it, on the C: drive.
function Move-DotNetWrites {
    foreach ($f in (Microsoft.PowerShell.Management\Get-ChildItem -LiteralPath $root -File | Where-Object { $_.Name -match '^[Cc]:\\' })) {
        $target = ConvertTo-DoubleHostPath $f.Name
        $null = Microsoft.PowerShell.Management\New-Item -ItemType Directory -Force -Path (Split-Path -Parent $target)
        # .NET, not Move-Item: PowerShell would read the backslashes in the name as separators.
        [System.IO.File]::Move($f.FullName, $target, $true)
    }
}

try {
    & $Script
} catch {
    # What Windows PowerShell 5.1 prints for an error that ends its -Command (its NormalView, unwrapped).
    Set-Content -LiteralPath $exitFile -Value 1
    [Console]::Error.WriteLine($_.Exception.Message)
    [Console]::Error.WriteLine($_.InvocationInfo.PositionMessage)
    [Console]::Error.WriteLine("    + CategoryInfo          : $($_.CategoryInfo)")
    [Console]::Error.WriteLine("    + FullyQualifiedErrorId : $($_.FullyQualifiedErrorId)")
    exit 1
}
$code = if ($null -eq $LASTEXITCODE) { 0 } else { [int]$LASTEXITCODE }
Move-DotNetWrites
Set-Content -LiteralPath $exitFile -Value $code
exit $code
