// Warm-state bookkeeping without QEMU: the key's machine options, the cache's atomic commit, and
// the checks that catch a damaged state before QEMU reads it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { ImageManifest } from '../../../images/manifest.ts';
import { processIdOf } from '../../../lib/cache-lock.ts';
import {
  listWarmStates,
  otherSaver,
  readWarmState,
  removeWarmState,
  stageWarmState,
  warmKey,
  warmLockFile,
  warmRoot,
  WARM_FILES,
  WARM_SCHEMA,
  type WarmRecord,
} from '../../../images/warm/store.ts';
import { incomingUri, machineOptions, shellQuote, warmUnsupported } from './warm.ts';
import { LAB_MANIFEST } from './lab-manifest.test-helper.ts';

const lab = LAB_MANIFEST;

t.test('machine options leave out per-VM paths and ports, keep what the state depends on', async (t) => {
  const m = machineOptions({ manifest: lab, accel: 'tcg', memoryMiB: 512, cpus: 1 });
  const joined = m.join(' ');
  t.match(joined, /-m 512 -smp 1/);
  t.match(joined, /-accel tcg/);
  t.match(joined, /-kernel \/<image>\/vmlinuz/);
  t.match(joined, /hostfwd=tcp:127\.0\.0\.1:0-:22/);
  t.notMatch(joined, /\/tmp|\.cache/, 'no real paths');
  const key = (over: Partial<Parameters<typeof machineOptions>[0]>, hash = 'h', qemu = 'QEMU 7.2') =>
    warmKey({ inputsHash: hash, hypervisor: qemu, machine: machineOptions({ manifest: lab, accel: 'tcg', memoryMiB: 512, cpus: 1, ...over }) });
  t.equal(key({}), key({}), 'stable');
  t.not(key({ memoryMiB: 384 }), key({}), 'memory is in the key');
  t.not(key({ cpus: 2 }), key({}), 'CPUs are in the key');
  t.not(key({ accel: 'kvm' }), key({}), 'acceleration is in the key');
  t.not(key({}, 'other-image'), key({}), 'the image is in the key');
  t.not(key({}, 'h', 'QEMU 8.2'), key({}), 'the QEMU version is in the key');
  t.not(key({ manifest: { ...lab, boot: { ...lab.boot, append: 'console=ttyS0 quiet' } as ImageManifest['boot'] } }), key({}), 'the kernel command line is in the key');
});

t.test('only direct-kernel images warm-start; the incoming source is shell-quoted', async (t) => {
  t.equal(warmUnsupported(lab), undefined);
  t.match(warmUnsupported({ ...lab, boot: { kind: 'disk', firmware: 'ovmf', secureBoot: false, tpm: true } }), /direct-kernel/);
  t.equal(shellQuote("a b'c"), `'a b'\\''c'`);
  t.equal(incomingUri('/x y/state.gz'), "exec:gzip -dc '/x y/state.gz'");
});

function record(key: string, state: number, disk: number): WarmRecord {
  return {
    schema: WARM_SCHEMA,
    key,
    image: { name: 'lab', inputsHash: 'h' },
    hypervisor: 'QEMU 7.2',
    machine: [],
    accel: 'tcg',
    memoryMiB: 512,
    cpus: 1,
    files: { state, disk },
    savedAt: new Date().toISOString(),
    bootMs: 1,
    saveMs: 1,
  };
}

t.test('a state is committed atomically, found, checked for size and removed', async (t) => {
  const image = mkdtempSync(path.join(os.tmpdir(), 'fg-warm-store-'));
  t.teardown(() => rmSync(image, { recursive: true, force: true }));
  const key = 'a'.repeat(64);
  t.match(await readWarmState(image, key), { missing: /no warm state/ });

  const staging = await stageWarmState(image, key);
  writeFileSync(path.join(staging.tmpDir, WARM_FILES.state), Buffer.alloc(1000));
  writeFileSync(path.join(staging.tmpDir, WARM_FILES.disk), Buffer.alloc(200));
  t.match(await readWarmState(image, key), { missing: /no warm state/ }, 'a state being made is not a state');
  t.equal(await otherSaver(image, key), undefined, 'our own staging is not another saver');
  t.equal(await staging.commit(record(key, 1000, 200)), 'committed');
  const s = await readWarmState(image, key);
  t.ok('record' in s && s.record.files.state === 1000);
  t.same((await listWarmStates(image)).map((x) => x.record.key), [key]);

  // A second saver that finishes later keeps the first state and drops its own.
  const late = await stageWarmState(image, key);
  writeFileSync(path.join(late.tmpDir, WARM_FILES.state), Buffer.alloc(5));
  t.equal(await late.commit(record(key, 5, 5)), 'exists');
  t.same(readdirSync(warmRoot(image)), [key], 'no temp folder left');

  await truncate(path.join(warmRoot(image), key, WARM_FILES.state), 10);
  t.match(await readWarmState(image, key), { missing: /is 10 bytes, warm\.json says 1000 \(truncated/, damaged: true });
  writeFileSync(path.join(warmRoot(image), key, WARM_FILES.record), '{not json');
  t.match(await readWarmState(image, key), { damaged: true });
  await removeWarmState(image, key);
  t.same(readdirSync(warmRoot(image)), []);
});

t.test("a dead saver's temp folder and lock are swept; a live saver's lock is reported", async (t) => {
  const image = mkdtempSync(path.join(os.tmpdir(), 'fg-warm-sweep-'));
  t.teardown(() => rmSync(image, { recursive: true, force: true }));
  const key = 'b'.repeat(64);
  mkdirSync(path.join(warmRoot(image), `.tmp-999999999-0-00000000-${key.slice(0, 16)}`), { recursive: true });
  // A live process (pid 1) holds the lock: another saver is at work, this one steps aside.
  const lock = (holder: object) => writeFileSync(warmLockFile(image, key), JSON.stringify({ ...holder, what: 'saving', at: 'then', nonce: 'n1' }));
  lock(processIdOf(1)!);
  t.equal(await otherSaver(image, key), 1, 'pid 1 is alive: someone is saving');
  await t.rejects(stageWarmState(image, key), /controller pid 1 is making warm state/);
  // Its pid is reused by another process (a different start time): the lock is stale.
  lock({ ...processIdOf(1)!, start: '1' });
  t.equal(await otherSaver(image, key), undefined, 'same pid, another start time: not the saver');
  const s = await stageWarmState(image, key);
  t.notOk(readdirSync(warmRoot(image)).some((e) => e.includes('999999999')), 'dead saver swept');
  t.equal(await otherSaver(image, key), undefined, 'our own lock is not another saver');
  await s.abort();
  t.same(readdirSync(warmRoot(image)), [], 'abort leaves neither folder nor lock');
});
