# disable_updates: the image stays at the patch level it was built for; Windows Update must not move
# it (a cell checks build.UBR against the catalog). Policy values under
# HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU; run after install_update.ps1, which
# needs the update service. The service itself is left alone (unverified what a disabled wuauserv
# breaks on every release).
$ErrorActionPreference = 'Stop'

$au = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU'
if (-not (Test-Path -LiteralPath $au)) { $null = New-Item -Path $au -Force }
Set-ItemProperty -Path $au -Name NoAutoUpdate -Value 1 -Type DWord
Set-ItemProperty -Path $au -Name AUOptions -Value 1 -Type DWord
Write-Output 'automatic updates off'
