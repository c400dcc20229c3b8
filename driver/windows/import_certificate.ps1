# import_certificate.ps1: trusts the certificate a test-signed package was signed with, before the
# package installs: into LocalMachine\Root (its chain is trusted) and LocalMachine\TrustedPublisher (its
# publisher is trusted, so nothing asks a user whether to install it), the stores Microsoft's
# test-signing steps name. Importing a certificate that is there already changes nothing.
# Input: { path } (the .cer staged with the package). Output: thumbprint, subject and the stores.
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$path = [string]$FleetgateInput.path
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { throw "import_certificate: no certificate at $path" }
$thumbprint = $null
$subject = $null
$stores = @()
foreach ($store in @('Root', 'TrustedPublisher')) {
    $cert = Import-Certificate -FilePath $path -CertStoreLocation "Cert:\LocalMachine\$store"
    $thumbprint = [string]$cert.Thumbprint
    $subject = [string]$cert.Subject
    $stores += $store
}
Write-FleetgateResult ([ordered]@{ thumbprint = $thumbprint; subject = $subject; stores = $stores })
