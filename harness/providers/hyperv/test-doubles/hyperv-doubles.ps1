# TEST DOUBLES of the Hyper-V module's cmdlets (and of the few Windows cmdlets around them that the
# host scripts in ../scripts call: Get-WinEvent, Stop-VM -AsJob's Wait-Job/Remove-Job, PowerShell
# Direct's New-PSSession/Invoke-Command/Copy-Item/Remove-PSSession), as PowerShell functions (a
# function shadows a cmdlet of the same name). NOT Hyper-V: a tiny model of a host kept in
# $env:FLEETGATE_HYPERV_DOUBLE/hyperv.json (written first by host-double.ts), with the host's C: drive
# at $env:FLEETGATE_HYPERV_DOUBLE/C. Each function takes the parameters of the real cmdlet that the
# scripts use (plus a few close relatives) and refuses any other (parameter binding fails on a name it
# does not declare), so a typo in a script fails here as it would on Windows. Error texts follow
# harness/providers/hyperv/testdata/recorded-host.ts; those marked (unverified) there are made up.
# A Windows guest double (harness/guest/windows/test-doubles) may stand behind one VM at a time: the
# functions at the end of its double-state.ps1 reset, power and crash it.
. (Join-Path $PSScriptRoot '../../../guest/windows/test-doubles/double-state.ps1')

$FleetgateHvDir = $env:FLEETGATE_HYPERV_DOUBLE
$FleetgateHvGuestDoubles = Join-Path $PSScriptRoot '../../../guest/windows/test-doubles'

# The module's own types, compiled once per host double (Add-Type costs a second or so; loading the
# compiled assembly does not): State and Heartbeat are enums as in the real module, errors are its
# VirtualizationException.
$FleetgateHvTypes = @'
namespace Microsoft.HyperV.PowerShell {
    public enum VMState { Other = 1, Running = 2, Off = 3, Stopping = 4, Saved = 6, Paused = 9, Starting = 10, Reset = 11, Saving = 32773, Pausing = 32776, Resuming = 32777 }
    public enum VMHeartbeatStatus { Unknown = 0, Disabled = 1, NoContact = 2, Error = 3, LostCommunication = 4, OkApplicationsUnknown = 5, OkApplicationsHealthy = 6, OkApplicationsCritical = 7, Paused = 8 }
    public class VirtualizationException : System.Exception { public VirtualizationException(string message) : base(message) {} }
}
'@
$dll = Join-Path $FleetgateHvDir 'hyperv-double-types.dll'
if (-not ('Microsoft.HyperV.PowerShell.VMState' -as [type])) {
    if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $dll)) { Add-Type -TypeDefinition $FleetgateHvTypes -OutputAssembly $dll }
    Add-Type -Path $dll
}
Remove-Variable -Name dll

if (-not (Get-PSDrive -Name C -ErrorAction SilentlyContinue)) {
    New-PSDrive -Name C -PSProvider FileSystem -Root (Join-Path $FleetgateHvDir 'C') -Scope Global | Out-Null
}

# --- state ------------------------------------------------------------------------------------------

function Read-HvState { Get-Content -LiteralPath (Join-Path $FleetgateHvDir 'hyperv.json') -Raw | ConvertFrom-Json }

function Save-HvState($State) {
    $path = Join-Path $FleetgateHvDir 'hyperv.json'
    Set-Content -LiteralPath "$path.$PID.tmp" -Value (ConvertTo-Json -InputObject $State -Depth 20)
    Move-Item -LiteralPath "$path.$PID.tmp" -Destination $path -Force
}

# Runs $Action on the state under an exclusive lock (the controller polls while it stops or injects)
# and saves what it changed; an error leaves the state as it was.
function Invoke-HvState([scriptblock]$Action) {
    $lockPath = Join-Path $FleetgateHvDir 'hyperv.lock'
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    $lock = $null
    while ($null -eq $lock) {
        try { $lock = [IO.File]::Open($lockPath, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None) }
        catch {
            if ([DateTime]::UtcNow -gt $deadline) { throw 'Hyper-V host double: the state lock stayed busy for 60 s' }
            Start-Sleep -Milliseconds 25
        }
    }
    try {
        $state = Read-HvState
        $out = @(& $Action $state)
        Save-HvState $state
        $out
    } finally {
        $lock.Dispose()
    }
}

function Get-HvNow { [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture) }
function ConvertFrom-HvTime([string]$Text) { [DateTime]::Parse($Text, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind) }

# A Windows path of the host as this machine's path (through PSDrive C).
function Resolve-HvHostPath([string]$Path) { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path) }

# A Windows path of the guest's C: drive as this machine's path.
function Resolve-HvGuestPath([string]$GuestDir, [string]$Path) {
    if ($Path -notmatch '^[Cc]:\\') { throw "Hyper-V host double: the guest has only a C: drive, not $Path" }
    return Join-Path (Join-Path $GuestDir 'C') ($Path.Substring(3) -replace '\\', '/')
}

# --- errors -----------------------------------------------------------------------------------------

function New-HvError([string]$Message, [string]$ErrorId, [string]$Category = 'InvalidOperation', $Target = $null, [string]$Type = 'Microsoft.HyperV.PowerShell.VirtualizationException') {
    $ex = $null
    switch ($Type) {
        'Microsoft.HyperV.PowerShell.VirtualizationException' { $ex = [Microsoft.HyperV.PowerShell.VirtualizationException]::new($Message) }
        'System.Management.Automation.Remoting.PSRemotingTransportException' { $ex = [System.Management.Automation.Remoting.PSRemotingTransportException]::new($Message) }
        'System.Management.Automation.ItemNotFoundException' { $ex = [System.Management.Automation.ItemNotFoundException]::new($Message) }
        'System.Management.Automation.RemoteException' { $ex = [System.Management.Automation.RemoteException]::new($Message) }
        default { $ex = [System.Exception]::new($Message) }
    }
    return [System.Management.Automation.ErrorRecord]::new($ex, $ErrorId, [System.Management.Automation.ErrorCategory]$Category, $Target)
}

# Reports an error the way the cmdlet would under the caller's -ErrorAction: nothing under
# SilentlyContinue/Ignore (the caller then goes on), a terminating error otherwise (every script runs
# with $ErrorActionPreference = 'Stop'). Thrown as the record itself so its FullyQualifiedErrorId stays
# the cmdlet's (Id,Microsoft.HyperV.PowerShell.Commands.<Cmdlet>), not Id,<function name>.
function Stop-HvError($Record) {
    if (@('SilentlyContinue', 'Ignore') -contains [string]$ErrorActionPreference) { return }
    throw $Record
}

function New-HvNotFound([string]$Name, [string]$Cmdlet) {
    New-HvError "Hyper-V was unable to find a virtual machine with name `"$Name`"." "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.$Cmdlet" 'InvalidArgument' $Name
}

# (unverified wording) what Hyper-V says when an operation does not fit the VM's state.
function New-HvInvalidState($Vm, [string]$Cmdlet) {
    New-HvError "The virtual machine '$($Vm.name)' is not in a valid state to perform the operation." "InvalidState,Microsoft.HyperV.PowerShell.Commands.$Cmdlet" 'InvalidOperation' $Vm.name
}

# --- VMs --------------------------------------------------------------------------------------------

# The VM records that -VM (objects from Get-VM) or -Name/-VMName mean; a name that matches none is the
# cmdlet's "unable to find" error (skipped under -ErrorAction SilentlyContinue).
function Find-HvVm($State, $VM, $Name, [string]$Cmdlet) {
    $found = @()
    foreach ($v in @($VM)) {
        if ($null -eq $v) { continue }
        $r = @($State.vms | Where-Object { $_.id -eq ([string]$v.Id) })
        if ($r.Count -eq 0) { Stop-HvError (New-HvNotFound ([string]$v.Name) $Cmdlet); continue }
        $found += $r
    }
    foreach ($n in @($Name)) {
        if ($null -eq $n) { continue }
        $r = @($State.vms | Where-Object { $_.name -like $n })
        if ($r.Count -eq 0) { Stop-HvError (New-HvNotFound $n $Cmdlet); continue }
        $found += $r
    }
    return $found
}

function Test-HvBound($State, $Vm) { return $null -ne $State.config.guest -and $State.bound.vm -eq $Vm.name }

# The guest double behind a running VM answers (integration services, PowerShell Direct) when the VM
# is the one it is; a host without a guest double answers for every running VM.
function Test-HvGuestUp($State, $Vm) {
    if ($Vm.state -ne 'Running') { return $false }
    if ($null -eq $State.config.guest) { return $true }
    return (Test-HvBound $State $Vm)
}

function ConvertTo-HvVmObject($State, $Vm) {
    $uptime = [TimeSpan]::Zero
    if (($Vm.state -eq 'Running' -or $Vm.state -eq 'Paused') -and $null -ne $Vm.startedAt) { $uptime = [DateTime]::UtcNow - (ConvertFrom-HvTime $Vm.startedAt) }
    $heartbeat = $null
    if (Test-HvGuestUp $State $Vm) { $heartbeat = [Microsoft.HyperV.PowerShell.VMHeartbeatStatus]::OkApplicationsUnknown }
    [pscustomobject]@{
        PSTypeName = 'Microsoft.HyperV.PowerShell.VirtualMachine'
        Name = [string]$Vm.name
        VMName = [string]$Vm.name
        Id = [guid]$Vm.id
        VMId = [guid]$Vm.id
        State = [Microsoft.HyperV.PowerShell.VMState]([string]$Vm.state)
        Uptime = $uptime
        Heartbeat = $heartbeat
        Notes = [string]$Vm.notes
        Generation = [int]$Vm.generation
        CreationTime = (ConvertFrom-HvTime $Vm.creationTime).ToLocalTime()
        Path = [string]$Vm.path
        MemoryStartup = [int64]$Vm.memoryStartupBytes
        DynamicMemoryEnabled = [bool]$Vm.dynamicMemory
        ProcessorCount = [int64]$Vm.cpus
        AutomaticCheckpointsEnabled = [bool]$Vm.automaticCheckpoints
        AutomaticStartAction = [string]$Vm.automaticStartAction
        AutomaticStopAction = [string]$Vm.automaticStopAction
        ComputerName = 'localhost'
    }
}

# What a disk holds, through its differencing parents: the golden disk's text (a guest double's state).
function Get-HvDiskContents([string]$Path, [int]$Depth = 0) {
    if ($Depth -gt 8) { throw "Hyper-V host double: differencing chain too deep at $Path" }
    $file = Resolve-HvHostPath $Path
    if (-not [IO.File]::Exists($file)) { throw "Hyper-V host double: the disk '$Path' is missing" }
    $text = [IO.File]::ReadAllText($file)
    if ($text.StartsWith('{"fleetgateDoubleVhd"')) {
        $vhd = $text | ConvertFrom-Json
        return (Get-HvDiskContents $vhd.parentPath ($Depth + 1))
    }
    return $text
}

# Event 18590 as recorded-host.ts message18590() writes it: the documented part (windows.md section 5),
# then a tail that is (unverified).
function Format-Hv18590([string]$VmName, [string]$VmId, [string[]]$Codes) {
    $parts = @()
    for ($i = 0; $i -lt $Codes.Count; $i++) {
        $v = [Convert]::ToUInt64(($Codes[$i] -replace '^0[xX]', ''), 16)
        $parts += ('ErrorCode{0}: 0x{1:X}' -f $i, $v)
    }
    return "'$VmName' has encountered a fatal error.  The guest operating system reported that it failed with the following error codes: $($parts -join ', ').  " +
        "If the problem persists, contact Product Support for the guest operating system. (Virtual machine ID $($VmId.ToUpperInvariant()))"
}

function Add-HvEvent($State, $Vm, [string]$Time, [string[]]$Codes) {
    $record = [pscustomobject]@{
        recordId = [int64]$State.nextRecordId
        time = $Time
        vmName = [string]$Vm.name
        vmId = [string]$Vm.id
        codes = @($Codes)
        message = (Format-Hv18590 $Vm.name $Vm.id $Codes)
    }
    $State.nextRecordId = [int64]$State.nextRecordId + 1
    $State.events = @(@($State.events) + $record)
}

# The bound guest's bugchecks (its bugchecks.jsonl, a line per stop) become the host's event 18590s,
# each once, in order.
function Sync-HvGuestEvents($State) {
    if ($null -eq $State.config.guest -or $null -eq $State.bound.vm) { return }
    $vm = @($State.vms | Where-Object { $_.name -eq $State.bound.vm })[0]
    $file = Join-Path $State.config.guest.dir 'bugchecks.jsonl'
    if ($null -eq $vm -or -not [IO.File]::Exists($file)) { return }
    $lines = @([IO.File]::ReadAllLines($file) | Where-Object { $_.Trim() -ne '' })
    for ($i = [int]$State.bound.seen; $i -lt $lines.Count; $i++) {
        $b = $lines[$i] | ConvertFrom-Json
        Add-HvEvent $State $vm ([string]$b.time) (@([string]$b.code) + @($b.params | ForEach-Object { [string]$_ }))
    }
    $State.bound.seen = $lines.Count
}

function Set-HvOff($State, $Vm) {
    $Vm.state = 'Off'
    $Vm.startedAt = $null
    if (Test-HvBound $State $Vm) {
        Sync-HvGuestEvents $State
        Set-DoubleGuestPower $State.config.guest.dir $false
    }
}

function Get-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'Id')][guid[]]$Id,
        [string[]]$ComputerName
    )
    $state = Read-HvState
    $vms = @()
    if ($PSCmdlet.ParameterSetName -eq 'Id') {
        foreach ($i in $Id) {
            $r = @($state.vms | Where-Object { [guid]$_.id -eq $i })
            if ($r.Count -eq 0) { Stop-HvError (New-HvError "Hyper-V was unable to find a virtual machine with id `"$i`"." 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM' 'InvalidArgument' $i); continue }
            $vms += $r
        }
    } elseif ($null -eq $Name) {
        $vms = @($state.vms)
    } else {
        $vms = @(Find-HvVm $state $null $Name 'GetVM')
    }
    foreach ($v in $vms) { ConvertTo-HvVmObject $state $v }
}

function New-VM {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][string]$Name = 'New Virtual Machine',
        [ValidateSet(1, 2)][int16]$Generation = 1,
        [int64]$MemoryStartupBytes = 1GB,
        [string]$VHDPath,
        [string]$NewVHDPath,
        [uint64]$NewVHDSizeBytes,
        [switch]$NoVHD,
        [string]$Path,
        [string]$SwitchName,
        [string]$BootDevice,
        [switch]$Force
    )
    if ($MemoryStartupBytes -lt 32MB -or ($MemoryStartupBytes % 2MB) -ne 0) {
        throw (New-HvError "Failed to modify device 'Memory'. Invalid startup memory amount assigned for '$Name'. The minimum amount of memory you can assign to this virtual machine is '32' MB. (unverified wording)" 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.NewVM' 'InvalidArgument' $Name)
    }
    if ($PSBoundParameters.ContainsKey('NewVHDPath')) { throw 'Hyper-V host double: New-VM -NewVHDPath is not modelled (the scripts use New-VHD)' }
    Invoke-HvState {
        param($state)
        if ($SwitchName -and @($state.config.switches) -notcontains $SwitchName) {
            throw (New-HvError "Hyper-V was unable to find a virtual switch with name `"$SwitchName`". (unverified wording)" 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.NewVM' 'InvalidArgument' $SwitchName)
        }
        $disks = @()
        if ($VHDPath) {
            if (-not [IO.File]::Exists((Resolve-HvHostPath $VHDPath))) {
                throw (New-HvError "Failed to add device 'Virtual Hard Disk'. The system cannot find the file specified. ('$VHDPath') (unverified wording)" 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.NewVM' 'ObjectNotFound' $VHDPath)
            }
            $disks = @($VHDPath)
        }
        $id = [guid]::NewGuid().ToString()
        $vmPath = $Path
        if (-not $vmPath) { $vmPath = 'C:\ProgramData\Microsoft\Windows\Hyper-V' }
        # The configuration goes where Hyper-V puts it: <Path>\<Name>\Virtual Machines\<Id>.vmcx.
        $config = Resolve-HvHostPath ($vmPath.TrimEnd('\') + '\' + $Name + '\Virtual Machines')
        $null = [IO.Directory]::CreateDirectory($config)
        [IO.File]::WriteAllText((Join-Path $config "$($id.ToUpperInvariant()).vmcx"), "TEST DOUBLE of a Hyper-V VM configuration: $Name`n")
        $n = @($state.vms).Count + 10
        $vm = [pscustomobject]@{
            name = $Name; id = $id; state = 'Off'; notes = ''; generation = [int]$Generation
            memoryStartupBytes = $MemoryStartupBytes; dynamicMemory = $false; cpus = 1
            switchName = $(if ($SwitchName) { $SwitchName } else { $null })
            secureBoot = ($Generation -eq 2); keyProtector = $false; tpm = $false
            automaticCheckpoints = $true; automaticStartAction = 'StartIfRunning'; automaticStopAction = 'Save'
            disks = $disks; path = $vmPath; configFile = ($vmPath.TrimEnd('\') + '\' + $Name + '\Virtual Machines\' + $id.ToUpperInvariant() + '.vmcx')
            checkpoints = @(); creationTime = (Get-HvNow); startedAt = $null; addressPollsLeft = 0
            address = "192.0.2.$n"
        }
        $state.vms = @(@($state.vms) + $vm)
        ConvertTo-HvVmObject $state $vm
    }
}

function New-VHD {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string[]]$Path,
        [Parameter(Position = 1)][string]$ParentPath,
        [uint64]$SizeBytes,
        [switch]$Differencing,
        [switch]$Dynamic,
        [switch]$Fixed
    )
    if (-not $Differencing -or -not $ParentPath) { throw 'Hyper-V host double: only New-VHD -Differencing -ParentPath is modelled' }
    $parentFile = Resolve-HvHostPath $ParentPath
    if (-not [IO.File]::Exists($parentFile)) {
        throw (New-HvError "Failed to create the virtual hard disk. The system cannot find the file specified. ('$ParentPath') (unverified wording)" 'ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.NewVHD' 'ObjectNotFound' $ParentPath)
    }
    foreach ($p in $Path) {
        if ($p -notmatch '\.(vhdx|vhd)$') { throw (New-HvError "The format of the virtual hard disk '$p' is not known from its extension. (unverified wording)" 'InvalidParameter,Microsoft.Vhd.PowerShell.Cmdlets.NewVHD' 'InvalidArgument' $p) }
        $file = Resolve-HvHostPath $p
        if ([IO.File]::Exists($file)) { throw (New-HvError "Failed to create the virtual hard disk. The file exists. ('$p') (unverified wording)" 'InvalidParameter,Microsoft.Vhd.PowerShell.Cmdlets.NewVHD' 'ResourceExists' $p) }
        if (-not [IO.Directory]::Exists([IO.Path]::GetDirectoryName($file))) { throw (New-HvError "Failed to create the virtual hard disk. The system cannot find the path specified. ('$p') (unverified wording)" 'ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.NewVHD' 'ObjectNotFound' $p) }
        # The child only names its parent: what it holds is read through it (Get-HvDiskContents).
        [IO.File]::WriteAllText($file, (ConvertTo-Json -Compress -InputObject ([ordered]@{ fleetgateDoubleVhd = 'differencing'; parentPath = $ParentPath })))
        [pscustomobject]@{ PSTypeName = 'Microsoft.Vhd.PowerShell.VirtualHardDisk'; Path = $p; ParentPath = $ParentPath; VhdFormat = 'VHDX'; VhdType = 'Differencing'; Attached = $false }
    }
}

function Set-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [string]$Notes,
        [bool]$AutomaticCheckpointsEnabled,
        [ValidateSet('Nothing', 'StartIfRunning', 'Start')][string]$AutomaticStartAction,
        [ValidateSet('TurnOff', 'Save', 'ShutDown')][string]$AutomaticStopAction,
        [int64]$ProcessorCount,
        [int64]$MemoryStartupBytes,
        [string]$NewVMName,
        [switch]$Passthru
    )
    $bound = $PSBoundParameters
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $Name 'SetVM')) {
            if ($bound.ContainsKey('Notes')) { $v.notes = $Notes }
            if ($bound.ContainsKey('AutomaticCheckpointsEnabled')) { $v.automaticCheckpoints = $AutomaticCheckpointsEnabled }
            if ($bound.ContainsKey('AutomaticStartAction')) { $v.automaticStartAction = $AutomaticStartAction }
            if ($bound.ContainsKey('AutomaticStopAction')) { $v.automaticStopAction = $AutomaticStopAction }
            if ($bound.ContainsKey('ProcessorCount')) { $v.cpus = $ProcessorCount }
            if ($bound.ContainsKey('MemoryStartupBytes')) { $v.memoryStartupBytes = $MemoryStartupBytes }
            if ($bound.ContainsKey('NewVMName')) { $v.name = $NewVMName }
            if ($Passthru) { ConvertTo-HvVmObject $state $v }
        }
    }
}

# Memory, processors and firmware change only while the VM is off (as on Hyper-V).
function Set-HvDevice($VM, $VMName, [string]$Cmdlet, [scriptblock]$Change) {
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $VMName $Cmdlet)) {
            if ($v.state -ne 'Off') { throw (New-HvInvalidState $v $Cmdlet) }
            & $Change $v
        }
    }
}

function Set-VMMemory {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [bool]$DynamicMemoryEnabled,
        [int64]$StartupBytes,
        [int64]$MinimumBytes,
        [int64]$MaximumBytes
    )
    $bound = $PSBoundParameters
    Set-HvDevice $VM $VMName 'SetVMMemory' {
        param($v)
        if ($bound.ContainsKey('DynamicMemoryEnabled')) { $v.dynamicMemory = $DynamicMemoryEnabled }
        if ($bound.ContainsKey('StartupBytes')) { $v.memoryStartupBytes = $StartupBytes }
    }
}

function Set-VMProcessor {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [ValidateRange(1, 240)][int64]$Count,
        [bool]$ExposeVirtualizationExtensions
    )
    $bound = $PSBoundParameters
    Set-HvDevice $VM $VMName 'SetVMProcessor' { param($v) if ($bound.ContainsKey('Count')) { $v.cpus = $Count } }
}

function Set-VMFirmware {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [ValidateSet('On', 'Off')][string]$EnableSecureBoot,
        [string]$SecureBootTemplate
    )
    $bound = $PSBoundParameters
    Set-HvDevice $VM $VMName 'SetVMFirmware' {
        param($v)
        if ([int]$v.generation -ne 2) { throw (New-HvError "Set-VMFirmware applies to Generation 2 virtual machines only; '$($v.name)' is Generation $($v.generation). (unverified wording)" 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.SetVMFirmware' 'InvalidArgument' $v.name) }
        if ($bound.ContainsKey('EnableSecureBoot')) { $v.secureBoot = ($EnableSecureBoot -eq 'On') }
    }
}

function Set-VMKeyProtector {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [switch]$NewLocalKeyProtector,
        [byte[]]$KeyProtector
    )
    Set-HvDevice $VM $VMName 'SetVMKeyProtector' { param($v) $v.keyProtector = $true }
}

function Enable-VMTPM {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM
    )
    Set-HvDevice $VM $VMName 'EnableVMTPM' {
        param($v)
        if (-not $v.keyProtector) { throw (New-HvError "Failed to enable the virtual TPM of '$($v.name)': the virtual machine has no key protector. (unverified wording)" 'InvalidOperation,Microsoft.HyperV.PowerShell.Commands.EnableVMTPM' 'InvalidOperation' $v.name) }
        $v.tpm = $true
    }
}

function Start-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [switch]$AsJob,
        [switch]$Passthru
    )
    if ($AsJob) { throw 'Hyper-V host double: Start-VM -AsJob is not modelled' }
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $Name 'StartVM')) {
            if ($v.state -eq 'Running') { continue }
            if ($v.state -ne 'Off' -and $v.state -ne 'Saved') { throw (New-HvInvalidState $v 'StartVM') }
            $refuse = $state.config.refuseStart
            if ($null -ne $refuse) {
                # {name} and {id} in the configured text stand for this VM's.
                $text = ([string]$refuse.message).Replace('{name}', [string]$v.name).Replace('{id}', ([string]$v.id).ToUpperInvariant())
                throw (New-HvError $text ([string]$refuse.errorId) ([string]$refuse.category) $v.name ([string]$refuse.type))
            }
            $guest = $state.config.guest
            if ($null -ne $guest -and @($v.disks).Count -gt 0) {
                if ($state.bound.vm -ne $v.name) {
                    # Another machine now: the guest boots this VM's disk (the golden image through the
                    # differencing child).
                    Sync-HvGuestEvents $state
                    Reset-DoubleGuest -GuestDir $guest.dir -StateJson (Get-HvDiskContents @($v.disks)[0])
                    $state.bound = [pscustomobject]@{ vm = $v.name; seen = 0 }
                } else {
                    # The same machine powered on again: a boot (what was pending on reboot applies).
                    Set-Content -LiteralPath (Join-Path $guest.dir 'reboot-requested') -Value 'power-on'
                }
                Set-DoubleGuestPower $guest.dir $true
            }
            $v.state = 'Running'
            $v.startedAt = Get-HvNow
            $v.addressPollsLeft = [int]$state.config.addressDelayPolls
            if ($Passthru) { ConvertTo-HvVmObject $state $v }
        }
    }
}

function Stop-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [switch]$TurnOff,
        [switch]$Save,
        [switch]$Force,
        [switch]$AsJob,
        [switch]$Passthru
    )
    if ($Save) { throw 'Hyper-V host double: Stop-VM -Save is not modelled' }
    $vms = Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $Name 'StopVM')) {
            if ($v.state -eq 'Off') { continue }
            # Graceful: the guest's shutdown integration service powers it off (the guest double
            # always honours it); -TurnOff: power off.
            if (-not $TurnOff -and -not (Test-HvGuestUp $state $v)) {
                throw (New-HvError "The virtual machine '$($v.name)' could not be shut down: the shutdown integration service is not available. (unverified wording)" 'OperationFailed,Microsoft.HyperV.PowerShell.Commands.StopVM' 'NotSpecified' $v.name)
            }
            Set-HvOff $state $v
            ConvertTo-HvVmObject $state $v
        }
    }
    if ($AsJob) {
        # A job that has finished already (the stop above was immediate): Wait-Job and Remove-Job below
        # take it as they take a real one.
        return [pscustomobject]@{ PSTypeName = 'FleetgateDouble.HyperVJob'; Id = Get-Random -Minimum 1 -Maximum 10000; Name = 'Job1'; State = 'Completed'; Command = 'Stop-VM'; HasMoreData = $false; Output = $vms }
    }
    if ($Passthru) { $vms }
}

function Test-HvDoubleJob($Job) { return @($Job | Where-Object { $_.PSObject.TypeNames -notcontains 'FleetgateDouble.HyperVJob' }).Count -eq 0 }

function Wait-Job {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$Job, [int]$Timeout = -1, [switch]$Any, [switch]$Force)
    if (Test-HvDoubleJob $Job) { return $Job }
    Microsoft.PowerShell.Core\Wait-Job @PSBoundParameters
}

function Remove-Job {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$Job, [switch]$Force)
    if (Test-HvDoubleJob $Job) { return }
    Microsoft.PowerShell.Core\Remove-Job @PSBoundParameters
}

function Resume-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [switch]$AsJob,
        [switch]$Passthru
    )
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $Name 'ResumeVM')) {
            if ($v.state -ne 'Paused') { throw (New-HvInvalidState $v 'ResumeVM') }
            $v.state = 'Running'
            if ($Passthru) { ConvertTo-HvVmObject $state $v }
        }
    }
}

function Remove-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [switch]$Force
    )
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $Name 'RemoveVM')) {
            if ($v.state -ne 'Off') { throw (New-HvInvalidState $v 'RemoveVM') }
            if (Test-HvBound $state $v) {
                Set-HvOff $state $v
                $state.bound = [pscustomobject]@{ vm = $null; seen = 0 }
            }
            # Its configuration goes; its disks stay (Remove-VM never deletes a VHDX).
            if ($v.configFile) { Remove-Item -LiteralPath (Resolve-HvHostPath $v.configFile) -Force -ErrorAction SilentlyContinue }
            $id = $v.id
            $state.vms = @($state.vms | Where-Object { $_.id -ne $id })
        }
    }
}

# --- checkpoints ------------------------------------------------------------------------------------

function ConvertTo-HvSnapshotObject($Vm, $Checkpoint) {
    [pscustomobject]@{
        PSTypeName = 'Microsoft.HyperV.PowerShell.VMSnapshot'
        Name = [string]$Checkpoint.name; Id = [guid]$Checkpoint.id; VMName = [string]$Vm.name; VMId = [guid]$Vm.id
        SnapshotType = 'Standard'; CreationTime = (ConvertFrom-HvTime $Checkpoint.creationTime).ToLocalTime()
    }
}

function Get-VMSnapshot {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [Parameter(Position = 1)][string]$Name
    )
    $state = Read-HvState
    foreach ($v in @(Find-HvVm $state $VM $VMName 'GetVMSnapshot')) {
        foreach ($c in @($v.checkpoints)) { if (-not $Name -or $c.name -like $Name) { ConvertTo-HvSnapshotObject $v $c } }
    }
}

function Remove-VMSnapshot {
    [CmdletBinding(DefaultParameterSetName = 'VMSnapshot', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'VMSnapshot', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VMSnapshot,
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMName', Position = 1)][string[]]$Name,
        [switch]$IncludeAllChildSnapshots
    )
    begin { $targets = @() }
    process {
        if ($PSCmdlet.ParameterSetName -eq 'VMSnapshot') { $targets += @($VMSnapshot | ForEach-Object { [string]$_.Id }) }
    }
    end {
        Invoke-HvState {
            param($state)
            $ids = $targets
            if ($PSCmdlet.ParameterSetName -eq 'VMName') {
                $ids = @(foreach ($v in @(Find-HvVm $state $null $VMName 'RemoveVMSnapshot')) { foreach ($c in @($v.checkpoints)) { if (-not $Name -or @($Name | Where-Object { $c.name -like $_ }).Count -gt 0) { [string]$c.id } } })
            }
            foreach ($v in @($state.vms)) { $v.checkpoints = @(@($v.checkpoints) | Where-Object { $ids -notcontains [string]$_.id }) }
        }
    }
}

function Restore-VMSnapshot {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true)][string]$VMName,
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string]$Name,
        [Parameter(ParameterSetName = 'VMSnapshot', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object]$VMSnapshot,
        [switch]$AsJob,
        [switch]$Passthru
    )
    if ($PSCmdlet.ParameterSetName -eq 'VMSnapshot') { $VMName = [string]$VMSnapshot.VMName; $Name = [string]$VMSnapshot.Name }
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $null $VMName 'RestoreVMSnapshot')) {
            $cp = @($v.checkpoints | Where-Object { $_.name -eq $Name })
            if ($cp.Count -eq 0) {
                throw (New-HvError "Hyper-V was unable to find a checkpoint with name `"$Name`"." 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.RestoreVMSnapshot' 'InvalidArgument' $Name)
            }
            # The checkpoints are of a VM at rest: it is Off after the restore, and its guest boots the
            # disk as it was (not modelled: a checkpoint's own guest state; the guest is re-made from the
            # VM's disk at the next Start-VM).
            Set-HvOff $state $v
            if (Test-HvBound $state $v) { $state.bound = [pscustomobject]@{ vm = $null; seen = 0 } }
        }
    }
}

# --- devices ----------------------------------------------------------------------------------------

function Get-VMHardDiskDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [string]$ControllerType
    )
    $state = Read-HvState
    foreach ($v in @(Find-HvVm $state $VM $VMName 'GetVMHardDiskDrive')) {
        $i = 0
        foreach ($d in @($v.disks)) {
            [pscustomobject]@{ PSTypeName = 'Microsoft.HyperV.PowerShell.HardDiskDrive'; VMName = [string]$v.name; VMId = [guid]$v.id; Path = [string]$d; ControllerType = 'SCSI'; ControllerNumber = 0; ControllerLocation = $i; Name = "Hard Drive on SCSI controller number 0 at location $i" }
            $i++
        }
    }
}

# The guest reports its addresses through KVP once it has booted far enough: none for the first
# addressDelayPolls calls after a start, none without a switch or without the guest running.
function Get-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [string]$Name
    )
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $VMName 'GetVMNetworkAdapter')) {
            $ips = @()
            if ($null -ne $v.switchName -and (Test-HvGuestUp $state $v)) {
                if ([int]$v.addressPollsLeft -gt 0) { $v.addressPollsLeft = [int]$v.addressPollsLeft - 1 }
                else {
                    $v4 = [string]$v.address
                    if ($null -ne $state.config.guest) { $v4 = [string]$state.config.guest.address }
                    $ips = @($v4, 'fe80::215:5dff:fe00:110', '2001:db8::1')
                }
            }
            [pscustomobject]@{ PSTypeName = 'Microsoft.HyperV.PowerShell.VMNetworkAdapter'; Name = 'Network Adapter'; VMName = [string]$v.name; VMId = [guid]$v.id; SwitchName = $v.switchName; MacAddress = '00155D001101'; IPAddresses = [string[]]$ips; Status = @('Ok') }
        }
    }
}

# An NMI: Windows answers it with bugcheck 0x80 NMI_HARDWARE_FAILURE (windows.md section 4), which the
# guest double records (and Hyper-V logs as event 18590).
function Debug-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VM', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$VM,
        [switch]$InjectNonMaskableInterrupt,
        [switch]$Force,
        [switch]$AsJob,
        [switch]$Passthru
    )
    if (-not $InjectNonMaskableInterrupt) { throw 'Hyper-V host double: Debug-VM does nothing here without -InjectNonMaskableInterrupt' }
    Invoke-HvState {
        param($state)
        foreach ($v in @(Find-HvVm $state $VM $Name 'DebugVM')) {
            if ($v.state -ne 'Running') { throw (New-HvInvalidState $v 'DebugVM') }
            if (Test-HvBound $state $v) { Invoke-DoubleGuestBugcheck -GuestDir $state.config.guest.dir -Code 0x80 }
            else { Add-HvEvent $state $v (Get-HvNow) @('0x80', '0x0', '0x0', '0x0', '0x0') }
        }
    }
}

# --- the event log ----------------------------------------------------------------------------------

function Get-WinEvent {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][hashtable[]]$FilterHashtable,
        [int64]$MaxEvents = -1,
        [switch]$Oldest
    )
    foreach ($f in $FilterHashtable) {
        foreach ($k in $f.Keys) { if (@('LogName', 'Id', 'StartTime') -notcontains $k) { throw "Hyper-V host double: Get-WinEvent -FilterHashtable key '$k' is not modelled" } }
        if ([string]$f['LogName'] -ne 'Microsoft-Windows-Hyper-V-Worker-Admin') {
            throw (New-HvError "There is not an event log on the localhost computer that matches `"$($f['LogName'])`"." 'NoMatchingLogsFound,Microsoft.PowerShell.Commands.GetWinEventCommand' 'ObjectNotFound' $f['LogName'] 'System.Exception')
        }
    }
    $events = Invoke-HvState { param($state) Sync-HvGuestEvents $state; @($state.events) }
    $out = @(foreach ($e in ($events | Sort-Object -Property recordId -Descending)) {
        $time = ConvertFrom-HvTime $e.time
        $match = $false
        foreach ($f in $FilterHashtable) {
            $ok = $true
            if ($f.ContainsKey('Id') -and @($f['Id']) -notcontains 18590) { $ok = $false }
            if ($f.ContainsKey('StartTime') -and $time -lt ([DateTime]$f['StartTime']).ToUniversalTime()) { $ok = $false }
            if ($ok) { $match = $true }
        }
        if (-not $match) { continue }
        $props = @([pscustomobject]@{ Value = [string]$e.vmName }, [pscustomobject]@{ Value = ([string]$e.vmId).ToUpperInvariant() }) + @($e.codes | ForEach-Object { [pscustomobject]@{ Value = [string]$_ } })
        [pscustomobject]@{
            PSTypeName = 'System.Diagnostics.Eventing.Reader.EventLogRecord'
            Id = 18590; RecordId = [int64]$e.recordId; TimeCreated = $time.ToLocalTime(); Message = [string]$e.message
            LogName = 'Microsoft-Windows-Hyper-V-Worker-Admin'; ProviderName = 'Microsoft-Windows-Hyper-V-Worker'; Level = 1; LevelDisplayName = 'Critical'
            Properties = $props
        }
    })
    if ($MaxEvents -gt 0) { $out = @($out | Select-Object -First $MaxEvents) }
    if ($out.Count -eq 0) {
        Stop-HvError (New-HvError 'No events were found that match the specified selection criteria.' 'NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand' 'ObjectNotFound' $null 'System.Exception')
        return
    }
    $out
}

# --- PowerShell Direct ------------------------------------------------------------------------------
# A session is a note of which VM and guest double it reaches; Invoke-Command runs the script block in
# a child pwsh that is that guest (its cmdlet doubles and C: drive), its arguments and output passed as
# CliXml as remoting serializes them; Copy-Item -ToSession/-FromSession copy onto/from its C: drive.

function New-PSSession {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMId', Mandatory = $true)][guid[]]$VMId,
        [Parameter(Mandatory = $true)][pscredential]$Credential,
        [string[]]$Name
    )
    $state = Read-HvState
    $vms = @()
    if ($PSCmdlet.ParameterSetName -eq 'VMId') { $vms = @($state.vms | Where-Object { $VMId -contains [guid]$_.id }) } else { $vms = @(Find-HvVm $state $null $VMName 'NewPSSession') }
    foreach ($v in $vms) {
        if (-not (Test-HvGuestUp $state $v)) {
            Stop-HvError (New-HvError "The virtual machine $($v.name) is not in running state." 'PSSessionOpenFailed' 'OpenError' $v.name 'System.Management.Automation.Remoting.PSRemotingTransportException')
            continue
        }
        if ($Credential.UserName -ne [string]$state.config.guestUser -or $Credential.GetNetworkCredential().Password -ne [string]$state.config.guestPassword) {
            Stop-HvError (New-HvError 'The credential is invalid.' 'PSSessionOpenFailed' 'OpenError' $v.name 'System.Management.Automation.Remoting.PSRemotingTransportException')
            continue
        }
        $guestDir = $null
        if ($null -ne $state.config.guest) { $guestDir = [string]$state.config.guest.dir }
        [pscustomobject]@{ PSTypeName = 'FleetgateDouble.PSSession'; Id = Get-Random -Minimum 1 -Maximum 1000; Name = 'WinRM1'; ComputerName = [string]$v.name; VMName = [string]$v.name; VMId = [guid]$v.id; State = 'Opened'; Availability = 'Available'; GuestDir = $guestDir }
    }
}

function Test-HvDoubleSession($Session) { return @($Session | Where-Object { $_.PSObject.TypeNames -notcontains 'FleetgateDouble.PSSession' }).Count -eq 0 }

# The session still reaches its guest: the VM runs and is the one the guest double is.
function Assert-HvSession($Session) {
    if ($Session.State -ne 'Opened') { throw (New-HvError "The session state is $($Session.State)." 'InvalidSessionState' 'InvalidOperation' $Session 'System.Exception') }
    $state = Read-HvState
    $v = @($state.vms | Where-Object { $_.id -eq [string]$Session.VMId })[0]
    if ($null -eq $v -or -not (Test-HvGuestUp $state $v)) {
        throw (New-HvError "The virtual machine $($Session.VMName) is not in running state." 'PSSessionStateBroken' 'OpenError' $Session 'System.Management.Automation.Remoting.PSRemotingTransportException')
    }
    if ($null -eq $Session.GuestDir) { throw 'Hyper-V host double: PowerShell Direct needs a guest double behind the VM (startHyperVHostDouble guest option)' }
}

function Invoke-HvInGuest($Session, [scriptblock]$ScriptBlock, [object[]]$ArgumentList) {
    Assert-HvSession $Session
    $work = Join-Path $FleetgateHvDir ('psdirect/' + [guid]::NewGuid().ToString('N'))
    $null = [IO.Directory]::CreateDirectory($work)
    try {
        Export-Clixml -LiteralPath (Join-Path $work 'args.xml') -InputObject ([pscustomobject]@{ list = @($ArgumentList) }) -Depth 4
        [IO.File]::WriteAllText((Join-Path $work 'script.ps1'), $ScriptBlock.ToString())
        $doubles = Join-Path $FleetgateHvGuestDoubles 'windows-doubles.ps1'
        $bootstrap = @(
            "`$ErrorActionPreference = 'Stop'"
            ". '$($doubles -replace "'", "''")'"
            "`$FleetgateDirect = '$($work -replace "'", "''")'"
            "`$FleetgateArgs = @((Import-Clixml -LiteralPath (Join-Path `$FleetgateDirect 'args.xml')).list)"
            "`$FleetgateBlock = [scriptblock]::Create([IO.File]::ReadAllText((Join-Path `$FleetgateDirect 'script.ps1')))"
            "try { `$FleetgateOut = @(& `$FleetgateBlock @FleetgateArgs); Export-Clixml -LiteralPath (Join-Path `$FleetgateDirect 'out.xml') -InputObject ([pscustomobject]@{ list = `$FleetgateOut }) -Depth 4 }"
            "catch { Export-Clixml -LiteralPath (Join-Path `$FleetgateDirect 'err.xml') -InputObject ([pscustomobject]@{ message = [string]`$_.Exception.Message; errorId = [string]`$_.FullyQualifiedErrorId; category = [string]`$_.CategoryInfo.Category }); exit 1 }"
        ) -join "`n"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($bootstrap))
        # The child is the guest: its doubles' state folder, and its programs first on PATH (its
        # powershell.exe and cmd.exe, which takes `cmd.exe /c <command>` as invoke_in_vm.ps1 starts it).
        $saved = @{ FLEETGATE_WINDOWS_DOUBLE = $env:FLEETGATE_WINDOWS_DOUBLE; PATH = $env:PATH }
        $env:FLEETGATE_WINDOWS_DOUBLE = $Session.GuestDir
        $env:PATH = (Join-Path $FleetgateHvGuestDoubles 'bin') + ':' + $env:PATH
        # Its stdin is an empty pipe: this session's own stdin (the SSH channel) is not the guest's.
        try { $log = @('' | & $env:FLEETGATE_PWSH -NoProfile -NonInteractive -EncodedCommand $encoded 2>&1 | ForEach-Object { [string]$_ }) }
        finally { $env:FLEETGATE_WINDOWS_DOUBLE = $saved.FLEETGATE_WINDOWS_DOUBLE; $env:PATH = $saved.PATH }
        $errFile = Join-Path $work 'err.xml'
        if ([IO.File]::Exists($errFile)) {
            $e = Import-Clixml -LiteralPath $errFile
            throw (New-HvError ([string]$e.message) ([string]$e.errorId) ([string]$e.category) $Session.VMName 'System.Management.Automation.RemoteException')
        }
        $outFile = Join-Path $work 'out.xml'
        if (-not [IO.File]::Exists($outFile)) { throw (New-HvError "The background process reported an error with the following message: the guest's PowerShell ended without a result: $(($log -join ' ').Trim()) (unverified wording)" 'PSSessionStateBroken' 'OpenError' $Session.VMName 'System.Management.Automation.Remoting.PSRemotingTransportException') }
        foreach ($o in @((Import-Clixml -LiteralPath $outFile).list)) {
            if ($o -is [psobject] -and $o -isnot [string] -and -not $o.GetType().IsValueType) { $o | Add-Member -NotePropertyName PSComputerName -NotePropertyValue $Session.VMName -Force }
            $o
        }
    } finally {
        Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Invoke-Command {
    [CmdletBinding(DefaultParameterSetName = 'InProcess')]
    param(
        [Parameter(ParameterSetName = 'Session', Mandatory = $true, Position = 0)][object[]]$Session,
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true)][pscredential]$Credential,
        [Parameter(ParameterSetName = 'InProcess', Mandatory = $true, Position = 0)]
        [Parameter(ParameterSetName = 'Session', Mandatory = $true, Position = 1)]
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 1)][scriptblock]$ScriptBlock,
        [object[]]$ArgumentList
    )
    if ($PSCmdlet.ParameterSetName -eq 'InProcess') { return Microsoft.PowerShell.Core\Invoke-Command @PSBoundParameters }
    if ($PSCmdlet.ParameterSetName -eq 'Session') {
        if (-not (Test-HvDoubleSession $Session)) { return Microsoft.PowerShell.Core\Invoke-Command @PSBoundParameters }
        foreach ($s in $Session) { Invoke-HvInGuest $s $ScriptBlock $ArgumentList }
        return
    }
    foreach ($n in $VMName) {
        $s = New-PSSession -VMName $n -Credential $Credential
        if ($null -eq $s) { continue }
        Invoke-HvInGuest $s $ScriptBlock $ArgumentList
    }
}

function Copy-Item {
    [CmdletBinding(DefaultParameterSetName = 'Path', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Path', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][Alias('PSPath')][string[]]$LiteralPath,
        [Parameter(Position = 1)][string]$Destination,
        [object]$ToSession,
        [object]$FromSession,
        [switch]$Force,
        [switch]$Recurse,
        [switch]$Container,
        [switch]$PassThru,
        [string]$Filter,
        [string[]]$Include,
        [string[]]$Exclude
    )
    if ($null -eq $ToSession -and $null -eq $FromSession) { return Microsoft.PowerShell.Management\Copy-Item @PSBoundParameters }
    if ($null -ne $ToSession -and $null -ne $FromSession) { throw 'Copy-Item: -ToSession and -FromSession cannot be used together.' }
    if ($Recurse) { throw 'Hyper-V host double: Copy-Item -Recurse across a session is not modelled' }
    $session = $ToSession
    if ($null -eq $session) { $session = $FromSession }
    Assert-HvSession $session
    $sources = $LiteralPath
    if ($PSCmdlet.ParameterSetName -eq 'Path') { $sources = $Path }
    foreach ($src in $sources) {
        if ($null -ne $ToSession) { $from = Resolve-HvHostPath $src; $to = Resolve-HvGuestPath $session.GuestDir $Destination }
        else { $from = Resolve-HvGuestPath $session.GuestDir $src; $to = Resolve-HvHostPath $Destination }
        if (-not [IO.File]::Exists($from)) { throw (New-HvError "Cannot find path '$src' because it does not exist." 'PathNotFound,Microsoft.PowerShell.Commands.CopyItemCommand' 'ObjectNotFound' $src 'System.Management.Automation.ItemNotFoundException') }
        if ([IO.Directory]::Exists($to)) { $to = Join-Path $to ([IO.Path]::GetFileName($from)) }
        if (-not [IO.Directory]::Exists([IO.Path]::GetDirectoryName($to))) { throw (New-HvError "Could not find a part of the path '$Destination'." 'CopyError,Microsoft.PowerShell.Commands.CopyItemCommand' 'WriteError' $Destination 'System.Exception') }
        if ([IO.File]::Exists($to) -and -not $Force) { throw (New-HvError "The file '$Destination' already exists." 'CopyError,Microsoft.PowerShell.Commands.CopyItemCommand' 'WriteError' $Destination 'System.Exception') }
        [IO.File]::Copy($from, $to, $true)
    }
}

function Remove-PSSession {
    [CmdletBinding(DefaultParameterSetName = 'Session')]
    param([Parameter(ParameterSetName = 'Session', Mandatory = $true, Position = 0, ValueFromPipeline = $true)][object[]]$Session)
    if (-not (Test-HvDoubleSession $Session)) { return Microsoft.PowerShell.Core\Remove-PSSession @PSBoundParameters }
    foreach ($s in $Session) { $s.State = 'Closed' }
}
