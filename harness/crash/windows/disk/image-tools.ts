// Reading a VM's disk without booting it, with Debian's tools: qemu-img (qemu-utils) opens qcow2
// (with its backing chain), raw, VHDX and VHD, reads the first bytes for the partition table and
// copies one partition out as a sparse raw file that ntfs-3g's tools can read. No loop device, NBD or
// FUSE: nothing here needs privileges, so it runs wherever qemu-img does. `-U` (force share) lets a
// disk still held by a stuck QEMU be read as it is.
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { InfraFailure, InputError } from '../../../../lib/errors.ts';
import type { Partition } from './partitions.ts';

export const QEMU_IMG = 'qemu-img';
/** Disk formats the collector opens (qemu-img's names); anything else is refused rather than probed. */
export const DISK_FORMATS = ['qcow2', 'raw', 'vhdx', 'vpc'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export interface ToolRun {
  stdout: string;
  stderr: string;
}

/** Runs a tool to its end; a missing tool is infrastructure (named with its Debian package), a failing one is returned to the caller to judge. */
export function runTool(cmd: string, args: readonly string[], opts: { timeoutMs: number; pkg: string; env?: NodeJS.ProcessEnv; maxBuffer?: number }): Promise<ToolRun & { code: number }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { timeout: opts.timeoutMs, maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024, encoding: 'utf8', env: opts.env ?? { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' } }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new InfraFailure(`${cmd} is not installed (Debian package ${opts.pkg}); reading a disk offline needs it`));
        return;
      }
      if (err && (err as { killed?: boolean }).killed) {
        reject(new InfraFailure(`${cmd} ${args.join(' ')} did not finish within ${Math.round(opts.timeoutMs / 1000)} s`));
        return;
      }
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

export interface DiskInfo {
  readonly file: string;
  readonly format: DiskFormat;
  readonly virtualBytes: number;
  readonly backing?: string;
}

/** What qemu-img says the disk is. `format` given: checked, not probed. */
export async function diskInfo(file: string, format?: DiskFormat): Promise<DiskInfo> {
  const r = await runTool(QEMU_IMG, ['info', '-U', '--output=json', ...(format ? ['-f', format] : []), file], { timeoutMs: 60_000, pkg: 'qemu-utils' });
  if (r.code !== 0) throw new InputError({ file }, `qemu-img cannot open the disk: ${r.stderr.trim() || `exit ${r.code}`}`);
  let info: { format?: unknown; 'virtual-size'?: unknown; 'full-backing-filename'?: unknown };
  try {
    info = JSON.parse(r.stdout) as typeof info;
  } catch {
    throw new InfraFailure(`qemu-img info ${file} printed no JSON: ${r.stdout.slice(0, 200)}`);
  }
  const fmt = String(info.format);
  if (!(DISK_FORMATS as readonly string[]).includes(fmt)) throw new InputError({ file }, `a ${fmt} disk; expected one of ${DISK_FORMATS.join(', ')} (vpc is VHD)`);
  const size = Number(info['virtual-size']);
  if (!Number.isSafeInteger(size) || size <= 0) throw new InputError({ file }, `qemu-img reads a virtual size of ${String(info['virtual-size'])}; expected a positive size`);
  return { file, format: fmt as DiskFormat, virtualBytes: size, ...(typeof info['full-backing-filename'] === 'string' ? { backing: info['full-backing-filename'] } : {}) };
}

/** QEMU option-string value: a comma is written twice. */
function optValue(v: string): string {
  return v.replaceAll(',', ',,');
}

/** The --image-opts of `disk` seen through a raw window of `size` bytes at `offset`. */
export function windowOpts(disk: DiskInfo, offset: number, size: number): string {
  const inner = disk.format === 'raw' ? `file.driver=file,file.filename=${optValue(disk.file)}` : `file.driver=${disk.format},file.file.driver=file,file.file.filename=${optValue(disk.file)}`;
  return `driver=raw,offset=${offset},size=${size},${inner}`;
}

/** Copies `size` bytes at `offset` of the disk's contents into `out` as a sparse raw file (unwritten regions stay holes). */
export async function copyWindow(disk: DiskInfo, offset: number, size: number, out: string, timeoutMs = 30 * 60_000): Promise<void> {
  await rm(out, { force: true });
  const r = await runTool(QEMU_IMG, ['convert', '-U', '-O', 'raw', '--image-opts', windowOpts(disk, offset, size), out], { timeoutMs, pkg: 'qemu-utils' });
  if (r.code !== 0) throw new InputError({ file: disk.file, offset }, `qemu-img cannot copy ${size} bytes from here: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** The disk's first `bytes` (fewer when the disk is smaller). */
export async function readDiskHead(disk: DiskInfo, bytes: number, scratch: string): Promise<Uint8Array> {
  const n = Math.min(bytes, disk.virtualBytes);
  const tmp = path.join(scratch, 'head.raw');
  await copyWindow(disk, 0, n, tmp, 120_000);
  try {
    return new Uint8Array(await readFile(tmp));
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Copies one partition out (sparse) so the NTFS tools can open it as a volume. */
export async function extractPartition(disk: DiskInfo, p: Partition, out: string): Promise<string> {
  await copyWindow(disk, p.offsetBytes, p.sizeBytes, out);
  return out;
}
