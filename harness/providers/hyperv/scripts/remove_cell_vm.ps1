# remove_cell_vm: everything new_cell_vm made goes: the VM, its checkpoints, the differencing disk and
# the VM's folder. Checkpoint mode keeps the VM and returns it to its clean checkpoint instead.
# Input: { name, mode, vmDir (differencing), checkpointName (checkpoint) }. Missing parts are fine:
# it also cleans up after a new_cell_vm that failed half-way.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$mode = Get-FleetgateInputValue -Name 'mode'
$vmDir = Get-FleetgateInputValue -Name 'vmDir' -Optional
$removed = New-Object System.Collections.Generic.List[string]
$vm = Get-VM -Name $name -ErrorAction SilentlyContinue
if ($null -ne $vm -and $vm.State.ToString() -ne 'Off') {
    Stop-VM -VM $vm -TurnOff -Force
    $removed.Add("turned off VM $name")
}
if ($mode -eq 'checkpoint') {
    if ($null -ne $vm) {
        Restore-VMSnapshot -VMName $name -Name (Get-FleetgateInputValue -Name 'checkpointName') -Confirm:$false
        Set-VM -VM $vm -Notes ''
        $removed.Add("restored VM $name to its checkpoint")
    }
} else {
    # Never a folder that is not this VM's own: vmDir must end in the VM's name.
    if ($null -ne $vmDir -and -not $vmDir.TrimEnd('\').EndsWith('\' + $name)) {
        throw "fleetgate remove_cell_vm: refusing to delete '$vmDir', which is not a folder named '$name'"
    }
    if ($null -ne $vm) {
        $disks = @(Get-VMHardDiskDrive -VM $vm | ForEach-Object { $_.Path })
        $snapshots = @(Get-VMSnapshot -VM $vm)
        if ($snapshots.Count -gt 0) {
            $snapshots | Remove-VMSnapshot
            $removed.Add("removed $($snapshots.Count) checkpoints of VM $name")
        }
        # Remove-VM leaves the disks: they are deleted below, but only inside vmDir (the golden
        # parent disk is elsewhere and must survive).
        Remove-VM -VM $vm -Force
        $removed.Add("removed VM $name")
        foreach ($d in $disks) {
            if ($null -ne $vmDir -and $d.StartsWith($vmDir.TrimEnd('\') + '\') -and (Test-Path -LiteralPath $d)) {
                Remove-Item -LiteralPath $d -Force
                $removed.Add("removed disk $d")
            }
        }
    }
    if ($null -ne $vmDir -and (Test-Path -LiteralPath $vmDir)) {
        Remove-Item -LiteralPath $vmDir -Recurse -Force
        $removed.Add("removed folder $vmDir")
    }
}
Write-FleetgateResult ([ordered]@{ name = $name; removed = @($removed) })
