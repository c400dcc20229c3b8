# set_crash_dump: what a crash leaves for triage (windows.md section 4): a kernel dump
# (CrashDumpEnabled 2) at %SystemRoot%\MEMORY.DMP, overwritten each time, and a reboot after it.
# The bugcheck writes the dump into a dedicated dump file (C:\fleetgate-dump.sys, 2 GiB) rather than
# the paging file: only the next boot copies it to MEMORY.DMP, so a guest that never comes back still
# has it in a known file on its disk, which fleetgate reads offline (harness/crash/windows/disk).
# Changes take effect after a reboot (the update step reboots).
$ErrorActionPreference = 'Stop'

$cc = 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'
Set-ItemProperty -Path $cc -Name CrashDumpEnabled -Value 2 -Type DWord
Set-ItemProperty -Path $cc -Name AutoReboot -Value 1 -Type DWord
Set-ItemProperty -Path $cc -Name Overwrite -Value 1 -Type DWord
Set-ItemProperty -Path $cc -Name DumpFile -Value '%SystemRoot%\MEMORY.DMP' -Type ExpandString
# Keep the dump even when disk space is low (the cell needs it more than the space).
Set-ItemProperty -Path $cc -Name AlwaysKeepMemoryDump -Value 1 -Type DWord
# DumpFileSize is in MiB; the file is made at the next boot (REG_SZ: no expansion here).
Set-ItemProperty -Path $cc -Name DedicatedDumpFile -Value 'C:\fleetgate-dump.sys' -Type String
Set-ItemProperty -Path $cc -Name DumpFileSize -Value 2048 -Type DWord
Write-Output 'crash dumps: kernel, overwrite, auto reboot, dedicated dump file C:\fleetgate-dump.sys'
