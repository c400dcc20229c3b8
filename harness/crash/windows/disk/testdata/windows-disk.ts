// Test fixture: a real Windows-shaped disk made with Debian's tools, for the offline collector's
// tests. A GPT (sfdisk) with an EFI system partition and a basic-data partition holding a real NTFS
// volume (mkntfs), filled through ntfs-3g mounted with FUSE, the way Windows lays the files out,
// then converted to the format asked for (qemu-img). The EFI partition is left unformatted: the
// collector never reads it. Building needs root and /dev/fuse; reading it (the product path) does not.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Why the fixture cannot be built here, or false. */
export function windowsDiskMissing(): string | false {
  for (const [cmd, pkg] of [['mkntfs', 'ntfs-3g'], ['ntfs-3g', 'ntfs-3g'], ['ntfsls', 'ntfs-3g'], ['sfdisk', 'fdisk'], ['qemu-img', 'qemu-utils'], ['evtxexport', 'libevtx-utils']] as const) {
    if (which(cmd)) continue;
    // .ci/install-deps installs these: on CI their absence is a broken install, not a reason to skip.
    if (process.env.CI) throw new Error(`CI must have ${cmd} (Debian package ${pkg}, .ci/install-deps)`);
    return `${cmd} is not installed (Debian package ${pkg})`;
  }
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse: the fixture is filled through an ntfs-3g FUSE mount';
  if (process.getuid?.() !== 0) return 'not root: mounting the fixture volume with ntfs-3g needs root';
  return false;
}

export interface WindowsDiskSpec {
  /** Windows path (C:\...) → the host file to put there, or the bytes. */
  readonly files: Readonly<Record<string, string | Uint8Array>>;
  readonly format: 'qcow2' | 'raw' | 'vhdx';
  /** Size of the NTFS partition (MiB); the disk adds 1 MiB before, a 16 MiB EFI partition and the backup GPT. */
  readonly ntfsMiB?: number;
  /** Folders to create besides the files' own (Windows paths); default C:\Windows\System32\config, as an installed Windows has. */
  readonly dirs?: readonly string[];
}

/** Builds the disk in a new temporary folder; returns its path. */
export function makeWindowsDisk(spec: WindowsDiskSpec): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-windisk-'));
  const ntfsMiB = spec.ntfsMiB ?? 64;
  const part = path.join(dir, 'ntfs.raw');
  writeFileSync(part, '');
  sh('truncate', ['-s', `${ntfsMiB}M`, part]);
  sh('mkntfs', ['-F', '-Q', '-q', '-L', 'Windows', '-p', String((1 + 16) * 2048), part]);
  const mnt = path.join(dir, 'mnt');
  mkdirSync(mnt);
  sh('ntfs-3g', [part, mnt]);
  try {
    const host = (win: string) => path.join(mnt, ...win.replace(/^[A-Za-z]:\\/, '').split('\\'));
    for (const d of spec.dirs ?? ['C:\\Windows\\System32\\config']) mkdirSync(host(d), { recursive: true });
    for (const [win, src] of Object.entries(spec.files)) {
      mkdirSync(path.dirname(host(win)), { recursive: true });
      if (typeof src === 'string') copyFileSync(src, host(win));
      else writeFileSync(host(win), src);
    }
  } finally {
    sh('umount', [mnt]);
  }
  const raw = path.join(dir, 'disk.raw');
  writeFileSync(raw, '');
  sh('truncate', ['-s', `${1 + 16 + ntfsMiB + 1}M`, raw]);
  sh('sfdisk', ['--quiet', '--label', 'gpt', raw], [`start=2048, size=${16 * 2048}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"`, `start=${17 * 2048}, size=${ntfsMiB * 2048}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="Basic data partition"`, ''].join('\n'));
  sh('dd', [`if=${part}`, `of=${raw}`, 'bs=1M', `seek=${1 + 16}`, 'conv=notrunc,sparse', 'status=none']);
  rmSync(part);
  rmSync(mnt, { recursive: true });
  if (spec.format === 'raw') return raw;
  const out = path.join(dir, `disk.${spec.format}`);
  sh('qemu-img', ['convert', '-O', spec.format, raw, out]);
  rmSync(raw);
  return out;
}
