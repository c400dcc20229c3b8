# copy_from_vm: a guest file to the host over PowerShell Direct (Copy-Item -FromSession, windows.md
# section 5), with the guest's SHA-256 of it taken first, for the caller to compare with the copy.
# Input: { name, user, password, guestPath, hostPath }.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$secure = ConvertTo-SecureString -String ([string](Get-FleetgateInputValue -Name 'password')) -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential ([string](Get-FleetgateInputValue -Name 'user')), $secure
$hostPath = Get-FleetgateInputValue -Name 'hostPath'
$guestPath = Get-FleetgateInputValue -Name 'guestPath'
$session = New-PSSession -VMName $name -Credential $cred
try {
    $hash = Invoke-Command -Session $session -ArgumentList $guestPath -ScriptBlock {
        param($Path)
        [pscustomobject]@{ sha256 = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant(); bytes = (Get-Item -LiteralPath $Path).Length }
    }
    $dir = Split-Path -Parent $hostPath
    if ($dir -ne '' -and -not (Test-Path -LiteralPath $dir)) { $null = New-Item -ItemType Directory -Path $dir -Force }
    Copy-Item -LiteralPath $guestPath -Destination $hostPath -FromSession $session -Force
} finally {
    Remove-PSSession -Session $session
}
$local = (Get-FileHash -LiteralPath $hostPath -Algorithm SHA256).Hash.ToLowerInvariant()
Write-FleetgateResult ([ordered]@{ hostPath = $hostPath; guestSha256 = [string]$hash.sha256; hostSha256 = $local; bytes = [int64]$hash.bytes })
