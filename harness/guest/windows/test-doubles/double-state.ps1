# TEST DOUBLE helpers shared by the guest double's cmdlets (windows-doubles.ps1) and programs
# (programs/*.ps1): its state ($env:FLEETGATE_WINDOWS_DOUBLE/state.json, written by guest-double.ts and
# changed by what the doubles do: an install adds a service key, a load adds a filter) and its C: drive
# (a folder of the state folder mounted as drive C, so the scripts' Windows paths work unchanged).
# Recorded outputs come from $env:FLEETGATE_SAMPLES (../shared/samples).

function Get-DoubleStatePath { Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'state.json' }

# Read every time: a program run by the same script may have changed it.
function Read-DoubleState { Get-Content -LiteralPath (Get-DoubleStatePath) -Raw | ConvertFrom-Json }

# Written whole and renamed into place, so a concurrent reader (the heartbeat) never sees half a file.
function Save-DoubleState($State) {
    $path = Get-DoubleStatePath
    $tmp = "$path.$PID.tmp"
    Set-Content -LiteralPath $tmp -Value (ConvertTo-Json -InputObject $State -Depth 20)
    Move-Item -LiteralPath $tmp -Destination $path -Force
}

function Get-DoubleValue($Object, [string]$Name, $Default = $null) {
    if ($null -ne $Object -and $null -ne $Object.PSObject.Properties[$Name]) { return $Object.$Name }
    return $Default
}

function Set-DoubleValue($Object, [string]$Name, $Value) {
    $Object | Add-Member -NotePropertyName $Name -NotePropertyValue $Value -Force
}

function Mount-DoubleDrive {
    if (-not (Get-PSDrive -Name C -ErrorAction SilentlyContinue)) {
        New-PSDrive -Name C -PSProvider FileSystem -Root (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'C') -Scope Global | Out-Null
    }
}

# A Windows path on the double's C: drive as the host's path.
function ConvertTo-DoubleHostPath([string]$WindowsPath) {
    if ($WindowsPath -notmatch '^[Cc]:\\') { throw "the guest double has only a C: drive, not $WindowsPath" }
    return Join-Path (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'C') ($WindowsPath.Substring(3) -replace '\\', '/')
}

# The registry key of the state at $Path (case-insensitive, as the registry is), or $null.
function Find-DoubleRegistryKey($State, [string]$Path) {
    foreach ($p in $State.registry.PSObject.Properties) { if ($p.Name -ieq $Path) { return $p } }
    return $null
}

function Set-DoubleRegistryValue($State, [string]$Path, [string]$Name, [string]$Type, $Value) {
    $key = Find-DoubleRegistryKey $State $Path
    if ($null -eq $key) {
        Set-DoubleValue $State.registry $Path ([pscustomobject]@{})
        $key = Find-DoubleRegistryKey $State $Path
    }
    Set-DoubleValue $key.Value $Name ([pscustomobject]@{ type = $Type; value = $Value })
}

# Removes a key and its subkeys.
function Remove-DoubleRegistryKey($State, [string]$Path) {
    foreach ($p in @($State.registry.PSObject.Properties)) {
        if ($p.Name -ieq $Path -or $p.Name.StartsWith("$Path\", [StringComparison]::OrdinalIgnoreCase)) { $State.registry.PSObject.Properties.Remove($p.Name) }
    }
}

# A recorded output of ../shared/samples without its provenance line and the prompt lines the person
# who recorded it typed (`C:\>fltmc`, `>fltmc`, `PS C:\> ...`), and without Markdown back-ticks.
function Get-DoubleSampleLines([string]$Sample) {
    $file = Join-Path $env:FLEETGATE_SAMPLES $Sample
    if (-not (Test-Path -LiteralPath $file)) { throw "guest double: recorded output $Sample is not in $env:FLEETGATE_SAMPLES" }
    foreach ($line in (Get-Content -LiteralPath $file)) {
        if ($line -match '^# [Ss]ource') { continue }
        if ($line -match '^\s*```') { continue }
        $line = $line -replace '^`', '' -replace '`\s*$', ''
        if ($line -match '^(PS[^>]*>|[A-Za-z]:\\[^>]*>|>)') { continue }
        $line
    }
}

# Confirm-SecureBootUEFI (a cmdlet double shared by the guest double and the provisioning doubles):
# state.secureBoot is true, false, 'not-uefi' (the cmdlet throws on BIOS firmware) or 'access-denied'.
function Confirm-SecureBootUEFI {
    [CmdletBinding()]
    param()
    $s = (Read-DoubleState).secureBoot
    # Strings first: `$true -eq 'not-uefi'` is true in PowerShell (the right side converts to bool).
    if ($s -is [string] -and $s -eq 'not-uefi') { throw [System.PlatformNotSupportedException]::new('Cmdlet not supported on this platform: 0xC0000002') }
    if ($s -is [string] -and $s -eq 'access-denied') { throw [System.UnauthorizedAccessException]::new('Access was denied. To run this cmdlet, start Windows PowerShell with the "Run as administrator" option.') }
    return [bool]$s
}

# --- What the Hyper-V host double (harness/providers/hyperv/test-doubles/) does to a guest double's
# folder. These take the folder as a parameter: the host double runs them from its own sessions.

# The machine is switched on (Start-VM) or off (Stop-VM, Remove-VM). Off, no session gets a result
# (powershell-host.ps1): as seen from the controller, a VM that is not running.
function Set-DoubleGuestPower([string]$GuestDir, [bool]$On) {
    $marker = Join-Path $GuestDir 'powered-off'
    if ($On) { Remove-Item -LiteralPath $marker -Force -ErrorAction SilentlyContinue }
    else { Set-Content -LiteralPath $marker -Value 'off' }
}

# A new VM on a fresh differencing disk boots the golden image: the guest's state is the disk's (its
# JSON), its C:\fleetgate, dumps and crash records are gone, and it has just booted.
function Reset-DoubleGuest([string]$GuestDir, [string]$StateJson) {
    foreach ($m in @('reboot-requested', 'boot-hung', 'kernel-hung', 'down-until', 'bugchecks.jsonl', 'filter-policy')) { Remove-Item -LiteralPath (Join-Path $GuestDir $m) -Recurse -Force -ErrorAction SilentlyContinue }
    $c = Join-Path $GuestDir 'C'
    foreach ($d in @('fleetgate', 'Windows/Minidump', 'Windows/LiveKernelReports')) {
        $p = Join-Path $c $d
        if (Test-Path -LiteralPath $p) { Get-ChildItem -LiteralPath $p -Force | Remove-Item -Recurse -Force }
    }
    foreach ($f in @('Windows/MEMORY.DMP')) { Remove-Item -LiteralPath (Join-Path $c $f) -Force -ErrorAction SilentlyContinue }
    $state = $StateJson | ConvertFrom-Json
    $os = $state.cim.PSObject.Properties['root\cimv2:Win32_OperatingSystem']
    if ($null -ne $os) { $os.Value.LastBootUpTime = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture) }
    $path = Join-Path $GuestDir 'state.json'
    Set-Content -LiteralPath "$path.$PID.tmp" -Value (ConvertTo-Json -InputObject $state -Depth 20)
    Move-Item -LiteralPath "$path.$PID.tmp" -Destination $path -Force
}

# The guest bugchecks (the double's model of a kernel crash, or of Windows answering an NMI with 0x80):
# the stop is recorded where the Hyper-V host double reads it as event 18590 (bugchecks.jsonl), a hung
# kernel is over, and the guest restarts (AutoReboot): the next session finds it booted again. With
# $DumpSample (a file of ../shared/samples/dumps/), that recorded dump is the Minidump it wrote.
function Invoke-DoubleGuestBugcheck([string]$GuestDir, [int64]$Code, [string[]]$Parameters = @('0x0', '0x0', '0x0', '0x0'), [string]$DumpSample = '', [int]$DownSeconds = 8) {
    $record = [ordered]@{ time = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture); code = ('0x{0:X}' -f $Code); params = @($Parameters) }
    Add-Content -LiteralPath (Join-Path $GuestDir 'bugchecks.jsonl') -Value (ConvertTo-Json -InputObject $record -Compress)
    if ($DumpSample -ne '') {
        $dir = Join-Path $GuestDir 'C/Windows/Minidump'
        $null = New-Item -ItemType Directory -Path $dir -Force
        $name = '{0}-{1}-01.dmp' -f [DateTime]::UtcNow.ToString('MMddyy'), (Get-Random -Minimum 1000 -Maximum 9999)
        Copy-Item -LiteralPath (Join-Path $env:FLEETGATE_SAMPLES $DumpSample) -Destination (Join-Path $dir $name)
    }
    # Writing the dump and booting again take a while: until then nothing answers (powershell-host.ps1).
    Set-Content -LiteralPath (Join-Path $GuestDir 'down-until') -Value ([DateTimeOffset]::UtcNow.AddSeconds($DownSeconds).ToUnixTimeMilliseconds())
    Set-Content -LiteralPath (Join-Path $GuestDir 'reboot-requested') -Value 'bugcheck'
    Remove-Item -LiteralPath (Join-Path $GuestDir 'kernel-hung') -Force -ErrorAction SilentlyContinue
}

# What a process the stopped or hung kernel holds does: nothing, until the machine has restarted or
# been switched off (it is gone then; here it ends so no process outlives its "machine").
function Wait-DoubleGuestRestart([string]$GuestDir) {
    while ((Test-Path -LiteralPath (Join-Path $GuestDir 'kernel-hung')) -or (Test-Path -LiteralPath (Join-Path $GuestDir 'reboot-requested'))) {
        if (Test-Path -LiteralPath (Join-Path $GuestDir 'powered-off')) { break }
        Start-Sleep -Milliseconds 500
    }
    exit 255
}
