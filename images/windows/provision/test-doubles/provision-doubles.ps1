# TEST DOUBLES of the Windows-only cmdlets (and the Windows-only .NET behaviour) that the image
# provisioning scripts (images/windows/provision/*.ps1) use, as PowerShell functions: a function
# shadows a cmdlet of the same name. run-provision.ps1 dot-sources this file, then runs one real
# script. The "Windows" is $env:FLEETGATE_WINDOWS_DOUBLE/state.json (the state format of
# harness/guest/windows/test-doubles/double-state.ps1, whose helpers are reused, plus what image
# building needs: capabilities, services, firewall rules, the machine environment, updates, ACLs,
# bcdedit settings). Each double reads the state when called and writes it back, so what one script
# (or a program it runs) leaves is what the next one finds.
#
# Each double declares parameters the real cmdlet has (Windows PowerShell 5.1's, which runs the
# scripts in the guest; a subset where the scripts need less), so an unknown parameter fails in
# PowerShell's binder exactly as on Windows. Paths that are not the registry go to the real cmdlet.
# Error texts the scripts never parse follow Windows's wording where it is known; those marked
# (unverified) were written from memory of Windows, not from a recorded sample.
. (Join-Path $PSScriptRoot '../../../../harness/guest/windows/test-doubles/double-state.ps1')

function New-DoubleError([string]$Message, [string]$Id, [System.Management.Automation.ErrorCategory]$Category, $Target, [string]$ExceptionType = 'System.InvalidOperationException') {
    $ex = New-Object $ExceptionType $Message
    return New-Object System.Management.Automation.ErrorRecord $ex, $Id, $Category, $Target
}

function Test-DoubleRegistryPath([string]$Path) { return $Path -match '^HK(LM|CU):\\' }

# Keys are stored by their PowerShell path without a trailing backslash (HKLM:\SOFTWARE\OpenSSH).
function Get-DoubleRegistryKeyName([string]$Path) { return $Path.TrimEnd('\') }

function Test-DoubleRegistryKey($State, [string]$Path) {
    $k = Get-DoubleRegistryKeyName $Path
    foreach ($p in $State.registry.PSObject.Properties) {
        if ($p.Name -ieq $k -or $p.Name.StartsWith("$k\", [StringComparison]::OrdinalIgnoreCase)) { return $true }
    }
    return $false
}

function ConvertTo-DoubleNativeRegistryPath([string]$Path) {
    return ($Path -replace '^HKLM:\\', 'HKEY_LOCAL_MACHINE\' -replace '^HKCU:\\', 'HKEY_CURRENT_USER\').TrimEnd('\')
}

function Expand-DoubleEnvironment([string]$Text) {
    return [regex]::Replace($Text, '%([^%]+)%', { param($m) $v = [System.Environment]::GetEnvironmentVariable($m.Groups[1].Value); if ($null -eq $v) { $m.Value } else { $v } })
}

# A value as Get-ItemProperty returns it: REG_EXPAND_SZ expanded, REG_DWORD an Int32, REG_QWORD an Int64.
function ConvertFrom-DoubleRegistryValue($Entry) {
    switch ($Entry.type) {
        'REG_EXPAND_SZ' { return (Expand-DoubleEnvironment ([string]$Entry.value)) }
        'REG_DWORD' { return [int]$Entry.value }
        'REG_QWORD' { return [int64]$Entry.value }
        'REG_MULTI_SZ' { return [string[]]@($Entry.value) }
        default { return $Entry.value }
    }
}

# (A function, not a script-scope variable: called from a provisioning script, $script: is that script's.)
function Get-DoubleKindName([string]$Kind) {
    $names = @{ String = 'REG_SZ'; ExpandString = 'REG_EXPAND_SZ'; Binary = 'REG_BINARY'; DWord = 'REG_DWORD'; MultiString = 'REG_MULTI_SZ'; QWord = 'REG_QWORD' }
    $n = $names[$Kind]
    if (-not $n) { throw "provision double: registry kind $Kind is not modelled" }
    return $n
}

function ConvertTo-DoubleRegistryValue([string]$Type, $Value) {
    switch ($Type) {
        'REG_DWORD' { return [int]$Value }
        'REG_QWORD' { return [int64]$Value }
        'REG_MULTI_SZ' { return [string[]]@($Value) }
        'REG_BINARY' { return [byte[]]@($Value) }
        default { return [string]$Value }
    }
}

# --- Windows paths ------------------------------------------------------------------------------------
# Join-Path with a drive path (C:\...) joins as Windows's file system provider does, with backslashes
# (off Windows pwsh writes C:/Windows/System32/cmd.exe, and that string would reach the registry, the
# machine Path, icacls's arguments). Other paths, and -Resolve, are the real Join-Path. Parameters:
# Windows PowerShell 5.1's (no -AdditionalChildPath).
function Join-Path {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, Mandatory = $true, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)][Alias('PSPath')][string[]]$Path,
        [Parameter(Position = 1, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][AllowNull()][AllowEmptyString()][string]$ChildPath,
        [switch]$Resolve,
        [Parameter(ValueFromPipelineByPropertyName = $true)][pscredential]$Credential
    )
    process {
        foreach ($p in $Path) {
            if ($Resolve -or $p -notmatch '^[A-Za-z]:') { Microsoft.PowerShell.Management\Join-Path -Path $p -ChildPath $ChildPath -Resolve:$Resolve; continue }
            $parent = $p -replace '/', '\'
            $child = ([string]$ChildPath -replace '/', '\').TrimStart('\')
            if ($parent.EndsWith('\')) { "$parent$child" } elseif ($child -eq '') { "$parent\" } else { "$parent\$child" }
        }
    }
}

# --- Registry (HKLM:\ and HKCU:\ paths; anything else is the real cmdlet) ---------------------------

function Test-Path {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0, Mandatory = $true, ValueFromPipeline = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][Alias('PSPath', 'LP')][string[]]$LiteralPath,
        [string]$Filter,
        [string[]]$Include,
        [string[]]$Exclude,
        [Alias('Type')][Microsoft.PowerShell.Commands.TestPathType]$PathType = 'Any',
        [switch]$IsValid
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    if (@($target | Where-Object { Test-DoubleRegistryPath $_ }).Count -eq 0) { return Microsoft.PowerShell.Management\Test-Path @PSBoundParameters }
    $state = Read-DoubleState
    foreach ($t in $target) { (Test-DoubleRegistryKey $state $t) -and $PathType -ne 'Leaf' }
}

# New-Item HKLM:\... : the key and its missing parents. With -Force on a key that exists, the
# registry provider deletes and re-creates it (its values and subkeys are gone): the reason the
# scripts test for the key first. (unverified here: the provider's documented -Force behaviour, not a recording.)
function New-Item {
    [CmdletBinding(DefaultParameterSetName = 'pathSet', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'pathSet', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Parameter(ParameterSetName = 'nameSet', Position = 0, ValueFromPipelineByPropertyName = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'nameSet', Mandatory = $true, ValueFromPipelineByPropertyName = $true)][AllowNull()][AllowEmptyString()][string]$Name,
        [Alias('Type')][string]$ItemType,
        [Parameter(ValueFromPipeline = $true)][Alias('Target')]$Value,
        [switch]$Force
    )
    $targets = @($Path | ForEach-Object { if ($Name) { "$($_.TrimEnd('\'))\$Name" } else { $_ } })
    if (@($targets | Where-Object { Test-DoubleRegistryPath $_ }).Count -eq 0) { return Microsoft.PowerShell.Management\New-Item @PSBoundParameters }
    $state = Read-DoubleState
    foreach ($t in $targets) {
        $k = Get-DoubleRegistryKeyName $t
        if (Test-DoubleRegistryKey $state $k) {
            if (-not $Force) { $PSCmdlet.WriteError((New-DoubleError 'A key at this path already exists.' 'System.IO.IOException,Microsoft.PowerShell.Commands.NewItemCommand' ResourceExists $t 'System.IO.IOException')); continue }
            Remove-DoubleRegistryKey $state $k
        }
        Set-DoubleValue $state.registry $k ([pscustomobject]@{})
        [pscustomobject]@{ Name = (ConvertTo-DoubleNativeRegistryPath $k); PSPath = "Microsoft.PowerShell.Core\Registry::$(ConvertTo-DoubleNativeRegistryPath $k)"; SubKeyCount = 0; ValueCount = 0 }
    }
    Save-DoubleState $state
}

function Get-ItemProperty {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true)][Alias('PSPath', 'LP')][string[]]$LiteralPath,
        [Parameter(Position = 1)][Alias('PSProperty')][string[]]$Name,
        [string]$Filter,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    $state = $null
    foreach ($t in $target) {
        if (-not (Test-DoubleRegistryPath $t)) { Microsoft.PowerShell.Management\Get-ItemProperty @PSBoundParameters; return }
        if ($null -eq $state) { $state = Read-DoubleState }
        if (-not (Test-DoubleRegistryKey $state $t)) { $PSCmdlet.WriteError((New-DoubleError "Cannot find path '$t' because it does not exist." 'PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand' ObjectNotFound $t 'System.Management.Automation.ItemNotFoundException')); continue }
        $key = Find-DoubleRegistryKey $state (Get-DoubleRegistryKeyName $t)
        $o = [ordered]@{}
        if ($null -ne $key) {
            foreach ($v in $key.Value.PSObject.Properties) {
                if ($Name -and -not ($Name | Where-Object { $v.Name -like $_ })) { continue }
                $o[$v.Name] = ConvertFrom-DoubleRegistryValue $v.Value
            }
        }
        if ($Name -and $o.Count -eq 0) {
            $PSCmdlet.WriteError((New-DoubleError "Property $($Name -join ', ') does not exist at path $(ConvertTo-DoubleNativeRegistryPath $t)." 'System.Management.Automation.PSArgumentException,Microsoft.PowerShell.Commands.GetItemPropertyCommand' InvalidArgument $t 'System.Management.Automation.PSArgumentException'))
            continue
        }
        $native = ConvertTo-DoubleNativeRegistryPath $t
        $o['PSPath'] = "Microsoft.PowerShell.Core\Registry::$native"
        $o['PSChildName'] = ($native -split '\\')[-1]
        [pscustomobject]$o
    }
}

# Set-ItemProperty HKLM:\... -Name -Value [-Type]: -Type is the registry provider's dynamic parameter
# (a file-system path refuses it, as Windows does). Without -Type an existing value keeps its kind and a
# new one takes the kind of the .NET value (Int32 DWORD, string[] MULTI_SZ, byte[] BINARY, else SZ)
# (unverified: read from the provider's behaviour, not recorded).
function Set-ItemProperty {
    [CmdletBinding(DefaultParameterSetName = 'propertyValuePathSet', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'propertyValuePathSet', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'propertyValueLiteralPathSet', Mandatory = $true, ValueFromPipelineByPropertyName = $true)][Alias('PSPath', 'LP')][string[]]$LiteralPath,
        [Parameter(Position = 1, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][Alias('PSProperty')][string]$Name,
        [Parameter(Position = 2, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][AllowNull()]$Value,
        [switch]$PassThru,
        [switch]$Force,
        [string]$Filter,
        [string[]]$Include,
        [string[]]$Exclude,
        [Microsoft.Win32.RegistryValueKind]$Type
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'propertyValueLiteralPathSet') { $LiteralPath } else { $Path }
    if (@($target | Where-Object { Test-DoubleRegistryPath $_ }).Count -eq 0) {
        if ($PSBoundParameters.ContainsKey('Type')) { throw (New-DoubleError "A parameter cannot be found that matches parameter name 'Type'." 'NamedParameterNotFound,Microsoft.PowerShell.Commands.SetItemPropertyCommand' InvalidArgument $null 'System.Management.Automation.ParameterBindingException') }
        return Microsoft.PowerShell.Management\Set-ItemProperty @PSBoundParameters
    }
    $state = Read-DoubleState
    foreach ($t in $target) {
        if (-not (Test-DoubleRegistryKey $state $t)) { $PSCmdlet.WriteError((New-DoubleError "Cannot find path '$t' because it does not exist." 'PathNotFound,Microsoft.PowerShell.Commands.SetItemPropertyCommand' ObjectNotFound $t 'System.Management.Automation.ItemNotFoundException')); continue }
        $k = Get-DoubleRegistryKeyName $t
        $existing = $null
        $key = Find-DoubleRegistryKey $state $k
        if ($null -ne $key) { $existing = $key.Value.PSObject.Properties[$Name] }
        $kind = if ($PSBoundParameters.ContainsKey('Type') -and $Type -ne 'Unknown') {
            Get-DoubleKindName "$Type"
        } elseif ($null -ne $existing) { $existing.Value.type }
        elseif ($Value -is [int]) { 'REG_DWORD' }
        elseif ($Value -is [string[]]) { 'REG_MULTI_SZ' }
        elseif ($Value -is [byte[]]) { 'REG_BINARY' }
        else { 'REG_SZ' }
        Set-DoubleRegistryValue $state $k $Name $kind (ConvertTo-DoubleRegistryValue $kind $Value)
        if ($PassThru) { [pscustomobject]@{ $Name = $Value; PSPath = "Microsoft.PowerShell.Core\Registry::$(ConvertTo-DoubleNativeRegistryPath $k)" } }
    }
    Save-DoubleState $state
}

# New-ItemProperty HKLM:\... -Name -Value -PropertyType [-Force]: -Force replaces a value that exists,
# whatever its kind; without it an existing value is an error.
function New-ItemProperty {
    [CmdletBinding(DefaultParameterSetName = 'Path', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true, ValueFromPipelineByPropertyName = $true)][Alias('PSPath', 'LP')][string[]]$LiteralPath,
        [Parameter(Mandatory = $true, Position = 1, ValueFromPipelineByPropertyName = $true)][Alias('PSProperty')][string]$Name,
        [Parameter(ValueFromPipelineByPropertyName = $true)][Alias('Type')][Microsoft.Win32.RegistryValueKind]$PropertyType = 'String',
        [Parameter(ValueFromPipelineByPropertyName = $true)]$Value,
        [switch]$Force,
        [string]$Filter,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    $state = Read-DoubleState
    foreach ($t in $target) {
        if (-not (Test-DoubleRegistryPath $t)) { throw "provision double: New-ItemProperty is only doubled for the registry, not $t" }
        if (-not (Test-DoubleRegistryKey $state $t)) { $PSCmdlet.WriteError((New-DoubleError "Cannot find path '$t' because it does not exist." 'PathNotFound,Microsoft.PowerShell.Commands.NewItemPropertyCommand' ObjectNotFound $t 'System.Management.Automation.ItemNotFoundException')); continue }
        $k = Get-DoubleRegistryKeyName $t
        $key = Find-DoubleRegistryKey $state $k
        if ($null -ne $key -and $null -ne $key.Value.PSObject.Properties[$Name] -and -not $Force) {
            $PSCmdlet.WriteError((New-DoubleError 'The property already exists.' 'System.IO.IOException,Microsoft.PowerShell.Commands.NewItemPropertyCommand' ResourceExists $t 'System.IO.IOException'))
            continue
        }
        $kind = Get-DoubleKindName "$PropertyType"
        Set-DoubleRegistryValue $state $k $Name $kind (ConvertTo-DoubleRegistryValue $kind $Value)
        [pscustomobject]@{ $Name = $Value; PSPath = "Microsoft.PowerShell.Core\Registry::$(ConvertTo-DoubleNativeRegistryPath $k)" }
    }
    Save-DoubleState $state
}

function Remove-ItemProperty {
    [CmdletBinding(DefaultParameterSetName = 'Path', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Path', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][string[]]$Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true, ValueFromPipelineByPropertyName = $true)][Alias('PSPath', 'LP')][string[]]$LiteralPath,
        [Parameter(Mandatory = $true, Position = 1, ValueFromPipelineByPropertyName = $true)][Alias('PSProperty')][string[]]$Name,
        [switch]$Force,
        [string]$Filter,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $target = if ($PSCmdlet.ParameterSetName -eq 'LiteralPath') { $LiteralPath } else { $Path }
    $state = Read-DoubleState
    foreach ($t in $target) {
        if (-not (Test-DoubleRegistryPath $t)) { throw "provision double: Remove-ItemProperty is only doubled for the registry, not $t" }
        if (-not (Test-DoubleRegistryKey $state $t)) { $PSCmdlet.WriteError((New-DoubleError "Cannot find path '$t' because it does not exist." 'PathNotFound,Microsoft.PowerShell.Commands.RemoveItemPropertyCommand' ObjectNotFound $t 'System.Management.Automation.ItemNotFoundException')); continue }
        $key = Find-DoubleRegistryKey $state (Get-DoubleRegistryKeyName $t)
        foreach ($n in $Name) {
            if ($null -eq $key -or $null -eq $key.Value.PSObject.Properties[$n]) {
                $PSCmdlet.WriteError((New-DoubleError "Property $n does not exist at path $(ConvertTo-DoubleNativeRegistryPath $t)." 'System.Management.Automation.PSArgumentException,Microsoft.PowerShell.Commands.RemoveItemPropertyCommand' InvalidArgument $n 'System.Management.Automation.PSArgumentException'))
                continue
            }
            $key.Value.PSObject.Properties.Remove($n)
        }
    }
    Save-DoubleState $state
}

# --- Machine and user environment ---------------------------------------------------------------------
# [Environment]::GetEnvironmentVariable/SetEnvironmentVariable with the Machine or User target are no-ops
# off Windows (.NET ignores them), so [Environment] is redirected (a type accelerator, which PowerShell
# consults before the System namespace) to this class: Machine and User variables live in the state
# (machineEnv, userEnv); the process environment is the real one. Other members of System.Environment are
# not here: a script using one fails loudly. [System.Environment] is still the real class. NewLine is
# this machine's: PowerShell's own error view splits its messages with [Environment]::NewLine.
class FleetgateDoubleEnvironment {
    static [string] $NewLine = [System.Environment]::NewLine
    static [string] $MachineName = [System.Environment]::MachineName
    static [string] GetFolderPath([System.Environment+SpecialFolder]$Folder) { return [System.Environment]::GetFolderPath($Folder) }

    hidden static [string] StateFile() { return [System.IO.Path]::Combine([System.Environment]::GetEnvironmentVariable('FLEETGATE_WINDOWS_DOUBLE'), 'state.json') }
    hidden static [string] Scope([System.EnvironmentVariableTarget]$Target) { if ($Target -eq 'Machine') { return 'machineEnv' } return 'userEnv' }

    static [string] GetEnvironmentVariable([string]$Name) { return [System.Environment]::GetEnvironmentVariable($Name) }
    static [string] GetEnvironmentVariable([string]$Name, [System.EnvironmentVariableTarget]$Target) {
        if ($Target -eq 'Process') { return [System.Environment]::GetEnvironmentVariable($Name) }
        $state = [System.IO.File]::ReadAllText([FleetgateDoubleEnvironment]::StateFile()) | ConvertFrom-Json
        $vars = $state.PSObject.Properties[[FleetgateDoubleEnvironment]::Scope($Target)]
        if ($null -eq $vars) { return $null }
        # Windows's variable names are case-insensitive.
        foreach ($p in $vars.Value.PSObject.Properties) { if ($p.Name -ieq $Name) { return [string]$p.Value } }
        return $null
    }
    static [void] SetEnvironmentVariable([string]$Name, [string]$Value) { [System.Environment]::SetEnvironmentVariable($Name, $Value) }
    static [void] SetEnvironmentVariable([string]$Name, [string]$Value, [System.EnvironmentVariableTarget]$Target) {
        if ($Target -eq 'Process') { [System.Environment]::SetEnvironmentVariable($Name, $Value); return }
        $file = [FleetgateDoubleEnvironment]::StateFile()
        $state = [System.IO.File]::ReadAllText($file) | ConvertFrom-Json
        $scope = [FleetgateDoubleEnvironment]::Scope($Target)
        if ($null -eq $state.PSObject.Properties[$scope]) { $state | Add-Member -NotePropertyName $scope -NotePropertyValue ([pscustomobject]@{}) }
        $vars = $state.$scope
        foreach ($p in @($vars.PSObject.Properties)) { if ($p.Name -ieq $Name) { $vars.PSObject.Properties.Remove($p.Name) } }
        if ($null -ne $Value -and $Value -ne '') { $vars | Add-Member -NotePropertyName $Name -NotePropertyValue $Value }
        [System.IO.File]::WriteAllText("$file.env.tmp", (ConvertTo-Json -InputObject $state -Depth 20))
        [System.IO.File]::Move("$file.env.tmp", $file, $true)
    }
    static [string] ExpandEnvironmentVariables([string]$Text) { return [System.Environment]::ExpandEnvironmentVariables($Text) }
}
$null = [psobject].Assembly.GetType('System.Management.Automation.TypeAccelerators')::Add('Environment', [FleetgateDoubleEnvironment])

# --- Start-Process: the real one, with the Windows exit code back ------------------------------------
# A Linux process's exit status has 8 bits; Windows's has 32 (wusa's 3010 and 0x240006). A program
# double records its Windows exit code in exit-codes/<pid> (programs/program-double.ps1) and this
# returns the real Process object with that ExitCode. Parameters: Windows PowerShell 5.1's.
function Start-Process {
    [CmdletBinding(DefaultParameterSetName = 'Default')]
    param(
        [Parameter(Mandatory = $true, Position = 0)][Alias('PSPath', 'Path')][string]$FilePath,
        [Parameter(Position = 1)][Alias('Args')][string[]]$ArgumentList,
        [Parameter(ParameterSetName = 'Default')][Alias('RunAs')][pscredential]$Credential,
        [string]$WorkingDirectory,
        [Parameter(ParameterSetName = 'Default')][Alias('Lup')][switch]$LoadUserProfile,
        [Parameter(ParameterSetName = 'Default')][Alias('nnw')][switch]$NoNewWindow,
        [switch]$PassThru,
        [Parameter(ParameterSetName = 'Default')][Alias('RSE')][string]$RedirectStandardError,
        [Parameter(ParameterSetName = 'Default')][Alias('RSI')][string]$RedirectStandardInput,
        [Parameter(ParameterSetName = 'Default')][Alias('RSO')][string]$RedirectStandardOutput,
        [Parameter(ParameterSetName = 'UseShellExecute')][string]$Verb,
        [ValidateSet('Normal', 'Hidden', 'Minimized', 'Maximized')][string]$WindowStyle,
        [switch]$Wait,
        [Parameter(ParameterSetName = 'Default')][switch]$UseNewEnvironment
    )
    if ($Verb) { throw 'provision double: Start-Process -Verb is not modelled (no shell verbs off Windows)' }
    $forward = @{}
    foreach ($k in $PSBoundParameters.Keys) { if ($k -ne 'WindowStyle') { $forward[$k] = $PSBoundParameters[$k] } }
    $forward['PassThru'] = $true
    $p = Microsoft.PowerShell.Management\Start-Process @forward
    if ($Wait) {
        $p.WaitForExit()
        $codeFile = Join-Path (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'exit-codes') ([string]$p.Id)
        if (Microsoft.PowerShell.Management\Test-Path -LiteralPath $codeFile) {
            $p | Add-Member -NotePropertyName ExitCode -NotePropertyValue ([int](Get-Content -LiteralPath $codeFile -Raw)) -Force
            Remove-Item -LiteralPath $codeFile -Force
        }
    }
    if ($PassThru) { return $p }
}

# --- Optional features (capabilities) --------------------------------------------------------------
# state.capabilities: name -> Installed | NotPresent. Installing OpenSSH.Server adds the sshd service
# (Manual, Stopped) and the firewall rule OpenSSH-Server-In-TCP, as its setup does (windows.md section 9;
# Microsoft's OpenSSH page says the rule is made by setup; the service's initial start type Manual is unverified).
# -Name takes a wildcard here because install_openssh.ps1 passes one (unverified that the real -Name does:
# Microsoft's own examples filter Get-WindowsCapability -Online with Where-Object Name -like).
function Get-WindowsCapability {
    [CmdletBinding(DefaultParameterSetName = 'Online')]
    param(
        [Parameter(ParameterSetName = 'Online', Mandatory = $true)][switch]$Online,
        [Parameter(ParameterSetName = 'Offline', Mandatory = $true)][string]$Path,
        [string]$Name,
        [switch]$LimitAccess,
        [string[]]$Source,
        [string]$LogPath,
        [string]$ScratchDirectory,
        [ValidateSet('Errors', 'Warnings', 'WarningsInfo')][string]$LogLevel,
        [string]$WindowsDirectory,
        [string]$SystemDrive
    )
    if ($PSCmdlet.ParameterSetName -eq 'Offline') { throw 'provision double: only the running Windows (-Online) is modelled' }
    $caps = Get-DoubleValue (Read-DoubleState) 'capabilities' ([pscustomobject]@{})
    foreach ($c in $caps.PSObject.Properties) {
        if ($Name -and $c.Name -notlike $Name) { continue }
        [pscustomobject]@{ PSTypeName = 'Microsoft.Dism.Commands.BasicCapabilityObject'; Name = $c.Name; State = [string]$c.Value }
    }
}

function Add-WindowsCapability {
    [CmdletBinding(DefaultParameterSetName = 'Online')]
    param(
        [Parameter(ParameterSetName = 'Online', Mandatory = $true)][switch]$Online,
        [Parameter(ParameterSetName = 'Offline', Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)][string]$Name,
        [switch]$LimitAccess,
        [string[]]$Source,
        [string]$LogPath,
        [string]$ScratchDirectory,
        [ValidateSet('Errors', 'Warnings', 'WarningsInfo')][string]$LogLevel,
        [string]$WindowsDirectory,
        [string]$SystemDrive
    )
    if ($PSCmdlet.ParameterSetName -eq 'Offline') { throw 'provision double: only the running Windows (-Online) is modelled' }
    $state = Read-DoubleState
    $caps = Get-DoubleValue $state 'capabilities' ([pscustomobject]@{})
    $cap = $caps.PSObject.Properties | Where-Object { $_.Name -ieq $Name } | Select-Object -First 1
    # (unverified) the text of DISM's "not found" failure.
    if ($null -eq $cap) { throw (New-DoubleError "Add-WindowsCapability failed. Error code = 0x800f0954" 'Microsoft.Dism.Commands.AddWindowsCapabilityCommand' NotSpecified $Name 'System.Runtime.InteropServices.COMException') }
    $cap.Value = 'Installed'
    if ($cap.Name -like 'OpenSSH.Server~~~~*') {
        if ($null -eq $state.PSObject.Properties['services']) { Set-DoubleValue $state 'services' ([pscustomobject]@{}) }
        if ($null -eq $state.services.PSObject.Properties['sshd']) { Set-DoubleValue $state.services 'sshd' ([pscustomobject]@{ displayName = 'OpenSSH SSH Server'; startType = 'Manual'; status = 'Stopped' }) }
        if ($null -eq $state.PSObject.Properties['firewallRules']) { Set-DoubleValue $state 'firewallRules' ([pscustomobject]@{}) }
        if ($null -eq $state.firewallRules.PSObject.Properties['OpenSSH-Server-In-TCP']) {
            Set-DoubleValue $state.firewallRules 'OpenSSH-Server-In-TCP' ([pscustomobject]@{ displayName = 'OpenSSH SSH Server (sshd)'; group = 'OpenSSH Server'; enabled = $true; direction = 'Inbound'; action = 'Allow'; protocol = 'TCP'; localPort = '22' })
        }
    }
    Save-DoubleState $state
    [pscustomobject]@{ PSTypeName = 'Microsoft.Dism.Commands.ImageObject'; Path = $null; Online = $true; RestartNeeded = $false }
}

# --- Services -----------------------------------------------------------------------------------------
# state.services: name -> { displayName, startType (Automatic|Manual|Disabled), status (Running|Stopped) }.
# A Disabled service does not start. The first start of sshd makes its host keys in
# %ProgramData%\ssh (Windows OpenSSH generates them then), here with this machine's ssh-keygen.

function Get-DoubleService($State, [string]$Name) {
    $services = Get-DoubleValue $State 'services' ([pscustomobject]@{})
    return $services.PSObject.Properties | Where-Object { $_.Name -ieq $Name -or $_.Value.displayName -ieq $Name } | Select-Object -First 1
}

function ConvertTo-DoubleServiceObject($Service) {
    [pscustomobject]@{ PSTypeName = 'System.ServiceProcess.ServiceController'; Name = $Service.Name; ServiceName = $Service.Name; DisplayName = $Service.Value.displayName; Status = $Service.Value.status; StartType = $Service.Value.startType }
}

function Start-DoubleService($State, $Service, [string]$Cmdlet) {
    if ($Service.Value.startType -eq 'Disabled') {
        # (unverified) wording of Windows PowerShell 5.1's refusal.
        throw (New-DoubleError "Service '$($Service.Value.displayName) ($($Service.Name))' cannot be started due to the following error: Cannot start service $($Service.Name) on computer '.'." "CouldNotStartService,Microsoft.PowerShell.Commands.$Cmdlet" OpenError $Service.Name 'Microsoft.PowerShell.Commands.ServiceCommandException')
    }
    if ($Service.Name -ieq 'sshd') {
        $sshDir = Join-Path $env:ProgramData 'ssh'
        if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $sshDir)) { $null = Microsoft.PowerShell.Management\New-Item -ItemType Directory -Path $sshDir }
        $key = Join-Path $sshDir 'ssh_host_ed25519_key'
        if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $key)) {
            $keygen = if ($env:FLEETGATE_SSH_KEYGEN) { $env:FLEETGATE_SSH_KEYGEN } else { 'ssh-keygen' }
            & $keygen -q -t ed25519 -N '' -C 'system@FG-BUILD' -f (Convert-Path -LiteralPath $sshDir | Join-Path -ChildPath 'ssh_host_ed25519_key') | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "provision double: ssh-keygen for sshd's host key exited with $LASTEXITCODE" }
        }
    }
    $Service.Value.status = 'Running'
}

function Get-Service {
    [CmdletBinding(DefaultParameterSetName = 'Default')]
    param(
        [Parameter(ParameterSetName = 'Default', Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name,
        [Parameter(ParameterSetName = 'DisplayName', Mandatory = $true)][string[]]$DisplayName,
        [Alias('DS')][switch]$DependentServices,
        [Alias('SDO', 'ServicesDependedOn')][switch]$RequiredServices,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $services = Get-DoubleValue (Read-DoubleState) 'services' ([pscustomobject]@{})
    $wanted = if ($PSCmdlet.ParameterSetName -eq 'DisplayName') { $DisplayName } elseif ($Name) { $Name } else { @('*') }
    foreach ($w in $wanted) {
        $found = @($services.PSObject.Properties | Where-Object { ($PSCmdlet.ParameterSetName -eq 'DisplayName' -and $_.Value.displayName -like $w) -or ($PSCmdlet.ParameterSetName -ne 'DisplayName' -and $_.Name -like $w) })
        if ($found.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($w)) {
            $PSCmdlet.WriteError((New-DoubleError "Cannot find any service with service name '$w'." 'NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand' ObjectNotFound $w 'Microsoft.PowerShell.Commands.ServiceCommandException'))
        }
        foreach ($s in $found) { ConvertTo-DoubleServiceObject $s }
    }
}

function Set-Service {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Name', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName', 'SN')][string]$Name,
        [Parameter(ParameterSetName = 'InputObject', Position = 0, ValueFromPipeline = $true)]$InputObject,
        [Alias('cn')][string[]]$ComputerName,
        [string]$DisplayName,
        [string]$Description,
        [Alias('StartMode', 'SM', 'ST')][ValidateSet('Automatic', 'Manual', 'Disabled', 'Boot', 'System')][string]$StartupType,
        [ValidateSet('Running', 'Stopped', 'Paused')][string]$Status,
        [switch]$PassThru
    )
    if ($ComputerName) { throw 'provision double: only this computer is modelled' }
    $n = if ($InputObject) { $InputObject.Name } else { $Name }
    $state = Read-DoubleState
    $s = Get-DoubleService $state $n
    # (unverified) wording of Windows PowerShell 5.1's "not found".
    if ($null -eq $s) { $PSCmdlet.WriteError((New-DoubleError "Service $n was not found on computer '.'." 'InvalidOperationException,Microsoft.PowerShell.Commands.SetServiceCommand' ObjectNotFound $n)); return }
    if ($StartupType -in 'Boot', 'System') { throw (New-DoubleError 'The parameter is incorrect' 'CouldNotSetService,Microsoft.PowerShell.Commands.SetServiceCommand' PermissionDenied $n) }
    if ($StartupType) { $s.Value.startType = $StartupType }
    if ($DisplayName) { $s.Value.displayName = $DisplayName }
    if ($Status -eq 'Running') { Start-DoubleService $state $s 'SetServiceCommand' }
    elseif ($Status) { $s.Value.status = $Status }
    Save-DoubleState $state
    if ($PassThru) { ConvertTo-DoubleServiceObject $s }
}

function Invoke-DoubleServiceChange([string[]]$Names, [string]$Cmdlet, [string]$Change, [bool]$PassThru, $Cmd) {
    $state = Read-DoubleState
    foreach ($n in $Names) {
        $s = Get-DoubleService $state $n
        if ($null -eq $s) { $Cmd.WriteError((New-DoubleError "Cannot find any service with service name '$n'." "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.$Cmdlet" ObjectNotFound $n 'Microsoft.PowerShell.Commands.ServiceCommandException')); continue }
        if ($Change -eq 'stop' -or $Change -eq 'restart') { $s.Value.status = 'Stopped' }
        if ($Change -eq 'start' -or $Change -eq 'restart') {
            Save-DoubleState $state
            Start-DoubleService $state $s $Cmdlet
        }
        if ($PassThru) { ConvertTo-DoubleServiceObject $s }
    }
    Save-DoubleState $state
}

function Start-Service {
    [CmdletBinding(DefaultParameterSetName = 'Default', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Default', Position = 0, Mandatory = $true, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name,
        [Parameter(ParameterSetName = 'DisplayName', Mandatory = $true)][string[]]$DisplayName,
        [Parameter(ParameterSetName = 'InputObject', Position = 0, Mandatory = $true, ValueFromPipeline = $true)]$InputObject,
        [switch]$PassThru,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $names = if ($InputObject) { @($InputObject | ForEach-Object { $_.Name }) } elseif ($DisplayName) { $DisplayName } else { $Name }
    Invoke-DoubleServiceChange $names 'StartServiceCommand' 'start' $PassThru $PSCmdlet
}

function Stop-Service {
    [CmdletBinding(DefaultParameterSetName = 'InputObject', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Default', Position = 0, Mandatory = $true, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name,
        [Parameter(ParameterSetName = 'DisplayName', Mandatory = $true)][string[]]$DisplayName,
        [Parameter(ParameterSetName = 'InputObject', Position = 0, Mandatory = $true, ValueFromPipeline = $true)]$InputObject,
        [switch]$Force,
        [switch]$NoWait,
        [switch]$PassThru,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $names = if ($InputObject) { @($InputObject | ForEach-Object { $_.Name }) } elseif ($DisplayName) { $DisplayName } else { $Name }
    Invoke-DoubleServiceChange $names 'StopServiceCommand' 'stop' $PassThru $PSCmdlet
}

function Restart-Service {
    [CmdletBinding(DefaultParameterSetName = 'InputObject', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Default', Position = 0, Mandatory = $true, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name,
        [Parameter(ParameterSetName = 'DisplayName', Mandatory = $true)][string[]]$DisplayName,
        [Parameter(ParameterSetName = 'InputObject', Position = 0, Mandatory = $true, ValueFromPipeline = $true)]$InputObject,
        [switch]$Force,
        [switch]$PassThru,
        [string[]]$Include,
        [string[]]$Exclude
    )
    $names = if ($InputObject) { @($InputObject | ForEach-Object { $_.Name }) } elseif ($DisplayName) { $DisplayName } else { $Name }
    Invoke-DoubleServiceChange $names 'RestartServiceCommand' 'restart' $PassThru $PSCmdlet
}

# --- Windows Firewall -----------------------------------------------------------------------------------
# state.firewallRules: name -> { displayName, group, enabled (bool), direction, action, protocol, localPort }.
# Rules come back as objects with the MSFT_NetFirewallRule type name and Name, DisplayName, Group,
# Enabled ('True'/'False'), Direction, Action; Disable-/Enable-NetFirewallRule take them from the
# pipeline (the real ones take CimInstance objects). Port filters (Get-NetFirewallPortFilter) are not modelled.
# (unverified) the text of the "no rule" error.

function ConvertTo-DoubleFirewallRule($Rule) {
    [pscustomobject]@{
        PSTypeName = 'Microsoft.Management.Infrastructure.CimInstance#root/standardcimv2/MSFT_NetFirewallRule'
        Name = $Rule.Name; InstanceID = $Rule.Name; DisplayName = $Rule.Value.displayName; Group = $Rule.Value.group
        Enabled = $(if ($Rule.Value.enabled) { 'True' } else { 'False' }); Direction = $Rule.Value.direction; Action = $Rule.Value.action
    }
}

function Find-DoubleFirewallRules($State, [hashtable]$By, $Cmd, [string]$Cmdlet) {
    $rules = Get-DoubleValue $State 'firewallRules' ([pscustomobject]@{})
    $all = @($rules.PSObject.Properties)
    if ($By.Count -eq 0) { return $all }
    $out = @()
    foreach ($prop in $By.Keys) {
        foreach ($want in @($By[$prop])) {
            $hit = @($all | Where-Object {
                    $rule = $_
                    $v = switch ($prop) { 'Name' { $rule.Name } 'DisplayName' { $rule.Value.displayName } 'Group' { $rule.Value.group } }
                    $v -like $want
                })
            if ($hit.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($want)) {
                $Cmd.WriteError((New-DoubleError "No MSFT_NetFirewallRule objects found with property '$prop' equal to '$want'.  Verify the value of the property and retry." "CmdletizationQuery_NotFound_$prop,$Cmdlet" ObjectNotFound $want 'Microsoft.Management.Infrastructure.CimException'))
            }
            $out += $hit
        }
    }
    return $out
}

function Get-NetFirewallRule {
    [CmdletBinding(DefaultParameterSetName = 'All')]
    param(
        [Parameter(ParameterSetName = 'All')][switch]$All,
        [Parameter(ParameterSetName = 'ByName', Position = 0, Mandatory = $true, ValueFromPipelineByPropertyName = $true)][Alias('ID')][string[]]$Name,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$DisplayName,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$Group,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$DisplayGroup,
        [Parameter(ParameterSetName = 'ByQuery')][ValidateSet('True', 'False')][string[]]$Enabled,
        [Parameter(ParameterSetName = 'ByQuery')][ValidateSet('Inbound', 'Outbound')][string[]]$Direction,
        [Parameter(ParameterSetName = 'ByQuery')][ValidateSet('NotConfigured', 'Allow', 'Block')][string[]]$Action,
        [string]$PolicyStore
    )
    $by = @{}
    if ($Name) { $by.Name = $Name }
    if ($DisplayName) { $by.DisplayName = $DisplayName }
    if ($Group) { $by.Group = $Group }
    if ($DisplayGroup -or $Enabled -or $Direction -or $Action) { throw 'provision double: Get-NetFirewallRule filters other than -Name, -DisplayName and -Group are not modelled' }
    foreach ($r in (Find-DoubleFirewallRules (Read-DoubleState) $by $PSCmdlet 'Get-NetFirewallRule')) { ConvertTo-DoubleFirewallRule $r }
}

function Set-DoubleFirewallRuleEnabled($Cmd, [string]$Cmdlet, [bool]$Enabled, $Name, $DisplayName, $Group, $InputObject, [bool]$PassThru) {
    $state = Read-DoubleState
    $by = @{}
    if ($InputObject) { $by.Name = @($InputObject | ForEach-Object { $_.Name }) }
    if ($Name) { $by.Name = $Name }
    if ($DisplayName) { $by.DisplayName = $DisplayName }
    if ($Group) { $by.Group = $Group }
    if ($by.Count -eq 0) { throw "provision double: $Cmdlet needs -Name, -DisplayName, -Group or -InputObject" }
    foreach ($r in (Find-DoubleFirewallRules $state $by $Cmd $Cmdlet)) {
        $r.Value.enabled = $Enabled
        if ($PassThru) { ConvertTo-DoubleFirewallRule $r }
    }
    Save-DoubleState $state
}

function Enable-NetFirewallRule {
    [CmdletBinding(DefaultParameterSetName = 'ByName', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'All', Mandatory = $true)][switch]$All,
        [Parameter(ParameterSetName = 'ByName', Position = 0, Mandatory = $true)][Alias('ID')][string[]]$Name,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$DisplayName,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$Group,
        [Parameter(ParameterSetName = 'InputObject (cdxml)', Mandatory = $true, ValueFromPipeline = $true)][psobject[]]$InputObject,
        [string]$PolicyStore,
        [switch]$PassThru
    )
    begin { $objects = @() }
    process { if ($InputObject) { $objects += $InputObject } }
    end { Set-DoubleFirewallRuleEnabled $PSCmdlet 'Enable-NetFirewallRule' $true $Name $DisplayName $Group $objects $PassThru }
}

function Disable-NetFirewallRule {
    [CmdletBinding(DefaultParameterSetName = 'ByName', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'All', Mandatory = $true)][switch]$All,
        [Parameter(ParameterSetName = 'ByName', Position = 0, Mandatory = $true)][Alias('ID')][string[]]$Name,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$DisplayName,
        [Parameter(ParameterSetName = 'ByQuery')][string[]]$Group,
        [Parameter(ParameterSetName = 'InputObject (cdxml)', Mandatory = $true, ValueFromPipeline = $true)][psobject[]]$InputObject,
        [string]$PolicyStore,
        [switch]$PassThru
    )
    begin { $objects = @() }
    process { if ($InputObject) { $objects += $InputObject } }
    end {
        # An empty pipeline (no WinRM rules) binds nothing and changes nothing, as on Windows.
        if ($PSCmdlet.ParameterSetName -like 'InputObject*' -and $objects.Count -eq 0) { return }
        Set-DoubleFirewallRuleEnabled $PSCmdlet 'Disable-NetFirewallRule' $false $Name $DisplayName $Group $objects $PassThru
    }
}

function New-NetFirewallRule {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [string]$Name,
        [Parameter(Mandatory = $true)][string]$DisplayName,
        [string]$Description,
        [string]$Group,
        [ValidateSet('True', 'False')][string]$Enabled = 'True',
        [string[]]$Profile,
        [ValidateSet('Inbound', 'Outbound')][string]$Direction = 'Inbound',
        [ValidateSet('NotConfigured', 'Allow', 'Block')][string]$Action = 'Allow',
        [string]$Protocol,
        [string[]]$LocalPort,
        [string[]]$RemotePort,
        [string[]]$LocalAddress,
        [string[]]$RemoteAddress,
        [string]$Program,
        [string]$Service,
        [string]$PolicyStore
    )
    $state = Read-DoubleState
    if ($null -eq $state.PSObject.Properties['firewallRules']) { Set-DoubleValue $state 'firewallRules' ([pscustomobject]@{}) }
    if (-not $Name) { $Name = [guid]::NewGuid().ToString('B') }
    if ($null -ne ($state.firewallRules.PSObject.Properties | Where-Object { $_.Name -ieq $Name })) {
        # (unverified) what New-NetFirewallRule says for a name that is taken.
        throw (New-DoubleError 'Cannot create a file when that file already exists.' 'Windows System Error 183,New-NetFirewallRule' ResourceExists $Name 'Microsoft.Management.Infrastructure.CimException')
    }
    $rule = [pscustomobject]@{ displayName = $DisplayName; group = $Group; enabled = ($Enabled -eq 'True'); direction = $Direction; action = $Action; protocol = $Protocol; localPort = ($LocalPort -join ',') }
    Set-DoubleValue $state.firewallRules $Name $rule
    Save-DoubleState $state
    ConvertTo-DoubleFirewallRule ($state.firewallRules.PSObject.Properties[$Name])
}

# --- Secure Boot, CIM, hotfixes -----------------------------------------------------------------------

# Confirm-SecureBootUEFI: double-state.ps1's, shared with the guest double.

# state.cim: `namespace:class` -> properties. A class not there is "Invalid class" (as for a namespace
# Windows lacks, e.g. DeviceGuard on an old release; unverified wording).
function Get-CimInstance {
    [CmdletBinding(DefaultParameterSetName = 'ClassNameComputerSet')]
    param(
        [Parameter(ParameterSetName = 'ClassNameComputerSet', Position = 0, Mandatory = $true)][string]$ClassName,
        [string]$Namespace = 'root\cimv2',
        [string]$Filter,
        [string[]]$Property,
        [Alias('CN', 'ServerName')][string[]]$ComputerName,
        [Alias('OT')][uint32]$OperationTimeoutSec,
        [switch]$Shallow
    )
    if ($ComputerName) { throw 'provision double: only this computer is modelled' }
    $instance = (Read-DoubleState).cim.PSObject.Properties["$Namespace`:$ClassName"]
    if ($null -eq $instance) { throw (New-DoubleError 'Invalid class' 'HRESULT 0x80041010,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand' MetadataError $ClassName 'Microsoft.Management.Infrastructure.CimException') }
    return $instance.Value.PSObject.Copy()
}

# state.updates.installed: [{ hotFixId, description, installedOn }] (wusa.exe adds to it).
function Get-HotFix {
    [CmdletBinding(DefaultParameterSetName = 'Default')]
    param(
        [Parameter(ParameterSetName = 'Default', Position = 0)][Alias('HFID')][string[]]$Id,
        [Parameter(ParameterSetName = 'Description')][string[]]$Description,
        [Alias('CN', '__Server', 'IPAddress')][string[]]$ComputerName,
        [pscredential]$Credential
    )
    if ($ComputerName) { throw 'provision double: only this computer is modelled' }
    $updates = Get-DoubleValue (Read-DoubleState) 'updates' ([pscustomobject]@{})
    foreach ($u in @(Get-DoubleValue $updates 'installed' @())) {
        if ($Id -and $Id -notcontains $u.hotFixId) { continue }
        if ($Description -and -not ($Description | Where-Object { $u.description -like $_ })) { continue }
        # (Without the real type name: pwsh's type data for Win32_QuickFixEngineering computes InstalledOn.)
        [pscustomobject]@{ Source = $env:COMPUTERNAME; Description = $u.description; HotFixID = $u.hotFixId; InstalledBy = 'NT AUTHORITY\SYSTEM'; InstalledOn = $u.installedOn; CSName = $env:COMPUTERNAME }
    }
}
