# TEST DOUBLES of the Windows-only cmdlets fleetgate's guest scripts call, as PowerShell functions
# (a function shadows a cmdlet of the same name). They read the guest's state from
# $env:FLEETGATE_WINDOWS_DOUBLE/state.json, written by the test (harness/guest/windows/test-doubles/
# guest-double.ts), so a test says what the "Windows" is: its registry values, Secure Boot, Device
# Guard, last boot time. Each takes the parameters of the real cmdlet that fleetgate uses and refuses
# others (parameter binding fails on a name the function does not declare), so a typo in a script
# fails here as it would on Windows. Anything not Windows-only is the real pwsh cmdlet.
$FleetgateDoubleState = Get-Content -LiteralPath (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'state.json') -Raw | ConvertFrom-Json

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
            $values = $FleetgateDoubleState.registry.PSObject.Properties[$t]
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

function Confirm-SecureBootUEFI {
    [CmdletBinding()]
    param()
    $s = $FleetgateDoubleState.secureBoot
    if ($s -eq 'not-uefi') { throw [System.PlatformNotSupportedException]::new('Cmdlet not supported on this platform: 0xC0000002') }
    if ($s -eq 'access-denied') { throw [System.UnauthorizedAccessException]::new('Access was denied. To run this cmdlet, start Windows PowerShell with the "Run as administrator" option.') }
    return [bool]$s
}

function Get-CimInstance {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$ClassName,
        [string]$Namespace = 'root\cimv2',
        [string]$Filter
    )
    $key = "$Namespace`:$ClassName"
    $instance = $FleetgateDoubleState.cim.PSObject.Properties[$key]
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
