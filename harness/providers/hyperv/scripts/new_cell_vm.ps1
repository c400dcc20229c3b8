# new_cell_vm: one cell's VM on a fresh writable layer over the golden image (windows.md section 5).
# Runs on the Hyper-V host. Input:
#   { name, mode: 'differencing' | 'checkpoint', notes,
#     differencing: parentVhdx, vmDir, memoryMiB, cpus, switchName (or null), secureBoot, tpm
#     checkpoint:   checkpointName (the VM exists already, built once from the image) }
# Composed by harness/providers/hyperv/encode-host.ts with the guest's common.ps1 (no here-strings,
# no multi-line strings: comment lines and indentation are dropped before encoding).
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$mode = Get-FleetgateInputValue -Name 'mode'
$notes = Get-FleetgateInputValue -Name 'notes'
$created = $false
$diskPath = $null

if ($mode -eq 'checkpoint') {
    # The VM is kept between cells; its clean checkpoint is the writable layer's reset.
    $checkpointName = Get-FleetgateInputValue -Name 'checkpointName'
    $vm = Get-VM -Name $name
    # windows.md section 5: compare the state by name; the numbers differ between versions.
    if ($vm.State.ToString() -ne 'Off') { Stop-VM -VM $vm -TurnOff -Force }
    Restore-VMSnapshot -VMName $name -Name $checkpointName -Confirm:$false
} else {
    $parent = Get-FleetgateInputValue -Name 'parentVhdx'
    $vmDir = Get-FleetgateInputValue -Name 'vmDir'
    if ($null -ne (Get-VM -Name $name -ErrorAction SilentlyContinue)) {
        throw "fleetgate new_cell_vm: a VM named '$name' exists already"
    }
    if (-not (Test-Path -LiteralPath $parent -PathType Leaf)) {
        throw "fleetgate new_cell_vm: the golden disk '$parent' does not exist on this host"
    }
    $null = New-Item -ItemType Directory -Path $vmDir -Force
    # Joined with '\' as text (not Join-Path): the same on Windows, and a Windows path under pwsh elsewhere.
    $diskPath = $vmDir.TrimEnd('\') + '\disk.vhdx'
    # The cell writes only to this child; the golden VHDX stays read-only for every cell at once.
    $null = New-VHD -Path $diskPath -ParentPath $parent -Differencing
    $memoryBytes = [int64](Get-FleetgateInputValue -Name 'memoryMiB') * 1MB
    $switchName = Get-FleetgateInputValue -Name 'switchName' -Optional
    if ($null -ne $switchName -and $switchName -ne '') {
        $vm = New-VM -Name $name -Generation 2 -MemoryStartupBytes $memoryBytes -VHDPath $diskPath -Path $vmDir -SwitchName $switchName
    } else {
        $vm = New-VM -Name $name -Generation 2 -MemoryStartupBytes $memoryBytes -VHDPath $diskPath -Path $vmDir
    }
    $created = $true
    # Fixed memory: a dump of a guest whose memory balloons is harder to read, and timings vary less.
    Set-VMMemory -VM $vm -DynamicMemoryEnabled $false
    Set-VMProcessor -VM $vm -Count ([int](Get-FleetgateInputValue -Name 'cpus'))
    # windows.md section 3: test signing is blocked while Secure Boot is on.
    if (-not [bool](Get-FleetgateInputValue -Name 'secureBoot')) {
        Set-VMFirmware -VM $vm -EnableSecureBoot Off
    }
    if ([bool](Get-FleetgateInputValue -Name 'tpm' -Optional)) {
        Set-VMKeyProtector -VM $vm -NewLocalKeyProtector
        Enable-VMTPM -VM $vm
    }
    # No automatic checkpoints (they would pile up per cell), never started or saved by the host
    # on its own. -AutomaticCheckpointsEnabled needs Windows 10 1709 / Server 2019 hosts (unverified
    # on older ones).
    Set-VM -VM $vm -AutomaticCheckpointsEnabled $false -AutomaticStartAction Nothing -AutomaticStopAction TurnOff
}

# The tag cleanupLeftovers reads after a controller crash: which controller owns the VM and since when.
Set-VM -VM $vm -Notes $notes
$vm = Get-VM -Name $name
Write-FleetgateResult ([ordered]@{
    name = $vm.Name
    id = $vm.Id.ToString()
    state = $vm.State.ToString()
    generation = [int]$vm.Generation
    diskPath = $diskPath
    created = $created
    hostTime = ConvertTo-FleetgateTime (Get-Date)
})
