# stop_vm: ends the VM. Input: { name, graceful, timeoutSeconds }.
# graceful: Stop-VM through the guest's shutdown integration service, as a job so that a guest that
# never shuts down cannot hold us longer than timeoutSeconds (Stop-VM has no timeout of its own);
# then, or at once, Stop-VM -TurnOff -Force: power off (windows.md section 5).
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$graceful = [bool](Get-FleetgateInputValue -Name 'graceful')
$timeout = [int](Get-FleetgateInputValue -Name 'timeoutSeconds')
$how = 'absent'
$vm = Get-VM -Name $name -ErrorAction SilentlyContinue
if ($null -ne $vm) {
    $how = 'already-off'
    if ($vm.State.ToString() -ne 'Off') {
        if ($graceful) {
            $job = Stop-VM -Name $name -Force -AsJob
            $null = Wait-Job -Job $job -Timeout $timeout
            Remove-Job -Job $job -Force
        }
        if ((Get-VM -Name $name).State.ToString() -eq 'Off') {
            $how = 'shutdown'
        } else {
            Stop-VM -Name $name -TurnOff -Force
            $how = 'turnoff'
        }
    }
}
Write-FleetgateResult ([ordered]@{ name = $name; how = $how })
