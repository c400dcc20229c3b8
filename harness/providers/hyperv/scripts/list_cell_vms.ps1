# list_cell_vms: the VMs fleetgate controllers made on this host: named with the prefix, or carrying a
# fleetgate tag in their notes (checkpoint-mode VMs keep their own names). cleanupLeftovers() reads
# the tag (owner controller, start time) to find the VMs of controllers that died. Input: { prefix }.
$ErrorActionPreference = 'Stop'

$prefix = Get-FleetgateInputValue -Name 'prefix'
$vms = @(Get-VM | Where-Object { $_.Name.StartsWith($prefix) -or ([string]$_.Notes).StartsWith('fleetgate:') })
$list = @($vms | ForEach-Object {
    [ordered]@{
        name = $_.Name
        id = $_.Id.ToString()
        state = $_.State.ToString()
        notes = [string]$_.Notes
        creationTime = ConvertTo-FleetgateTime $_.CreationTime
    }
})
Write-FleetgateResult ([ordered]@{ prefix = $prefix; vms = $list; hostTime = ConvertTo-FleetgateTime (Get-Date) })
