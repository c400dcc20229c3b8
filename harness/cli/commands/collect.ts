// `fleetgate collect DISK --out DIR [--json]`: the crash evidence on a Windows disk, read without
// booting it (harness/crash/windows/disk/collect.ts): MEMORY.DMP, minidumps, a dedicated dump file,
// a dump left in the paging file, the System log's crash events and the SYSTEM hive, copied into DIR
// with collected.json listing them. Then `fleetgate triage DIR` buckets the dumps.
import type { Command } from 'commander';
import { UsageError } from '../../../lib/errors.ts';
import { escapeControls, jsonForTerminal } from '../../../lib/printable.ts';
import { collectFromDisk, type Collection } from '../../crash/windows/disk/collect.ts';
import { DISK_FORMATS, type DiskFormat } from '../../crash/windows/disk/image-tools.ts';

function mib(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatCollection(c: Collection, out: string): string {
  const lines = [`${c.disk} (${c.format}, ${c.table}): Windows volume on partition ${c.volume.partition}${c.volume.name ? ` "${c.volume.name}"` : ''}, ${mib(c.volume.sizeBytes)}`];
  for (const f of c.files) {
    const when = f.dumpTime ? `, written ${f.dumpTime}${f.stale ? ' (stale: before --not-before)' : ''}` : '';
    lines.push(`  found  ${f.kind.padEnd(14)} ${f.windowsPath} → ${f.file} (${mib(f.bytes)}${when})`);
  }
  for (const a of c.absent) lines.push(`  absent ${a}`);
  if (c.events) {
    const e = c.events;
    lines.push(`  events bugcheck 1001: ${e.bugchecks.length}, Kernel-Power 41: ${e.kernelPower41.length}, unexpected shutdown 6008: ${e.unexpectedShutdowns.length}, filter loaded 6: ${e.filterLoads.length}`);
    for (const b of e.bugchecks) lines.push(`    1001 ${b.time ?? ''} bugcheck 0x${b.code.toString(16)} (${b.params.join(', ')})${b.dumpPath ? ` dump ${b.dumpPath}` : ''}`);
    for (const k of e.kernelPower41) lines.push(`    41   ${k.time ?? ''} ${k.bugcheckCode ? `bugcheck 0x${k.bugcheckCode.toString(16)} (${k.params.join(', ')})` : 'no bugcheck recorded (power lost or reset)'}`);
    for (const u of e.unexpectedShutdowns) lines.push(`    6008 ${u.time ?? ''} last alive ${u.lastAliveUtc ?? u.strings.join(' ')}`);
  }
  for (const n of c.notes) lines.push(`  note   ${n}`);
  lines.push(`  into   ${out} (collected.json lists it; fleetgate triage ${out} buckets the dumps)`);
  return `${lines.map(escapeControls).join('\n')}\n`;
}

export function registerCollect(program: Command): void {
  program
    .command('collect')
    .description('copy the crash evidence off a Windows disk without booting it (dumps, System log events, SYSTEM hive)')
    .argument('<disk>', 'the disk: qcow2 (an overlay reads through its backing file), raw, VHDX or VHD')
    .requiredOption('--out <dir>', 'folder to copy the evidence into')
    .option('--format <format>', `the disk's format (${DISK_FORMATS.join(', ')}; vpc is VHD); probed when not given`)
    .option('--dedicated-dump <path...>', 'CrashControl\\DedicatedDumpFile path(s) the image set, e.g. C:\\DedicatedDump.sys')
    .option('--dump-file <path>', 'CrashControl\\DumpFile when not %SystemRoot%\\MEMORY.DMP')
    .option('--not-before <time>', 'mark dumps written before this (ISO 8601) as stale')
    .option('--json', 'machine-readable output (collected.json)')
    .action(async (disk: string, o: { out: string; format?: string; dedicatedDump?: string[]; dumpFile?: string; notBefore?: string; json?: boolean }) => {
      if (o.format !== undefined && !(DISK_FORMATS as readonly string[]).includes(o.format)) throw new UsageError(`--format ${o.format}: expected one of ${DISK_FORMATS.join(', ')}`);
      let notBefore: Date | undefined;
      if (o.notBefore !== undefined) {
        notBefore = new Date(o.notBefore);
        if (Number.isNaN(notBefore.getTime())) throw new UsageError(`--not-before ${o.notBefore}: expected an ISO 8601 time such as 2026-12-04T10:00:00Z`);
      }
      const c = await collectFromDisk({
        disk,
        out: o.out,
        ...(o.format ? { format: o.format as DiskFormat } : {}),
        ...(o.dedicatedDump ? { dedicatedDumpFiles: o.dedicatedDump } : {}),
        ...(o.dumpFile ? { dumpFile: o.dumpFile } : {}),
        ...(notBefore ? { notBefore } : {}),
      });
      process.stdout.write(o.json ? `${jsonForTerminal(JSON.stringify(c, null, 2))}\n` : formatCollection(c, o.out));
    });
}
