# test_harness_starts: starts each program the harness runs on the guest, harmlessly, and says whether
# it started: with an allowlisting filter of ours loaded in enforce mode, each must still be allowed
# (the driver package manifest declares them), or every later step would fail for a reason that is not
# a hang. Input: programs, a list of { path (may hold %SystemRoot% / %ProgramFiles%), arguments }.
# Process.Start refusing the image (Win32Exception, "Access is denied") is started = false.
$ErrorActionPreference = 'Stop'
$list = foreach ($p in @(Get-FleetgateInputValue -Name programs)) {
    $path = [Environment]::ExpandEnvironmentVariables([string]$p.path)
    $entry = [ordered]@{ path = [string]$p.path; started = $false; exitCode = $null; stderr = ''; error = $null }
    try {
        $r = Invoke-FleetgateNative -FilePath $path -ArgumentList @($p.arguments | ForEach-Object { [string]$_ }) -TimeoutSeconds 120
        $entry.started = $true
        $entry.exitCode = $r.exitCode
        $entry.stderr = ([string]$r.stderr).Trim()
    } catch {
        $e = $_.Exception
        while ($null -ne $e.InnerException) { $e = $e.InnerException }
        $entry.error = $e.Message
    }
    [pscustomobject]$entry
}
Write-FleetgateResult ([ordered]@{ programs = @($list) })
