# common.ps1: helpers every fleetgate guest script uses (STYLE.md: AutoHCK's dot-sourced common helpers).
# Also composed with the driver's scripts (driver/windows/*.ps1, through WindowsGuest.powerShellRunner())
# and the Hyper-V host's (harness/providers/hyperv/encode-host.ts): a helper they share lives here only.
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

# Runs a console program with exact arguments and returns its exit code and its whole stdout and
# stderr (strings; split them into lines where needed). Used by the guest scripts and the driver's
# (driver/windows/*.ps1), which the runner composes with this file, so there is one copy.
# Not `& exe @args 2>&1`: Windows PowerShell 5.1 turns each stderr line of a redirected native command
# into an error record, which 'Stop' makes terminating; it also drops empty arguments and quotes
# differently from PowerShell 7. A process of its own, with CommandLineToArgvW quoting, avoids all that.
# Console programs write redirected output in the OEM code page (unverified for fltmc, verifier,
# pnputil, bcdedit), which is how it is decoded. Some take the code page from the console, which the
# prelude switched to UTF-8: the original console encoding is restored while the program runs.
function Invoke-FleetgateNative {
    param([Parameter(Mandatory = $true)][string]$FilePath, [string[]]$ArgumentList = @(), [int]$TimeoutSeconds = 300)
    # CommandLineToArgvW quoting, so "" and spaces arrive as sent.
    $quoted = foreach ($a in $ArgumentList) {
        if ($a -eq '' -or $a -match '[\s"]') { '"' + (($a -replace '(\\*)"', '$1$1\"') -replace '(\\+)$', '$1$1') + '"' } else { $a }
    }
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    # A drive path goes through PowerShell's provider, as Test-Path and Get-FileHash see it (on Windows
    # the same path back; where the drive is mapped, as in the guest double, the folder behind it).
    $psi.FileName = if ($FilePath -match '^[A-Za-z]:[\\/]') { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($FilePath) } else { $FilePath }
    $psi.Arguments = (@($quoted) -join ' ')
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.CreateNoWindow = $true
    $oem = [Text.Encoding]::GetEncoding([Globalization.CultureInfo]::CurrentCulture.TextInfo.OEMCodePage)
    $psi.StandardOutputEncoding = $oem
    $psi.StandardErrorEncoding = $oem
    $utf8 = [Console]::OutputEncoding
    if ($null -ne $FleetgateConsoleEncoding) { [Console]::OutputEncoding = $FleetgateConsoleEncoding }
    try {
        $p = [System.Diagnostics.Process]::Start($psi)
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
            try { $p.Kill() } catch { }
            throw "$FilePath $($psi.Arguments) did not finish within $TimeoutSeconds s"
        }
        # Without a timeout: returns once the output has been read to its end.
        $p.WaitForExit()
    } finally {
        [Console]::OutputEncoding = $utf8
    }
    return [pscustomobject]@{ exitCode = $p.ExitCode; stdout = $out.Result; stderr = $err.Result }
}

# ISO 8601 UTC text for a DateTime (or $null), since ConvertTo-Json 5.1 has no usable date format.
function ConvertTo-FleetgateTime {
    param([AllowNull()]$Time)
    if ($null -eq $Time) { return $null }
    return ([DateTime]$Time).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture)
}
