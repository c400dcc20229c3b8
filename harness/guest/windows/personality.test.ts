// The Windows personality's pure parts: driver parameters as registry values, the reboot limit.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Cell } from '../../../matrix/index.ts';
import { InfraFailure } from '../../cell/failures.ts';
import { windowsImageForTests } from '../../providers/hyperv/testdata/windows-image.ts';
import { HARNESS_EXECUTABLES } from '../../../driver/package/manifest.ts';
import { HARNESS_PROBES, parameterValues, rebootLimitMs, windowsPersonality, WINDOWS_TIMEOUTS } from './personality.ts';

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../driver/packages/fgfilter');

t.test('a number is a REG_DWORD, anything else a REG_SZ, all under Parameters', async (t) => {
  t.same(parameterValues({ DebugFault: 'hang', PollMs: 250 }), [
    { key: 'Parameters', name: 'DebugFault', type: 'string', value: 'hang' },
    { key: 'Parameters', name: 'PollMs', type: 'dword', value: 250 },
  ]);
  t.same(parameterValues({}), []);
});

t.test("a reboot may take three times the image's measured boot, at least 30 s; unmeasured, half the verifier step", async (t) => {
  t.equal(rebootLimitMs({ machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash', bootSeconds: 40 } }), 120_000);
  t.equal(rebootLimitMs({ machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash', bootSeconds: 2 } }), 30_000);
  t.equal(rebootLimitMs({ machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash' } }), WINDOWS_TIMEOUTS.verifier / 2);
});

t.test('a parameter that is no registry value name, or a number no REG_DWORD holds, is refused before any VM', async (t) => {
  const store = mkdtempSync(path.join(tmpdir(), 'fg-images-'));
  const m = windowsImageForTests({ name: 'win11-24h2-26100.4349', os: { family: 'windows', release: 'win11-24h2', build: '26100', ubr: 4349, kbs: [5060842] } });
  mkdirSync(path.join(store, m.name));
  writeFileSync(path.join(store, m.name, 'manifest.json'), JSON.stringify(m));
  const cell = (params: Record<string, string | number>) =>
    ({ id: 'c1', os: { release: 'win11-24h2', family: 'client', build: 26100, ubr: 4349 }, coexist: [], driverBuild: { name: 'x', path: PACKAGE, params } }) as unknown as Cell;
  const p = windowsPersonality({ imageRoot: store });
  const o = { attemptDir: store, signal: AbortSignal.timeout(10_000) };
  const good = await p.prepare(cell({ DebugFault: 'hang', PollMs: 250 }), o);
  t.same(good.params, { DebugFault: 'hang', PollMs: 250 }, 'kept for install');
  for (const [bad, why] of [[{ 'bad name': 1 }, /"bad name" is not a registry value name/], [{ Big: 2 ** 31 }, /Big=2147483648 is not a REG_DWORD/], [{ Neg: -1 }, /Neg=-1 is not a REG_DWORD/]] as const) {
    const err = await p.prepare(cell(bad), o).catch((e: unknown) => e);
    t.ok(err instanceof InfraFailure, String(err));
    t.match(String(err), why);
  }
});

t.test('every program the harness probes after the load is one the package manifest must allow', async (t) => {
  for (const p of HARNESS_PROBES) t.ok(HARNESS_EXECUTABLES.includes(p.path), p.path);
  t.same(Buffer.from(HARNESS_PROBES[1]!.arguments[3]!, 'base64').toString('utf16le'), 'exit 0', 'PowerShell runs exit 0');
});
