# TEST DOUBLE helpers for the Windows programs the provisioning scripts run (bin/*.exe start
# programs/<name>.ps1 in real pwsh): the state (reused from the guest double, double-state.ps1), a
# record of every call (state.calls: program and arguments, so a test sees what a script ran), and the
# exit. A Linux exit status has 8 bits, a Windows one 32: Exit-DoubleProgram writes the Windows code to
# exit-codes/<pid> (of this process and of its parent: the pid the script started is one of them), where the
# Start-Process double (provision-doubles.ps1) reads it back; a caller using & sees the low 8 bits in
# $LASTEXITCODE, made 255 where they would read 0 for a failure.
. (Join-Path $PSScriptRoot '../../../../../harness/guest/windows/test-doubles/double-state.ps1')

function Add-DoubleProgramCall([string]$Program, [string[]]$Arguments) {
    $state = Read-DoubleState
    if ($null -eq $state.PSObject.Properties['calls']) { Set-DoubleValue $state 'calls' @() }
    $state.calls = @($state.calls) + @([pscustomobject]@{ program = $Program; args = @($Arguments) })
    Save-DoubleState $state
}

function Exit-DoubleProgram([int64]$Code) {
    $windows = [int]$Code
    if ($Code -gt [int]::MaxValue) { $windows = [int]($Code - 4294967296) }
    $dir = Join-Path $env:FLEETGATE_WINDOWS_DOUBLE 'exit-codes'
    $null = New-Item -ItemType Directory -Force -Path $dir
    # The sh wrapper exec's pwsh, but pwsh installed as a .NET tool is a launcher that starts pwsh as its
    # child: the process the script started is this one or its parent.
    foreach ($id in @($PID, (Get-Process -Id $PID).Parent.Id) | Select-Object -Unique) {
        if ($id) { Set-Content -LiteralPath (Join-Path $dir ([string]$id)) -Value $windows }
    }
    $low = $windows -band 0xFF
    if ($windows -ne 0 -and $low -eq 0) { $low = 255 }
    exit $low
}

# A Windows path argument (C:\x or C:/x: Windows takes both) as this machine's path on the C: drive.
function ConvertTo-DoubleProgramPath([string]$WindowsPath) {
    return ConvertTo-DoubleHostPath ($WindowsPath -replace '/', '\')
}

function ConvertTo-DoubleWindowsPath([string]$WindowsPath) { return ($WindowsPath -replace '/', '\') }
