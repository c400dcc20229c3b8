import t from 'tap';
import type { ImageManifest } from '../../../images/manifest.ts';
import { buildQemuArgs, cpuModel, OVMF, qemuEscape, type QemuLaunch } from './cmdline.ts';
import { overlayArgs } from './overlay.ts';
import { LAB_MANIFEST } from './lab-manifest.test-helper.ts';

const lab = LAB_MANIFEST;

const win11: ImageManifest = {
  ...lab,
  name: 'win11-24h2-26100.8457',
  os: { family: 'windows', release: 'win11-24h2', build: '26100', ubr: 8457, kbs: [5066835] },
  boot: { kind: 'disk', firmware: 'ovmf', secureBoot: false, tpm: true },
  disk: { path: 'win11.qcow2', format: 'qcow2', virtualBytes: 64 * 2 ** 30 },
  machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash' },
  ssh: { user: 'fleetgate', hostKeyFingerprint: 'SHA256:y' },
};

const base = (manifest: ImageManifest, over: Partial<QemuLaunch> = {}): QemuLaunch => ({
  name: 'cell-1',
  manifest,
  imageDir: '/images/x',
  accel: 'tcg',
  memoryMiB: manifest.machine.memoryMiB,
  cpus: manifest.machine.cpus,
  disk: { path: '/cells/c1/overlay.qcow2', format: 'qcow2' },
  consolePath: '/cells/c1/console.log',
  qmpSocket: '/cells/c1/qmp.sock',
  sshPort: 40022,
  ...over,
});

/** The value following each occurrence of `flag`. */
const values = (args: string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));

t.test('lab: pc machine, direct kernel boot, virtio overlay, loopback SSH forward, pvpanic + pause', async (t) => {
  const args = buildQemuArgs(base(lab));
  t.same(values(args, '-machine'), ['pc']);
  t.same(values(args, '-accel'), ['tcg']);
  t.same(values(args, '-cpu'), ['max']);
  t.same(values(args, '-m'), ['512']);
  t.same(values(args, '-kernel'), ['/images/x/vmlinuz']);
  t.same(values(args, '-initrd'), ['/images/x/initrd.img']);
  t.same(values(args, '-append'), [lab.boot.kind === 'kernel' ? lab.boot.append : '']);
  t.same(values(args, '-netdev'), ['user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22']);
  t.same(values(args, '-device'), ['virtio-blk-pci,drive=disk0', 'virtio-net-pci,netdev=net0', 'pvpanic']);
  t.same(values(args, '-drive'), ['if=none,id=disk0,file=/cells/c1/overlay.qcow2,format=qcow2,cache=unsafe,discard=unmap']);
  t.same(values(args, '-action'), ['panic=pause']);
  t.same(values(args, '-serial'), ['chardev:console0']);
  t.same(values(args, '-chardev'), [
    'file,id=console0,path=/cells/c1/console.log,append=on',
    'socket,id=qmp0,path=/cells/c1/qmp.sock,server=on,wait=off',
  ]);
  t.same(values(args, '-mon'), ['chardev=qmp0,mode=control']);
  for (const flag of ['-nodefaults', '-no-user-config']) t.ok(args.includes(flag), flag);
  t.same(values(args, '-display'), ['none']);
  t.notOk(args.some((a) => a.includes('pflash') || a.includes('hv-')), 'no firmware, no enlightenments');
  t.notOk(args.some((a) => /hostfwd=tcp:(0\.0\.0\.0)?:/.test(a)), 'never forwards on all interfaces');
});

t.test('lab under KVM uses the host CPU; the probe variant has no network and no monitor', async (t) => {
  const args = buildQemuArgs(base(lab, { accel: 'kvm', sshPort: null, qmpSocket: null }));
  t.same(values(args, '-accel'), ['kvm']);
  t.same(values(args, '-cpu'), ['host']);
  t.same(values(args, '-netdev'), []);
  t.same(values(args, '-mon'), []);
  t.same(values(args, '-device'), ['virtio-blk-pci,drive=disk0', 'pvpanic']);
});

t.test('Windows 11: q35, OVMF without Secure Boot and a per-VM vars copy, swtpm, Hyper-V enlightenments, panic=none', async (t) => {
  const args = buildQemuArgs(
    base(win11, { accel: 'kvm', ovmfVars: '/cells/c1/OVMF_VARS.fd', tpmSocket: '/cells/c1/swtpm.sock' }),
  );
  t.same(values(args, '-machine'), ['q35']);
  t.same(values(args, '-cpu'), [
    'host,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-time,hv-crash,hv-vpindex,hv-synic,hv-stimer,hv-reset,hv-runtime,hv-frequencies',
  ]);
  t.same(values(args, '-drive'), [
    `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF.code}`,
    'if=pflash,format=raw,unit=1,file=/cells/c1/OVMF_VARS.fd',
    'if=none,id=disk0,file=/cells/c1/overlay.qcow2,format=qcow2,cache=unsafe,discard=unmap',
  ]);
  t.equal(OVMF.code, '/usr/share/OVMF/OVMF_CODE_4M.fd');
  t.same(values(args, '-action'), ['panic=none']);
  t.same(values(args, '-tpmdev'), ['emulator,id=tpm0,chardev=tpm0chr']);
  t.ok(values(args, '-chardev').includes('socket,id=tpm0chr,path=/cells/c1/swtpm.sock'));
  t.same(values(args, '-device'), ['ide-hd,drive=disk0,bus=ide.0', 'e1000e,netdev=net0', 'tpm-crb,tpmdev=tpm0']);
  t.same(values(args, '-rtc'), ['base=localtime']);
  t.same(values(args, '-kernel'), []);
  t.notOk(args.includes('pvpanic'));
  t.notOk(values(args, '-global').length, 'Secure Boot off: no secure pflash');
});

t.test('Windows with Secure Boot: secboot code, Microsoft-keys vars, SMM', async (t) => {
  const sb: ImageManifest = { ...win11, boot: { kind: 'disk', firmware: 'ovmf', secureBoot: true, tpm: false } };
  const args = buildQemuArgs(base(sb, { accel: 'kvm', ovmfVars: '/c/OVMF_VARS.fd' }));
  t.same(values(args, '-machine'), ['q35,smm=on']);
  t.same(values(args, '-global'), ['driver=cfi.pflash01,property=secure,value=on']);
  t.match(values(args, '-drive')[0], /OVMF_CODE_4M\.secboot\.fd$/);
  t.same(values(args, '-tpmdev'), []);
});

t.test('Windows under TCG keeps only the enlightenments TCG accepts', async (t) => {
  t.equal(cpuModel('tcg', true), 'max,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-time,hv-crash');
});

t.test('missing per-VM firmware or TPM inputs are refused, not guessed', async (t) => {
  t.throws(() => buildQemuArgs(base(win11, { tpmSocket: '/s' })), /vars file is required/);
  t.throws(() => buildQemuArgs(base(win11, { ovmfVars: '/v' })), /swtpm socket path is required/);
});

t.test('commas in paths are doubled for QEMU option syntax', async (t) => {
  t.equal(qemuEscape('/runs/a,b/console.log'), '/runs/a,,b/console.log');
  const args = buildQemuArgs(base(lab, { consolePath: '/runs/a,b/console.log' }));
  t.ok(values(args, '-chardev').includes('file,id=console0,path=/runs/a,,b/console.log,append=on'));
});

t.test('overlay: qcow2 over the absolute base path', async (t) => {
  t.same(overlayArgs({ base: 'rel/disk.qcow2', baseFormat: 'qcow2', overlay: '/c/overlay.qcow2' }), [
    'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', `${process.cwd()}/rel/disk.qcow2`, '/c/overlay.qcow2',
  ]);
});
