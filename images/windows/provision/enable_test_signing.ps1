# enable_test_signing: lets the test-signed minifilter load (windows.md section 3). bcdedit /set
# testsigning on takes effect after a reboot and is blocked while Secure Boot is on, so a VM with
# Secure Boot on fails here instead of producing an image that silently refuses the driver.
$ErrorActionPreference = 'Stop'

if ($env:FLEETGATE_TEST_SIGNING -eq 'false') {
    Write-Output 'test signing not wanted for this image'
    exit 0
}
$secureBoot = $false
try {
    $secureBoot = [bool](Confirm-SecureBootUEFI)
} catch {
    # Not UEFI, or the cmdlet is unavailable: no Secure Boot to be in the way.
    $secureBoot = $false
}
if ($secureBoot) { throw 'Secure Boot is on: test signing cannot be enabled (turn Secure Boot off on the VM: secure_boot = false)' }
& bcdedit.exe /set testsigning on
if ($LASTEXITCODE -ne 0) { throw "bcdedit /set testsigning on exited with $LASTEXITCODE" }
Write-Output 'test signing on from the next boot'
