# TEST DOUBLE of icacls.exe for install_openssh.ps1 (bin/icacls.exe starts it). Models one file's
# DACL in state.acl (by Windows path): inherited ACEs (what a new file under C:\ProgramData gets:
# SYSTEM, Administrators full, Users read (unverified, simplified)), explicit ACEs, and
#   icacls <file> [/inheritance:e|d|r] [/grant[:r] <trustee>:<perm>]... [/remove[:g|:d] <trustee>]... [/q] [/c]
# Trustees are *S-1-... SIDs or the English names of a few well-known groups; other names fail with
# "No mapping between account names and security IDs was done." (exit 1332). A missing file is
# "The system cannot find the file specified." (exit 2); state.aclAccessDenied makes it "Access is
# denied." (exit 5). Other switches: Invalid parameter, exit 87.
# Summary line "Successfully processed N files; Failed processing M files" (unverified English wording:
# MicrosoftDocs/windowsserverdocs#6185 quotes its German translation; the exit codes are unverified).
. (Join-Path $PSScriptRoot 'program-double.ps1')
$argv = @($args | ForEach-Object { [string]$_ })
Add-DoubleProgramCall 'icacls.exe' $argv

function Exit-Summary([int]$Ok, [int]$Failed, [int]$Code) {
    [Console]::Out.WriteLine("Successfully processed $Ok files; Failed processing $Failed files")
    Exit-DoubleProgram $Code
}
function Exit-Invalid([string]$What) { [Console]::Out.WriteLine("Invalid parameter `"$What`""); Exit-DoubleProgram 87 }

$names = @{ 'administrators' = 'S-1-5-32-544'; 'builtin\administrators' = 'S-1-5-32-544'; 'system' = 'S-1-5-18'; 'nt authority\system' = 'S-1-5-18'; 'users' = 'S-1-5-32-545'; 'builtin\users' = 'S-1-5-32-545'; 'everyone' = 'S-1-1-0' }
function Resolve-Trustee([string]$Trustee) {
    if ($Trustee -match '^\*(S-1-\d+(-\d+)+)$') { return $Matches[1] }
    return $names[$Trustee.ToLowerInvariant()]
}

if ($argv.Count -lt 1 -or $argv[0].StartsWith('/')) { Exit-Invalid ($argv -join ' ') }
$path = ConvertTo-DoubleWindowsPath $argv[0]
$quiet = $false
$ops = @()
for ($i = 1; $i -lt $argv.Count; $i++) {
    $a = $argv[$i]
    switch -Regex ($a) {
        '^/inheritance:[edr]$' { $ops += @{ op = 'inheritance'; how = $a.Substring(13).ToLowerInvariant() }; continue }
        '^/(grant(:r)?|deny|remove(:[gd])?)$' {
            if ($i + 1 -ge $argv.Count) { Exit-Invalid $a }
            $i++
            $ace = $argv[$i]
            $trustee = $ace; $perm = $null
            if ($a -notlike '/remove*') {
                if ($ace -notmatch '^(.+):((\((OI|CI|IO|NP|I)\))*(\(?(F|M|RX|R|W|D|N)\)?|\([A-Z,]+\)))$') { Exit-Invalid $ace }
                $trustee = $Matches[1]; $perm = $Matches[2]
            }
            $ops += @{ op = $a.TrimStart('/'); trustee = $trustee; perm = $perm }
            continue
        }
        '^/q$' { $quiet = $true; continue }
        '^/[ctl]$' { continue }
        default { Exit-Invalid $a }
    }
}

$hostPath = ConvertTo-DoubleProgramPath $path
if (-not (Test-Path -LiteralPath $hostPath)) {
    [Console]::Out.WriteLine("${path}: The system cannot find the file specified.")
    Exit-Summary 0 1 2
}
foreach ($o in $ops) {
    if ($o.trustee -and -not (Resolve-Trustee $o.trustee)) {
        [Console]::Out.WriteLine("$($o.trustee): No mapping between account names and security IDs was done.")
        Exit-Summary 0 1 1332
    }
}

$state = Read-DoubleState
# state.aclAccessDenied: the account may not change the file's DACL (error 5; unverified wording).
if (Get-DoubleValue $state 'aclAccessDenied' $false) {
    [Console]::Out.WriteLine("${path}: Access is denied.")
    Exit-Summary 0 1 5
}
if ($null -eq $state.PSObject.Properties['acl']) { Set-DoubleValue $state 'acl' ([pscustomobject]@{}) }
$entry = $state.acl.PSObject.Properties | Where-Object { $_.Name -ieq $path } | Select-Object -First 1
$defaultInherited = @('*S-1-5-18:(I)(F)', '*S-1-5-32-544:(I)(F)', '*S-1-5-32-545:(I)(RX)')
$acl = if ($null -ne $entry) { $entry.Value } else { [pscustomobject]@{ inheritance = $true; inherited = $defaultInherited; explicit = @() } }
foreach ($o in $ops) {
    $sid = if ($o.trustee) { Resolve-Trustee $o.trustee }
    switch ($o.op) {
        'inheritance' {
            if ($o.how -eq 'e') { $acl.inheritance = $true; $acl.inherited = $defaultInherited }
            else {
                if ($o.how -eq 'd') { $acl.explicit = @($acl.explicit) + @($acl.inherited | ForEach-Object { $_ -replace '\(I\)', '' }) }
                $acl.inheritance = $false; $acl.inherited = @()
            }
        }
        'grant:r' { $acl.explicit = @(@($acl.explicit | Where-Object { $_ -notlike "*$sid`:*" }) + "*$sid`:$($o.perm)") }
        'grant' { $acl.explicit = @(@($acl.explicit) + "*$sid`:$($o.perm)" | Select-Object -Unique) }
        'deny' { $acl.explicit = @(@($acl.explicit) + "DENY *$sid`:$($o.perm)") }
        default { $acl.explicit = @($acl.explicit | Where-Object { $_ -notlike "*$sid`:*" }) }
    }
}
$acl.explicit = @($acl.explicit); $acl.inherited = @($acl.inherited)
Set-DoubleValue $state.acl $path $acl
Save-DoubleState $state
if (-not $quiet) { [Console]::Out.WriteLine("processed file: $path") }
Exit-Summary 1 0 0
