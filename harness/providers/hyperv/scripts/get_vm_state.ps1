# get_vm_state: what Hyper-V says about one VM. Input: { name }.
# exists is false when there is no such VM (removed, or never made): not an error, the caller decides.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$vm = Get-VM -Name $name -ErrorAction SilentlyContinue
$state = [ordered]@{ exists = $false; name = $name }
if ($null -ne $vm) {
    # Heartbeat needs the guest's integration services; it is null while they are not running.
    $heartbeat = $null
    if ($null -ne $vm.Heartbeat) { $heartbeat = $vm.Heartbeat.ToString() }
    $state = [ordered]@{
        exists = $true
        name = $vm.Name
        id = $vm.Id.ToString()
        # windows.md section 5: State.ToString(), compared by name.
        state = $vm.State.ToString()
        uptimeSeconds = [int64]$vm.Uptime.TotalSeconds
        heartbeat = $heartbeat
        notes = [string]$vm.Notes
    }
}
Write-FleetgateResult $state
