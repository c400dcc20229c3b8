# copy_to_vm: a host file into the VM over PowerShell Direct (New-PSSession -VMName + Copy-Item
# -ToSession, windows.md section 5), then the guest's SHA-256 of what was written.
# Input: { name, user, password, hostPath, guestPath }.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$secure = ConvertTo-SecureString -String ([string](Get-FleetgateInputValue -Name 'password')) -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential ([string](Get-FleetgateInputValue -Name 'user')), $secure
$hostPath = Get-FleetgateInputValue -Name 'hostPath'
$guestPath = Get-FleetgateInputValue -Name 'guestPath'
$session = New-PSSession -VMName $name -Credential $cred
try {
    Invoke-Command -Session $session -ArgumentList $guestPath -ScriptBlock {
        param($Path)
        $dir = Split-Path -Parent $Path
        if ($dir -ne '' -and -not (Test-Path -LiteralPath $dir)) { $null = New-Item -ItemType Directory -Path $dir -Force }
    }
    Copy-Item -LiteralPath $hostPath -Destination $guestPath -ToSession $session -Force
    $hash = Invoke-Command -Session $session -ArgumentList $guestPath -ScriptBlock {
        param($Path)
        [pscustomobject]@{ sha256 = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant(); bytes = (Get-Item -LiteralPath $Path).Length }
    }
} finally {
    Remove-PSSession -Session $session
}
Write-FleetgateResult ([ordered]@{ guestPath = $guestPath; sha256 = [string]$hash.sha256; bytes = [int64]$hash.bytes })
