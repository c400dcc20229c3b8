# TEST DOUBLE of kd.exe for `kd -z <dump> -y <symbol path> -logo <log file> -c "<commands>"` (windows.md
# section 6): the dump must exist and start as a kernel dump does (PAGEDU64 or PAGEDUMP); the log file
# gets the recorded real `!analyze -v` session the state names (kd.analysis, a file of
# ../shared/samples/kd/). Other arguments are refused as kd refuses them.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')
$opts = @{}
for ($i = 0; $i -lt $args.Count; $i++) {
    $a = [string]$args[$i]
    if (@('-z', '-y', '-logo', '-c') -notcontains $a -or $i + 1 -ge $args.Count) { [Console]::Error.WriteLine("kd: unknown or incomplete option '$a'"); exit 1 }
    $opts[$a] = [string]$args[++$i]
}
foreach ($need in '-z', '-logo', '-c') { if (-not $opts.ContainsKey($need)) { [Console]::Error.WriteLine("kd: $need is required here"); exit 1 } }
$hostPath = { param($p) if ($p -match '^[A-Za-z]:\\') { ConvertTo-DoubleHostPath $p } else { $p } }
$dump = & $hostPath $opts['-z']
if (-not (Test-Path -LiteralPath $dump -PathType Leaf)) { [Console]::Error.WriteLine("Could not open dump file [$($opts['-z'])], Win32 error 0n2"); exit 1 }
$magic = [Text.Encoding]::ASCII.GetString([IO.File]::ReadAllBytes($dump), 0, 8)
if ($magic -ne 'PAGEDU64' -and $magic -ne 'PAGEDUMP') { [Console]::Error.WriteLine("Could not open dump file [$($opts['-z'])], HRESULT 0x80004002"); exit 1 }
$state = Read-DoubleState
$sample = Get-DoubleValue (Get-DoubleValue $state 'kd' $null) 'analysis' 'kd/analyze_c4_62_windows-driver-samples205.txt'
$text = @("Loading Dump File [$($opts['-z'])]", "Symbol search path is: $($opts['-y'])") + @(Get-DoubleSampleLines $sample)
[IO.File]::WriteAllLines((& $hostPath $opts['-logo']), [string[]]$text)
exit 0
