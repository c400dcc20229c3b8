# get_identity: which Windows this is and the security state a minifilter test depends on.
# Input: none. Every part that can fail for a known reason (no UEFI, no admin rights, an older
# Windows) gives null plus a reason instead of failing the whole identity.
# Sources are language-neutral (registry, CIM, exception types) except bcdedit, which is only used
# to tell "configured for the next boot" and whose labels are English-only.
$ErrorActionPreference = 'Stop'

# Build and patch level: windows.md section 7 (a patch level is CurrentBuild.UBR). Not systeminfo
# (never shows the UBR) and not [Environment]::OSVersion (Revision is 0): see samples/os.
$cvPath = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$cv = [ordered]@{}
foreach ($name in @('CurrentBuild', 'UBR', 'EditionID', 'ProductName', 'DisplayVersion', 'ReleaseId', 'InstallationType', 'CurrentMajorVersionNumber', 'CurrentMinorVersionNumber')) {
    $cv[$name] = Get-FleetgateRegistryValue -Path $cvPath -Name $name
}
$reasons = [ordered]@{}

# Secure Boot. Confirm-SecureBootUEFI returns $true/$false on UEFI, throws PlatformNotSupported on
# BIOS ("Cmdlet not supported on this platform") and UnauthorizedAccess without admin rights. The
# exception types are matched, not the (translated) messages. (Exception types: unverified here.)
$secureBoot = $null
try {
    $secureBoot = [bool](Confirm-SecureBootUEFI -ErrorAction Stop)
} catch {
    $t = $_.Exception.GetType().Name
    if ($t -eq 'PlatformNotSupportedException') { $kind = 'not-uefi' }
    elseif ($t -eq 'UnauthorizedAccessException') { $kind = 'access-denied' }
    elseif ($t -eq 'CommandNotFoundException') { $kind = 'no-cmdlet' }
    else { $kind = 'error' }
    $reasons['secureBoot'] = "${kind}: $t`: $($_.Exception.Message)"
}

# Test signing that is in effect now: the loader options this boot started with
# (HKLM\SYSTEM\CurrentControlSet\Control, SystemStartOptions, e.g. " NOEXECUTE=OPTIN  TESTSIGNING").
# Language-neutral, and it does not change until a reboot. Not in windows.md: unverified that it
# lists TESTSIGNING on every version, and what it shows when Secure Boot makes the loader ignore it.
$startOptions = Get-FleetgateRegistryValue -Path 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name 'SystemStartOptions'
$startTokens = @()
$testSigning = $null
if ($null -ne $startOptions) {
    $startTokens = @(([string]$startOptions).Trim() -split '\s+' | Where-Object { $_ -ne '' })
    $testSigning = [bool]($startTokens -contains 'TESTSIGNING')
} else {
    $reasons['testSigning'] = 'no SystemStartOptions value in HKLM\SYSTEM\CurrentControlSet\Control'
}

# Test signing configured for the next boot (windows.md section 3: bcdedit /set testsigning on, then a
# reboot). bcdedit omits the line when it is off; its labels are English on English systems only,
# so without an English "identifier" line the answer is null rather than a guess.
$testSigningConfigured = $null
try {
    $bcd = Invoke-FleetgateNative -FilePath 'bcdedit.exe' -ArgumentList @('/enum', '{current}') -TimeoutSeconds 60
    # stdout and stderr come as whole strings.
    $bcdLines = @([string]$bcd.stdout -split "\r?\n")
    if ($bcd.exitCode -ne 0) {
        $bcdText = ([string]$bcd.stdout + ' ' + [string]$bcd.stderr).Trim() -replace '\s*\r?\n\s*', ' '
        $reasons['testSigningConfigured'] = "bcdedit exited with $($bcd.exitCode): $bcdText"
    } else {
        $line = @($bcdLines | Where-Object { $_ -match '^\s*testsigning\s+(Yes|No)\s*$' }) | Select-Object -First 1
        if ($null -ne $line) {
            $testSigningConfigured = [bool]($line -match '\sYes\s*$')
        } elseif (@($bcdLines | Where-Object { $_ -match '^\s*identifier\s+\{' }).Count -gt 0) {
            $testSigningConfigured = $false
        } else {
            $reasons['testSigningConfigured'] = 'bcdedit output has no English labels (non-English Windows?)'
        }
    }
} catch {
    $reasons['testSigningConfigured'] = "bcdedit: $($_.Exception.GetType().Name): $($_.Exception.Message)"
}

# HVCI (memory integrity): Win32_DeviceGuard.SecurityServicesRunning contains 2. The class is
# absent before Windows 10 / Server 2016.
$hvci = $null
$vbsStatus = $null
$servicesRunning = @()
$servicesConfigured = @()
try {
    $dg = Get-CimInstance -ClassName Win32_DeviceGuard -Namespace 'root\Microsoft\Windows\DeviceGuard' -ErrorAction Stop
    $servicesRunning = @($dg.SecurityServicesRunning | ForEach-Object { [int]$_ })
    $servicesConfigured = @($dg.SecurityServicesConfigured | ForEach-Object { [int]$_ })
    $hvci = [bool]($servicesRunning -contains 2)
    if ($null -ne $dg.VirtualizationBasedSecurityStatus) { $vbsStatus = [int]$dg.VirtualizationBasedSecurityStatus }
} catch {
    $reasons['hvci'] = "Win32_DeviceGuard: $($_.Exception.GetType().Name): $($_.Exception.Message)"
}

# Crash dump settings (windows.md section 4): raw values; the harness maps them.
$ccPath = 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'
$crash = [ordered]@{}
foreach ($name in @('CrashDumpEnabled', 'AutoReboot', 'Overwrite', 'FilterPages', 'AlwaysKeepMemoryDump')) {
    $v = Get-FleetgateRegistryValue -Path $ccPath -Name $name
    if ($null -ne $v) { $v = [int64]$v }
    $crash[$name] = $v
}
$crash['DumpFile'] = Get-FleetgateRegistryValue -Path $ccPath -Name 'DumpFile'
$crash['DumpFileRaw'] = Get-FleetgateRegistryValue -Path $ccPath -Name 'DumpFile' -Raw
$crash['MinidumpDir'] = Get-FleetgateRegistryValue -Path $ccPath -Name 'MinidumpDir'
$crash['MinidumpDirRaw'] = Get-FleetgateRegistryValue -Path $ccPath -Name 'MinidumpDir' -Raw

# Boot time tells a reboot from the same boot (the Linux personality uses boot_id for that).
$lastBoot = $null
try {
    $lastBoot = ConvertTo-FleetgateTime (Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop).LastBootUpTime
} catch {
    $reasons['lastBootUpTime'] = "Win32_OperatingSystem: $($_.Exception.Message)"
}

$ubr = $cv['UBR']
if ($null -ne $ubr) { $ubr = [int64]$ubr }
Write-FleetgateResult ([ordered]@{
    currentBuild = $cv['CurrentBuild']
    ubr = $ubr
    majorVersion = $cv['CurrentMajorVersionNumber']
    minorVersion = $cv['CurrentMinorVersionNumber']
    editionId = $cv['EditionID']
    productName = $cv['ProductName']
    displayVersion = $cv['DisplayVersion']
    releaseId = $cv['ReleaseId']
    installationType = $cv['InstallationType']
    computerName = $env:COMPUTERNAME
    architecture = $env:PROCESSOR_ARCHITECTURE
    firmwareType = $env:firmware_type
    lastBootUpTime = $lastBoot
    secureBoot = $secureBoot
    testSigning = $testSigning
    testSigningConfigured = $testSigningConfigured
    systemStartOptions = $startTokens
    hvci = $hvci
    vbsStatus = $vbsStatus
    securityServicesRunning = $servicesRunning
    securityServicesConfigured = $servicesConfigured
    crashControl = $crash
    reasons = $reasons
})
