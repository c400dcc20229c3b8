import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { UsageError } from '../../../lib/errors.ts';
import { forgetAccelDecisions, kvmUsable, parseAccelEnv, resolveAccel } from './accel.ts';

const kvmMissing = await kvmUsable();

t.beforeEach(() => forgetAccelDecisions());

t.test('FLEETGATE_ACCEL overrides the spec and never probes', async (t) => {
  let probes = 0;
  const d = await resolveAccel({ requested: 'kvm', qemu: 'q', env: { FLEETGATE_ACCEL: 'tcg' }, probe: async () => (probes++, { ok: true, reason: '' }) });
  t.same(d, { accel: 'tcg', reason: 'FLEETGATE_ACCEL=tcg', source: 'env' });
  t.equal(probes, 0);
});

t.test('a bad FLEETGATE_ACCEL is a usage error that shows the value', async (t) => {
  t.throws(() => parseAccelEnv('fast'), UsageError);
  t.throws(() => parseAccelEnv('fast'), /must be 'kvm' or 'tcg', got 'fast'/);
  t.equal(parseAccelEnv(''), undefined);
});

t.test('an explicit spec choice is taken as is', async (t) => {
  const d = await resolveAccel({ requested: 'kvm', qemu: 'q', env: {}, probe: async () => ({ ok: false, reason: '' }) });
  t.same(d, { accel: 'kvm', reason: 'the VM spec asks for kvm', source: 'spec' });
});

t.test('auto probes once per process and once per host boot (file cache)', { skip: kvmMissing }, async (t) => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'fg-accel-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  let probes = 0;
  const probe = async () => {
    probes++;
    return { ok: false, reason: 'no console output within 6000 ms' };
  };
  const [a, b] = await Promise.all([
    resolveAccel({ requested: 'auto', qemu: 'q', stateDir, env: {}, probe }),
    resolveAccel({ requested: 'auto', qemu: 'q', stateDir, env: {}, probe }),
  ]);
  t.equal(probes, 1, 'concurrent starts share one probe');
  t.same(a, { accel: 'tcg', reason: 'KVM probe failed: no console output within 6000 ms', source: 'probe' });
  t.equal(b, a);
  t.match(JSON.parse(readFileSync(path.join(stateDir, 'accel.json'), 'utf8')), { accel: 'tcg', qemu: 'q' });

  forgetAccelDecisions(); // a new process
  const c = await resolveAccel({ requested: 'auto', qemu: 'q', stateDir, env: {}, probe });
  t.equal(probes, 1, 'the next process reads the file');
  t.match(c, { accel: 'tcg', source: 'cache' });

  forgetAccelDecisions();
  const d = await resolveAccel({ requested: 'auto', qemu: 'other-qemu', stateDir, env: {}, probe: async () => ({ ok: true, reason: 'console output after 900 ms' }) });
  t.same(d, { accel: 'kvm', reason: 'KVM probe: console output after 900 ms', source: 'probe' }, 'another QEMU build probes again');
});

t.test('a probe that throws is not remembered', { skip: kvmMissing }, async (t) => {
  await t.rejects(resolveAccel({ requested: 'auto', qemu: 'q', env: {}, probe: async () => { throw new Error('boom'); } }), /boom/);
  const d = await resolveAccel({ requested: 'auto', qemu: 'q', env: {}, probe: async () => ({ ok: true, reason: 'fine' }) });
  t.equal(d.accel, 'kvm');
});
