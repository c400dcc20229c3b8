# start_vm: makes the VM run: Start-VM when it is Off (or Saved), Resume-VM when it is Paused, nothing
# when it runs already (so resume() and start() share it). Input: { name }.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$vm = Get-VM -Name $name
# windows.md section 5: the state by name, never by number.
$before = $vm.State.ToString()
if ($before -eq 'Paused') {
    Resume-VM -VM $vm
} elseif ($before -eq 'Off' -or $before -eq 'Saved') {
    Start-VM -VM $vm
}
$vm = Get-VM -Name $name
Write-FleetgateResult ([ordered]@{ name = $vm.Name; before = $before; state = $vm.State.ToString() })
