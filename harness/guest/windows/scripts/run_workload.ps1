# run_workload: runs the bundled workload agent under the image's Node.js (%ProgramFiles%\nodejs\node.exe)
# on a spec already on the guest, and answers with what the agent printed (its JSON result lines are read
# by the controller, workloads/result.ts). Input: agent, spec, workdir (absolute Windows paths),
# timeoutSeconds. Paths go to node.exe as PowerShell's provider sees them (on Windows, unchanged).
$ErrorActionPreference = 'Stop'
$full = { param($p) if ([string]$p -notmatch '^[A-Za-z]:\\') { throw "run_workload: '$p' is not an absolute Windows path" }; $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath([string]$p) }
$agent = & $full (Get-FleetgateInputValue -Name agent)
$spec = & $full (Get-FleetgateInputValue -Name spec)
$workdir = & $full (Get-FleetgateInputValue -Name workdir)
$timeout = [int](Get-FleetgateInputValue -Name timeoutSeconds)
$node = Join-Path $env:ProgramFiles 'nodejs\node.exe'
if (-not (Test-Path -LiteralPath $node -PathType Leaf)) { throw "run_workload: the image has no Node.js at $node" }
if (-not (Test-Path -LiteralPath $workdir -PathType Container)) { New-Item -ItemType Directory -Path $workdir -Force | Out-Null }
$r = Invoke-FleetgateNative -FilePath $node -ArgumentList @($agent, '--spec', $spec, '--workdir', $workdir, '--quiet') -TimeoutSeconds $timeout
Write-FleetgateResult ([ordered]@{ exitCode = $r.exitCode; stdout = $r.stdout; stderr = $r.stderr })
