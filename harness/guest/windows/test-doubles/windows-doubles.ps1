# TEST DOUBLES of the Windows-only cmdlets fleetgate's guest scripts call, as PowerShell functions
# (a function shadows a cmdlet of the same name). They read the guest's state from
# $env:FLEETGATE_WINDOWS_DOUBLE/state.json, written by the test (harness/guest/windows/test-doubles/
# guest-double.ts), so a test says what the "Windows" is: its registry values, Secure Boot, Device
# Guard, last boot time. Each takes the parameters of the real cmdlet that fleetgate uses and refuses
# others (parameter binding fails on a name the function does not declare), so a typo in a script
# fails here as it would on Windows. Anything not Windows-only is the real pwsh cmdlet.
# Each double reads the state when called: a program the same script ran may have changed it.
. (Join-Path $PSScriptRoot 'double-state.ps1')
Mount-DoubleDrive
$FleetgateDoubleState = Read-DoubleState

# The environment a Windows guest's sessions have.
foreach ($p in $FleetgateDoubleState.env.PSObject.Properties) { Set-Item -LiteralPath "env:$($p.Name)" -Value ([string]$p.Value) }

function Expand-DoubleEnvironment([string]$Text) {
    return [regex]::Replace($Text, '%([^%]+)%', { param($m) $v = [Environment]::GetEnvironmentVariable($m.Groups[1].Value); if ($null -eq $v) { $m.Value } else { $v } })
}

# A registry key as Get-Item returns it for HKLM:\...: an object whose GetValue(name, default[,
# options]) returns the value, REG_EXPAND_SZ expanded unless DoNotExpandEnvironmentNames is asked for.
function New-DoubleRegistryKey([string]$Path, $Values) {
    $key = [pscustomobject]@{ PSPath = "Microsoft.PowerShell.Core\Registry::$Path"; Name = $Path }
    $key | Add-Member -NotePropertyName DoubleValues -NotePropertyValue $Values
    $key | Add-Member -MemberType ScriptMethod -Name GetValue -Value {
        param([string]$Name, $DefaultValue, $Options)
        $v = $this.DoubleValues.PSObject.Properties[$Name]
        if ($null -eq $v) { return $DefaultValue }
        $entry = $v.Value
        if ($entry.type -eq 'REG_EXPAND_SZ' -and "$Options" -ne 'DoNotExpandEnvironmentNames') { return (Expand-DoubleEnvironment ([string]$entry.value)) }
        if ($entry.type -eq 'REG_DWORD' -or $entry.type -eq 'REG_QWORD') { return [int64]$entry.value }
        return $entry.value
    }
    return $key
}

function Get-Item {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][string[]]$LiteralPath,
        [switch]$Force
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    foreach ($t in $target) {
        if ($t -match '^HK(LM|CU):\\') {
            $values = Find-DoubleRegistryKey (Read-DoubleState) $t
            if ($null -eq $values) {
                $err = [System.Management.Automation.ErrorRecord]::new(
                    [System.Management.Automation.ItemNotFoundException]::new("Cannot find path '$t' because it does not exist."),
                    'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand', 'ObjectNotFound', $t)
                $PSCmdlet.WriteError($err)
                continue
            }
            New-DoubleRegistryKey $t $values.Value
        } else {
            Microsoft.PowerShell.Management\Get-Item @PSBoundParameters
        }
    }
}

# Confirm-SecureBootUEFI: double-state.ps1's (shared with the provisioning doubles).

function Get-CimInstance {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$ClassName,
        [string]$Namespace = 'root\cimv2',
        [string]$Filter
    )
    $key = "$Namespace`:$ClassName"
    $instance = (Read-DoubleState).cim.PSObject.Properties[$key]
    if ($null -eq $instance) {
        throw [Microsoft.Management.Infrastructure.CimException]::new("Invalid class")
    }
    $o = $instance.Value.PSObject.Copy()
    # CIM DateTime properties arrive as DateTime objects: the state holds them as ISO 8601 text.
    foreach ($p in @($o.PSObject.Properties)) {
        if ($p.Value -is [string] -and $p.Value -match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$') {
            $p.Value = [DateTime]::Parse($p.Value, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::AdjustToUniversal)
        }
    }
    return $o
}

function New-DoubleNotFound([string]$Path, [string]$Cmdlet) {
    return [System.Management.Automation.ErrorRecord]::new(
        [System.Management.Automation.ItemNotFoundException]::new("Cannot find path '$Path' because it does not exist."),
        "PathNotFound,Microsoft.PowerShell.Commands.$Cmdlet", 'ObjectNotFound', $Path)
}

# Get-ItemProperty HKLM:\...: the key's values as properties (REG_EXPAND_SZ expanded, DWORDs as numbers).
function Get-ItemProperty {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][string[]]$LiteralPath,
        [Parameter(Position = 1)][string[]]$Name
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    foreach ($t in $target) {
        if ($t -notmatch '^HK(LM|CU):\\') { Microsoft.PowerShell.Management\Get-ItemProperty @PSBoundParameters; continue }
        $key = Find-DoubleRegistryKey (Read-DoubleState) $t
        if ($null -eq $key) { $PSCmdlet.WriteError((New-DoubleNotFound $t 'GetItemPropertyCommand')); continue }
        $o = [ordered]@{}
        foreach ($v in $key.Value.PSObject.Properties) {
            if ($Name -and $Name -notcontains $v.Name) { continue }
            $o[$v.Name] = switch ($v.Value.type) { 'REG_EXPAND_SZ' { Expand-DoubleEnvironment ([string]$v.Value.value) } { $_ -in 'REG_DWORD', 'REG_QWORD' } { [int64]$v.Value.value } default { $v.Value.value } }
        }
        $o['PSPath'] = "Microsoft.PowerShell.Core\Registry::$t"
        [pscustomobject]$o
    }
}

# Test-Path HKLM:\...: whether the key (or a key under it) exists; anything else is the real Test-Path.
function Test-Path {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][string[]]$LiteralPath,
        [Microsoft.PowerShell.Commands.TestPathType]$PathType = 'Any',
        [switch]$IsValid
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    if (@($target | Where-Object { $_ -match '^HK(LM|CU):\\' }).Count -eq 0) { return Microsoft.PowerShell.Management\Test-Path @PSBoundParameters }
    $state = Read-DoubleState
    foreach ($t in $target) {
        $found = $false
        foreach ($p in $state.registry.PSObject.Properties) { if ($p.Name -ieq $t -or $p.Name.StartsWith("$t\", [StringComparison]::OrdinalIgnoreCase)) { $found = $true; break } }
        $found -and $PathType -ne 'Leaf'
    }
}

# New-ItemProperty HKLM:\... -Name -Value -PropertyType [-Force]: writes the value into the state.
function New-ItemProperty {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0, Mandatory = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][string[]]$LiteralPath,
        [Parameter(Mandatory = $true)][string]$Name,
        $Value,
        [ValidateSet('String', 'ExpandString', 'Binary', 'DWord', 'MultiString', 'QWord', 'Unknown')][string]$PropertyType = 'String',
        [switch]$Force
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    $types = @{ String = 'REG_SZ'; ExpandString = 'REG_EXPAND_SZ'; DWord = 'REG_DWORD'; QWord = 'REG_QWORD'; MultiString = 'REG_MULTI_SZ' }
    foreach ($t in $target) {
        if ($t -notmatch '^HK(LM|CU):\\') { throw "guest double: New-ItemProperty is only doubled for the registry, not $t" }
        $state = Read-DoubleState
        if ($null -eq (Find-DoubleRegistryKey $state $t)) { $PSCmdlet.WriteError((New-DoubleNotFound $t 'NewItemPropertyCommand')); continue }
        $existing = (Find-DoubleRegistryKey $state $t).Value.PSObject.Properties[$Name]
        if ($null -ne $existing -and -not $Force) { throw "The property already exists." }
        Set-DoubleRegistryValue $state $t $Name $types[$PropertyType] $Value
        Save-DoubleState $state
        [pscustomobject]@{ $Name = $Value; PSPath = "Microsoft.PowerShell.Core\Registry::$t" }
    }
}

# Get-WindowsDriver -Online [-All]: the driver store's packages (pnputil /add-driver puts ours there).
function Get-WindowsDriver {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][switch]$Online, [switch]$All)
    foreach ($d in @(Get-DoubleValue (Read-DoubleState) 'driverStore' @())) {
        [pscustomobject]@{ Driver = $d.published; OriginalFileName = $d.originalFileName; Inbox = $false; ClassName = $d.className; ProviderName = $d.provider; Version = $d.version }
    }
}

# New-Item HKLM:\... [-Force]: makes the registry key; anything else is the real New-Item.
function New-Item {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][string[]]$Path,
        [string]$Name,
        [string]$ItemType,
        $Value,
        [switch]$Force
    )
    if (@($Path | Where-Object { $_ -match '^HK(LM|CU):\\' }).Count -eq 0) { return Microsoft.PowerShell.Management\New-Item @PSBoundParameters }
    $state = Read-DoubleState
    foreach ($p in $Path) {
        if ($null -eq (Find-DoubleRegistryKey $state $p)) { Set-DoubleValue $state.registry $p ([pscustomobject]@{}) }
        elseif (-not $Force) { throw "A key at this path already exists." }
        [pscustomobject]@{ Name = $p; PSPath = "Microsoft.PowerShell.Core\Registry::$p" }
    }
    Save-DoubleState $state
}

# Import-Certificate (the PKI module's): -FilePath and -CertStoreLocation as the real one takes them
# (with -Exportable, -WhatIf, -Confirm), into a LocalMachine or CurrentUser store of the state
# (certificates: store path -> [{ thumbprint, subject }]); the certificate is read for real (.NET's
# X509Certificate2), so a file that is no certificate fails as it would. Returns what the real one
# returns the scripts use: Thumbprint and Subject.
function Import-Certificate {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$FilePath,
        [string]$CertStoreLocation = 'Cert:\CurrentUser\My',
        [switch]$Exportable
    )
    if ($CertStoreLocation -notmatch '^Cert:\\(LocalMachine|CurrentUser)\\(Root|TrustedPublisher|My|CA|TrustedPeople|Disallowed)$') {
        throw [System.Management.Automation.ItemNotFoundException]::new("Cannot find path '$CertStoreLocation' because it does not exist.")
    }
    $file = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($FilePath)
    $cert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($file)
    $state = Read-DoubleState
    $certs = Get-DoubleValue $state 'certificates' ([pscustomobject]@{})
    $list = @(Get-DoubleValue $certs $CertStoreLocation @())
    if (-not @($list | Where-Object { $_.thumbprint -eq $cert.Thumbprint }).Count) { $list += [pscustomobject]@{ thumbprint = $cert.Thumbprint; subject = $cert.Subject } }
    Set-DoubleValue $certs $CertStoreLocation @($list)
    Set-DoubleValue $state 'certificates' $certs
    Save-DoubleState $state
    return [pscustomobject]@{ Thumbprint = $cert.Thumbprint; Subject = $cert.Subject; PSParentPath = "Microsoft.PowerShell.Security\Certificate::$($CertStoreLocation.Substring(6))" }
}

# Get-WinEvent -FilterHashtable @{ LogName; ProviderName; StartTime } over the double's event logs
# (events/<LogName>.jsonl, one record per line: what the filter model logs when it denies a start).
# Nothing matching is the real cmdlet's error: "No events were found that match the specified
# selection criteria.", FullyQualifiedErrorId NoMatchingEventsFound,...GetWinEventCommand.
function Get-WinEvent {
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][hashtable[]]$FilterHashtable, [int64]$MaxEvents = 0)
    $found = foreach ($f in $FilterHashtable) {
        foreach ($k in $f.Keys) { if (@('LogName', 'ProviderName', 'Id', 'Level', 'StartTime', 'EndTime') -notcontains $k) { throw [System.ArgumentException]::new("The '$k' key is not valid in a hash table filter (guest double: only the keys fleetgate uses).") } }
        $file = Join-Path (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'events') "$($f.LogName).jsonl"
        if (-not (Test-Path -LiteralPath $file)) { continue }
        foreach ($line in Get-Content -LiteralPath $file) {
            $e = $line | ConvertFrom-Json
            $time = [DateTime]::Parse([string]$e.time, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::AdjustToUniversal)
            if ($f.ContainsKey('ProviderName') -and @($f.ProviderName) -notcontains [string]$e.provider) { continue }
            if ($f.ContainsKey('Id') -and @($f.Id) -notcontains [int]$e.id) { continue }
            if ($f.ContainsKey('StartTime') -and $time -lt ([DateTime]$f.StartTime).ToUniversalTime()) { continue }
            [pscustomobject]@{ TimeCreated = $time.ToLocalTime(); ProviderName = [string]$e.provider; Id = [int]$e.id; LevelDisplayName = [string]$e.level; LogName = [string]$f.LogName; Message = [string]$e.message }
        }
    }
    $found = @($found | Sort-Object -Property TimeCreated -Descending)
    if ($found.Count -eq 0) {
        $err = [System.Management.Automation.ErrorRecord]::new([System.Exception]::new('No events were found that match the specified selection criteria.'), 'NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand', 'ObjectNotFound', $null)
        $PSCmdlet.ThrowTerminatingError($err)
    }
    if ($MaxEvents -gt 0) { $found = @($found | Select-Object -First $MaxEvents) }
    $found
}
