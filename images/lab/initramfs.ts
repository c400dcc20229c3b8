// Assembles the lab guest's two trees and packs the initramfs: the boot tree (busybox, sshd,
// sftp-server, kernel modules, config) becomes a cpio (newc) initramfs; the tools tree (Node.js and the
// libraries only it needs) goes read-only onto the base disk (see disk.ts), because every initramfs
// byte is unpacked before /init runs and Node alone is 86 MB.
import { chmod, copyFile, mkdir, open, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InfraFailure } from '../../lib/errors.ts';
import {
  GROUP,
  GUEST_NODE,
  GUEST_NODE_LINKS,
  GUEST_SFTP,
  GUEST_SSHD,
  HOSTS,
  INITTAB,
  NSSWITCH,
  OPT_LIB,
  OPT_MOUNT,
  PASSWD,
  SHADOW,
  SHUTDOWN_SCRIPT,
  SSHD_CONFIG,
} from './guest-files.ts';
import { fileExists } from './packages.ts';
import { sh, tail } from './tools.ts';

/** Module names whose files (and dependencies) the guest loads at boot, transport first. */
export const BOOT_MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk', 'pvpanic_mmio', 'pvpanic_pci'] as const;

/** Shared libraries `ldd` lists for these binaries (host paths, as the dynamic loader looks them up). */
export async function libraryClosure(binaries: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const bin of binaries) {
    const out = await sh({ nothrow: true })`ldd ${bin}`;
    if (out.exitCode !== 0) throw new InfraFailure(`ldd ${bin} failed: ${tail(out.stdout + out.stderr)}`);
    for (const lib of parseLdd(out.stdout)) libs.add(lib);
  }
  return [...libs].sort();
}

export function parseLdd(text: string): string[] {
  const libs: string[] = [];
  for (const line of text.split('\n')) {
    if (/=>\s*not found/.test(line)) throw new InfraFailure(`ldd: missing shared library: ${line.trim()}`);
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const lib = arrow?.[1] ?? bare?.[1];
    if (lib) libs.push(lib);
  }
  return libs;
}

/**
 * Runs depmod on the unpacked kernel tree (the package ships no modules.dep) and asks modprobe for
 * each boot module's load order. Returns paths relative to lib/modules/<release>/, deduplicated,
 * dependencies first.
 */
export async function moduleLoadOrder(kernelTree: string, rel: string, roots: readonly string[] = BOOT_MODULES): Promise<string[]> {
  await sh`depmod -b ${kernelTree} ${rel}`;
  const base = path.join(kernelTree, 'lib', 'modules', rel) + '/';
  const order: string[] = [];
  for (const mod of roots) {
    const out = await sh({ nothrow: true })`modprobe -d ${kernelTree} -S ${rel} --show-depends ${mod}`;
    if (out.exitCode !== 0) throw new InfraFailure(`kernel ${rel} has no module ${mod}: ${tail(out.stderr)}`);
    for (const line of out.stdout.split('\n')) {
      const m = /^insmod\s+(\S+)/.exec(line);
      if (!m?.[1]) continue; // "builtin <name>" needs nothing
      if (!m[1].startsWith(base)) throw new InfraFailure(`modprobe pointed outside the kernel tree: ${m[1]}`);
      const relPath = m[1].slice(base.length);
      if (!order.includes(relPath)) order.push(relPath);
    }
  }
  return order;
}

export interface RootTreeInputs {
  /** The initramfs tree. */
  root: string;
  /** The tools tree, as it appears under OPT_MOUNT in the guest. */
  optRoot: string;
  kernelTree: string;
  kernelRelease: string;
  modules: string[];
  busyboxTree: string;
  sshdTree: string;
  sftpTree: string;
  nodeBinary: string;
  /** Libraries sshd or sftp-server need: in the initramfs at their ldd paths. */
  libs: string[];
  /** Libraries only node needs: in the tools tree's lib folder, linked from their ldd paths. */
  nodeLibs: string[];
  initScript: string;
  hostKey: string;
  hostKeyPub: string;
  clientKeyPub: string;
}

async function put(root: string, guestPath: string, content: string, mode: number): Promise<void> {
  const dest = path.join(root, guestPath);
  await mkdir(path.dirname(dest), { recursive: true });
  await writeFile(dest, content);
  await chmod(dest, mode);
}

async function copyInto(root: string, guestPath: string, from: string, mode?: number): Promise<void> {
  const dest = path.join(root, guestPath);
  await mkdir(path.dirname(dest), { recursive: true });
  await copyFile(from, dest);
  if (mode !== undefined) await chmod(dest, mode);
}

export async function assembleRoot(i: RootTreeInputs): Promise<void> {
  const { root } = i;
  for (const [dir, mode] of [
    ['proc', 0o555], ['sys', 0o555], ['dev', 0o755], ['run', 0o755], ['tmp', 0o1777], ['root', 0o700],
    ['data', 0o755], ['etc', 0o755], ['bin', 0o755], ['sbin', 0o755], ['usr/bin', 0o755],
    ['usr/sbin', 0o755], ['usr/local/bin', 0o755], ['var/log', 0o755], [OPT_MOUNT.slice(1), 0o755],
  ] as const) {
    await mkdir(path.join(root, dir), { recursive: true });
    await chmod(path.join(root, dir), mode);
  }

  // busybox-static and one symlink per applet, at the paths busybox itself lists.
  const busybox = path.join(i.busyboxTree, 'bin', 'busybox');
  await copyInto(root, 'bin/busybox', busybox, 0o755);
  const applets = (await sh`${busybox} --list-full`).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  for (const applet of applets) {
    if (!/^(bin|sbin|usr\/bin|usr\/sbin)\/[\w.[\]-]+$/.test(applet) || applet === 'bin/busybox') continue;
    const dest = path.join(root, applet);
    if (await fileExists(dest)) continue;
    await mkdir(path.dirname(dest), { recursive: true });
    await symlink(path.relative(path.dirname(dest), path.join(root, 'bin/busybox')), dest);
  }

  // OpenSSH from the downloaded packages, with its libraries at the paths ldd gave.
  await copyInto(root, GUEST_SSHD, path.join(i.sshdTree, GUEST_SSHD), 0o755);
  await copyInto(root, GUEST_SFTP, path.join(i.sftpTree, GUEST_SFTP), 0o755);
  for (const lib of i.libs) await copyInto(root, lib, lib, 0o755);

  // Node from the host into the tools tree. Stripped copy: the host binary carries ~12 MB of symbols
  // and debug info the guest never reads. Plain copy when binutils is absent.
  const optPath = (guestPath: string): string => path.join(i.optRoot, path.relative(OPT_MOUNT, guestPath));
  const nodeDest = optPath(GUEST_NODE);
  await mkdir(path.dirname(nodeDest), { recursive: true });
  const stripped = await sh({ nothrow: true })`strip --strip-all -o ${nodeDest} ${i.nodeBinary}`;
  if (stripped.exitCode !== 0) await copyFile(i.nodeBinary, nodeDest);
  await chmod(nodeDest, 0o755);
  for (const link of GUEST_NODE_LINKS) {
    await mkdir(path.dirname(path.join(root, link)), { recursive: true });
    await symlink(GUEST_NODE, path.join(root, link));
  }
  // Node's own libraries: the loader looks them up at their usual paths, where links into the tools
  // tree wait (dangling until /init mounts it; nothing in the initramfs needs them).
  const seen = new Set<string>();
  for (const lib of i.nodeLibs) {
    const name = path.basename(lib);
    if (seen.has(name)) throw new InfraFailure(`node needs two libraries named ${name}: ${i.nodeLibs.join(', ')}`);
    seen.add(name);
    await mkdir(path.dirname(optPath(`${OPT_LIB}/${name}`)), { recursive: true });
    await copyFile(lib, optPath(`${OPT_LIB}/${name}`));
    await chmod(optPath(`${OPT_LIB}/${name}`), 0o755);
    await mkdir(path.dirname(path.join(root, lib)), { recursive: true });
    await symlink(`${OPT_LIB}/${name}`, path.join(root, lib));
  }

  // Kernel modules, then depmod inside the tree so `modprobe` works in the guest too.
  const modBase = path.join('lib', 'modules', i.kernelRelease);
  for (const mod of i.modules) await copyInto(root, path.join(modBase, mod), path.join(i.kernelTree, modBase, mod));
  for (const f of await readdir(path.join(i.kernelTree, modBase))) {
    if (f.startsWith('modules.builtin') || f === 'modules.order') {
      await copyInto(root, path.join(modBase, f), path.join(i.kernelTree, modBase, f));
    }
  }
  await sh`depmod -b ${root} ${i.kernelRelease}`;

  await put(root, 'init', i.initScript, 0o755);
  await put(root, 'etc/inittab', INITTAB, 0o644);
  await put(root, 'etc/fleetgate/shutdown', SHUTDOWN_SCRIPT, 0o755);
  await put(root, 'etc/passwd', PASSWD, 0o644);
  await put(root, 'etc/shadow', SHADOW, 0o600);
  await put(root, 'etc/group', GROUP, 0o644);
  await put(root, 'etc/nsswitch.conf', NSSWITCH, 0o644);
  await put(root, 'etc/hosts', HOSTS, 0o644);
  await put(root, 'etc/hostname', 'fleetgate-lab\n', 0o644);
  await put(root, 'etc/ssh/sshd_config', SSHD_CONFIG, 0o644);
  await put(root, 'etc/ssh/ssh_host_ed25519_key', i.hostKey, 0o600);
  await put(root, 'etc/ssh/ssh_host_ed25519_key.pub', i.hostKeyPub, 0o644);
  await put(root, 'etc/ssh/authorized_keys', i.clientKeyPub, 0o644);
}

/**
 * How the initramfs is packed. 'none': with Node on the disk the cpio is ~21 MB, and QEMU copies it
 * into guest memory from the host at host speed, while inflating it in the guest runs under TCG.
 */
export type InitrdCompression = 'none' | 'gzip';
export const INITRD_COMPRESSION: InitrdCompression = 'none';

/** cpio newc, everything owned by root, sorted for a stable order, compressed as asked. */
export async function packInitramfs(root: string, out: string, compression: InitrdCompression = INITRD_COMPRESSION): Promise<void> {
  const filter = compression === 'gzip' ? ['gzip', '-1', '-n'] : ['cat'];
  await sh({ cwd: root })`find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | ${filter} > ${out}`;
}

/** Lists an initramfs (plain or gzip'd cpio, told apart by its first bytes) the way the tests and the CLI check it. */
export async function listInitramfs(initrd: string): Promise<string[]> {
  const out = (await isGzip(initrd)) ? await sh`gzip -dc ${initrd} | cpio -t --quiet` : await sh`cpio -t --quiet < ${initrd}`;
  return out.stdout.split('\n').filter(Boolean);
}

/** gzip's magic 1f 8b; an uncompressed newc cpio starts with "070701". */
export async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}
