# inject_nmi: a non-maskable interrupt into the VM; Windows bugchecks 0x80 NMI_HARDWARE_FAILURE
# (windows.md section 4). -Force skips the confirmation prompt. Input: { name }.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
Debug-VM -Name $name -InjectNonMaskableInterrupt -Force
Write-FleetgateResult ([ordered]@{ name = $name; injected = $true })
