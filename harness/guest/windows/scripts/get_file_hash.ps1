# get_file_hash: SHA-256 of one guest file, for the upload/download checks (GuestChannel).
# Input: { "path": "C:\\..." } (a Windows path; encode.ts passes it as JSON, never in the command).
# -LiteralPath: a name with [ or ] is a file name, not a wildcard pattern.
$ErrorActionPreference = 'Stop'
$path = [string](Get-FleetgateInputValue -Name 'path')
$item = Get-Item -LiteralPath $path -Force
if ($item.PSIsContainer) { throw "fleetgate get_file_hash: '$path' is a directory" }
$hash = Get-FileHash -LiteralPath $path -Algorithm SHA256
Write-FleetgateResult ([ordered]@{
    path = $item.FullName
    sha256 = $hash.Hash.ToLowerInvariant()
    sizeBytes = $item.Length
})
