# get_vm_address: the VM's IP addresses as the guest reports them through its integration services
# (KVP), IPv4 first: the harness reaches Hyper-V VMs at their own address. Input: { name }.
# Empty until the guest has booted far enough to report them.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$all = @(Get-VMNetworkAdapter -VMName $name | ForEach-Object { @($_.IPAddresses) } | Where-Object { $null -ne $_ -and $_ -ne '' })
$v4 = @($all | Where-Object { $_ -match '^\d{1,3}(\.\d{1,3}){3}$' -and -not $_.StartsWith('169.254.') })
$v6 = @($all | Where-Object { $_.Contains(':') -and -not $_.ToLowerInvariant().StartsWith('fe80:') })
$ipv4 = $null
if ($v4.Count -gt 0) { $ipv4 = $v4[0] }
Write-FleetgateResult ([ordered]@{ name = $name; ipv4 = $ipv4; addresses = @($v4 + $v6) })
