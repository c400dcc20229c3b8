// The lab builder end to end, in a private cache folder (the .deb downloads and apt's binary cache are
// shared with the repo cache so a run does not download twice): build, cache hit, force, manifest,
// initramfs content. Needs apt lists (apt-get update) and the tools .ci/run installs.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MANIFEST_FILE } from '../manifest.ts';
import { buildLabImage, defaultCacheDir, hashInputs, LAB_LAYOUT, labImageStatus, readLabManifest, type LabInputs } from './build.ts';
import { isGzip, listInitramfs } from './initramfs.ts';
import { GUEST_NODE, READY_LINE } from './guest-files.ts';

const shared = defaultCacheDir();
const cacheDir = mkdtempSync(path.join(tmpdir(), 'fg-lab-'));
for (const sub of ['debs', 'apt']) {
  mkdirSync(path.join(shared, sub), { recursive: true });
  symlinkSync(path.join(shared, sub), path.join(cacheDir, sub));
}
t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function fromInitrd(initrd: string, member: string): string {
  return execFileSync('sh', ['-c', '{ gzip -dc "$1" 2>/dev/null || cat "$1"; } | cpio -i --quiet --to-stdout "$2"', 'sh', initrd, member], {
    encoding: 'utf8',
  });
}

/** The base disk as raw bytes (qemu-img), for reading its partition table and file systems. */
function rawDisk(qcow2: string): string {
  const raw = path.join(cacheDir, `disk-${process.pid}.raw`);
  execFileSync('qemu-img', ['convert', '-O', 'raw', qcow2, raw]);
  return raw;
}

/** MBR entries as [start sector, sectors, type]. */
function partitions(raw: string): Array<[number, number, number]> {
  const b = readFileSync(raw).subarray(0, 512);
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    if (b[e + 4]) out.push([b.readUInt32LE(e + 8), b.readUInt32LE(e + 12), b[e + 4] as number]);
  }
  return out;
}

const lines: string[] = [];
const first = await buildLabImage({ cacheDir, log: (l) => lines.push(l) });
const { dir, manifest } = first;

t.test('status: current for the built image, not-built for an empty cache', async (t) => {
  const s = await labImageStatus({ cacheDir });
  t.equal(s.state, 'current');
  t.equal(s.dir, dir);
  t.equal(s.inputsHash, manifest.inputsHash);
  const empty = mkdtempSync(path.join(tmpdir(), 'fg-lab-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  t.equal((await labImageStatus({ cacheDir: empty })).state, 'not-built');
});

t.test('same inputs: second call is a cache hit returning the same image', async (t) => {
  const log: string[] = [];
  const again = await buildLabImage({ cacheDir, log: (l) => log.push(l) });
  t.equal(again.cached, true);
  t.equal(again.dir, dir);
  t.equal(again.manifest.builtAt, manifest.builtAt);
  t.equal(again.manifest.ssh.hostKeyFingerprint, manifest.ssh.hostKeyFingerprint);
  t.ok(log.some((l) => l.startsWith('cache hit')), log.join('\n'));
  t.notOk(log.some((l) => l.includes('assembling')), 'nothing rebuilt');
});

t.test('inputs hash: order-independent, changes with any input', async (t) => {
  const base: LabInputs = {
    packages: { a: '1', b: '2' },
    kernelRelease: '6.1.0-1-cloud-amd64',
    sources: { 'build.ts': 'x' },
    node: { path: '/usr/bin/node', version: 'v20.0.0', sha256: 'n' },
    libs: { '/lib/libc.so.6': 'c' },
    modules: null,
    init: null,
    append: 'console=ttyS0',
    machine: { type: 'pc', memoryMiB: 512, cpus: 2, crash: 'pvpanic' },
    diskMiB: 256,
    layout: LAB_LAYOUT,
  };
  const h = hashInputs(base);
  t.match(h, /^[0-9a-f]{64}$/);
  t.equal(hashInputs({ ...base, packages: { b: '2', a: '1' } }), h, 'key order does not matter');
  t.not(hashInputs({ ...base, packages: { a: '1', b: '3' } }), h, 'package version');
  t.not(hashInputs({ ...base, sources: { 'build.ts': 'y' } }), h, 'builder source');
  t.not(hashInputs({ ...base, node: { ...base.node, sha256: 'm' } }), h, 'node binary');
  t.not(hashInputs({ ...base, libs: { '/lib/libc.so.6': 'd' } }), h, 'host library');
  t.not(hashInputs({ ...base, append: 'console=ttyS1' }), h, 'kernel command line');
  t.not(hashInputs({ ...base, layout: { ...LAB_LAYOUT, node: '/usr/local/bin/node' } as unknown as typeof LAB_LAYOUT }), h, 'layout');
  t.equal(path.basename(dir), manifest.inputsHash, 'cache folder named by the inputs hash');
});

t.test('manifest: contract fields, fingerprint, files with recorded sizes and hashes', async (t) => {
  t.match(manifest, {
    schema: 1,
    name: 'lab',
    os: { family: 'linux', release: 'lab', build: /^\d+\.\d+\.\d+-\d+-cloud-amd64$/ },
    boot: { kind: 'kernel', kernel: 'vmlinuz', initrd: 'initrd.img' },
    disk: { path: 'disk.qcow2', format: 'qcow2' },
    machine: { type: 'pc', cpus: 2, crash: 'pvpanic' },
    ssh: { user: 'root', hostKeyFingerprint: /^SHA256:[A-Za-z0-9+/]{43}$/, clientKey: 'id_ed25519' },
    guest: {
      readyLine: READY_LINE,
      dataMount: '/data',
      dataDevice: '/dev/vda1',
      opt: { device: '/dev/vda2', mount: '/opt/fleetgate', readOnly: true },
      node: { path: '/opt/fleetgate/bin/node', links: ['/usr/local/bin/node', '/usr/bin/node'], version: process.version },
    },
  });
  t.equal(manifest.os.packages?.[`linux-image-${manifest.os.build}`] !== undefined, true, 'kernel package version recorded');
  for (const p of ['busybox-static', 'openssh-server', 'openssh-sftp-server']) t.ok(manifest.os.packages?.[p], p);
  const append = manifest.boot.kind === 'kernel' ? manifest.boot.append : '';
  for (const arg of ['console=ttyS0', 'panic=-1', 'softlockup_panic=1', 'oops=panic']) t.ok(append.split(' ').some((a) => a.startsWith(arg)), arg);
  // CPU 1 is the measurement CPU of a two-vCPU lab VM, and the lockup watchdog still covers it.
  for (const arg of ['isolcpus=nohz,domain,managed_irq,1', 'nohz_full=1', 'irqaffinity=0', 'sysctl.kernel.watchdog_cpumask=0-1']) t.ok(append.split(' ').includes(arg), arg);

  const onDisk = JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8'));
  t.same(onDisk, manifest, 'manifest.json is what was returned');
  t.same(await readLabManifest(dir), manifest);
  for (const f of manifest.files) {
    const p = path.join(dir, f.path);
    t.equal(statSync(p).size, f.bytes, `${f.path} size`);
    t.equal(sha256(p), f.sha256, `${f.path} sha256`);
  }
  t.equal(statSync(path.join(dir, 'id_ed25519')).mode & 0o777, 0o600, 'client key is 0600');
  const printed = execFileSync('ssh-keygen', ['-lf', path.join(dir, 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' });
  t.equal(printed.split(' ')[1], manifest.ssh.hostKeyFingerprint, 'fingerprint as ssh-keygen -lf prints it');
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(dir, 'disk.qcow2')], { encoding: 'utf8' }));
  t.equal(info.format, 'qcow2');
  t.equal(info['virtual-size'], manifest.disk.virtualBytes);
});

t.test('initramfs holds init, busybox, sshd, sftp-server, node links, libraries, modules and the keys', async (t) => {
  const initrd = path.join(dir, 'initrd.img');
  t.equal(await isGzip(initrd), false, 'initramfs is an uncompressed cpio');
  const members = new Set(await listInitramfs(initrd));
  const rel = manifest.os.build;
  for (const m of [
    'init', 'bin/busybox', 'bin/sh', 'sbin/insmod', 'usr/sbin/sshd', 'usr/lib/openssh/sftp-server',
    'usr/local/bin/node', 'usr/bin/node', 'opt/fleetgate', 'lib64/ld-linux-x86-64.so.2', 'etc/ssh/sshd_config',
    'etc/ssh/ssh_host_ed25519_key', 'etc/ssh/authorized_keys', 'etc/passwd', 'etc/inittab', `lib/modules/${rel}/modules.dep`,
  ]) t.ok(members.has(m), m);
  t.notOk(members.has('opt/fleetgate/bin/node'), 'the node binary is not in the initramfs');
  t.ok(statSync(initrd).size < 40 * 1024 * 1024, `initramfs is small (${statSync(initrd).size} bytes)`);
  for (const mod of manifest.guest.bootModules) t.ok(members.has(`lib/modules/${rel}/${mod}`), mod);
  for (const name of ['virtio_net.ko', 'virtio_blk.ko', 'virtio_pci.ko', 'pvpanic-mmio.ko']) {
    t.ok(manifest.guest.bootModules.some((m) => m.endsWith(`/${name}`)), `boot loads ${name}`);
  }
  const order = manifest.guest.bootModules.map((m) => path.basename(m));
  t.ok(order.indexOf('virtio_ring.ko') < order.indexOf('virtio_net.ko'), 'dependencies load first');

  t.equal(fromInitrd(initrd, 'etc/ssh/authorized_keys'), readFileSync(path.join(dir, 'id_ed25519.pub'), 'utf8'), 'authorized_keys is the client key');
  t.equal(fromInitrd(initrd, 'etc/ssh/ssh_host_ed25519_key.pub'), readFileSync(path.join(dir, 'ssh_host_ed25519_key.pub'), 'utf8'), 'baked host key is the pinned one');
  const init = fromInitrd(initrd, 'init');
  t.match(init, /^#!\/bin\/sh\n/);
  t.match(init, READY_LINE);
  t.match(init, /unknown_nmi_panic/);
  t.match(init, /panic_on_oops/);
  t.match(init, /ip addr add 10\.0\.2\.15\/24 dev eth0/);
  t.match(init, /mount -t ext4 -o noatime \/dev\/vda1 \/data/);
  t.match(init, /mount -t ext4 -o ro,noatime \/dev\/vda2 \/opt\/fleetgate/);
  t.ok(init.indexOf('/opt/fleetgate\n') < init.indexOf('/usr/sbin/sshd -E'), 'both mounts happen before sshd answers');
  t.match(fromInitrd(initrd, 'etc/ssh/sshd_config'), /Subsystem sftp \/usr\/lib\/openssh\/sftp-server/);
});

t.test('base disk: MBR with the data partition and the read-only tools partition holding node', async (t) => {
  const raw = rawDisk(path.join(dir, 'disk.qcow2'));
  t.teardown(() => rmSync(raw, { force: true }));
  t.equal(readFileSync(raw).readUInt16LE(510), 0xaa55, 'MBR signature');
  const parts = partitions(raw);
  t.equal(parts.length, 2, 'two partitions');
  const [data, opt] = parts as [[number, number, number], [number, number, number]];
  t.same(data, [2048, 256 * 2048, 0x83], 'vda1: 256 MiB at 1 MiB, Linux');
  t.equal(opt[0], data[0] + data[1], 'vda2 follows vda1');
  t.equal((opt[0] + opt[1]) * 512, manifest.disk.virtualBytes, 'the disk ends with vda2');
  const fs = (p: [number, number, number]): string => `${raw}?offset=${p[0] * 512}`;
  const info = (p: [number, number, number]): string => execFileSync('dumpe2fs', ['-h', fs(p)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  t.match(info(data), /Filesystem volume name:\s+fgdata/);
  t.match(info(data), /Filesystem features:.*has_journal/);
  t.match(info(opt), /Filesystem volume name:\s+fgopt/);
  const rel = GUEST_NODE.replace('/opt/fleetgate', '');
  const stat = execFileSync('debugfs', ['-R', `stat ${rel}`, fs(opt)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  t.match(stat, /Size: \d{7,}/, 'node binary on the tools partition');
  const libs = execFileSync('debugfs', ['-R', 'ls -p /lib', fs(opt)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  t.match(libs, /libstdc\+\+\.so\.6/, 'node-only library on the tools partition');
});

t.test('force rebuilds into the same folder with fresh keys', async (t) => {
  const forced = await buildLabImage({ cacheDir, force: true });
  t.equal(forced.cached, false);
  t.equal(forced.dir, dir);
  t.not(forced.manifest.builtAt, manifest.builtAt);
  t.not(forced.manifest.ssh.hostKeyFingerprint, manifest.ssh.hostKeyFingerprint, 'new host key');
  t.same(await readLabManifest(dir), forced.manifest);
});
