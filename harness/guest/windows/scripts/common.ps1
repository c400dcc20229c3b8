# common.ps1: helpers every fleetgate guest script uses (STYLE.md: AutoHCK's dot-sourced common helpers).
#
# How it is "dot-sourced": every script runs as `powershell -EncodedCommand` (windows.md section 9),
# where there is no $PSScriptRoot and no file beside the script, so harness/guest/windows/encode.ts
# inlines this file ahead of each script body. The composed text is:
#   prelude  ($ErrorActionPreference = 'Stop', UTF-8 console, $FleetgateScript)
#   common.ps1 (this file: definitions only, it runs nothing)
#   try { $FleetgateInput = Read-FleetgateInput '<base64 of the UTF-8 JSON input>'; <script body> }
#   catch { Write-FleetgateError $_; exit 1 }
# Windows PowerShell 5.1 syntax only: `powershell` is 5.1 on every Windows we test.
# No here-strings and no multi-line string literals: encode.ts drops comment lines and indentation
# to fit cmd.exe's 8191-character command line, which would corrupt them.

$FleetgateMarker = '@@FLEETGATE-JSON@@'

# The input JSON arrives base64-encoded so that no character of it can break the script's quoting.
function Read-FleetgateInput {
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Base64)
    $json = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Base64))
    if ($json -eq 'null') { return $null }
    return ConvertFrom-Json -InputObject $json
}

# One named field of the input. Scalars only: PowerShell unrolls an array returned from a function.
function Get-FleetgateInputValue {
    param([Parameter(Mandatory = $true)][string]$Name, [switch]$Optional)
    if ($null -eq $FleetgateInput -or -not (@($FleetgateInput.PSObject.Properties.Name) -contains $Name)) {
        if ($Optional) { return $null }
        throw "fleetgate ${FleetgateScript}: the input has no '$Name'"
    }
    return $FleetgateInput.$Name
}

# [Console]::Out rather than Write-Output: the host formats pipeline output for its buffer width and
# can wrap a long line; the console writer writes the string as it is, in the UTF-8 set by the prelude.
function Write-FleetgateLine {
    param([Parameter(Mandatory = $true)][string]$Line)
    [Console]::Out.WriteLine($Line)
    [Console]::Out.Flush()
}

# The one result line every script ends with. -InputObject (not the pipeline) keeps a one-element
# array an array. Dates must already be strings: 5.1 writes DateTime as "\/Date(...)\/".
function Write-FleetgateResult {
    param([AllowNull()]$Result)
    $envelope = [ordered]@{ ok = $true; script = $FleetgateScript; result = $Result }
    Write-FleetgateLine ($FleetgateMarker + (ConvertTo-Json -InputObject $envelope -Compress -Depth 10))
}

# The error result: what the caller needs to tell "file not found" from "access denied" without
# reading localized text (type and FullyQualifiedErrorId are not translated; the message may be).
function Write-FleetgateError {
    param([Parameter(Mandatory = $true)]$ErrorRecord)
    $ex = $ErrorRecord.Exception
    $envelope = [ordered]@{
        ok = $false
        script = $FleetgateScript
        error = [ordered]@{
            message = [string]$ex.Message
            type = [string]$ex.GetType().FullName
            errorId = [string]$ErrorRecord.FullyQualifiedErrorId
            category = [string]$ErrorRecord.CategoryInfo.Category
            position = [string]$ErrorRecord.InvocationInfo.PositionMessage
        }
    }
    Write-FleetgateLine ($FleetgateMarker + (ConvertTo-Json -InputObject $envelope -Compress -Depth 10))
}

# A registry value or $null when the key or value is absent. REG_EXPAND_SZ is returned unexpanded
# with -Raw (what the registry holds) and expanded without it.
function Get-FleetgateRegistryValue {
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][string]$Name, [switch]$Raw)
    $key = Get-Item -LiteralPath $Path -ErrorAction SilentlyContinue
    if ($null -eq $key) { return $null }
    if ($Raw) { return $key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames) }
    return $key.GetValue($Name, $null)
}

# Runs a console program and returns its exit code and output lines.
# Windows PowerShell 5.1 turns each stderr line of a redirected native command into an error record,
# which 'Stop' makes terminating: run it under 'Continue' (local to this function) and sort the lines.
# Native output is decoded with [Console]::OutputEncoding, which the prelude set to UTF-8, while
# console programs write the OEM code page: the original encoding is restored for the call.
function Invoke-FleetgateNative {
    param([Parameter(Mandatory = $true)][string]$FilePath, [string[]]$ArgumentList = @())
    $null = Get-Command -Name $FilePath -CommandType Application -ErrorAction Stop
    $ErrorActionPreference = 'Continue'
    $out = New-Object System.Collections.Generic.List[string]
    $err = New-Object System.Collections.Generic.List[string]
    $utf8 = [Console]::OutputEncoding
    [Console]::OutputEncoding = $FleetgateConsoleEncoding
    try {
        & $FilePath @ArgumentList 2>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) { $err.Add([string]$_) } else { $out.Add([string]$_) }
        }
        $code = $LASTEXITCODE
    } finally {
        [Console]::OutputEncoding = $utf8
    }
    return [pscustomobject]@{ exitCode = $code; stdout = $out.ToArray(); stderr = $err.ToArray() }
}

# ISO 8601 UTC text for a DateTime (or $null), since ConvertTo-Json 5.1 has no usable date format.
function ConvertTo-FleetgateTime {
    param([AllowNull()]$Time)
    if ($null -eq $Time) { return $null }
    return ([DateTime]$Time).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture)
}
