# set_crash_dump: what a crash leaves for triage (windows.md section 4): a kernel dump
# (CrashDumpEnabled 2) at %SystemRoot%\MEMORY.DMP, overwritten each time, and a reboot after it.
# Changes take effect after a reboot (the update step reboots).
$ErrorActionPreference = 'Stop'

$cc = 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'
Set-ItemProperty -Path $cc -Name CrashDumpEnabled -Value 2 -Type DWord
Set-ItemProperty -Path $cc -Name AutoReboot -Value 1 -Type DWord
Set-ItemProperty -Path $cc -Name Overwrite -Value 1 -Type DWord
Set-ItemProperty -Path $cc -Name DumpFile -Value '%SystemRoot%\MEMORY.DMP' -Type ExpandString
# Keep the dump even when disk space is low (the cell needs it more than the space).
Set-ItemProperty -Path $cc -Name AlwaysKeepMemoryDump -Value 1 -Type DWord
Write-Output 'crash dumps: kernel, overwrite, auto reboot'
