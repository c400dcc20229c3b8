# Pester tests of common.ps1's own logic, in PowerShell 7 here (the guests run 5.1: ps51-check keeps
# the syntax to 5.1). Run by harness/guest/windows/scripts/pester.test.ts (npm test).
BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $script:FleetgateScript = 'under_test'
    function ConvertTo-TestBase64([string]$Json) { [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($Json)) }
    # What Write-FleetgateLine writes to [Console]::Out, as text.
    function Get-ConsoleOutput([scriptblock]$Block) {
        $old = [Console]::Out
        $w = New-Object System.IO.StringWriter
        [Console]::SetOut($w)
        try { & $Block } finally { [Console]::SetOut($old) }
        return $w.ToString()
    }
    function Get-Envelope([string]$Text) {
        $line = ($Text -split "`n" | Where-Object { $_.StartsWith($FleetgateMarker) } | Select-Object -Last 1).TrimEnd("`r")
        return $line.Substring($FleetgateMarker.Length) | ConvertFrom-Json
    }
}

Describe 'Read-FleetgateInput' {
    It 'decodes base64 UTF-8 JSON, characters no quoting could carry included' {
        $v = Read-FleetgateInput (ConvertTo-TestBase64 '{"path":"C:\\Temp\\a b\\\"q\".inf","name":"Ünïcödé ✓"}')
        $v.path | Should -Be 'C:\Temp\a b\"q".inf'
        $v.name | Should -Be 'Ünïcödé ✓'
    }
    It 'reads JSON null as $null' {
        Read-FleetgateInput (ConvertTo-TestBase64 'null') | Should -BeNullOrEmpty
    }
    It 'refuses what is not base64' {
        { Read-FleetgateInput '%%%' } | Should -Throw
    }
}

Describe 'Get-FleetgateInputValue' {
    BeforeEach { $script:FleetgateInput = [pscustomobject]@{ service = 'fgfilter'; zero = 0; empty = '' } }
    It 'returns a present field, falsy values included' {
        Get-FleetgateInputValue -Name service | Should -Be 'fgfilter'
        Get-FleetgateInputValue -Name zero | Should -Be 0
        Get-FleetgateInputValue -Name empty | Should -Be ''
    }
    It 'names the script and the field when one is missing' {
        { Get-FleetgateInputValue -Name altitude } | Should -Throw "*under_test*'altitude'*"
    }
    It 'returns $null for a missing optional field, and when there is no input at all' {
        Get-FleetgateInputValue -Name altitude -Optional | Should -BeNullOrEmpty
        $script:FleetgateInput = $null
        Get-FleetgateInputValue -Name service -Optional | Should -BeNullOrEmpty
    }
}

Describe 'Write-FleetgateResult' {
    It 'writes one marked line with ok, the script and the result' {
        $out = Get-ConsoleOutput { Write-FleetgateResult ([ordered]@{ loaded = $true; n = 3 }) }
        ($out -split "`n" | Where-Object { $_ -ne '' }).Count | Should -Be 1
        $e = Get-Envelope $out
        $e.ok | Should -BeTrue
        $e.script | Should -Be 'under_test'
        $e.result.loaded | Should -BeTrue
        $e.result.n | Should -Be 3
    }
    It 'keeps a one-element array an array' {
        $out = Get-ConsoleOutput { Write-FleetgateResult @('only') }
        $out | Should -Match '"result":\["only"\]'
    }
    It 'writes $null as null' {
        $out = Get-ConsoleOutput { Write-FleetgateResult $null }
        $out | Should -Match '"result":null'
    }
}

Describe 'Write-FleetgateError' {
    It 'carries the untranslated parts of the error: type, error id, category' {
        $record = $null
        try { Get-Item -LiteralPath '/nonexistent/fleetgate' -ErrorAction Stop } catch { $record = $_ }
        $e = Get-Envelope (Get-ConsoleOutput { Write-FleetgateError $record })
        $e.ok | Should -BeFalse
        $e.script | Should -Be 'under_test'
        $e.error.type | Should -Be 'System.Management.Automation.ItemNotFoundException'
        $e.error.errorId | Should -BeLike 'PathNotFound*'
        $e.error.category | Should -Be 'ObjectNotFound'
        $e.error.message | Should -Not -BeNullOrEmpty
    }
}

Describe 'Get-FleetgateRegistryValue' {
    It 'is $null for a key that does not exist' {
        Get-FleetgateRegistryValue -Path '/nonexistent/key' -Name 'x' | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-FleetgateNative' -Skip:(-not (Test-Path '/bin/sh')) {
    It 'returns the exit code and the whole stdout and stderr, without turning stderr into errors' {
        $r = Invoke-FleetgateNative -FilePath '/bin/sh' -ArgumentList @('-c', 'echo out; echo err >&2; exit 3')
        $r.exitCode | Should -Be 3
        $r.stdout | Should -Be "out`n"
        $r.stderr | Should -Be "err`n"
    }
    It 'passes every argument exactly: empty ones, spaces, quotes and trailing backslashes' {
        $argsSent = @('', 'a b', 'q"x', 'back\', 'tab	in', 'plain')
        $r = Invoke-FleetgateNative -FilePath '/bin/sh' -ArgumentList (@('-c', 'for a in "$@"; do printf "[%s]\n" "$a"; done', 'sh') + $argsSent)
        $r.exitCode | Should -Be 0
        ($r.stdout -split "`n" | Where-Object { $_ -ne '' }) | Should -Be ($argsSent | ForEach-Object { "[$_]" })
    }
    It 'kills a program that runs past its timeout, and says so' {
        { Invoke-FleetgateNative -FilePath '/bin/sleep' -ArgumentList @('30') -TimeoutSeconds 1 } | Should -Throw '*did not finish within 1 s*'
    }
}

Describe 'ConvertTo-FleetgateTime' {
    It 'writes ISO 8601 UTC with milliseconds, whatever the local zone' {
        $t = [DateTime]::SpecifyKind([DateTime]'2026-06-09T10:11:12.345', [DateTimeKind]::Utc)
        ConvertTo-FleetgateTime $t | Should -Be '2026-06-09T10:11:12.345Z'
    }
    It 'keeps $null' {
        ConvertTo-FleetgateTime $null | Should -BeNullOrEmpty
    }
}
