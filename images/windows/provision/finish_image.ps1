# finish_image: the build's own access goes before the image is sealed: WinRM (only Packer used it;
# the harness uses OpenSSH) is turned off and the auto-logon is cleared.
$ErrorActionPreference = 'Stop'

$winlogon = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon'
Set-ItemProperty -Path $winlogon -Name AutoAdminLogon -Value '0'
Remove-ItemProperty -Path $winlogon -Name DefaultPassword -ErrorAction SilentlyContinue
# Packer's WinRM session ends with the shutdown that follows; the service starts no more after it.
Set-Service -Name WinRM -StartupType Disabled
# The WinRM rules' group resource id is unverified; a missing group is not an error.
Get-NetFirewallRule -Group '@FirewallAPI.dll,-30267' -ErrorAction SilentlyContinue | Disable-NetFirewallRule
Write-Output 'WinRM disabled from the next boot; auto-logon cleared'
