# get_crash_events: Hyper-V's record of guest bugchecks (windows.md section 5): event 18590 in the
# Microsoft-Windows-Hyper-V-Worker-Admin log, "'<VM>' has encountered a fatal error. ... ErrorCode0:
# 0xD1, ErrorCode1: ...". Input: { name, id, since } with since an ISO 8601 time in the host's clock
# (new_cell_vm's hostTime). The text is returned as it is; harness/crash/windows/events.ts reads it.
$ErrorActionPreference = 'Stop'

$name = Get-FleetgateInputValue -Name 'name'
$id = [string](Get-FleetgateInputValue -Name 'id' -Optional)
$sinceText = Get-FleetgateInputValue -Name 'since'
$since = [DateTime]::Parse($sinceText, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind)
$filter = @{ LogName = 'Microsoft-Windows-Hyper-V-Worker-Admin'; Id = 18590; StartTime = $since.ToLocalTime() }
$events = @()
try {
    $events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction Stop)
} catch {
    # windows.md section 5: when nothing matches, Get-WinEvent throws "No events were found that
    # match the specified selection criteria." That is an empty list here. Matched by the error id,
    # which is not translated (the message is).
    if ([string]$_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
}
# The event names the VM in its text ('<VM>' ...) and, as event data, by id. Which data field holds
# the id is unverified, so any property equal to the VM's id counts, as does the quoted name.
$quoted = "'" + $name + "'"
$mine = @($events | Where-Object {
    $msg = [string]$_.Message
    $byName = $msg.StartsWith($quoted)
    $byId = $false
    if ($id -ne '') { $byId = @($_.Properties | Where-Object { [string]$_.Value -eq $id }).Count -gt 0 }
    $byName -or $byId
})
$list = @($mine | Sort-Object -Property RecordId | ForEach-Object {
    [ordered]@{
        recordId = [int64]$_.RecordId
        timeCreated = ConvertTo-FleetgateTime $_.TimeCreated
        message = [string]$_.Message
    }
})
Write-FleetgateResult ([ordered]@{ name = $name; events = $list })
