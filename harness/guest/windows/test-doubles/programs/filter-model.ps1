# TEST DOUBLE: what a debug build of our filter does when a process starts on the guest double,
# standing in for the kernel (which cannot run here). bin/node.exe asks it before each start of the
# image's Node.js when a loaded filter has a fault (programs/filter-policy.sh; the allow list is
# checked there). It reads, for each loaded filter (fltmc state), the service's Parameters key, where a
# Windows driver reads its settings and where the cell's driver parameters are written:
#   DebugFault (a debug build's fault injection):
#     bugcheck    the system stops with the bugcheck recorded in ../shared/samples/dumps/triage_x64.dmp
#                 (its header's code and parameters) and writes that dump to its Minidump folder;
#     verifier-c4 with Driver Verifier running on the filter's image: 0xC4 with the arguments of the
#                 recorded analysis ../shared/samples/kd/analyze_c4_00_zero_alloc_ebpf-for-windows1115.txt;
#     hang        the kernel hangs: nothing starts or answers until an NMI (the Hyper-V host double's
#                 Debug-VM) bugchecks it.
#     (first-allowed-only, boot-hang-under-verifier: acted on by programs/fltmc.ps1 at load and
#     powershell-host.ps1 at boot.)
#   A stopped or hung system never lets the start finish: this script returns only once the machine
#   restarted (exit 255: the process is gone).
param([Parameter(Mandatory = $true)][string]$Image)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../double-state.ps1')

function Get-DumpStop([string]$Sample) {
    # DUMP_HEADER64: BugCheckCode at 0x38, its four parameters at 0x40 (windows.md section 4).
    $b = [IO.File]::ReadAllBytes((Join-Path $env:FLEETGATE_SAMPLES $Sample))
    $code = [BitConverter]::ToUInt32($b, 0x38)
    $params = foreach ($i in 0..3) { '0x{0:X}' -f [BitConverter]::ToUInt64($b, 0x40 + 8 * $i) }
    return @{ code = [int64]$code; params = @($params) }
}

function Get-AnalysisStop([string]$Sample) {
    $args4 = foreach ($l in Get-DoubleSampleLines $Sample) { if ($l -match '^Arg[1-4]:\s*([0-9a-fA-F`]+)') { '0x' + ($Matches[1] -replace '`', '') } }
    $code = $null
    foreach ($l in Get-DoubleSampleLines $Sample) { if ($l -match '^[A-Z0-9_]+ \(([0-9a-fA-F]+)\)\s*$') { $code = [Convert]::ToInt64($Matches[1], 16); break } }
    return @{ code = $code; params = @($args4)[0..3] }
}

function Stop-Forever { Wait-DoubleGuestRestart $env:FLEETGATE_WINDOWS_DOUBLE }

$state = Read-DoubleState
$fltmc = Get-DoubleValue $state 'fltmc' $null
foreach ($loaded in @(Get-DoubleValue $fltmc 'loaded' @())) {
    $params = Find-DoubleRegistryKey $state "HKLM:\SYSTEM\CurrentControlSet\Services\$($loaded.name)\Parameters"
    if ($null -eq $params) { continue }
    $p = $params.Value
    $fault = [string](Get-DoubleValue (Get-DoubleValue $p 'DebugFault' $null) 'value' '')
    $dir = $env:FLEETGATE_WINDOWS_DOUBLE
    switch ($fault) {
        'bugcheck' {
            $stop = Get-DumpStop 'dumps/triage_x64.dmp'
            Invoke-DoubleGuestBugcheck -GuestDir $dir -Code $stop.code -Parameters $stop.params -DumpSample 'dumps/triage_x64.dmp'
            Stop-Forever
        }
        'verifier-c4' {
            $verified = @(Get-DoubleValue (Get-DoubleValue $state 'verifier' $null) 'drivers' @())
            $image = "$($loaded.name).sys"
            if (@($verified | Where-Object { $_ -ieq $image }).Count -gt 0) {
                $stop = Get-AnalysisStop 'kd/analyze_c4_00_zero_alloc_ebpf-for-windows1115.txt'
                Invoke-DoubleGuestBugcheck -GuestDir $dir -Code $stop.code -Parameters $stop.params
                Stop-Forever
            }
        }
        'hang' {
            Set-Content -LiteralPath (Join-Path $dir 'kernel-hung') -Value 'hung'
            Stop-Forever
        }
    }
}
exit 0
