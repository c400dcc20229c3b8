// The QEMU provider against real QEMU and the real lab guest image. VMs run one after another
// (two at once in one test): the machines this runs on have two shared cores.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { hasHostDump, type VmInstance, type VmSpec } from '../types.ts';
import { buildQemuArgs } from './cmdline.ts';
import { identify, isSameProcessAlive, killGroup, rssKiB, spawnDetached, waitGone } from './process.ts';
import { QmpClient } from './qmp.ts';
import { freeLoopbackPort, QemuProvider, VmStartError } from './qemu.ts';
import { readRecords } from './records.ts';
import { findLabImage, type LabImage } from './testdata/lab-image.ts';

const run = promisify(execFile);
const HERE = path.dirname(new URL(import.meta.url).pathname);
const READY_LINE = 'fleetgate-lab: ready';

const qemuMissing = await run('qemu-system-x86_64', ['--version']).then(() => undefined, () => 'qemu-system-x86_64 is not installed');
const found = qemuMissing ? { missing: qemuMissing } : await findLabImage();
const lab: LabImage | undefined = 'missing' in found ? undefined : found;
const skipLab = 'missing' in found ? `real-QEMU lab tests skipped: ${found.missing}` : false;

function workspace(t: Test): { root: string; stateDir: string; provider: QemuProvider } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-qemu-it-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const stateDir = path.join(root, 'state');
  return { root, stateDir, provider: new QemuProvider({ stateDir }) };
}

function spec(root: string, name: string, over: Partial<VmSpec> = {}): VmSpec {
  return { name, cellDir: path.join(root, name), image: { dir: lab!.dir, manifest: lab!.manifest }, ...over };
}

/** What dispose must have removed (and what it must have kept). */
async function assertGone(t: Test, vm: VmInstance, stateDir: string): Promise<void> {
  const cell = path.dirname(vm.consolePath);
  t.notOk(existsSync(path.join(cell, 'overlay.qcow2')), 'overlay removed');
  t.notOk(existsSync(path.join(cell, 'qmp.sock')), 'QMP socket removed');
  t.ok(existsSync(vm.consolePath), 'console.log kept');
  t.notOk(vm.pid !== undefined && existsSync(`/proc/${vm.pid}`) && !readFileSync(`/proc/${vm.pid}/stat`, 'utf8').includes(') Z'), 'QEMU process gone');
  t.same((await readRecords(stateDir)).map((r) => r.record?.name), [], 'no VM record left');
}

function sshToGuest(vm: VmInstance, command: string): Promise<void> {
  const key = path.join(lab!.dir, lab!.manifest.ssh.clientKey ?? 'id_ed25519');
  // The guest panics under this command: its exit status means nothing, only that it ran.
  return run('ssh', [
    '-i', key, '-p', String(vm.ssh.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-o', 'LogLevel=ERROR', `${lab!.manifest.ssh.user}@127.0.0.1`, command,
  ], { timeout: 30_000 }).then(() => undefined, () => undefined);
}

const ovmfMissing = existsSync('/usr/share/OVMF/OVMF_VARS_4M.fd') ? undefined : 'Debian ovmf package not installed';

t.test('QEMU 7.2 accepts the Windows command line (q35, OVMF vars copy, Hyper-V enlightenments)', { skip: qemuMissing ?? ovmfMissing ?? false }, async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-qemu-win-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(root, 'disk.qcow2'), '1G']);
  const vars = path.join(root, 'OVMF_VARS.fd');
  await run('cp', ['/usr/share/OVMF/OVMF_VARS_4M.fd', vars]);
  const sock = path.join(root, 'qmp.sock');
  const args = buildQemuArgs({
    name: 'win-argv',
    manifest: {
      schema: 1,
      name: 'win11',
      os: { family: 'windows', release: 'win11-24h2', build: '26100', ubr: 8457 },
      boot: { kind: 'disk', firmware: 'ovmf', secureBoot: false, tpm: false },
      disk: { path: 'disk.qcow2', format: 'qcow2', virtualBytes: 2 ** 30 },
      machine: { type: 'q35', memoryMiB: 512, cpus: 1, crash: 'hv-crash' },
      ssh: { user: 'fleetgate', hostKeyFingerprint: 'SHA256:none' },
      files: [],
      inputsHash: 'none',
      builtAt: '2025-01-01T00:00:00Z',
    },
    imageDir: root,
    accel: 'tcg',
    memoryMiB: 512,
    cpus: 1,
    disk: { path: path.join(root, 'disk.qcow2'), format: 'qcow2' },
    consolePath: path.join(root, 'console.log'),
    qmpSocket: sock,
    sshPort: await freeLoopbackPort(),
    ovmfVars: vars,
  });
  const vm = await spawnDetached('qemu-system-x86_64', [...args, '-S'], { logPath: path.join(root, 'qemu.log'), watchdog: true });
  t.teardown(() => void killGroup(vm.identity));
  const qmp = await QmpClient.connect(sock, { timeoutMs: 10_000 });
  const status = (await qmp.execute('query-status')) as { status: string };
  t.equal(status.status, 'prelaunch', `argv accepted: ${args.join(' ')}`);
  await qmp.execute('quit').catch(() => undefined);
  qmp.close();
  t.ok(await waitGone(vm.identity, 5_000), 'quit');
});

t.test('lab guest boots to the SSH banner, panics via sysrq, the panic is kept for a compressed memory dump', { skip: skipLab }, async (t) => {
  const { root, stateDir, provider } = workspace(t);
  const started = Date.now();
  const vm = await provider.start(spec(root, 'panic'));
  t.teardown(() => vm[Symbol.asyncDispose]());
  t.comment(`booted to SSH banner in ${((Date.now() - started) / 1000).toFixed(1)} s with ${vm.accel} (${vm.accelReason})`);
  t.equal(await vm.status(), 'running');
  t.match(await readFile(vm.consolePath, 'utf8'), READY_LINE, 'console shows the guest ready');

  // The banner is what start() waited for; check it directly once more.
  const banner = await new Promise<string>((resolve, reject) => {
    const s = net.createConnection(vm.ssh);
    s.once('data', (d) => (resolve(d.toString('latin1')), s.destroy()));
    s.once('error', reject);
  });
  t.match(banner, /^SSH-2\.0-/);

  const before = vm.events.history().length;
  await sshToGuest(vm, 'echo c > /proc/sysrq-trigger');
  const panicked = await vm.events.waitFor('panicked', { timeoutMs: 60_000, after: before });
  t.match(panicked, { type: 'panicked', action: 'pause', info: { kind: 'pvpanic' } });
  t.equal(await vm.status(), 'guest-panicked');
  t.match(await readFile(vm.consolePath, 'utf8'), /sysrq triggered crash|Kernel panic/, 'the oops is on the console');

  const dumpStarted = Date.now();
  t.ok(hasHostDump(vm), 'QEMU dumps guest memory from the host');
  if (!hasHostDump(vm)) return;
  const dump = await vm.dumpMemory(path.join(root, 'panic', 'dumps', 'guest.kdump'));
  t.comment(`kdump-zlib dump: ${dump.bytes} bytes in ${((Date.now() - dumpStarted) / 1000).toFixed(1)} s`);
  t.equal(dump.format, 'kdump-zlib');
  t.ok(dump.bytes > 0, 'dump is not empty');
  t.ok(dump.bytes < lab!.manifest.machine.memoryMiB * 2 ** 20, 'compressed: smaller than guest memory');
  const head = Buffer.alloc(8);
  const fh = await open(dump.path, 'r');
  await fh.read(head, 0, 8, 0);
  await fh.close();
  // QEMU 7.2 writes makedumpfile's flattened form (8.2 added `reassembled` for plain KDUMP).
  t.match(head.toString('latin1'), /^(makedump|KDUMP   )/, 'makedumpfile-compatible header');

  await vm[Symbol.asyncDispose]();
  t.match(vm.events.history().at(-1), { type: 'exited' });
  await assertGone(t, vm, stateDir);
  t.ok(existsSync(dump.path), 'dump kept');
});

t.test('inject-nmi on a running lab guest makes it panic (unknown_nmi_panic)', { skip: skipLab }, async (t) => {
  const { root, stateDir, provider } = workspace(t);
  const vm = await provider.start(spec(root, 'nmi'));
  t.teardown(() => vm[Symbol.asyncDispose]());
  await vm.injectNmi();
  t.match(await vm.events.waitFor('panicked', { timeoutMs: 60_000 }), { action: 'pause' });
  t.equal(await vm.status(), 'guest-panicked');
  await vm[Symbol.asyncDispose]();
  await assertGone(t, vm, stateDir);
});

t.test('two lab VMs at once: separate ports, cells and processes; RSS reported', { skip: skipLab }, async (t) => {
  const { root, stateDir, provider } = workspace(t);
  const started = Date.now();
  const vms = await Promise.all([provider.start(spec(root, 'twin-a')), provider.start(spec(root, 'twin-b'))]);
  t.teardown(() => Promise.all(vms.map((v) => v[Symbol.asyncDispose]())));
  t.comment(`both at the SSH banner after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.not(vms[0]!.ssh.port, vms[1]!.ssh.port);
  t.not(vms[0]!.pid, vms[1]!.pid);
  for (const vm of vms) {
    t.equal(await vm.status(), 'running');
    t.comment(`${vm.name}: RSS ${Math.round(((await rssKiB(vm.pid!)) ?? 0) / 1024)} MiB`);
  }
  t.equal((await readRecords(stateDir)).length, 2);
  await Promise.all(vms.map((v) => v[Symbol.asyncDispose]()));
  for (const vm of vms) await assertGone(t, vm, stateDir);
});

t.test('a taken forward port makes QEMU fail; start() retries on another port', { skip: skipLab }, async (t) => {
  const { root, stateDir } = workspace(t);
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => squatter.close());
  const taken = (squatter.address() as net.AddressInfo).port;
  const handedOut: number[] = [];
  const provider = new QemuProvider({
    stateDir,
    pickPort: async () => {
      const p = handedOut.length === 0 ? taken : await freeLoopbackPort();
      handedOut.push(p);
      return p;
    },
  });
  const vm = await provider.start(spec(root, 'port', { waitFor: 'hypervisor' }));
  t.teardown(() => vm[Symbol.asyncDispose]());
  t.equal(handedOut.length, 2, 'one retry');
  t.equal(vm.ssh.port, handedOut[1]);
  t.match(await readFile(path.join(root, 'port', 'qemu.log'), 'utf8'), 'Could not set up host forwarding rule');
  await vm[Symbol.asyncDispose]();
  await assertGone(t, vm, stateDir);
});

t.test('aborting start() half-way leaves no process, overlay, socket or record', { skip: skipLab }, async (t) => {
  const { root, stateDir, provider } = workspace(t);
  const ac = new AbortController();
  const pending = provider.start(spec(root, 'abort', { signal: ac.signal }));
  // Abort once QEMU is running but long before the guest is up.
  let pid: number | undefined;
  for (let i = 0; i < 200 && pid === undefined; i++) {
    await sleep(50);
    pid = (await readRecords(stateDir))[0]?.record?.processes[0]?.pid;
  }
  t.ok(pid, 'QEMU was started');
  const qemu = identify(pid!);
  ac.abort(new Error('SIGINT'));
  await t.rejects(pending, /SIGINT/);
  if (qemu) t.ok(await waitGone(qemu, 5_000), 'QEMU gone');
  t.notOk(existsSync(path.join(root, 'abort', 'overlay.qcow2')), 'overlay removed');
  t.notOk(existsSync(path.join(root, 'abort', 'qmp.sock')), 'socket removed');
  t.same(await readRecords(stateDir), []);
});

t.test('a boot that cannot finish fails with the console as evidence and leaves nothing', { skip: skipLab }, async (t) => {
  const { root, stateDir, provider } = workspace(t);
  const err = await provider.start(spec(root, 'slow', { timeouts: { boot: 1_000 } })).catch((e: unknown) => e);
  t.type(err, VmStartError);
  t.match((err as VmStartError).reason, 'timeout');
  t.match((err as Error).message, /no SSH banner within/);
  t.notOk(existsSync(path.join(root, 'slow', 'overlay.qcow2')));
  t.same(await readRecords(stateDir), []);
});

for (const watchdog of [true, false]) {
  t.test(`controller killed with -9 (watchdog ${watchdog ? 'on' : 'off'}): cleanupLeftovers() in a new controller removes it all`, { skip: skipLab }, async (t) => {
    const { root, stateDir } = workspace(t);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'testdata', 'controller.ts'), lab!.dir, path.join(root, 'orphan'), 'orphan'], {
      env: { ...process.env, FLEETGATE_STATE: stateDir, FLEETGATE_QEMU_WATCHDOG: watchdog ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`controller exited early (${code})`)));
    });
    const { pid } = JSON.parse(line) as { pid: number };
    const qemu = identify(pid)!;
    t.ok(qemu, 'QEMU runs under the child controller');
    t.teardown(() => void killGroup(qemu));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    if (watchdog) {
      t.ok(await waitGone(qemu, 5_000), 'the parent-death signal took QEMU down with its controller');
    } else {
      await sleep(500);
      t.ok(isSameProcessAlive(qemu), 'without the watchdog QEMU outlives its controller');
    }
    t.ok(existsSync(path.join(root, 'orphan', 'overlay.qcow2')), 'overlay left behind');

    const cleaned = await new QemuProvider({ stateDir }).cleanupLeftovers();
    t.comment(cleaned.join('\n'));
    if (!watchdog) t.match(cleaned, [new RegExp(`killed qemu pid ${pid} of VM orphan`)]);
    t.ok(cleaned.some((l) => l.includes('overlay.qcow2')));
    t.notOk(isSameProcessAlive(qemu), 'QEMU gone');
    t.notOk(existsSync(path.join(root, 'orphan', 'overlay.qcow2')), 'overlay removed');
    t.notOk(existsSync(path.join(root, 'orphan', 'qmp.sock')), 'socket removed');
    t.ok(existsSync(path.join(root, 'orphan', 'console.log')), 'console.log kept');
    t.same(await readRecords(stateDir), []);
  });
}
