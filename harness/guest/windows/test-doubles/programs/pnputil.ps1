# TEST DOUBLE of pnputil.exe (Windows 10 1903 and later syntax, windows.md section 3):
#   /add-driver <inf> /install   adds the package to the driver store under the next oemN.inf name and
#                                installs its DefaultInstall section (inf.ps1); prints what the recorded
#                                real run prints (samples/pnputil/infutable_packer_pnputil_add_install_virtio.txt,
#                                without Packer's prefix and without the device line a primitive driver has no
#                                device for). pnputil.refuseAdd names a recorded refusal to replay instead
#                                (e.g. the hash-not-in-catalog one), with the INF's file name in it.
#   /delete-driver <oemN.inf> /uninstall   removes the service key, the driver file and the package.
# Other forms are refused. Exit codes: 0 on success; 1 on a refusal (unverified: Windows returns the
# error code, which a Linux exit status cannot hold); 3010 is not modelled.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
. (Join-Path $PSScriptRoot 'inf.ps1')
Mount-DoubleDrive
$state = Read-DoubleState
$pnp = Get-DoubleValue $state 'pnputil' ([pscustomobject]@{})

function Usage { 'Microsoft PnP Utility'; ''; 'Invalid or unrecognized command line parameters.'; exit 1 }

if ($args.Count -eq 3 -and $args[0] -eq '/add-driver' -and $args[2] -eq '/install') {
    $inf = [string]$args[1]
    $name = ($inf -split '[\\/]')[-1]
    'Microsoft PnP Utility'
    ''
    $refuse = Get-DoubleValue $pnp 'refuseAdd' $null
    if ($refuse) {
        $lines = @(Get-DoubleSampleLines $refuse | Where-Object { $_ -notmatch '^Microsoft PnP Utility' })
        while ($lines.Count -and $lines[0].Trim() -eq '') { $lines = $lines[1..($lines.Count - 1)] }
        foreach ($l in $lines) { $l -replace '(Adding driver package:\s+)\S+', "`${1}$name" }
        exit 1
    }
    if (-not (Test-Path -LiteralPath $inf -PathType Leaf)) { "Adding driver package:  $name"; 'Failed to add driver package: The system cannot find the file specified.'; exit 1 }
    $store = @(Get-DoubleValue $state 'driverStore' @())
    $published = "oem$([int](Get-DoubleValue $pnp 'nextOem' 5)).inf"
    Set-DoubleValue $pnp 'nextOem' ([int](Get-DoubleValue $pnp 'nextOem' 5) + 1)
    $service = Install-DoubleInf $state $inf
    $store += [pscustomobject]@{ published = $published; originalFileName = "C:\Windows\System32\DriverStore\FileRepository\$name"; service = $service; className = 'ActivityMonitor'; provider = ''; version = '' }
    Set-DoubleValue $state 'driverStore' $store
    Set-DoubleValue $state 'pnputil' $pnp
    Save-DoubleState $state
    "Adding driver package:  $name"
    'Driver package added successfully.'
    "Published Name:         $published"
    ''
    'Total driver packages:  1'
    'Added driver packages:  1'
    exit 0
}
if ($args.Count -eq 3 -and $args[0] -eq '/delete-driver' -and $args[2] -eq '/uninstall') {
    $published = [string]$args[1]
    'Microsoft PnP Utility'
    ''
    $store = @(Get-DoubleValue $state 'driverStore' @())
    $pkg = $store | Where-Object { $_.published -ieq $published } | Select-Object -First 1
    if (-not $pkg) { 'Failed to delete driver package: The system cannot find the file specified.'; exit 1 }
    $svc = "HKLM:\SYSTEM\CurrentControlSet\Services\$($pkg.service)"
    $image = Find-DoubleRegistryKey $state $svc
    if ($image) {
        $sys = Split-Path -Leaf ([string]$image.Value.ImagePath.value)
        Remove-Item -LiteralPath (Join-Path 'C:\Windows\System32\drivers' $sys) -Force -ErrorAction SilentlyContinue
    }
    Remove-DoubleRegistryKey $state $svc
    Set-DoubleValue $state 'driverStore' @($store | Where-Object { $_.published -ine $published })
    Save-DoubleState $state
    'Driver package uninstalled.'
    'Driver package deleted successfully.'
    exit 0
}
Usage
