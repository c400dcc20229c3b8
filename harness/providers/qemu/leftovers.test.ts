// cleanupLeftovers() against real processes and files, without QEMU: a detached `sleep` stands in
// for the orphaned VM process, an exited child for the dead controller.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { identify, isSameProcessAlive, procStartTime, type ProcessIdentity } from './process.ts';
import { QemuProvider, socketPath } from './qemu.ts';
import { readRecords, thisController, writeRecord, type VmRecord } from './records.ts';

async function deadProcess(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['30']);
  const id = identify(child.pid!)!;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return id;
}

function orphan(): ProcessIdentity {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  return identify(child.pid!)!;
}

function setup(t: Test) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-left-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const stateDir = path.join(root, 'state');
  const cellDir = path.join(root, 'cell');
  mkdirSync(cellDir, { recursive: true });
  const files = ['overlay.qcow2', 'qmp.sock', 'console.log'].map((f) => path.join(cellDir, f));
  for (const f of files) writeFileSync(f, 'x');
  return { stateDir, cellDir, files };
}


const record = (name: string, controller: ProcessIdentity, qemu: ProcessIdentity, cellDir: string): VmRecord => ({
  schema: 1,
  name,
  controller,
  processes: [{ ...qemu, role: 'qemu' }],
  qmpSocket: path.join(cellDir, 'qmp.sock'),
  cellDir,
  scratch: [path.join(cellDir, 'overlay.qcow2'), path.join(cellDir, 'qmp.sock')],
  startedAt: new Date().toISOString(),
});

t.test('a dead controller\'s VM: process killed, overlay and socket removed, console kept, record gone', async (t) => {
  const { stateDir, cellDir, files } = setup(t);
  const vm = orphan();
  t.teardown(() => void (isSameProcessAlive(vm) && process.kill(vm.pid, 'SIGKILL')));
  await writeRecord(stateDir, record('vm-a', await deadProcess(), vm, cellDir));
  const cleaned = await new QemuProvider({ stateDir }).cleanupLeftovers();
  t.match(cleaned, [/killed qemu pid \d+ of VM vm-a/, /overlay\.qcow2/, /qmp\.sock/, /removed record .*vm-a\.json/]);
  t.equal(isSameProcessAlive(vm), false);
  t.equal(existsSync(files[0]!), false);
  t.equal(existsSync(files[1]!), false);
  t.equal(existsSync(files[2]!), true, 'console.log is evidence');
  t.same(await readRecords(stateDir), []);
});

t.test('a live controller\'s VM is left alone', async (t) => {
  const { stateDir, cellDir, files } = setup(t);
  const vm = orphan();
  t.teardown(() => void (isSameProcessAlive(vm) && process.kill(vm.pid, 'SIGKILL')));
  await writeRecord(stateDir, record('vm-b', thisController(), vm, cellDir));
  t.same(await new QemuProvider({ stateDir }).cleanupLeftovers(), []);
  t.ok(isSameProcessAlive(vm));
  t.ok(existsSync(files[0]!));
  t.equal((await readRecords(stateDir)).length, 1);
});

t.test('a reused pid (start time differs) is never killed; files still go', async (t) => {
  const { stateDir, cellDir } = setup(t);
  const bystander = orphan();
  t.teardown(() => void (isSameProcessAlive(bystander) && process.kill(bystander.pid, 'SIGKILL')));
  const impostor = { ...bystander, startTime: String(Number(bystander.startTime) - 1) };
  await writeRecord(stateDir, record('vm-c', await deadProcess(), impostor, cellDir));
  const cleaned = await new QemuProvider({ stateDir }).cleanupLeftovers();
  t.notOk(cleaned.some((l) => l.startsWith('killed')));
  t.ok(isSameProcessAlive(bystander), 'the process now holding that pid lives');
  t.equal(procStartTime(bystander.pid), bystander.startTime);
});

t.test('an unreadable record is removed and reported', async (t) => {
  const { stateDir } = setup(t);
  mkdirSync(path.join(stateDir, 'qemu'), { recursive: true });
  writeFileSync(path.join(stateDir, 'qemu', 'junk.json'), '{');
  t.match(await new QemuProvider({ stateDir }).cleanupLeftovers(), [/removed unreadable record .*junk\.json/]);
});

t.test('sockets stay under the 108-byte sun_path limit', async (t) => {
  t.equal(socketPath('/runs/r1/cells/abc', 'qmp.sock'), '/runs/r1/cells/abc/qmp.sock');
  const deep = `/runs/${'x'.repeat(120)}/cells/abc`;
  const s = socketPath(deep, 'qmp.sock');
  t.ok(Buffer.byteLength(s) <= 100, s);
  t.equal(socketPath(deep, 'qmp.sock'), s, 'stable for the same cell');
});
