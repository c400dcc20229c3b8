# TEST DOUBLE helper for the powershell.exe doubles (this folder's powershell-host.ps1 and the Hyper-V
# host double's): powershell.exe's command line as fleetgate sends it (harness/guest/windows/encode.ts:
# -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 UTF-16LE>). Any other
# argument is refused, as a command fleetgate never sends: the double says so and exits 64.
function Get-DoubleEncodedCommand([object[]]$Arguments) {
    $encoded = $null
    for ($i = 0; $i -lt $Arguments.Count; $i++) {
        $a = [string]$Arguments[$i]
        if ($a -eq '-NoProfile' -or $a -eq '-NonInteractive') { continue }
        if ($a -eq '-ExecutionPolicy') {
            $i++
            if (@('Bypass', 'Unrestricted', 'RemoteSigned', 'AllSigned', 'Restricted', 'Default', 'Undefined') -notcontains [string]$Arguments[$i]) {
                [Console]::Error.WriteLine("powershell.exe double: -ExecutionPolicy '$($Arguments[$i])' is not a policy")
                exit 64
            }
            continue
        }
        if ($a -eq '-EncodedCommand') {
            $i++
            $encoded = [string]$Arguments[$i]
            continue
        }
        [Console]::Error.WriteLine("powershell.exe double: argument '$a' is not one fleetgate sends")
        exit 64
    }
    if ($null -eq $encoded -or $encoded -eq '') {
        [Console]::Error.WriteLine('powershell.exe double: no -EncodedCommand')
        exit 64
    }
    return $encoded
}
