# TEST DOUBLE helper: what Windows's setup would do with a primitive driver INF's DefaultInstall
# section, for pnputil.ps1 and rundll32.ps1: read the INF (sections, keys, %strings%), copy the files
# of CopyFiles to System32\drivers (DestinationDirs 12), create the service key of AddService with its
# AddReg values. Enough for the INFs fleetgate installs; not a setup engine.

function Read-DoubleInf([string]$InfPath) {
    $sections = [ordered]@{}
    $current = $null
    foreach ($raw in Get-Content -LiteralPath $InfPath) {
        $line = $raw
        $inQuote = $false
        for ($i = 0; $i -lt $line.Length; $i++) {
            if ($line[$i] -eq '"') { $inQuote = -not $inQuote }
            elseif ($line[$i] -eq ';' -and -not $inQuote) { $line = $line.Substring(0, $i); break }
        }
        $line = $line.Trim()
        if ($line -eq '') { continue }
        if ($line -match '^\[(.+)\]$') { $current = $Matches[1].Trim(); $sections[$current] = [System.Collections.Generic.List[string]]::new(); continue }
        if ($null -ne $current) { $sections[$current].Add($line) }
    }
    $strings = @{}
    foreach ($l in @($sections['Strings'])) { if ($l -match '^([^=]+?)\s*=\s*(.*)$') { $strings[$Matches[1].Trim()] = $Matches[2].Trim().Trim('"') } }
    return [pscustomobject]@{ sections = $sections; strings = $strings }
}

function Expand-DoubleInfText($Inf, [string]$Text) {
    return [regex]::Replace($Text, '%([^%]+)%', { param($m) $k = $m.Groups[1].Value; if ($k -eq '12') { 'C:\Windows\System32\drivers' } elseif ($Inf.strings.ContainsKey($k)) { $Inf.strings[$k] } else { $m.Value } })
}

function Get-DoubleInfValue($Inf, [string]$Section, [string]$Key) {
    foreach ($l in @($Inf.sections[$Section])) { if ($l -match "^$([regex]::Escape($Key))\s*=\s*(.*)$") { return (Expand-DoubleInfText $Inf $Matches[1].Trim()) } }
    return $null
}

# Comma-separated fields, quotes removed ("Parameters\Instances\"fgfilter Instance is one field).
function Split-DoubleInfFields([string]$Text) {
    $fields = @(); $cur = ''; $q = $false
    foreach ($c in $Text.ToCharArray()) {
        if ($c -eq '"') { $q = -not $q; continue }
        if ($c -eq ',' -and -not $q) { $fields += $cur.Trim(); $cur = ''; continue }
        $cur += $c
    }
    $fields += $cur.Trim()
    return , $fields
}

# Installs DefaultInstall.NTamd64 of the INF into the double's state; returns the service name.
function Install-DoubleInf($State, [string]$InfPath, [string]$Section = 'DefaultInstall.NTamd64') {
    $inf = Read-DoubleInf $InfPath
    if (-not $inf.sections.Contains($Section)) { throw "the INF has no [$Section] section" }
    $dir = Split-Path -Parent $InfPath
    foreach ($copy in @((Get-DoubleInfValue $inf $Section 'CopyFiles') -split ',')) {
        foreach ($f in @($inf.sections[$copy.Trim()])) {
            $name = Expand-DoubleInfText $inf $f
            Copy-Item -LiteralPath (Join-Path $dir $name) -Destination (Join-Path 'C:\Windows\System32\drivers' $name) -Force
        }
    }
    $add = Split-DoubleInfFields (Get-DoubleInfValue $inf "$Section.Services" 'AddService')
    $service = $add[0]
    $svcSection = $add[2]
    $key = "HKLM:\SYSTEM\CurrentControlSet\Services\$service"
    $binary = Get-DoubleInfValue $inf $svcSection 'ServiceBinary'
    Set-DoubleRegistryValue $State $key 'ImagePath' 'REG_EXPAND_SZ' ('\SystemRoot\System32\drivers\' + (Split-Path -Leaf $binary))
    Set-DoubleRegistryValue $State $key 'Type' 'REG_DWORD' ([int](Get-DoubleInfValue $inf $svcSection 'ServiceType'))
    Set-DoubleRegistryValue $State $key 'Start' 'REG_DWORD' ([int](Get-DoubleInfValue $inf $svcSection 'StartType'))
    Set-DoubleRegistryValue $State $key 'Group' 'REG_SZ' ((Get-DoubleInfValue $inf $svcSection 'LoadOrderGroup').Trim('"'))
    foreach ($reg in @((Get-DoubleInfValue $inf $svcSection 'AddReg') -split ',')) {
        foreach ($l in @($inf.sections[$reg.Trim()])) {
            $f = Split-DoubleInfFields (Expand-DoubleInfText $inf $l)
            if ($f[0] -ne 'HKR') { continue }
            $type = if (([Convert]::ToInt32($f[3], 16) -band 0x10001) -eq 0x10001) { 'REG_DWORD' } else { 'REG_SZ' }
            $value = if ($type -eq 'REG_DWORD') { [Convert]::ToInt32(($f[4] -replace '^0x', ''), $(if ($f[4] -match '^0x') { 16 } else { 10 })) } else { $f[4] }
            Set-DoubleRegistryValue $State "$key\$($f[1])" $f[2] $type $value
        }
    }
    return $service
}
