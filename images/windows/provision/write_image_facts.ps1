# write_image_facts: the last word on what this image is, from inside the guest: CurrentBuild and UBR
# (windows.md section 7: the patch level is build.UBR), installed KBs (Get-HotFix), Secure Boot, HVCI,
# test signing, and the SSH host key's fingerprint in OpenSSH's SHA256:<base64 without padding> form.
# Packer downloads the JSON; `fleetgate images manifest` turns it into manifest.json.
$ErrorActionPreference = 'Stop'

$dir = $env:FLEETGATE_DIR
if (-not $dir) { $dir = 'C:\fleetgate' }
$cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$hotfixes = @(Get-HotFix | ForEach-Object { [string]$_.HotFixID })
if ($env:FLEETGATE_KB -and -not ($hotfixes -contains "KB$env:FLEETGATE_KB")) {
    throw "KB$env:FLEETGATE_KB is not installed (Get-HotFix: $($hotfixes -join ', '))"
}

$secureBoot = $null
try { $secureBoot = [bool](Confirm-SecureBootUEFI) } catch { $secureBoot = $null }

$hvci = $null
try {
    $dg = Get-CimInstance -ClassName Win32_DeviceGuard -Namespace 'root\Microsoft\Windows\DeviceGuard'
    $hvci = [bool](@($dg.SecurityServicesRunning) -contains 2)
} catch { $hvci = $null }

$startOptions = [string](Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control').SystemStartOptions
$testSigning = [bool](($startOptions -split '\s+') -contains 'TESTSIGNING')

# OpenSSH's fingerprint: SHA-256 of the key blob (the base64 field of the .pub line), base64, no '='.
$pub = (Get-Content -LiteralPath (Join-Path $env:ProgramData 'ssh\ssh_host_ed25519_key.pub') -Raw).Trim().Split(' ')
$blob = [Convert]::FromBase64String($pub[1])
$sha = [Security.Cryptography.SHA256]::Create()
$fingerprint = 'SHA256:' + [Convert]::ToBase64String($sha.ComputeHash($blob)).TrimEnd('=')

$facts = [ordered]@{
    currentBuild = [string]$cv.CurrentBuild
    ubr = [int]$cv.UBR
    hotFixIds = $hotfixes
    secureBoot = $secureBoot
    hvci = $hvci
    testSigning = $testSigning
    hostKeyFingerprint = $fingerprint
}
$json = ConvertTo-Json -InputObject $facts -Depth 4
[IO.File]::WriteAllText((Join-Path $dir 'image-facts.json'), $json, (New-Object System.Text.UTF8Encoding $false))
Write-Output $json
