# invoke_in_vm: runs one command line inside the VM over PowerShell Direct (Invoke-Command -VMName,
# windows.md section 5): the guest channel for VMs without a network. Input:
#   { name, user, password, command, stdin (or null), timeoutSeconds }
# The command runs as `cmd.exe /c <command>`, the way Windows OpenSSH runs it, so the same encoded
# guest scripts (harness/guest/windows/encode.ts) work over both channels. stdout and stderr are
# kept apart and the exit code is returned, through a Process object inside the guest.
# The password reaches the host inside this script's input: host administrators can see it there
# (it is the throw-away image account's, never a real one).
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$secure = ConvertTo-SecureString -String ([string](Get-FleetgateInputValue -Name 'password')) -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential ([string](Get-FleetgateInputValue -Name 'user')), $secure
$command = [string](Get-FleetgateInputValue -Name 'command')
$stdin = Get-FleetgateInputValue -Name 'stdin' -Optional
$timeoutMs = [int](Get-FleetgateInputValue -Name 'timeoutSeconds') * 1000
$started = Get-Date
$r = Invoke-Command -VMName $name -Credential $cred -ArgumentList $command, $stdin, $timeoutMs -ScriptBlock {
    param($Command, $Stdin, $TimeoutMs)
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = 'cmd.exe'
    $psi.Arguments = '/c ' + $Command
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.StandardOutputEncoding = New-Object System.Text.UTF8Encoding $false
    $psi.StandardErrorEncoding = New-Object System.Text.UTF8Encoding $false
    $p = [System.Diagnostics.Process]::Start($psi)
    # Both streams are read at once: reading one to its end first can deadlock on a full pipe.
    $out = $p.StandardOutput.ReadToEndAsync()
    $err = $p.StandardError.ReadToEndAsync()
    if ($null -ne $Stdin) { $p.StandardInput.Write([string]$Stdin) }
    $p.StandardInput.Close()
    $timedOut = -not $p.WaitForExit($TimeoutMs)
    $code = $null
    if ($timedOut) { $p.Kill() } else { $p.WaitForExit(); $code = $p.ExitCode }
    [pscustomobject]@{ stdout = $out.Result; stderr = $err.Result; exitCode = $code; timedOut = $timedOut }
}
$durationMs = [int64]((Get-Date) - $started).TotalMilliseconds
Write-FleetgateResult ([ordered]@{ stdout = [string]$r.stdout; stderr = [string]$r.stderr; exitCode = $r.exitCode; timedOut = [bool]$r.timedOut; durationMs = $durationMs })
