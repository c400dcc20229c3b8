// The provider contract (../contract.test-helper.ts) against real QEMU and the real lab guest. Apart
// from qemu.integration.test.ts so it can be skipped on its own; three lab VMs, one after another
// (the machines this runs on have two shared cores). The panic is provoked from inside the guest:
// `echo c > /proc/sysrq-trigger` over SSH.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { labImageForTests } from '../../../images/lab/for-tests.ts';
import { providerContract } from '../contract.test-helper.ts';
import type { VmInstance } from '../types.ts';
import { identify, isSameProcessAlive, killGroup } from './process.ts';
import { QemuProvider } from './qemu.ts';
import { readRecords } from './records.ts';

const run = promisify(execFile);
const HERE = path.dirname(new URL(import.meta.url).pathname);

const qemuMissing = await run('qemu-system-x86_64', ['--version']).then(() => undefined, () => 'qemu-system-x86_64 is not installed');
const found = qemuMissing ? { missing: qemuMissing } : await labImageForTests();
const skip = 'missing' in found ? `QEMU provider contract skipped: ${found.missing}` : false;

t.test('provider contract: QEMU with the lab guest', { skip }, async (t) => {
  if ('missing' in found) return;
  const lab = found;
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-qemu-contract-'));
  const stateDir = path.join(root, 'state');
  // Orphans are made by a child controller: its QEMU must outlive it (no parent-death watchdog).
  const orphans: { pid: number; startTime: string; bootId: string }[] = [];
  t.teardown(() => {
    for (const o of orphans) killGroup(o);
    rmSync(root, { recursive: true, force: true });
  });

  await providerContract(t, async () => ({
    provider: new QemuProvider({ stateDir }),
    spec: (name) => ({ name, cellDir: path.join(root, name), image: { dir: lab.dir, manifest: lab.manifest } }),
    panicKind: 'pvpanic',
    eventTimeoutMs: 60_000,
    provokePanic: async (vm: VmInstance) => {
      const key = path.join(lab.dir, lab.manifest.ssh.clientKey ?? 'id_ed25519');
      // The guest panics under this command: its exit status means nothing.
      await run('ssh', [
        '-i', key, '-p', String(vm.ssh.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-o', 'LogLevel=ERROR', `${lab.manifest.ssh.user}@${vm.ssh.host}`,
        'echo c > /proc/sysrq-trigger',
      ], { timeout: 30_000 }).catch(() => undefined);
    },
    remainsOf: async (vm) => {
      const cell = path.dirname(vm.consolePath);
      const left = ['overlay.qcow2', 'qmp.sock'].map((f) => path.join(cell, f)).filter((f) => existsSync(f));
      if (vm.pid !== undefined && existsSync(`/proc/${vm.pid}`)) {
        const id = identify(vm.pid);
        if (id && isSameProcessAlive(id)) left.push(`QEMU pid ${vm.pid}`);
      }
      const records = (await readRecords(stateDir)).filter((r) => r.record?.name === vm.name).map((r) => r.file);
      return [...left, ...records];
    },
    leaveOrphan: async () => {
      const cellDir = path.join(root, 'orphan');
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'testdata', 'controller.ts'), lab.dir, cellDir, 'orphan'], {
        env: { ...process.env, FLEETGATE_STATE: stateDir, FLEETGATE_QEMU_WATCHDOG: '0' },
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
      const qemu = identify((JSON.parse(line) as { pid: number }).pid)!;
      orphans.push(qemu);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      return { name: 'orphan', exists: async () => isSameProcessAlive(qemu) || existsSync(path.join(cellDir, 'overlay.qcow2')) };
    },
  }));
});
