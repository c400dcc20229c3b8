# install_openssh: the harness's channel into the guest (windows.md section 9).
# OpenSSH Server from the Windows capability (Server 2025 ships it), sshd started automatically,
# the firewall rule, cmd.exe as the default shell (HKLM:\SOFTWARE\OpenSSH DefaultShell, written so
# that an earlier setting cannot leave another) and the harness's key in administrators_authorized_keys
# with the ACL sshd insists on: Administrators and SYSTEM only. One shell, cmd.exe: the harness sends
# every script as `powershell ... -EncodedCommand` within cmd.exe's 8,191-character line (longer ones
# through the stdin bootstrap, harness/guest/windows/encode.ts), and the heartbeat is a cmd.exe that
# opens a file, far cheaper than a PowerShell start (windows-guest.ts heartbeatCommand).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$dir = $env:FLEETGATE_DIR
if (-not $dir) { $dir = 'C:\fleetgate' }

$cap = Get-WindowsCapability -Online -Name 'OpenSSH.Server*' | Select-Object -First 1
if ($null -eq $cap) { throw 'OpenSSH.Server is not offered by this Windows (no capability named OpenSSH.Server*)' }
if ($cap.State -ne 'Installed') {
    $null = Add-WindowsCapability -Online -Name 'OpenSSH.Server~~~~0.0.1.0'
}

Set-Service -Name sshd -StartupType Automatic
Start-Service -Name sshd

if ($null -eq (Get-NetFirewallRule -Name 'OpenSSH-Server-In-TCP' -ErrorAction SilentlyContinue)) {
    $null = New-NetFirewallRule -Name 'OpenSSH-Server-In-TCP' -DisplayName 'OpenSSH Server (sshd)' -Enabled True -Direction Inbound -Protocol TCP -Action Allow -LocalPort 22
} else {
    Enable-NetFirewallRule -Name 'OpenSSH-Server-In-TCP'
}

$shell = Join-Path $env:SystemRoot 'System32\cmd.exe'
if (-not (Test-Path -LiteralPath 'HKLM:\SOFTWARE\OpenSSH')) { $null = New-Item -Path 'HKLM:\SOFTWARE\OpenSSH' -Force }
$null = New-ItemProperty -Path 'HKLM:\SOFTWARE\OpenSSH' -Name DefaultShell -Value $shell -PropertyType String -Force

$keyFile = Join-Path $dir 'harness_key.pub'
$key = (Get-Content -LiteralPath $keyFile -Raw).Trim()
if ($key -notmatch '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]+') { throw "the harness key in $keyFile is not an OpenSSH public key" }
$auth = Join-Path $env:ProgramData 'ssh\administrators_authorized_keys'
Set-Content -LiteralPath $auth -Value $key -Encoding ascii
# icacls: inheritance off, then only Administrators (S-1-5-32-544) and SYSTEM (S-1-5-18), by SID so
# that the names' translation does not matter.
& icacls.exe $auth /inheritance:r /grant '*S-1-5-32-544:F' /grant '*S-1-5-18:F' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls on $auth exited with $LASTEXITCODE" }

Restart-Service -Name sshd
Write-Output "sshd running; default shell $shell; key installed in $auth"
