# TEST DOUBLE of sc.exe: `delete <service>` removes the service key ("[SC] DeleteService SUCCESS"); a
# service that does not exist is refused as sc.exe refuses it (1060). Other forms are refused.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
$state = Read-DoubleState
if ($args.Count -eq 2 -and $args[0] -eq 'delete') {
    $svc = "HKLM:\SYSTEM\CurrentControlSet\Services\$($args[1])"
    if ($null -eq (Find-DoubleRegistryKey $state $svc)) { '[SC] OpenService FAILED 1060:'; ''; 'The specified service does not exist as an installed service.'; ''; exit 1060 % 256 }
    Remove-DoubleRegistryKey $state $svc
    Save-DoubleState $state
    '[SC] DeleteService SUCCESS'
    exit 0
}
'DESCRIPTION:'
'        SC is a command line program used for communicating with the Service Control Manager and services.'
exit 1
