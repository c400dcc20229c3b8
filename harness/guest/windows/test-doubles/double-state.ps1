# TEST DOUBLE helpers shared by the guest double's cmdlets (windows-doubles.ps1) and programs
# (programs/*.ps1): its state ($env:FLEETGATE_WINDOWS_DOUBLE/state.json, written by guest-double.ts and
# changed by what the doubles do: an install adds a service key, a load adds a filter) and its C: drive
# (a folder of the state folder mounted as drive C, so the scripts' Windows paths work unchanged).
# Recorded outputs come from $env:FLEETGATE_SAMPLES (../shared/samples).

function Get-DoubleStatePath { Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'state.json' }

# Read every time: a program run by the same script may have changed it.
function Read-DoubleState { Get-Content -LiteralPath (Get-DoubleStatePath) -Raw | ConvertFrom-Json }

# Written whole and renamed into place, so a concurrent reader (the heartbeat) never sees half a file.
function Save-DoubleState($State) {
    $path = Get-DoubleStatePath
    $tmp = "$path.$PID.tmp"
    Set-Content -LiteralPath $tmp -Value (ConvertTo-Json -InputObject $State -Depth 20)
    Move-Item -LiteralPath $tmp -Destination $path -Force
}

function Get-DoubleValue($Object, [string]$Name, $Default = $null) {
    if ($null -ne $Object -and $null -ne $Object.PSObject.Properties[$Name]) { return $Object.$Name }
    return $Default
}

function Set-DoubleValue($Object, [string]$Name, $Value) {
    $Object | Add-Member -NotePropertyName $Name -NotePropertyValue $Value -Force
}

function Mount-DoubleDrive {
    if (-not (Get-PSDrive -Name C -ErrorAction SilentlyContinue)) {
        New-PSDrive -Name C -PSProvider FileSystem -Root (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'C') -Scope Global | Out-Null
    }
}

# A Windows path on the double's C: drive as the host's path.
function ConvertTo-DoubleHostPath([string]$WindowsPath) {
    if ($WindowsPath -notmatch '^[Cc]:\\') { throw "the guest double has only a C: drive, not $WindowsPath" }
    return Join-Path (Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'C') ($WindowsPath.Substring(3) -replace '\\', '/')
}

# The registry key of the state at $Path (case-insensitive, as the registry is), or $null.
function Find-DoubleRegistryKey($State, [string]$Path) {
    foreach ($p in $State.registry.PSObject.Properties) { if ($p.Name -ieq $Path) { return $p } }
    return $null
}

function Set-DoubleRegistryValue($State, [string]$Path, [string]$Name, [string]$Type, $Value) {
    $key = Find-DoubleRegistryKey $State $Path
    if ($null -eq $key) {
        Set-DoubleValue $State.registry $Path ([pscustomobject]@{})
        $key = Find-DoubleRegistryKey $State $Path
    }
    Set-DoubleValue $key.Value $Name ([pscustomobject]@{ type = $Type; value = $Value })
}

# Removes a key and its subkeys.
function Remove-DoubleRegistryKey($State, [string]$Path) {
    foreach ($p in @($State.registry.PSObject.Properties)) {
        if ($p.Name -ieq $Path -or $p.Name.StartsWith("$Path\", [StringComparison]::OrdinalIgnoreCase)) { $State.registry.PSObject.Properties.Remove($p.Name) }
    }
}

# A recorded output of ../shared/samples without its provenance line and the prompt lines the person
# who recorded it typed (`C:\>fltmc`, `>fltmc`, `PS C:\> ...`), and without Markdown back-ticks.
function Get-DoubleSampleLines([string]$Sample) {
    $file = Join-Path $env:FLEETGATE_SAMPLES $Sample
    if (-not (Test-Path -LiteralPath $file)) { throw "guest double: recorded output $Sample is not in $env:FLEETGATE_SAMPLES" }
    foreach ($line in (Get-Content -LiteralPath $file)) {
        if ($line -match '^# [Ss]ource') { continue }
        if ($line -match '^\s*```') { continue }
        $line = $line -replace '^`', '' -replace '`\s*$', ''
        if ($line -match '^(PS[^>]*>|[A-Za-z]:\\[^>]*>|>)') { continue }
        $line
    }
}
