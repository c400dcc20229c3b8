# read_denials.ps1: what the product logged as denied, from where its package manifest says it logs
# denials (an event log and a provider name): the newest first, at most maxEvents. A log with nothing
# from the provider is an empty list (Get-WinEvent's "No events were found" is matched by its error id,
# which is not translated).
# Input: { logName, provider, maxEvents }. Output: { events: [{ time, id, level, message }] }.
# Input: $FleetgateInput (defined by the runner from JSON). Output: one line through Write-FleetgateResult.
# The runner (WindowsGuest.powerShellRunner()) sends this file composed with harness/guest/windows/scripts/common.ps1
# by harness/guest/windows/encode.ts: the helpers (Write-FleetgateResult, Invoke-FleetgateNative...) come from
# there and are not defined here again. There is no $PSScriptRoot.
$ErrorActionPreference = 'Stop'

$filter = @{ LogName = [string]$FleetgateInput.logName; ProviderName = [string]$FleetgateInput.provider }
$events = @()
try {
    $events = @(Get-WinEvent -FilterHashtable $filter -MaxEvents ([int64]$FleetgateInput.maxEvents) -ErrorAction Stop)
} catch {
    if ([string]$_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
}
$list = @($events | ForEach-Object {
    [ordered]@{ time = ConvertTo-FleetgateTime $_.TimeCreated; id = [int]$_.Id; level = [string]$_.LevelDisplayName; message = [string]$_.Message }
})
Write-FleetgateResult ([ordered]@{ events = $list })
